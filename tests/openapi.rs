//! docs/openapi.json describes exactly the API routes `server::app` serves.

use std::collections::BTreeSet;

/// The pages and assets: served, but not part of the API.
const PAGES: [&str; 4] = ["/", "/console", "/v/{token}", "/assets/{*path}"];

fn routes() -> BTreeSet<String> {
    let source = include_str!("../src/server.rs");
    let mut found = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let open = rest.find('"').expect("a route path");
        let close = open + 1 + rest[open + 1..].find('"').expect("a closing quote");
        found.insert(rest[open + 1..close].to_string());
    }
    found
}

#[test]
fn every_api_route_is_described_and_nothing_else() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../docs/openapi.json")).expect("valid JSON");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let described: BTreeSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    let served: BTreeSet<String> = routes()
        .into_iter()
        .filter(|r| !PAGES.contains(&r.as_str()))
        .collect();
    assert!(served.len() >= 20, "the route scan found {served:?}");
    assert_eq!(described, served);
    // Each documented operation names its answers.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} has no responses"
            );
        }
    }
}
