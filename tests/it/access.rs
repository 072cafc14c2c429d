//! Access: each role against each endpoint, revocation and expiry closing
//! sockets, district links holding only their district, no person id ever
//! reaching a viewer, suppression under k, CSRF, the login limit, the audit
//! trail, named ingest keys and the monthly export.

use std::time::Duration;

use crate::common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const PASSWORD: &str = "test-password-1";

/// A staff session: (cookie header value, csrf token).
async fn login(server: &TestServer) -> (String, String) {
    let r = server
        .client
        .post(format!("{}/api/v1/login", server.url))
        .json(&json!({"name": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    (pair, body["csrf"].as_str().unwrap().to_string())
}

async fn create(server: &TestServer, body: Value) -> Value {
    let (status, created) = server.post_admin("/api/v1/credentials", &body).await;
    assert_eq!(status, 201, "{created}");
    created
}

/// The status a websocket upgrade gets (101 when it opens), with `token` in
/// `?token=` or, with `header`, in the Authorization header.
async fn ws_status(server: &TestServer, token: Option<&str>, header: bool) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let base = server.url.replace("http://", "ws://");
    let url = match token {
        Some(t) if !header => format!("{base}/ws?token={t}"),
        _ => format!("{base}/ws"),
    };
    let mut request = url.into_client_request().unwrap();
    if let (Some(t), true) = (token, header) {
        let value = format!("Bearer {t}").parse().unwrap();
        request.headers_mut().insert("authorization", value);
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected websocket error {e}"),
    }
}

#[derive(Clone, Copy, Debug)]
enum Who<'a> {
    Nobody,
    Bearer(&'a str),
    Query(&'a str),
    Session {
        cookie: &'a str,
        csrf: Option<&'a str>,
    },
}

async fn call(
    server: &TestServer,
    who: Who<'_>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> u16 {
    if path == "/ws" {
        return match who {
            Who::Nobody => ws_status(server, None, false).await,
            Who::Bearer(t) => ws_status(server, Some(t), true).await,
            Who::Query(t) => ws_status(server, Some(t), false).await,
            Who::Session { .. } => unreachable!("sockets are tested with tokens"),
        };
    }
    let url = match who {
        Who::Query(t) => format!(
            "{}{path}{}token={t}",
            server.url,
            if path.contains('?') { "&" } else { "?" }
        ),
        _ => format!("{}{path}", server.url),
    };
    let mut r = match method {
        "GET" => server.client.get(url),
        "POST" => server.client.post(url),
        "PUT" => server.client.put(url),
        _ => unreachable!(),
    };
    match who {
        Who::Bearer(t) => r = r.bearer_auth(t),
        Who::Session { cookie, csrf } => {
            r = r.header("cookie", cookie);
            if let Some(c) = csrf {
                r = r.header("x-csrf-token", c);
            }
        }
        _ => {}
    }
    if let Some(body) = body {
        r = match path {
            "/api/v1/events" => r
                .header("content-type", "application/x-ndjson")
                .body(body.to_string()),
            _ => r.json(&body),
        };
    }
    r.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn each_role_gets_exactly_what_it_needs() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let city = create(
        &server,
        json!({"kind": "link", "label": "市领导", "scope": "city"}),
    )
    .await;
    let district = create(
        &server,
        json!({"kind": "link", "label": "丰台", "scope": "110106"}),
    )
    .await;
    let wall = create(&server, json!({"kind": "wall", "label": "大厅"})).await;
    let revoked = create(&server, json!({"kind": "link", "label": "旧链接"})).await;
    let (status, _) = server
        .post_admin(
            &format!(
                "/api/v1/credentials/{}/revoke",
                revoked["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (cookie, csrf) = login(&server).await;
    let tok = |v: &Value| v["token"].as_str().unwrap().to_string();
    let (city, district, wall, revoked) = (tok(&city), tok(&district), tok(&wall), tok(&revoked));

    let event = json!({"id": "r-1", "ts": "2017-06-28T10:00:00+08:00", "kind": "scan",
                       "district": "110101", "person": "p-role-0001"});
    let link = json!({"kind": "link", "label": "x"});
    let wall_body = json!({"phase": "live"});
    let settings = json!({"k": 5});
    // (method, path, body)
    let endpoints: Vec<(&str, &str, Option<Value>)> = vec![
        ("GET", "/ws", None),
        ("GET", "/api/v1/snapshot", None),
        ("GET", "/api/v1/me", None),
        ("POST", "/api/v1/wall", Some(wall_body)),
        ("GET", "/metrics", None),
        ("GET", "/api/v1/credentials", None),
        ("POST", "/api/v1/credentials", Some(link)),
        ("GET", "/api/v1/ingest", None),
        ("GET", "/api/v1/rejected", None),
        ("GET", "/api/v1/audit", None),
        ("GET", "/api/v1/audit.csv", None),
        ("GET", "/api/v1/settings", None),
        ("PUT", "/api/v1/settings", Some(settings)),
        ("GET", "/api/v1/export?month=2017-06", None),
        ("GET", "/api/v1/users", None),
        ("POST", "/api/v1/events", Some(event)),
    ];
    // Expected status per endpoint, in the order above.
    let deny_all = [401; 16];
    let readers = [
        101, 200, 200, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401,
    ];
    let wall_may = [
        101, 200, 200, 200, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401,
    ];
    let staff = [
        101, 200, 200, 200, 200, 200, 201, 200, 200, 200, 200, 200, 200, 200, 200, 401,
    ];
    let ingest = [
        401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 200,
    ];
    let table: Vec<(&str, Who, [u16; 16])> = vec![
        ("nobody", Who::Nobody, deny_all),
        ("a made-up token", Who::Bearer("0123456789abcdef"), deny_all),
        ("a revoked link", Who::Query(&revoked), deny_all),
        ("the ingest key", Who::Bearer(INGEST_KEY), ingest),
        ("a city link", Who::Query(&city), readers),
        ("a district link", Who::Query(&district), readers),
        ("a district link as bearer", Who::Bearer(&district), readers),
        ("a wall token", Who::Query(&wall), wall_may),
        ("the admin token", Who::Bearer(ADMIN_TOKEN), staff),
    ];
    let mut failures = Vec::new();
    for (name, who, expected) in &table {
        for ((method, path, body), want) in endpoints.iter().zip(expected) {
            let got = call(&server, *who, method, path, body.clone()).await;
            if got != *want {
                failures.push(format!("{name} {method} {path}: got {got}, want {want}"));
            }
        }
    }
    // A session: reads as staff; writes only with its CSRF token.
    let session = Who::Session {
        cookie: &cookie,
        csrf: None,
    };
    let with_csrf = Who::Session {
        cookie: &cookie,
        csrf: Some(&csrf),
    };
    let wrong_csrf = Who::Session {
        cookie: &cookie,
        csrf: Some("not-it"),
    };
    for ((method, path, body), want) in endpoints.iter().zip(staff).skip(1) {
        let writes = *method != "GET";
        let plain = call(&server, session, method, path, body.clone()).await;
        let want_plain = if writes && want != 401 { 403 } else { want };
        if plain != want_plain {
            failures.push(format!(
                "session {method} {path}: got {plain}, want {want_plain}"
            ));
        }
        if writes && want != 401 {
            let wrong = call(&server, wrong_csrf, method, path, body.clone()).await;
            if wrong != 403 {
                failures.push(format!(
                    "session, wrong csrf, {method} {path}: got {wrong}, want 403"
                ));
            }
            let ok = call(&server, with_csrf, method, path, body.clone()).await;
            if ok != want {
                failures.push(format!(
                    "session with csrf {method} {path}: got {ok}, want {want}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // A 401 tells nothing: the same body whatever the reason.
    let body = |token: &str| {
        let url = format!("{}/api/v1/snapshot?token={token}", server.url);
        let client = server.client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(body(&revoked).await, body("made-up").await);
    server.stop().await;
}

#[tokio::test]
async fn revoking_a_link_closes_its_socket_within_a_tick() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let link = create(
        &server,
        json!({"kind": "link", "label": "会场", "scope": "city"}),
    )
    .await;
    let other = create(&server, json!({"kind": "link", "label": "另一个"})).await;
    let mut ws = server.ws_as(link["token"].as_str().unwrap()).await;
    let mut kept = server.ws_as(other["token"].as_str().unwrap()).await;
    assert_eq!(ws.next_json().await["type"], "snapshot");
    assert_eq!(kept.next_json().await["type"], "snapshot");

    let (status, listed) = server
        .post_admin(
            &format!(
                "/api/v1/credentials/{}/revoke",
                link["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["state"], "revoked");
    let revoked_at = tokio::time::Instant::now();
    let mut ended = None;
    let close = loop {
        let message = tokio::time::timeout(Duration::from_secs(2), ws.socket.next())
            .await
            .expect("the socket is told within a tick (100 ms), well inside 2 s");
        match message {
            Some(Ok(Message::Text(t))) => {
                let m: Value = serde_json::from_str(t.as_str()).unwrap();
                if m["type"] == "ended" {
                    ended = Some(m);
                }
            }
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            other => panic!("expected the ended message and a close frame, got {other:?}"),
        }
    };
    assert!(revoked_at.elapsed() < Duration::from_millis(1000));
    assert_eq!(ended, Some(json!({"type": "ended", "reason": "revoked"})));
    assert_eq!(close, 4001);
    // The other link's socket stays open and keeps receiving.
    let m = kept.next_json().await;
    assert!(m["type"] == "heartbeat" || m["type"] == "delta", "{m}");
    assert_eq!(
        call(
            &server,
            Who::Query(link["token"].as_str().unwrap()),
            "GET",
            "/api/v1/snapshot",
            None
        )
        .await,
        401
    );
    server.stop().await;
}

#[tokio::test]
async fn an_expired_link_ends_its_socket_and_opens_nothing() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let link = create(
        &server,
        json!({"kind": "link", "label": "短链接", "expires_in_hours": 1}),
    )
    .await;
    let token = link["token"].as_str().unwrap().to_string();
    assert_eq!(link["state"], "active");
    let created =
        chrono::DateTime::parse_from_rfc3339(link["created_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, chrono::Duration::hours(1));
    server.stop().await;
    // Move its expiry to two seconds from now, as if an hour had passed.
    {
        let db = open_db(dir.path());
        db.execute(
            "UPDATE credentials SET expires_at = now()::TIMESTAMP + INTERVAL 8 HOUR + INTERVAL 2 SECOND
             WHERE id = ?",
            [link["id"].as_str().unwrap()],
        )
        .unwrap();
    }
    let server = TestServer::start(dir.path()).await;
    let mut ws = server.ws_as(&token).await;
    assert_eq!(ws.next_json().await["type"], "snapshot");
    let ended = loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next_json())
            .await
            .expect("the expiry reaches the socket");
        if m["type"] == "ended" {
            break m;
        }
    };
    assert_eq!(ended["reason"], "expired");
    assert_eq!(
        call(&server, Who::Query(&token), "GET", "/api/v1/me", None).await,
        401
    );
    let (_, listed) = server.get_admin("/api/v1/credentials?kind=link").await;
    assert_eq!(listed["credentials"][0]["state"], "expired");
    let (_, audit) = server.get_admin("/api/v1/audit").await;
    assert!(
        audit["audit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "credential_expired" && r["target"] == link["id"]),
        "{audit}"
    );
    server.stop().await;
}

/// Events in three districts, with teams, from the small launch fixture.
async fn load_fixture(server: &TestServer) -> Vec<Value> {
    let lines: Vec<Value> = fixture_lines();
    let answer = server.ndjson(&lines).await;
    assert_eq!(answer["accepted"].as_u64(), Some(lines.len() as u64));
    let scans = lines.iter().filter(|l| l["kind"] == "scan").count() as u64;
    server
        .wait_for("the fixture counted", |s| s["totals"]["scans"] == scans)
        .await;
    lines
}

#[tokio::test]
async fn a_district_link_receives_only_its_district_and_no_viewer_sees_a_person() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let district = create(
        &server,
        json!({"kind": "link", "label": "丰台", "scope": "110106"}),
    )
    .await;
    let city = create(&server, json!({"kind": "link", "label": "全市"})).await;
    let wall = create(&server, json!({"kind": "wall", "label": "大厅"})).await;
    let tokens = [&district, &city, &wall].map(|c| c["token"].as_str().unwrap().to_string());
    let mut sockets = Vec::new();
    for t in &tokens {
        sockets.push(server.ws_as(t).await);
    }
    let lines = load_fixture(&server).await;
    let staff = server.snapshot().await;
    // Let a few ticks carry the new figures to the sockets.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut raw: Vec<Vec<String>> = Vec::new();
    for ws in &mut sockets {
        // Everything that arrived (ticks come every 100 ms: stop after a second).
        let mut texts = Vec::new();
        let until = tokio::time::Instant::now() + Duration::from_secs(1);
        while let Ok(Some(Ok(Message::Text(t)))) =
            tokio::time::timeout_at(until, ws.socket.next()).await
        {
            texts.push(t.as_str().to_string());
        }
        raw.push(texts);
    }
    for (t, texts) in tokens.iter().zip(&mut raw) {
        texts.push(server.snapshot_as(t).await.to_string());
        let me = server
            .client
            .get(format!("{}/api/v1/me?token={t}", server.url))
            .send()
            .await
            .unwrap();
        texts.push(me.text().await.unwrap());
    }
    assert!(
        raw[0].len() >= 3,
        "the district socket received its snapshot and updates"
    );

    // The district link: only 110106, in every message.
    let fengtai = server.snapshot_as(&tokens[0]).await;
    let state = &fengtai["state"];
    assert_eq!(state["scope"], "110106");
    assert_eq!(
        state["districts"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["110106"]
    );
    let staff_fengtai = &staff["state"]["districts"]["110106"];
    assert_eq!(state["totals"]["people"], staff_fengtai["people"]);
    assert_eq!(state["totals"]["scans"], staff_fengtai["scans"]);
    // Its colours as viewers see them: as on the city's link (docs/privacy.md).
    let city_view = server.snapshot_as(&tokens[1]).await;
    assert_eq!(
        state["colours"],
        city_view["state"]["districts"]["110106"]["colours"]
    );
    for (colour, n) in state["colours"].as_object().unwrap() {
        assert!(
            n.is_null() || n == &staff_fengtai["colours"][colour],
            "{colour}: {n}"
        );
    }
    assert!(state.get("alerts").is_none());
    let region = weibing::region::Region::load("beijing").unwrap();
    for text in &raw[0] {
        for d in region.districts.iter().filter(|d| d.code != "110106") {
            assert!(
                !text.contains(&d.code),
                "{} leaked into the district link: {text:.200}",
                d.code
            );
            assert!(
                !text.contains(&d.name),
                "{} leaked into the district link",
                d.name
            );
        }
    }
    // No viewer message carries a person id or an event id of the fixture.
    let persons: std::collections::BTreeSet<&str> =
        lines.iter().filter_map(|l| l["person"].as_str()).collect();
    let ids: Vec<&str> = lines.iter().filter_map(|l| l["id"].as_str()).collect();
    assert!(persons.len() > 100);
    for texts in &raw {
        for text in texts {
            for p in &persons {
                assert!(!text.contains(p), "person id {p} reached a viewer");
            }
            for id in &ids {
                assert!(
                    !text.contains(&format!("\"{id}\"")),
                    "event id {id} reached a viewer"
                );
            }
        }
    }
    // The city link and the wall: the staff's numbers, without alerts.
    let city_state = server.snapshot_as(&tokens[1]).await["state"].clone();
    assert_eq!(city_state["totals"], staff["state"]["totals"]);
    assert!(city_state.get("alerts").is_none());
    assert!(staff["state"]["alerts"].is_array());
    server.stop().await;
}

#[tokio::test]
async fn team_figures_under_k_persons_are_suppressed_for_viewers() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let ts = "2017-06-28T10:00:00+08:00";
    let mut lines = Vec::new();
    // Team A: 5 persons enrolled, 5 served (k = 5: shown). Team B: 2 enrolled,
    // 4 served with 9 services (suppressed). Team C: 6 enrolled, none served.
    let mut n = 0;
    let mut push = |kind: &str, team: &str, person: String| {
        n += 1;
        let mut e = json!({"id": format!("k-{n}"), "ts": ts, "kind": kind, "district": "110106",
                           "person": person, "team": team});
        if kind == "service" {
            e["category"] = json!("learning");
        }
        lines.push(e);
    };
    for i in 0..5 {
        push("enroll", "团队A", format!("p-a-{i:04}"));
        push("service", "团队A", format!("p-a-{i:04}"));
    }
    for i in 0..2 {
        push("enroll", "团队B", format!("p-b-{i:04}"));
    }
    for i in 0..9 {
        push("service", "团队B", format!("p-b-{:04}", i % 4));
    }
    for i in 0..6 {
        push("enroll", "团队C", format!("p-c-{i:04}"));
    }
    assert_eq!(server.ndjson(&lines).await["accepted"], 27);
    let staff = server
        .wait_for("27 events", |s| s["totals"]["services"] == 14)
        .await;
    let teams = &staff["state"]["districts"]["110106"]["teams"];
    assert_eq!(
        teams["团队A"],
        json!({"managed": 5, "served": 5, "services": 5})
    );
    assert_eq!(
        teams["团队B"],
        json!({"managed": 2, "served": 4, "services": 9})
    );
    assert_eq!(
        teams["团队C"],
        json!({"managed": 6, "served": 0, "services": 0})
    );

    let link = create(
        &server,
        json!({"kind": "link", "label": "丰台", "scope": "110106"}),
    )
    .await;
    let city = create(&server, json!({"kind": "link", "label": "全市"})).await;
    for token in [&link, &city].map(|c| c["token"].as_str().unwrap().to_string()) {
        let state = server.snapshot_as(&token).await["state"].clone();
        let teams = &state["districts"]["110106"]["teams"];
        // B is small (2 managed, 4 served); A goes with it, or 13 − 5 − 6
        // and 9 − 5 would give B away (complementary suppression).
        assert_eq!(
            teams["团队A"],
            json!({"managed": null, "served": null, "services": null})
        );
        assert_eq!(
            teams["团队B"],
            json!({"managed": null, "served": null, "services": null})
        );
        assert_eq!(
            teams["团队C"],
            json!({"managed": 6, "served": 0, "services": 0})
        );
        // District totals are shown as they are.
        assert_eq!(state["districts"]["110106"]["managed"], 13);
    }
    // k is a setting: at k = 7, teams A and C are suppressed too (C served nobody: 0 is shown).
    let r = server
        .client
        .put(format!("{}/api/v1/settings", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"k": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token = city["token"].as_str().unwrap().to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let teams = loop {
        let state = server.snapshot_as(&token).await["state"].clone();
        let teams = state["districts"]["110106"]["teams"].clone();
        if teams["团队A"]["managed"].is_null() || tokio::time::Instant::now() > deadline {
            break teams;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        teams["团队A"],
        json!({"managed": null, "served": null, "services": null})
    );
    assert_eq!(
        teams["团队C"],
        json!({"managed": null, "served": 0, "services": 0})
    );
    // Out-of-range settings are refused, naming the field.
    let r = server
        .client
        .put(format!("{}/api/v1/settings", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"k": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "k: 3 to 1000 (fewer than 3 persons behind a figure would let a viewer tell who they are)"
    );
    server.stop().await;
}

#[tokio::test]
async fn failed_logins_are_limited_per_address_and_audited() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let attempt = |password: &'static str| {
        let client = server.client.clone();
        let url = format!("{}/api/v1/login", server.url);
        async move {
            let r = client
                .post(url)
                .json(&json!({"name": "admin", "password": password}))
                .send()
                .await
                .unwrap();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let status = r.status().as_u16();
            (status, retry, r.json::<Value>().await.unwrap())
        }
    };
    for _ in 0..5 {
        let (status, _, body) = attempt("wrong-password").await;
        assert_eq!(status, 401);
        assert_eq!(body["error"], "name or password is wrong");
    }
    let (status, retry, _) = attempt("wrong-password").await;
    assert_eq!(status, 429);
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((890..=900).contains(&retry), "{retry}");
    // Even the right password waits: the limit is not an oracle.
    assert_eq!(attempt(PASSWORD).await.0, 429);
    let (_, audit) = server.get_admin("/api/v1/audit?limit=50").await;
    let actions: Vec<&str> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.iter().filter(|a| **a == "login_failed").count(), 5);
    // Refusals are recorded once per address and window, not per attempt.
    assert_eq!(actions.iter().filter(|a| **a == "login_refused").count(), 1);
    assert!(audit["audit"][0]["address"] == "127.0.0.1");
    server.stop().await;
}

#[tokio::test]
async fn the_audit_trail_records_who_did_what_and_cannot_be_changed() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let (cookie, csrf) = login(&server).await;
    let r = server
        .client
        .post(format!("{}/api/v1/credentials", server.url))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"kind": "link", "label": "区长", "scope": "110108", "expires_in_hours": 48}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let link: Value = r.json().await.unwrap();
    assert_eq!(link["scope_name"], "海淀区");
    assert_eq!(link["created_by"], "admin");
    let token = link["token"].as_str().unwrap().to_string();
    // First use from an address is recorded (once).
    for _ in 0..2 {
        assert_eq!(
            call(&server, Who::Query(&token), "GET", "/api/v1/me", None).await,
            200
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = server
        .client
        .post(format!(
            "{}/api/v1/credentials/{}/revoke",
            server.url,
            link["id"].as_str().unwrap()
        ))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = server
        .client
        .post(format!("{}/api/v1/wall", server.url))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"phase": "before"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, audit) = server.get_admin("/api/v1/audit").await;
    let rows: Vec<(String, String, String)> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|r| {
            (
                r["actor"].as_str().unwrap().to_string(),
                r["action"].as_str().unwrap().to_string(),
                r["target"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let id = link["id"].as_str().unwrap().to_string();
    assert_eq!(
        rows,
        vec![
            ("env".into(), "user_created".into(), "admin".into()),
            ("admin".into(), "login".into(), "".into()),
            ("admin".into(), "credential_created".into(), id.clone()),
            (
                id.clone(),
                "credential_first_use_from_address".into(),
                id.clone()
            ),
            ("admin".into(), "credential_revoked".into(), id.clone()),
            ("admin".into(), "wall_changed".into(), "".into()),
        ]
    );
    let r = server
        .client
        .get(format!("{}/api/v1/audit.csv", server.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    // The header, the six rows, and the download itself, audited first.
    assert_eq!(csv.lines().count(), 8);
    let last = csv.lines().last().unwrap();
    assert!(last.contains(",admin,audit_downloaded,"), "{last}");
    assert_eq!(
        csv.lines().next().unwrap(),
        "at,actor,action,target,address,detail"
    );
    assert!(!csv.contains(&token), "no token in the trail");
    // No method changes it.
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::POST,
    ] {
        let r = server
            .client
            .request(method.clone(), format!("{}/api/v1/audit", server.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_named_ingest_key_sends_under_its_name_until_revoked() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let key = create(&server, json!({"kind": "ingest", "label": "hospital-a"})).await;
    assert_eq!(key["url"], Value::Null);
    let (status, body) = server
        .post_admin(
            "/api/v1/credentials",
            &json!({"kind": "ingest", "label": "hospital-a"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            409,
            Some("label: an ingest key named \"hospital-a\" exists")
        )
    );
    let (status, body) = server
        .post_admin(
            "/api/v1/credentials",
            &json!({"kind": "ingest", "label": "Hospital A"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            400,
            Some("label: an ingest key's name is 1 to 40 of a-z 0-9 _ -")
        )
    );
    let (status, body) = server
        .post_admin(
            "/api/v1/credentials",
            &json!({"kind": "link", "label": "x", "expires_in_hours": 721}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("expires_in_hours: 1 to 720 (30 days)"))
    );
    let (status, body) = server
        .post_admin(
            "/api/v1/credentials",
            &json!({"kind": "link", "label": "x", "scope": "999999"}),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            400,
            Some("scope: \"city\" or one of the region's district codes")
        )
    );

    let token = key["token"].as_str().unwrap();
    let body = json!({"id": "h-1", "ts": "2017-06-28T10:00:00+08:00", "kind": "scan",
                      "district": "110105", "person": "p-hosp-0001"});
    let (status, answer) = server
        .post_with_key(Some(token), "application/x-ndjson", body.to_string())
        .await;
    assert_eq!((status, answer["accepted"].as_u64()), (200, Some(1)));
    let (_, health) = server.get_admin("/api/v1/ingest").await;
    let keys = health["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["source"], "hospital-a");
    assert_eq!(
        (keys[0]["requests"].as_i64(), keys[0]["accepted"].as_i64()),
        (Some(1), Some(1))
    );
    // The key reads nothing.
    assert_eq!(
        call(&server, Who::Bearer(token), "GET", "/api/v1/snapshot", None).await,
        401
    );
    let (status, _) = server
        .post_admin(
            &format!("/api/v1/credentials/{}/revoke", key["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .post_with_key(Some(token), "application/x-ndjson", body.to_string())
        .await;
    assert_eq!(status, 401);
    server.stop().await;
    let db = open_db(dir.path());
    let source: String = db
        .query_row("SELECT source FROM events WHERE id = 'h-1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(source, "hospital-a");
}

#[tokio::test]
async fn the_monthly_export_shows_the_numbers_of_the_state() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let lines = load_fixture(&server).await;
    let total = lines.len();
    let staff = server.snapshot().await;
    // The fixture's events are of 2017-06-28: June 2017's figures as of its end
    // are the live ones (nothing is later).
    let (status, _) = server.get_admin("/api/v1/export?month=2017-6").await;
    assert_eq!(status, 400);
    let r = server
        .client
        .get(format!(
            "{}/api/v1/export?month=2017-06&level=district&format=csv&headers=en",
            server.url
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csv = r.text().await.unwrap();
    // The same file with its headers in Chinese (the default).
    let r = server
        .client
        .get(format!("{}/api/v1/export?month=2017-06", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let chinese = r.text().await.unwrap();
    let (head, body) = chinese.split_once('\n').unwrap();
    assert_eq!(
        head,
        "月份,数据截至,区划代码,区,扫码人数,扫码次数,评估人数,管理人数,互动人数,服务次数,培训学员,健康守护者,\
         绿色人数,橙色人数,粉色人数,黄色人数,蓝色人数,知晓率,知晓率样本数,参与率,参与率样本数,满意率,满意率样本数,\
         达标率,达标率样本数,改善率,改善率样本数,有效率,有效率样本数,管理率,管理率样本数,控制率,控制率样本数,\
         防变率,防变率样本数,治未病指数,排名"
    );
    assert_eq!(body, csv.split_once('\n').unwrap().1);
    let (status, answer) = server
        .get_admin("/api/v1/export?month=2017-06&headers=fr")
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("headers: zh or en"))
    );
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 16);
    // The index is the month's close (its targets planned as of 2017-07-01),
    // not today's: its ranks follow its own index, ties by code.
    let mut by_index: Vec<(f64, String, u32)> = rows
        .iter()
        .map(|r| {
            (
                r[col("index")].parse().unwrap(),
                r[col("district")].to_string(),
                r[col("rank")].parse().unwrap(),
            )
        })
        .collect();
    by_index.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then(a.1.cmp(&b.1)));
    let ranks: Vec<u32> = by_index.iter().map(|r| r.2).collect();
    assert_eq!(ranks, (1..=16).collect::<Vec<u32>>());
    for row in &rows {
        let d = &staff["state"]["districts"][&row[col("district")]];
        assert_eq!(row[col("month")].to_string(), "2017-06");
        assert_eq!(row[col("as_of")].to_string(), "2017-07-01T00:00:00+08:00");
        for field in [
            "people",
            "scans",
            "assessed",
            "managed",
            "services",
            "guardians",
        ] {
            assert_eq!(row[col(field)].to_string(), d[field].to_string(), "{field}");
        }
        assert_eq!(
            row[col("blue")].to_string(),
            d["colours"]["blue"].to_string()
        );
    }
    // May 2017 had no events: every count is zero.
    let (status, _) = server.get_admin("/api/v1/export?month=2017-05").await;
    assert_eq!(status, 200);
    // The team level, as Parquet, read back with DuckDB.
    let r = server
        .client
        .get(format!(
            "{}/api/v1/export?month=2017-06&level=team&format=parquet",
            server.url
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let path = dir.path().join("teams.parquet");
    std::fs::write(&path, r.bytes().await.unwrap()).unwrap();
    let db = duckdb::Connection::open_in_memory().unwrap();
    let (teams, services): (i64, i64) = db
        .query_row(
            &format!(
                "SELECT count(*), sum(\"服务次数\")::BIGINT FROM '{}'",
                path.display()
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let staff_teams: usize = staff["state"]["districts"]
        .as_object()
        .unwrap()
        .values()
        .map(|d| d["teams"].as_object().unwrap().len())
        .sum();
    assert_eq!(teams as usize, staff_teams);
    assert_eq!(
        services,
        staff["state"]["totals"]["services"].as_i64().unwrap()
    );
    assert!(total > 0);
    server.stop().await;
}

/// The binary's log at debug level, with a login, a failed login, a link's
/// use and an ingest, holds no token, password or person id.
#[tokio::test]
async fn logs_never_hold_a_secret_or_a_person() {
    use std::io::{BufRead, BufReader, Read};
    let dir = temp_dir();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_weibing"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tick-ms",
            "100",
            "--data",
        ])
        .arg(dir.path())
        .env("WEIBING_INGEST_KEY", INGEST_KEY)
        .env("WEIBING_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("WEIBING_ADMIN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{url}/api/v1/credentials"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"kind": "link", "label": "x"}))
        .send()
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    for password in ["a-wrong-password", PASSWORD] {
        client
            .post(format!("{url}/api/v1/login"))
            .json(&json!({"name": "admin", "password": password}))
            .send()
            .await
            .unwrap();
    }
    let person = "p-secret-person-77";
    let event = json!({"id": "log-1", "ts": "2017-06-28T10:00:00+08:00", "kind": "scan",
                       "district": "110101", "person": person});
    client
        .post(format!("{url}/api/v1/events"))
        .bearer_auth(INGEST_KEY)
        .header("content-type", "application/x-ndjson")
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    client
        .get(format!("{url}/api/v1/snapshot?token={token}"))
        .send()
        .await
        .unwrap();
    let (socket, _) =
        tokio_tungstenite::connect_async(format!("{}/ws?token={token}", url.replace("http", "ws")))
            .await
            .unwrap();
    drop(socket);
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    child.wait().unwrap();
    assert!(log.contains("failed sign-in"), "the log is there: {log}");
    for secret in [
        token.as_str(),
        INGEST_KEY,
        ADMIN_TOKEN,
        PASSWORD,
        "a-wrong-password",
        person,
    ] {
        assert!(!log.contains(secret), "{secret} is in the log");
    }
}

#[tokio::test]
async fn signing_out_closes_the_sessions_sockets() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let (cookie, csrf) = login(&server).await;
    let mut request = format!("{}/ws", server.url.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut ws = WsClient { socket };
    let first = ws.next_json().await;
    assert_eq!(first["type"], "snapshot");
    assert!(
        first["state"]["alerts"].is_array(),
        "a session reads the staff state"
    );
    let r = server
        .client
        .post(format!("{}/api/v1/logout", server.url))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let ended = loop {
        let m = tokio::time::timeout(Duration::from_secs(2), ws.next_json())
            .await
            .expect("the socket is told at once");
        if m["type"] == "ended" {
            break m;
        }
    };
    assert_eq!(ended["reason"], "signed_out");
    let r = server
        .client
        .get(format!("{}/api/v1/session", server.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    server.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_caller_is_the_forwarded_address() {
    let dir = temp_dir();
    let mut config = weibing::config::Config::for_tests(dir.path());
    config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let server = TestServer::start_with(config).await;
    // Five failures from 203.0.113.7 (the proxy adds the last hop; a client's
    // own claim before it is not believed).
    for _ in 0..5 {
        assert_eq!(attempt_at(&server, "10.9.9.9, 203.0.113.7").await, 401);
    }
    assert_eq!(attempt_at(&server, "203.0.113.7").await, 429);
    // Another caller behind the same proxy is not limited.
    assert_eq!(attempt_at(&server, "203.0.113.8").await, 401);
    let (_, audit) = server.get_admin("/api/v1/audit?limit=1").await;
    assert_eq!(audit["audit"][0]["address"], "203.0.113.8");
    server.stop().await;

    // Without --trusted-proxy the header is ignored: the peer is the caller.
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    for _ in 0..5 {
        assert_eq!(attempt_at(&server, "203.0.113.1").await, 401);
    }
    assert_eq!(attempt_at(&server, "203.0.113.2").await, 429);
    server.stop().await;
}

async fn attempt_at(server: &TestServer, forwarded: &str) -> u16 {
    server
        .client
        .post(format!("{}/api/v1/login", server.url))
        .header("x-forwarded-for", forwarded)
        .json(&json!({"name": "admin", "password": "wrong-password"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A name typed at the sign-in lands in the audit trail: its CSV does not
/// let a spreadsheet run it as a formula.
#[tokio::test]
async fn the_audit_csv_escapes_what_a_spreadsheet_would_run() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let typed = "=HYPERLINK(\"http://evil.example\",\"x\")";
    let r = server
        .client
        .post(format!("{}/api/v1/login", server.url))
        .json(&json!({"name": typed, "password": "not-the-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let csv = server
        .client
        .get(format!("{}/api/v1/audit.csv", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let actors: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[1].to_string())
        .collect();
    assert!(
        actors.iter().any(|a| a == &format!("'{typed}")),
        "{actors:?}"
    );
    assert!(!actors.iter().any(|a| a.starts_with('=')), "{actors:?}");
    server.stop().await;
}

/// Reading what partners sent and downloading the figures are audited.
#[tokio::test]
async fn downloads_and_rejected_records_viewed_are_audited() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    assert_eq!(server.get_admin("/api/v1/rejected?limit=20").await.0, 200);
    let r = server
        .client
        .get(format!(
            "{}/api/v1/export?month=2017-06&level=team&format=csv",
            server.url
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, audit) = server.get_admin("/api/v1/audit").await;
    let rows: Vec<(String, String, String)> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] != "user_created")
        .map(|r| {
            (
                r["actor"].as_str().unwrap().to_string(),
                r["action"].as_str().unwrap().to_string(),
                r["detail"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let mut rows = rows;
    rows.sort();
    assert_eq!(
        rows,
        [
            (
                "admin-token".to_string(),
                "export".to_string(),
                "month 2017-06, level team, format csv".to_string()
            ),
            (
                "admin-token".to_string(),
                "rejected_viewed".to_string(),
                "limit 20".to_string()
            ),
        ]
    );
    server.stop().await;
}
