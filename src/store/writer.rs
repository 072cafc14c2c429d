//! The writer thread: owns the events database's connection.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc as std_mpsc};

use arrow::array::{
    ArrayRef, BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use duckdb::{Connection, params};
use tokio::sync::mpsc;

use super::{Batch, Command, Committed, StoreError};
use crate::ingest::event::{Category, Colour, Detail, Event, Kind, Rate, Stage};
use crate::region::Region;
use crate::time;

/// Requests committed together at most, so one transaction stays short.
const GROUP_MAX_COMMANDS: usize = 64;
const GROUP_MAX_EVENTS: usize = 200_000;

/// The write-ahead log is folded into the database file once it is this big.
/// DuckDB would do it by itself only when no other transaction is open, which
/// a busy console's reads can prevent for long; the writer does it on purpose,
/// holding the side connection so that no other transaction is open.
pub const WAL_CHECKPOINT_BYTES: u64 = 16 * 1024 * 1024;

/// A per-connection scratch table with the columns of `events` and none of
/// its constraints: used only for a group that repeats a stored id (see
/// [`MOVE_SQL`]).
const STAGING_SQL: &str = "
CREATE TEMP TABLE IF NOT EXISTS staging (
    seq BIGINT, id VARCHAR, ts TIMESTAMP, kind VARCHAR, district VARCHAR, person VARCHAR,
    channel VARCHAR, colour VARCHAR, team VARCHAR, category VARCHAR, stage VARCHAR,
    rate VARCHAR, value BOOLEAN, received_at TIMESTAMP, source VARCHAR
);";

/// The columns of `events` (sql/schema.sql) as Arrow fields, in order.
fn events_schema() -> SchemaRef {
    static SCHEMA: std::sync::OnceLock<SchemaRef> = std::sync::OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let text = |name| Field::new(name, DataType::Utf8, true);
            let time =
                |name| Field::new(name, DataType::Timestamp(TimeUnit::Microsecond, None), true);
            Arc::new(Schema::new(vec![
                Field::new("seq", DataType::Int64, true),
                text("id"),
                time("ts"),
                text("kind"),
                text("district"),
                text("person"),
                text("channel"),
                text("colour"),
                text("team"),
                text("category"),
                text("stage"),
                text("rate"),
                Field::new("value", DataType::Boolean, true),
                time("received_at"),
                text("source"),
            ]))
        })
        .clone()
}

/// Moves the staged events whose ids are not stored yet into `events`, and
/// tells which. DuckDB plans `ON CONFLICT` as a MERGE, a join with the whole
/// table: its cost grows with the history (140 ms for 10,000 events over
/// 10 million stored), so it runs only for a group that repeats a stored id.
const MOVE_SQL: &str = "
INSERT INTO events SELECT * FROM staging
ON CONFLICT DO NOTHING
RETURNING seq";

/// A request's batch waiting in a group commit, with where its answer goes.
type Pending = (
    Batch,
    tokio::sync::oneshot::Sender<Result<Committed, StoreError>>,
);

pub(super) struct Writer {
    conn: Connection,
    /// The database file, opened again after a failed write.
    path: PathBuf,
    /// The side connection: held while checkpointing, replaced on reopening.
    side: Arc<Mutex<Connection>>,
    /// False after a write failed and until the file is open again.
    healthy: bool,
    region: Region,
    accepted: std_mpsc::Sender<super::Accepted>,
    next_seq: i64,
}

impl Writer {
    pub(super) fn new(
        conn: Connection,
        path: &Path,
        side: Arc<Mutex<Connection>>,
        region: Region,
        accepted: std_mpsc::Sender<super::Accepted>,
    ) -> Result<Writer, StoreError> {
        conn.execute_batch(STAGING_SQL)?;
        let next_seq = next_seq(&conn)?;
        Ok(Writer {
            conn,
            path: path.to_path_buf(),
            side,
            healthy: true,
            region,
            accepted,
            next_seq,
        })
    }

    /// After a failed write (a full disk, say) DuckDB's in-process state may
    /// no longer match its file: a commit that failed to reach the WAL can
    /// leave later commits invisible to this process although they are in the
    /// log. So every connection is closed and the file opened again, which
    /// replays the log; until that succeeds, writes are refused.
    fn reopen(&mut self) -> Result<(), StoreError> {
        let mut side = self.side.lock().map_err(|_| StoreError::Closed)?;
        // No connection to the old instance may outlive it.
        *side = Connection::open_in_memory()?;
        self.conn = Connection::open_in_memory()?;
        let conn = Connection::open(&self.path)?;
        conn.execute_batch(STAGING_SQL)?;
        *side = conn.try_clone()?;
        self.next_seq = self.next_seq.max(next_seq(&conn)?);
        self.conn = conn;
        self.healthy = true;
        tracing::info!(path = %self.path.display(), "store reopened after a failed write");
        Ok(())
    }

    /// Ready to write: reopens the file first if the last write failed.
    fn ready(&mut self) -> Result<(), StoreError> {
        if self.healthy {
            return Ok(());
        }
        self.reopen().map_err(|e| {
            tracing::warn!(error = %e, "the store cannot be reopened yet");
            StoreError::Transaction(format!("the store is recovering from a failed write: {e}"))
        })
    }

    /// Folds the WAL into the database file once it has grown past
    /// [`WAL_CHECKPOINT_BYTES`].
    fn bound_wal(&mut self) {
        if wal_bytes(&self.path) < WAL_CHECKPOINT_BYTES {
            return;
        }
        // Holding the side connection: no other transaction is open, so the
        // checkpoint cannot be refused for one.
        // A long console read holds it: try again after the next commit
        // rather than hold up ingest.
        let result = match self.side.try_lock() {
            Ok(_side) => self.conn.execute_batch("CHECKPOINT"),
            Err(_) => return,
        };
        match result {
            Ok(()) => tracing::debug!("checkpointed the write-ahead log"),
            Err(e) => {
                tracing::error!(error = %e, "checkpoint failed; the store will be reopened");
                self.healthy = false;
            }
        }
    }

    pub(super) fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(first) = rx.blocking_recv() {
            let mut ingests = Vec::new();
            let mut events = 0;
            let mut next = Some(first);
            // Group commit: take what is already waiting, up to a bound.
            while let Some(command) = next.take() {
                match command {
                    Command::Ingest { batch, reply } => {
                        events += batch.events.len();
                        ingests.push((batch, reply));
                    }
                    Command::SetSetting { key, value, reply } => {
                        let result = self.ready().and_then(|()| self.set_setting(&key, &value));
                        if result.is_err() {
                            self.healthy = false;
                        }
                        let _ = reply.send(result);
                    }
                }
                if ingests.len() < GROUP_MAX_COMMANDS && events < GROUP_MAX_EVENTS {
                    next = rx.try_recv().ok();
                }
            }
            if !ingests.is_empty() {
                match self.ready() {
                    Ok(()) => {
                        self.commit_group(ingests);
                        if self.healthy {
                            self.bound_wal();
                        }
                    }
                    Err(e) => {
                        for (_, reply) in ingests {
                            let _ = reply.send(Err(StoreError::Transaction(e.to_string())));
                        }
                    }
                }
            }
        }
        // Every handle is gone: the server is stopping. Leave a clean file.
        if let Err(e) = self.conn.execute_batch("CHECKPOINT") {
            tracing::warn!(error = %e, "checkpoint at shutdown failed");
        }
    }

    fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO settings VALUES (?, ?, make_timestamp(?::BIGINT))
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            params![key, value, time::now_beijing_micros()],
        )?;
        Ok(())
    }

    fn commit_group(&mut self, group: Vec<Pending>) {
        // Each event's seq, or None for an id repeated across requests of the
        // group (the first one wins).
        let mut seen: HashSet<&str> = HashSet::new();
        let seqs: Vec<Vec<Option<i64>>> = group
            .iter()
            .map(|(batch, _)| {
                batch
                    .events
                    .iter()
                    .map(|event| {
                        seen.insert(event.id.as_str()).then(|| {
                            self.next_seq += 1;
                            self.next_seq - 1
                        })
                    })
                    .collect()
            })
            .collect();

        match self.write(&group, &seqs) {
            Ok(inserted) => {
                // The events move on to the aggregator: no copy on this path.
                let mut accepted_events = Vec::new();
                let mut replies = Vec::with_capacity(group.len());
                for ((batch, reply), seqs) in group.into_iter().zip(seqs) {
                    let total = batch.events.len();
                    let before = accepted_events.len();
                    accepted_events.extend(
                        batch
                            .events
                            .into_iter()
                            .zip(seqs)
                            .filter(|(_, seq)| inserted.has(*seq))
                            .map(|(event, _)| event),
                    );
                    let accepted = accepted_events.len() - before;
                    replies.push((
                        reply,
                        Committed {
                            accepted,
                            duplicates: total - accepted,
                        },
                    ));
                }
                if !accepted_events.is_empty() {
                    // The aggregator is gone only when the server is stopping.
                    let _ = self.accepted.send(super::Accepted {
                        events: accepted_events,
                        next_seq: self.next_seq,
                    });
                }
                for (reply, answer) in replies {
                    let _ = reply.send(Ok(answer));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, requests = group.len(), "ingest transaction failed");
                let _ = self.conn.execute_batch("ROLLBACK");
                // Whatever failed, the next write starts from the file.
                self.healthy = false;
                let message = e.to_string();
                for (_, reply) in group {
                    let _ = reply.send(Err(StoreError::Transaction(message.clone())));
                }
            }
        }
    }

    /// The group's new events as the columns of `events`.
    fn events_batch(
        &self,
        group: &[Pending],
        seqs: &[Vec<Option<i64>>],
        received: i64,
    ) -> Result<RecordBatch, StoreError> {
        let rows = seqs.iter().flatten().flatten().count();
        let text = || StringBuilder::with_capacity(rows, rows * 8);
        let time = || TimestampMicrosecondBuilder::with_capacity(rows);
        let mut seq = Int64Builder::with_capacity(rows);
        let (mut ts, mut received_at) = (time(), time());
        let (mut id, mut kind, mut district, mut person) = (text(), text(), text(), text());
        let (mut channel, mut colour, mut team, mut category) = (text(), text(), text(), text());
        let (mut stage, mut rate, mut source) = (text(), text(), text());
        let mut value = BooleanBuilder::with_capacity(rows);
        for ((batch, _), seqs) in group.iter().zip(seqs) {
            for (e, s) in batch.events.iter().zip(seqs) {
                let Some(s) = s else { continue };
                let (ch, co, te, ca, st, ra, va) = columns(&e.detail);
                seq.append_value(*s);
                id.append_value(&e.id);
                ts.append_value(e.ts);
                kind.append_value(e.kind().code());
                district.append_value(&self.region.districts[e.district as usize].code);
                person.append_value(&e.person);
                channel.append_option(ch);
                colour.append_option(co);
                team.append_option(te);
                category.append_option(ca);
                stage.append_option(st);
                rate.append_option(ra);
                value.append_option(va);
                received_at.append_value(received);
                source.append_value(&batch.source);
            }
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(seq.finish()),
            Arc::new(id.finish()),
            Arc::new(ts.finish()),
            Arc::new(kind.finish()),
            Arc::new(district.finish()),
            Arc::new(person.finish()),
            Arc::new(channel.finish()),
            Arc::new(colour.finish()),
            Arc::new(team.finish()),
            Arc::new(category.finish()),
            Arc::new(stage.finish()),
            Arc::new(rate.finish()),
            Arc::new(value.finish()),
            Arc::new(received_at.finish()),
            Arc::new(source.finish()),
        ];
        RecordBatch::try_new(events_schema(), columns)
            .map_err(|e| StoreError::Transaction(format!("preparing the events: {e}")))
    }

    /// One transaction: every new event and every rejected record of the group.
    ///
    /// Almost always every id is new, and the events are appended straight
    /// to `events` (one Arrow batch: columns are copied, not converted value
    /// by value), checked by the primary key's index alone. When the index
    /// finds a stored id, the transaction is rolled back and taken again
    /// through [`MOVE_SQL`], which skips the stored ids.
    fn write(&self, group: &[Pending], seqs: &[Vec<Option<i64>>]) -> Result<Inserted, StoreError> {
        let received = time::now_beijing_micros();
        let events = self.events_batch(group, seqs, received)?;
        match self.transaction(group, seqs, &events, received, false) {
            Err(StoreError::Db(e)) if is_duplicate_key(&e) => {
                // A failed COMMIT has already ended the transaction.
                let _ = self.conn.execute_batch("ROLLBACK");
                tracing::debug!(
                    events = events.num_rows(),
                    "a stored id in the group: skipping duplicates"
                );
                self.transaction(group, seqs, &events, received, true)
            }
            other => other,
        }
    }

    fn transaction(
        &self,
        group: &[Pending],
        seqs: &[Vec<Option<i64>>],
        events: &RecordBatch,
        received: i64,
        skip_stored: bool,
    ) -> Result<Inserted, StoreError> {
        self.conn.execute_batch("BEGIN TRANSACTION")?;
        let inserted = if skip_stored {
            self.conn.execute_batch("DELETE FROM staging")?;
            let mut app = self
                .conn
                .appender_to_catalog_and_db("staging", "temp", "main")?;
            app.append_record_batch(events.clone())?;
            app.flush()?;
            let mut inserted = HashSet::new();
            let mut stmt = self.conn.prepare_cached(MOVE_SQL)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                inserted.insert(row.get::<_, i64>(0)?);
            }
            Inserted::Some(inserted)
        } else {
            let mut app = self.conn.appender("events")?;
            app.append_record_batch(events.clone())?;
            app.flush()?;
            Inserted::All
        };
        {
            let mut app = self.conn.appender("rejected")?;
            for (batch, _) in group {
                for r in &batch.rejected {
                    app.append_row(params![
                        duckdb::types::Value::Timestamp(
                            duckdb::types::TimeUnit::Microsecond,
                            received
                        ),
                        batch.source,
                        batch.format.name(),
                        r.line as i64,
                        r.event_id,
                        r.reason,
                        r.raw,
                    ])?;
                }
            }
            app.flush()?;
        }
        {
            let mut app = self.conn.appender("ingest_requests")?;
            for ((batch, _), seqs) in group.iter().zip(seqs) {
                let accepted = seqs.iter().filter(|s| inserted.has(**s)).count();
                app.append_row(params![
                    duckdb::types::Value::Timestamp(duckdb::types::TimeUnit::Microsecond, received),
                    batch.source,
                    batch.format.name(),
                    accepted as i64,
                    (batch.events.len() - accepted + batch.repeats) as i64,
                    batch.rejected.len() as i64,
                ])?;
            }
            app.flush()?;
        }
        self.conn.execute_batch("COMMIT")?;
        Ok(inserted)
    }
}

/// Which of the staged events a write stored.
enum Inserted {
    /// All of them.
    All,
    /// Those with these seqs.
    Some(HashSet<i64>),
}

impl Inserted {
    fn has(&self, seq: Option<i64>) -> bool {
        match self {
            Inserted::All => seq.is_some(),
            Inserted::Some(set) => seq.is_some_and(|s| set.contains(&s)),
        }
    }
}

/// The primary key refused a row: an id that is already stored.
fn is_duplicate_key(e: &duckdb::Error) -> bool {
    let text = e.to_string();
    text.contains("Duplicate key") && text.contains("violates primary key constraint")
}

pub(super) fn next_seq(conn: &Connection) -> Result<i64, StoreError> {
    Ok(
        conn.query_row("SELECT coalesce(max(seq), 0) + 1 FROM events", [], |r| {
            r.get(0)
        })?,
    )
}

/// Bytes in the database's write-ahead log (0 when there is none).
pub fn wal_bytes(database: &Path) -> u64 {
    let mut wal = database.as_os_str().to_owned();
    wal.push(".wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

type Columns<'a> = (
    Option<&'a str>,
    Option<&'static str>,
    Option<&'a str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<bool>,
);

fn columns(detail: &Detail) -> Columns<'_> {
    match detail {
        Detail::Scan { channel } => (channel.as_deref(), None, None, None, None, None, None),
        Detail::Assess { colour } => (None, Some(colour.code()), None, None, None, None, None),
        Detail::Enroll { team } => (None, None, Some(team), None, None, None, None),
        Detail::Service { team, category } => (
            None,
            None,
            Some(team),
            Some(category.code()),
            None,
            None,
            None,
        ),
        Detail::Train { stage } => (None, None, None, None, Some(stage.code()), None, None),
        Detail::Outcome { rate, value } => (
            None,
            None,
            None,
            None,
            None,
            Some(rate.code()),
            Some(*value),
        ),
    }
}

fn get(a: &arrow::array::StringArray, i: usize) -> Option<&str> {
    use arrow::array::Array;
    a.is_valid(i).then(|| a.value(i))
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
        .find(|(key, _)| key == super::SNAPSHOT_SETTING)
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
/// millions of strings at start; a scan's channel is not read (no figure
/// uses it).
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
                stage, rate, value
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
        for i in 0..batch.num_rows() {
            let detail = match Kind::parse(kind.value(i)) {
                Some(Kind::Scan) => Some(Detail::Scan { channel: None }),
                Some(Kind::Assess) => get(&colour, i)
                    .and_then(Colour::parse)
                    .map(|colour| Detail::Assess { colour }),
                Some(Kind::Enroll) => get(&team, i).map(|t| Detail::Enroll {
                    team: t.to_string(),
                }),
                Some(Kind::Service) => {
                    match (get(&team, i), get(&category, i).and_then(Category::parse)) {
                        (Some(team), Some(category)) => Some(Detail::Service {
                            team: team.to_string(),
                            category,
                        }),
                        _ => None,
                    }
                }
                Some(Kind::Train) => get(&stage, i)
                    .and_then(Stage::parse)
                    .map(|stage| Detail::Train { stage }),
                Some(Kind::Outcome) => {
                    match (get(&rate, i).and_then(Rate::parse), value.is_valid(i)) {
                        (Some(rate), true) => Some(Detail::Outcome {
                            rate,
                            value: value.value(i),
                        }),
                        _ => None,
                    }
                }
                None => None,
            };
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
