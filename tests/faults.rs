//! Faults the server must survive: a full disk, a growing write-ahead log,
//! a client that stops reading, and thousands of clients arriving at once.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use weibing::config::Config;

const TS: &str = "2017-06-28T10:00:00+08:00";

/// `n` scans of new people, ids `{prefix}-{i}`, spread over the districts.
fn scans(prefix: &str, n: usize) -> String {
    const DISTRICTS: [&str; 4] = ["110101", "110105", "110108", "110114"];
    (0..n)
        .map(|i| {
            scan(
                &format!("{prefix}-{i}"),
                DISTRICTS[i % DISTRICTS.len()],
                &format!("p-{prefix}-{i:06}"),
                TS,
            )
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_refuses_ingest_keeps_serving_and_loses_nothing() {
    let dir = temp_dir();
    let disk = SmallDisk::mount(&dir.path().join("small"), "32m");
    // The first 1000 stay in the ingest log and the open load until the
    // console's read below, whose load then fails on the full disk: the
    // store reopens and loads them once there is space.
    let mut config = Config::for_tests(&disk.0);
    config.load_every = Duration::from_secs(60);
    let server = TestServer::start_with(config).await;

    let (status, answer) = server
        .post("application/x-ndjson", scans("before", 1000))
        .await;
    assert_eq!((status, answer["accepted"].clone()), (200, json!(1000)));
    server
        .wait_for("the first 1000", |s| s["totals"]["scans"] == 1000)
        .await;
    let mut ws = server.ws().await;
    let first = ws.next_json().await;
    assert_eq!(first["state"]["totals"]["scans"], 1000);

    let ballast = disk.fill("ballast");
    assert!(ballast > 0);

    // A batch with a bad line: neither its good events nor the rejected line
    // may be stored while the disk is full.
    let batch = format!("{}\n{{\"id\":\"broken\"}}", scans("during", 2000));
    for attempt in 0..3 {
        let response = server
            .client
            .post(format!("{}/api/v1/events", server.url))
            .bearer_auth(INGEST_KEY)
            .header("content-type", "application/x-ndjson")
            .body(batch.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 503, "attempt {attempt}");
        assert_eq!(response.headers()["retry-after"], "5");
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["error"],
            "the store could not commit this request (the server's disk is full); nothing of it was stored, send it again later"
        );
    }

    // Reads and the websocket keep serving the last state.
    let snapshot = server.snapshot().await;
    assert_eq!(snapshot["state"]["totals"]["scans"], 1000);
    let mut heard = 0;
    while heard < 3 {
        let m = ws.next_json().await;
        assert_ne!(m["type"], "error", "{m}");
        if let Some(scans) = m["state"]["totals"]["scans"].as_u64() {
            assert_eq!(scans, 1000);
        }
        heard += 1;
    }
    let (status, _) = server.get_admin("/api/v1/ingest").await;
    assert_eq!(status, 200, "the console still reads");
    let metrics = server.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "weibing_ingest_refused_requests_total{status=\"503\"}"
        ),
        3.0
    );

    // Space again: the same batch goes in whole, once.
    std::fs::remove_file(disk.0.join("ballast")).unwrap();
    let (status, answer) = server.post("application/x-ndjson", batch.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (
            &answer["accepted"],
            &answer["duplicates"],
            &answer["rejected"]
        ),
        (&json!(2000), &json!(0), &json!(1))
    );
    // The console reads what was stored (the rejected table was empty at the
    // last checkpoint: the case where DuckDB's own view went stale).
    let (status, rejected) = server.get_admin("/api/v1/rejected").await;
    assert_eq!(status, 200);
    let rows = rejected["rejected"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rejected}");
    assert_eq!(rows[0]["raw"], "{\"id\":\"broken\"}");
    let (_, again) = server.post("application/x-ndjson", batch).await;
    assert_eq!(
        (&again["accepted"], &again["duplicates"]),
        (&json!(0), &json!(2000))
    );
    server
        .wait_for("all 3000", |s| s["totals"]["scans"] == 3000)
        .await;
    drop(ws);
    server.stop().await;

    let db = open_db(&disk.0);
    assert_eq!(count(&db, "SELECT count(*) FROM events"), 3000);
    assert_eq!(count(&db, "SELECT count(DISTINCT id) FROM events"), 3000);
    assert_eq!(
        count(&db, "SELECT count(*) FROM rejected"),
        2,
        "once per answered request"
    );
    drop(db);
    // The restarted server counts the same.
    let server = TestServer::start(&disk.0).await;
    assert_eq!(server.snapshot().await["state"]["totals"]["scans"], 3000);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_write_ahead_log_stays_bounded_under_ingest_and_readers() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Readers on the store's side connection, all the time.
    let reader = {
        let (client, url, stop) = (server.client.clone(), server.url.clone(), stop.clone());
        tokio::spawn(async move {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for path in [
                    "/api/v1/ingest",
                    "/api/v1/rejected",
                    "/api/v1/audit",
                    "/api/v1/export?month=2017-06&level=district&format=csv",
                ] {
                    let r = client
                        .get(format!("{url}{path}"))
                        .bearer_auth(ADMIN_TOKEN)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200, "{path}");
                    r.bytes().await.unwrap();
                    reads += 1;
                }
            }
            reads
        })
    };

    let bound = weibing::store::WAL_CHECKPOINT_BYTES + 8 * 1024 * 1024;
    let mut largest = 0.0f64;
    let mut shrank = 0;
    let mut last = 0.0;
    for batch in 0..100 {
        let (status, answer) = server
            .post("application/x-ndjson", scans(&format!("w{batch}"), 5000))
            .await;
        assert_eq!((status, &answer["accepted"]), (200, &json!(5000)));
        let wal = metric(&server.metrics().await, "weibing_store_wal_bytes");
        largest = largest.max(wal);
        if wal < last {
            shrank += 1;
        }
        last = wal;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.await.unwrap();
    println!(
        "500,000 events, {reads} reads beside them: largest WAL {:.1} MiB, checkpointed {shrank} times",
        largest / 1048576.0
    );
    assert!(reads > 0);
    assert!(shrank >= 2, "the WAL was folded in as it grew ({shrank})");
    assert!(
        largest < bound as f64,
        "WAL reached {largest} bytes, bound {bound}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_reading_is_dropped_and_delays_nobody() {
    let dir = temp_dir();
    let mut config = Config::for_tests(dir.path());
    config.tick = Duration::from_millis(200);
    // Every resync answered: the snapshots fill the socket this test is about.
    config.resyncs_per_minute = 100_000;
    let server = TestServer::start_with(config).await;
    server.post("application/x-ndjson", scans("s", 2000)).await;

    // The stalled client asks for snapshot after snapshot and reads none.
    let mut stalled = server.ws().await;
    let requests = r#"{"type":"resync"}"#;
    for _ in 0..20_000 {
        if stalled.socket.feed(Message::text(requests)).await.is_err() {
            break;
        }
    }
    let _ = stalled.socket.flush().await;

    // A reading client meanwhile sees every tick on time.
    let mut reader = server.ws().await;
    assert_eq!(reader.next_json().await["type"], "snapshot");
    let feeder = {
        let (client, url) = (server.client.clone(), server.url.clone());
        tokio::spawn(async move {
            for round in 0..60 {
                client
                    .post(format!("{url}/api/v1/events"))
                    .bearer_auth(INGEST_KEY)
                    .header("content-type", "application/x-ndjson")
                    .body(scans(&format!("f{round}"), 50))
                    .send()
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let started = Instant::now();
    let mut gaps = Vec::new();
    let mut previous = Instant::now();
    let mut dropped_after = None;
    while started.elapsed() < Duration::from_secs(15) {
        let m = reader.next_json().await;
        assert_ne!(m["type"], "error");
        gaps.push(previous.elapsed());
        previous = Instant::now();
        if dropped_after.is_none() {
            let metrics = server.metrics().await;
            if metric(&metrics, "weibing_websocket_dropped_slow_clients_total") == 1.0 {
                dropped_after = Some(started.elapsed());
            }
        }
    }
    feeder.abort();
    gaps.sort();
    let p99 = gaps[gaps.len() * 99 / 100];
    println!(
        "reader: {} messages, gap p50 {:?} p99 {:?}; stalled client dropped after {:?}",
        gaps.len(),
        gaps[gaps.len() / 2],
        p99,
        dropped_after
    );
    assert!(
        dropped_after.is_some(),
        "the stalled client was dropped within 15 s"
    );
    // Every tick (200 ms) reached the reader: none was held up by the other.
    assert!(gaps.len() >= 15 * 5 / 2, "{} messages in 15 s", gaps.len());
    assert!(p99 < Duration::from_millis(200 + 300), "p99 gap {p99:?}");
    let metrics = server.metrics().await;
    assert_eq!(metric(&metrics, "weibing_websocket_clients"), 1.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn five_thousand_clients_arriving_at_once_all_get_a_snapshot() {
    const CLIENTS: usize = 5000;
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    server
        .post("application/x-ndjson", scans("storm", 1234))
        .await;
    server
        .wait_for("1234 people", |s| s["totals"]["people"] == 1234)
        .await;
    server.stop().await;

    // A restart, then every wall and phone comes back at the same moment.
    let mut config = Config::for_tests(dir.path());
    config.max_sockets_per_address = CLIENTS + 10;
    let server = TestServer::start_with(config).await;
    let url = server.ws_url.clone();
    let started = Instant::now();
    let (hold, _) = tokio::sync::watch::channel(());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let url = url.clone();
            let mut hold = hold.subscribe();
            tokio::spawn(async move {
                let (mut socket, _) = tokio_tungstenite::connect_async(staff_ws(&url))
                    .await
                    .expect("the websocket opens");
                let first = loop {
                    match socket.next().await {
                        Some(Ok(Message::Text(text))) => {
                            break serde_json::from_str::<Value>(&text).unwrap();
                        }
                        Some(Ok(_)) => continue,
                        other => panic!("no snapshot: {other:?}"),
                    }
                };
                let served = started.elapsed();
                let _ = hold.changed().await;
                (
                    first["type"].clone(),
                    first["state"]["totals"]["people"].clone(),
                    served,
                )
            })
        })
        .collect();
    // Wait until every client holds its snapshot, then let them all go.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let metrics = server.metrics().await;
        if metric(&metrics, "weibing_websocket_clients") as usize == CLIENTS {
            break;
        }
        assert!(Instant::now() < deadline, "clients did not all connect");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _) = answer(server.client.get(format!("{}/healthz", server.url))).await;
    assert_eq!(status, 200, "the server stays up");
    drop(hold);
    let mut served = Vec::new();
    for client in clients {
        let (kind, people, at) = client.await.unwrap();
        assert_eq!((kind, people), (json!("snapshot"), json!(1234)));
        served.push(at);
    }
    served.sort();
    println!(
        "{CLIENTS} clients at once: snapshot served p50 {:?}, p99 {:?}, last {:?}",
        served[CLIENTS / 2],
        served[CLIENTS * 99 / 100],
        served[CLIENTS - 1]
    );
    server.stop().await;
}

/// The tick has its own thread: with every thread of tokio's blocking pool
/// taken (what a flood of password checks, exports or console reads does),
/// the state keeps its pace.
#[test]
fn a_saturated_blocking_pool_does_not_stall_the_tick() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = temp_dir();
        let server = TestServer::start(dir.path()).await;
        let as_of = |s: &Value| {
            chrono::DateTime::parse_from_rfc3339(s["as_of"].as_str().unwrap())
                .unwrap()
                .timestamp_millis()
        };
        // Every blocking thread busy for 3 s (the tick is every 100 ms).
        let busy: Vec<_> = (0..4)
            .map(|_| tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_secs(3))))
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Twenty looks at the state, 100 ms apart, while the pool is busy.
        let mut seen = Vec::new();
        for _ in 0..20 {
            seen.push(as_of(&server.snapshot().await));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let ticks: std::collections::BTreeSet<i64> = seen.iter().copied().collect();
        println!(
            "{} distinct tick times in 20 looks over 2 s with the blocking pool busy",
            ticks.len()
        );
        for handle in busy {
            handle.await.unwrap();
        }
        // A tick waiting for a blocking thread would show one time only.
        assert!(ticks.len() >= 5, "the tick stalled: {seen:?}");
        server.stop().await;
    });
}

/// A client that opens a connection and sends half a request head, then
/// nothing, is dropped after the header timeout; beyond the connection cap
/// a new connection is closed at once; both counted.
#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_are_dropped_and_connections_are_capped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = temp_dir();
    let mut config = Config::for_tests(dir.path());
    config.header_timeout = Duration::from_millis(500);
    config.max_connections = 3;
    let server = TestServer::start_with(config).await;
    let addr = server.url.trim_start_matches("http://").to_string();

    // Half a request line, then silence: closed by the server.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HT").await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 512];
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut buf))
        .await
        .expect("the server closes it")
        .unwrap_or(0);
    println!(
        "a half-sent request head closed after {:?}",
        started.elapsed()
    );
    // Closed: nothing more, or hyper's 408 before the close.
    let answer = String::from_utf8_lossy(&buf[..read]).to_string();
    assert!(read == 0 || answer.starts_with("HTTP/1.1 408"), "{answer}");

    // Three silent connections hold the cap; a fourth is closed at once.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fourth = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let _ = fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let read = tokio::time::timeout(Duration::from_secs(5), fourth.read(&mut buf))
        .await
        .expect("closed at once")
        .unwrap_or(0);
    assert_eq!(read, 0, "{}", String::from_utf8_lossy(&buf[..read]));
    // The held ones time out in turn; then requests are served again.
    drop(held);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let metrics = server.metrics().await;
    assert!(
        metric(&metrics, "weibing_http_connections_failed_total") >= 1.0,
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "weibing_http_connections_refused_total"),
        1.0
    );
    server.stop().await;
}
