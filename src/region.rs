//! The region the program runs in: its districts, their targets, the
//! targets' calendar, the nine rates' standards and the index's weights and
//! settings, read from the staff-editable CSV files under
//! `fixtures/regions/<name>/` (docs/index.md explains each).
//!
//! The Beijing files are compiled in, so `--region beijing` works from any
//! directory; `--region DIR` reads a folder holding the same six files.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::model::{NineRate, Plan};

// By path, so that fuzz/ (which includes this file by path) finds it too.
#[path = "region/teams.rs"]
mod teams;
pub use teams::{MAX_TARGET, RegisteredTeam, Registry, TeamFields, with_edits};

/// Everything the server needs to know about the region.
#[derive(Debug, Clone)]
pub struct Region {
    pub name: String,
    /// The team registry (teams.csv; empty when the region has none).
    pub teams: Vec<RegisteredTeam>,
    pub districts: Vec<District>,
    /// The index's components and weights, in the file's order.
    pub weights: Vec<Weight>,
    pub targets: CityTargets,
    /// The calendar of each target, in [`Metric::ALL`]'s order.
    pub plans: [TargetPlan; 4],
    /// The nine rates' standards, in [`NineRate::ALL`]'s order.
    pub rates: Vec<RateSpec>,
    pub index: IndexSettings,
    /// Each district's code, name and aliases to its position (no two are
    /// alike: `load` refuses the file otherwise). Ingest and the replay at
    /// start look a district up for every event.
    positions: HashMap<String, u8>,
}

/// Beijing's functional zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Zone {
    /// 核心区
    Core,
    /// 拓展区
    Extended,
    /// 发展新区
    New,
    /// 生态涵养区
    Ecological,
}

impl Zone {
    pub const ALL: [Zone; 4] = [Zone::Core, Zone::Extended, Zone::New, Zone::Ecological];

    pub fn code(self) -> &'static str {
        match self {
            Zone::Core => "core",
            Zone::Extended => "extended",
            Zone::New => "new",
            Zone::Ecological => "ecological",
        }
    }
}

/// Whether a district is one of the program's pilot districts, and on what grounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pilot {
    /// Named by the program's documents.
    Seed,
    /// Assumed: the documents name only one of the seven.
    Assumed,
    No,
}

/// The four targets, each with its calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    People,
    Interactive,
    Managed,
    Guardians,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::People,
        Metric::Interactive,
        Metric::Managed,
        Metric::Guardians,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Metric::People => "people",
            Metric::Interactive => "interactive",
            Metric::Managed => "managed",
            Metric::Guardians => "guardians",
        }
    }

    /// The index's progress component of this target.
    pub fn component(self) -> &'static str {
        match self {
            Metric::People => "reach",
            other => other.code(),
        }
    }

    fn parse(text: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.code() == text)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct District {
    pub code: String,
    pub name: String,
    /// Other codes and names partner systems may send (e.g. 密云县, 110228).
    pub aliases: Vec<String>,
    pub zone: Zone,
    pub pilot: Pilot,
    pub population_10k: f64,
    pub population_60_10k: f64,
    pub target_people: u64,
    pub target_interactive: u64,
    pub target_managed: u64,
    pub target_guardians: u64,
}

impl District {
    pub fn target(&self, metric: Metric) -> u64 {
        match metric {
            Metric::People => self.target_people,
            Metric::Interactive => self.target_interactive,
            Metric::Managed => self.target_managed,
            Metric::Guardians => self.target_guardians,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CityTargets {
    pub people: u64,
    pub interactive: u64,
    pub managed: u64,
    pub guardians: u64,
}

/// Which half of the index a component belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Half {
    Progress,
    Quality,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    pub component: String,
    pub weight: f64,
    pub half: Half,
}

/// A rate's standard (达标 at or above it) and the floor that scores 0.
#[derive(Debug, Clone, PartialEq)]
pub struct RateSpec {
    pub rate: NineRate,
    pub name: String,
    pub plan: Plan,
    pub floor: f64,
    pub standard: f64,
}

/// The index's settings (index.csv).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexSettings {
    pub cap: f64,
    pub prior: f64,
    pub min_n: u64,
    pub grace_days: i64,
    pub margin: f64,
    pub reorder_seconds: u64,
}

/// A value planned by a date.
#[derive(Debug, Clone, PartialEq)]
pub struct Milestone {
    pub date: NaiveDate,
    pub value: u64,
    pub label: String,
}

/// A target's calendar: planned linearly from 0 at `start` to `target` at
/// `deadline`, through the city's milestones; a district plans its share
/// of that curve, or along its own milestones where it has some.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetPlan {
    pub metric: Metric,
    pub target: u64,
    pub start: NaiveDate,
    pub deadline: NaiveDate,
    pub milestones: Vec<Milestone>,
    /// Each district's own milestones (empty: its share of the city's curve).
    pub districts: Vec<Vec<Milestone>>,
}

/// Beijing micros of a date's midnight.
pub fn midnight(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp_micros()
}

/// The value of a polyline through `points` at `at`: 0 before the first
/// point, the last value after the last, linear between.
fn along(points: &[(i64, f64)], at: i64) -> f64 {
    let Some(&(first, _)) = points.first() else {
        return 0.0;
    };
    if at < first {
        return 0.0;
    }
    for pair in points.windows(2) {
        let ((t0, v0), (t1, v1)) = (pair[0], pair[1]);
        if at < t1 {
            return v0 + (v1 - v0) * (at - t0) as f64 / (t1 - t0) as f64;
        }
    }
    points.last().map_or(0.0, |p| p.1)
}

impl TargetPlan {
    fn city_points(&self) -> Vec<(i64, f64)> {
        std::iter::once((midnight(self.start), 0.0))
            .chain(
                self.milestones
                    .iter()
                    .map(|m| (midnight(m.date), m.value as f64)),
            )
            .chain(std::iter::once((
                midnight(self.deadline),
                self.target as f64,
            )))
            .collect()
    }

    /// The city's planned value at `at` (Beijing micros), whole persons.
    pub fn city_planned(&self, at: i64) -> u64 {
        along(&self.city_points(), at).round() as u64
    }

    /// District `d`'s planned value at `at`, whole persons, for a district
    /// whose target is `target`.
    pub fn district_planned(&self, d: usize, target: u64, at: i64) -> u64 {
        let own = &self.districts[d];
        if own.is_empty() {
            if self.target == 0 {
                return 0;
            }
            let share = along(&self.city_points(), at) / self.target as f64;
            return (target as f64 * share).round() as u64;
        }
        let mut points: Vec<(i64, f64)> = own
            .iter()
            .map(|m| (midnight(m.date), m.value as f64))
            .collect();
        let deadline = midnight(self.deadline);
        if points.last().is_some_and(|&(t, _)| t < deadline) {
            points.push((deadline, target as f64));
        }
        along(&points, at).round() as u64
    }

    /// Share of the time from start to deadline that has passed at `at`, in [0, 1].
    pub fn elapsed(&self, at: i64) -> f64 {
        let (start, end) = (midnight(self.start), midnight(self.deadline));
        if end <= start {
            return 1.0;
        }
        ((at - start) as f64 / (end - start) as f64).clamp(0.0, 1.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegionError {
    #[error("region file {file}: {message}")]
    File { file: String, message: String },
    #[error("region {0:?} is neither a built-in region (beijing) nor a folder")]
    Unknown(String),
}

/// The region's files, as text.
pub struct Files<'a> {
    pub districts: &'a str,
    pub weights: &'a str,
    pub targets: &'a str,
    pub milestones: &'a str,
    pub rates: &'a str,
    pub index: &'a str,
    /// teams.csv, which a region may leave out.
    pub teams: Option<&'a str>,
}

/// The six files of a region folder.
pub const FILES: [&str; 6] = [
    "districts.csv",
    "weights.csv",
    "targets.csv",
    "milestones.csv",
    "rates.csv",
    "index.csv",
];

const BEIJING: Files<'static> = Files {
    districts: include_str!("../fixtures/regions/beijing/districts.csv"),
    weights: include_str!("../fixtures/regions/beijing/weights.csv"),
    targets: include_str!("../fixtures/regions/beijing/targets.csv"),
    milestones: include_str!("../fixtures/regions/beijing/milestones.csv"),
    rates: include_str!("../fixtures/regions/beijing/rates.csv"),
    index: include_str!("../fixtures/regions/beijing/index.csv"),
    teams: Some(include_str!("../fixtures/regions/beijing/teams.csv")),
};

#[derive(Deserialize)]
struct DistrictRow {
    code: String,
    name: String,
    aliases: String,
    zone: String,
    pilot: String,
    population_10k: f64,
    population_60_10k: f64,
    target_people: u64,
    target_interactive: u64,
    target_managed: u64,
    target_guardians: u64,
}

#[derive(Deserialize)]
struct WeightRow {
    component: String,
    weight: f64,
    half: String,
}

#[derive(Deserialize)]
struct TargetRow {
    metric: String,
    target: u64,
    start: NaiveDate,
    deadline: NaiveDate,
}

#[derive(Deserialize)]
struct MilestoneRow {
    metric: String,
    scope: String,
    date: NaiveDate,
    value: u64,
    label: String,
}

#[derive(Deserialize)]
struct RateRow {
    code: String,
    name: String,
    plan: String,
    floor: f64,
    standard: f64,
}

#[derive(Deserialize)]
struct SettingRow {
    setting: String,
    value: f64,
}

impl Region {
    /// `beijing` (built in) or a folder with the six files of [`FILES`].
    pub fn load(name_or_dir: &str) -> Result<Region, RegionError> {
        if name_or_dir == "beijing" {
            return Region::parse("beijing", &BEIJING);
        }
        let dir = Path::new(name_or_dir);
        if !dir.is_dir() {
            return Err(RegionError::Unknown(name_or_dir.to_string()));
        }
        let mut texts = Vec::new();
        for file in FILES {
            texts.push(
                std::fs::read_to_string(dir.join(file)).map_err(|e| RegionError::File {
                    file: dir.join(file).display().to_string(),
                    message: e.to_string(),
                })?,
            );
        }
        let teams = match std::fs::read_to_string(dir.join("teams.csv")) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(RegionError::File {
                    file: dir.join("teams.csv").display().to_string(),
                    message: e.to_string(),
                });
            }
        };
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| name_or_dir.to_string());
        Region::parse(
            &name,
            &Files {
                districts: &texts[0],
                weights: &texts[1],
                targets: &texts[2],
                milestones: &texts[3],
                rates: &texts[4],
                index: &texts[5],
                teams: teams.as_deref(),
            },
        )
    }

    pub fn parse(name: &str, files: &Files<'_>) -> Result<Region, RegionError> {
        let rows: Vec<DistrictRow> = read_csv("districts.csv", files.districts)?;
        if rows.is_empty() || rows.len() > 255 {
            return Err(file_error("districts.csv", "needs 1 to 255 districts"));
        }
        let mut districts = Vec::with_capacity(rows.len());
        for d in rows {
            let zone = match d.zone.as_str() {
                "core" => Zone::Core,
                "extended" => Zone::Extended,
                "new" => Zone::New,
                "ecological" => Zone::Ecological,
                other => {
                    return Err(file_error(
                        "districts.csv",
                        &format!(
                            "zone of {}: {other:?} is not one of core, extended, new, ecological",
                            d.code
                        ),
                    ));
                }
            };
            let pilot = match d.pilot.as_str() {
                "seed" => Pilot::Seed,
                "assumed" => Pilot::Assumed,
                "no" => Pilot::No,
                other => {
                    return Err(file_error(
                        "districts.csv",
                        &format!(
                            "pilot of {}: {other:?} is not one of seed, assumed, no",
                            d.code
                        ),
                    ));
                }
            };
            districts.push(District {
                aliases: d
                    .aliases
                    .split('|')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(String::from)
                    .collect(),
                code: d.code,
                name: d.name,
                zone,
                pilot,
                population_10k: d.population_10k,
                population_60_10k: d.population_60_10k,
                target_people: d.target_people,
                target_interactive: d.target_interactive,
                target_managed: d.target_managed,
                target_guardians: d.target_guardians,
            });
        }
        let mut positions = HashMap::new();
        for (i, d) in districts.iter().enumerate() {
            for key in [&d.code, &d.name].into_iter().chain(&d.aliases) {
                if positions.insert(key.clone(), i as u8).is_some() {
                    return Err(file_error(
                        "districts.csv",
                        &format!("{key} names two districts, or one twice"),
                    ));
                }
            }
        }

        let weights = read_csv::<WeightRow>("weights.csv", files.weights)?
            .into_iter()
            .map(|w| {
                if !(w.weight.is_finite() && w.weight >= 0.0) {
                    return Err(file_error(
                        "weights.csv",
                        &format!("weight of {} must be a number ≥ 0", w.component),
                    ));
                }
                let half = match w.half.as_str() {
                    "progress" => Half::Progress,
                    "quality" => Half::Quality,
                    other => {
                        return Err(file_error(
                            "weights.csv",
                            &format!("half of {}: {other:?} is not progress or quality", w.component),
                        ));
                    }
                };
                let known = Metric::ALL.iter().any(|m| m.component() == w.component)
                    || NineRate::parse(&w.component).is_some_and(|r| r.code() == w.component);
                if !known {
                    return Err(file_error(
                        "weights.csv",
                        &format!(
                            "{:?} is not a component: reach, interactive, managed, guardians or one of the nine rates' codes",
                            w.component
                        ),
                    ));
                }
                Ok(Weight {
                    component: w.component,
                    weight: w.weight,
                    half,
                })
            })
            .collect::<Result<Vec<Weight>, RegionError>>()?;

        let targets: Vec<TargetRow> = read_csv("targets.csv", files.targets)?;
        let milestones: Vec<MilestoneRow> = read_csv("milestones.csv", files.milestones)?;
        for m in &milestones {
            if Metric::parse(&m.metric).is_none() {
                return Err(file_error(
                    "milestones.csv",
                    &format!(
                        "{:?} is not a target (people, interactive, managed, guardians)",
                        m.metric
                    ),
                ));
            }
            if m.scope != "city" && !positions.contains_key(&m.scope) {
                return Err(file_error(
                    "milestones.csv",
                    &format!("scope {:?} is neither city nor a district code", m.scope),
                ));
            }
        }
        let plan = |metric: Metric| -> Result<TargetPlan, RegionError> {
            let row = targets
                .iter()
                .find(|t| t.metric == metric.code())
                .ok_or_else(|| {
                    file_error("targets.csv", &format!("no row for {}", metric.code()))
                })?;
            if row.deadline <= row.start {
                return Err(file_error(
                    "targets.csv",
                    &format!("the deadline of {} is not after its start", metric.code()),
                ));
            }
            let of = |scope: &str| -> Vec<Milestone> {
                let mut own: Vec<Milestone> = milestones
                    .iter()
                    .filter(|m| m.metric == metric.code() && m.scope == scope)
                    .map(|m| Milestone {
                        date: m.date,
                        value: m.value,
                        label: m.label.clone(),
                    })
                    .collect();
                own.sort_by_key(|m| m.date);
                own
            };
            Ok(TargetPlan {
                metric,
                target: row.target,
                start: row.start,
                deadline: row.deadline,
                milestones: of("city"),
                districts: districts.iter().map(|d| of(&d.code)).collect(),
            })
        };
        let plans = [
            plan(Metric::People)?,
            plan(Metric::Interactive)?,
            plan(Metric::Managed)?,
            plan(Metric::Guardians)?,
        ];

        let rate_rows: Vec<RateRow> = read_csv("rates.csv", files.rates)?;
        let mut rates = Vec::with_capacity(NineRate::ALL.len());
        for rate in NineRate::ALL {
            let row = rate_rows
                .iter()
                .find(|r| r.code == rate.code())
                .ok_or_else(|| file_error("rates.csv", &format!("no row for {}", rate.code())))?;
            let plan = Plan::parse(&row.plan).ok_or_else(|| {
                file_error(
                    "rates.csv",
                    &format!(
                        "plan of {}: {:?} is not training, technical or implementation",
                        row.code, row.plan
                    ),
                )
            })?;
            let in_unit = |x: f64| x.is_finite() && (0.0..=1.0).contains(&x);
            if !(in_unit(row.floor) && in_unit(row.standard) && row.floor < row.standard) {
                return Err(file_error(
                    "rates.csv",
                    &format!(
                        "{}: floor and standard lie in [0, 1], the floor below the standard",
                        row.code
                    ),
                ));
            }
            rates.push(RateSpec {
                rate: *rate,
                name: row.name.clone(),
                plan,
                floor: row.floor,
                standard: row.standard,
            });
        }
        if rate_rows.len() != NineRate::ALL.len() {
            return Err(file_error(
                "rates.csv",
                "needs exactly the nine rates, one row each",
            ));
        }

        let settings: Vec<SettingRow> = read_csv("index.csv", files.index)?;
        let setting = |name: &str| -> Result<f64, RegionError> {
            settings
                .iter()
                .find(|s| s.setting == name)
                .map(|s| s.value)
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| file_error("index.csv", &format!("{name}: needs a number ≥ 0")))
        };
        let index = IndexSettings {
            cap: setting("cap")?,
            prior: setting("prior")?,
            min_n: setting("min_n")? as u64,
            grace_days: setting("grace_days")? as i64,
            margin: setting("margin")?,
            reorder_seconds: setting("reorder_seconds")? as u64,
        };
        if index.cap < 1.0 {
            return Err(file_error("index.csv", "cap: needs a number ≥ 1"));
        }

        let teams = match files.teams {
            Some(text) => teams::parse(text, |d| positions.get(d).copied())?,
            None => Vec::new(),
        };
        Ok(Region {
            name: name.to_string(),
            teams,
            positions,
            targets: CityTargets {
                people: plans[0].target,
                interactive: plans[1].target,
                managed: plans[2].target,
                guardians: plans[3].target,
            },
            plans,
            rates,
            index,
            districts,
            weights,
        })
    }

    /// The district's position, from its code, its exact name or an alias.
    pub fn district_index(&self, code_or_name: &str) -> Option<u8> {
        self.positions.get(code_or_name).copied()
    }

    pub fn plan(&self, metric: Metric) -> &TargetPlan {
        &self.plans[metric as usize]
    }

    pub fn rate(&self, rate: NineRate) -> &RateSpec {
        &self.rates[rate.index()]
    }

    /// The day the program started (the people target's start).
    pub fn program_start(&self) -> NaiveDate {
        self.plans[0].start
    }

    /// The same region with its whole calendar moved so the program starts
    /// on `start` (a demo or a simulation of months that end today).
    pub fn starting(mut self, start: NaiveDate) -> Region {
        let shift = start - self.program_start();
        for plan in &mut self.plans {
            plan.start += shift;
            plan.deadline += shift;
            for m in plan
                .milestones
                .iter_mut()
                .chain(plan.districts.iter_mut().flatten())
            {
                m.date += shift;
            }
        }
        self
    }
}

fn file_error(file: &str, message: &str) -> RegionError {
    RegionError::File {
        file: file.to_string(),
        message: message.to_string(),
    }
}

fn read_csv<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<Vec<T>, RegionError> {
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    reader
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| file_error(file, &e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn beijing_has_sixteen_districts_with_current_names_and_old_aliases() {
        let region = Region::load("beijing").unwrap();
        assert_eq!(region.districts.len(), 16);
        assert_eq!(region.district_index("110106"), Some(3));
        assert_eq!(region.district_index("丰台区"), Some(3));
        assert_eq!(region.district_index("密云区"), Some(14));
        assert_eq!(region.district_index("密云县"), Some(14));
        assert_eq!(region.district_index("110228"), Some(14));
        assert_eq!(region.district_index("延庆县"), Some(15));
        assert_eq!(region.district_index("110229"), Some(15));
        assert_eq!(region.district_index("延庆"), None);
        let fengtai = &region.districts[3];
        assert_eq!(fengtai.target_managed, 15_000);
        assert_eq!((fengtai.zone, fengtai.pilot), (Zone::Extended, Pilot::Seed));
        assert_eq!(region.districts[0].zone, Zone::Core);
        assert_eq!(region.districts[15].zone, Zone::Ecological);
        assert_eq!(
            region
                .districts
                .iter()
                .filter(|d| d.pilot != Pilot::No)
                .count(),
            7,
            "seven pilot districts"
        );
        assert_eq!(
            region.targets,
            CityTargets {
                people: 1_000_000,
                interactive: 500_000,
                managed: 100_000,
                guardians: 100_000
            }
        );
        assert_eq!(region.weights.len(), 13);
        let half = |h: Half| -> f64 {
            region
                .weights
                .iter()
                .filter(|w| w.half == h)
                .map(|w| w.weight)
                .sum()
        };
        assert_eq!((half(Half::Progress), half(Half::Quality)), (36.0, 36.0));
        assert_eq!(region.rates.len(), 9);
        assert_eq!(region.rate(NineRate::Control).standard, 0.60);
        assert_eq!(region.index.min_n, 30);
    }

    #[test]
    fn targets_are_planned_along_their_calendar() {
        let region = Region::load("beijing").unwrap();
        let people = region.plan(Metric::People);
        // Two years from 2017-06-28: 730 days; on day 73 a tenth.
        assert_eq!(people.city_planned(midnight(date("2017-06-28"))), 0);
        assert_eq!(people.city_planned(midnight(date("2017-09-09"))), 100_000);
        assert_eq!(people.city_planned(midnight(date("2030-01-01"))), 1_000_000);
        assert_eq!(people.city_planned(midnight(date("2017-01-01"))), 0);
        // Fengtai's people: 104,000 along the city's curve.
        assert_eq!(
            people.district_planned(3, 104_000, midnight(date("2017-09-09"))),
            10_400
        );
        assert_eq!(people.elapsed(midnight(date("2017-09-09"))), 0.1);
        // Guardians: the first batch of 10,000 by the end of 2017, then on to 100,000.
        let guardians = region.plan(Metric::Guardians);
        assert_eq!(guardians.city_planned(midnight(date("2017-12-31"))), 10_000);
        let mid = midnight(date("2017-12-31"))
            + (midnight(date("2019-06-28")) - midnight(date("2017-12-31"))) / 2;
        assert_eq!(guardians.city_planned(mid), 55_000);
        // Fengtai's managed: nothing before its plan, 15,000 by 2017-11-30, flat after.
        let managed = region.plan(Metric::Managed);
        assert_eq!(
            managed.district_planned(3, 15_000, midnight(date("2017-08-01"))),
            0
        );
        assert_eq!(
            managed.district_planned(3, 15_000, midnight(date("2017-11-30"))),
            15_000
        );
        assert_eq!(
            managed.district_planned(3, 15_000, midnight(date("2018-06-01"))),
            15_000
        );
        // 37 days from 2017-10-24 to 2017-11-30.
        let day_10 = midnight(date("2017-11-03"));
        assert_eq!(
            managed.district_planned(3, 15_000, day_10),
            (15_000.0f64 * 10.0 / 37.0).round() as u64
        );
    }

    #[test]
    fn the_calendar_moves_whole_to_a_new_start() {
        let region = Region::load("beijing")
            .unwrap()
            .starting(date("2026-12-03"));
        assert_eq!(region.program_start(), date("2026-12-03"));
        assert_eq!(region.plan(Metric::People).deadline, date("2028-12-02"));
        assert_eq!(
            region.plan(Metric::Managed).districts[3][1].date,
            date("2027-05-07")
        );
    }
}
