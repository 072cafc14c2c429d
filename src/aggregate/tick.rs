//! The tick: every `--tick-ms` the newly committed events are folded in, the
//! index is recomputed, the state document is rebuilt and handed to the hub,
//! which publishes a delta or a heartbeat.

use std::collections::VecDeque;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};

use super::Aggregator;
use super::alerts::{self, Alerts};
use super::index::Formula;
use super::ranking::Ranking;
use super::saved::{self, SavedError};
use super::state::{self, Paces, State, Wall};
use crate::metrics::{AlertLabel, Metrics};
use crate::region::Region;
use crate::settings;
use crate::store::index::IndexOutput;
use crate::store::{Accepted, Covered};
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
    /// The open items of 一帐三单 (overdue ones are alerts).
    pub open_items: super::alerts::OpenItems,
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
    /// Events folded in by the last tick, and where its compute went.
    pub fn last(&self) -> (usize, Parts) {
        (self.folded, self.parts)
    }

    /// The stored events folded in so far.
    pub fn covered(&self) -> Covered {
        self.covered
    }

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
    pub fn save(&mut self, now_micros: i64) -> Result<(Vec<u8>, String), SavedError> {
        let header = saved::Header {
            token: format!("{:032x}", rand::random::<u128>()),
            region: self
                .region
                .districts
                .iter()
                .map(|d| d.code.clone())
                .collect(),
            lists: saved::lists(),
            next_seq: self.covered.next_seq,
            events: self.covered.events,
            saved_at: now_micros,
        };
        let bytes = saved::encode(&self.agg, &header)?;
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
        let open_items = self
            .shared
            .open_items
            .lock()
            .expect("the open items' lock")
            .clone();
        let feed = alerts::Feed {
            now,
            open_items: &open_items,
            keys: &keys,
            last_request: &last_request,
            rejected_last_minute,
            last_tick_ms: self.last_tick_ms,
        };
        let raised = self
            .alerts
            .evaluate(&self.region, &self.agg, &feed, thresholds);
        let gauges = &self.shared.metrics.alerts;
        for kind in [
            "district_drop",
            "key_silent",
            "rejected_burst",
            "tick_late",
            "ledger_overdue",
        ] {
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
