//! Reading the store back at start: the events into the aggregator (all,
//! or those after the saved figures), whether the database vouches for the
//! saved figures, the settings, where numbering goes on.

use duckdb::{Connection, params};

use super::StoreError;
use super::rows::{detail_of, get};
use crate::model::{Event, Fields};
use crate::region::Region;

/// Rows in `events`.
pub(super) fn stored_rows(conn: &Connection) -> Result<u64, StoreError> {
    let rows: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
    Ok(rows as u64)
}

/// The seq the next stored event gets.
pub(super) fn next_seq(conn: &Connection) -> Result<i64, StoreError> {
    Ok(
        conn.query_row("SELECT coalesce(max(seq), 0) + 1 FROM events", [], |r| {
            r.get(0)
        })?,
    )
}

/// What a replay handed over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replayed {
    pub applied: u64,
    /// Stored events whose district the region files no longer have.
    pub skipped: u64,
}

/// [`replay_where`] of the events whose seq is `from` or above (every
/// stored event without `from`).
pub fn replay_from(
    conn: &Connection,
    region: &Region,
    from: Option<i64>,
    into: &mut dyn FnMut(Event),
) -> Result<Replayed, StoreError> {
    replay_where(
        conn,
        region,
        "?::BIGINT IS NULL OR seq >= ?::BIGINT",
        from,
        into,
    )
}

/// [`replay_where`] of the events whose time is before `until` (Beijing micros), if given.
pub fn replay_until(
    conn: &Connection,
    region: &Region,
    until: Option<i64>,
    into: &mut dyn FnMut(Event),
) -> Result<Replayed, StoreError> {
    let filter = "?::BIGINT IS NULL OR ts < make_timestamp(?::BIGINT)";
    replay_where(conn, region, filter, until, into)
}

/// Whether the database vouches for a saved state: it names the state's
/// token, and holds exactly as many events below its seq as it covers. The
/// saved state only ever holds stored events below that seq, so equal counts
/// mean the same events. `Ok(Err(why))` when it does not.
pub(super) fn vouches(
    conn: &Connection,
    settings: &[(String, String)],
    resume: &super::Resume,
) -> Result<Result<(), String>, StoreError> {
    let named = settings
        .iter()
        .find(|(key, _)| key == super::SAVED_FIGURES_SETTING)
        .map(|(_, value)| value.as_str());
    if named != Some(resume.token.as_str()) {
        return Ok(Err(
            "the database names another saved state (restored, copied, or stopped while saving)"
                .into(),
        ));
    }
    let stored: i64 = conn.query_row(
        "SELECT count(*) FROM events WHERE seq < ?",
        params![resume.next_seq],
        |r| r.get(0),
    )?;
    if stored as u64 != resume.events {
        return Ok(Err(format!(
            "the database holds {stored} events below seq {}, the saved state {}",
            resume.next_seq, resume.events
        )));
    }
    Ok(Ok(()))
}

/// Feeds the stored events matching `filter` (SQL with two `?` for
/// `bound`) to `into`.
///
/// The aggregator does not depend on order, so the table is streamed as it
/// lies on disk, in Arrow batches, without a sort. Only assessments and
/// outcomes carry their id (the aggregator breaks ties of "latest" by it);
/// the other kinds come with an empty id, which spares reading and copying
/// millions of strings at start. A scan brings its channel (the figures
/// count scans by channel).
fn replay_where(
    conn: &Connection,
    region: &Region,
    filter: &str,
    bound: Option<i64>,
    into: &mut dyn FnMut(Event),
) -> Result<Replayed, StoreError> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Int64Type};

    let mut stmt = conn.prepare(&format!(
        "SELECT CASE WHEN kind IN ('assess', 'outcome') THEN id END AS id,
                epoch_us(ts) AS ts, kind, district, person, colour, team, category,
                stage, rate, value, channel
         FROM events
         WHERE {filter}"
    ))?;
    let text = |a: &arrow::array::ArrayRef| -> Result<arrow::array::StringArray, StoreError> {
        let cast = arrow::compute::cast(a, &DataType::Utf8)
            .map_err(|e| StoreError::Transaction(format!("reading the store: {e}")))?;
        Ok(cast.as_string::<i32>().clone())
    };
    let mut count = 0u64;
    let mut skipped = 0u64;
    for batch in stmt.query_arrow(params![bound, bound])? {
        let c = batch.columns();
        let (id, kind, district, person) = (text(&c[0])?, text(&c[2])?, text(&c[3])?, text(&c[4])?);
        let ts = c[1].as_primitive::<Int64Type>();
        let (colour, team, category, stage, rate) = (
            text(&c[5])?,
            text(&c[6])?,
            text(&c[7])?,
            text(&c[8])?,
            text(&c[9])?,
        );
        let value = c[10].as_boolean();
        let channel = text(&c[11])?;
        for i in 0..batch.num_rows() {
            let detail = detail_of(
                kind.value(i),
                Fields {
                    channel: get(&channel, i),
                    colour: get(&colour, i),
                    team: get(&team, i),
                    category: get(&category, i),
                    stage: get(&stage, i),
                    rate: get(&rate, i),
                    value: value.is_valid(i).then(|| value.value(i)),
                },
            );
            match (detail, region.district_index(district.value(i))) {
                (Some(detail), Some(d)) => {
                    into(Event {
                        id: get(&id, i).map(str::to_string).unwrap_or_default(),
                        ts: ts.value(i),
                        district: d,
                        person: person.value(i).to_string(),
                        detail,
                    });
                    count += 1;
                }
                _ => skipped += 1,
            }
        }
    }
    if skipped > 0 {
        tracing::warn!(
            skipped,
            "stored events whose district is not in the region files were not counted"
        );
    }
    Ok(Replayed {
        applied: count,
        skipped,
    })
}

pub(super) fn settings(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare("SELECT key, value FROM settings ORDER BY key")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
