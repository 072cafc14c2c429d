//! A start resumes from the figures saved beside the database, and only when
//! the database vouches for them: the real binary, stopped gracefully,
//! killed hard, and given a database the saved figures do not describe.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::Value;

/// The figures of a staff snapshot, without what depends on the clock.
fn figures(snapshot: &Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                // The month closes: computed by a background task, in its time.
                for key in [
                    "pace", "paces", "trend", "eta", "as_of", "alerts", "history", "change",
                ] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let state = &snapshot["state"];
    let mut kept = serde_json::json!({
        "totals": state["totals"],
        "colours": state["colours"],
        "categories": state["categories"],
        "districts": state["districts"],
    });
    strip(&mut kept);
    kept
}

struct Node {
    child: Binary,
    url: String,
    client: reqwest::Client,
}

impl Node {
    fn start(dir: &Path, extra: &[&str]) -> Node {
        let (child, url) = spawn_binary(dir, extra);
        Node {
            child,
            url,
            client: reqwest::Client::new(),
        }
    }

    async fn metric(&self, name: &str) -> i64 {
        metric(&scrape(&self.client, &self.url).await, name) as i64
    }

    async fn post(&self, lines: &[Value]) -> u64 {
        let body: Vec<String> = lines.iter().map(Value::to_string).collect();
        let (status, answer) = answer(ndjson_post(&self.client, &self.url, body.join("\n"))).await;
        assert_eq!(status, 200, "{answer}");
        answer["accepted"].as_u64().unwrap()
    }

    /// The figures once the tick has folded what was stored: two snapshots,
    /// two ticks apart, agree.
    async fn settled(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = figures(&staff_snapshot(&self.client, &self.url).await);
        loop {
            tokio::time::sleep(Duration::from_millis(450)).await;
            let now = figures(&staff_snapshot(&self.client, &self.url).await);
            if now == last {
                return now;
            }
            assert!(Instant::now() < deadline, "the figures settle");
            last = now;
        }
    }

    async fn wait_metric(&self, name: &str, value: i64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.metric(name).await != value {
            assert!(Instant::now() < deadline, "{name} reaches {value}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stop(mut self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(self.child.wait().unwrap().success(), "a clean stop");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_start_resumes_from_the_saved_figures_after_a_stop_or_a_crash() {
    let dir = temp_dir();
    let lines = fixture_lines();
    let (first, second) = lines.split_at(lines.len() / 2);

    // Saves after every folded event (the first save waits for no interval).
    let node = Node::start(dir.path(), &["--save-every-events", "1"]);
    assert_eq!(node.metric("weibing_start_resumed").await, 0);
    assert_eq!(node.metric("weibing_figures_saved_events").await, 0);
    let a = node.post(first).await;
    node.wait_metric("weibing_figures_saved_events", a as i64)
        .await;
    // Stored after the save, then killed: the next start must fold these.
    let b = node.post(second).await;
    let all = node.settled().await;
    assert_eq!(
        all["totals"]["scans"],
        lines.iter().filter(|l| l["kind"] == "scan").count()
    );
    drop(node); // kill -9

    let node = Node::start(dir.path(), &[]);
    assert_eq!(node.metric("weibing_start_resumed").await, 1);
    assert_eq!(node.metric("weibing_start_replayed_events").await, b as i64);
    assert_eq!(node.settled().await, all);
    // A graceful stop saves what was folded since.
    node.stop();

    let node = Node::start(dir.path(), &[]);
    assert_eq!(node.metric("weibing_start_resumed").await, 1);
    assert_eq!(node.metric("weibing_start_replayed_events").await, 0);
    assert_eq!(
        node.metric("weibing_figures_saved_events").await,
        (a + b) as i64
    );
    assert_eq!(node.settled().await, all);
    node.stop();

    // Without the file, the full replay gives the same figures.
    std::fs::remove_file(dir.path().join("weibing.aggregate")).unwrap();
    let node = Node::start(dir.path(), &[]);
    assert_eq!(node.metric("weibing_start_resumed").await, 0);
    assert_eq!(
        node.metric("weibing_start_replayed_events").await,
        (a + b) as i64
    );
    assert_eq!(node.settled().await, all);
}

#[tokio::test(flavor = "multi_thread")]
async fn figures_saved_for_another_state_of_the_database_are_not_used() {
    let dir = temp_dir();
    let lines = fixture_lines();
    let (first, second) = lines.split_at(lines.len() / 3);

    let node = Node::start(dir.path(), &[]);
    let a = node.post(first).await;
    let early = node.settled().await;
    node.stop();
    let database = dir.path().join("weibing.duckdb");
    let copy = dir.path().join("early.duckdb.copy");
    assert!(!dir.path().join("weibing.duckdb.wal").exists());
    std::fs::copy(&database, &copy).unwrap();

    let node = Node::start(dir.path(), &[]);
    assert_eq!(node.metric("weibing_start_resumed").await, 1);
    node.post(second).await;
    let late = node.settled().await;
    assert_ne!(late, early);
    node.stop();

    let saved_late = dir.path().join("late.aggregate.copy");
    std::fs::copy(dir.path().join("weibing.aggregate"), &saved_late).unwrap();

    // The database as it was before the second half, beside figures saved
    // after it: all its events are replayed, nothing of the second half counts.
    std::fs::copy(&copy, &database).unwrap();
    let node = Node::start(dir.path(), &[]);
    assert_eq!(node.metric("weibing_start_resumed").await, 0);
    assert_eq!(node.metric("weibing_start_replayed_events").await, a as i64);
    assert_eq!(node.settled().await, early);
    // Other events, as many as the second half, stored in its place: the
    // database now holds as many events below the same seq as the late
    // figures cover, but it names the figures of its own stop.
    let other: Vec<Value> = second
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l["id"] = format!("other-{}", l["id"].as_str().unwrap()).into();
            l["person"] = format!("other-{}", l["person"].as_str().unwrap()).into();
            l
        })
        .collect();
    assert_eq!(node.post(&other).await, second.len() as u64);
    let elsewise = node.settled().await;
    assert_ne!(elsewise, late);
    node.stop();
    std::fs::copy(&saved_late, dir.path().join("weibing.aggregate")).unwrap();
    let node = Node::start(dir.path(), &[]);
    assert_eq!(node.metric("weibing_start_resumed").await, 0);
    assert_eq!(
        node.metric("weibing_start_replayed_events").await,
        (a as usize + second.len()) as i64
    );
    assert_eq!(node.settled().await, elsewise);
}
