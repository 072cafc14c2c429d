//! The team registry (`teams.csv` of a region): the service teams each
//! district runs, by the id partner systems send in an event's `team`, with
//! the name, institution, level, discipline and target the monthly review
//! shows. A region without the file has no registry: every team is then
//! known only by the names events bring.

use chrono::NaiveDate;
use serde::Deserialize;

use super::{RegionError, file_error, read_csv};
use crate::model::{Discipline, TeamLevel};

/// A registered team.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RegisteredTeam {
    /// What events name in `team`.
    pub id: String,
    pub name: String,
    pub institution: String,
    /// Position of its district in the region.
    #[serde(skip)]
    pub district: u8,
    #[serde(serialize_with = "code")]
    pub level: TeamLevel,
    #[serde(serialize_with = "code")]
    pub discipline: Discipline,
    /// Managed persons it is to reach.
    pub target: u64,
    pub active_from: NaiveDate,
    /// The last day it works (None while it does).
    pub active_to: Option<NaiveDate>,
    /// Who last changed it in the console, and when (Beijing micros); None:
    /// as the region's file has it.
    #[serde(skip)]
    pub edited: Option<(String, i64)>,
}

/// The registry as it stands: the region's file with staff's edits over it
/// (`store::review`), shared by the handlers that read and change it.
pub type Registry = std::sync::Arc<std::sync::RwLock<Vec<RegisteredTeam>>>;

/// `teams` with `edited` over it: a team of the same id replaced in place,
/// a new one added at the end.
pub fn with_edits(
    mut teams: Vec<RegisteredTeam>,
    edited: Vec<RegisteredTeam>,
) -> Vec<RegisteredTeam> {
    for team in edited {
        match teams.iter_mut().find(|t| t.id == team.id) {
            Some(t) => *t = team,
            None => teams.push(team),
        }
    }
    teams
}

fn code<S: serde::Serializer, T: Copy + Into<&'static str>>(
    v: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str((*v).into())
}

impl From<TeamLevel> for &'static str {
    fn from(v: TeamLevel) -> &'static str {
        v.code()
    }
}

impl From<Discipline> for &'static str {
    fn from(v: Discipline) -> &'static str {
        v.code()
    }
}

impl RegisteredTeam {
    /// Whether the team works at some time in `[from, to]` (dates).
    pub fn active_between(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.active_from <= to && self.active_to.is_none_or(|end| end >= from)
    }
}

/// A team as written (a row of teams.csv, or the console's form).
#[derive(Debug, Clone, Deserialize)]
pub struct TeamFields {
    pub id: String,
    pub name: String,
    pub institution: String,
    pub district: String,
    pub level: String,
    pub discipline: String,
    pub target: u64,
    pub active_from: String,
    pub active_to: Option<String>,
}

const FILE: &str = "teams.csv";

/// The most a team may be asked to manage.
pub const MAX_TARGET: u64 = 1_000_000;

impl TeamFields {
    /// The team these fields make; why not, naming the field. `district`
    /// finds a district's position by its code or name.
    pub fn check(self, district: impl Fn(&str) -> Option<u8>) -> Result<RegisteredTeam, String> {
        let chars = |field: &str, value: &str, max: usize| {
            let n = value.trim().chars().count();
            if n == 0 || n > max {
                Err(format!("{field}: 1 to {max} characters, got {n}"))
            } else {
                Ok(value.trim().to_string())
            }
        };
        let id = chars("id", &self.id, 64)?;
        let name = chars("name", &self.name, 100)?;
        let institution = chars("institution", &self.institution, 100)?;
        let date = |field: &str, text: &str| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| format!("{field}: {text:?} is not a date as YYYY-MM-DD"))
        };
        let active_from = date("active_from", &self.active_from)?;
        let active_to = match self
            .active_to
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(t) => Some(date("active_to", t)?),
            None => None,
        };
        if active_to.is_some_and(|to| to < active_from) {
            return Err("active_to: before active_from".into());
        }
        if self.target > MAX_TARGET {
            return Err(format!("target: a whole number from 0 to {MAX_TARGET}"));
        }
        Ok(RegisteredTeam {
            district: district(&self.district).ok_or_else(|| {
                format!(
                    "district: {:?} is not a district of the region",
                    self.district
                )
            })?,
            level: TeamLevel::parse(&self.level).ok_or_else(TeamLevel::expected)?,
            discipline: Discipline::parse(&self.discipline).ok_or_else(Discipline::expected)?,
            id,
            name,
            institution,
            target: self.target,
            active_from,
            active_to,
            edited: None,
        })
    }
}

/// The registry's teams in the file's order; `district` finds a district's
/// position by its code or name.
pub(super) fn parse(
    text: &str,
    district: impl Fn(&str) -> Option<u8>,
) -> Result<Vec<RegisteredTeam>, RegionError> {
    let rows: Vec<TeamFields> = read_csv(FILE, text)?;
    let mut teams: Vec<RegisteredTeam> = Vec::with_capacity(rows.len());
    for r in rows {
        let id = r.id.clone();
        let bad = |what: String| file_error(FILE, &format!("team {id:?}: {what}"));
        if teams.iter().any(|t| t.id == r.id) {
            return Err(bad("id: listed twice".into()));
        }
        teams.push(r.check(&district).map_err(bad)?);
    }
    Ok(teams)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn district(code: &str) -> Option<u8> {
        (code == "110106").then_some(3)
    }

    #[test]
    fn a_team_is_read_with_its_fields_and_bad_rows_say_why() {
        let head = "id,name,institution,district,level,discipline,target,active_from,active_to\n";
        let teams = parse(
            &format!("{head}t-1,甲团队,某医院,110106,district,diabetes,1000,2017-10-24,\nt-2,乙,某中心,110106,city,高血压,800,2017-11-01,2017-12-31\n"),
            district,
        )
        .unwrap();
        assert_eq!(teams.len(), 2);
        assert_eq!(
            (
                teams[1].level,
                teams[1].discipline,
                teams[1].target,
                teams[1].district
            ),
            (TeamLevel::City, Discipline::Hypertension, 800, 3)
        );
        assert_eq!(teams[0].active_to, None);
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(teams[1].active_between(d("2017-12-01"), d("2017-12-31")));
        assert!(!teams[1].active_between(d("2018-01-01"), d("2018-01-31")));
        assert!(!teams[0].active_between(d("2017-09-01"), d("2017-09-30")));
        let why = |row: &str| {
            parse(&format!("{head}{row}\n"), district)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            why("t-1,甲,某,110101,district,diabetes,1000,2017-10-24,"),
            "region file teams.csv: team \"t-1\": district: \"110101\" is not a district of the region"
        );
        assert_eq!(
            why("t-1,甲,某,110106,street,diabetes,1000,2017-10-24,"),
            "region file teams.csv: team \"t-1\": level: must be one of city, district"
        );
        assert_eq!(
            why("t-1,甲,某,110106,district,diabetes,1000,24/10/2017,"),
            "region file teams.csv: team \"t-1\": active_from: \"24/10/2017\" is not a date as YYYY-MM-DD"
        );
        assert_eq!(
            why("t-1,甲,某,110106,district,diabetes,1000,2017-10-24,2017-10-01"),
            "region file teams.csv: team \"t-1\": active_to: before active_from"
        );
    }
}
