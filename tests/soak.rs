//! The long run: steady ingest with many clients connected. Short by
//! default (CI); the hour before a ceremony is
//! `WEIBING_SOAK_SECONDS=3600 cargo test --release --test soak -- --nocapture`.
//! Also `WEIBING_SOAK_RATE` (events/s, 2000) and `WEIBING_SOAK_CLIENTS` (1000).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Persons the events cycle over: all met within the first seconds, so the
/// live state stops growing and what memory does after is the test's subject.
const PEOPLE: u64 = 5_000;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| v.parse().expect("a number"))
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// Realistic events of a launch morning: each person scans, most are
/// assessed, some enrol with a team and are served, some train, some report
/// an outcome. `people` bounds the persons, so the state stops growing.
fn events(first: u64, n: u64, people: u64) -> String {
    const DISTRICTS: [&str; 16] = [
        "110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111", "110112",
        "110113", "110114", "110115", "110116", "110117", "110118", "110119",
    ];
    const COLOURS: [&str; 5] = ["green", "yellow", "orange", "pink", "blue"];
    let mut lines = Vec::with_capacity(n as usize);
    for i in first..first + n {
        let p = i % people;
        let district = DISTRICTS[(p % 16) as usize];
        let (person, id, ts) = (
            format!("p-soak-{p:07}"),
            format!("soak-{i}"),
            "2017-06-28T10:00:00+08:00",
        );
        let line = match i % 10 {
            0..=3 => {
                json!({"id": id, "ts": ts, "kind": "scan", "district": district, "person": person, "channel": "hall"})
            }
            4..=6 => {
                json!({"id": id, "ts": ts, "kind": "assess", "district": district, "person": person, "colour": COLOURS[(i % 5) as usize]})
            }
            7 => {
                json!({"id": id, "ts": ts, "kind": "enroll", "district": district, "person": person, "team": format!("{district}-team-{:02}", p % 7)})
            }
            8 => {
                json!({"id": id, "ts": ts, "kind": "service", "district": district, "person": person, "team": format!("{district}-team-{:02}", p % 7), "category": "health_management"})
            }
            _ => {
                json!({"id": id, "ts": ts, "kind": "outcome", "district": district, "person": person, "rate": "compliance", "value": i % 3 != 0})
            }
        };
        lines.push(line.to_string());
    }
    lines.join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn steady_ingest_with_many_clients_keeps_memory_and_the_log_flat() {
    let seconds = setting("WEIBING_SOAK_SECONDS", 30);
    let rate = setting("WEIBING_SOAK_RATE", 2000);
    let clients = setting("WEIBING_SOAK_CLIENTS", 1000);
    let dir = temp_dir();
    let (mut child, url) = spawn_binary(
        dir.path(),
        &[
            "--tick-ms",
            "1000",
            "--max-sockets-per-address",
            &(clients + 10).to_string(),
        ],
    );
    let pid = child.id();
    let ws_url = format!("{}/ws", url.replace("http://", "ws://"));

    // Clients: every one counts its messages and fails on an error or an
    // end; a few apply every delta and must end equal to the server's state.
    let problems = Arc::new(AtomicU64::new(0));
    let messages = Arc::new(AtomicU64::new(0));
    let (stop, _) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (ws_url, problems, messages) = (ws_url.clone(), problems.clone(), messages.clone());
        let mut stop = stop.subscribe();
        tasks.push(tokio::spawn(async move {
            let (mut socket, _) = tokio_tungstenite::connect_async(staff_ws(&ws_url)).await.expect("opens");
            let mut doc: Option<(u64, Value)> = None;
            let applies = c % 100 == 0;
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    m = socket.next() => {
                        let Some(Ok(Message::Text(text))) = m else {
                            if !matches!(m, Some(Ok(Message::Ping(_) | Message::Pong(_)))) {
                                problems.fetch_add(1, Ordering::Relaxed);
                                return None;
                            }
                            continue;
                        };
                        messages.fetch_add(1, Ordering::Relaxed);
                        let m: Value = serde_json::from_str(&text).unwrap();
                        match m["type"].as_str() {
                            Some("snapshot") => doc = Some((m["seq"].as_u64().unwrap(), m["state"].clone())),
                            Some("delta") if applies => {
                                let (seq, state) = doc.as_mut().expect("a snapshot first");
                                assert_eq!(m["seq"].as_u64().unwrap(), *seq + 1, "no delta missed");
                                weibing::publish::delta::apply(state, &m).unwrap();
                                *seq += 1;
                            }
                            Some("delta" | "heartbeat") => {}
                            _ => {
                                problems.fetch_add(1, Ordering::Relaxed);
                                return None;
                            }
                        }
                    }
                }
            }
            applies.then_some(doc).flatten()
        }));
    }

    // The sender starts once every client is in.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = scrape(&client, &url).await;
        if metric(&text, "weibing_websocket_clients") as u64 == clients {
            break;
        }
        assert!(Instant::now() < deadline, "the clients did not all connect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // `rate` events a second, in ten requests a second.
    let started = Instant::now();
    let per_request = (rate / 10).max(1);
    let mut sent = 0u64;
    let mut samples: Vec<(u64, u64, f64, f64, u64, f64)> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let sample_every = (seconds / 12).max(2);
    while started.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        let r = client
            .post(format!("{url}/api/v1/events"))
            .bearer_auth(INGEST_KEY)
            .header("content-type", "application/x-ndjson")
            .body(events(sent, per_request, PEOPLE))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let answer: Value = r.json().await.unwrap();
        assert_eq!(
            (&answer["accepted"], &answer["rejected"]),
            (&json!(per_request), &json!(0))
        );
        sent += per_request;
        let elapsed = started.elapsed().as_secs();
        if samples.last().is_none_or(|s| elapsed >= s.0 + sample_every) {
            let text = scrape(&client, &url).await;
            samples.push((
                elapsed,
                rss(pid),
                metric(&text, "weibing_store_wal_bytes"),
                metric(&text, "weibing_websocket_clients"),
                sent,
                metric(&text, "weibing_store_memory_bytes"),
            ));
        }
    }
    // Let the last tick reach everyone, then compare with the server's state.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let snapshot = staff_snapshot(&client, &url).await;
    stop.send(true).unwrap();
    let mut compared = 0;
    for task in tasks {
        if let Some((seq, state)) = task.await.unwrap() {
            assert_eq!(seq, snapshot["seq"].as_u64().unwrap());
            assert_eq!(
                state, snapshot["state"],
                "a client's state equals the server's"
            );
            compared += 1;
        }
    }
    println!(
        "soak: {seconds} s, {rate} events/s, {clients} clients, {sent} events sent, {} messages received",
        messages.load(Ordering::Relaxed)
    );
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>8} {:>10}",
        "second", "RSS MiB", "DuckDB MiB", "WAL MiB", "clients", "events"
    );
    for (at, rss, wal, n, events, duck) in &samples {
        println!(
            "{at:>8} {:>10.1} {:>10.1} {:>10.1} {n:>8} {events:>10}",
            *rss as f64 / 1048576.0,
            duck / 1048576.0,
            wal / 1048576.0
        );
    }
    assert_eq!(
        problems.load(Ordering::Relaxed),
        0,
        "no client saw an error or lost its socket"
    );
    assert_eq!(compared as u64, clients.div_ceil(100));
    assert!(
        samples.iter().all(|s| s.3 == clients as f64),
        "every client stayed connected"
    );
    let wal_bound = (weibing::store::WAL_CHECKPOINT_BYTES + 8 * 1024 * 1024) as f64;
    assert!(
        samples.iter().all(|s| s.2 < wal_bound),
        "the WAL stayed bounded"
    );
    // Flat memory. Past the first third of a long run (allocator and
    // DuckDB's caches warm; 600 s measured 27 bytes per event), what grows is
    // the store's share per new event, not anything per tick, message or
    // client. A short run is still warming up: it is held to a ceiling
    // (measured 276-288 MiB with 1000 clients over 30 s).
    let (third, last) = (samples[samples.len() / 3], *samples.last().unwrap());
    let per_event = (last.1 as f64 - third.1 as f64) / (last.4 - third.4) as f64;
    println!("RSS after the first third: {per_event:.0} bytes per new stored event");
    if seconds >= 300 {
        assert!(per_event < 128.0, "RSS grew {per_event:.0} bytes per event");
    }
    let peak = samples.iter().map(|s| s.1).max().unwrap();
    assert!(peak < 400 * 1024 * 1024, "RSS reached {peak} bytes");
    let scans = (0..sent).filter(|i| i % 10 <= 3).count();
    assert_eq!(snapshot["state"]["totals"]["scans"], json!(scans));
    child.kill().unwrap();
    child.wait().unwrap();
}
