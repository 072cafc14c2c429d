//! The test harness: the real server on 127.0.0.1:0 over a temporary DuckDB
//! file, a real HTTP client and a real websocket client.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use weibing::config::Config;
use weibing::server::{self, Running};

// The server refuses to start with an admin token or ingest key under 32 characters.
pub const INGEST_KEY: &str = "test-ingest-key-0123456789abcdefghij";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdefghij";

pub struct TestServer {
    pub url: String,
    /// The websocket's URL (no token: see [`staff_ws`]).
    pub ws_url: String,
    pub dir: PathBuf,
    running: Option<Running>,
    pub client: reqwest::Client,
}

impl TestServer {
    pub async fn start(dir: &Path) -> TestServer {
        TestServer::start_with(Config::for_tests(dir)).await
    }

    pub async fn start_with(config: Config) -> TestServer {
        let dir = config.data_dir.clone();
        let running = server::start(config).await.expect("the server starts");
        TestServer {
            url: format!("http://{}", running.addr),
            ws_url: format!("ws://{}/ws", running.addr),
            dir,
            running: Some(running),
            client: reqwest::Client::new(),
        }
    }

    /// The server's routes over its own state, to call in process
    /// (`tower::ServiceExt::oneshot`), without a socket.
    pub fn app(&self) -> axum::Router {
        weibing::http::app(self.running.as_ref().expect("running").state.clone())
    }

    pub fn epoch(&self) -> u64 {
        self.running.as_ref().expect("running").epoch
    }

    /// Graceful stop: returns once the database file is closed.
    pub async fn stop(mut self) {
        self.running
            .take()
            .expect("running")
            .stop()
            .await
            .expect("a clean stop");
    }

    pub async fn post(&self, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        self.post_with_key(Some(INGEST_KEY), content_type, body)
            .await
    }

    pub async fn post_with_key(
        &self,
        key: Option<&str>,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("{}/api/v1/events", self.url))
            .header("content-type", content_type)
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        answer(request).await
    }

    pub async fn ndjson(&self, lines: &[Value]) -> Value {
        let body: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let (status, answer) = self.post("application/x-ndjson", body.join("\n")).await;
        assert_eq!(status, 200, "ingest answered {answer}");
        answer
    }

    /// The staff's snapshot (admin token).
    pub async fn snapshot(&self) -> Value {
        self.snapshot_as(ADMIN_TOKEN).await
    }

    pub async fn snapshot_as(&self, token: &str) -> Value {
        self.client
            .get(format!("{}/api/v1/snapshot", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("snapshot answered")
            .json()
            .await
            .expect("snapshot is JSON")
    }

    /// Polls the snapshot until `ready` holds for its state.
    pub async fn wait_for(&self, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let snapshot = self.snapshot().await;
            if ready(&snapshot["state"]) {
                return snapshot;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; last state: {}",
                    snapshot["state"]["totals"]
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A websocket as staff (the admin token, in the Authorization header).
    pub async fn ws(&self) -> WsClient {
        let (socket, _) = tokio_tungstenite::connect_async(staff_ws(&self.ws_url))
            .await
            .expect("the websocket opens");
        WsClient { socket }
    }

    /// A websocket with a link's or a wall's token in `?token=`, as their pages open it.
    pub async fn ws_as(&self, token: &str) -> WsClient {
        let url = format!("{}/ws?token={token}", self.url.replace("http://", "ws://"));
        let (socket, _) = tokio_tungstenite::connect_async(&url)
            .await
            .expect("the websocket opens");
        WsClient { socket }
    }

    /// GET with the admin token; (status, JSON body or Null).
    pub async fn get_admin(&self, path: &str) -> (u16, Value) {
        let request = self.client.get(format!("{}{path}", self.url));
        answer(request.bearer_auth(ADMIN_TOKEN)).await
    }

    /// `/metrics` as a supervisor scrapes it (with the admin token).
    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), 200);
        response.text().await.expect("a body")
    }

    /// POST JSON with the admin token; (status, JSON body or Null).
    pub async fn post_admin(&self, path: &str, body: &Value) -> (u16, Value) {
        let request = self.client.post(format!("{}{path}", self.url));
        answer(request.bearer_auth(ADMIN_TOKEN).json(body)).await
    }
}

/// A websocket request to `ws_url` (`ws://…/ws`) with the admin token in
/// the Authorization header (`?token=` takes links and wall tokens only).
pub fn staff_ws(ws_url: &str) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = ws_url.into_client_request().expect("a websocket URL");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {ADMIN_TOKEN}").parse().expect("ASCII"),
    );
    request
}

/// Sends a request: (status, JSON body or Null).
pub async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the request is answered");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("a body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub struct WsClient {
    pub socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl WsClient {
    /// The next JSON text message (fails after 10 s).
    pub async fn next_json(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("a message within 10 s")
                .expect("the socket is open")
                .expect("a frame");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON text"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.expect("sent");
    }
}

/// A fresh temporary folder (kept alive by the returned guard).
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("weibing-test-")
        .tempdir()
        .expect("a temp dir")
}

pub fn scan(id: &str, district: &str, person: &str, ts: &str) -> Value {
    serde_json::json!({"id": id, "ts": ts, "kind": "scan", "district": district, "person": person, "channel": "test"})
}

/// Opens a stopped server's database directly, to check what was stored.
pub fn open_db(dir: &Path) -> duckdb::Connection {
    duckdb::Connection::open(dir.join("weibing.duckdb")).expect("the database opens")
}

pub fn count(conn: &duckdb::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect("a count")
}

/// The fixture of a small launch morning (synthetic people).
pub fn fixture_lines() -> Vec<Value> {
    include_str!("../../fixtures/events-launch-small.ndjson")
        .lines()
        .map(|l| serde_json::from_str(l).expect("fixture lines are JSON"))
        .collect()
}

/// A server process, killed when dropped (so a failing test leaves none).
pub struct Binary(pub std::process::Child);

impl std::ops::Deref for Binary {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Binary {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The real binary serving `dir` on a free port (tick 200 ms unless `extra`
/// sets it), and its address.
pub fn spawn_binary(dir: &Path, extra: &[&str]) -> (Binary, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_weibing"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(if extra.contains(&"--tick-ms") {
            &[][..]
        } else {
            &["--tick-ms", "200"][..]
        })
        .args(extra)
        .arg("--data")
        .arg(dir)
        .env("WEIBING_INGEST_KEY", INGEST_KEY)
        .env("WEIBING_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    let url = listening(&mut child, "weibing listening on ");
    (Binary(child), url)
}

/// The address a started binary prints first, after `prefix`.
pub fn listening(child: &mut std::process::Child, prefix: &str) -> String {
    use std::io::{BufRead, BufReader};
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().strip_prefix(prefix);
    url.unwrap_or_else(|| panic!("{prefix}…, not {line:?}"))
        .to_string()
}

/// An NDJSON post to the ingest API of the server at `url`, as the partner
/// key (for servers started with [`spawn_binary`]).
pub fn ndjson_post(
    client: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    client
        .post(format!("{url}/api/v1/events"))
        .bearer_auth(INGEST_KEY)
        .header("content-type", "application/x-ndjson")
        .body(body)
}

/// The staff snapshot from a server started with [`spawn_binary`].
pub async fn staff_snapshot(client: &reqwest::Client, url: &str) -> Value {
    let response = client
        .get(format!("{url}/api/v1/snapshot"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("answered");
    response.json().await.expect("a snapshot")
}

/// `/metrics` of a server started with [`spawn_binary`].
pub async fn scrape(client: &reqwest::Client, url: &str) -> String {
    let response = client
        .get(format!("{url}/metrics"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("answered");
    response.text().await.expect("a body")
}

/// A metric's value from Prometheus text: the first sample of that name,
/// with or without labels.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix(name)?;
            let value = rest.strip_prefix(' ').or_else(|| {
                rest.starts_with('{')
                    .then(|| rest.split_once("} ").map(|(_, v)| v))
                    .flatten()
            })?;
            value.trim().parse().ok()
        })
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

/// A tmpfs of `size` mounted on `at`, unmounted when dropped.
pub struct SmallDisk(pub PathBuf);

impl SmallDisk {
    pub fn mount(at: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(at).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "this test mounts a small tmpfs to fill it: run it as root (CI does)"
        );
        SmallDisk(at.to_path_buf())
    }

    /// Writes zeros into `name` until the disk refuses; returns the bytes.
    pub fn fill(&self, name: &str) -> u64 {
        use std::io::Write;
        let mut file = std::fs::File::create(self.0.join(name)).unwrap();
        let block = vec![0u8; 64 * 1024];
        let mut written = 0;
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(28), "ENOSPC, got {e}");
                    break;
                }
            }
        }
        let _ = file.sync_all();
        written
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}
