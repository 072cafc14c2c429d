//! The store: the one place that talks to DuckDB.
//!
//! DuckDB calls block, so the events database is owned by a dedicated writer
//! thread ([`Store`] is its handle; async code sends it commands and awaits the
//! answer). Requests that arrive while a group is being written are committed
//! together in the next one (group commit), and an ingest request is answered
//! only after its group is synced in the ingest log ([`log`]), so the events
//! survive `kill -9` and power loss; a loader thread takes the groups into
//! DuckDB in transactions of a row group (or a second's worth, or before a
//! console read) while the writer goes on, and a start loads what the log
//! holds beyond the database first.
//!
//! Accepted events are handed to the aggregator through a channel after commit,
//! never before, so the live figures never count an event the store lost.
//!
//! The index (治未病指数) is defined by `sql/index.sql`; the tick computes
//! it in Rust, and [`index`] runs the SQL on a small in-memory DuckDB so the
//! tests can hold the two equal.

pub mod access;
pub mod backup;
mod backup_sql;
mod database;
mod ids;
pub mod index;
pub mod ledger;
mod loader;
pub mod log;
pub mod parquet;
mod replay;
pub mod review;
mod rows;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc as std_mpsc};

use tokio::sync::{mpsc, oneshot};

use crate::model::Event;
use crate::model::Format;
use crate::region::Region;
use database::Database;

pub use loader::{WAL_CHECKPOINT_BYTES, wal_bytes};
pub use replay::Replayed;

/// `sql/schema.sql` as written: the tables, their columns and comments.
pub const SCHEMA_FILE: &str = include_str!("../../sql/schema.sql");

/// What makes the store's tables: the ENUM types of the program's fixed
/// lists, made from [`crate::model`]'s lists (their one definition), then
/// `sql/schema.sql`.
pub fn schema_sql() -> String {
    let mut sql = String::new();
    for (ty, _, codes) in enum_lists() {
        let values: Vec<String> = codes.iter().map(|c| database::quoted(c)).collect();
        sql.push_str(&format!(
            "CREATE TYPE IF NOT EXISTS {ty} AS ENUM ({});\n",
            values.join(", ")
        ));
    }
    sql + SCHEMA_FILE
}

/// Where the live figures are saved beside a database file (the aggregator
/// writes them; a restore removes them, as they belong to another file).
pub fn saved_figures_path(database: &Path) -> PathBuf {
    database.with_extension("aggregate")
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] duckdb::Error),
    /// DuckDB could not open the file (held by another process, say).
    #[error("opening the database: {0}")]
    Open(String),
    /// A group commit failed; nothing of it was stored.
    #[error("the transaction failed: {0}")]
    Transaction(String),
    #[error("the store has stopped")]
    Closed,
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Why, in words a client may read (no paths, no SQL).
    pub fn reason(&self) -> &'static str {
        const FULL: &str = "the server's disk is full";
        match self {
            StoreError::Io(e) if e.kind() == std::io::ErrorKind::StorageFull => FULL,
            StoreError::Io(_) => "a database error",
            StoreError::Closed => "the store has stopped",
            // DuckDB reports a failed write as text only (no error code):
            // the operating system's words for ENOSPC are in it.
            _ => {
                let text = self.to_string();
                if text.contains("No space left on device") {
                    FULL
                } else if text.contains("recovering from a failed write") {
                    "the store is recovering from a failed write"
                } else {
                    "a database error"
                }
            }
        }
    }
}

/// What one ingest request asks the store to keep.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The ingest key's name, kept with every row.
    pub source: String,
    pub format: Format,
    /// Valid events, each id once (the request's own repeats are removed before).
    pub events: Vec<Event>,
    /// The rejected records kept whole...
    pub rejected: Vec<Rejected>,
    /// ...and how many more were counted only (ingest's bounds).
    pub not_kept: usize,
    /// Events dropped before the store because the request repeated their id.
    pub repeats: usize,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rejected {
    pub line: u64,
    pub event_id: Option<String>,
    pub reason: String,
    pub raw: String,
}

/// What the store did with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub accepted: usize,
    /// Events whose id was stored before (or by a request committed alongside).
    pub duplicates: usize,
}

pub(crate) enum Command {
    Ingest {
        batch: Batch,
        reply: oneshot::Sender<Result<Committed, StoreError>>,
    },
    SetSetting {
        key: String,
        value: String,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Seal the ingest log's segment and answer once the loader has
    /// committed it: every answered request is then in DuckDB.
    Load { reply: oneshot::Sender<()> },
}

/// Handle to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Command>,
    /// A second connection for the console's reads and the access tables
    /// (see [`access`]).
    side: Arc<Mutex<database::Conn>>,
}

/// The `settings` key naming the saved aggregator this database vouches for.
/// (The key keeps the name it had when the saved figures were called a
/// snapshot: databases name their files under it.)
pub const SAVED_FIGURES_SETTING: &str = "aggregate_snapshot";

/// A saved state of the figures, offered at start in place of the stored
/// events it covers (see `aggregate::saved`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The saved state's token, which [`SAVED_FIGURES_SETTING`] must name.
    pub token: String,
    /// It covers the stored events whose seq is below this...
    pub next_seq: i64,
    /// ...and they are this many.
    pub events: u64,
}

/// What the stored events are replayed into at start.
pub trait Replay {
    /// A saved state to start from, if there is one.
    fn resume(&self) -> Option<&Resume>;
    /// The saved state does not describe this database: start from nothing.
    fn discard(&mut self);
    fn apply(&mut self, event: Event);
}

/// Every stored event and no saved state: a closure is enough.
impl<F: FnMut(Event)> Replay for F {
    fn resume(&self) -> Option<&Resume> {
        None
    }
    fn discard(&mut self) {}
    fn apply(&mut self, event: Event) {
        self(event)
    }
}

/// Events committed together, handed to the aggregator after the commit.
#[derive(Debug)]
pub struct Accepted {
    pub events: Vec<Event>,
    /// Every stored event with a seq below this has now been handed over
    /// (here or before), none above.
    pub next_seq: i64,
}

/// What the stored events handed to the aggregator at start cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Covered {
    pub next_seq: i64,
    /// Stored events with a seq below `next_seq`, including any the region
    /// files no longer place (not counted in the figures).
    pub events: u64,
}

/// What the store found when it opened.
pub struct Opened {
    pub store: Store,
    pub settings: Vec<(String, String)>,
    pub access: access::Loaded,
    /// Events replayed into the aggregator.
    pub replayed: u64,
    /// Whether the offered saved state was used (the replay then holds only
    /// the events stored after it).
    pub resumed: bool,
    /// What the aggregator holds once the replay is done.
    pub covered: Covered,
    pub writer: std::thread::JoinHandle<()>,
}

/// Masks the phone and identity-card numbers that rejected records kept
/// before ingest masked them (docs/privacy.md), once: a setting records it.
/// After the ingest log is loaded, so the log's records are masked too.
fn mask_rejected(conn: &duckdb::Connection) -> Result<(), StoreError> {
    use crate::personal::mask;
    const DONE: &str = "rejected_numbers_masked";
    let done: i64 = conn.query_row("SELECT count(*) FROM settings WHERE key = ?", [DONE], |r| {
        r.get(0)
    })?;
    if done > 0 {
        return Ok(());
    }
    let mut changed = Vec::new();
    {
        let mut statement = conn.prepare("SELECT rowid, event_id, reason, raw FROM rejected")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let (rowid, id, reason, raw): (i64, Option<String>, String, String) =
                (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
            let masked_id = id.as_deref().map(mask);
            let (masked_reason, masked_raw) = (mask(&reason), mask(&raw));
            if matches!(masked_id, Some(std::borrow::Cow::Owned(_)))
                || matches!(masked_reason, std::borrow::Cow::Owned(_))
                || matches!(masked_raw, std::borrow::Cow::Owned(_))
            {
                changed.push((
                    rowid,
                    masked_id.map(|m| m.into_owned()),
                    masked_reason.into_owned(),
                    masked_raw.into_owned(),
                ));
            }
        }
    }
    conn.execute_batch("BEGIN TRANSACTION")?;
    let result = (|| -> Result<(), StoreError> {
        for (rowid, id, reason, raw) in &changed {
            conn.execute(
                "UPDATE rejected SET event_id = ?, reason = ?, raw = ? WHERE rowid = ?",
                duckdb::params![id, reason, raw, rowid],
            )?;
        }
        loader::put_setting(conn, DONE, "1")
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    tracing::info!(
        records = changed.len(),
        "masked phone and identity-card numbers kept in rejected records"
    );
    Ok(())
}

impl Store {
    /// Opens (or creates) the database at `path`, applies the schema, replays
    /// the stored events into `replay_into` (only those after its saved state,
    /// when the database vouches for it), then starts the writer thread, which
    /// sends each committed batch of events to `accepted`.
    ///
    /// Blocking: call it at start-up, outside the async runtime's workers.
    pub fn open(
        path: &Path,
        region: &Region,
        replay_into: &mut dyn Replay,
        accepted: std_mpsc::Sender<Accepted>,
    ) -> Result<Opened, StoreError> {
        Store::open_loading_every(
            path,
            region,
            replay_into,
            accepted,
            crate::config::LOAD_EVERY,
        )
    }

    /// [`Store::open`], the writer loading the ingest log into DuckDB at
    /// least every `load_every`.
    pub fn open_loading_every(
        path: &Path,
        region: &Region,
        replay_into: &mut dyn Replay,
        accepted: std_mpsc::Sender<Accepted>,
        load_every: std::time::Duration,
    ) -> Result<Opened, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let db = Database::open(path)?;
        let conn = db.connect()?;
        renew_events(&conn)?;
        conn.execute_batch(&schema_sql())?;
        conn.execute_batch(access::ACCESS_SQL)?;
        let segment = loader::recover(&db, path)?;
        mask_rejected(&conn)?;
        let settings = replay::settings(&conn)?;
        let resumed = match replay_into.resume() {
            Some(resume) => match replay::vouches(&conn, &settings, resume)? {
                Ok(()) => Some(resume.clone()),
                Err(why) => {
                    tracing::warn!(%why, "the saved figures do not match the database; replaying every event");
                    replay_into.discard();
                    None
                }
            },
            None => None,
        };
        let from = resumed.as_ref().map(|r| r.next_seq);
        let replayed = replay::replay_from(&conn, region, from, &mut |e| replay_into.apply(e))?;
        let covered = Covered {
            next_seq: replay::next_seq(&conn)?,
            events: resumed.as_ref().map_or(0, |r| r.events) + replayed.applied + replayed.skipped,
        };
        let access = access::load(&conn, crate::time::now_beijing_micros())?;
        let side = Arc::new(Mutex::new(db.connect()?));
        let (tx, rx) = mpsc::channel(1024);
        drop(conn);
        let writer = writer::Writer::new(
            &db,
            path,
            side.clone(),
            region.clone(),
            accepted,
            segment,
            load_every,
        )?;
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(Opened {
            store: Store { tx, side },
            settings,
            access,
            replayed: replayed.applied,
            resumed: resumed.is_some(),
            covered,
            writer: handle,
        })
    }

    /// Whether the writer thread is still taking commands.
    pub fn is_alive(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Stores a batch; answers after the commit.
    pub async fn ingest(&self, batch: Batch) -> Result<Committed, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command::Ingest { batch, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Waits until every request answered before is in DuckDB (the writer
    /// seals its log segment, the loader commits it), so that a read of the
    /// side connection sees it. A failed load is the store's to report and
    /// retry: the read goes on with what DuckDB has.
    pub async fn loaded(&self) {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Command::Load { reply }).await.is_ok() {
            let _ = answer.await;
        }
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command::SetSetting {
                key: key.to_string(),
                value: value.to_string(),
                reply,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// Loads what the ingest log holds beyond the database into it, as a start
/// does: for what opens the file while the server is stopped (a backup after
/// a kill, the crash tests).
pub fn load_ingest_log(database: &Path) -> Result<(), StoreError> {
    loader::recover(&Database::open(database)?, database)?;
    Ok(())
}

/// Makes `events` again as `sql/schema.sql` has it, when a database made
/// earlier differs in a way DuckDB cannot alter in place:
/// - `id` was the primary key, before ids were kept unique by the writer
///   ([`ids`]); DuckDB cannot drop a constraint;
/// - the fixed lists (kind, colour, category, stage, rate) were text, before
///   they were ENUM types;
/// - an ENUM type holds other values than the program's list (a value was
///   added to a list, [`crate::model`]): DuckDB cannot alter an ENUM, so the
///   type is made again from the schema, its columns read as text meanwhile.
///
/// The events are copied into a table made by the schema, in one transaction
/// (the text cast to the ENUMs on the way). Once per change; about a second
/// a million events. A stored value outside the program's lists (one taken
/// off a list) stops the copy and the start, and the file is left as it was.
fn renew_events(conn: &duckdb::Connection) -> Result<(), StoreError> {
    let (keyed, text): (i64, i64) = conn.query_row(
        "SELECT
           (SELECT count(*) FROM duckdb_constraints()
            WHERE schema_name = 'main' AND table_name = 'events'
              AND constraint_type = 'PRIMARY KEY'),
           (SELECT count(*) FROM duckdb_columns()
            WHERE schema_name = 'main' AND table_name = 'events' AND data_type = 'VARCHAR'
              AND column_name IN ('kind', 'colour', 'category', 'stage', 'rate'))",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // The ENUM types whose values differ from the program's lists.
    let mut changed = Vec::new();
    for (ty, column, codes) in enum_lists() {
        let exists: i64 = conn.query_row(
            "SELECT count(*) FROM duckdb_types() WHERE schema_name = 'main' AND type_name = ?",
            [ty],
            |r| r.get(0),
        )?;
        // (An older database whose lists were text has no type yet.)
        let stored: Option<String> = if exists == 0 {
            None
        } else {
            Some(conn.query_row(
                &format!("SELECT array_to_string(enum_range(NULL::{ty}), ',')"),
                [],
                |r| r.get(0),
            )?)
        };
        if stored.is_some_and(|stored| stored != codes.join(",")) {
            changed.push((ty, column));
        }
    }
    if keyed == 0 && text == 0 && changed.is_empty() {
        return Ok(());
    }
    let clock = std::time::Instant::now();
    // A changed type's column is read as text, then the type is dropped, so
    // that the schema makes it again with the program's values.
    let retype: String = changed
        .iter()
        .map(|(ty, column)| {
            format!("ALTER TABLE events_before ALTER COLUMN {column} TYPE VARCHAR; DROP TYPE {ty};")
        })
        .collect();
    let copied = conn
        .execute_batch("BEGIN TRANSACTION; ALTER TABLE events RENAME TO events_before;")
        .and_then(|()| conn.execute_batch(&retype))
        .and_then(|()| conn.execute_batch(&schema_sql()))
        .and_then(|()| {
            conn.execute_batch(
                "INSERT INTO events SELECT * FROM events_before;
                 DROP TABLE events_before;
                 COMMIT;",
            )
        });
    if let Err(e) = copied {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(StoreError::Transaction(format!(
            "making events as sql/schema.sql has it (the file is unchanged): {e}"
        )));
    }
    conn.execute_batch("CHECKPOINT")?;
    tracing::info!(
        ms = clock.elapsed().as_millis() as u64,
        primary_key_dropped = keyed > 0,
        lists_as_enums = text > 0,
        lists_changed = ?changed.iter().map(|(ty, _)| *ty).collect::<Vec<_>>(),
        "made events as sql/schema.sql has it"
    );
    Ok(())
}

/// (ENUM type, its column in `events`, the program's codes in order).
fn enum_lists() -> [(&'static str, &'static str, Vec<&'static str>); 5] {
    use crate::model::{Category, Colour, Kind, Rate, Stage};
    [
        ("event_kind", "kind", Kind::codes()),
        ("colour_code", "colour", Colour::codes()),
        ("category_code", "category", Category::codes()),
        ("stage_code", "stage", Stage::codes()),
        ("rate_code", "rate", Rate::codes()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full disk is known by the error's kind where the operating
    /// system's error is at hand (the ingest log), by DuckDB's text where
    /// only that is.
    #[test]
    fn a_full_disk_is_named_as_such() {
        let enospc = std::io::Error::from_raw_os_error(28);
        assert_eq!(StoreError::Io(enospc).reason(), "the server's disk is full");
        let eio = std::io::Error::from_raw_os_error(5);
        assert_eq!(StoreError::Io(eio).reason(), "a database error");
        let duckdb = StoreError::Transaction(
            "IO Error: Could not write file \"x.wal\": No space left on device".into(),
        );
        assert_eq!(duckdb.reason(), "the server's disk is full");
        let recovering =
            StoreError::Transaction("the store is recovering from a failed write: IO Error".into());
        assert_eq!(
            recovering.reason(),
            "the store is recovering from a failed write"
        );
        assert_eq!(StoreError::Closed.reason(), "the store has stopped");
    }

    /// The one number `sql` answers.
    fn count(conn: &duckdb::Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Stops the writer before the test ends: a writer thread still in
    /// DuckDB when the test process exits can crash it.
    pub(super) fn stop(opened: Opened) {
        let Opened { store, writer, .. } = opened;
        drop(store);
        writer.join().unwrap();
    }

    /// A database made when `events.id` was the primary key opens with the
    /// key taken off, its rows kept, and its ids still refused again.
    #[test]
    fn a_keyed_database_loses_its_key_and_keeps_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.duckdb");
        {
            let conn = duckdb::Connection::open(&path).unwrap();
            let schema = schema_sql();
            let keyed = schema.replace(
                "id          VARCHAR   NOT NULL,",
                "id          VARCHAR   PRIMARY KEY,",
            );
            assert_ne!(keyed, schema);
            conn.execute_batch(&keyed).unwrap();
            conn.execute_batch(
                "INSERT INTO events (seq, id, ts, kind, district, person, received_at, source)
                 VALUES (1, 'old-1', TIMESTAMP '2026-11-01 09:00', 'scan', '110101', 'p1',
                         TIMESTAMP '2026-11-01 09:00', 'k'),
                        (2, 'old-2', TIMESTAMP '2026-11-01 09:01', 'scan', '110102', 'p2',
                         TIMESTAMP '2026-11-01 09:01', 'k')",
            )
            .unwrap();
        }
        let region = Region::load("beijing").unwrap();
        let (tx, _rx) = std_mpsc::channel();
        let mut people = 0;
        let opened = Store::open(&path, &region, &mut |_| people += 1, tx).unwrap();
        assert_eq!(opened.replayed, 2);
        let conn = opened.store.side.lock().unwrap();
        let keys = "SELECT count(*) FROM duckdb_constraints()
                    WHERE table_name = 'events' AND constraint_type = 'PRIMARY KEY'";
        assert_eq!(count(&conn, keys), 0);
        let copies = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'events_before'";
        assert_eq!(count(&conn, copies), 0);
        drop(conn);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let event = |id: &str| Event {
            id: id.into(),
            ts: 0,
            district: 0,
            person: "p3".into(),
            detail: crate::model::Detail::Scan { channel: None },
        };
        let committed = runtime
            .block_on(opened.store.ingest(Batch {
                source: "k".into(),
                format: Format::Ndjson,
                events: vec![event("old-2"), event("new-1")],
                rejected: Vec::new(),
                not_kept: 0,
                repeats: 0,
            }))
            .unwrap();
        assert_eq!(
            committed,
            Committed {
                accepted: 1,
                duplicates: 1
            }
        );
        assert_eq!(people, 2);
        stop(opened);
    }

    /// `events` as databases had it before the fixed lists were ENUM types:
    /// `sql/schema.sql`'s table with those columns as text, and no types.
    fn text_lists_schema() -> String {
        let table = &SCHEMA_FILE[SCHEMA_FILE
            .find("CREATE TABLE IF NOT EXISTS events")
            .unwrap()..];
        let mut old = table.to_string();
        for (enum_type, text) in [
            ("event_kind NOT NULL,", "VARCHAR NOT NULL,"),
            ("colour_code,", "VARCHAR,"),
            ("category_code,", "VARCHAR,"),
            ("stage_code,", "VARCHAR,"),
            ("rate_code,", "VARCHAR,"),
        ] {
            assert_eq!(old.matches(enum_type).count(), 1, "{enum_type}");
            old = old.replace(enum_type, text);
        }
        assert!(!old.contains("ENUM"));
        old
    }

    const OLD_ROWS: &str = "INSERT INTO events VALUES
        (1, 'e1', TIMESTAMP '2026-11-01 09:00', 'scan', '110101', 'p1', 'poster', NULL, NULL, NULL, NULL, NULL, NULL, TIMESTAMP '2026-11-01 09:00', 'k'),
        (2, 'e2', TIMESTAMP '2026-11-01 09:01', 'assess', '110102', 'p1', NULL, 'pink', NULL, NULL, NULL, NULL, NULL, TIMESTAMP '2026-11-01 09:01', 'k'),
        (3, 'e3', TIMESTAMP '2026-11-01 09:02', 'enroll', '110105', 'p2', NULL, NULL, 't1', NULL, NULL, NULL, NULL, TIMESTAMP '2026-11-01 09:02', 'k'),
        (4, 'e4', TIMESTAMP '2026-11-01 09:03', 'service', '110106', 'p2', NULL, NULL, 't1', 'key_intervention', NULL, NULL, NULL, TIMESTAMP '2026-11-01 09:03', 'k'),
        (5, 'e5', TIMESTAMP '2026-11-01 09:04', 'train', '110107', 'p3', NULL, NULL, NULL, NULL, 'certified', NULL, NULL, TIMESTAMP '2026-11-01 09:04', 'k'),
        (6, 'e6', TIMESTAMP '2026-11-01 09:05', 'outcome', '110108', 'p3', NULL, NULL, NULL, NULL, NULL, 'prevention', false, TIMESTAMP '2026-11-01 09:05', 'k')";

    fn lists(conn: &duckdb::Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare(
                "SELECT concat_ws('|', kind, colour, team, category, stage, rate, value)
                 FROM events ORDER BY seq",
            )
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A database whose fixed lists are text opens with them as the
    /// schema's ENUM types, every row kept with the same values, and its
    /// events replayed as they were.
    #[test]
    fn a_database_with_text_lists_gets_the_enum_types_and_keeps_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.duckdb");
        let before = {
            let conn = duckdb::Connection::open(&path).unwrap();
            conn.execute_batch(&text_lists_schema()).unwrap();
            conn.execute_batch(OLD_ROWS).unwrap();
            lists(&conn)
        };
        assert_eq!(
            before,
            [
                "scan",
                "assess|pink",
                "enroll|t1",
                "service|t1|key_intervention",
                "train|certified",
                "outcome|prevention|false"
            ]
        );
        let region = Region::load("beijing").unwrap();
        let (tx, _rx) = std_mpsc::channel();
        let mut replayed = Vec::new();
        let opened = Store::open(&path, &region, &mut |e: Event| replayed.push(e), tx).unwrap();
        assert_eq!(opened.replayed, 6);
        use crate::model::{Category, Colour, Detail, Rate, Stage};
        let details: Vec<(String, Detail)> =
            replayed.into_iter().map(|e| (e.id, e.detail)).collect();
        assert_eq!(
            details,
            [
                (
                    String::new(),
                    Detail::Scan {
                        channel: Some("poster".into())
                    }
                ),
                (
                    "e2".into(),
                    Detail::Assess {
                        colour: Colour::Pink
                    }
                ),
                (String::new(), Detail::Enroll { team: "t1".into() }),
                (
                    String::new(),
                    Detail::Service {
                        team: "t1".into(),
                        category: Category::KeyIntervention
                    }
                ),
                (
                    String::new(),
                    Detail::Train {
                        stage: Stage::Certified
                    }
                ),
                (
                    "e6".into(),
                    Detail::Outcome {
                        rate: Rate::Prevention,
                        value: false
                    }
                ),
            ]
        );
        let conn = opened.store.side.lock().unwrap();
        assert_eq!(lists(&conn), before);
        let mut stmt = conn
            .prepare(
                "SELECT column_name, data_type FROM duckdb_columns()
                 WHERE table_name = 'events'
                   AND column_name IN ('kind', 'colour', 'category', 'stage', 'rate')
                 ORDER BY column_index",
            )
            .unwrap();
        let types: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let names: Vec<&str> = types.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(names, ["kind", "colour", "category", "stage", "rate"]);
        for (column, data_type) in &types {
            assert!(data_type.starts_with("ENUM('"), "{column}: {data_type}");
        }
        // No copy left behind.
        let copies = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'events_before'";
        assert_eq!(count(&conn, copies), 0);
        drop(stmt);
        drop(conn);
        stop(opened);
    }

    /// A stored value outside the program's lists (which ingest never lets
    /// in) stops the start with the reason, and the file keeps it as it was.
    #[test]
    fn a_stored_value_outside_the_lists_stops_the_start_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.duckdb");
        {
            let conn = duckdb::Connection::open(&path).unwrap();
            conn.execute_batch(&text_lists_schema()).unwrap();
            conn.execute_batch(OLD_ROWS).unwrap();
            conn.execute_batch("UPDATE events SET colour = 'purple' WHERE seq = 2")
                .unwrap();
        }
        let region = Region::load("beijing").unwrap();
        let (tx, _rx) = std_mpsc::channel();
        let Err(e) = Store::open(&path, &region, &mut |_| {}, tx) else {
            panic!("opened a database holding the colour 'purple'");
        };
        let message = e.to_string();
        assert!(message.contains("the file is unchanged"), "{message}");
        assert!(message.contains("purple"), "{message}");
        let conn = duckdb::Connection::open(&path).unwrap();
        assert_eq!(lists(&conn)[1], "assess|purple");
        assert_eq!(lists(&conn).len(), 6);
        // The copy, the ENUM types and the access tables were all undone.
        let (colour_type, tables, types): (String, String, i64) = conn
            .query_row(
                "SELECT (SELECT data_type FROM duckdb_columns()
                         WHERE table_name = 'events' AND column_name = 'colour'),
                        (SELECT string_agg(table_name, ',' ORDER BY table_name)
                         FROM duckdb_tables()),
                        (SELECT count(*) FROM duckdb_types() WHERE type_name = 'colour_code')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(
            (colour_type.as_str(), tables.as_str(), types),
            (
                "VARCHAR",
                "events,ingest_requests,ledger,rejected,review_closed,settings,team_registry",
                0
            )
        );
    }

    /// A database made before a list gained a value takes events with it
    /// after the next open, and keeps what it held.
    #[test]
    fn a_list_that_gained_a_value_is_taken_by_an_older_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.duckdb");
        let conn = duckdb::Connection::open(&path).unwrap();
        // A database made when the kinds had no `outcome` and the stages
        // only `enrolled`: the schema of today with those lists shorter.
        let schema = schema_sql();
        let older = schema
            .replace("'train', 'outcome'", "'train'")
            .replace("'enrolled', 'certified'", "'enrolled'");
        assert_ne!(older, schema);
        conn.execute_batch(&older).unwrap();
        conn.execute_batch(
            "INSERT INTO events (seq, id, ts, kind, district, person, stage, received_at, source)
             VALUES (1, 'e-1', TIMESTAMP '2017-06-28 10:00:00', 'train', '110106', 'p-1',
                     'enrolled', TIMESTAMP '2017-06-28 10:00:01', 'k')",
        )
        .unwrap();
        let outcome = "INSERT INTO events (seq, id, ts, kind, district, person, rate, value, received_at, source)
             VALUES (2, 'e-2', TIMESTAMP '2017-06-28 10:00:00', 'outcome', '110106', 'p-1',
                     'control', true, TIMESTAMP '2017-06-28 10:00:01', 'k')";
        assert!(
            conn.execute_batch(outcome).is_err(),
            "the old type refuses it"
        );
        renew_events(&conn).unwrap();
        for (ty, _, codes) in enum_lists() {
            let stored: String = conn
                .query_row(
                    &format!("SELECT array_to_string(enum_range(NULL::{ty}), ',')"),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(stored, codes.join(","), "{ty}");
        }
        conn.execute_batch(outcome).unwrap();
        let rows: Vec<(String, String, Option<String>)> = conn
            .prepare("SELECT id, kind::VARCHAR, stage::VARCHAR FROM events ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows,
            [
                ("e-1".into(), "train".into(), Some("enrolled".into())),
                ("e-2".into(), "outcome".into(), None)
            ]
        );
        // Once renewed, the next open has nothing to do.
        renew_events(&conn).unwrap();
        assert_eq!(count(&conn, "SELECT count(*) FROM events"), 2);
    }

    /// The schema's ENUM types hold the codes ingest accepts, in its order.
    #[test]
    fn the_enum_types_hold_the_codes_of_ingest() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        conn.execute_batch(&schema_sql()).unwrap();
        let range = |t: &str| -> String {
            conn.query_row(
                &format!("SELECT array_to_string(enum_range(NULL::{t}), ',')"),
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        for (ty, _, codes) in enum_lists() {
            assert_eq!(range(ty), codes.join(","), "{ty}");
        }
        assert_eq!(
            range("event_kind"),
            "scan,assess,enroll,service,train,outcome"
        );
    }
}

#[cfg(test)]
mod properties {
    //! Sending events again, in any order and any batching, changes nothing:
    //! the store keeps each id once and the aggregator sees each event once.

    use proptest::prelude::*;

    use super::*;
    use crate::aggregate::Aggregator;
    use crate::aggregate::properties::{build, event};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn duplicates_in_any_order_change_nothing(
            raw in proptest::collection::vec(event(), 1..60),
            copies in proptest::collection::vec(any::<prop::sample::Index>(), 0..60),
            order in any::<u64>(),
            cuts in proptest::collection::vec(1usize..20, 1..10),
        ) {
            let events: Vec<Event> = raw.into_iter().enumerate().map(|(i, r)| build(i, r)).collect();
            // Every event once, some again, shuffled.
            let mut sent: Vec<Event> = events.clone();
            sent.extend(copies.iter().map(|c| events[c.index(events.len())].clone()));
            let mut s = order;
            for i in (1..sent.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                sent.swap(i, (s >> 33) as usize % (i + 1));
            }

            let region = Region::load("beijing").unwrap();
            let dir = tempfile::tempdir().unwrap();
            let (tx, rx) = std_mpsc::channel();
            let opened = Store::open(&dir.path().join("w.duckdb"), &region, &mut |_| {}, tx).unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let (mut accepted, mut duplicates) = (0, 0);
            let mut rest = sent.as_slice();
            let mut cut = cuts.iter().cycle();
            while !rest.is_empty() {
                let (batch, next) = rest.split_at((*cut.next().unwrap()).min(rest.len()));
                rest = next;
                // A request's own repeats are removed before the store (as ingest does).
                let mut seen = std::collections::HashSet::new();
                let unique: Vec<Event> = batch.iter().filter(|e| seen.insert(e.id.clone())).cloned().collect();
                let repeats = batch.len() - unique.len();
                let committed = runtime
                    .block_on(opened.store.ingest(Batch {
                        source: "prop".into(),
                        format: Format::Ndjson,
                        events: unique,
                        rejected: Vec::new(),
                        not_kept: 0,
                        repeats,
                    }))
                    .unwrap();
                accepted += committed.accepted;
                duplicates += committed.duplicates + repeats;
            }
            prop_assert_eq!((accepted, duplicates), (events.len(), sent.len() - events.len()));

            let mut live = Aggregator::new(region.districts.len(), 0);
            for batch in rx.try_iter() {
                for e in batch.events {
                    live.apply(e);
                }
            }
            let mut once = Aggregator::new(region.districts.len(), 0);
            for e in events.iter().cloned() {
                once.apply(e);
            }
            prop_assert_eq!(live.city, once.city);
            prop_assert_eq!(live.colours, once.colours);

            // And a restart replays the same figures from the file.
            super::tests::stop(opened);
            let mut replayed = Aggregator::new(region.districts.len(), 0);
            let (tx, _rx) = std_mpsc::channel();
            let again = Store::open(&dir.path().join("w.duckdb"), &region, &mut |e| replayed.apply(e), tx).unwrap();
            let again_replayed = again.replayed;
            super::tests::stop(again);
            prop_assert_eq!(again_replayed, events.len() as u64);
            prop_assert_eq!(replayed.city, once.city);
        }
    }
}
