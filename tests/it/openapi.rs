//! docs/openapi.json describes the API `http::app` serves: the same paths
//! and methods, and answers of the documented statuses and shapes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::common::{ADMIN_TOKEN, INGEST_KEY, TestServer, answer};

const SERVER: &str = include_str!("../../src/http/mod.rs");
const OPENAPI: &str = include_str!("../../docs/openapi.json");

/// The API routes outside /api/v1/ (the pages and assets are not API).
const OTHER_API: [&str; 4] = ["/ws", "/healthz", "/readyz", "/metrics"];
const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn doc() -> Value {
    serde_json::from_str(OPENAPI).expect("docs/openapi.json is valid JSON")
}

/// Every `.route("<path>", <method router>)` of `app()` in src/http/mod.rs:
/// path → the methods chained on its router (`get(..).post(..)`).
fn routes() -> BTreeMap<String, BTreeSet<String>> {
    let start = SERVER
        .find("pub fn app(")
        .expect("src/http/mod.rs has app()");
    let body = &SERVER[start..];
    let body = &body[..body.find("\n}\n").expect("the end of app()")];
    let mut found = BTreeMap::new();
    let mut rest = body;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let open = rest.find('"').expect("a route path");
        let close = open + 1 + rest[open + 1..].find('"').expect("a closing quote");
        let path = rest[open + 1..close].to_string();
        // Identifiers called at the top level of the .route( … ) arguments.
        let (mut depth, mut methods, mut word) = (1, BTreeSet::new(), String::new());
        let mut chars = rest[close + 1..].chars();
        while depth > 0 {
            let Some(c) = chars.next() else { break };
            match c {
                '"' => {
                    for c in chars.by_ref() {
                        if c == '"' {
                            break;
                        }
                    }
                }
                '(' => {
                    if depth == 1 && METHODS.contains(&word.as_str()) {
                        methods.insert(word.clone());
                    }
                    depth += 1;
                }
                ')' => depth -= 1,
                _ => {}
            }
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
            } else {
                word.clear();
            }
        }
        found.insert(path, methods);
    }
    found
}

fn is_api(path: &str) -> bool {
    path.starts_with("/api/v1/") || OTHER_API.contains(&path)
}

#[test]
fn every_api_route_is_described_and_nothing_else() {
    let doc = doc();
    assert!(
        doc["openapi"].as_str().expect("openapi").starts_with("3.1"),
        "openapi: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    let routes = routes();
    let api: Vec<&String> = routes.keys().filter(|p| is_api(p)).collect();
    assert!(api.len() >= 20, "the route scan found only {api:?}");
    for path in &api {
        assert!(
            paths.contains_key(path.as_str()),
            "{path} is served (src/http/mod.rs) but not in docs/openapi.json"
        );
    }
    for (path, item) in paths {
        let Some(methods) = routes.get(path) else {
            panic!("{path} is in docs/openapi.json but not served by src/http/mod.rs");
        };
        let described: BTreeSet<String> = item
            .as_object()
            .expect("a path item")
            .keys()
            .filter(|k| METHODS.contains(&k.as_str()))
            .cloned()
            .collect();
        assert_eq!(&described, methods, "the methods of {path}");
        for (method, op) in item.as_object().unwrap() {
            if METHODS.contains(&method.as_str()) {
                assert!(
                    op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{method} {path} names no responses"
                );
            }
        }
    }
}

// ------------------------------------------------------------ shapes

/// Follows a local `$ref` ("#/components/…").
/// The contract's lists are the program's (src/model.rs): each list's enum,
/// and the keys of the state's objects keyed by a list.
#[test]
fn the_documented_lists_are_the_programs() {
    let doc = doc();
    let schemas = &doc["components"]["schemas"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("a list, got {v}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let sorted = |mut v: Vec<String>| {
        v.sort_unstable();
        v
    };
    let keys =
        |v: &Value| -> Vec<String> { sorted(v.as_object().unwrap().keys().cloned().collect()) };
    for (field, codes) in weibing::model::lists() {
        let name = match field {
            "kind" => "Kind",
            "colour" => "Colour",
            "category" => "Category",
            "stage" => "Stage",
            "rate" => "Rate",
            "nine_rate" => "NineRate",
            "plan" => "Plan",
            other => panic!("a list docs/openapi.json does not hold: {other}"),
        };
        assert_eq!(
            strings(&schemas[name]["enum"]),
            codes,
            "components/schemas/{name}"
        );
    }
    let of = |list: &str| -> Vec<String> { strings(&schemas[list]["enum"]) };
    for (object, list) in [
        (&schemas["Colours"], "Colour"),
        (&schemas["Categories"], "Category"),
        (&schemas["Rates"], "NineRate"),
        (&schemas["IndexDoc"]["properties"]["standards"], "NineRate"),
    ] {
        assert_eq!(
            keys(&object["properties"]),
            sorted(of(list)),
            "the keys of {list}"
        );
        assert_eq!(strings(&object["required"]), of(list), "the keys of {list}");
        assert_eq!(object["additionalProperties"], json!(false));
    }
    assert_eq!(
        schemas["Event"]["properties"]["kind"],
        json!({"$ref": "#/components/schemas/Kind"})
    );
}

fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').expect("a local $ref");
            resolve(
                doc,
                doc.pointer(pointer)
                    .unwrap_or_else(|| panic!("{r} resolves")),
            )
        }
        None => node,
    }
}

/// What in `body` differs from the documented application/json schema of
/// `method path` answering `status` (a maintained JSON Schema validator,
/// draft 2020-12 as OpenAPI 3.1 has it; the `$ref`s point into the
/// document's components). Panics when the status is not documented.
fn violations(doc: &Value, method: &str, path: &str, status: u16, body: &Value) -> Vec<String> {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    let response = op["responses"]
        .get(status.to_string())
        .unwrap_or_else(|| panic!("{method} {path} answered {status}, not documented: {body}"));
    let response = resolve(doc, response);
    let Some(schema) = response.pointer("/content/application~1json/schema") else {
        return Vec::new();
    };
    schema_violations(doc, schema, body)
}

/// What in `value` differs from `schema` (its `$ref`s into the document's
/// components).
fn schema_violations(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut root = schema.clone();
    root.as_object_mut()
        .expect("a schema object")
        .insert("components".into(), doc["components"].clone());
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&root)
        .unwrap_or_else(|e| panic!("the schema does not build: {e}"));
    validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Asserts that `status` is documented for `method path` and that a JSON
/// body fits the documented schema.
fn fits(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let found = violations(doc, method, path, status, body);
    assert!(
        found.is_empty(),
        "{method} {path} {status}: {found:?}\n{body}"
    );
}

/// The check finds what differs: an undocumented field, a missing one, a
/// wrong type.
#[test]
fn a_body_that_differs_from_its_schema_is_found() {
    let doc = doc();
    let good = json!({"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []});
    assert_eq!(
        violations(&doc, "post", "/api/v1/events", 200, &good),
        Vec::<String>::new()
    );
    for body in [
        json!({"accepted": 1, "duplicates": 0, "rejected": 0, "errors": [], "extra": 1}),
        json!({"accepted": 1, "duplicates": 0, "errors": []}),
        json!({"accepted": "1", "duplicates": 0, "rejected": 0, "errors": []}),
        json!({"accepted": 1, "duplicates": 0, "rejected": 1, "errors": [{"line": "x", "error": "e"}]}),
    ] {
        let found = violations(&doc, "post", "/api/v1/events", 200, &body);
        assert_eq!(found.len(), 1, "{body}: {found:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_fit_the_documented_shapes() {
    let doc = doc();
    let dir = crate::common::temp_dir();
    let server = TestServer::start(dir.path()).await;
    let url = |path: &str| format!("{}{path}", server.url);
    let c = &server.client;

    let mut lines: Vec<String> = crate::common::fixture_lines()
        .iter()
        .map(Value::to_string)
        .collect();
    // One event the server rejects (its line is listed in the answer).
    let bad = json!({"id": "bad-1", "ts": "nope", "kind": "scan", "district": "110106"});
    lines.push(bad.to_string());
    let (status, body) = server.post("application/x-ndjson", lines.join("\n")).await;
    fits(&doc, "post", "/api/v1/events", status, &body);
    assert_eq!(status, 200);
    for (key, content_type, body) in [
        (None, "application/x-ndjson", "{}"),
        (Some(INGEST_KEY), "text/plain", "{}"),
        (Some(INGEST_KEY), "text/csv", "id,kind\n1,scan\n"),
    ] {
        let (status, answer) = server.post_with_key(key, content_type, body).await;
        fits(&doc, "post", "/api/v1/events", status, &answer);
    }
    server
        .wait_for("the fixture", |s| s["totals"]["scans"].as_u64() > Some(0))
        .await;

    for path in [
        "/api/v1/snapshot",
        "/api/v1/me",
        "/api/v1/credentials",
        "/api/v1/users",
        "/api/v1/ingest",
        "/api/v1/rejected",
        "/api/v1/audit",
        "/api/v1/settings",
        "/readyz",
    ] {
        let (status, body) = server.get_admin(path).await;
        fits(&doc, "get", path, status, &body);
        assert!(status == 200 || path == "/readyz", "{path}: {status}");
        let (status, body) = answer(c.get(url(path))).await;
        fits(&doc, "get", path, status, &body);
    }
    for (path, bad) in [
        ("/api/v1/rejected", "?limit=0"),
        ("/api/v1/audit", "?limit=10001"),
        ("/api/v1/credentials", "?kind=key"),
        ("/api/v1/export", "?month=2017-13"),
    ] {
        let (status, body) = server.get_admin(&format!("{path}{bad}")).await;
        assert_eq!(status, 400, "{path}{bad}");
        fits(&doc, "get", path, status, &body);
    }

    // The monthly review of the fixture's month, closed, revised, reopened.
    for path in [
        "/api/v1/review?month=2017-06&level=team",
        "/api/v1/review?month=2017-06&level=district",
        "/api/v1/review?month=2017-06&level=town",
        "/api/v1/review/revisions?month=2017-06",
    ] {
        let (status, body) = server.get_admin(path).await;
        fits(&doc, "get", path.split('?').next().unwrap(), status, &body);
    }
    for (path, expected) in [
        ("/api/v1/review/close", 200),
        ("/api/v1/review/close", 409),
        ("/api/v1/review/reopen", 200),
        ("/api/v1/review/reopen", 409),
        ("/api/v1/review/close", 200),
    ] {
        let (status, body) = server.post_admin(path, &json!({"month": "2017-06"})).await;
        assert_eq!(status, expected, "{path}: {body}");
        fits(&doc, "post", path, status, &body);
    }
    let (status, body) = server
        .get_admin("/api/v1/review/revisions?month=2017-06")
        .await;
    assert_eq!(status, 200, "{body}");
    fits(&doc, "get", "/api/v1/review/revisions", status, &body);
    let (status, body) = server
        .get_admin("/api/v1/review?month=2017-06&level=team")
        .await;
    assert_eq!((status, &body["closed"]), (200, &json!(true)));
    fits(&doc, "get", "/api/v1/review", status, &body);

    // 一帐三单.
    let (status, body) = server
        .post_admin(
            "/api/v1/ledger",
            &json!({"list": "supervision", "district": "110106", "title": "月度例会", "owner": "区办公室", "deadline": "2017-07-10"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    fits(&doc, "post", "/api/v1/ledger", status, &body);
    let (status, body) = server
        .post_admin("/api/v1/ledger", &json!({"list": "x"}))
        .await;
    fits(&doc, "post", "/api/v1/ledger", status, &body);
    let (status, body) = server.post_admin("/api/v1/ledger/1/done", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    fits(&doc, "post", "/api/v1/ledger/{id}/done", status, &body);
    let (status, body) = server.get_admin("/api/v1/ledger").await;
    fits(&doc, "get", "/api/v1/ledger", status, &body);
    // The team registry.
    for body in [
        json!({"name": "丰台区中医医院非药物疗法团队", "institution": "丰台区中医医院", "district": "110106",
               "level": "district", "discipline": "non_drug", "target": 1000, "active_from": "2017-10-24"}),
        json!({"name": "x"}),
    ] {
        let request = c
            .put(url("/api/v1/teams/ft-team-10"))
            .bearer_auth(crate::common::ADMIN_TOKEN)
            .json(&body);
        let (status, answer) = answer(request).await;
        fits(&doc, "put", "/api/v1/teams/{id}", status, &answer);
    }
    let (status, body) = server.get_admin("/api/v1/teams").await;
    assert_eq!(body["teams"][9]["edited_by"], "admin-token");
    fits(&doc, "get", "/api/v1/teams", status, &body);

    // Credentials, and what each reader sees.
    let mut tokens = Vec::new();
    for request in [
        json!({"kind": "link", "label": "市领导"}),
        json!({"kind": "link", "label": "丰台区", "scope": "110106", "expires_in_hours": 2}),
        json!({"kind": "wall", "label": "大厅主屏"}),
        json!({"kind": "ingest", "label": "hospital-a"}),
    ] {
        let (status, body) = server.post_admin("/api/v1/credentials", &request).await;
        fits(&doc, "post", "/api/v1/credentials", status, &body);
        assert_eq!(status, 201, "{body}");
        tokens.push((
            body["token"].as_str().unwrap().to_string(),
            body["id"].clone(),
        ));
    }
    for request in [
        json!({"kind": "ingest", "label": "hospital-a"}),
        json!({"kind": "wall", "label": "x", "scope": "city"}),
    ] {
        let (status, body) = server.post_admin("/api/v1/credentials", &request).await;
        fits(&doc, "post", "/api/v1/credentials", status, &body);
    }
    for (token, _) in &tokens[..3] {
        for path in ["/api/v1/snapshot", "/api/v1/me"] {
            let (status, body) = answer(c.get(url(path)).bearer_auth(token)).await;
            assert_eq!(status, 200, "{path}: {body}");
            fits(&doc, "get", path, status, &body);
        }
        let (status, body) = answer(c.get(url("/api/v1/settings")).bearer_auth(token)).await;
        fits(&doc, "get", "/api/v1/settings", status, &body);
    }
    let wall = &tokens[2].0;
    let (status, body) = answer(
        c.post(url("/api/v1/wall"))
            .bearer_auth(wall)
            .json(&json!({"phase": "before", "countdown_to": "2026-01-01T09:00:00+08:00"})),
    )
    .await;
    fits(&doc, "post", "/api/v1/wall", status, &body);
    assert_eq!(status, 403, "{body}");
    let (status, body) = answer(
        c.post(url("/api/v1/wall"))
            .bearer_auth(wall)
            .json(&json!({"phase": "live"})),
    )
    .await;
    fits(&doc, "post", "/api/v1/wall", status, &body);
    assert_eq!(status, 200, "{body}");
    let (status, body) = answer(
        c.post(url("/api/v1/wall"))
            .bearer_auth(&tokens[0].0)
            .json(&json!({"phase": "live"})),
    )
    .await;
    fits(&doc, "post", "/api/v1/wall", status, &body);
    let (status, body) = server
        .post_admin(
            "/api/v1/wall",
            &json!({"phase": "live", "countdown_to": "soon"}),
        )
        .await;
    fits(&doc, "post", "/api/v1/wall", status, &body);
    let revoke = format!(
        "/api/v1/credentials/{}/revoke",
        tokens[0].1.as_str().unwrap()
    );
    let (status, body) = server.post_admin(&revoke, &json!({})).await;
    fits(
        &doc,
        "post",
        "/api/v1/credentials/{id}/revoke",
        status,
        &body,
    );
    assert_eq!(body["state"], "revoked");
    let (status, body) = server
        .post_admin("/api/v1/credentials/nothing/revoke", &json!({}))
        .await;
    fits(
        &doc,
        "post",
        "/api/v1/credentials/{id}/revoke",
        status,
        &body,
    );

    // Settings and staff accounts.
    for change in [
        json!({"alerts": {"tick_late_ms": 500}}),
        json!({"k": 0}),
        json!({"x": 1}),
    ] {
        let request = c.put(url("/api/v1/settings")).bearer_auth(ADMIN_TOKEN);
        let (status, body) = answer(request.json(&change)).await;
        fits(&doc, "put", "/api/v1/settings", status, &body);
    }
    for user in [
        json!({"name": "zhang", "password": "a long password"}),
        json!({"name": "zhang", "password": "a long password"}),
        json!({"name": "li", "password": "short"}),
    ] {
        let (status, body) = server.post_admin("/api/v1/users", &user).await;
        fits(&doc, "post", "/api/v1/users", status, &body);
    }

    // A console session: login, session, a write without and with CSRF, logout.
    let login = |password: &str| {
        c.post(url("/api/v1/login"))
            .json(&json!({"name": "zhang", "password": password}))
    };
    let (status, body) = answer(login("not the password")).await;
    fits(&doc, "post", "/api/v1/login", status, &body);
    let response = login("a long password").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    fits(&doc, "post", "/api/v1/login", 200, &body);
    let csrf = body["csrf"].as_str().unwrap().to_string();
    let (status, body) = answer(c.get(url("/api/v1/session")).header("cookie", &cookie)).await;
    fits(&doc, "get", "/api/v1/session", status, &body);
    assert_eq!(status, 200);
    let (status, body) = answer(c.get(url("/api/v1/me")).header("cookie", &cookie)).await;
    fits(&doc, "get", "/api/v1/me", status, &body);
    let put = |csrf: &str| {
        c.put(url("/api/v1/settings"))
            .header("cookie", &cookie)
            .header("x-csrf-token", csrf)
            .json(&json!({"k": 5}))
    };
    let (status, body) = answer(put("wrong")).await;
    assert_eq!(status, 403);
    fits(&doc, "put", "/api/v1/settings", status, &body);
    let (status, body) = answer(put(&csrf)).await;
    assert_eq!(status, 200);
    fits(&doc, "put", "/api/v1/settings", status, &body);
    let (status, body) = answer(
        c.post(url("/api/v1/logout"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf),
    )
    .await;
    assert_eq!(status, 204);
    fits(&doc, "post", "/api/v1/logout", status, &body);

    // Text answers.
    for (path, content_type) in [
        ("/api/v1/audit.csv", "text/csv; charset=utf-8"),
        ("/api/v1/export?month=2017-06", "text/csv; charset=utf-8"),
        (
            "/api/v1/export?month=2017-06&level=team&format=parquet",
            "application/vnd.apache.parquet",
        ),
        ("/metrics", "text/plain; version=0.0.4; charset=utf-8"),
        ("/healthz", "text/plain; charset=utf-8"),
    ] {
        let request = c.get(url(path)).bearer_auth(ADMIN_TOKEN);
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        let bare = path.split('?').next().unwrap();
        let content = &doc["paths"][bare]["get"]["responses"]["200"]["content"];
        assert!(
            content.get(content_type).is_some(),
            "{path}: {content_type}"
        );
    }

    // The websocket: the first message is a snapshot.
    let mut ws = server.ws().await;
    let first = ws.next_json().await;
    let found = schema_violations(
        &doc,
        &json!({"$ref": "#/components/schemas/ServerMessage"}),
        &first,
    );
    assert!(found.is_empty(), "ws: {found:?}");
    assert_eq!(first["type"], "snapshot");
    server.stop().await;
}
