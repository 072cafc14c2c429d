//! The tick: every `--tick-ms` the newly committed events are folded in, the
//! index is recomputed, the state document is rebuilt and handed to the hub,
//! which publishes a delta or a heartbeat.

use std::collections::VecDeque;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::Aggregator;
use super::alerts::{self, Alerts};
use super::index::Formula;
use super::ranking::Ranking;
use super::snapshot::{self, SnapshotError};
use super::state::{self, Paces, State, Wall};
use crate::metrics::{AlertLabel, Metrics};
use crate::publish::Hubs;
use crate::region::Region;
use crate::settings;
use crate::store::index::IndexOutput;
use crate::store::{Accepted, Covered, SNAPSHOT_SETTING, Store};
use crate::time::{self, MICROS_PER_MINUTE};

/// The window over which the pace towards each target is measured.
const PACE_WINDOW_MICROS: i64 = 15 * MICROS_PER_MINUTE;
/// Below this much history the pace is not extrapolated.
const PACE_MIN_MICROS: i64 = MICROS_PER_MINUTE;

/// What the aggregator handed to the engine holds at start.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    pub covered: Covered,
    /// Events the saved file beside the database already holds (when the
    /// start resumed from it).
    pub saved: Option<u64>,
}

/// When the tick saves the figures beside the database (`aggregate::snapshot`).
#[derive(Debug, Clone)]
pub struct SavePolicy {
    /// The database file; the saved figures go beside it.
    pub database: std::path::PathBuf,
    /// Save once this many events were folded since the last save...
    pub every_events: u64,
    /// ...and this long has passed since it.
    pub min_interval: Duration,
}

/// What each audience is sent after a tick (see docs/api.md, "Views").
#[derive(Debug, Clone)]
pub struct Views {
    pub staff: State,
    pub city: State,
    pub districts: Vec<State>,
}

/// The live ingest keys and since when each could have sent: given by access.
pub type LiveKeys = Box<dyn Fn(i64) -> Vec<(String, i64)> + Send>;

/// What the tick reads besides the events: shared with the rest of the server.
pub struct Shared {
    pub wall: Arc<Mutex<Wall>>,
    pub settings: settings::Shared,
    pub metrics: Arc<Metrics>,
    pub keys: LiveKeys,
    /// The index at month closes (`history::run` keeps it).
    pub closes: super::history::Shared,
}

pub struct TickEngine {
    region: Arc<Region>,
    agg: Aggregator,
    formula: Formula,
    last_index: Vec<IndexOutput>,
    /// The plans the last index was computed against.
    last_planned: Vec<[u64; 4]>,
    ranking: Ranking,
    /// Viewers' fine figures, moved in steps of k events (docs/privacy.md).
    hold: super::privacy::Hold,
    /// The k the last index was computed with.
    last_k: u64,
    accepted: std_mpsc::Receiver<Accepted>,
    /// The stored events folded in so far.
    covered: Covered,
    /// How many of them the saved file beside the database holds, if any.
    saved: Option<u64>,
    /// (time, [people, interactive, managed, guardians] of the city, then of
    /// each district) at each tick of the window.
    samples: VecDeque<(i64, Vec<[u64; 4]>)>,
    shared: Shared,
    alerts: Alerts,
    /// When the engine started: a key that never sent is silent since then.
    started: i64,
    last_tick_ms: f64,
    /// Events folded in by the last tick.
    folded: usize,
    /// Where the last tick's compute went (logged at debug).
    parts: Parts,
}

/// The parts of a tick's compute, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parts {
    /// Folding the new events in.
    pub fold_us: u64,
    /// The index, when a district's figures changed (`aggregate::index`).
    pub index_us: u64,
    /// The paces, the views and the alerts.
    pub views_us: u64,
}

impl TickEngine {
    pub fn new(
        region: Arc<Region>,
        agg: Aggregator,
        accepted: std_mpsc::Receiver<Accepted>,
        start: Start,
        shared: Shared,
    ) -> Result<TickEngine, duckdb::Error> {
        Ok(TickEngine {
            covered: start.covered,
            saved: start.saved,
            formula: Formula::new(&region),
            ranking: Ranking::new(&region),
            hold: Default::default(),
            last_k: 0,
            region,
            agg,
            last_index: Vec::new(),
            last_planned: Vec::new(),
            accepted,
            samples: VecDeque::new(),
            shared,
            alerts: Alerts::default(),
            started: time::now_beijing_micros(),
            last_tick_ms: 0.0,
            folded: 0,
            parts: Parts::default(),
        })
    }

    /// Events folded in since the figures were last saved.
    pub fn unsaved(&self) -> u64 {
        self.covered.events.saturating_sub(self.saved.unwrap_or(0))
    }

    /// Whether the saved file lacks events folded in since (or there is none
    /// and there are events).
    pub fn needs_saving(&self) -> bool {
        self.covered.events > 0 && self.saved != Some(self.covered.events)
    }

    /// The saved file's bytes for the figures now, and the token the
    /// database must name once the file is written. Counts them as saved.
    pub fn save(&mut self, now_micros: i64) -> Result<(Vec<u8>, String), SnapshotError> {
        let header = snapshot::Header {
            token: format!("{:032x}", rand::random::<u128>()),
            region: self
                .region
                .districts
                .iter()
                .map(|d| d.code.clone())
                .collect(),
            next_seq: self.covered.next_seq,
            events: self.covered.events,
            saved_at: now_micros,
        };
        let bytes = snapshot::encode(&self.agg, &header)?;
        self.saved = Some(self.covered.events);
        Ok((bytes, header.token))
    }

    /// Records how long the last tick took (for the late-tick alert).
    pub fn took(&mut self, ms: f64) {
        self.last_tick_ms = ms;
    }

    /// One tick at `now` (Beijing micros). Blocking: runs DuckDB.
    pub fn tick(&mut self, now_micros: i64) -> Result<Views, duckdb::Error> {
        let started = std::time::Instant::now();
        let since = |t: std::time::Instant| t.elapsed().as_micros() as u64;
        self.folded = 0;
        while let Ok(batch) = self.accepted.try_recv() {
            self.folded += batch.events.len();
            self.covered.events += batch.events.len() as u64;
            self.covered.next_seq = batch.next_seq;
            for event in batch.events {
                self.agg.apply(event);
            }
        }
        self.agg.advance(now_micros);
        self.parts.fold_us = since(started);
        let indexed = std::time::Instant::now();
        let planned = state::planned(&self.region, now_micros);
        let k = self.shared.settings.read().expect("settings lock").k;
        if self.agg.take_changed()
            || self.last_index.is_empty()
            || planned != self.last_planned
            || k != self.last_k
        {
            self.last_index = self
                .formula
                .compute(&state::index_inputs(&self.agg, &planned, k));
            self.last_planned = planned;
            self.last_k = k;
        }
        let basis = self.ranking.basis_at(now_micros, state::least_n(&self.agg));
        let values = state::ranking_values(&self.region, &self.agg, &self.last_index, basis);
        let codes: Vec<String> = self
            .region
            .districts
            .iter()
            .map(|d| d.code.clone())
            .collect();
        self.ranking.update(now_micros, basis, &values, &codes);
        self.parts.index_us = since(indexed);
        let viewed = std::time::Instant::now();
        let paces = self.paces(now_micros);
        let wall = self.shared.wall.lock().expect("wall lock").clone();
        let settings = self.shared.settings.read().expect("settings lock").clone();
        let closes = self.shared.closes.lock().expect("history lock").clone();
        let inputs = state::Inputs {
            region: &self.region,
            agg: &self.agg,
            index: &self.last_index,
            planned: &self.last_planned,
            ranking: &self.ranking,
            closes: &closes,
            now_micros,
            paces: &paces,
            wall,
        };
        let mut staff = state::build(&inputs);
        let mut city = state::for_viewers(&staff, settings.k);
        let mut districts: Vec<State> = (0..self.region.districts.len())
            .map(|d| state::for_district(&staff, &inputs, d, settings.k))
            .collect();
        self.hold
            .apply(&self.agg, settings.k, &mut city, &mut districts);
        staff.alerts = Some(self.alerts(now_micros, &settings.alerts));
        self.parts.views_us = since(viewed);
        Ok(Views {
            staff,
            city,
            districts,
        })
    }

    fn alerts(&mut self, now: i64, thresholds: &settings::AlertThresholds) -> Vec<state::Alert> {
        let started = self.started;
        let keys: Vec<(String, i64)> = (self.shared.keys)(now)
            .into_iter()
            .map(|(name, created)| (name, created.max(started)))
            .collect();
        let (last_request, rejected_last_minute) = {
            let activity = self.shared.metrics.activity.lock().expect("activity lock");
            (
                activity.last_request.clone(),
                activity.rejected_last_minute(now),
            )
        };
        let feed = alerts::Feed {
            now,
            keys: &keys,
            last_request: &last_request,
            rejected_last_minute,
            last_tick_ms: self.last_tick_ms,
        };
        let raised = self
            .alerts
            .evaluate(&self.region, &self.agg, &feed, thresholds);
        let gauges = &self.shared.metrics.alerts;
        for kind in ["district_drop", "key_silent", "rejected_burst", "tick_late"] {
            let n = raised.iter().filter(|a| a.kind == kind).count();
            gauges
                .get_or_create(&AlertLabel { kind: kind.into() })
                .set(n as i64);
        }
        raised
    }

    /// The paces of the city, then of each district.
    fn paces(&mut self, now: i64) -> Vec<Paces> {
        let t = self.region.targets;
        let city_targets = [t.people, t.interactive, t.managed, t.guardians];
        let of = |x: &crate::aggregate::Totals| [x.people, x.interactive, x.managed, x.guardians];
        let values: Vec<[u64; 4]> = std::iter::once(of(&self.agg.city))
            .chain(self.agg.districts.iter().map(|d| of(&d.totals)))
            .collect();
        let targets: Vec<[u64; 4]> = std::iter::once(city_targets)
            .chain(self.region.districts.iter().map(|d| {
                [
                    d.target_people,
                    d.target_interactive,
                    d.target_managed,
                    d.target_guardians,
                ]
            }))
            .collect();
        self.samples.push_back((now, values.clone()));
        while self
            .samples
            .get(1)
            .is_some_and(|(at, _)| now - at >= PACE_WINDOW_MICROS)
        {
            self.samples.pop_front();
        }
        let (then, old) = &self.samples[0];
        let span = now - then;
        values
            .iter()
            .zip(old)
            .zip(&targets)
            .map(|((values, old), targets)| {
                std::array::from_fn(|i| {
                    if span < PACE_MIN_MICROS {
                        return (0.0, None);
                    }
                    let per_minute = values[i].saturating_sub(old[i]) as f64
                        * MICROS_PER_MINUTE as f64
                        / span as f64;
                    let eta = (per_minute > 0.0 && values[i] < targets[i]).then(|| {
                        let minutes = (targets[i] - values[i]) as f64 / per_minute;
                        let at = now + (minutes * MICROS_PER_MINUTE as f64) as i64;
                        time::rfc3339_secs(at - at.rem_euclid(MICROS_PER_MINUTE))
                    });
                    ((per_minute * 10.0).round() / 10.0, eta)
                })
            })
            .collect()
    }
}

/// The tick's own OS thread. The tick never waits for tokio's blocking
/// pool, which password checks, store calls and exports share: a flood of
/// those cannot hold the walls still.
struct TickThread {
    jobs: std_mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl TickThread {
    fn start() -> TickThread {
        let (jobs, rx) = std_mpsc::channel::<Box<dyn FnOnce() + Send>>();
        std::thread::Builder::new()
            .name("weibing-tick".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .expect("the tick's thread starts");
        TickThread { jobs }
    }

    /// Runs `f` on the tick's thread; `Err` if it panicked.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
                p.downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into())
            });
            let _ = tx.send(result);
        };
        self.jobs
            .send(Box::new(job))
            .map_err(|_| "the tick's thread is gone".to_string())?;
        rx.await
            .map_err(|_| "the tick's thread is gone".to_string())?
    }
}

/// Runs ticks until `shutdown` turns true. A tick runs on its own thread
/// ([`TickThread`]); a late tick is skipped rather than queued. The figures
/// are saved beside the database as `save` says and once more when
/// stopping; `store` is held until then, so the store stays open for the
/// last save.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    engine: TickEngine,
    hub: Arc<Hubs>,
    every: Duration,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
    store: Store,
    save: SavePolicy,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut engine = Some(engine);
    let mut last_save: Option<std::time::Instant> = None;
    let mut saving: Option<tokio::task::JoinHandle<()>> = None;
    let thread = TickThread::start();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = wake.notified() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
        let mut e = engine.take().expect("the engine is back after each tick");
        let hub = hub.clone();
        let tick_metrics = metrics.clone();
        // One save at a time, and not more often than the policy allows.
        let may_save = saving.as_ref().is_none_or(|s| s.is_finished())
            && last_save.is_none_or(|t| t.elapsed() >= save.min_interval);
        let every_events = save.every_events;
        let joined = thread
            .run(move || {
                let started = std::time::Instant::now();
                let now = time::now_beijing_micros();
                match e.tick(now) {
                    Ok(views) => {
                        let computed = started.elapsed();
                        hub.publish(&views, now);
                        let took = started.elapsed();
                        tick_metrics.ticked(took.as_secs_f64(), now);
                        // One line per tick at debug: what the benchmark reads
                        // (docs/performance.md, "The scenarios"); off at the
                        // default level.
                        tracing::debug!(
                            folded = e.folded,
                            compute_us = computed.as_micros() as u64,
                            fold_us = e.parts.fold_us,
                            index_us = e.parts.index_us,
                            views_us = e.parts.views_us,
                            publish_us = (took - computed).as_micros() as u64,
                            "tick"
                        );
                    }
                    Err(err) => {
                        tick_metrics.tick_failures.inc();
                        tracing::error!(error = %err, "tick failed; the last state stays up");
                    }
                }
                let took = started.elapsed();
                e.took(took.as_secs_f64() * 1000.0);
                if took > Duration::from_millis(500) {
                    tracing::warn!(ms = took.as_millis() as u64, "slow tick");
                }
                // After the publish, so the screens do not wait for it.
                let saved = (may_save && e.unsaved() >= every_events && e.needs_saving())
                    .then(|| encode(&mut e));
                (e, saved.flatten())
            })
            .await;
        match joined {
            Ok((e, saved)) => {
                engine = Some(e);
                if let Some(saved) = saved {
                    last_save = Some(std::time::Instant::now());
                    let (store, path) = (store.clone(), save.database.clone());
                    saving = Some(tokio::spawn(write_saved(
                        store,
                        metrics.clone(),
                        path,
                        saved,
                    )));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "tick panicked; stopping the tick");
                break;
            }
        }
    }
    if let Some(previous) = saving {
        let _ = previous.await;
    }
    if let Some(mut e) = engine.filter(|e| e.needs_saving()) {
        let encoded = thread.run(move || encode(&mut e)).await;
        if let Ok(Some(saved)) = encoded {
            write_saved(store, metrics, save.database, saved).await;
        }
    }
}

/// The saved file's bytes, the token the database must name, and the
/// events they cover.
pub struct Saved {
    bytes: Vec<u8>,
    token: String,
    events: u64,
}

/// The engine's figures as the saved file's bytes (logged; `None` if they
/// could not be encoded).
fn encode(e: &mut TickEngine) -> Option<Saved> {
    let started = std::time::Instant::now();
    match e.save(time::now_beijing_micros()) {
        Ok((bytes, token)) => {
            tracing::info!(
                events = e.covered.events,
                bytes = bytes.len(),
                ms = started.elapsed().as_millis() as u64,
                "encoded the figures to save"
            );
            Some(Saved {
                bytes,
                token,
                events: e.covered.events,
            })
        }
        Err(err) => {
            tracing::error!(error = %err, "the figures could not be encoded to save");
            None
        }
    }
}

/// Writes the saved file beside `database`, then has the database name it.
/// Until the database names it, a start does not use it.
async fn write_saved(
    store: Store,
    metrics: Arc<Metrics>,
    database: std::path::PathBuf,
    saved: Saved,
) {
    let Saved {
        bytes,
        token,
        events,
    } = saved;
    let path = snapshot::path_for(&database);
    let started = std::time::Instant::now();
    let written =
        tokio::task::spawn_blocking(move || snapshot::write(&path, &bytes).map(|()| bytes.len()))
            .await;
    let result = match written {
        Ok(Ok(bytes)) => match store.set_setting(SNAPSHOT_SETTING, &token).await {
            Ok(()) => {
                metrics.saved_events.set(events as i64);
                tracing::info!(
                    bytes,
                    ms = started.elapsed().as_millis() as u64,
                    "saved the figures beside the database"
                );
                return;
            }
            Err(e) => e.to_string(),
        },
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    tracing::warn!(error = %result, "the figures were not saved; a start will replay the events");
}
