//! The bus between a primary and its edges: NATS JetStream (docs/scale.md).
//!
//! A primary started with `--nats` relays, for every viewer audience (the
//! city, each district), the very messages its own sockets get: each tick's
//! delta or heartbeat to `weibing.<ns>.<audience>.delta` (stream
//! [`DELTAS`], [`DELTA_HISTORY`] kept per audience) and, on a change of
//! shape, after a gap and at least every [`SNAPSHOT_EVERY`], the snapshot to
//! `weibing.<ns>.<audience>.snapshot` (stream [`SNAPSHOTS`], the last one
//! kept). A snapshot names, in [`DELTA_SEQ`], the stream sequence of the
//! last delta published before it: an edge takes the snapshot, then the
//! deltas after that sequence.
//!
//! Staff's audience is not relayed: staff sign in on the primary, and its
//! figures (ingest health, rejections) stay there.
//!
//! Links and wall tokens go to the key-value bucket [`BUCKET`] under
//! `<ns>.credential.<id>` as [`EdgeCredential`]s (a hash, never a token);
//! `<ns>.primary` holds the primary's [`PrimaryInfo`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use super::{Hub, Hubs};
use crate::access::{Access, EdgeCredential};
use crate::metrics::BusCounts;
use crate::region::Region;

/// The stream of deltas and heartbeats, every audience's.
pub const DELTAS: &str = "WEIBING_DELTAS";
/// The stream of snapshots: the last one of each audience.
pub const SNAPSHOTS: &str = "WEIBING_SNAPSHOTS";
/// The key-value bucket of credentials and the primary's facts.
pub const BUCKET: &str = "weibing-access";
/// Deltas and heartbeats kept per audience: far more than a snapshot's
/// interval holds at any tick the server takes (10 s at a 50 ms tick is 200).
pub const DELTA_HISTORY: i64 = 1_000;
/// A snapshot of each audience at least this often (and every half
/// [`DELTA_HISTORY`] messages).
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(10);
/// How long the relay waits for the bus to acknowledge a publish.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);
/// The header of a snapshot that names the stream sequence of the last
/// delta published before it.
pub const DELTA_SEQ: &str = "Weibing-Delta-Seq";
/// Every credential is put again this often, whether changed or not (a
/// bucket that was emptied or lost fills again).
const CREDENTIALS_AGAIN: Duration = Duration::from_secs(60);

/// Where one region's messages go on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The region's name on the bus (`--region`'s last part, in letters,
    /// digits, `-` and `_`).
    pub namespace: String,
}

impl Names {
    pub fn new(region_arg: &str) -> Names {
        let last = std::path::Path::new(region_arg)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let namespace: String = last
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Names {
            namespace: if namespace.is_empty() {
                "region".into()
            } else {
                namespace
            },
        }
    }

    pub fn delta(&self, audience: &str) -> String {
        format!("weibing.{}.{audience}.delta", self.namespace)
    }

    pub fn snapshot(&self, audience: &str) -> String {
        format!("weibing.{}.{audience}.snapshot", self.namespace)
    }

    pub fn credential(&self, id: &str) -> String {
        format!("{}.credential.{id}", self.namespace)
    }

    /// The prefix of every credential's key.
    pub fn credentials(&self) -> String {
        format!("{}.credential.", self.namespace)
    }

    pub fn primary(&self) -> String {
        format!("{}.primary", self.namespace)
    }
}

/// The audiences relayed, in the order of [`Hubs`]' viewer hubs: `city`,
/// then each district's code.
pub fn audiences(region: &Region) -> Vec<String> {
    std::iter::once("city".to_string())
        .chain(region.districts.iter().map(|d| d.code.clone()))
        .collect()
}

/// What a primary tells its edges about itself (`<ns>.primary`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PrimaryInfo {
    pub epoch: u64,
    pub tick_ms: u64,
    /// Where writes, the console and staff go.
    pub url: String,
    /// The region's district codes, in order: an edge serves only the same.
    pub districts: Vec<String>,
}

/// The bus's streams and bucket, made if missing.
#[derive(Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub jetstream: jetstream::Context,
    pub deltas: stream::Stream,
    pub snapshots: stream::Stream,
    pub bucket: kv::Store,
}

/// A connection's state as `/readyz` names it.
pub fn state_code(state: async_nats::connection::State) -> &'static str {
    match state {
        async_nats::connection::State::Connected => "connected",
        async_nats::connection::State::Disconnected => "disconnected",
        async_nats::connection::State::Pending => "connecting",
    }
}

/// A client that connects in the background and reconnects by itself.
/// `url` may list several servers of a cluster, comma-separated (the client
/// also learns the others from the one it reaches), and carry an account as
/// `nats://user:password@host:port` (the first one given is used).
pub async fn client(url: &str, name: &str) -> anyhow::Result<async_nats::Client> {
    let shown = redacted(url);
    let servers = url
        .split(',')
        .map(|u| u.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("--nats {shown}"))?;
    let mut options = async_nats::ConnectOptions::new();
    if let Some(account) = servers.iter().find(|s| s.has_user_pass()) {
        let user = account.username().unwrap_or_default().to_string();
        let password = account.password().unwrap_or_default().to_string();
        options = options.user_and_password(user, password);
    }
    options
        .name(name)
        .retry_on_initial_connect()
        // Back within a second of the server's return (the library's own
        // back-off grows to 4 s).
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((attempts as u64 * 100).min(1_000))
        })
        .connect(servers)
        .await
        .with_context(|| format!("--nats {shown}"))
}

/// `url` without the passwords it carries, for logs and errors.
pub fn redacted(url: &str) -> String {
    url.split(',')
        .map(|u| match (u.split_once("://"), u.rsplit_once('@')) {
            (Some((scheme, _)), Some((account, host))) => {
                let user = account
                    .split_once("://")
                    .map_or(account, |(_, a)| a)
                    .split(':')
                    .next()
                    .unwrap_or("");
                format!("{scheme}://{user}:***@{host}")
            }
            _ => u.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl Bus {
    /// The streams and bucket on `client`'s server, made with `replicas`
    /// copies when missing (3 on a cluster of three).
    pub async fn open(client: async_nats::Client, replicas: usize) -> anyhow::Result<Bus> {
        let mut js = jetstream::new(client.clone());
        // A publish not acknowledged within this is taken for failed (the
        // next frame then carries a snapshot): the library's 5 s kept the
        // relay from following the hub for that long after NATS came back.
        js.set_timeout(PUBLISH_TIMEOUT);
        let deltas = js
            .get_or_create_stream(stream::Config {
                name: DELTAS.into(),
                subjects: vec!["weibing.*.*.delta".into()],
                max_messages_per_subject: DELTA_HISTORY,
                storage: stream::StorageType::File,
                num_replicas: replicas,
                ..Default::default()
            })
            .await
            .with_context(|| format!("the stream {DELTAS}"))?;
        let snapshots = js
            .get_or_create_stream(stream::Config {
                name: SNAPSHOTS.into(),
                subjects: vec!["weibing.*.*.snapshot".into()],
                max_messages_per_subject: 1,
                storage: stream::StorageType::File,
                num_replicas: replicas,
                ..Default::default()
            })
            .await
            .with_context(|| format!("the stream {SNAPSHOTS}"))?;
        let bucket = match js.get_key_value(BUCKET).await {
            Ok(bucket) => bucket,
            Err(_) => js
                .create_key_value(kv::Config {
                    bucket: BUCKET.into(),
                    history: 1,
                    storage: stream::StorageType::File,
                    num_replicas: replicas,
                    ..Default::default()
                })
                .await
                .with_context(|| format!("the bucket {BUCKET}"))?,
        };
        Ok(Bus {
            client,
            jetstream: js,
            deltas,
            snapshots,
            bucket,
        })
    }

    /// The streams and bucket a primary made (an edge makes none: their
    /// copies are the primary's to choose).
    pub async fn find(client: async_nats::Client) -> anyhow::Result<Bus> {
        let js = jetstream::new(client.clone());
        let deltas = js
            .get_stream(DELTAS)
            .await
            .with_context(|| format!("the stream {DELTAS}"))?;
        let snapshots = js
            .get_stream(SNAPSHOTS)
            .await
            .with_context(|| format!("the stream {SNAPSHOTS}"))?;
        let bucket = js
            .get_key_value(BUCKET)
            .await
            .with_context(|| format!("the bucket {BUCKET}"))?;
        Ok(Bus {
            client,
            jetstream: js,
            deltas,
            snapshots,
            bucket,
        })
    }

    /// [`Bus::open`] (`replicas`) or [`Bus::find`] (None), tried again every second until the server answers
    /// (or `shutdown`).
    pub async fn when_up(
        client: async_nats::Client,
        replicas: Option<usize>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Option<Bus> {
        loop {
            let bus = match replicas {
                Some(replicas) => Bus::open(client.clone(), replicas).await,
                None => Bus::find(client.clone()).await,
            };
            match bus {
                Ok(bus) => return Some(bus),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "the NATS bus is not there yet")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.wait_for(|s| *s) => return None,
            }
        }
    }
}

/// The primary's side of the bus.
pub struct Relay {
    pub bus: Bus,
    pub names: Names,
    pub region: Arc<Region>,
    pub hubs: Arc<Hubs>,
    pub access: Arc<Access>,
    pub info: PrimaryInfo,
    pub counts: BusCounts,
}

impl Relay {
    /// Relays every viewer hub and keeps the bucket's credentials and facts
    /// current, until `shutdown`.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, audience) in audiences(&self.region).into_iter().enumerate() {
            let hub = ViewerHub {
                hubs: self.hubs.clone(),
                index: i,
            };
            tasks.spawn(relay_audience(
                self.bus.jetstream.clone(),
                self.names.delta(&audience),
                self.names.snapshot(&audience),
                hub,
                self.counts.clone(),
                shutdown.clone(),
            ));
        }
        tasks.spawn(credentials(
            self.bus.bucket,
            self.names,
            self.access,
            self.info,
            shutdown,
        ));
        while tasks.join_next().await.is_some() {}
    }
}

/// The i-th viewer hub, in [`audiences`]' order, held through the hubs.
pub struct ViewerHub {
    pub hubs: Arc<Hubs>,
    pub index: usize,
}

impl std::ops::Deref for ViewerHub {
    type Target = Hub;
    fn deref(&self) -> &Hub {
        self.hubs.viewer(self.index)
    }
}

/// One audience: each frame of its hub to the delta subject, and after it,
/// when due, the snapshot, which names that frame's stream sequence (so a
/// snapshot always follows a delta the bus acknowledged: an edge that starts
/// from it never reads the stream from its beginning, where an older
/// epoch's messages are). A publish that fails (the bus is away) or a lag
/// makes the next frame carry a snapshot too, so edges that saw a gap find
/// their way back.
async fn relay_audience(
    js: jetstream::Context,
    delta: String,
    snapshot: String,
    hub: ViewerHub,
    counts: BusCounts,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut frames = hub.subscribe();
    let mut snapshot_due = true;
    let mut last_snapshot = tokio::time::Instant::now();
    let mut since_snapshot: i64 = 0;
    loop {
        let frame = tokio::select! {
            frame = frames.recv() => frame,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let frame = match frame {
            Ok(frame) => frame,
            Err(RecvError::Lagged(_)) => {
                snapshot_due = true;
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let bytes = Bytes::from(frame.text.as_str().to_owned());
        let sequence = match publish(&js, delta.clone(), None, bytes, &counts).await {
            Ok(sequence) => sequence,
            Err(e) => {
                tracing::warn!(subject = %delta, error = %e, "a delta did not reach the bus");
                snapshot_due = true;
                continue;
            }
        };
        since_snapshot += 1;
        // Half the history at most: an edge starting from the snapshot finds
        // every delta after it still kept, whatever the tick.
        snapshot_due |= frame.reshaped
            || last_snapshot.elapsed() >= SNAPSHOT_EVERY
            || since_snapshot >= DELTA_HISTORY / 2;
        if !snapshot_due {
            continue;
        }
        let (_, text) = hub.snapshot();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(DELTA_SEQ, sequence.to_string().as_str());
        let bytes = Bytes::from(text.as_str().to_owned());
        match publish(&js, snapshot.clone(), Some(headers), bytes, &counts).await {
            Ok(_) => {
                counts.snapshots.inc();
                snapshot_due = false;
                last_snapshot = tokio::time::Instant::now();
                since_snapshot = 0;
            }
            Err(e) => {
                tracing::warn!(subject = %snapshot, error = %e, "a snapshot did not reach the bus")
            }
        }
    }
}

/// Publishes and waits for the stream's acknowledgement: its sequence.
async fn publish(
    js: &jetstream::Context,
    subject: String,
    headers: Option<async_nats::HeaderMap>,
    payload: Bytes,
    counts: &BusCounts,
) -> anyhow::Result<u64> {
    let size = payload.len() as u64;
    let sent = match headers {
        Some(headers) => js.publish_with_headers(subject, headers, payload).await,
        None => js.publish(subject, payload).await,
    };
    let ack = async { anyhow::Ok(sent?.await?) }.await;
    match ack {
        Ok(ack) => {
            counts.messages.inc();
            counts.bytes.inc_by(size);
            Ok(ack.sequence)
        }
        Err(e) => {
            counts.failures.inc();
            Err(e)
        }
    }
}

/// Keeps the bucket's credentials equal to the primary's links and wall
/// tokens: a change is put at once ([`Access::changed`]), everything again
/// every [`CREDENTIALS_AGAIN`]; keys of credentials the primary does not
/// know (an older database's) are deleted once at start.
async fn credentials(
    bucket: kv::Store,
    names: Names,
    access: Arc<Access>,
    info: PrimaryInfo,
    mut shutdown: watch::Receiver<bool>,
) {
    let info = Bytes::from(serde_json::to_vec(&info).expect("the facts serialize"));
    let mut put: HashMap<String, EdgeCredential> = HashMap::new();
    let mut cleared = false;
    let mut again = tokio::time::interval(CREDENTIALS_AGAIN);
    loop {
        if let Err(e) = bucket.put(names.primary(), info.clone()).await {
            tracing::warn!(error = %e, "the primary's facts did not reach the bus");
        }
        let now = access.for_edges();
        if !cleared {
            cleared = clear_unknown(&bucket, &names, &now).await.is_ok();
        }
        for (id, credential) in now {
            if put.get(&id) == Some(&credential) {
                continue;
            }
            let value = Bytes::from(serde_json::to_vec(&credential).expect("serializes"));
            match bucket.put(names.credential(&id), value).await {
                Ok(_) => {
                    put.insert(id, credential);
                }
                Err(e) => tracing::warn!(id, error = %e, "a credential did not reach the bus"),
            }
        }
        tokio::select! {
            _ = access.changed.notified() => {}
            _ = again.tick() => put.clear(),
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

async fn clear_unknown(
    bucket: &kv::Store,
    names: &Names,
    known: &[(String, EdgeCredential)],
) -> anyhow::Result<()> {
    use futures_util::TryStreamExt;
    let prefix = names.credentials();
    let keys: Vec<String> = bucket.keys().await?.try_collect().await?;
    for key in keys {
        let Some(id) = key.strip_prefix(&prefix) else {
            continue;
        };
        if !known.iter().any(|(k, _)| k == id) {
            bucket.delete(&key).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_to_what_subjects_and_keys_allow() {
        assert_eq!(Names::new("beijing").namespace, "beijing");
        assert_eq!(Names::new("/srv/regions/京 test.v2").namespace, "__test_v2");
        assert_eq!(Names::new("").namespace, "region");
        let names = Names::new("beijing");
        assert_eq!(names.delta("110101"), "weibing.beijing.110101.delta");
        assert_eq!(names.snapshot("city"), "weibing.beijing.city.snapshot");
        assert_eq!(names.credential("a1b2c3"), "beijing.credential.a1b2c3");
        assert_eq!(names.primary(), "beijing.primary");
    }

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        assert_eq!(
            redacted("nats://weibing:s3cret@nats1:4222, nats://nats2:4222"),
            "nats://weibing:***@nats1:4222, nats://nats2:4222"
        );
        assert_eq!(redacted("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
    }

    #[test]
    fn the_audiences_are_the_city_then_each_district() {
        let region = Region::load("beijing").unwrap();
        let all = audiences(&region);
        assert_eq!(all.len(), 17);
        assert_eq!(all[0], "city");
        assert_eq!(all[1], region.districts[0].code);
    }
}
