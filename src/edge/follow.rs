//! An edge follows its primary over the bus: each viewer audience's
//! snapshot then deltas into its mirror hub, the credentials into its
//! access, and a watch on the primary's silence.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::kv::Operation;
use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::access::{Access, EdgeCredential};
use crate::metrics::EdgeMetrics;
use crate::publish::Hubs;
use crate::publish::bus::{self, Bus, Names, PrimaryInfo, ViewerHub};
use crate::region::Region;
use crate::time;

/// The tick assumed until the primary's facts say otherwise.
const DEFAULT_TICK_MS: u64 = 1_000;
/// Silent for this many ticks and [`STALE_GRACE_MS`], an audience is stale:
/// within three ticks of the primary's last message, its sockets are told
/// (the grace keeps a late tick on a busy primary from flashing the banner).
const STALE_TICKS: u64 = 2;
const STALE_GRACE_MS: u64 = 100;
/// Silent this long (and at least 30 ticks), a follower asks the bus again
/// (after a reconnect it does at once: an ordered consumer does not always
/// outlive the server it was made on). Not sooner: while the primary is away
/// every follower of every edge would make a consumer each time.
const SILENT: Duration = Duration::from_secs(30);
const SILENT_TICKS: u32 = 30;
/// A follower that lost its place waits this long before it asks again.
const RETRY: Duration = Duration::from_millis(200);

/// What the edge knows of its primary and of the bus.
pub struct Link {
    /// Milliseconds since `start` of each audience's last message.
    heard: Vec<AtomicI64>,
    start: tokio::time::Instant,
    pub primary: RwLock<Option<PrimaryInfo>>,
    tick_ms: AtomicU64,
    /// The primary's districts are not this edge's region's.
    pub wrong_region: AtomicBool,
    pub client: RwLock<Option<async_nats::Client>>,
}

impl Link {
    pub fn new(audiences: usize) -> Link {
        Link {
            heard: (0..audiences).map(|_| AtomicI64::new(i64::MIN)).collect(),
            start: tokio::time::Instant::now(),
            primary: RwLock::new(None),
            tick_ms: AtomicU64::new(DEFAULT_TICK_MS),
            wrong_region: AtomicBool::new(false),
            client: RwLock::new(None),
        }
    }

    fn now_ms(&self) -> i64 {
        self.start.elapsed().as_millis() as i64
    }

    fn heard(&self, audience: usize) {
        self.heard[audience].store(self.now_ms(), Ordering::Relaxed);
    }

    pub fn tick_ms(&self) -> u64 {
        self.tick_ms.load(Ordering::Relaxed)
    }

    /// Silent this long, an audience is stale.
    pub fn stale_after_ms(&self) -> i64 {
        (STALE_TICKS * self.tick_ms() + STALE_GRACE_MS) as i64
    }

    /// Milliseconds since the quietest audience's last message (None
    /// before every audience was heard once).
    pub fn silent_ms(&self) -> Option<i64> {
        let now = self.now_ms();
        self.heard
            .iter()
            .map(|h| h.load(Ordering::Relaxed))
            .try_fold(0, |most, at| (at != i64::MIN).then(|| most.max(now - at)))
    }

    /// The address of the primary, for refusals.
    pub fn primary_url(&self) -> Option<String> {
        let primary = self.primary.read().expect("the link's lock");
        primary.as_ref().map(|p| p.url.clone())
    }

    pub fn bus_state(&self) -> &'static str {
        let client = self.client.read().expect("the link's lock");
        client
            .as_ref()
            .map_or("connecting", |c| bus::state_code(c.connection_state()))
    }
}

/// Follows the primary until `shutdown`: every audience, the credentials,
/// the watch on silence.
pub async fn run(
    client: async_nats::Client,
    names: Names,
    region: Arc<Region>,
    edge: super::EdgeState,
    mut shutdown: watch::Receiver<bool>,
) {
    let super::EdgeState {
        hubs,
        access,
        link,
        metrics,
        ..
    } = edge;
    *link.client.write().expect("the link's lock") = Some(client.clone());
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(watch_silence(
        hubs.clone(),
        access.clone(),
        link.clone(),
        metrics.clone(),
        shutdown.clone(),
    ));
    let Some(bus) = Bus::when_up(client, None, &mut shutdown).await else {
        return;
    };
    for (index, audience) in bus::audiences(&region).into_iter().enumerate() {
        let follower = Follower {
            consumed: AtomicU64::new(0),
            bus: bus.clone(),
            delta: names.delta(&audience),
            snapshot: names.snapshot(&audience),
            hub: ViewerHub {
                hubs: hubs.clone(),
                index,
            },
            link: link.clone(),
            metrics: metrics.clone(),
        };
        tasks.spawn(follower.run(shutdown.clone()));
    }
    tasks.spawn(credentials(bus, names, region, access, link, shutdown));
    while tasks.join_next().await.is_some() {}
}

/// One audience's follower.
struct Follower {
    /// The stream sequence of the last delta taken from the bus, to go on
    /// after it when a snapshot taken again is older than the copy.
    consumed: std::sync::atomic::AtomicU64,
    bus: Bus,
    delta: String,
    snapshot: String,
    hub: ViewerHub,
    link: Arc<Link>,
    metrics: Arc<EdgeMetrics>,
}

impl Follower {
    /// The last snapshot, then the deltas after it; a gap starts again.
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let follow = async {
                let after = self.take_snapshot().await?;
                self.follow_deltas(after).await
            };
            tokio::select! {
                result = follow => {
                    if let Err(why) = result {
                        tracing::debug!(subject = %self.delta, %why, "following again from a snapshot");
                    }
                }
                _ = shutdown.wait_for(|s| *s) => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }

    /// The audience's last snapshot into the hub; the stream sequence to go
    /// on after: the delta the snapshot names, or, when the copy is newer
    /// than the snapshot, the last delta this follower took (messages read
    /// again would be old news, not signs of a live primary).
    async fn take_snapshot(&self) -> anyhow::Result<u64> {
        let message = self
            .bus
            .snapshots
            .get_last_raw_message_by_subject(&self.snapshot)
            .await?;
        let after = message
            .headers
            .get(bus::DELTA_SEQ)
            .and_then(|v| v.as_str().parse().ok())
            .unwrap_or(0);
        self.metrics.bus.messages.inc();
        self.metrics.bus.bytes.inc_by(message.payload.len() as u64);
        self.metrics.bus.snapshots.inc();
        if self.hub.reset(text(&message.payload)?)? {
            self.link.heard(self.hub.index);
            return Ok(after);
        }
        Ok(after.max(self.consumed.load(Ordering::Relaxed)))
    }

    /// The deltas after stream sequence `after`, into the hub, until a gap.
    async fn follow_deltas(&self, after: u64) -> anyhow::Result<()> {
        let consumer = self
            .bus
            .deltas
            .create_consumer(pull::OrderedConfig {
                filter_subject: self.delta.clone(),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: after + 1,
                },
                ..Default::default()
            })
            .await?;
        let since = connects(&self.bus.client);
        let mut messages = consumer.messages().await?;
        loop {
            let silence = SILENT.max(Duration::from_millis(self.link.tick_ms()) * SILENT_TICKS);
            let message = tokio::select! {
                message = tokio::time::timeout(silence, messages.next()) => match message {
                    Ok(message) => message,
                    Err(_) => anyhow::bail!("silent for {silence:?}"),
                },
                _ = reconnected(&self.bus.client, since) => anyhow::bail!("the bus reconnected"),
            };
            let Some(message) = message else { break };
            let message = message?;
            self.metrics.bus.messages.inc();
            self.metrics.bus.bytes.inc_by(message.payload.len() as u64);
            if let Ok(info) = message.info() {
                self.consumed.store(info.stream_sequence, Ordering::Relaxed);
            }
            match self.hub.follow(text(&message.payload)?) {
                Ok(true) => self.link.heard(self.hub.index),
                Ok(false) => {}
                Err(gap) => {
                    self.metrics.bus.failures.inc();
                    anyhow::bail!("{gap}");
                }
            }
        }
        anyhow::bail!("the deltas ended")
    }
}

/// How many times the client connected (the first time included).
fn connects(client: &async_nats::Client) -> u64 {
    client.statistics().connects.load(Ordering::Relaxed)
}

/// Resolves once the client connected again after its `since`-th connect.
async fn reconnected(client: &async_nats::Client, since: u64) {
    while connects(client) == since {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn text(payload: &[u8]) -> anyhow::Result<Utf8Bytes> {
    Ok(String::from_utf8(payload.to_vec())?.into())
}

/// The bucket into the edge's access: links and wall tokens added,
/// revoked or gone; the primary's facts.
async fn credentials(
    bus: Bus,
    names: Names,
    region: Arc<Region>,
    access: Arc<Access>,
    link: Arc<Link>,
    mut shutdown: watch::Receiver<bool>,
) {
    let prefix = names.credentials();
    let districts: Vec<String> = region.districts.iter().map(|d| d.code.clone()).collect();
    loop {
        let watching = async {
            let mut entries = bus
                .bucket
                .watch_with_history(format!("{}.>", names.namespace))
                .await?;
            while let Some(entry) = entries.next().await {
                let entry = entry?;
                let now = time::now_beijing_micros();
                if entry.key == names.primary() {
                    let info: PrimaryInfo = serde_json::from_slice(&entry.value)?;
                    let wrong = info.districts != districts;
                    if wrong {
                        tracing::error!(
                            "the primary's region has other districts than this edge's --region: nothing is served"
                        );
                    }
                    link.wrong_region.store(wrong, Ordering::Relaxed);
                    link.tick_ms.store(info.tick_ms.max(1), Ordering::Relaxed);
                    *link.primary.write().expect("the link's lock") = Some(info);
                } else if let Some(id) = entry.key.strip_prefix(&prefix) {
                    let credential = match entry.operation {
                        Operation::Put => {
                            Some(serde_json::from_slice::<EdgeCredential>(&entry.value)?)
                        }
                        Operation::Delete | Operation::Purge => None,
                    };
                    access.take_from_primary(id, credential, now);
                }
            }
            anyhow::Ok(())
        };
        // A watch does not always outlive the server it watched (NATS
        // restarted): after a reconnect it is made again, from the start.
        let watched_from = connects(&bus.client);
        tokio::select! {
            result = watching => {
                if let Err(e) = result {
                    tracing::warn!(error = %format!("{e:#}"), "watching the credentials again");
                }
            }
            _ = reconnected(&bus.client, watched_from) => {
                tracing::info!("the bus is back: watching the credentials again");
            }
            _ = shutdown.wait_for(|s| *s) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Every quarter tick: an audience silent for [`STALE_TICKS`] ticks tells
/// its sockets it is stale (again each tick it stays so); credentials that
/// expired end their sockets.
async fn watch_silence(
    hubs: Arc<Hubs>,
    access: Arc<Access>,
    link: Arc<Link>,
    metrics: Arc<EdgeMetrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let audiences = link.heard.len();
    let mut told = vec![i64::MIN; audiences];
    loop {
        let tick = link.tick_ms() as i64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis((tick as u64 / 4).clamp(10, 250))) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        access.expire(time::now_beijing_micros());
        let now = link.now_ms();
        let mut stale = 0;
        for (i, told) in told.iter_mut().enumerate() {
            let heard = link.heard[i].load(Ordering::Relaxed);
            if heard == i64::MIN || now - heard < link.stale_after_ms() {
                continue;
            }
            stale += 1;
            if *told < heard || now - *told >= tick {
                hubs.viewer(i).mark_stale();
                *told = now;
            }
        }
        metrics.stale_audiences.set(stale);
    }
}
