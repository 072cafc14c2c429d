//! Telemetry for a supervisor: Prometheus metrics (`GET /metrics`) and the
//! facts behind readiness (`GET /readyz`). Cross-cutting: every stage records
//! into the one [`Metrics`], which only the HTTP layer renders.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KeyLabel {
    /// The ingest key's name (never the key itself).
    pub key: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlertLabel {
    pub kind: String,
}

/// Recent ingest activity, for the console and the alerts.
#[derive(Debug, Default)]
pub struct Activity {
    /// Beijing micros of each key's last request.
    pub last_request: HashMap<String, i64>,
    /// (second, accepted, rejected), the last minute.
    seconds: VecDeque<(i64, u64, u64)>,
}

impl Activity {
    /// (accepted, rejected) per second over the `span` seconds before `now`.
    pub fn per_second(&self, now: i64, span: i64) -> (f64, f64) {
        let from = now / 1_000_000 - span;
        let (a, r) = self
            .seconds
            .iter()
            .filter(|(s, _, _)| *s >= from)
            .fold((0, 0), |(a, r), (_, x, y)| (a + x, r + y));
        (a as f64 / span as f64, r as f64 / span as f64)
    }

    pub fn rejected_last_minute(&self, now: i64) -> u64 {
        let from = now / 1_000_000 - 60;
        self.seconds
            .iter()
            .filter(|(s, _, _)| *s >= from)
            .map(|(_, _, r)| r)
            .sum()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: u16,
}

/// Counters the hub and the sockets share.
#[derive(Clone, Debug, Default)]
pub struct FanOut {
    pub bytes_sent: Counter,
    pub frames_sent: Counter,
    pub dropped_slow_clients: Counter,
    pub snapshots_for_laggards: Counter,
    /// Upgrades refused because the address held too many sockets.
    pub refused_sockets: Counter,
}

impl FanOut {
    /// The sockets' metrics, the same on a primary and an edge.
    fn register(&self, registry: &mut Registry, clients: &Gauge) {
        registry.register(
            "websocket_clients",
            "Websocket clients connected",
            clients.clone(),
        );
        registry.register(
            "websocket_bytes_sent",
            "Bytes of messages sent to websocket clients",
            self.bytes_sent.clone(),
        );
        registry.register(
            "websocket_frames_sent",
            "Messages sent to websocket clients",
            self.frames_sent.clone(),
        );
        registry.register(
            "websocket_dropped_slow_clients",
            "Clients dropped because a send timed out",
            self.dropped_slow_clients.clone(),
        );
        registry.register(
            "websocket_lag_snapshots",
            "Snapshots sent to clients that fell behind",
            self.snapshots_for_laggards.clone(),
        );
        registry.register(
            "websocket_refused_too_many",
            "Websocket upgrades refused: the address, the link or wall token, or the server held as many sockets as it may",
            self.refused_sockets.clone(),
        );
    }
}

/// What crosses the NATS bus (a primary's relay, an edge's follow).
#[derive(Clone, Debug, Default)]
pub struct BusCounts {
    /// Messages published (primary) or received (edge).
    pub messages: Counter,
    pub bytes: Counter,
    /// Snapshots published (primary) or taken (edge).
    pub snapshots: Counter,
    /// Publishes that failed (primary); gaps that made an edge take a snapshot.
    pub failures: Counter,
}

impl BusCounts {
    fn register(&self, registry: &mut Registry, side: &str) {
        let (verb, failures) = if side == "relay" {
            ("published", "Publishes the bus did not acknowledge")
        } else {
            (
                "received",
                "Gaps (a new epoch, a missed seq) that made the edge take a snapshot",
            )
        };
        registry.register(
            format!("bus_{side}_messages"),
            format!("Deltas, heartbeats and snapshots {verb} on the NATS bus"),
            self.messages.clone(),
        );
        registry.register(
            format!("bus_{side}_bytes"),
            format!("Bytes of the messages {verb} on the NATS bus"),
            self.bytes.clone(),
        );
        registry.register(
            format!("bus_{side}_snapshots"),
            format!("Snapshots {verb} on the NATS bus"),
            self.snapshots.clone(),
        );
        registry.register(
            format!("bus_{side}_failures"),
            failures,
            self.failures.clone(),
        );
    }
}

/// An edge's metrics: its sockets and what it hears from the bus.
pub struct EdgeMetrics {
    registry: Registry,
    pub fan_out: FanOut,
    pub bus: BusCounts,
    clients: Gauge,
    /// Audiences whose primary is silent now.
    pub stale_audiences: Gauge,
    /// HTTP connections (src/serving.rs).
    pub connections: crate::serving::Counts,
}

impl Default for EdgeMetrics {
    fn default() -> EdgeMetrics {
        let mut registry = Registry::with_prefix("weibing");
        let fan_out = FanOut::default();
        let clients = Gauge::default();
        fan_out.register(&mut registry, &clients);
        let bus = BusCounts::default();
        bus.register(&mut registry, "edge");
        let stale_audiences = Gauge::default();
        registry.register(
            "bus_edge_stale_audiences",
            "Audiences whose primary has been silent for two ticks or more",
            stale_audiences.clone(),
        );
        let connections = crate::serving::Counts::default();
        registry.register(
            "http_connections_open",
            "HTTP connections open now (websockets, once upgraded, are counted by the hubs)",
            connections.open.clone(),
        );
        EdgeMetrics {
            registry,
            fan_out,
            bus,
            clients,
            stale_audiences,
            connections,
        }
    }
}

impl EdgeMetrics {
    pub fn render(&self, clients: usize) -> String {
        self.clients.set(clients as i64);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String does not fail");
        out
    }
}

pub struct Metrics {
    registry: Registry,
    /// What the primary published on the NATS bus (`--nats`).
    pub relay: BusCounts,
    pub accepted: Family<KeyLabel, Counter>,
    pub duplicates: Family<KeyLabel, Counter>,
    pub rejected: Family<KeyLabel, Counter>,
    pub refused_requests: Family<StatusLabel, Counter>,
    pub tick_seconds: Histogram,
    pub tick_failures: Counter,
    pub fan_out: FanOut,
    /// HTTP connections (src/serving.rs).
    pub connections: crate::serving::Counts,
    pub alerts: Family<AlertLabel, Gauge>,
    // A std Mutex: updated once per ingest request, read by the tick.
    pub activity: Mutex<Activity>,
    /// Stored events folded in at start (only those after the saved figures
    /// when the start resumed from them).
    pub start_replayed: Gauge,
    /// 1 when the start resumed from the saved figures beside the database.
    pub start_resumed: Gauge,
    /// Stored events the saved figures the database names cover.
    pub saved_events: Gauge,
    clients: Gauge,
    wal_bytes: Gauge,
    database_bytes: Gauge,
    store_memory_bytes: Gauge,
    /// Beijing micros of the last completed tick.
    last_tick: AtomicI64,
    database: PathBuf,
}

impl Metrics {
    pub fn new(database: PathBuf) -> Metrics {
        let mut registry = Registry::with_prefix("weibing");
        let accepted = Family::<KeyLabel, Counter>::default();
        let duplicates = Family::<KeyLabel, Counter>::default();
        let rejected = Family::<KeyLabel, Counter>::default();
        let refused_requests = Family::<StatusLabel, Counter>::default();
        // 1 ms to about 16 s.
        let tick_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        let fan_out = FanOut::default();
        let (clients, wal_bytes, database_bytes, store_memory_bytes) = (
            Gauge::default(),
            Gauge::default(),
            Gauge::default(),
            Gauge::default(),
        );
        let tick_failures = Counter::default();
        let relay = BusCounts::default();
        relay.register(&mut registry, "relay");
        let connections = crate::serving::Counts::default();
        registry.register(
            "http_connections_open",
            "HTTP connections open now (websockets, once upgraded, are counted by the hubs)",
            connections.open.clone(),
        );
        registry.register(
            "http_connections_refused",
            "Connections closed at once: --max-connections were open",
            connections.refused.clone(),
        );
        registry.register(
            "http_connections_failed",
            "Connections closed with an error: a request head not sent within --header-timeout-ms, or a client gone mid-request",
            connections.closed_with_error.clone(),
        );
        let (start_replayed, start_resumed, saved_events) =
            (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register(
            "start_replayed_events",
            "Stored events folded in at start (after the saved figures, when resumed from them)",
            start_replayed.clone(),
        );
        registry.register(
            "start_resumed",
            "1 when the start resumed from the figures saved beside the database",
            start_resumed.clone(),
        );
        registry.register(
            "figures_saved_events",
            "Stored events covered by the figures saved beside the database",
            saved_events.clone(),
        );
        let alerts = Family::<AlertLabel, Gauge>::default();
        registry.register(
            "alerts_active",
            "Alerts showing on the console, by kind",
            alerts.clone(),
        );
        registry.register(
            "events_accepted",
            "Events stored, by ingest key",
            accepted.clone(),
        );
        registry.register(
            "events_duplicate",
            "Events whose id was stored before, by ingest key",
            duplicates.clone(),
        );
        registry.register(
            "events_rejected",
            "Events rejected and kept with their reason, by ingest key",
            rejected.clone(),
        );
        registry.register(
            "ingest_refused_requests",
            "Ingest requests refused whole, by HTTP status",
            refused_requests.clone(),
        );
        registry.register(
            "tick_duration_seconds",
            "Time to fold in new events and publish the state",
            tick_seconds.clone(),
        );
        registry.register(
            "tick_failures",
            "Ticks that failed (the last state stayed up)",
            tick_failures.clone(),
        );
        fan_out.register(&mut registry, &clients);
        registry.register(
            "store_wal_bytes",
            "Size of DuckDB's write-ahead log",
            wal_bytes.clone(),
        );
        registry.register(
            "store_database_bytes",
            "Size of the DuckDB file",
            database_bytes.clone(),
        );
        registry.register(
            "store_memory_bytes",
            "Memory held by DuckDB's buffer manager (duckdb_memory())",
            store_memory_bytes.clone(),
        );
        Metrics {
            registry,
            relay,
            accepted,
            duplicates,
            rejected,
            refused_requests,
            tick_seconds,
            start_replayed,
            start_resumed,
            saved_events,
            tick_failures,
            fan_out,
            connections,
            alerts,
            activity: Mutex::default(),
            clients,
            wal_bytes,
            database_bytes,
            store_memory_bytes,
            last_tick: AtomicI64::new(0),
            database,
        }
    }

    pub fn ingested(&self, key: &str, accepted: usize, duplicates: usize, rejected: usize) {
        let label = KeyLabel {
            key: key.to_string(),
        };
        self.accepted.get_or_create(&label).inc_by(accepted as u64);
        self.duplicates
            .get_or_create(&label)
            .inc_by(duplicates as u64);
        self.rejected.get_or_create(&label).inc_by(rejected as u64);
        let now = crate::time::now_beijing_micros();
        let second = now / 1_000_000;
        let mut activity = self.activity.lock().expect("activity lock");
        activity.last_request.insert(label.key, now);
        match activity.seconds.back_mut() {
            Some((s, a, r)) if *s == second => {
                *a += accepted as u64;
                *r += rejected as u64;
            }
            _ => activity
                .seconds
                .push_back((second, accepted as u64, rejected as u64)),
        }
        while activity
            .seconds
            .front()
            .is_some_and(|(s, _, _)| *s < second - 60)
        {
            activity.seconds.pop_front();
        }
    }

    pub fn ticked(&self, seconds: f64, at_micros: i64) {
        self.tick_seconds.observe(seconds);
        self.last_tick.store(at_micros, Ordering::Relaxed);
    }

    /// The database file whose sizes are reported.
    pub fn database(&self) -> &std::path::Path {
        &self.database
    }

    pub fn last_tick(&self) -> i64 {
        self.last_tick.load(Ordering::Relaxed)
    }

    /// The metrics in Prometheus' text format, with the gauges read now.
    /// `store_memory` is DuckDB's own count, read by the caller (a store
    /// call; None leaves the last reading), as is the write-ahead log's size.
    pub fn render(&self, clients: usize, store_memory: Option<u64>, wal_bytes: u64) -> String {
        self.clients.set(clients as i64);
        if let Some(bytes) = store_memory {
            self.store_memory_bytes.set(bytes as i64);
        }
        self.wal_bytes.set(wal_bytes as i64);
        self.database_bytes.set(
            std::fs::metadata(&self.database)
                .map(|m| m.len() as i64)
                .unwrap_or(0),
        );
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String does not fail");
        out
    }
}
