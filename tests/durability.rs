//! An answered event survives `kill -9`: the real binary, killed hard.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use serde_json::json;

/// The real binary serving `dir` on a free port, and its address.
fn spawn_server(dir: &std::path::Path) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weibing"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tick-ms",
            "200",
            "--data",
        ])
        .arg(dir)
        .env("WEIBING_INGEST_KEY", INGEST_KEY)
        .env("WEIBING_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("weibing listening on ")
        .expect("the address line")
        .to_string();
    (child, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn answered_events_survive_sigkill() {
    let dir = temp_dir();
    let (mut child, url) = spawn_server(dir.path());

    let client = reqwest::Client::new();
    let mut answered = 0;
    for batch in 0..5 {
        let body: Vec<String> = (0..200)
            .map(|i| {
                scan(
                    &format!("k-{batch}-{i}"),
                    "110108",
                    &format!("p-kill-{batch:02}-{i:04}"),
                    "2017-06-28T10:00:00+08:00",
                )
                .to_string()
            })
            .collect();
        let r = client
            .post(format!("{url}/api/v1/events"))
            .bearer_auth(INGEST_KEY)
            .header("content-type", "application/x-ndjson")
            .body(body.join("\n"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let answer: serde_json::Value = r.json().await.unwrap();
        assert_eq!(answer["accepted"], 200);
        answered += 200;
    }
    // SIGKILL: no checkpoint, no clean close.
    child.kill().unwrap();
    child.wait().unwrap();

    let db = open_db(dir.path());
    assert_eq!(count(&db, "SELECT count(*) FROM events"), answered);
    assert_eq!(
        count(&db, "SELECT count(DISTINCT id) FROM events"),
        answered
    );
    drop(db);

    // And the restarted server counts them all.
    let server = TestServer::start(dir.path()).await;
    let s = server.snapshot().await;
    assert_eq!(s["state"]["totals"]["people"], json!(answered));
    assert_eq!(s["state"]["districts"]["110108"]["scans"], json!(answered));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulator_reaches_its_people_through_the_ingest_api() {
    let dir = temp_dir();
    let server = TestServer::start(dir.path()).await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_weibing"))
        .args([
            "simulate",
            "--url",
            &server.url,
            "--key",
            INGEST_KEY,
            "--duration",
            "3",
            "--people",
            "1500",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.starts_with("people 1500 · events sent "),
        "{printed}"
    );
    assert!(printed.contains("duplicates 0 · rejected 0"), "{printed}");
    let s = server
        .wait_for("1500 people", |s| s["totals"]["people"] == 1500)
        .await;
    let state = &s["state"];
    let colours: u64 = state["colours"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(colours, state["totals"]["assessed"].as_u64().unwrap());
    let by_district: u64 = state["districts"]
        .as_object()
        .unwrap()
        .values()
        .map(|d| d["people"].as_u64().unwrap())
        .sum();
    assert_eq!(
        by_district, 1500,
        "each simulated person scans in one district"
    );
    assert!(
        state["districts"]["110105"]["people"].as_u64().unwrap()
            > state["districts"]["110109"]["people"].as_u64().unwrap(),
        "Chaoyang, the most populous, has more people than Mentougou"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_closes_sockets_and_checkpoints() {
    let dir = temp_dir();
    let (mut child, url) = spawn_server(dir.path());
    let body: Vec<String> = (0..300)
        .map(|i| {
            scan(
                &format!("g-{i}"),
                "110105",
                &format!("p-term-{i:04}"),
                "2017-06-28T10:00:00+08:00",
            )
            .to_string()
        })
        .collect();
    let r = reqwest::Client::new()
        .post(format!("{url}/api/v1/events"))
        .bearer_auth(INGEST_KEY)
        .header("content-type", "application/x-ndjson")
        .body(body.join("\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ws_url = format!("{}/ws?token={ADMIN_TOKEN}", url.replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    let wal = dir.path().join("weibing.duckdb.wal");
    assert!(wal.exists(), "the commit went to the write-ahead log");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = loop {
        match futures_util::StreamExt::next(&mut socket).await {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(frame)))) => {
                break u16::from(frame.code);
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, 1001, "going away");
    drop(socket);
    let exit = child.wait().unwrap();
    assert!(exit.success(), "a clean exit: {exit:?}");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(
        wal_len, 0,
        "the WAL was checkpointed into the database file"
    );
    let db = open_db(dir.path());
    assert_eq!(count(&db, "SELECT count(*) FROM events"), 300);
}
