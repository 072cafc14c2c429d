//! An answered event survives `kill -9`: the real binary, killed hard.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use rand::{Rng, SeedableRng};
use serde_json::json;

const TS: &str = "2017-06-28T10:00:00+08:00";

/// One ingest request of the crash test: its event ids, and whether the
/// server answered 200.
struct Sent {
    ids: Vec<String>,
    answered: bool,
}

/// Sends batches (scans and assessments of new people, plus a few ids sent
/// before) until the server stops answering; records every request.
async fn send_until_refused(url: String, first: usize, sent: Arc<Mutex<Vec<Sent>>>) {
    let client = reqwest::Client::new();
    let mut next = first;
    loop {
        let mut ids = Vec::new();
        let mut lines = Vec::new();
        for _ in 0..50 {
            let person = format!("p-crash-{next:07}");
            let district = ["110101", "110105", "110108", "110115"][next % 4];
            lines.push(scan(&format!("s-{next}"), district, &person, TS));
            let colour = ["green", "yellow", "orange", "pink", "blue"][next % 5];
            lines.push(
                json!({"id": format!("a-{next}"), "ts": TS, "kind": "assess",
                "district": district, "person": person, "colour": colour}),
            );
            ids.push(format!("s-{next}"));
            ids.push(format!("a-{next}"));
            next += 1;
        }
        // Repeats of ids that may have been stored before: never twice.
        for back in [1, 7, 60] {
            if next > first + back {
                lines.push(scan(
                    &format!("s-{}", next - back),
                    "110101",
                    "p-repeat",
                    TS,
                ));
            }
        }
        let body = lines
            .iter()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        let index = {
            let mut sent = sent.lock().unwrap();
            sent.push(Sent {
                ids,
                answered: false,
            });
            sent.len() - 1
        };
        let response = ndjson_post(&client, &url, body).send().await;
        let Ok(response) = response else { return };
        if response.status() != 200 {
            return;
        }
        let Ok(answer) = response.json::<serde_json::Value>().await else {
            return;
        };
        assert_eq!(answer["rejected"], 0, "{answer}");
        sent.lock().unwrap()[index].answered = true;
    }
}

/// The headline as the staff snapshot has it.
async fn people(url: &str) -> i64 {
    let s = staff_snapshot(&reqwest::Client::new(), url).await;
    s["state"]["totals"]["people"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn answered_events_survive_repeated_sigkill() {
    // WEIBING_KILLS=200 for a longer run; WEIBING_KILL_SEED repeats one.
    let kills: usize = std::env::var("WEIBING_KILLS").map_or(20, |v| v.parse().unwrap());
    let seed: u64 =
        std::env::var("WEIBING_KILL_SEED").map_or_else(|_| rand::random(), |v| v.parse().unwrap());
    println!("crash test: {kills} kills, seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = temp_dir();
    let sent = Arc::new(Mutex::new(Vec::<Sent>::new()));
    let mut highest_seen = 0;
    let mut recount = 0;
    for round in 0..kills {
        let (mut child, url) = spawn_binary(dir.path(), &[]);
        let after_start = people(&url).await;
        assert_eq!(
            after_start, recount,
            "round {round}: the figures equal a recount"
        );
        assert!(
            after_start >= highest_seen,
            "round {round}: the headline went back"
        );
        let first = sent
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.ids.len() / 2)
            .sum::<usize>();
        let sender = tokio::spawn(send_until_refused(url.clone(), first, sent.clone()));
        // Watch the headline until a random moment, then kill.
        let until = Instant::now() + Duration::from_millis(rng.random_range(150..900));
        while Instant::now() < until {
            let now = people(&url).await;
            assert!(now >= highest_seen, "round {round}: the headline went back");
            highest_seen = now;
            tokio::time::sleep(Duration::from_millis(rng.random_range(10..80))).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        sender.await.unwrap();

        // What the next start holds: the database and the ingest log.
        weibing::store::load_ingest_log(&dir.path().join("weibing.duckdb")).unwrap();
        let db = open_db(dir.path());
        let stored: std::collections::HashMap<String, i64> = {
            let mut stmt = db
                .prepare("SELECT id, count(*) FROM events GROUP BY id")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let sent = sent.lock().unwrap();
        for (i, request) in sent.iter().enumerate() {
            let held = request
                .ids
                .iter()
                .filter(|id| stored.contains_key(*id))
                .count();
            if request.answered {
                assert_eq!(
                    held,
                    request.ids.len(),
                    "round {round}: answered request {i} lost events"
                );
            } else {
                assert!(
                    held == 0 || held == request.ids.len(),
                    "round {round}: unanswered request {i} half-stored ({held} of {})",
                    request.ids.len()
                );
            }
        }
        assert!(
            stored.values().all(|&n| n == 1),
            "round {round}: an id stored twice"
        );
        recount = count(
            &db,
            "SELECT count(DISTINCT person) FROM events WHERE kind = 'scan'",
        );
        assert!(
            recount >= highest_seen,
            "round {round}: the store holds fewer people than shown"
        );
    }
    let sent = sent.lock().unwrap();
    let answered = sent.iter().filter(|s| s.answered).count();
    println!(
        "{} requests, {answered} answered, {} people stored after {kills} kills",
        sent.len(),
        recount
    );
    assert!(answered > kills, "the sender got through between kills");
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
    let (mut child, url) = spawn_binary(dir.path(), &[]);
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
    let r = ndjson_post(&reqwest::Client::new(), &url, body.join("\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ws_url = format!("{}/ws", url.replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::connect_async(staff_ws(&ws_url))
        .await
        .unwrap();
    let wal = dir.path().join("weibing.duckdb.wal");
    assert!(wal.exists(), "the commit went to the write-ahead log");

    // A large request in flight when the signal comes is finished and answered.
    let big: Vec<String> = (0..60_000)
        .map(|i| {
            scan(
                &format!("big-{i}"),
                "110108",
                &format!("p-big-{i:06}"),
                "2017-06-28T10:00:00+08:00",
            )
            .to_string()
        })
        .collect();
    let in_flight = tokio::spawn(ndjson_post(&reqwest::Client::new(), &url, big.join("\n")).send());
    tokio::time::sleep(Duration::from_millis(150)).await;

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
    let answered = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(answered.status(), 200);
    let answer: serde_json::Value = answered.json().await.unwrap();
    assert_eq!(answer["accepted"], 60_000);
    let exit = child.wait().unwrap();
    assert!(exit.success(), "a clean exit: {exit:?}");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(
        wal_len, 0,
        "the WAL was checkpointed into the database file"
    );
    let db = open_db(dir.path());
    assert_eq!(count(&db, "SELECT count(*) FROM events"), 60_300);
    drop(db);

    // The next start replays the events and serves them at once.
    let started = Instant::now();
    let (mut child, url) = spawn_binary(dir.path(), &[]);
    let served = people(&url).await;
    println!("restart to first snapshot: {:?}", started.elapsed());
    assert_eq!(served, 60_300);
    child.kill().unwrap();
    child.wait().unwrap();
}
