//! The items of 一帐三单 (`ledger` in sql/schema.sql), on the side connection.

use duckdb::{Connection, params};

use super::{Store, StoreError};

/// An item as stored (times in Beijing micros, the deadline as YYYY-MM-DD).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LedgerItem {
    pub id: i64,
    pub list: String,
    pub district: String,
    pub team: Option<String>,
    pub title: String,
    pub owner: String,
    pub deadline: String,
    pub detail: Option<String>,
    #[serde(skip)]
    pub created_at: i64,
    pub created_by: String,
    #[serde(skip)]
    pub done_at: Option<i64>,
    pub done_by: Option<String>,
    pub outcome: Option<String>,
}

const COLUMNS: &str =
    "id, list, district, team, title, owner, strftime(deadline, '%Y-%m-%d'), detail,
     epoch_us(created_at), created_by, epoch_us(done_at), done_by, outcome";

fn item(r: &duckdb::Row<'_>) -> duckdb::Result<LedgerItem> {
    Ok(LedgerItem {
        id: r.get(0)?,
        list: r.get(1)?,
        district: r.get(2)?,
        team: r.get(3)?,
        title: r.get(4)?,
        owner: r.get(5)?,
        deadline: r.get(6)?,
        detail: r.get(7)?,
        created_at: r.get(8)?,
        created_by: r.get(9)?,
        done_at: r.get(10)?,
        done_by: r.get(11)?,
        outcome: r.get(12)?,
    })
}

fn by_id(c: &Connection, id: i64) -> Result<Option<LedgerItem>, StoreError> {
    let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM ledger WHERE id = ?"))?;
    let mut rows = stmt.query_map(params![id], item)?;
    Ok(rows.next().transpose()?)
}

/// What marking an item done found.
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    Marked(LedgerItem),
    Already(LedgerItem),
    Missing,
}

impl Store {
    /// Adds an item (its id the next one), and returns it as stored.
    pub async fn add_ledger_item(&self, new: LedgerItem) -> Result<LedgerItem, StoreError> {
        self.side(move |c| {
            let id: i64 = c.query_row("SELECT coalesce(max(id), 0) + 1 FROM ledger", [], |r| r.get(0))?;
            c.execute(
                "INSERT INTO ledger VALUES (?, ?, ?, ?, ?, ?, CAST(? AS DATE), ?, make_timestamp(?::BIGINT), ?, NULL, NULL, NULL)",
                params![
                    id,
                    new.list,
                    new.district,
                    new.team,
                    new.title,
                    new.owner,
                    new.deadline,
                    new.detail,
                    new.created_at,
                    new.created_by
                ],
            )?;
            by_id(c, id)?.ok_or(StoreError::Closed)
        })
        .await
    }

    /// Marks an open item done.
    pub async fn mark_ledger_done(
        &self,
        id: i64,
        at: i64,
        by: String,
        outcome: Option<String>,
    ) -> Result<Done, StoreError> {
        self.side(move |c| {
            let Some(found) = by_id(c, id)? else {
                return Ok(Done::Missing);
            };
            if found.done_at.is_some() {
                return Ok(Done::Already(found));
            }
            c.execute(
                "UPDATE ledger SET done_at = make_timestamp(?::BIGINT), done_by = ?, outcome = ?
                 WHERE id = ? AND done_at IS NULL",
                params![at, by, outcome, id],
            )?;
            Ok(Done::Marked(by_id(c, id)?.ok_or(StoreError::Closed)?))
        })
        .await
    }

    /// Every item, open ones first by deadline, then done ones, newest first.
    pub async fn ledger_items(&self) -> Result<Vec<LedgerItem>, StoreError> {
        self.side(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM ledger
                 ORDER BY done_at IS NOT NULL, deadline, id"
            ))?;
            let rows = stmt.query_map([], item)?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }
}
