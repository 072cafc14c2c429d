//! The monthly review (seed 001): each team's and each district's figures
//! for a month against its target and the rates' standards, ranked, with the
//! change against the month before. The counts come from the store
//! (`sql/review.sql`); this turns them into the answer of
//! `GET /api/v1/review` (docs/review.md says what each figure means).

use std::collections::BTreeMap;

use serde::Serialize;

use super::RateCount;
use super::state::{RateDoc, rates};
use crate::model::{Category, NineRate};
use crate::region::Region;
use crate::store::review::MonthCounts;

/// The review of one month (or quarter) at one level.
#[derive(Debug, Clone, Serialize)]
pub struct Review {
    /// `YYYY-MM`, for a month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
    /// `YYYY-Qn`, for a quarter (its months' figures as they stand: the
    /// quarter's end is the last month's, "this month" is the quarter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarter: Option<String>,
    pub level: &'static str,
    pub closed: bool,
    /// RFC 3339, when closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<String>,
    /// The figures are as of this moment (the month's end, or now while it runs).
    pub as_of: String,
    pub rows: Vec<Row>,
}

/// A team's or a district's month.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The team's id (level team).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The team's name, or the district's.
    pub name: String,
    /// The district's code.
    pub district: String,
    pub district_name: String,
    /// Team rows: whether the registry lists the team (an unlisted name
    /// that events bring shows with target 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub institution: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discipline: Option<&'static str>,
    /// Managed persons to reach.
    pub target: u64,
    /// Managed persons as of the month's end.
    pub managed: u64,
    /// Of them, first enrolled (with this team, or in this district) this month.
    pub managed_new: u64,
    /// Services given this month, and by category.
    pub services: u64,
    pub categories: BTreeMap<&'static str, u64>,
    /// Patient follow-ups (患教回访) this month.
    pub followups: u64,
    /// Scans this month through the team's own QR code (a scan whose
    /// channel is the team's id); for a district, through its teams' codes.
    pub scans: u64,
    /// Persons certified as health guardians this month: managed by the
    /// team (by their latest enrolment), or certified in the district.
    pub guardians: u64,
    /// The nine rates of its managed persons (team) or of the persons
    /// observed there (district), as of the month's end.
    pub rates: BTreeMap<&'static str, RateDoc>,
    /// Rates at or above their standard.
    pub passed: usize,
    /// Among the district's teams (team) or the region's districts
    /// (district): by `passed`, then managed ÷ target; 1 is first.
    pub rank: usize,
    /// Against the month before: managed persons at its end, services in it.
    pub previous: Previous,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Previous {
    pub managed: u64,
    pub services: u64,
}

/// Which rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Team,
    District,
}

impl Level {
    pub fn code(self) -> &'static str {
        match self {
            Level::Team => "team",
            Level::District => "district",
        }
    }
}

/// The rows of `level` for a month from its counts, with the registry's
/// teams. `first_day` and `last_day` bound the month (for which registered
/// teams were active).
pub fn rows(
    region: &Region,
    registry: &[crate::region::RegisteredTeam],
    counts: &MonthCounts,
    level: Level,
    first_day: chrono::NaiveDate,
    last_day: chrono::NaiveDate,
) -> Vec<Row> {
    let districts: BTreeMap<&str, usize> = region
        .districts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.code.as_str(), i))
        .collect();
    let blank = |district: usize, target: u64| Row {
        team: None,
        name: String::new(),
        district: region.districts[district].code.clone(),
        district_name: region.districts[district].name.clone(),
        registered: None,
        institution: None,
        discipline: None,
        target,
        managed: 0,
        managed_new: 0,
        services: 0,
        categories: Category::ALL.iter().map(|c| (c.code(), 0)).collect(),
        followups: 0,
        scans: 0,
        guardians: 0,
        rates: BTreeMap::new(),
        passed: 0,
        rank: 0,
        previous: Previous {
            managed: 0,
            services: 0,
        },
    };
    // Rows by (district position, team id or "").
    let mut rows: BTreeMap<(usize, String), (usize, Row, [RateCount; NineRate::COUNT])> =
        BTreeMap::new();
    let mut order = 0;
    let mut next = || {
        order += 1;
        order
    };
    match level {
        Level::District => {
            for (i, d) in region.districts.iter().enumerate() {
                let mut row = blank(i, d.target_managed);
                row.name = d.name.clone();
                rows.insert((i, String::new()), (next(), row, Default::default()));
            }
        }
        Level::Team => {
            for t in registry
                .iter()
                .filter(|t| t.active_between(first_day, last_day))
            {
                let mut row = blank(t.district as usize, t.target);
                row.team = Some(t.id.clone());
                row.name = t.name.clone();
                row.registered = Some(true);
                row.institution = Some(t.institution.clone());
                row.discipline = Some(t.discipline.code());
                rows.insert(
                    (t.district as usize, t.id.clone()),
                    (next(), row, Default::default()),
                );
            }
        }
    }
    // The row of a district's code and a team (the district's own at level district).
    let key = |district: &str, team: &str| -> Option<(usize, String)> {
        let d = *districts.get(district)?;
        let team = match level {
            Level::Team => team.to_string(),
            Level::District => String::new(),
        };
        Some((d, team))
    };
    // A team the counts name but the registry does not: shown, unregistered.
    if level == Level::Team {
        let named = (counts.managed.iter().map(|(d, t, ..)| (d, t)))
            .chain(counts.services.iter().map(|(d, t, ..)| (d, t)))
            .chain(counts.team_rates.iter().map(|(d, t, ..)| (d, t)));
        for (district, team) in named {
            let Some(k) = key(district, team) else {
                continue;
            };
            let d = k.0;
            rows.entry(k).or_insert_with(|| {
                let mut row = blank(d, 0);
                row.team = Some(team.clone());
                row.name = team.clone();
                row.registered = Some(false);
                (usize::MAX, row, Default::default())
            });
        }
    }
    let managed: Vec<(&str, &str, u64, u64, u64)> = match level {
        Level::Team => counts
            .managed
            .iter()
            .map(|(d, t, m, n, b)| (d.as_str(), t.as_str(), *m, *n, *b))
            .collect(),
        Level::District => counts
            .district_managed
            .iter()
            .map(|(d, m, n, b)| (d.as_str(), "", *m, *n, *b))
            .collect(),
    };
    for (district, team, managed, new, before) in managed {
        if let Some((_, row, _)) = key(district, team).and_then(|k| rows.get_mut(&k)) {
            row.managed += managed;
            row.managed_new += new;
            row.previous.managed += before;
        }
    }
    for (district, team, category, services, before) in &counts.services {
        if let Some((_, row, _)) = key(district, team).and_then(|k| rows.get_mut(&k)) {
            row.services += services;
            row.previous.services += before;
            if let Some(c) = Category::parse(category) {
                *row.categories.entry(c.code()).or_default() += services;
                if c == Category::PatientFollowup {
                    row.followups += services;
                }
            }
        }
    }
    // A scan whose channel is a team's id (its own QR code): the team's, and
    // its district's. The teams: the registry's and those with enrolments.
    let is_team = |d: usize, id: &str| {
        registry
            .iter()
            .any(|t| t.district as usize == d && t.id == id)
            || counts.managed.iter().any(|(district, team, ..)| {
                team == id && districts.get(district.as_str()) == Some(&d)
            })
    };
    for (district, channel, scans) in &counts.scans {
        let Some(&d) = districts.get(district.as_str()) else {
            continue;
        };
        if !is_team(d, channel) {
            continue;
        }
        if let Some((_, row, _)) = key(district, channel).and_then(|k| rows.get_mut(&k)) {
            row.scans += scans;
        }
    }
    for (district, team_district, team, guardians) in &counts.guardians {
        let target = match level {
            Level::Team => key(team_district, team),
            Level::District => key(district, ""),
        };
        if let Some((_, row, _)) = target.and_then(|k| rows.get_mut(&k)) {
            row.guardians += guardians;
        }
    }
    let observed: Vec<(String, String, String, u64, u64)> = match level {
        Level::Team => counts.team_rates.clone(),
        Level::District => counts
            .district_rates
            .iter()
            .map(|(d, r, n, yes)| (d.clone(), String::new(), r.clone(), *n, *yes))
            .collect(),
    };
    for (district, team, rate, n, yes) in observed {
        let Some(rate) = NineRate::parse(&rate) else {
            continue;
        };
        if let Some((_, _, cells)) = key(&district, &team).and_then(|k| rows.get_mut(&k)) {
            cells[rate.index()].n += n;
            cells[rate.index()].trues += yes;
        }
    }
    let mut out: Vec<(usize, Row)> = rows
        .into_values()
        .map(|(order, mut row, cells)| {
            row.rates = rates(region, &cells, row.managed, row.target);
            row.passed = row.rates.values().filter(|r| r.pass == Some(true)).count();
            (order, row)
        })
        .collect();
    // Registry order (or the districts'), then unregistered teams by district and name.
    out.sort_by(|a, b| (a.0, &a.1.district, &a.1.team).cmp(&(b.0, &b.1.district, &b.1.team)));
    let mut out: Vec<Row> = out.into_iter().map(|(_, r)| r).collect();
    rank(&mut out, level);
    out
}

/// Managed ÷ target (0 without a target).
fn progress(row: &Row) -> f64 {
    if row.target > 0 {
        row.managed as f64 / row.target as f64
    } else {
        0.0
    }
}

/// Ranks within each district (teams) or across the region (districts).
fn rank(rows: &mut [Row], level: Level) {
    let group = |r: &Row| match level {
        Level::Team => r.district.clone(),
        Level::District => String::new(),
    };
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (&rows[a], &rows[b]);
        group(ra)
            .cmp(&group(rb))
            .then(rb.passed.cmp(&ra.passed))
            .then(progress(rb).total_cmp(&progress(ra)))
            .then(ra.team.cmp(&rb.team))
            .then(ra.district.cmp(&rb.district))
    });
    let mut last_group = None;
    let mut place = 0;
    for i in order {
        let g = group(&rows[i]);
        if last_group.as_ref() != Some(&g) {
            place = 0;
            last_group = Some(g);
        }
        place += 1;
        rows[i].rank = place;
    }
}
