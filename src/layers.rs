//! The import graph of `src/`, checked: no new cycle between top-level
//! modules. The data flows ingest → store → aggregate → publish → web, and an
//! import against that flow makes a cycle that a newcomer has to hold in
//! their head all at once.
//!
//! `KNOWN` lists the imports that still sit on a cycle today, so that the
//! test can hold the line while they are taken apart: an import that closes
//! a new cycle fails, and so does a listed one that is gone (take it off the
//! list, so it cannot come back).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// (from, to): imports on a cycle, to be taken apart (ARCHITECTURE.md).
const KNOWN: &[(&str, &str)] = &[
    ("access", "server"),
    ("aggregate", "publish"),
    ("console", "access"),
    ("console", "aggregate"),
    ("console", "server"),
    ("ingest", "access"),
    ("ingest", "server"),
    ("publish", "access"),
    ("publish", "aggregate"),
    ("publish", "server"),
    ("server", "access"),
    ("server", "aggregate"),
    ("server", "console"),
    ("server", "ingest"),
    ("server", "publish"),
    ("server", "wall"),
    ("wall", "access"),
    ("wall", "aggregate"),
    ("wall", "server"),
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
        let code = text.split("#[cfg(test)]").next().unwrap();
        for target in named(code) {
            if target != top && tops.contains(&target) {
                edges.entry(top.clone()).or_default().insert(target);
            }
        }
    }
    edges
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
fn the_import_graph_gains_no_cycle() {
    let edges = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let cycles = on_cycles(&edges);
    let known: BTreeSet<(String, String)> = KNOWN
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let new: Vec<_> = cycles.difference(&known).collect();
    let gone: Vec<_> = known.difference(&cycles).collect();
    assert!(
        new.is_empty(),
        "imports that close a cycle between top-level modules (import along the flow \
         ingest → store → aggregate → publish → web instead): {new:?}"
    );
    assert!(
        gone.is_empty(),
        "no longer on a cycle: take these off `KNOWN` in src/layers.rs: {gone:?}"
    );
}

#[test]
fn crate_paths_are_read_in_every_form() {
    let code = "use crate::a::b;\nlet x = crate::c::f();\nuse crate::{d, e::{f, g}, h::i};";
    let got: Vec<String> = named(code).into_iter().collect();
    assert_eq!(got, ["a", "c", "d", "e", "h"]);
}
