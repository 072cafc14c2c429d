//! The tick: every `--tick-ms` the newly committed events are folded in, the
//! index is recomputed, the state document is rebuilt and handed to the hub,
//! which publishes a delta or a heartbeat.

use std::collections::VecDeque;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::Aggregator;
use super::state::{self, Pace, State, Wall};
use crate::ingest::event::Event;
use crate::metrics::Metrics;
use crate::publish::Hub;
use crate::region::Region;
use crate::store::index::{IndexEngine, IndexInput, IndexOutput};
use crate::time::{self, MICROS_PER_MINUTE};

/// The window over which the pace towards each target is measured.
const PACE_WINDOW_MICROS: i64 = 15 * MICROS_PER_MINUTE;
/// Below this much history the pace is not extrapolated.
const PACE_MIN_MICROS: i64 = MICROS_PER_MINUTE;

pub struct TickEngine {
    region: Arc<Region>,
    agg: Aggregator,
    index: IndexEngine,
    last_index: Vec<IndexOutput>,
    accepted: std_mpsc::Receiver<Vec<Event>>,
    /// (time, [people, interactive, managed, guardians]) at each tick of the window.
    samples: VecDeque<(i64, [u64; 4])>,
    wall: Arc<Mutex<Wall>>,
}

impl TickEngine {
    pub fn new(
        region: Arc<Region>,
        agg: Aggregator,
        accepted: std_mpsc::Receiver<Vec<Event>>,
        wall: Arc<Mutex<Wall>>,
    ) -> Result<TickEngine, duckdb::Error> {
        Ok(TickEngine {
            index: IndexEngine::new(&region)?,
            region,
            agg,
            last_index: Vec::new(),
            accepted,
            samples: VecDeque::new(),
            wall,
        })
    }

    /// One tick at `now` (Beijing micros). Blocking: runs DuckDB.
    pub fn tick(&mut self, now_micros: i64) -> Result<State, duckdb::Error> {
        while let Ok(batch) = self.accepted.try_recv() {
            for event in batch {
                self.agg.apply(event);
            }
        }
        self.agg.advance(now_micros);
        if self.agg.take_changed() || self.last_index.is_empty() {
            let inputs: Vec<IndexInput> = self
                .agg
                .districts
                .iter()
                .map(|d| IndexInput {
                    people: d.totals.people,
                    managed: d.totals.managed,
                    guardians: d.totals.guardians,
                    rates: d
                        .observed_rates()
                        .map(|(r, c)| (r.code(), c.share(), c.n))
                        .collect(),
                })
                .collect();
            self.last_index = self.index.compute(&inputs)?;
        }
        let paces = self.paces(now_micros);
        let wall = self.wall.lock().expect("wall lock").clone();
        Ok(state::build(state::Inputs {
            region: &self.region,
            agg: &self.agg,
            index: &self.last_index,
            now_micros,
            paces,
            wall,
        }))
    }

    fn paces(&mut self, now: i64) -> [Pace; 4] {
        let city = self.agg.city;
        let values = [city.people, city.interactive, city.managed, city.guardians];
        let t = self.region.targets;
        let targets = [t.people, t.interactive, t.managed, t.guardians];
        self.samples.push_back((now, values));
        while self
            .samples
            .get(1)
            .is_some_and(|(at, _)| now - at >= PACE_WINDOW_MICROS)
        {
            self.samples.pop_front();
        }
        let (then, old) = self.samples[0];
        let span = now - then;
        std::array::from_fn(|i| {
            if span < PACE_MIN_MICROS {
                return (0.0, None);
            }
            let per_minute =
                values[i].saturating_sub(old[i]) as f64 * MICROS_PER_MINUTE as f64 / span as f64;
            let eta = (per_minute > 0.0 && values[i] < targets[i]).then(|| {
                let minutes = (targets[i] - values[i]) as f64 / per_minute;
                let at = now + (minutes * MICROS_PER_MINUTE as f64) as i64;
                time::rfc3339_secs(at - at.rem_euclid(MICROS_PER_MINUTE))
            });
            ((per_minute * 10.0).round() / 10.0, eta)
        })
    }
}

/// Runs ticks until `shutdown` turns true. A tick runs on the blocking pool;
/// a late tick is skipped rather than queued.
pub async fn run(
    engine: TickEngine,
    hub: Arc<Hub>,
    every: Duration,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut engine = Some(engine);
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
        let metrics = metrics.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let now = time::now_beijing_micros();
            match e.tick(now) {
                Ok(state) => {
                    hub.publish(&state, now);
                    metrics.ticked(started.elapsed().as_secs_f64(), now);
                }
                Err(err) => {
                    metrics.tick_failures.inc();
                    tracing::error!(error = %err, "tick failed; the last state stays up");
                }
            }
            let took = started.elapsed();
            if took > Duration::from_millis(500) {
                tracing::warn!(ms = took.as_millis() as u64, "slow tick");
            }
            e
        })
        .await;
        match joined {
            Ok(e) => engine = Some(e),
            Err(err) => {
                tracing::error!(error = %err, "tick panicked; stopping the tick");
                break;
            }
        }
    }
}
