//! The state document: what every screen is drawn from (see docs/protocol.md).
//!
//! Built from the aggregator's counters and the index engine's output. It
//! holds aggregates only, and its size depends on the region, not on history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::history::{Close, SHOWN};
use super::index::{Formula, round};
use super::privacy::{self, Cells};
use super::ranking::{Basis, Ranking};
use super::{Aggregator, RateCount, Totals};
use crate::model::{Category, Colour, NineRate};
use crate::region::{Half, Metric, Pilot, Region, Zone, midnight};
use crate::store::index::{IndexInput, IndexOutput};
use crate::time;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct State {
    pub region: String,
    /// `city`, or the district code of a district view.
    pub scope: String,
    pub totals: Totals,
    /// Persons by colour; null when hidden for viewers (docs/privacy.md).
    pub colours: Cells,
    /// Services by category; null when hidden for viewers.
    pub categories: Cells,
    /// Scan events by channel (see [`super::MAX_CHANNELS`]).
    pub channels: BTreeMap<String, u64>,
    /// The nine rates of the scope.
    pub rates: BTreeMap<&'static str, RateDoc>,
    pub targets: BTreeMap<&'static str, TargetDoc>,
    pub weights: BTreeMap<String, f64>,
    pub index: IndexDoc,
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
    /// The target pro-rated to now along its calendar (whole persons).
    pub planned: u64,
    /// value − planned: ahead of plan when ≥ 0.
    pub gap: i64,
    /// `not_started`, `ahead`, `behind` or `reached`.
    pub status: &'static str,
    /// Share of the time from start to deadline that has passed (4 decimals).
    pub elapsed: f64,
    pub start: String,
    pub deadline: String,
    /// The milestones on the way (city), or the district's own.
    pub milestones: Vec<MilestoneDoc>,
    /// Growth per minute over the last 15 minutes (one decimal).
    pub per_minute: f64,
    /// When the target is reached at that pace; `None` at zero pace or once reached.
    pub eta: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MilestoneDoc {
    pub date: String,
    pub value: u64,
    pub label: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendPoint {
    pub minute: String,
    pub scans: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DistrictDoc {
    pub name: String,
    pub zone: Zone,
    pub pilot: Pilot,
    pub population_10k: f64,
    pub population_60_10k: f64,
    #[serde(flatten)]
    pub totals: Totals,
    pub scans_last_minute: u64,
    /// people, interactive, managed and guardians per 10,000 residents (one decimal).
    pub per_10k: BTreeMap<&'static str, f64>,
    pub colours: Cells,
    pub channels: BTreeMap<String, u64>,
    pub rates: BTreeMap<&'static str, RateDoc>,
    /// The district's four targets.
    pub targets: BTreeMap<&'static str, u64>,
    /// The same, pro-rated to now.
    pub planned: BTreeMap<&'static str, u64>,
    /// Every component of the index: each weighted one, and any other computed.
    pub components: BTreeMap<String, ComponentDoc>,
    pub index: f64,
    pub rank: u32,
    /// The index's progress half alone, 0–100.
    pub progress: f64,
    /// The index's quality half alone, 0–100.
    pub quality: f64,
    /// The index at each month's close of `index.months`, oldest first.
    pub history: Vec<f64>,
    /// index − the last close's index (one decimal); `None` before the first close.
    pub change: Option<f64>,
    pub teams: BTreeMap<String, TeamDoc>,
}

/// One of the nine rates: `value` is the share of true among the `n`
/// persons observed (management: managed ÷ the target population `n`);
/// `None` (null) when nobody was observed.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct RateDoc {
    pub value: Option<f64>,
    pub n: u64,
    pub standard: f64,
    /// value ≥ standard; `None` without a value.
    pub pass: Option<bool>,
}

/// A component of the index, as it entered it (a missing one as 0).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct ComponentDoc {
    pub value: f64,
    /// Persons observed (rates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// The rate before scoring: pulled toward the city's (observed rates),
    /// or managed ÷ target population (management).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjusted: Option<f64>,
    pub flag: Flag,
}

/// How far a component can be trusted.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Flag {
    Ok,
    /// Observed on fewer than `min_n` persons (偏少).
    Thin,
    /// Nobody observed yet, or fewer than k persons (the privacy
    /// setting), within the grace period (待报).
    Pending,
    /// The same after the grace period (未报): counts 0.
    Missing,
}

/// How the index is made, published so anyone can recompute it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndexDoc {
    /// What the ranking (`order`) goes by now.
    pub basis: Basis,
    /// District codes, top first: the wall's bars.
    pub order: Vec<String>,
    /// When `order` last changed; `None` (null) while it is the start's.
    pub order_since: Option<String>,
    /// Each weighted component's half (`progress` or `quality`).
    pub halves: BTreeMap<String, Half>,
    /// The nine rates' standards.
    pub standards: BTreeMap<&'static str, StandardDoc>,
    pub cap: f64,
    pub prior: f64,
    pub min_n: u64,
    /// Until then a rate nobody was observed for is 待报, after it 未报.
    pub grace_until: String,
    /// The months whose closes `districts.<code>.history` holds (the last 12).
    pub months: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StandardDoc {
    pub name: String,
    pub plan: &'static str,
    pub floor: f64,
    pub standard: f64,
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
    /// [people, interactive, managed, guardians] planned now: the city's,
    /// then each district's ([`planned`]).
    pub planned: &'a [[u64; 4]],
    pub ranking: &'a Ranking,
    /// The index at month closes, oldest first.
    pub closes: &'a [Close],
    pub now_micros: i64,
    /// The city's paces, then each district's.
    pub paces: &'a [Paces],
    pub wall: Wall,
}

/// [people, interactive, managed, guardians] planned at `now`: the city's,
/// then each district's.
pub fn planned(region: &Region, now: i64) -> Vec<[u64; 4]> {
    let city = Metric::ALL.map(|m| region.plan(m).city_planned(now));
    std::iter::once(city)
        .chain(region.districts.iter().enumerate().map(|(d, district)| {
            Metric::ALL.map(|m| region.plan(m).district_planned(d, district.target(m), now))
        }))
        .collect()
}

/// What the index is computed from: each district's figures and plans.
/// The index's inputs: each district's figures, and its rates observed on
/// k persons or more (fewer is not reported yet: docs/privacy.md, docs/index.md).
pub fn index_inputs(agg: &Aggregator, planned: &[[u64; 4]], k: u64) -> Vec<IndexInput> {
    agg.districts
        .iter()
        .zip(&planned[1..])
        .map(|(d, planned)| IndexInput {
            values: values(&d.totals),
            planned: *planned,
            rates: d
                .observed_rates()
                .filter(|(_, c)| c.n >= k)
                .map(|(r, c)| (r.code(), c.trues, c.n))
                .collect(),
        })
        .collect()
}

/// [people, interactive, managed, guardians] of some totals.
pub fn values(t: &Totals) -> [u64; 4] {
    [t.people, t.interactive, t.managed, t.guardians]
}

/// The smallest n of any observed rate in any district (what decides the
/// ranking's basis before the grace period ends).
pub fn least_n(agg: &Aggregator) -> u64 {
    agg.districts
        .iter()
        .flat_map(|d| {
            NineRate::ALL
                .iter()
                .filter(|r| r.observed())
                .map(|r| d.rates[r.index()].n)
        })
        .min()
        .unwrap_or(0)
}

/// The ranking's values on its basis: the index, or people per 10,000 residents.
pub fn ranking_values(
    region: &Region,
    agg: &Aggregator,
    index: &[IndexOutput],
    basis: Basis,
) -> Vec<f64> {
    match basis {
        Basis::Index => index.iter().map(|o| o.index).collect(),
        Basis::Progress => region
            .districts
            .iter()
            .zip(&agg.districts)
            .map(|(d, f)| per_10k(f.totals.people, d.population_10k))
            .collect(),
    }
}

/// The staff's state of `agg` at `now`, computed whole (no paces, a fresh
/// ranking), with the default k: what tests build.
pub fn compute(region: &Region, agg: &Aggregator, now: i64, wall: Wall) -> State {
    compute_with(
        region,
        agg,
        now,
        wall,
        crate::settings::Settings::default().k,
    )
}

/// [`compute`] with the privacy setting's k (the export, month closes).
pub fn compute_with(region: &Region, agg: &Aggregator, now: i64, wall: Wall, k: u64) -> State {
    let planned = planned(region, now);
    let index = Formula::new(region).compute(&index_inputs(agg, &planned, k));
    let mut ranking = Ranking::new(region);
    let basis = ranking.basis_at(now, least_n(agg));
    let codes: Vec<String> = region.districts.iter().map(|d| d.code.clone()).collect();
    ranking.update(
        now,
        basis,
        &ranking_values(region, agg, &index, basis),
        &codes,
    );
    build(&Inputs {
        region,
        agg,
        index: &index,
        planned: &planned,
        ranking: &ranking,
        closes: &[],
        now_micros: now,
        paces: &vec![Default::default(); region.districts.len() + 1],
        wall,
    })
}

fn per_10k(value: u64, population_10k: f64) -> f64 {
    if population_10k > 0.0 {
        round(value as f64 / population_10k, 1)
    } else {
        0.0
    }
}

fn rate_doc(count: RateCount, standard: f64) -> RateDoc {
    let value = (count.n > 0).then(|| count.share());
    RateDoc {
        value,
        n: count.n,
        standard,
        pass: value.map(|v| v >= standard),
    }
}

/// The nine rates of some district figures (or the city's sums);
/// management is `managed` of a target population of `target_managed`.
pub(crate) fn rates(
    region: &Region,
    counts: &[RateCount; NineRate::COUNT],
    managed: u64,
    target_managed: u64,
) -> BTreeMap<&'static str, RateDoc> {
    NineRate::ALL
        .iter()
        .map(|r| {
            let standard = region.rate(*r).standard;
            let doc = if r.observed() {
                rate_doc(counts[r.index()], standard)
            } else {
                let value =
                    (target_managed > 0).then(|| round(managed as f64 / target_managed as f64, 4));
                RateDoc {
                    value,
                    n: target_managed,
                    standard,
                    pass: value.map(|v| v >= standard),
                }
            };
            (r.code(), doc)
        })
        .collect()
}

fn by_metric<T: Copy>(values: [T; 4]) -> BTreeMap<&'static str, T> {
    Metric::ALL.iter().map(|m| m.code()).zip(values).collect()
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
    let grace_over = now_micros >= inputs.ranking.grace_until();
    let closes = &inputs.closes[inputs.closes.len().saturating_sub(SHOWN)..];
    let min_n = region.index.min_n;
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
    let mut city_channels: BTreeMap<String, u64> = BTreeMap::new();
    let mut city_rates = [RateCount::default(); NineRate::COUNT];
    let last_minute = agg.last_minute(now_micros);
    let districts = region
        .districts
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let figures = &agg.districts[i];
            for (name, n) in &figures.channels {
                *city_channels.entry(name.to_string()).or_default() += n;
            }
            for (sum, count) in city_rates.iter_mut().zip(&figures.rates) {
                sum.n += count.n;
                sum.trues += count.trues;
            }
            let out = &index[i];
            let mut components: BTreeMap<String, ComponentDoc> = out
                .components
                .iter()
                .map(|(name, value, adjusted)| {
                    let n = NineRate::parse(name)
                        .filter(|r| r.observed() && r.code() == name)
                        .map(|r| figures.rates[r.index()].n);
                    let flag = match n {
                        Some(n) if n < min_n => Flag::Thin,
                        _ => Flag::Ok,
                    };
                    (
                        name.clone(),
                        ComponentDoc {
                            value: *value,
                            n,
                            adjusted: *adjusted,
                            flag,
                        },
                    )
                })
                .collect();
            for w in &region.weights {
                components
                    .entry(w.component.clone())
                    .or_insert(ComponentDoc {
                        value: 0.0,
                        // A rate observed on fewer than k persons is left
                        // out of the index (docs/privacy.md): its n is shown.
                        n: Some(
                            NineRate::parse(&w.component)
                                .filter(|r| r.observed() && r.code() == w.component)
                                .map_or(0, |r| figures.rates[r.index()].n),
                        ),
                        adjusted: None,
                        flag: if grace_over {
                            Flag::Missing
                        } else {
                            Flag::Pending
                        },
                    });
            }
            let totals = figures.totals;
            (
                d.code.clone(),
                DistrictDoc {
                    name: d.name.clone(),
                    zone: d.zone,
                    pilot: d.pilot,
                    population_10k: d.population_10k,
                    population_60_10k: d.population_60_10k,
                    totals,
                    scans_last_minute: last_minute[i],
                    per_10k: by_metric(values(&totals).map(|v| per_10k(v, d.population_10k))),
                    colours: colours(&figures.colours),
                    channels: figures
                        .channels
                        .iter()
                        .map(|(name, n)| (name.to_string(), *n))
                        .collect(),
                    rates: rates(region, &figures.rates, totals.managed, d.target_managed),
                    targets: by_metric(Metric::ALL.map(|m| d.target(m))),
                    planned: by_metric(inputs.planned[1 + i]),
                    components,
                    index: out.index,
                    rank: out.rank,
                    progress: out.progress,
                    quality: out.quality,
                    history: closes.iter().map(|c| c.index[i]).collect(),
                    change: closes.last().map(|c| round(out.index - c.index[i], 1)),
                    teams: teams.next().expect("one per district"),
                },
            )
        })
        .collect();
    let codes = |order: &[usize]| -> Vec<String> {
        order
            .iter()
            .map(|&d| region.districts[d].code.clone())
            .collect()
    };
    State {
        region: region.name.clone(),
        scope: "city".into(),
        totals: agg.city,
        colours: colours(&agg.colours),
        categories: Category::ALL
            .iter()
            .map(|c| (c.code(), Some(agg.categories[c.index()])))
            .collect(),
        channels: city_channels,
        rates: rates(
            region,
            &city_rates,
            agg.city.managed,
            region.targets.managed,
        ),
        targets: targets(
            region,
            None,
            values(&agg.city),
            &inputs.planned[0],
            &paces[0],
            now_micros,
        ),
        weights: region
            .weights
            .iter()
            .map(|w| (w.component.clone(), w.weight))
            .collect(),
        index: IndexDoc {
            basis: inputs.ranking.basis,
            order: codes(&inputs.ranking.order),
            order_since: inputs.ranking.since.map(time::rfc3339_secs),
            halves: region
                .weights
                .iter()
                .map(|w| (w.component.clone(), w.half))
                .collect(),
            standards: region
                .rates
                .iter()
                .map(|r| {
                    (
                        r.rate.code(),
                        StandardDoc {
                            name: r.name.clone(),
                            plan: r.plan.code(),
                            floor: r.floor,
                            standard: r.standard,
                        },
                    )
                })
                .collect(),
            cap: region.index.cap,
            prior: region.index.prior,
            min_n,
            grace_until: time::rfc3339_secs(inputs.ranking.grace_until()),
            months: closes.iter().map(|c| c.month.clone()).collect(),
        },
        trend: trend(agg, now_micros, None),
        districts,
        wall: wall.clone(),
        alerts: None,
    }
}

fn colours(counts: &[u64; Colour::COUNT]) -> Cells {
    Colour::ALL
        .iter()
        .map(|c| (c.code(), Some(counts[c.index()])))
        .collect()
}

/// The four targets of the city (`district` None) or of a district.
fn targets(
    region: &Region,
    district: Option<usize>,
    values: [u64; 4],
    planned: &[u64; 4],
    paces: &Paces,
    now: i64,
) -> BTreeMap<&'static str, TargetDoc> {
    Metric::ALL
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let plan = region.plan(*m);
            let (target, milestones) = match district {
                None => (plan.target, &plan.milestones),
                Some(d) => (region.districts[d].target(*m), &plan.districts[d]),
            };
            let elapsed = plan.elapsed(now);
            let (value, planned) = (values[i], planned[i]);
            let status = if target > 0 && value >= target {
                "reached"
            } else if now < midnight(plan.start) {
                "not_started"
            } else if value >= planned {
                "ahead"
            } else {
                "behind"
            };
            let pace = &paces[i];
            (
                m.code(),
                TargetDoc {
                    target,
                    value,
                    planned,
                    gap: value as i64 - planned as i64,
                    status,
                    elapsed: round(elapsed, 4),
                    start: plan.start.to_string(),
                    deadline: plan.deadline.to_string(),
                    milestones: milestones
                        .iter()
                        .map(|ms| MilestoneDoc {
                            date: ms.date.to_string(),
                            value: ms.value,
                            label: ms.label.clone(),
                        })
                        .collect(),
                    per_minute: pace.0,
                    eta: pace.1.clone(),
                },
            )
        })
        .collect()
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

/// The state for city links and walls: the staff's, without alerts, with
/// small figures hidden (see [`privacy`]; the hold is the tick's).
pub fn for_viewers(staff: &State, k: u64) -> State {
    let mut state = staff.clone();
    state.alerts = None;
    privacy::tables(
        &mut state.colours,
        state.totals.assessed,
        &mut state.categories,
        state.totals.services,
        k,
    );
    privacy::rates(&mut state.rates, k);
    for district in state.districts.values_mut() {
        privacy::district(district, k);
    }
    state
}

/// The state of a district link: that district's figures only, suppressed
/// as for viewers. `staff` must be built from the same inputs.
pub fn for_district(staff: &State, inputs: &Inputs<'_>, d: usize, k: u64) -> State {
    let region = inputs.region;
    let code = &region.districts[d].code;
    let mut doc = staff.districts[code].clone();
    privacy::district(&mut doc, k);
    let figures = &inputs.agg.districts[d];
    let mut categories: Cells = Category::ALL
        .iter()
        .map(|c| (c.code(), Some(figures.categories[c.index()])))
        .collect();
    privacy::categories(&mut categories, figures.totals.services, k);
    let mut index = staff.index.clone();
    index.order = vec![code.clone()];
    State {
        region: region.name.clone(),
        scope: code.clone(),
        totals: figures.totals,
        colours: doc.colours.clone(),
        categories,
        channels: doc.channels.clone(),
        rates: doc.rates.clone(),
        targets: targets(
            region,
            Some(d),
            values(&figures.totals),
            &inputs.planned[1 + d],
            &inputs.paces[1 + d],
            inputs.now_micros,
        ),
        weights: staff.weights.clone(),
        index,
        trend: trend(inputs.agg, inputs.now_micros, Some(d)),
        districts: BTreeMap::from([(code.clone(), doc)]),
        wall: staff.wall.clone(),
        alerts: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Detail, Event, Stage};

    /// Launch morning, 11:00 of the program's first day.
    #[test]
    fn on_launch_morning_the_targets_are_planned_to_the_hour_and_the_ranking_goes_by_reach() {
        let day: chrono::NaiveDate = "2026-12-03".parse().unwrap();
        let region = Region::load("beijing").unwrap().starting(day);
        let now = midnight(day) + 11 * 3_600_000_000;
        let mut agg = Aggregator::new(region.districts.len(), now);
        let event = |i: usize, detail: Detail| Event {
            id: format!("e-{i}"),
            ts: now - 1,
            district: 3,
            person: format!("p-{i:06}"),
            detail,
        };
        for i in 0..82 {
            agg.apply(event(
                i,
                Detail::Scan {
                    channel: Some("launch-hall".into()),
                },
            ));
        }
        for i in 0..3 {
            agg.apply(event(
                100 + i,
                Detail::Train {
                    stage: Stage::Certified,
                },
            ));
        }
        let state = compute(&region, &agg, now, Wall::default());

        // 11 hours of 730 days: 1,000,000 × 11 / 17,520 = 627.85.
        let people = &state.targets["people"];
        assert_eq!(
            (people.planned, people.gap, people.status),
            (628, 82 - 628, "behind")
        );
        assert_eq!(people.elapsed, 0.0006);
        assert_eq!(
            (people.start.as_str(), people.deadline.as_str()),
            ("2026-12-03", "2028-12-02")
        );
        // Guardians: the first 10,000 by the moved end of 2017 (186 days in):
        // 10,000 × 11 / 4,464 = 24.64.
        let guardians = &state.targets["guardians"];
        assert_eq!(
            (guardians.value, guardians.planned, guardians.status),
            (3, 25, "behind")
        );
        assert_eq!(guardians.milestones[0].date, "2027-06-07");
        let fengtai = &state.districts["110106"];
        // Fengtai's managed follow its own pilot plan, from day 118: none yet.
        assert_eq!(fengtai.planned["managed"], 0);
        assert_eq!(fengtai.per_10k["people"], 0.4);
        assert_eq!(fengtai.channels["launch-hall"], 82);
        assert_eq!(state.channels["launch-hall"], 82);
        // No outcome yet: every observed rate is 待报, counted 0.
        let awareness = fengtai.components["awareness"];
        assert_eq!(
            (awareness.value, awareness.n, awareness.flag),
            (0.0, Some(0), Flag::Pending)
        );
        assert_eq!(fengtai.rates["awareness"].value, None);
        assert_eq!(fengtai.rates["awareness"].pass, None);
        assert_eq!(state.index.basis, Basis::Progress);
        assert_eq!(
            state.index.order[0], "110106",
            "the only district with people"
        );
        assert_eq!(state.index.order.len(), 16);
        assert_eq!(state.index.grace_until, "2027-01-03T00:00:00+08:00");
        assert!(state.index.months.is_empty());
        assert_eq!(fengtai.change, None);
        // The index's own contract, from the published parts.
        let (mut num, mut den) = (0.0, 0.0);
        for (name, w) in &state.weights {
            num += w * fengtai.components[name].value;
            den += w;
        }
        assert_eq!(round(100.0 * num / den, 1), fengtai.index);
    }
}
