//! The monthly review's reads and its closed months: the statements of
//! `sql/review.sql` on the side connection, and the `review_closed` table.
//! What the counts mean is `aggregate::review`'s.

use duckdb::{Connection, params};

use super::{Store, StoreError};

const REVIEW_SQL: &str = include_str!("../../sql/review.sql");

/// The statement of `sql/review.sql` after its `-- name: <name>` line.
fn statement(name: &str) -> &'static str {
    let marker = format!("-- name: {name}\n");
    let start = REVIEW_SQL
        .find(&marker)
        .unwrap_or_else(|| panic!("sql/review.sql has no statement {name}"));
    let rest = &REVIEW_SQL[start + marker.len()..];
    let end = rest.find("\n-- name: ").unwrap_or(rest.len());
    &rest[..end]
}

/// A month's counts, as `sql/review.sql` gives them (districts by code).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonthCounts {
    /// (district, team, managed, managed_new, managed_before).
    pub managed: Vec<(String, String, u64, u64, u64)>,
    /// (district, managed, managed_new, managed_before).
    pub district_managed: Vec<(String, u64, u64, u64)>,
    /// (district, team, category, services this month, the month before).
    pub services: Vec<(String, String, String, u64, u64)>,
    /// (district, team, rate, n, yes).
    pub team_rates: Vec<(String, String, String, u64, u64)>,
    /// (district, rate, n, yes).
    pub district_rates: Vec<(String, String, u64, u64)>,
    /// (district, channel, scans this month).
    pub scans: Vec<(String, String, u64)>,
    /// (district where certified, the managing team's district and the
    /// team, or "" and "", guardians certified this month).
    pub guardians: Vec<(String, String, String, u64)>,
}

/// Events of a closed month stored after its closing, per district, team
/// (empty for kinds without one) and kind.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Revision {
    pub district: String,
    pub team: String,
    pub kind: String,
    pub events: u64,
    /// Beijing micros.
    pub first_received: i64,
    pub last_received: i64,
}

/// A closed month as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedMonth {
    pub month: String,
    /// Beijing micros.
    pub closed_at: i64,
    pub closed_by: String,
    /// The review's answer for both levels as it stood (JSON).
    pub figures: String,
}

/// A statement with its `$1`, `$2`, `$3` set to `values` (numbers the
/// server computed, written as integer literals: a statement need not use
/// every one, which DuckDB's binding would refuse).
fn with_values(name: &str, values: &[i64]) -> String {
    let mut sql = statement(name).to_string();
    for (i, v) in values.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", i + 1), &v.to_string());
    }
    sql
}

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

/// The rows of the statement `name` with `values`, each made by `row`.
fn rows<T>(
    c: &Connection,
    name: &str,
    values: &[i64],
    row: impl FnMut(&duckdb::Row<'_>) -> duckdb::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = c.prepare(&with_values(name, values))?;
    let found = stmt.query_map([], row)?.collect::<Result<_, _>>()?;
    Ok(found)
}

fn counts(c: &Connection, start: i64, end: i64, before: i64) -> Result<MonthCounts, StoreError> {
    let all = [start, end, before];
    Ok(MonthCounts {
        managed: rows(c, "managed", &all, |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                u(r.get(2)?),
                u(r.get(3)?),
                u(r.get(4)?),
            ))
        })?,
        district_managed: rows(c, "district_managed", &all, |r| {
            Ok((r.get(0)?, u(r.get(1)?), u(r.get(2)?), u(r.get(3)?)))
        })?,
        services: rows(c, "services", &all, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, u(r.get(3)?), u(r.get(4)?)))
        })?,
        team_rates: rows(c, "team_rates", &all, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, u(r.get(3)?), u(r.get(4)?)))
        })?,
        district_rates: rows(c, "district_rates", &all, |r| {
            Ok((r.get(0)?, r.get(1)?, u(r.get(2)?), u(r.get(3)?)))
        })?,
        scans: rows(c, "scans", &all, |r| {
            Ok((r.get(0)?, r.get(1)?, u(r.get(2)?)))
        })?,
        guardians: rows(c, "guardians", &all, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, u(r.get(3)?)))
        })?,
    })
}

impl Store {
    /// The counts of the month `[start, end)` with the month before from
    /// `before` (Beijing micros), from what DuckDB holds (a caller that
    /// needs every answered event calls [`Store::loaded`] first).
    pub async fn review_counts(
        &self,
        start: i64,
        end: i64,
        before: i64,
    ) -> Result<MonthCounts, StoreError> {
        self.side(move |c| counts(c, start, end, before)).await
    }

    /// Events with a time in `[start, end)` stored after `closed_at`.
    pub async fn revisions(
        &self,
        start: i64,
        end: i64,
        closed_at: i64,
    ) -> Result<Vec<Revision>, StoreError> {
        self.side(move |c| {
            rows(c, "revisions", &[start, end, closed_at], |r| {
                Ok(Revision {
                    district: r.get(0)?,
                    team: r.get(1)?,
                    kind: r.get(2)?,
                    events: u(r.get(3)?),
                    first_received: r.get(4)?,
                    last_received: r.get(5)?,
                })
            })
        })
        .await
    }

    /// The month as closed, if it is.
    pub async fn closed_month(&self, month: String) -> Result<Option<ClosedMonth>, StoreError> {
        self.side(move |c| {
            let mut stmt = c.prepare(
                "SELECT month, epoch_us(closed_at), closed_by, figures
                 FROM review_closed WHERE month = ?",
            )?;
            let mut rows = stmt.query_map(params![month], |r| {
                Ok(ClosedMonth {
                    month: r.get(0)?,
                    closed_at: r.get(1)?,
                    closed_by: r.get(2)?,
                    figures: r.get(3)?,
                })
            })?;
            Ok(rows.next().transpose()?)
        })
        .await
    }

    /// Closes a month with its figures as they stand; false if it was closed.
    pub async fn close_month(&self, closed: ClosedMonth) -> Result<bool, StoreError> {
        self.side(move |c| {
            let n = c.execute(
                "INSERT INTO review_closed VALUES (?, make_timestamp(?::BIGINT), ?, ?)
                 ON CONFLICT (month) DO NOTHING",
                params![
                    closed.month,
                    closed.closed_at,
                    closed.closed_by,
                    closed.figures
                ],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// Opens a closed month again; false if it was not closed.
    pub async fn reopen_month(&self, month: String) -> Result<bool, StoreError> {
        self.side(move |c| {
            Ok(c.execute("DELETE FROM review_closed WHERE month = ?", params![month])? == 1)
        })
        .await
    }
}

/// The registry's teams as staff changed them (`team_registry`), for a
/// region: rows naming a district it lacks are left out.
fn team_edits(
    c: &Connection,
    region: &crate::region::Region,
) -> Result<Vec<crate::region::RegisteredTeam>, StoreError> {
    let mut stmt = c.prepare(
        "SELECT id, name, institution, district, level, discipline, target,
                strftime(active_from, '%Y-%m-%d'), strftime(active_to, '%Y-%m-%d'),
                epoch_us(edited_at), edited_by
         FROM team_registry ORDER BY edited_at, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            crate::region::TeamFields {
                id: r.get(0)?,
                name: r.get(1)?,
                institution: r.get(2)?,
                district: r.get(3)?,
                level: r.get(4)?,
                discipline: r.get(5)?,
                target: u(r.get(6)?),
                active_from: r.get(7)?,
                active_to: r.get(8)?,
            },
            r.get::<_, i64>(9)?,
            r.get::<_, String>(10)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (fields, at, by) = row?;
        match fields.check(|d| region.district_index(d)) {
            Ok(mut team) => {
                team.edited = Some((by, at));
                out.push(team);
            }
            Err(why) => tracing::warn!(%why, "a team of team_registry is left out"),
        }
    }
    Ok(out)
}

impl Store {
    /// The registry's teams as staff changed them.
    pub async fn team_edits(
        &self,
        region: std::sync::Arc<crate::region::Region>,
    ) -> Result<Vec<crate::region::RegisteredTeam>, StoreError> {
        self.side(move |c| team_edits(c, &region)).await
    }

    /// Saves a team as staff set it (replacing an earlier edit of that id).
    pub async fn save_team(
        &self,
        team: crate::region::RegisteredTeam,
        district: String,
        at: i64,
        by: String,
    ) -> Result<(), StoreError> {
        self.side(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO team_registry VALUES
                 (?, ?, ?, ?, ?, ?, ?, CAST(? AS DATE), CAST(? AS DATE), make_timestamp(?::BIGINT), ?)",
                params![
                    team.id,
                    team.name,
                    team.institution,
                    district,
                    team.level.code(),
                    team.discipline.code(),
                    team.target as i64,
                    team.active_from.to_string(),
                    team.active_to.map(|d| d.to_string()),
                    at,
                    by
                ],
            )?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statement_is_found_whole() {
        for name in [
            "managed",
            "district_managed",
            "services",
            "team_rates",
            "district_rates",
            "scans",
            "guardians",
            "revisions",
        ] {
            let s = statement(name);
            assert!(s.trim_end().ends_with(';'), "{name}");
            assert!(!s.contains("-- name:"), "{name}");
        }
        // Each runs on the schema (types and tables as the store makes them).
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&crate::store::schema_sql()).unwrap();
        assert_eq!(counts(&conn, 0, 1, -1).unwrap(), MonthCounts::default());
    }
}
