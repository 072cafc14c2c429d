//! The import graph of `src/`, checked: no new cycle between top-level
//! modules. The data flows ingest → store → aggregate → publish → web, and an
//! import against that flow makes a cycle that a newcomer has to hold in
//! their head all at once.
//!
//! [`LAYERS`] orders the top-level modules: the core every stage uses, the
//! store, the stages around it, then what wires them (the live loop, HTTP,
//! the server, the command line). A module imports only from layers below
//! its own, so no stage reaches back into a later one or into the wiring,
//! and no import can close a cycle; a new top-level module must be given
//! its place here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top-level modules, lowest first; each imports only from the layers
/// before its own.
const LAYERS: &[&[&str]] = &[
    // The core: no stage in it.
    &["time", "hashing", "config", "settings", "serving"],
    &["model", "personal", "metrics"],
    &["region"],
    // The stages: ingest hands its batches to the store, the aggregator
    // and access read from it, publish sends what the aggregator made.
    &["store"],
    &["ingest", "aggregate", "access"],
    &["publish", "wall", "simulate"],
    // What wires them.
    &["live", "web"],
    &["http"],
    &["server"],
    &["edge"],
    &["cli"],
];

/// The top-level modules each module's code (tests left out) names with
/// `crate::…`, with the files that do.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let tops: BTreeSet<String> = std::fs::read_dir(src)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            match name.strip_suffix(".rs") {
                Some("lib" | "main") => None,
                Some(stem) => Some(stem.to_string()),
                None if e.path().is_dir() => Some(name),
                None => None,
            }
        })
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = vec![src.to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if !tops.contains(&top) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // The code, not its tests.
        let code = without_tests(&text);
        for target in named(&code) {
            if target != top && tops.contains(&target) {
                edges.entry(top.clone()).or_default().insert(target);
            }
        }
    }
    edges
}

/// `text` without its `#[cfg(test)]` items (a `mod tests { … }`, a test
/// helper, a `use`): each is cut from the attribute to the end of its item,
/// a `;` or the `}` closing its first `{` (braces in string and character
/// literals and in comments are not counted).
fn without_tests(text: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        rest = &rest[at + MARK.len()..];
        let bytes = rest.as_bytes();
        let (mut i, mut depth) = (0, 0usize);
        while i < bytes.len() {
            match bytes[i] {
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                b'"' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                }
                b'\'' if bytes.get(i + 2) == Some(&b'\'') => i += 2,
                b'\'' if bytes.get(i + 1) == Some(&b'\\') && bytes.get(i + 3) == Some(&b'\'') => {
                    i += 3
                }
                b';' if depth == 0 => break,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        rest = &rest[(i + 1).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

/// The modules named after `crate::`, in `use crate::a::…`, `crate::a::f()`
/// and `use crate::{a, b::c}`.
fn named(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Split the group at its top-level commas; each part starts
            // with a module's name.
            let mut depth = 0;
            let mut part = String::new();
            let mut parts = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        parts.push(std::mem::take(&mut part));
                        continue;
                    }
                    _ => {}
                }
                part.push(c);
            }
            parts.push(part);
            for part in parts {
                let name: String = part
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// The edges that lie on a cycle (both ends in one strongly connected
/// component).
fn on_cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<(String, String)> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(n) = todo.pop() {
            for m in edges.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    todo.push(m.clone());
                }
            }
        }
        seen
    };
    let mut out = BTreeSet::new();
    for (from, tos) in edges {
        for to in tos {
            if reach(to).contains(from) {
                out.insert((from.clone(), to.clone()));
            }
        }
    }
    out
}

#[test]
fn every_import_runs_down_the_layers() {
    let edges = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let layer = |m: &str| LAYERS.iter().position(|l| l.contains(&m));
    let unplaced: Vec<&String> = edges
        .iter()
        .flat_map(|(from, tos)| std::iter::once(from).chain(tos))
        .filter(|m| layer(m).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "top-level modules without a place in LAYERS (src/layers.rs): {unplaced:?}"
    );
    let upward: Vec<(&String, &String)> = edges
        .iter()
        .flat_map(|(from, tos)| tos.iter().map(move |to| (from, to)))
        .filter(|(from, to)| layer(to) >= layer(from))
        .collect();
    assert!(
        upward.is_empty(),
        "imports of a module in the same or a later layer (LAYERS in src/layers.rs: \
         core → store → ingest/aggregate/access → publish → live/web → http → server): \
         {upward:?}"
    );
    assert!(on_cycles(&edges).is_empty());
}

/// The rule above fails on an import against the flow.
#[test]
fn an_import_against_the_flow_is_found() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges
        .entry("store".into())
        .or_default()
        .insert("aggregate".into());
    edges
        .entry("aggregate".into())
        .or_default()
        .insert("store".into());
    assert_eq!(
        on_cycles(&edges).into_iter().collect::<Vec<_>>(),
        [
            ("aggregate".to_string(), "store".to_string()),
            ("store".to_string(), "aggregate".to_string())
        ]
    );
}

#[test]
fn test_items_are_cut_and_the_code_after_them_kept() {
    let code = "use crate::a::x;\n#[cfg(test)]\nuse crate::b::y;\n\
                #[cfg(test)]\nfn helper() { let s = \"}\"; let c = '{'; // }\n crate::c::f(); }\n\
                fn after() { crate::d::g(); }\n#[cfg(test)]\nmod tests { fn t() { crate::e::h(); } }\n";
    let got: Vec<String> = named(&without_tests(code)).into_iter().collect();
    assert_eq!(got, ["a", "d"]);
}

#[test]
fn crate_paths_are_read_in_every_form() {
    let code = "use crate::a::b;\nlet x = crate::c::f();\nuse crate::{d, e::{f, g}, h::i};";
    let got: Vec<String> = named(code).into_iter().collect();
    assert_eq!(got, ["a", "c", "d", "e", "h"]);
}
