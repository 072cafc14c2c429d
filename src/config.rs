//! The server's settings, passed down explicitly (no globals).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The longest an answered group waits for its load into DuckDB when fewer
/// than a row group of events follow it, by default (`--load-every-ms`; a
/// console read loads at once).
pub const LOAD_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct Config {
    /// Folder of the DuckDB file (`weibing.duckdb`).
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub tick: Duration,
    /// `beijing` or a folder of region files.
    pub region: String,
    /// A body's bytes on the wire...
    pub max_body_bytes: usize,
    /// ...and the text its records hold once decoded.
    pub max_decoded_bytes: u64,
    /// Rejected records of one request kept whole (the rest are counted).
    pub max_rejected_per_request: usize,
    /// Rejected records of one ingest key kept whole in a Beijing day...
    pub max_rejected_per_key_day: u64,
    /// ...and their bytes.
    pub max_rejected_bytes_per_key_day: u64,
    /// Team names a district may have.
    pub max_teams_per_district: usize,
    /// Refuse teams the registry does not list, in districts it lists teams for.
    pub refuse_unregistered_teams: bool,
    pub ingest_key: Option<String>,
    pub admin_token: Option<String>,
    /// Creates staff account `admin` at a start with no staff account.
    pub admin_password: Option<String>,
    /// Mark the session cookie `Secure` (when served over HTTPS by a proxy).
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Open websockets one client address may hold.
    pub max_sockets_per_address: usize,
    /// Open websockets one share link or wall token may hold.
    pub max_sockets_per_link: usize,
    /// Open websockets in all.
    pub max_sockets: usize,
    /// `resync`s one websocket is answered in a minute.
    pub resyncs_per_minute: usize,
    /// Open HTTP connections in all.
    pub max_connections: usize,
    /// A request's head must arrive within this (slowloris).
    pub header_timeout: Duration,
    /// The figures are saved beside the database once this many events were
    /// folded since the last save (and when the server stops), so that a
    /// start replays only the events after it.
    pub save_every_events: u64,
    /// ...and at most once in this long.
    pub save_min_interval: Duration,
    /// Answered events wait in the ingest log at most this long before
    /// DuckDB holds them (when fewer than a row group follow them).
    pub load_every: Duration,
    /// Moves the region's calendar so the program starts on this date.
    pub program_start: Option<chrono::NaiveDate>,
    /// How often the index at month closes is brought up to date (a close
    /// is computed again only when events before its end arrived since).
    pub history_every: Duration,
    /// Relay to edges over NATS (`--nats`).
    pub nats: Option<Nats>,
}

/// The primary's side of the NATS bus.
#[derive(Debug, Clone)]
pub struct Nats {
    pub url: String,
    /// Copies of the streams and bucket this server makes.
    pub replicas: usize,
    /// Where edges send writes (default: http://<listen>).
    pub public_url: Option<String>,
}

/// A read-only edge's settings (`weibing edge`).
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    pub nats: String,
    pub listen: SocketAddr,
    pub region: String,
    /// For `/metrics` only.
    pub admin_token: Option<String>,
    pub secure_cookies: bool,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub max_sockets_per_address: usize,
    pub max_sockets_per_link: usize,
    pub max_sockets: usize,
    pub max_connections: usize,
    pub resyncs_per_minute: usize,
    pub header_timeout: Duration,
}

impl Config {
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("weibing.duckdb")
    }

    /// Defaults for a server on `data_dir`, listening on a free loopback port.
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            listen: "127.0.0.1:0".parse().expect("a socket address"),
            tick: Duration::from_millis(100),
            region: "beijing".into(),
            max_body_bytes: 16 << 20,
            max_decoded_bytes: 64 << 20,
            max_rejected_per_request: 1_000,
            max_rejected_per_key_day: 100_000,
            max_rejected_bytes_per_key_day: 256 << 20,
            max_teams_per_district: 200,
            refuse_unregistered_teams: false,
            ingest_key: Some("test-ingest-key-0123456789abcdefghij".into()),
            admin_token: Some("test-admin-token-0123456789abcdefghij".into()),
            admin_password: Some("test-password-1".into()),
            secure_cookies: false,
            trusted_proxies: Vec::new(),
            max_sockets_per_address: 256,
            max_sockets_per_link: 2_000,
            max_sockets: 20_000,
            resyncs_per_minute: 10,
            max_connections: 25_000,
            header_timeout: Duration::from_secs(10),
            save_every_events: 1_000_000,
            save_min_interval: Duration::from_secs(60),
            load_every: LOAD_EVERY,
            program_start: None,
            history_every: Duration::from_millis(500),
            nats: None,
        }
    }
}
