//! Builds the web front-end (web/ → web/dist) with npm, so that `cargo run`
//! and `cargo test` need nothing else. Set WEIBING_SKIP_WEB_BUILD=1 to use an
//! existing web/dist as it is.

use std::path::Path;
use std::process::Command;

fn main() {
    for path in [
        "web/package.json",
        "web/package-lock.json",
        "web/index.html",
        "web/console.html",
        "web/view.html",
        "web/review.html",
        "web/src",
        "web/fonts",
        "web/vite.config.js",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rerun-if-env-changed=WEIBING_SKIP_WEB_BUILD");

    let web = Path::new("web");
    let built = web.join("dist/index.html").exists();
    if std::env::var_os("WEIBING_SKIP_WEB_BUILD").is_some() && built {
        return;
    }
    if !web.join("package.json").exists() {
        panic!("web/package.json is missing: the web front-end cannot be built");
    }
    let lock = web.join("package-lock.json");
    let installed = web.join("node_modules/.package-lock.json");
    let stale = match (lock.metadata(), installed.metadata()) {
        (Ok(l), Ok(i)) => l.modified().ok() > i.modified().ok(),
        _ => true,
    };
    if stale {
        npm(web, &["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
    }
    npm(web, &["run", "build"]);
}

fn npm(dir: &Path, args: &[&str]) {
    let status = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap_or_else(|e| panic!("cannot run npm (install Node.js and npm): {e}"));
    if !status.success() {
        panic!("npm {} failed in web/ ({status})", args.join(" "));
    }
}
