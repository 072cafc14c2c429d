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
    /// `city`, or the district code of a district view.
    pub scope: String,
    pub totals: Totals,
    pub colours: BTreeMap<&'static str, u64>,
    pub categories: BTreeMap<&'static str, u64>,
    pub targets: BTreeMap<&'static str, TargetDoc>,
    pub weights: BTreeMap<String, f64>,
    pub trend: Vec<TrendPoint>,
    pub districts: BTreeMap<String, DistrictDoc>,
    pub wall: Wall,
    /// Staff only (see [`Alert`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Vec<Alert>>,
}

/// Something staff should look at; it clears itself when the cause is gone.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Alert {
    /// Stable while the alert lasts, e.g. `district_drop:110106`.
    pub id: String,
    pub kind: &'static str,
    /// A district name, a key name, or `tick`.
    #[serde(rename = "where")]
    pub place: String,
    pub message: String,
    pub since: String,
}

/// A team's figures; `None` (null) when suppressed for viewers.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct TeamDoc {
    pub managed: Option<u64>,
    pub served: Option<u64>,
    pub services: Option<u64>,
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
    pub teams: BTreeMap<String, TeamDoc>,
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

/// The paces of [people, interactive, managed, guardians].
pub type Paces = [Pace; 4];

pub struct Inputs<'a> {
    pub region: &'a Region,
    pub agg: &'a Aggregator,
    pub index: &'a [IndexOutput],
    pub now_micros: i64,
    /// The city's paces, then each district's.
    pub paces: &'a [Paces],
    pub wall: Wall,
}

/// The staff's state: the whole city, every team figure as it is.
pub fn build(inputs: &Inputs<'_>) -> State {
    let (region, agg, index, now_micros, paces) = (
        inputs.region,
        inputs.agg,
        inputs.index,
        inputs.now_micros,
        inputs.paces,
    );
    let wall = &inputs.wall;
    let mut teams: Vec<BTreeMap<String, TeamDoc>> = vec![BTreeMap::new(); region.districts.len()];
    for team in &agg.teams {
        teams[team.district as usize].insert(
            team.name.to_string(),
            TeamDoc {
                managed: Some(team.figures.managed),
                served: Some(team.figures.served),
                services: Some(team.figures.services),
            },
        );
    }
    let mut teams = teams.into_iter();
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
                    teams: teams.next().expect("one per district"),
                },
            )
        })
        .collect();
    let t = region.targets;
    let paces = &paces[0];
    State {
        region: region.name.clone(),
        scope: "city".into(),
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
        trend: trend(agg, now_micros, None),
        districts,
        wall: wall.clone(),
        alerts: None,
    }
}

fn target(target: u64, value: u64, pace: &Pace) -> TargetDoc {
    TargetDoc {
        target,
        value,
        per_minute: pace.0,
        eta: pace.1.clone(),
    }
}

fn trend(agg: &Aggregator, now_micros: i64, district: Option<usize>) -> Vec<TrendPoint> {
    agg.trend(now_micros, district)
        .into_iter()
        .map(|(minute, scans)| TrendPoint {
            minute: time::rfc3339_secs(minute),
            scans,
        })
        .collect()
}

/// The state for city links and walls: the staff's, without alerts, and
/// with every team figure behind 1 to k−1 persons suppressed.
pub fn for_viewers(staff: &State, k: u64) -> State {
    let mut state = staff.clone();
    state.alerts = None;
    for district in state.districts.values_mut() {
        suppress(district, k);
    }
    state
}

fn suppress(district: &mut DistrictDoc, k: u64) {
    let small = |n: Option<u64>| n.is_some_and(|n| n > 0 && n < k);
    for team in district.teams.values_mut() {
        if small(team.served) {
            // The services of fewer than k persons would tell about them.
            team.services = None;
            team.served = None;
        }
        if small(team.managed) {
            team.managed = None;
        }
    }
}

/// The state of a district link: that district's figures only, suppressed
/// as for viewers. `staff` must be built from the same inputs.
pub fn for_district(staff: &State, inputs: &Inputs<'_>, d: usize, k: u64) -> State {
    let region = inputs.region;
    let code = &region.districts[d].code;
    let mut doc = staff.districts[code].clone();
    suppress(&mut doc, k);
    let figures = &inputs.agg.districts[d];
    let paces = &inputs.paces[1 + d];
    State {
        region: region.name.clone(),
        scope: code.clone(),
        totals: figures.totals,
        colours: doc.colours.clone(),
        categories: Category::ALL
            .iter()
            .map(|c| (c.code(), figures.categories[c.index()]))
            .collect(),
        targets: BTreeMap::from([
            (
                "people",
                target(doc.targets.people, figures.totals.people, &paces[0]),
            ),
            (
                "managed",
                target(doc.targets.managed, figures.totals.managed, &paces[2]),
            ),
            (
                "guardians",
                target(doc.targets.guardians, figures.totals.guardians, &paces[3]),
            ),
        ]),
        weights: staff.weights.clone(),
        trend: trend(inputs.agg, inputs.now_micros, Some(d)),
        districts: BTreeMap::from([(code.clone(), doc)]),
        wall: staff.wall.clone(),
        alerts: None,
    }
}
