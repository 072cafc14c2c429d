//! The wall in a real browser: runs the playwright-core tests of web/tests/
//! (headless Chromium from Debian's package) against this build's binary.

use std::path::Path;
use std::process::Command;

#[test]
fn the_wall_in_headless_chromium() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Chromium: apt-get install chromium fonts-wqy-microhei (.ci/run installs them)"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("web/node_modules/playwright-core").exists(),
        "web/node_modules is missing: the build script installs it with npm ci"
    );
    let mut files: Vec<String> = std::fs::read_dir(root.join("web/tests"))
        .expect("web/tests exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no browser test found in web/tests");
    let status = Command::new("node")
        .arg("--test")
        .arg("--test-concurrency=1")
        .args(&files)
        .current_dir(root)
        .env("WEIBING_BIN", env!("CARGO_BIN_EXE_weibing"))
        .status()
        .expect("node runs");
    assert!(status.success(), "the browser tests failed (see above)");
}
