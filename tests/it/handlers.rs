//! Handlers called in process (`app().oneshot`): the answers that need no
//! socket, checked whole — status, headers and body.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common::*;

/// One request through the routes, from 127.0.0.1: (status, headers, body).
async fn call(server: &TestServer, request: Request<Body>) -> (u16, HeaderMap, String) {
    let mut request = request;
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
    let response = server.app().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_carries_the_security_headers() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let (status, headers, body) = call(&server, get("/healthz")).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(
        header(&headers, "content-security-policy"),
        Some(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
             font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
             frame-ancestors 'none'; form-action 'self'"
        )
    );
    for (name, value) in [
        ("x-content-type-options", Some("nosniff")),
        ("referrer-policy", Some("no-referrer")),
        ("x-frame-options", Some("DENY")),
        ("cache-control", Some("no-store")),
        // Only behind HTTPS (--secure-cookies).
        ("strict-transport-security", None),
    ] {
        assert_eq!(header(&headers, name), value, "{name}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_and_ingest_say_what_credential_they_want() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let (status, headers, body) = call(&server, get("/api/v1/snapshot")).await;
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"error": "sign in, or send a valid token (Authorization: Bearer … or ?token=…)"})
    );
    assert_eq!(header(&headers, "www-authenticate"), Some("Bearer"));

    let events = |key: Option<&str>, content_type: &str| {
        let mut request = Request::post("/api/v1/events").header("content-type", content_type);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        request.body(Body::from("{}\n")).unwrap()
    };
    let (status, headers, body) = call(&server, events(None, "application/x-ndjson")).await;
    assert_eq!(status, 401);
    assert_eq!(header(&headers, "www-authenticate"), Some("Bearer"));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"error": "missing or unknown ingest key: send Authorization: Bearer <key>"})
    );
    let (status, _, body) = call(&server, events(Some(INGEST_KEY), "text/plain")).await;
    assert_eq!(status, 415);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"error": "unsupported content type \"text/plain\": send application/x-ndjson, application/json, text/csv or application/vnd.apache.arrow.stream"})
    );
    // An ingest key reads nothing.
    let request = Request::get("/api/v1/snapshot")
        .header("authorization", format!("Bearer {INGEST_KEY}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&server, request).await.0, 401);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_read_the_snapshot_and_the_ingest_health_in_process() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let staff = |path: &str| {
        Request::get(path)
            .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
            .body(Body::empty())
            .unwrap()
    };
    let (status, headers, body) = call(&server, staff("/api/v1/snapshot")).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let snapshot: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(snapshot["state"]["totals"]["people"], 0);
    assert_eq!(snapshot["epoch"], server.epoch());

    let (status, _, body) = call(&server, staff("/api/v1/ingest")).await;
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["keys"], json!([]));
    assert_eq!(health["delay_ms"], Value::Null);
    server.stop().await;
}
