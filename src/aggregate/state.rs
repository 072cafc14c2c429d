//! The state document: what every screen is drawn from (see docs/protocol.md).
//!
//! Built from the aggregator's counters and the index engine's output. It
//! holds aggregates only, and its size depends on the region, not on history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Aggregator, Totals};
use crate::ingest::event::{Category, Colour};
use crate::region::Region;
use crate::store::index::IndexOutput;
use crate::time;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct State {
    pub region: String,
    pub totals: Totals,
    pub colours: BTreeMap<&'static str, u64>,
    pub categories: BTreeMap<&'static str, u64>,
    pub targets: BTreeMap<&'static str, TargetDoc>,
    pub weights: BTreeMap<String, f64>,
    pub trend: Vec<TrendPoint>,
    pub districts: BTreeMap<String, DistrictDoc>,
    pub wall: Wall,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetDoc {
    pub target: u64,
    pub value: u64,
    /// Growth per minute over the last 15 minutes (one decimal).
    pub per_minute: f64,
    /// When the target is reached at that pace; `None` at zero pace or once reached.
    pub eta: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendPoint {
    pub minute: String,
    pub scans: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DistrictDoc {
    pub name: String,
    #[serde(flatten)]
    pub totals: Totals,
    pub scans_last_minute: u64,
    pub colours: BTreeMap<&'static str, u64>,
    pub rates: BTreeMap<&'static str, RateDoc>,
    pub targets: DistrictTargets,
    pub components: BTreeMap<String, f64>,
    pub index: f64,
    pub rank: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RateDoc {
    pub value: f64,
    pub n: u64,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct DistrictTargets {
    pub people: u64,
    pub managed: u64,
    pub guardians: u64,
}

/// The wall's launch moment (kept in the store's settings).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Wall {
    pub phase: Phase,
    pub title: String,
    pub countdown_to: Option<String>,
    pub launched_at: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Before,
    Live,
}

pub const WALL_TITLE: &str = "首都中医治未病 · 实时指挥大屏";

impl Default for Wall {
    fn default() -> Wall {
        Wall {
            phase: Phase::Live,
            title: WALL_TITLE.to_string(),
            countdown_to: None,
            launched_at: None,
        }
    }
}

/// The pace of one target: (per minute, eta).
pub type Pace = (f64, Option<String>);

pub struct Inputs<'a> {
    pub region: &'a Region,
    pub agg: &'a Aggregator,
    pub index: &'a [IndexOutput],
    pub now_micros: i64,
    pub paces: [Pace; 4],
    pub wall: Wall,
}

pub fn build(inputs: Inputs<'_>) -> State {
    let Inputs {
        region,
        agg,
        index,
        now_micros,
        paces,
        wall,
    } = inputs;
    let colours = |counts: &[u64; 5]| -> BTreeMap<&'static str, u64> {
        Colour::ALL
            .iter()
            .map(|c| (c.code(), counts[c.index()]))
            .collect()
    };
    let last_minute = agg.last_minute(now_micros);
    let districts = region
        .districts
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let figures = &agg.districts[i];
            let rates = figures
                .observed_rates()
                .map(|(r, count)| {
                    (
                        r.code(),
                        RateDoc {
                            value: count.share(),
                            n: count.n,
                        },
                    )
                })
                .collect();
            let out = &index[i];
            (
                d.code.clone(),
                DistrictDoc {
                    name: d.name.clone(),
                    totals: figures.totals,
                    scans_last_minute: last_minute[i],
                    colours: colours(&figures.colours),
                    rates,
                    targets: DistrictTargets {
                        people: d.target_people,
                        managed: d.target_managed,
                        guardians: d.target_guardians,
                    },
                    components: out.components.iter().cloned().collect(),
                    index: out.index,
                    rank: out.rank,
                },
            )
        })
        .collect();
    let t = region.targets;
    let target = |target: u64, value: u64, pace: &Pace| TargetDoc {
        target,
        value,
        per_minute: pace.0,
        eta: pace.1.clone(),
    };
    State {
        region: region.name.clone(),
        totals: agg.city,
        colours: colours(&agg.colours),
        categories: Category::ALL
            .iter()
            .map(|c| (c.code(), agg.categories[c.index()]))
            .collect(),
        targets: BTreeMap::from([
            ("people", target(t.people, agg.city.people, &paces[0])),
            (
                "interactive",
                target(t.interactive, agg.city.interactive, &paces[1]),
            ),
            ("managed", target(t.managed, agg.city.managed, &paces[2])),
            (
                "guardians",
                target(t.guardians, agg.city.guardians, &paces[3]),
            ),
        ]),
        weights: region.weights.iter().cloned().collect(),
        trend: agg
            .trend(now_micros)
            .into_iter()
            .map(|(minute, scans)| TrendPoint {
                minute: time::rfc3339_secs(minute),
                scans,
            })
            .collect(),
        districts,
        wall,
    }
}
