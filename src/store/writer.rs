//! The writer thread: numbers the events, commits them to the ingest log,
//! answers and hands them on; the loader thread ([`super::loader`]) takes
//! them into DuckDB.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc as std_mpsc};

use arrow::array::{ArrayRef, AsArray};
use tokio::sync::mpsc;

use super::database::{Conn, Database};
use super::ids::{self, StoredIds};
use super::loader::{Job, Loader, put_setting, recover};
use super::log::{self, Group, RequestRow, Rest, Segment};
use super::replay::{next_seq, stored_rows};
use super::rows::events_batch;
use super::{Batch, Command, Committed, StoreError};
use crate::model::Event;
use crate::region::Region;
use crate::time;

/// Requests committed together at most, so one transaction stays short.
const GROUP_MAX_COMMANDS: usize = 64;
const GROUP_MAX_EVENTS: usize = 200_000;
/// The largest log record buffer the writer keeps for the next group (a
/// group of 10,000 launch-morning events takes 1.3 MiB).
const RECORD_KEPT: usize = 32 << 20;

/// DuckDB keeps a table in row groups of this many rows (its default). A
/// checkpoint leaves the rows it wrote as full groups and one partly filled
/// group, which stays as it is (the store does not vacuum, see
/// [`Database::open`]); checkpointing just after the events fill a group
/// keeps that last group small and the others full. With a 16 MiB WAL
/// bound choosing the moment, DuckDB's vacuum wrote the partly filled
/// groups again, half of each checkpoint's cost
/// (docs/decisions/0011-checkpoints-by-row-group-without-vacuum.md). A
/// log segment is sealed when it holds this many events, so that its load
/// writes them straight into the file.
pub const ROW_GROUP_ROWS: u64 = 122_880;

/// Each event's seq (None: not stored), and the hashes of the new ids.
type Numbered = (Vec<Vec<Option<i64>>>, Vec<u64>);

/// A request's batch waiting in a group commit, with where its answer goes.
type Pending = (
    Batch,
    tokio::sync::oneshot::Sender<Result<Committed, StoreError>>,
);

pub(super) struct Writer {
    conn: Conn,
    /// The database file, opened again after a failed write.
    path: PathBuf,
    /// The side connection: replaced on reopening (the loader holds it
    /// while checkpointing).
    side: Arc<Mutex<Conn>>,
    /// Held around the writer's own SQL, so that the loader's checkpoint
    /// finds no other transaction open.
    writer_sql: Arc<Mutex<()>>,
    /// False after a write failed and until the file is open again.
    healthy: bool,
    region: Region,
    accepted: std_mpsc::Sender<super::Accepted>,
    next_seq: i64,
    /// Rows in `events` when the file was opened (the id set's size).
    rows: u64,
    /// Every stored id: read on the writer's thread before its first write
    /// (and again after reopening the file).
    ids: Option<StoredIds>,
    /// The ingest log's segment the groups are appended to.
    log: Segment,
    /// The buffer each group's log record is encoded into.
    record: Vec<u8>,
    /// Since when the segment holds groups, and how many events.
    filling: Option<Filling>,
    /// The longest a segment waits for its load.
    load_every: std::time::Duration,
    /// The loader thread; none only while the file is being opened again.
    loader: Option<Loader>,
    /// The ids of the groups logged in segments the loader has not
    /// committed yet, with their segment: DuckDB does not have them, so the
    /// duplicate check looks here.
    unloaded: VecDeque<(u64, ArrayRef)>,
}

/// The segment being written, once it holds a group.
struct Filling {
    events: u64,
    since: std::time::Instant,
}

impl Writer {
    /// A writer appending to the log's segment `segment` ([`recover`] says
    /// which).
    pub(super) fn new(
        db: &Arc<Database>,
        path: &Path,
        side: Arc<Mutex<Conn>>,
        region: Region,
        accepted: std_mpsc::Sender<super::Accepted>,
        segment: u64,
        load_every: std::time::Duration,
    ) -> Result<Writer, StoreError> {
        let conn = db.connect()?;
        conn.execute_batch(ids::CANDIDATES_TABLE_SQL)?;
        let next_seq = next_seq(&conn)?;
        let rows = stored_rows(&conn)?;
        let log = Segment::create(&log::dir_of(path), segment)?;
        let writer_sql = Arc::new(Mutex::new(()));
        let loader = Loader::start(
            db.raw_connection()?,
            path,
            side.clone(),
            writer_sql.clone(),
            rows,
        )?;
        Ok(Writer {
            conn,
            path: path.to_path_buf(),
            side,
            writer_sql,
            healthy: true,
            region,
            accepted,
            next_seq,
            rows,
            ids: None,
            log,
            record: Vec::new(),
            filling: None,
            load_every,
            loader: Some(loader),
            unloaded: VecDeque::new(),
        })
    }

    /// After a failed write (a full disk, say) DuckDB's in-process state may
    /// no longer match its file: a commit that failed to reach the WAL can
    /// leave later commits invisible to this process although they are in the
    /// log. So every connection is closed and the file opened again, which
    /// replays the log; until that succeeds, writes are refused.
    fn reopen(&mut self) -> Result<(), StoreError> {
        // The loader's connection first (dropping it waits for the thread);
        // what it had not committed is in the log.
        self.loader = None;
        self.unloaded.clear();
        self.filling = None;
        let mut side = self.side.lock().map_err(|_| StoreError::Closed)?;
        // No connection to the old instance may outlive it: the file is
        // closed once the last goes.
        let placeholder = Database::open(Path::new(":memory:"))?;
        *side = placeholder.connect()?;
        self.conn = placeholder.connect()?;
        let db = Database::open(&self.path)?;
        let conn = db.connect()?;
        conn.execute_batch(ids::CANDIDATES_TABLE_SQL)?;
        // The console reads the file as it is, even while the log cannot
        // be loaded into it (a disk still full).
        *side = db.connect()?;
        drop(side);
        // The groups answered since the last load are in the log only.
        let segment = recover(&db, &self.path)?;
        self.log = Segment::create(&log::dir_of(&self.path), segment)?;
        self.next_seq = self.next_seq.max(next_seq(&conn)?);
        self.rows = stored_rows(&conn)?;
        self.loader = Some(Loader::start(
            db.raw_connection()?,
            &self.path,
            self.side.clone(),
            self.writer_sql.clone(),
            self.rows,
        )?);
        self.conn = conn;
        // The file is what counts: a failed commit may have reached it.
        self.ids = None;
        self.healthy = true;
        tracing::info!(path = %self.path.display(), "store reopened after a failed write");
        Ok(())
    }

    /// Ready to write: reopens the file first if the last write failed.
    fn ready(&mut self) -> Result<(), StoreError> {
        if self.loader.as_ref().is_none_or(Loader::failed) {
            self.healthy = false;
        }
        if !self.healthy {
            self.reopen().map_err(|e| {
                tracing::warn!(error = %e, "the store cannot be reopened yet");
                StoreError::Transaction(format!("the store is recovering from a failed write: {e}"))
            })?;
        }
        self.load_ids()
    }

    /// Reads every stored id, unless they are in memory already.
    fn load_ids(&mut self) -> Result<(), StoreError> {
        if self.ids.is_none() {
            let clock = std::time::Instant::now();
            // `rows` was counted when the file was opened, and no write
            // comes before the ids are read.
            let ids = {
                let _sql = lock(&self.writer_sql);
                StoredIds::load(&self.conn, self.rows)?
            };
            tracing::info!(
                ids = ids.len(),
                ms = clock.elapsed().as_millis() as u64,
                "read the stored event ids"
            );
            self.ids = Some(ids);
        }
        Ok(())
    }

    pub(super) fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        // Before the first request, not at open: the figures are served
        // meanwhile, and requests wait in the channel.
        if let Err(e) = self.load_ids() {
            tracing::error!(error = %e, "reading the stored ids failed; trying again at the first write");
        }
        // A clock for waiting on the channel while a load is open.
        let clock = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime with a timer");
        loop {
            let waited = match &self.filling {
                None => Ok(rx.blocking_recv()),
                Some(filling) => {
                    let left = self.load_every.saturating_sub(filling.since.elapsed());
                    clock.block_on(async { tokio::time::timeout(left, rx.recv()).await })
                }
            };
            let first = match waited {
                Ok(Some(command)) => command,
                Ok(None) => break,
                Err(_) => {
                    self.seal();
                    continue;
                }
            };
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
                            self.fail();
                        }
                        let _ = reply.send(result);
                    }
                    Command::Load { reply } => {
                        // Before any request that came after it: those
                        // are not answered yet.
                        if !ingests.is_empty() {
                            self.commit_ingests(std::mem::take(&mut ingests));
                        }
                        self.load_for(reply);
                    }
                }
                if ingests.len() < GROUP_MAX_COMMANDS && events < GROUP_MAX_EVENTS {
                    next = rx.try_recv().ok();
                }
            }
            if !ingests.is_empty() {
                self.commit_ingests(ingests);
            }
        }
        // Every handle is gone: the server is stopping. Leave a clean file,
        // and no segment.
        self.seal();
        let loaded = self.loader.take().is_some_and(|loader| {
            loader.wait();
            !loader.failed()
        });
        if let Err(e) = self.conn.execute_batch("CHECKPOINT") {
            tracing::warn!(error = %e, "checkpoint at shutdown failed");
        }
        if self.healthy
            && loaded
            && self.log.is_empty()
            && let Err(e) = self.log.remove()
        {
            tracing::warn!(error = %e, "removing the empty ingest log segment failed");
        }
    }

    fn commit_ingests(&mut self, ingests: Vec<Pending>) {
        match self.ready() {
            Ok(()) => self.commit_group(ingests),
            Err(e) => {
                for (_, reply) in ingests {
                    let _ = reply.send(Err(StoreError::Transaction(e.to_string())));
                }
            }
        }
    }

    fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let _sql = lock(&self.writer_sql);
        put_setting(&self.conn, key, value)
    }

    /// After a failed write: the file is opened again before the next
    /// write, which loads the log.
    fn fail(&mut self) {
        self.healthy = false;
    }

    /// Answers `reply` once every request answered so far is in DuckDB: the
    /// segment being written is sealed, and the loader answers after it.
    /// After a failed load, reopening the file loads the log (a failure is
    /// logged; the read then sees what DuckDB has).
    fn load_for(&mut self, reply: tokio::sync::oneshot::Sender<()>) {
        if !self.healthy || self.loader.as_ref().is_none_or(Loader::failed) {
            let _ = self.ready();
            let _ = reply.send(());
            return;
        }
        self.seal();
        match &self.loader {
            Some(loader) => loader.send(Job::Done(reply)),
            None => {
                let _ = reply.send(());
            }
        }
    }

    /// Hands the segment being written to the loader to commit, and starts
    /// the next one.
    fn seal(&mut self) {
        if self.log.is_empty() {
            return;
        }
        let Some(loader) = &self.loader else { return };
        self.filling = None;
        match self.log.next() {
            Ok(next) => {
                let sealed = std::mem::replace(&mut self.log, next).number();
                loader.send(Job::Seal { segment: sealed });
            }
            Err(e) => {
                // The segment goes on (and is loaded when the file is
                // opened again, before the next write).
                tracing::error!(error = %e, "starting the next ingest log segment failed; the store will be reopened");
                self.healthy = false;
            }
        }
    }

    /// Seals the segment and waits for the loader to commit it.
    #[cfg(test)]
    fn load_now(&mut self) {
        self.seal();
        if let Some(loader) = &self.loader {
            loader.wait();
        }
    }

    fn commit_group(&mut self, group: Vec<Pending>) {
        let start = std::time::Instant::now();
        let mut phases = Phases::default();
        let logged = self.number(&group, &mut phases).and_then(|(seqs, hashes)| {
            phases.seq = start.elapsed();
            let logged = self.log_group(&group, &seqs, &mut phases)?;
            Ok((seqs, hashes, logged))
        });
        match logged {
            Ok((seqs, hashes, logged)) => {
                let ids = self.ids.as_mut().expect("numbered with the ids in memory");
                for hash in hashes {
                    ids.insert(hash);
                }
                // The events move on to the aggregator in the requests' own
                // vectors (a group of one request: no copy, no allocation).
                let new_events = logged.events.num_rows();
                let mut accepted_events: Vec<Event> = Vec::new();
                let mut replies = Vec::with_capacity(group.len());
                for ((batch, reply), seqs) in group.into_iter().zip(seqs) {
                    let mut events = batch.events;
                    let total = events.len();
                    let mut numbered = seqs.iter().map(Option::is_some);
                    events.retain(|_| numbered.next().unwrap_or(false));
                    let accepted = events.len();
                    if accepted_events.is_empty() {
                        accepted_events = events;
                        accepted_events.reserve(new_events - accepted);
                    } else {
                        accepted_events.append(&mut events);
                    }
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
                let events = new_events as u64;
                if events > 0 {
                    self.unloaded
                        .push_back((self.log.number(), logged.events.column(1).clone()));
                }
                // Answered: DuckDB's copy is the loader's to make (waiting
                // here while it is behind), and the log holds the group
                // until it is committed.
                let filling = self.filling.get_or_insert_with(|| Filling {
                    events: 0,
                    since: std::time::Instant::now(),
                });
                filling.events += events;
                let full =
                    filling.events >= ROW_GROUP_ROWS || filling.since.elapsed() >= self.load_every;
                let waiting = std::time::Instant::now();
                if let Some(loader) = &self.loader {
                    loader.send(Job::Group(logged));
                }
                let wait = waiting.elapsed();
                if full {
                    self.seal();
                }
                tracing::debug!(
                    requests = phases.requests,
                    events = phases.events,
                    candidates = phases.candidates,
                    seq_us = phases.seq.as_micros() as u64,
                    batch_us = phases.batch.as_micros() as u64,
                    log_us = phases.log.as_micros() as u64,
                    // Waiting for the loader to fall behind less than its
                    // bound: not busy, so not in `total_us`.
                    wait_us = wait.as_micros() as u64,
                    total_us = (start.elapsed() - wait).as_micros() as u64,
                    "committed a group"
                );
            }
            Err(e) => {
                tracing::error!(error = %e, requests = group.len(), "ingest transaction failed");
                // A failed log append left everything as it was; any other
                // failure was DuckDB's, whose state is now in doubt.
                if !matches!(e, StoreError::Io(_)) {
                    self.fail();
                }
                let message = e.to_string();
                for (_, reply) in group {
                    let _ = reply.send(Err(StoreError::Transaction(message.clone())));
                }
            }
        }
    }

    /// Each event's seq, or None when its id is stored already or an earlier
    /// request of the group has it (the first one wins); and the hashes of
    /// the ids that get a seq, for [`StoredIds`] once they are committed.
    fn number(&mut self, group: &[Pending], phases: &mut Phases) -> Result<Numbered, StoreError> {
        // DuckDB holds the segments the loader has committed.
        let loaded = self.loader.as_ref().map_or(0, Loader::loaded);
        while self.unloaded.front().is_some_and(|(s, _)| *s <= loaded) {
            self.unloaded.pop_front();
        }
        let ids = self.ids.as_ref().expect("ready() reads the ids");
        // Repeats within a request are gone already (ingest removes them):
        // only a group of several requests can repeat an id.
        let several = group.len() > 1;
        let mut seen: HashSet<&str, foldhash::fast::RandomState> = HashSet::default();
        if several {
            seen.reserve(group.iter().map(|(batch, _)| batch.events.len()).sum());
        }
        let mut candidates = Vec::new();
        let hashes: Vec<Vec<Option<u64>>> = group
            .iter()
            .map(|(batch, _)| {
                batch
                    .events
                    .iter()
                    .map(|event| {
                        if several && !seen.insert(&event.id) {
                            return None;
                        }
                        let hash = ids.hash(&event.id);
                        if ids.may_hold(hash) {
                            candidates.push(event.id.as_str());
                        }
                        Some(hash)
                    })
                    .collect()
            })
            .collect();
        // A hash already held: stored, or another id with the same hash.
        phases.candidates = candidates.len();
        let stored = if candidates.is_empty() {
            Default::default()
        } else {
            let mut stored = {
                let _sql = lock(&self.writer_sql);
                ids::stored_among(&self.conn, &candidates)?
            };
            // Logged, and not in DuckDB yet (or committed since `loaded`
            // was read: then in both).
            if !self.unloaded.is_empty() {
                let wanted: HashSet<&str, foldhash::fast::RandomState> =
                    candidates.iter().copied().collect();
                for (_, column) in &self.unloaded {
                    for id in column.as_string::<i32>().iter().flatten() {
                        if wanted.contains(id) {
                            stored.insert(id.to_string());
                        }
                    }
                }
            }
            stored
        };
        let mut new_hashes = Vec::new();
        let seqs = group
            .iter()
            .zip(hashes)
            .map(|((batch, _), hashes)| {
                batch
                    .events
                    .iter()
                    .zip(hashes)
                    .map(|(event, hash)| {
                        let hash = hash.filter(|_| !stored.contains(&event.id))?;
                        new_hashes.push(hash);
                        self.next_seq += 1;
                        Some(self.next_seq - 1)
                    })
                    .collect()
            })
            .collect();
        Ok((seqs, new_hashes))
    }
}

/// `rows` events of the simulator's launch morning as the writer's batch
/// has them, numbered from `first_seq` (for the loader's measurements).
#[cfg(test)]
pub(super) fn morning_batch(first_seq: i64, rows: usize) -> arrow::record_batch::RecordBatch {
    let region = Region::load("beijing").unwrap();
    let at = time::now_beijing_micros() - 3_600_000_000;
    let lines = crate::simulate::morning_events(
        &region,
        first_seq as u64,
        first_seq as u64,
        rows as u64,
        at,
        1,
    );
    let body = lines.join("\n");
    let Ok((mut batch, _)) = crate::ingest::prepare::prepare(
        body.as_bytes(),
        crate::model::Format::Ndjson,
        &region,
        "bench",
        &crate::ingest::bounds::Bounds::default(),
        &crate::ingest::teams::Teams::new(usize::MAX, region.districts.len(), []),
    ) else {
        panic!("the simulator's events are valid");
    };
    batch.events.truncate(rows);
    assert_eq!(batch.events.len(), rows);
    let seqs = vec![(first_seq..first_seq + rows as i64).map(Some).collect()];
    events_batch(&region, std::iter::once(&batch), &seqs, at).unwrap()
}

impl Writer {
    /// The group as the log keeps it ([`Group`]), appended to the log and
    /// synced: from here on it is committed.
    fn log_group(
        &mut self,
        group: &[Pending],
        seqs: &[Vec<Option<i64>>],
        phases: &mut Phases,
    ) -> Result<Group, StoreError> {
        let received = time::now_beijing_micros();
        let clock = std::time::Instant::now();
        let events = events_batch(&self.region, group.iter().map(|(b, _)| b), seqs, received)?;
        let mut rest = Rest {
            received,
            ..Rest::default()
        };
        for ((batch, _), seqs) in group.iter().zip(seqs) {
            let accepted = seqs.iter().flatten().count();
            rest.requests.push(RequestRow {
                source: batch.source.clone(),
                format: batch.format.name().to_string(),
                accepted: accepted as i64,
                duplicates: (batch.events.len() - accepted + batch.repeats) as i64,
                rejected: batch.rejected.clone(),
                not_kept: batch.not_kept as i64,
            });
        }
        let group = Group { events, rest };
        phases.requests = group.rest.requests.len();
        phases.events = group.events.num_rows();
        phases.batch = clock.elapsed();
        let clock = std::time::Instant::now();
        log::encode_into(&group, &mut self.record)?;
        let appended = self.log.append(&self.record);
        if self.record.capacity() > RECORD_KEPT {
            // A rare huge group: its buffer is not kept.
            self.record = Vec::new();
        }
        appended?;
        phases.log = clock.elapsed();
        Ok(group)
    }
}

/// Where a group commit's time went, logged at debug level (the
/// benchmark reads it).
#[derive(Default)]
struct Phases {
    requests: usize,
    events: usize,
    /// Ids whose hash was held, checked against the table.
    candidates: usize,
    /// Numbering the events: ids repeated across the group, ids stored.
    seq: std::time::Duration,
    /// Building the group's Arrow batch and its other rows.
    batch: std::time::Duration,
    /// Encoding the group, appending it to the ingest log, syncing it.
    log: std::time::Duration,
}

/// The writer's SQL lock (a panic while holding it leaves nothing half done:
/// the lock only keeps checkpoints out).
fn lock(sql: &Mutex<()>) -> std::sync::MutexGuard<'_, ()> {
    sql.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::super::loader::wal_bytes;
    use super::super::rows::events_schema;
    use super::*;
    use crate::model::Detail;
    use crate::model::Format;
    use arrow::record_batch::RecordBatch;
    use duckdb::Connection;

    fn scans(ids: &[&str]) -> Batch {
        Batch {
            source: "test".into(),
            format: Format::Ndjson,
            events: ids
                .iter()
                .map(|id| Event {
                    id: id.to_string(),
                    ts: 0,
                    district: 0,
                    person: format!("p-{id}"),
                    detail: Detail::Scan { channel: None },
                })
                .collect(),
            rejected: Vec::new(),
            not_kept: 0,
            repeats: 0,
        }
    }

    /// Commits the requests as one group; their answers, in order.
    fn group(writer: &mut Writer, requests: &[&[&str]]) -> Vec<Committed> {
        let (pending, answers): (Vec<Pending>, Vec<_>) = requests
            .iter()
            .map(|ids| {
                let (reply, answer) = tokio::sync::oneshot::channel();
                ((scans(ids), reply), answer)
            })
            .unzip();
        writer.ready().unwrap();
        writer.commit_group(pending);
        answers
            .into_iter()
            .map(|a| a.blocking_recv().unwrap().unwrap())
            .collect()
    }

    /// Events and distinct ids in DuckDB, once the loader has them all.
    fn stored(writer: &mut Writer) -> (i64, i64) {
        writer.load_now();
        writer
            .conn
            .query_row("SELECT count(*), count(DISTINCT id) FROM events", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap()
    }

    fn open(path: &Path) -> (Writer, std_mpsc::Receiver<super::super::Accepted>) {
        let db = Database::open(path).unwrap();
        let conn = db.connect().unwrap();
        conn.execute_batch(&super::super::schema_sql()).unwrap();
        let side = Arc::new(Mutex::new(db.connect().unwrap()));
        let (tx, rx) = std_mpsc::channel();
        let region = Region::load("beijing").unwrap();
        let segment = recover(&db, path).unwrap();
        (
            Writer::new(
                &db,
                path,
                side,
                region,
                tx,
                segment,
                crate::config::LOAD_EVERY,
            )
            .unwrap(),
            rx,
        )
    }

    const fn answer(accepted: usize, duplicates: usize) -> Committed {
        Committed {
            accepted,
            duplicates,
        }
    }

    /// With two bits of hash, every new id shares its hash with a stored
    /// one: the table alone must tell new from stored.
    #[test]
    fn ids_sharing_a_hash_with_stored_ids_are_told_apart_by_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.duckdb");
        let (mut writer, accepted) = open(&path);
        writer.ids = Some(StoredIds::load_colliding(&writer.conn, writer.rows, 2));
        let first: Vec<String> = (1..=10).map(|i| format!("e{i}")).collect();
        let first: Vec<&str> = first.iter().map(String::as_str).collect();
        assert_eq!(group(&mut writer, &[&first]), [answer(10, 0)]);
        // A stored id, new ids, and an id two requests of the group share.
        assert_eq!(
            group(&mut writer, &[&["e5", "e11", "e12"], &["e11", "e13", "e1"]]),
            [answer(2, 1), answer(1, 2)]
        );
        // The second group was checked against the first while only the
        // log had it; now DuckDB has both.
        assert_eq!(stored(&mut writer), (13, 13));
        assert_eq!(writer.unloaded.len(), 2);
        assert_eq!(group(&mut writer, &[&["e13", "e14", "e2"]]), [answer(1, 2)]);
        assert_eq!(writer.unloaded.len(), 1);
        assert_eq!(stored(&mut writer), (14, 14));
        // A group whose first request brings nothing new.
        assert_eq!(
            group(&mut writer, &[&["e1", "e2"], &["e15", "e3", "e16"]]),
            [answer(0, 2), answer(2, 1)]
        );
        let handed: Vec<String> = accepted
            .try_iter()
            .flat_map(|a| a.events)
            .map(|e| e.id)
            .collect();
        assert_eq!(handed.len(), 16);
        assert_eq!(handed[10..], ["e11", "e12", "e13", "e14", "e15", "e16"]);
    }

    /// After a restart the ids are read from the file again.
    #[test]
    fn ids_stored_before_a_restart_are_duplicates_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.duckdb");
        let (mut writer, _accepted) = open(&path);
        assert_eq!(group(&mut writer, &[&["a", "b"]]), [answer(2, 0)]);
        drop(writer);
        let (mut writer, _accepted) = open(&path);
        assert_eq!(group(&mut writer, &[&["b", "c"]]), [answer(1, 1)]);
        assert_eq!(writer.ids.as_ref().map(StoredIds::len), Some(3));
        assert_eq!(stored(&mut writer), (3, 3));
    }

    /// Commits `requests` groups of 10,000 new events, numbered on from
    /// `first`, each group loaded at once when `load_each` (as when they come
    /// a second apart); the WAL's size after each.
    fn fill(writer: &mut Writer, first: usize, requests: usize, load_each: bool) -> Vec<u64> {
        (0..requests)
            .map(|r| {
                let ids: Vec<String> = (0..10_000)
                    .map(|i| format!("e{}", first + r * 10_000 + i))
                    .collect();
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                assert_eq!(group(writer, &[&ids]), [answer(10_000, 0)]);
                if load_each {
                    writer.load_now();
                } else if let Some(loader) = &writer.loader {
                    loader.wait();
                }
                wal_bytes(&writer.path)
            })
            .collect()
    }

    /// Rows in each of `events`' row groups.
    fn row_groups(writer: &Writer) -> Vec<i64> {
        let mut query = writer
            .conn
            .prepare(
                "SELECT sum(count)::BIGINT FROM pragma_storage_info('events')
                 WHERE column_name = 'seq' AND column_path = '[0]'
                 GROUP BY row_group_id ORDER BY row_group_id",
            )
            .unwrap();
        query
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn setting(conn: &Connection, key: &str) -> Option<String> {
        conn.query_row("SELECT value FROM settings WHERE key = ?", [key], |r| {
            r.get(0)
        })
        .ok()
    }

    fn segment_numbers(path: &Path) -> Vec<u64> {
        log::segments(&log::dir_of(path))
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    /// Groups wait in the log and the load transaction until a row group's
    /// worth is there; DuckDB then writes it straight into the file: the
    /// WAL stays empty.
    #[test]
    fn a_row_group_of_logged_events_is_loaded_straight_into_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.duckdb");
        let (mut writer, _accepted) = open(&path);
        // (The WAL holds the schema's tables.)
        let schema = wal_bytes(&path);
        assert_eq!(fill(&mut writer, 0, 12, false), [schema; 12]);
        assert_eq!(segment_numbers(&path), [1]);
        let side = writer.side.lock().unwrap().another().unwrap();
        assert_eq!(count(&side, "SELECT count(*) FROM events"), 0);
        // The 13th fills the first row group: loaded, segment 1 recorded and
        // deleted, segment 2 begun. The WAL only says where the rows are (a
        // few KiB; in small loads the same events fill megabytes of it, below).
        let wal = fill(&mut writer, 120_000, 1, false)[0] - schema;
        assert!(wal < 64 * 1024, "{wal} bytes");
        assert_eq!(count(&side, "SELECT count(*) FROM events"), 130_000);
        assert_eq!(row_groups(&writer), [122_880, 7_120]);
        assert_eq!(setting(&side, log::LOADED_SETTING).as_deref(), Some("1"));
        assert_eq!(segment_numbers(&path), [2]);
    }

    /// Loads of fewer events (a second apart) go through DuckDB's WAL, which
    /// is checkpointed when the events fill a row group.
    #[test]
    fn the_writer_checkpoints_when_small_loads_fill_a_row_group() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.duckdb");
        let (mut writer, _accepted) = open(&path);
        // 120,000 events: no group filled yet, the WAL holds them all.
        let wal = fill(&mut writer, 0, 12, true);
        assert!(wal.iter().all(|&bytes| bytes > 0), "{wal:?}");
        // The 13th request fills the first group: folded in.
        assert_eq!(fill(&mut writer, 120_000, 1, true), [0]);
        assert_eq!(row_groups(&writer), [122_880, 7_120]);
        // 240,000 events: not yet the second; 250,000: the second.
        let wal = fill(&mut writer, 130_000, 12, true);
        assert!(wal[..11].iter().all(|&bytes| bytes > 0), "{wal:?}");
        assert_eq!(wal[11], 0);
        assert_eq!(row_groups(&writer), [122_880, 7_120, 120_000]);
        assert_eq!(segment_numbers(&path), [26]);
    }

    /// Without vacuuming, a checkpoint leaves the row groups written before
    /// as they are (DuckDB's vacuum would merge these two into one); and
    /// DuckDB's own checkpoint waits past the writer's WAL bound.
    #[test]
    fn a_checkpoint_leaves_written_row_groups_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.duckdb");
        let (mut writer, _accepted) = open(&path);
        fill(&mut writer, 0, 2, false);
        writer.load_now();
        writer.conn.execute_batch("CHECKPOINT").unwrap();
        fill(&mut writer, 20_000, 2, false);
        writer.load_now();
        writer.conn.execute_batch("CHECKPOINT").unwrap();
        assert_eq!(row_groups(&writer), [20_000, 20_000]);
        let settings: (String, String) = writer
            .conn
            .query_row(
                "SELECT current_setting('max_vacuum_tasks')::VARCHAR, current_setting('checkpoint_threshold')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(settings, ("0".into(), "64.0 MiB".into()));
    }

    /// A stop before the load commits (the process killed): the next start
    /// loads the log's groups — events, rejected records, requests' rows —
    /// once, and leaves out a record cut short at its end.
    #[test]
    fn answered_groups_only_in_the_log_are_loaded_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.duckdb");
        let (mut writer, _accepted) = open(&path);
        assert_eq!(group(&mut writer, &[&["a", "b"]]), [answer(2, 0)]);
        let mut rejected = scans(&["c"]);
        rejected.rejected.push(super::super::Rejected {
            line: 2,
            event_id: Some("bad".into()),
            reason: "colour: not one of the five".into(),
            raw: "{\"id\":\"bad\"}".into(),
        });
        let (reply, answer_c) = tokio::sync::oneshot::channel();
        writer.commit_group(vec![(rejected, reply)]);
        assert_eq!(answer_c.blocking_recv().unwrap().unwrap(), answer(1, 0));
        // Killed here: the transaction never commits. A group being written
        // was cut short.
        let segment = log::segments(&log::dir_of(&path)).unwrap()[0].1.clone();
        let whole = std::fs::metadata(&segment).unwrap().len();
        drop(writer);
        let torn = log::encode(&Group {
            events: RecordBatch::new_empty(events_schema()),
            rest: Rest::default(),
        })
        .unwrap();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&segment)
            .unwrap();
        std::io::Write::write_all(&mut file, &torn[..torn.len() - 3]).unwrap();
        drop(file);
        assert!(std::fs::metadata(&segment).unwrap().len() > whole);

        let (mut writer, _accepted) = open(&path);
        let side = writer.side.lock().unwrap().another().unwrap();
        assert_eq!(count(&side, "SELECT count(*) FROM events"), 3);
        assert_eq!(count(&side, "SELECT max(seq) FROM events"), 3);
        assert_eq!(
            count(
                &side,
                "SELECT count(*) FROM rejected WHERE event_id = 'bad'"
            ),
            1
        );
        assert_eq!(
            count(
                &side,
                "SELECT sum(accepted)::BIGINT * 10 + sum(rejected)::BIGINT FROM ingest_requests"
            ),
            31
        );
        assert_eq!(setting(&side, log::LOADED_SETTING).as_deref(), Some("1"));
        assert_eq!(segment_numbers(&path), [2]);
        // The loaded ids are known: a resend is all duplicates.
        assert_eq!(group(&mut writer, &[&["a", "c", "d"]]), [answer(1, 2)]);
        assert_eq!(stored(&mut writer), (4, 4));
    }

    /// A segment recorded as loaded (a stop between the commit and its
    /// deletion) is deleted at start, not loaded again.
    #[test]
    fn a_segment_recorded_as_loaded_is_not_loaded_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.duckdb");
        let (mut writer, _accepted) = open(&path);
        assert_eq!(group(&mut writer, &[&["a", "b"]]), [answer(2, 0)]);
        let segment = log::segments(&log::dir_of(&path)).unwrap()[0].1.clone();
        let kept = std::fs::read(&segment).unwrap();
        writer.load_now();
        drop(writer);
        std::fs::write(&segment, kept).unwrap();
        assert_eq!(segment_numbers(&path), [1, 2]);
        let (mut writer, _accepted) = open(&path);
        assert_eq!(stored(&mut writer), (2, 2));
        assert_eq!(segment_numbers(&path), [3]);
    }
}
