//! The loader thread: takes the groups the writer has logged and answered
//! into DuckDB, on a connection of its own, so that the writer's serial work
//! (numbering, the log, the answers) and DuckDB's (the append, the commit,
//! the checkpoint) run side by side on the two cores.
//!
//! The writer sends each logged group, then seals a segment once it is full
//! (a row group of events, [`super::writer::ROW_GROUP_ROWS`]) or
//! `--load-every-ms` old: the loader appends the groups of a segment in one
//! transaction (their events in whole chunks of DuckDB's vectors,
//! [`CHUNK_ROWS`]: a chunk costs about the same full or not; their requests'
//! rows and rejected records at the seal, one append a table) and commits
//! it with the segment's number recorded ([`LOADED_SETTING`]), then deletes
//! the segment and publishes its number ([`Loader::loaded`]): the writer's
//! duplicate check asks DuckDB about the segments up to it and looks in its
//! own copy of the ids of the later ones.
//!
//! A failed append or commit voids the transaction; the loader then drops
//! what it is sent (it is in the log) and says so ([`Loader::failed`]): the
//! writer stops it, opens the file again and loads the log ([`recover`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use duckdb::Connection;

use super::StoreError;
use super::database::{Conn, Database, RawConnection, quoted};
use super::log::{self, Group, LOADED_SETTING};
use crate::time;

/// Events the writer may be ahead of the loader ([`Backlog`]): past them it
/// waits, so the groups answered and not yet in DuckDB stay about a
/// segment's worth (22 MiB of Arrow for a row group of launch-morning
/// events). Counted in events, not groups: a seal's commit keeps the loader
/// some 100 ms, which small groups from one sender would otherwise fill in
/// a few milliseconds and then wait out
/// (docs/decisions/0014-the-loader-backlog-bounded-in-events.md).
const QUEUE_EVENTS: u64 = super::writer::ROW_GROUP_ROWS;

/// The write-ahead log is folded into the database file once it is this big,
/// whatever the rows (a safety bound: [`super::writer::ROW_GROUP_ROWS`] is
/// what normally starts a checkpoint, at about 15 MiB of events). DuckDB
/// would do it by itself only when no other transaction is open, which a
/// busy console's reads can prevent for long; the loader does it on purpose,
/// holding the side connection and the writer's SQL so that no other
/// transaction is open.
pub const WAL_CHECKPOINT_BYTES: u64 = 32 * 1024 * 1024;

/// Loads after which a due checkpoint stops waiting for a gap between
/// console reads and waits for the read in progress instead.
const CHECKPOINT_DEFERRALS: u32 = 4;

/// Below this the WAL holds no row group's worth of events: a load of a
/// whole row group went straight into the file, and the WAL only says
/// where (a few KiB); a checkpoint would have nothing to fold.
const WAL_ROWS_BYTES: u64 = 1024 * 1024;

/// Whether a checkpoint is due: the events filled a row group since the last
/// one and the WAL holds them, or the WAL reached its bound.
fn checkpoint_due(rows: u64, checkpointed_rows: u64, wal: u64) -> bool {
    let group = super::writer::ROW_GROUP_ROWS;
    (rows / group > checkpointed_rows / group && wal >= WAL_ROWS_BYTES)
        || wal >= WAL_CHECKPOINT_BYTES
}

/// Bytes in the database's write-ahead log (0 when there is none).
pub fn wal_bytes(database: &Path) -> u64 {
    let mut wal = database.as_os_str().to_owned();
    wal.push(".wal");
    std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

pub(super) enum Job {
    /// A group logged (and answered) in the segment being written.
    Group(Group),
    /// Every group of segment `segment` is sent: commit them, recording it,
    /// and delete it.
    Seal { segment: u64 },
    /// Answered once every job sent before it is done.
    Done(tokio::sync::oneshot::Sender<()>),
}

/// What the loader tells the writer.
struct Shared {
    /// The last segment committed.
    loaded: AtomicU64,
    /// A load failed: what follows is dropped until the writer reopens.
    failed: AtomicBool,
    /// The jobs sent and not done yet.
    backlog: Backlog,
}

impl Job {
    /// What the job counts in the [`Backlog`]: a group its events (one at
    /// least, so that groups of none are bounded too), the others nothing.
    fn weight(&self) -> u64 {
        match self {
            Job::Group(group) => (group.events.num_rows() as u64).max(1),
            Job::Seal { .. } | Job::Done(_) => 0,
        }
    }
}

/// How far the writer is ahead of the loader, in events: the writer enters
/// each job before sending it and waits while the backlog would pass its
/// bound (a job larger than the bound goes alone); the loader leaves each
/// job once it is done.
struct Backlog {
    bound: u64,
    queued: Mutex<Queued>,
    /// Told when `queued` falls, or the loader ends.
    drained: Condvar,
}

#[derive(Default)]
struct Queued {
    events: u64,
    /// The loader thread has ended: nothing will fall any more.
    gone: bool,
}

impl Backlog {
    fn new(bound: u64) -> Backlog {
        Backlog {
            bound,
            queued: Mutex::default(),
            drained: Condvar::new(),
        }
    }

    fn queued(&self) -> std::sync::MutexGuard<'_, Queued> {
        // Only counters are written under the lock.
        self.queued.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a job of `weight` in, once there is room for it.
    fn enter(&self, weight: u64) {
        if weight == 0 {
            return;
        }
        let mut queued = self.queued();
        while queued.events > 0 && queued.events + weight > self.bound && !queued.gone {
            queued = self.drained.wait(queued).unwrap_or_else(|e| e.into_inner());
        }
        queued.events += weight;
    }

    /// A job of `weight` is done (or dropped).
    fn leave(&self, weight: u64) {
        if weight > 0 {
            self.queued().events -= weight;
            self.drained.notify_one();
        }
    }

    /// The loader has ended: nobody waits for room any more.
    fn close(&self) {
        self.queued().gone = true;
        self.drained.notify_all();
    }
}

/// Closes the backlog when the loader thread ends, even by a panic, so that
/// the writer does not wait for room nobody makes.
struct Closing(Arc<Shared>);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.backlog.close();
    }
}

/// The writer's handle on the loader thread. Dropping it stops the thread
/// and waits for it; a transaction not sealed is rolled back (its groups are
/// in the log).
pub(super) struct Loader {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Loader {
    /// Starts the loader on `conn` (a connection to the writer's database,
    /// whose `events` hold `rows` rows, all checkpointed).
    pub(super) fn start(
        conn: RawConnection,
        database: &Path,
        side: Arc<Mutex<Conn>>,
        writer_sql: Arc<Mutex<()>>,
        rows: u64,
    ) -> Result<Loader, StoreError> {
        let shared = Arc::new(Shared {
            loaded: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            backlog: Backlog::new(QUEUE_EVENTS),
        });
        let (tx, rx) = mpsc::channel();
        let work = Work {
            conn,
            database: database.to_path_buf(),
            side,
            writer_sql,
            rows,
            checkpointed_rows: rows,
            deferred: 0,
            open: None,
            failed: false,
            shared: shared.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("store-loader".into())
            .spawn(move || work.run(rx))?;
        Ok(Loader {
            tx: Some(tx),
            thread: Some(thread),
            shared,
        })
    }

    /// Hands a job on, waiting while the loader is [`QUEUE_EVENTS`] events
    /// behind (a job is taken whatever its size when none wait). A loader
    /// gone (it panicked) counts as failed.
    pub(super) fn send(&self, job: Job) {
        self.shared.backlog.enter(job.weight());
        let sent = self.tx.as_ref().map(|tx| tx.send(job));
        if !matches!(sent, Some(Ok(()))) {
            self.shared.failed.store(true, Ordering::Release);
        }
    }

    /// The last segment committed to DuckDB (and deleted).
    pub(super) fn loaded(&self) -> u64 {
        self.shared.loaded.load(Ordering::Acquire)
    }

    pub(super) fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
    }

    /// Waits until every job sent so far is done.
    pub(super) fn wait(&self) {
        let (reply, done) = tokio::sync::oneshot::channel();
        self.send(Job::Done(reply));
        let _ = done.blocking_recv();
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the loader thread panicked");
        }
    }
}

/// DuckDB's vector: an append goes in chunks of this many rows, and a
/// chunk costs about the same whether it is full or not.
const CHUNK_ROWS: usize = 2048;

/// Events are appended once this many wait (in whole chunks), and all of
/// them when the segment is sealed.
const APPEND_AT: usize = 8 * CHUNK_ROWS;

/// The transaction open on the loader's connection.
struct Open {
    rows: u64,
    since: Instant,
    /// Events of the transaction not appended yet.
    waiting: Waiting,
    /// The groups' other rows (requests, rejected records), written at the
    /// seal: a row written alone costs DuckDB most of a millisecond, many
    /// in one append hardly more.
    rests: Vec<log::Rest>,
}

/// Events waiting to be appended, so that they go in whole chunks.
#[derive(Default)]
struct Waiting {
    batches: Vec<RecordBatch>,
    rows: usize,
}

struct Work {
    conn: RawConnection,
    database: PathBuf,
    side: Arc<Mutex<Conn>>,
    /// Held by the writer around its own SQL: with it (and the side
    /// connection) no other transaction is open, and a checkpoint can run.
    writer_sql: Arc<Mutex<()>>,
    /// Rows in `events`, and how many there were at the last checkpoint.
    rows: u64,
    checkpointed_rows: u64,
    /// Loads since a checkpoint fell due and found a reader in the way.
    deferred: u32,
    open: Option<Open>,
    failed: bool,
    shared: Arc<Shared>,
}

impl Work {
    fn run(mut self, rx: mpsc::Receiver<Job>) {
        let _closing = Closing(self.shared.clone());
        for job in rx {
            let weight = job.weight();
            match job {
                Job::Group(group) if !self.failed => {
                    if let Err(e) = self.load(group) {
                        self.fail(&e, "loading a group into the database failed");
                    }
                }
                Job::Seal { segment } if !self.failed => self.seal(segment),
                Job::Group(_) | Job::Seal { .. } => {}
                Job::Done(reply) => {
                    let _ = reply.send(());
                }
            }
            self.shared.backlog.leave(weight);
        }
        // The writer is gone: stopping (it sealed what it had) or reopening
        // the file (what was not sealed is in the log).
        if self.open.is_some() {
            let _ = self.conn.execute("ROLLBACK");
        }
    }

    fn load(&mut self, group: Group) -> Result<(), StoreError> {
        let clock = Instant::now();
        if self.open.is_none() {
            self.conn.execute("BEGIN TRANSACTION")?;
            self.open = Some(Open {
                rows: 0,
                since: clock,
                waiting: Waiting::default(),
                rests: Vec::new(),
            });
        }
        let mut times = Times::default();
        let rows = group.events.num_rows();
        let open = self.open.as_mut().expect("opened above");
        if rows > 0 {
            open.waiting.batches.push(group.events);
            open.waiting.rows += rows;
        }
        open.rests.push(group.rest);
        open.rows += rows as u64;
        self.rows += rows as u64;
        if open.waiting.rows >= APPEND_AT {
            open.waiting.append(&self.conn, false, &mut times)?;
        }
        tracing::debug!(
            events = rows,
            append_us = times.append.as_micros() as u64,
            total_us = clock.elapsed().as_micros() as u64,
            "loaded a group"
        );
        Ok(())
    }

    /// Commits the open transaction with `segment` recorded as loaded; then
    /// the segment is deleted, its number published, and the WAL bounded.
    fn seal(&mut self, segment: u64) {
        let clock = Instant::now();
        let Some(mut open) = self.open.take() else {
            // The writer seals only segments it wrote to, and every group
            // of them opened the transaction.
            tracing::warn!(segment, "sealing a segment with nothing loaded");
            return;
        };
        let mut times = Times::default();
        let committed = open
            .waiting
            .append(&self.conn, true, &mut times)
            .and_then(|()| load_rest(&self.conn, &open.rests, &mut times))
            .and_then(|()| {
                self.conn
                    .execute(&setting_sql(LOADED_SETTING, &segment.to_string()))
            })
            .and_then(|()| self.conn.execute("COMMIT"));
        if let Err(e) = committed {
            self.open = Some(open);
            self.fail(
                &e,
                "loading the ingest log into the database failed; the store will be reopened and load it again",
            );
            return;
        }
        let commit = clock.elapsed();
        self.shared.loaded.store(segment, Ordering::Release);
        // Loaded and recorded: a segment left behind is deleted at the next
        // start.
        if let Err(e) = log::remove_segment(&log::dir_of(&self.database), segment) {
            tracing::warn!(error = %e, segment, "deleting a loaded ingest log segment failed; the next start deletes it");
        }
        tracing::debug!(
            segment,
            events = open.rows,
            open_ms = open.since.elapsed().as_millis() as u64,
            append_us = times.append.as_micros() as u64,
            rest_us = times.rest.as_micros() as u64,
            commit_us = (commit - times.append - times.rest).as_micros() as u64,
            total_us = clock.elapsed().as_micros() as u64,
            "loaded the ingest log"
        );
        self.bound_wal();
    }

    /// A failed load: the transaction is void, and the writer will reopen
    /// the file (which loads the log).
    fn fail(&mut self, error: &StoreError, what: &str) {
        tracing::error!(%error, "{what}");
        if self.open.take().is_some() {
            let _ = self.conn.execute("ROLLBACK");
        }
        self.failed = true;
        self.shared.failed.store(true, Ordering::Release);
    }

    /// Folds the WAL into the database file when [`checkpoint_due`].
    fn bound_wal(&mut self) {
        let wal = wal_bytes(&self.database);
        if !checkpoint_due(self.rows, self.checkpointed_rows, wal) {
            return;
        }
        // Holding the side connection and the writer's SQL: no other
        // transaction is open, so the checkpoint cannot be refused for one.
        // A console read holding the side connection (or the writer reading
        // the stored ids) is let finish for a few loads; after that, or at
        // the WAL's bound, the loader waits for it, so that readers that
        // never pause cannot hold the WAL open (side before writer's SQL,
        // the order everywhere).
        let clock = Instant::now();
        let wait = wal >= WAL_CHECKPOINT_BYTES || self.deferred >= CHECKPOINT_DEFERRALS;
        let result = if wait {
            let (Ok(_side), Ok(_writer)) = (self.side.lock(), self.writer_sql.lock()) else {
                return;
            };
            self.conn.execute("CHECKPOINT")
        } else {
            match (self.side.try_lock(), self.writer_sql.try_lock()) {
                (Ok(_side), Ok(_writer)) => self.conn.execute("CHECKPOINT"),
                _ => {
                    self.deferred += 1;
                    return;
                }
            }
        };
        match result {
            Ok(()) => {
                self.checkpointed_rows = self.rows;
                self.deferred = 0;
                tracing::debug!(
                    us = clock.elapsed().as_micros() as u64,
                    rows = self.rows,
                    waited = wait,
                    "checkpointed the write-ahead log"
                )
            }
            Err(e) => self.fail(&e, "checkpoint failed; the store will be reopened"),
        }
    }
}

/// Where a load's time went.
#[derive(Default)]
struct Times {
    /// Appending the events.
    append: Duration,
    /// Rejected records and the requests' rows.
    rest: Duration,
}

/// Writes a row of `settings`.
pub(super) fn put_setting(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.execute_batch(&setting_sql(key, value))?;
    Ok(())
}

/// The statement writing a row of `settings` (the loader's connection
/// takes no parameters).
fn setting_sql(key: &str, value: &str) -> String {
    format!(
        "INSERT INTO settings VALUES ({}, {}, make_timestamp({}::BIGINT))
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        quoted(key),
        quoted(value),
        time::now_beijing_micros()
    )
}

impl Waiting {
    /// Appends the waiting events to `events` as one Arrow batch (read by
    /// DuckDB in place, [`RawConnection::append`]): all of them, or those
    /// that fill whole chunks (the rest wait for the next). Their ids are
    /// new, the writer made sure of it.
    fn append(
        &mut self,
        conn: &RawConnection,
        all: bool,
        times: &mut Times,
    ) -> Result<(), StoreError> {
        let rows = if all {
            self.rows
        } else {
            self.rows / CHUNK_ROWS * CHUNK_ROWS
        };
        if rows == 0 {
            return Ok(());
        }
        let clock = Instant::now();
        let mut batches = std::mem::take(&mut self.batches);
        // One batch (a group of 16,384 events or more) goes as it is.
        let events = match batches.len() {
            1 => batches.pop().expect("one batch"),
            _ => arrow::compute::concat_batches(&super::rows::events_schema(), &batches)
                .map_err(|e| StoreError::Transaction(format!("joining the events to load: {e}")))?,
        };
        conn.append("events", &events.slice(0, rows))?;
        self.rows -= rows;
        if self.rows > 0 {
            self.batches.push(events.slice(rows, self.rows));
        }
        times.append += clock.elapsed();
        Ok(())
    }
}

/// Appends the groups' other rows — their rejected records, their
/// requests' rows — in the transaction open on `conn`: one append a table.
fn load_rest(
    conn: &RawConnection,
    rests: &[log::Rest],
    times: &mut Times,
) -> Result<(), StoreError> {
    use arrow::array::{
        ArrayBuilder, ArrayRef, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
    };
    let clock = Instant::now();
    let requests = || {
        rests
            .iter()
            .flat_map(|rest| rest.requests.iter().map(move |r| (rest.received, r)))
    };
    let batch = |columns: Vec<(&str, ArrayRef)>| {
        RecordBatch::try_from_iter(columns)
            .map_err(|e| StoreError::Transaction(format!("the rows to load: {e}")))
    };
    let (mut received, mut source, mut format) = (
        TimestampMicrosecondBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let (mut line, mut event_id, mut reason, mut raw) = (
        Int64Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    for (at, request) in requests() {
        for r in &request.rejected {
            received.append_value(at);
            source.append_value(&request.source);
            format.append_value(&request.format);
            line.append_value(r.line as i64);
            event_id.append_option(r.event_id.as_deref());
            reason.append_value(&r.reason);
            raw.append_value(&r.raw);
        }
    }
    if !line.is_empty() {
        let rejected = batch(vec![
            ("received_at", Arc::new(received.finish())),
            ("source", Arc::new(source.finish())),
            ("format", Arc::new(format.finish())),
            ("line", Arc::new(line.finish())),
            ("event_id", Arc::new(event_id.finish())),
            ("reason", Arc::new(reason.finish())),
            ("raw", Arc::new(raw.finish())),
        ])?;
        conn.append("rejected", &rejected)?;
    }
    let (mut received, mut source, mut format) = (
        TimestampMicrosecondBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let (mut accepted, mut duplicates, mut rejected, mut not_kept) = (
        Int64Builder::new(),
        Int64Builder::new(),
        Int64Builder::new(),
        Int64Builder::new(),
    );
    for (at, r) in requests() {
        received.append_value(at);
        source.append_value(&r.source);
        format.append_value(&r.format);
        accepted.append_value(r.accepted);
        duplicates.append_value(r.duplicates);
        rejected.append_value(r.rejected.len() as i64 + r.not_kept);
        not_kept.append_value(r.not_kept);
    }
    if !received.is_empty() {
        let requests = batch(vec![
            ("received_at", Arc::new(received.finish())),
            ("source", Arc::new(source.finish())),
            ("format", Arc::new(format.finish())),
            ("accepted", Arc::new(accepted.finish())),
            ("duplicates", Arc::new(duplicates.finish())),
            ("rejected", Arc::new(rejected.finish())),
            ("not_kept", Arc::new(not_kept.finish())),
        ])?;
        conn.append("ingest_requests", &requests)?;
    }
    times.rest += clock.elapsed();
    Ok(())
}

/// Loads what the ingest log holds beyond the database: each segment above
/// the one recorded as loaded ([`LOADED_SETTING`]) in one transaction that
/// records it, then deletes every segment. A record cut short at a
/// segment's end (the group being written when the server stopped, never
/// answered) is left out, and said. Returns the number of the segment to
/// write next.
pub(super) fn recover(db: &Arc<Database>, database: &Path) -> Result<u64, StoreError> {
    let dir = log::dir_of(database);
    let loaded: u64 = db
        .connect()?
        .query_row(
            "SELECT value FROM settings WHERE key = ?",
            [LOADED_SETTING],
            |r| r.get::<_, String>(0),
        )
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let conn = db.raw_connection()?;
    let mut last = loaded;
    for (number, path) in log::segments(&dir)? {
        last = last.max(number);
        if number > loaded {
            let read = log::read(&path, &super::rows::events_schema())?;
            if let Some(why) = &read.why {
                tracing::warn!(segment = %path.display(), bytes = read.dropped, %why, "the ingest log ends with a record never answered; left out");
            }
            let clock = Instant::now();
            let mut times = Times::default();
            let groups = read.groups.len();
            let (batches, rests): (Vec<RecordBatch>, Vec<log::Rest>) =
                read.groups.into_iter().map(|g| (g.events, g.rest)).unzip();
            let events: usize = batches.iter().map(RecordBatch::num_rows).sum();
            let loaded = (|| {
                conn.execute("BEGIN TRANSACTION")?;
                let mut waiting = Waiting {
                    batches,
                    rows: events,
                };
                waiting.append(&conn, true, &mut times)?;
                load_rest(&conn, &rests, &mut times)?;
                conn.execute(&setting_sql(LOADED_SETTING, &number.to_string()))?;
                conn.execute("COMMIT")
            })();
            if let Err(e) = loaded {
                let _ = conn.execute("ROLLBACK");
                return Err(StoreError::Transaction(format!(
                    "loading the ingest log's segment {} into the database: {e}",
                    path.display()
                )));
            }
            tracing::info!(
                segment = number,
                groups,
                events,
                ms = clock.elapsed().as_millis() as u64,
                "loaded the ingest log's events the database did not have"
            );
        }
        std::fs::remove_file(&path)?;
    }
    Ok(last + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};

    /// Whether the thread of [`entering`] is still waiting after a while.
    fn still_waiting(entered: &mpsc::Receiver<()>) -> bool {
        entered.recv_timeout(Duration::from_millis(200)) == Err(mpsc::RecvTimeoutError::Timeout)
    }

    /// Whether the thread of [`entering`] gets in (within ten seconds).
    fn gets_in(entered: &mpsc::Receiver<()>) -> bool {
        entered.recv_timeout(Duration::from_secs(10)) == Ok(())
    }

    /// Enters `weight` on a thread of its own; the receiver hears when it
    /// is in.
    fn entering(backlog: &Arc<Backlog>, weight: u64) -> mpsc::Receiver<()> {
        let (tx, rx) = mpsc::channel();
        let backlog = backlog.clone();
        std::thread::spawn(move || {
            backlog.enter(weight);
            let _ = tx.send(());
        });
        rx
    }

    #[test]
    fn the_writer_waits_only_when_the_backlog_would_pass_its_bound() {
        let backlog = Arc::new(Backlog::new(100));
        // Up to the bound, and jobs of no weight, without waiting.
        for weight in [60, 0, 40, 0] {
            backlog.enter(weight);
        }
        assert_eq!(backlog.queued().events, 100);
        let third = entering(&backlog, 1);
        assert!(still_waiting(&third));
        // 60 done: room for it.
        backlog.leave(60);
        assert!(gets_in(&third));
        assert_eq!(backlog.queued().events, 41);
        // A job larger than the bound waits for the backlog to empty, then
        // goes alone.
        let large = entering(&backlog, 250);
        assert!(still_waiting(&large));
        backlog.leave(40);
        assert!(still_waiting(&large));
        backlog.leave(1);
        assert!(gets_in(&large));
        assert_eq!(backlog.queued().events, 250);
    }

    #[test]
    fn a_loader_gone_lets_the_waiting_writer_go() {
        let backlog = Arc::new(Backlog::new(10));
        backlog.enter(10);
        let waiting = entering(&backlog, 5);
        assert!(still_waiting(&waiting));
        backlog.close();
        assert!(gets_in(&waiting));
        // And nobody waits after it.
        backlog.enter(100);
        assert_eq!(backlog.queued().events, 115);
    }

    /// `n` scans numbered from `first`, as the writer's batch has them.
    fn scans(first: i64, n: usize) -> RecordBatch {
        let schema = super::super::rows::events_schema();
        let seqs: Vec<i64> = (first..first + n as i64).collect();
        let text = |f: &dyn Fn(i64) -> String| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(seqs.iter().map(|&s| f(s))))
        };
        let time = || -> ArrayRef { Arc::new(TimestampMicrosecondArray::from(vec![0; n])) };
        let columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|field| match field.name().as_str() {
                "seq" => Arc::new(Int64Array::from(seqs.clone())) as ArrayRef,
                "id" => text(&|s| format!("e-{s}")),
                "person" => text(&|s| format!("p-{s:06}")),
                "kind" => text(&|_| "scan".into()),
                "district" => text(&|_| "110101".into()),
                "source" => text(&|_| "test".into()),
                "ts" | "received_at" => time(),
                _ => arrow::array::new_null_array(field.data_type(), n),
            })
            .collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    /// Events wait until they fill whole chunks; the rest go at the seal,
    /// and nothing is appended twice or left out.
    #[test]
    fn events_are_appended_in_whole_chunks_and_the_rest_at_the_seal() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("l.duckdb")).unwrap();
        let sql = db.connect().unwrap();
        sql.execute_batch(&super::super::schema_sql()).unwrap();
        // Without a transaction, each append commits: the SQL connection
        // sees it.
        let conn = db.raw_connection().unwrap();
        let count = || -> i64 {
            sql.query_row("SELECT count(*) FROM events", [], |r| r.get(0))
                .unwrap()
        };
        let mut waiting = Waiting {
            batches: vec![scans(1, 1_000), scans(1_001, 1_000), scans(2_001, 1_000)],
            rows: 3_000,
        };
        let mut times = Times::default();
        waiting.append(&conn, false, &mut times).unwrap();
        assert_eq!(count(), 2_048);
        assert_eq!(waiting.rows, 952);
        let left: Vec<usize> = waiting.batches.iter().map(RecordBatch::num_rows).collect();
        assert_eq!(left, [952]);
        // Fewer than a chunk: nothing until the seal.
        waiting.append(&conn, false, &mut times).unwrap();
        assert_eq!(count(), 2_048);
        waiting.append(&conn, true, &mut times).unwrap();
        assert_eq!((count(), waiting.rows), (3_000, 0));
        let seqs: (i64, i64, i64) = sql
            .query_row(
                "SELECT min(seq), max(seq), count(DISTINCT seq) FROM events",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(seqs, (1, 3_000, 3_000));
    }

    /// The other rows of a transaction's groups go in one append a table,
    /// each with its own group's time.
    #[test]
    fn the_groups_requests_and_rejected_records_are_written_together() {
        use super::super::Rejected;
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("r.duckdb")).unwrap();
        let conn = db.connect().unwrap();
        conn.execute_batch(&super::super::schema_sql()).unwrap();
        let rejected = |line: u64, id: Option<&str>| Rejected {
            line,
            event_id: id.map(str::to_string),
            reason: format!("reason {line}"),
            raw: format!("raw {line}"),
        };
        let request = |source: &str, accepted: i64, rejected: Vec<Rejected>| log::RequestRow {
            source: source.into(),
            format: "ndjson".into(),
            accepted,
            duplicates: accepted / 5,
            rejected,
            not_kept: accepted % 4,
        };
        let rests = vec![
            log::Rest {
                received: 1_000_000,
                requests: vec![request("a", 10, vec![rejected(3, Some("e-3"))])],
            },
            log::Rest {
                received: 2_000_000,
                requests: vec![
                    request("b", 0, vec![rejected(1, None), rejected(2, Some("e-2"))]),
                    request("c", 25, vec![]),
                ],
            },
        ];
        let mut times = Times::default();
        let raw = db.raw_connection().unwrap();
        raw.execute("BEGIN TRANSACTION").unwrap();
        load_rest(&raw, &rests, &mut times).unwrap();
        raw.execute("COMMIT").unwrap();
        let requests: Vec<(i64, String, i64, i64, i64, i64)> = conn
            .prepare(
                "SELECT epoch_us(received_at), source, accepted, duplicates, rejected, not_kept
                 FROM ingest_requests ORDER BY source",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        // `rejected` counts the kept and the not kept.
        assert_eq!(
            requests,
            [
                (1_000_000, "a".into(), 10, 2, 1 + 2, 2),
                (2_000_000, "b".into(), 0, 0, 2, 0),
                (2_000_000, "c".into(), 25, 5, 1, 1),
            ]
        );
        let rows: Vec<(i64, String, i64, Option<String>, String, String)> = conn
            .prepare(
                "SELECT epoch_us(received_at), source, line, event_id, reason, raw
                 FROM rejected ORDER BY source, line",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows,
            [
                (
                    1_000_000,
                    "a".into(),
                    3,
                    Some("e-3".into()),
                    "reason 3".into(),
                    "raw 3".into()
                ),
                (
                    2_000_000,
                    "b".into(),
                    1,
                    None,
                    "reason 1".into(),
                    "raw 1".into()
                ),
                (
                    2_000_000,
                    "b".into(),
                    2,
                    Some("e-2".into()),
                    "reason 2".into(),
                    "raw 2".into()
                ),
            ]
        );
    }

    /// Not a test: the load of row groups of launch-morning events into a
    /// fresh file, in 10,000-event groups as the loader gets them; wall and
    /// CPU time an event, median and range of each row group's.
    /// `cargo test --release --lib load_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn load_speed() {
        let cpu = || {
            // The process's user + system time, in ticks of 10 ms.
            let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
            let after = &stat[stat.rfind(')').unwrap() + 2..];
            let ticks: u64 = after
                .split(' ')
                .skip(11)
                .take(2)
                .map(|v| v.parse::<u64>().unwrap())
                .sum();
            Duration::from_millis(ticks * 10)
        };
        let rows = super::super::writer::ROW_GROUP_ROWS as usize;
        let groups: Vec<RecordBatch> = (0..4)
            .map(|i| super::super::writer::morning_batch(1 + (i * rows) as i64, rows))
            .collect();
        let (mut walls, mut cpus) = (Vec::new(), Vec::new());
        for _round in 0..6 {
            let dir = tempfile::tempdir().unwrap();
            let db = Database::open(&dir.path().join("s.duckdb")).unwrap();
            db.connect()
                .unwrap()
                .execute_batch(&super::super::schema_sql())
                .unwrap();
            let conn = db.raw_connection().unwrap();
            for group in &groups {
                let (clock, cpu0) = (Instant::now(), cpu());
                let mut waiting = Waiting::default();
                let mut times = Times::default();
                conn.execute("BEGIN TRANSACTION").unwrap();
                for at in (0..rows).step_by(10_000) {
                    let n = 10_000.min(rows - at);
                    waiting.batches.push(group.slice(at, n));
                    waiting.rows += n;
                    let all = at + n == rows;
                    if all || waiting.rows >= APPEND_AT {
                        waiting.append(&conn, all, &mut times).unwrap();
                    }
                }
                conn.execute("COMMIT").unwrap();
                walls.push(clock.elapsed().as_secs_f64() * 1e6 / rows as f64);
                cpus.push((cpu() - cpu0).as_secs_f64() * 1e6 / rows as f64);
            }
            let stored: i64 = db
                .connect()
                .unwrap()
                .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
                .unwrap();
            assert_eq!(stored, 4 * rows as i64);
        }
        let show = |what: &str, v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            println!(
                "{what} µs an event: median {:.2} [{:.2}–{:.2}] over {} row groups",
                v[v.len() / 2],
                v[0],
                v[v.len() - 1],
                v.len()
            );
        };
        show("wall", &mut walls);
        show("cpu", &mut cpus);
    }
}
