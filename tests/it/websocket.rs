//! The websocket: a snapshot, then deltas that rebuild every later state
//! exactly, heartbeats, resync, and clear answers to bad client frames.

use crate::common::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread")]
async fn deltas_applied_to_the_snapshot_give_the_next_snapshots() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let mut ws = server.ws().await;
    let first = ws.next_json().await;
    assert_eq!(first["type"], "snapshot");
    assert_eq!(first["epoch"], json!(server.epoch()));
    let mut doc = first["state"].clone();
    let mut seq = first["seq"].as_u64().unwrap();
    assert_eq!(doc["totals"]["people"], 0);

    let events = fixture_lines();
    let mut scans = 0;
    let mut deltas = 0;
    for chunk in events.chunks(50) {
        server.ndjson(chunk).await;
        scans += chunk.iter().filter(|e| e["kind"] == "scan").count();
        // The first snapshot that counts this chunk; its state is the state of its seq.
        let target = server
            .wait_for("the chunk", |s| s["totals"]["scans"] == scans)
            .await;
        let target_seq = target["seq"].as_u64().unwrap();
        while seq < target_seq {
            let message = ws.next_json().await;
            assert_eq!(message["epoch"], first["epoch"]);
            match message["type"].as_str().unwrap() {
                "delta" => {
                    assert_eq!(message["seq"].as_u64().unwrap(), seq + 1, "no gap");
                    weibing::publish::delta::apply(&mut doc, &message).expect("the delta applies");
                    seq += 1;
                    deltas += 1;
                }
                "heartbeat" => assert_eq!(message["seq"].as_u64().unwrap(), seq),
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(seq, target_seq);
        assert_eq!(
            doc, target["state"],
            "the patched copy equals the snapshot at seq {seq}"
        );
    }
    assert!(
        deltas >= events.len() / 50,
        "at least one delta per chunk, got {deltas}"
    );

    // Nothing changes now: heartbeats repeat the seq.
    let heartbeat = loop {
        let m = ws.next_json().await;
        if m["type"] == "heartbeat" {
            break m;
        }
        assert_eq!(m["type"], "delta");
        weibing::publish::delta::apply(&mut doc, &m).unwrap();
        seq = m["seq"].as_u64().unwrap();
    };
    assert_eq!(heartbeat["seq"].as_u64().unwrap(), seq);
    assert_eq!(doc["totals"]["scans"], scans);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_can_resync_and_bad_frames_get_an_answer() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let mut ws = server.ws().await;
    assert_eq!(ws.next_json().await["type"], "snapshot");

    ws.send_text(r#"{"type":"resync"}"#).await;
    let mut got_snapshot = false;
    for _ in 0..50 {
        let m = ws.next_json().await;
        if m["type"] == "snapshot" {
            got_snapshot = true;
            break;
        }
    }
    assert!(got_snapshot, "a resync is answered with a snapshot");

    ws.send_text("hello").await;
    let answer = loop {
        let m = ws.next_json().await;
        if m["type"] == "error" {
            break m;
        }
    };
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("not a client message")
    );

    futures_util::SinkExt::send(&mut ws.socket, Message::binary(vec![1u8, 2, 3]))
        .await
        .unwrap();
    let answer = loop {
        let m = ws.next_json().await;
        if m["type"] == "error" {
            break m;
        }
    };
    assert_eq!(
        answer["error"],
        "binary frames are not understood; send JSON text"
    );

    // A frame over the limit closes that socket, not the server.
    ws.send_text(&"x".repeat(64 * 1024)).await;
    let mut closed = false;
    for _ in 0..100 {
        match tokio::time::timeout(
            std::time::Duration::from_secs(5),
            futures_util::StreamExt::next(&mut ws.socket),
        )
        .await
        {
            Ok(Some(Ok(Message::Text(_)))) => continue,
            _ => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed);
    let snapshot = server.snapshot().await;
    assert_eq!(snapshot["type"], "snapshot");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graceful_stop_says_going_away() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let mut ws = server.ws().await;
    assert_eq!(ws.next_json().await["type"], "snapshot");
    let stopping = tokio::spawn(server.stop());
    let code = loop {
        match futures_util::StreamExt::next(&mut ws.socket).await {
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, 1001);
    stopping.await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wall_launch_moment_is_in_the_state_and_survives_a_restart() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let post = |token: Option<&str>, body: Value| {
        let mut r = server
            .client
            .post(format!("{}/api/v1/wall", server.url))
            .json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(
        post(None, json!({"phase": "before"}))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        post(Some(INGEST_KEY), json!({"phase": "before"}))
            .await
            .unwrap()
            .status(),
        401
    );
    let r = post(
        Some(ADMIN_TOKEN),
        json!({"phase": "before", "countdown_to": "2017-06-28T02:00:00Z"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let s = server
        .wait_for("before launch", |s| s["wall"]["phase"] == "before")
        .await;
    assert_eq!(
        s["state"]["wall"],
        json!({"phase": "before", "title": "首都中医治未病 · 实时指挥大屏", "countdown_to": "2017-06-28T10:00:00+08:00", "launched_at": null})
    );
    server.stop().await;
    let server = TestServer::start(dir.path()).await;
    assert_eq!(server.snapshot().await["state"]["wall"]["phase"], "before");
    let r = server
        .client
        .post(format!("{}/api/v1/wall", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"phase": "live"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s = server
        .wait_for("launched", |s| s["wall"]["phase"] == "live")
        .await;
    assert!(
        s["state"]["wall"]["launched_at"]
            .as_str()
            .unwrap()
            .ends_with("+08:00")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wall_token_may_only_launch_and_changes_of_the_wall_are_bounded() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let (status, made) = server
        .post_admin(
            "/api/v1/credentials",
            &json!({"kind": "wall", "label": "大厅"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let wall_token = made["token"].as_str().unwrap().to_string();
    let post = |token: &str, body: Value| {
        let request = server
            .client
            .post(format!("{}/api/v1/wall", server.url))
            .bearer_auth(token)
            .json(&body);
        answer(request)
    };
    // Staff set the title and put the cover up.
    let (status, _) = post(ADMIN_TOKEN, json!({"phase": "before", "title": "启动仪式"})).await;
    assert_eq!(status, 200);
    // The wall token can neither retitle nor cover the walls.
    let refused = "a wall token may only launch the wall ({\"phase\":\"live\"}); the title, the countdown and the cover are set by staff in the console";
    for body in [
        json!({"phase": "live", "title": "被改的标题"}),
        json!({"phase": "before"}),
        json!({"phase": "live", "countdown_to": "2017-06-28T10:00:00+08:00"}),
    ] {
        let (status, answer) = post(&wall_token, body).await;
        assert_eq!((status, answer["error"].as_str().unwrap()), (403, refused));
    }
    // Its launch keeps the title staff set.
    let (status, wall) = post(&wall_token, json!({"phase": "live"})).await;
    assert_eq!(status, 200, "{wall}");
    assert_eq!(
        (wall["phase"].as_str(), wall["title"].as_str()),
        (Some("live"), Some("启动仪式"))
    );
    // Ten changes a minute per credential (the launch above counted, the
    // refusals not): the eleventh is refused with Retry-After; staff's
    // changes are their own.
    for _ in 1..10 {
        assert_eq!(post(&wall_token, json!({"phase": "live"})).await.0, 200);
    }
    let response = server
        .client
        .post(format!("{}/api/v1/wall", server.url))
        .bearer_auth(&wall_token)
        .json(&json!({"phase": "live"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(post(ADMIN_TOKEN, json!({"phase": "live"})).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn one_address_holds_a_bounded_number_of_sockets() {
    let dir = temp_dir();
    let mut config = weibing::config::Config::for_tests(dir.path());
    config.max_sockets_per_address = 3;
    let server = TestServer::start_with(config).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut ws = server.ws().await;
        assert_eq!(ws.next_json().await["type"], "snapshot");
        open.push(ws);
    }
    let url = server.ws_url.clone();
    match tokio_tungstenite::connect_async(staff_ws(&url)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429);
        }
        other => panic!("the fourth socket is refused, got {:?}", other.map(|_| ())),
    }
    // The open ones still receive; closing one frees its slot.
    let mut first = open.remove(0);
    first.socket.close(None).await.unwrap();
    drop(first);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match tokio_tungstenite::connect_async(staff_ws(&url)).await {
            Ok(_) => break,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the freed slot was not given back: {e}"),
        }
    }
    let m = open[0].next_json().await;
    assert!(m["type"] == "heartbeat" || m["type"] == "delta", "{m}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_asks_for_json_patch_rebuilds_every_state_with_a_stock_library() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let (status, link) = server
        .post_admin(
            "/api/v1/credentials",
            &json!({"kind": "link", "label": "全市"}),
        )
        .await;
    assert_eq!(status, 201, "{link}");
    let token = link["token"].as_str().unwrap();
    let base = server.url.replace("http://", "ws://");

    // An unknown format is refused before the upgrade, naming the choices.
    let refused =
        tokio_tungstenite::connect_async(format!("{base}/ws?token={token}&delta=diff")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 400);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["error"], "delta: leaves or json-patch, not \"diff\"");
        }
        other => panic!("expected a 400, got {other:?}"),
    }

    let (socket, _) =
        tokio_tungstenite::connect_async(format!("{base}/ws?token={token}&delta=json-patch"))
            .await
            .expect("the websocket opens");
    let mut ws = WsClient { socket };
    let first = ws.next_json().await;
    assert_eq!(first["type"], "snapshot");
    let mut doc = first["state"].clone();
    let mut seq = first["seq"].as_u64().unwrap();
    let events = fixture_lines();
    let mut scans = 0;
    let mut patches = 0;
    for chunk in events.chunks(100) {
        server.ndjson(chunk).await;
        scans += chunk.iter().filter(|e| e["kind"] == "scan").count();
        server
            .wait_for("the chunk", |s| s["totals"]["scans"] == scans)
            .await;
        // The city's hub counts its own states: its snapshot after the chunk.
        let city = server.snapshot_as(token).await;
        let target_seq = city["seq"].as_u64().unwrap();
        while seq < target_seq {
            let message = ws.next_json().await;
            match message["type"].as_str().unwrap() {
                "patch" => {
                    assert_eq!(message["seq"].as_u64().unwrap(), seq + 1, "no gap");
                    let patch: json_patch::Patch =
                        serde_json::from_value(message["patch"].clone()).expect("RFC 6902");
                    json_patch::patch(&mut doc, &patch).expect("the patch applies");
                    seq += 1;
                    patches += 1;
                }
                "snapshot" => {
                    doc = message["state"].clone();
                    seq = message["seq"].as_u64().unwrap();
                }
                "heartbeat" => assert_eq!(message["seq"].as_u64().unwrap(), seq),
                other => panic!("unexpected {other}: {message}"),
            }
        }
        assert_eq!(seq, target_seq);
        assert_eq!(doc, city["state"], "the patched copy at seq {seq}");
    }
    assert!(patches >= 1, "patches were sent ({patches})");
    server.stop().await;
}

/// Status and error of a refused websocket handshake.
async fn refused(
    request: impl tokio_tungstenite::tungstenite::client::IntoClientRequest + Unpin,
) -> (u16, String) {
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or(b"{}"))
                .unwrap_or(Value::Null);
            (
                response.status().as_u16(),
                body["error"].as_str().unwrap_or("").to_string(),
            )
        }
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_and_the_server_hold_bounded_numbers_of_sockets() {
    let dir = temp_dir();
    let mut config = weibing::config::Config::for_tests(dir.path());
    config.max_sockets_per_link = 2;
    config.max_sockets = 4;
    let server = TestServer::start_with(config).await;
    let mut links = Vec::new();
    for label in ["一", "二"] {
        let (status, link) = server
            .post_admin(
                "/api/v1/credentials",
                &json!({"kind": "link", "label": label}),
            )
            .await;
        assert_eq!(status, 201);
        links.push(link["token"].as_str().unwrap().to_string());
    }
    let base = server.url.replace("http://", "ws://");
    let url = |token: &str| format!("{base}/ws?token={token}");
    let mut open = Vec::new();
    for token in [&links[0], &links[0]] {
        let (socket, _) = tokio_tungstenite::connect_async(url(token)).await.unwrap();
        open.push(socket);
    }
    assert_eq!(
        refused(url(&links[0])).await,
        (
            429,
            "too many open websockets with this link or wall token; ask for a link of your own"
                .into()
        )
    );
    for token in [&links[1], &links[1]] {
        let (socket, _) = tokio_tungstenite::connect_async(url(token)).await.unwrap();
        open.push(socket);
    }
    assert_eq!(
        refused(staff_ws(&server.ws_url)).await.0,
        503,
        "the fifth socket in all"
    );
    let metrics = server.metrics().await;
    assert_eq!(
        metric(&metrics, "weibing_websocket_refused_too_many_total"),
        2.0,
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn resync_is_answered_ten_times_a_minute() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let mut ws = server.ws().await;
    assert_eq!(ws.next_json().await["type"], "snapshot");
    for _ in 0..11 {
        ws.send_text(r#"{"type":"resync"}"#).await;
    }
    let (mut snapshots, mut refusals) = (0, Vec::new());
    while snapshots + refusals.len() < 11 {
        let message = ws.next_json().await;
        match message["type"].as_str().unwrap() {
            "snapshot" => snapshots += 1,
            "error" => refusals.push(message["error"].as_str().unwrap().to_string()),
            _ => {}
        }
    }
    assert_eq!(snapshots, 10);
    assert_eq!(
        refusals,
        ["too many resyncs: at most 10 a minute; the deltas keep the copy current"]
    );
    server.stop().await;
}
