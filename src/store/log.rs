//! The ingest log: where an ingest request is committed.
//!
//! The writer appends each group of requests here as one record and syncs it
//! (`fdatasync`) before it answers them; DuckDB takes the same groups in
//! one transaction a row group at a time (or once a second, or before a
//! console read), so that a row group's events are written once, compressed,
//! straight into the database file, instead of into DuckDB's WAL at every
//! commit and again at its checkpoints
//! (docs/decisions/0001-the-ingest-log-in-front-of-duckdb.md).
//!
//! The log is a folder of segments beside the database
//! (`weibing.ingest-log/00000000000000000007.log`). A segment holds the groups
//! of one load transaction; that transaction records the segment's number in
//! `settings` ([`LOADED_SETTING`]), so at start a segment at or below the
//! recorded number is already in DuckDB and is deleted, one above it is
//! loaded (`loader::recover`). The writer starts the next segment when it
//! seals one; the loader deletes a segment once its transaction has
//! committed.
//!
//! A record is `[length u32][crc32 u32][body]`, little-endian, the CRC over
//! the body; the body is `[events length u32][the events as an Arrow IPC
//! stream][the other rows as JSON]`. A record cut short or with a wrong
//! CRC ends the segment: it is the group being written when the server
//! stopped, which nobody was answered for.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// The `settings` key holding the number of the last segment loaded.
pub const LOADED_SETTING: &str = "ingest_log_loaded";

/// Bytes of a record's head: its length and its CRC.
const HEAD: usize = 8;

/// The log's folder beside a database file: `weibing.duckdb` →
/// `weibing.ingest-log`.
pub fn dir_of(database: &Path) -> PathBuf {
    database.with_extension("ingest-log")
}

/// One group of requests, as logged and as loaded.
#[derive(Debug)]
pub struct Group {
    /// The new events, in the columns of `events` (no rows: none new).
    pub events: RecordBatch,
    pub rest: Rest,
}

/// A group's rows other than its events.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rest {
    /// When the group was received (Beijing micros), every row's `received_at`.
    pub received: i64,
    pub requests: Vec<RequestRow>,
}

/// A row of `ingest_requests`, with the request's rows of `rejected`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestRow {
    pub source: String,
    pub format: String,
    pub accepted: i64,
    pub duplicates: i64,
    pub rejected: Vec<super::Rejected>,
    /// Rejected records counted but not kept (none in logs written before
    /// the bound existed).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_kept: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Encodes a group as one record, head included.
#[cfg(test)]
pub fn encode(group: &Group) -> Result<Vec<u8>, StoreError> {
    let mut record = Vec::new();
    encode_into(group, &mut record)?;
    Ok(record)
}

/// Encodes a group as one record, head included, into `record` (cleared
/// first): the writer keeps one buffer for every group, so that a group's
/// record is neither grown from nothing in fresh pages nor copied behind
/// its head.
pub fn encode_into(group: &Group, record: &mut Vec<u8>) -> Result<(), StoreError> {
    record.clear();
    // The head and the events' length, filled in once the body is written.
    record.extend_from_slice(&[0u8; HEAD + 4]);
    if group.events.num_rows() > 0 {
        let mut writer = StreamWriter::try_new(&mut *record, &group.events.schema())
            .map_err(|e| StoreError::Transaction(format!("logging the events: {e}")))?;
        writer
            .write(&group.events)
            .and_then(|()| writer.finish())
            .map_err(|e| StoreError::Transaction(format!("logging the events: {e}")))?;
    }
    let events = (record.len() - HEAD - 4) as u32;
    record[HEAD..HEAD + 4].copy_from_slice(&events.to_le_bytes());
    serde_json::to_writer(&mut *record, &group.rest)
        .map_err(|e| StoreError::Transaction(format!("logging the rows: {e}")))?;
    let body = &record[HEAD..];
    let (len, crc) = (body.len() as u32, crc32fast::hash(body));
    record[..4].copy_from_slice(&len.to_le_bytes());
    record[4..HEAD].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Decodes a record's body (its head checked already).
fn decode(body: &[u8], schema: &arrow::datatypes::SchemaRef) -> Result<Group, String> {
    let events = u32::from_le_bytes(body[..4].try_into().expect("4 bytes")) as usize;
    let (arrow, json) = body[4..]
        .split_at_checked(events)
        .ok_or("the events' length runs past the record")?;
    let events = if arrow.is_empty() {
        RecordBatch::new_empty(schema.clone())
    } else {
        let mut reader = StreamReader::try_new(arrow, None).map_err(|e| e.to_string())?;
        let batch = reader
            .next()
            .ok_or("no events in the record")?
            .map_err(|e| e.to_string())?;
        if batch.schema().fields() != schema.fields() {
            return Err("the events' columns differ from the table's".into());
        }
        batch
    };
    let rest = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    Ok(Group { events, rest })
}

/// A segment's groups, and the bytes after the last whole record (a record
/// cut short by a stop, or damaged).
pub struct Contents {
    pub groups: Vec<Group>,
    pub dropped: u64,
    pub why: Option<String>,
}

/// Reads a segment's whole records.
pub fn read(path: &Path, schema: &arrow::datatypes::SchemaRef) -> Result<Contents, StoreError> {
    let bytes = std::fs::read(path)?;
    let mut groups = Vec::new();
    let mut at = 0;
    let why = loop {
        let rest = &bytes[at..];
        if rest.is_empty() {
            break None;
        }
        if rest.len() < HEAD {
            break Some("a record's head cut short".to_string());
        }
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        let Some(body) = rest[HEAD..].get(..len) else {
            break Some(format!("a record of {len} bytes cut short"));
        };
        if len < 4 || crc32fast::hash(body) != crc {
            break Some("a record whose checksum does not match".to_string());
        }
        match decode(body, schema) {
            Ok(group) => groups.push(group),
            Err(e) => break Some(format!("a record that does not decode: {e}")),
        }
        at += HEAD + len;
    };
    Ok(Contents {
        groups,
        dropped: (bytes.len() - at) as u64,
        why,
    })
}

/// The segments in the folder, by number (none when there is no folder).
pub fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let number = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(number) = number {
            found.push((number, path));
        }
    }
    found.sort();
    Ok(found)
}

fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:020}.log"))
}

/// The segment being written.
pub struct Segment {
    dir: PathBuf,
    file: File,
    number: u64,
    /// Bytes of whole records in the file.
    len: u64,
}

impl Segment {
    /// Starts segment `number` (empty), its name synced into the folder.
    pub fn create(dir: &Path, number: u64) -> Result<Segment, StoreError> {
        std::fs::create_dir_all(dir)?;
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(segment_path(dir, number))?;
        File::open(dir)?.sync_all()?;
        Ok(Segment {
            dir: dir.to_path_buf(),
            file,
            number,
            len: 0,
        })
    }

    pub fn number(&self) -> u64 {
        self.number
    }

    /// Whether no record was appended.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a record and syncs it. On failure the file is cut back to its
    /// whole records, so the next append follows them.
    pub fn append(&mut self, record: &[u8]) -> Result<(), StoreError> {
        let written = self
            .file
            .write_all(record)
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.len += record.len() as u64;
                Ok(())
            }
            Err(e) => {
                if let Err(cut) = self.file.set_len(self.len) {
                    tracing::error!(error = %cut, "cutting a failed record off the ingest log failed");
                }
                // Appends go at the end of the file (not O_APPEND): back to it.
                use std::io::Seek;
                let _ = self.file.seek(std::io::SeekFrom::Start(self.len));
                Err(e.into())
            }
        }
    }

    /// Deletes the segment (the writer is stopping, and it is empty).
    pub fn remove(&self) -> Result<(), StoreError> {
        remove_segment(&self.dir, self.number)
    }

    /// Starts the segment after this one; this one stays, for the loader
    /// to delete once it is in DuckDB ([`remove_segment`]).
    pub fn next(&self) -> Result<Segment, StoreError> {
        Segment::create(&self.dir, self.number + 1)
    }
}

/// Deletes segment `number` of the log in `dir` (it is in DuckDB).
pub fn remove_segment(dir: &Path, number: u64) -> Result<(), StoreError> {
    Ok(std::fs::remove_file(segment_path(dir, number))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn schema() -> arrow::datatypes::SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("seq", DataType::Int64, true),
            Field::new("id", DataType::Utf8, true),
        ]))
    }

    fn group(first: i64, ids: &[&str]) -> Group {
        let seqs: Int64Array = (first..first + ids.len() as i64).map(Some).collect();
        let columns: Vec<ArrayRef> =
            vec![Arc::new(seqs), Arc::new(StringArray::from(ids.to_vec()))];
        Group {
            events: RecordBatch::try_new(schema(), columns).unwrap(),
            rest: Rest {
                received: 1_498_615_200_000_000,
                requests: vec![RequestRow {
                    source: "partner-a".into(),
                    format: "ndjson".into(),
                    accepted: ids.len() as i64,
                    duplicates: 0,
                    rejected: vec![super::super::Rejected {
                        line: 3,
                        event_id: None,
                        reason: "id: missing".into(),
                        raw: "{}".into(),
                    }],
                    not_kept: 4,
                }],
            },
        }
    }

    #[test]
    fn groups_read_back_as_they_were_logged() {
        let dir = tempfile::tempdir().unwrap();
        let mut segment = Segment::create(dir.path(), 7).unwrap();
        assert!(segment.is_empty());
        let (a, b) = (group(1, &["e-1", "e-2"]), group(3, &[]));
        segment.append(&encode(&a).unwrap()).unwrap();
        segment.append(&encode(&b).unwrap()).unwrap();
        let found = segments(dir.path()).unwrap();
        assert_eq!(
            found,
            vec![(7, dir.path().join("00000000000000000007.log"))]
        );
        let read = read(&found[0].1, &schema()).unwrap();
        assert_eq!((read.dropped, read.why), (0, None));
        assert_eq!(read.groups.len(), 2);
        assert_eq!(read.groups[0].events, a.events);
        assert_eq!(read.groups[0].rest, a.rest);
        assert_eq!(read.groups[1].events.num_rows(), 0);
        assert_eq!(read.groups[1].rest, b.rest);
    }

    /// Logs written before rejected records were bounded name no `not_kept`.
    #[test]
    fn a_request_row_without_not_kept_reads_as_all_kept() {
        let old = r#"{"source":"a","format":"csv","accepted":1,"duplicates":0,"rejected":[]}"#;
        let row: RequestRow = serde_json::from_str(old).unwrap();
        assert_eq!(row.not_kept, 0);
        // And one with none not kept is written as before.
        assert_eq!(serde_json::to_string(&row).unwrap(), old);
    }

    #[test]
    fn a_record_cut_short_or_damaged_ends_the_segment() {
        let dir = tempfile::tempdir().unwrap();
        let whole = encode(&group(1, &["e-1"])).unwrap();
        let second = encode(&group(2, &["e-2"])).unwrap();
        for (cut, why) in [
            (5, "a record's head cut short"),
            (second.len() - 1, "cut short"),
        ] {
            let path = dir.path().join("00000000000000000001.log");
            std::fs::write(&path, [&whole[..], &second[..cut]].concat()).unwrap();
            let read = read(&path, &schema()).unwrap();
            assert_eq!(read.groups.len(), 1);
            assert_eq!(read.groups[0].events, group(1, &["e-1"]).events);
            assert_eq!(read.dropped, cut as u64);
            assert!(read.why.as_deref().unwrap().contains(why), "{:?}", read.why);
        }
        let mut damaged = second.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        let path = dir.path().join("00000000000000000001.log");
        std::fs::write(&path, [&whole[..], &damaged[..]].concat()).unwrap();
        let read = read(&path, &schema()).unwrap();
        assert_eq!((read.groups.len(), read.dropped), (1, damaged.len() as u64));
        assert_eq!(
            read.why.as_deref(),
            Some("a record whose checksum does not match")
        );
    }

    #[test]
    fn the_next_segment_follows_and_the_loaded_one_is_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let mut segment = Segment::create(dir.path(), 1).unwrap();
        segment
            .append(&encode(&group(1, &["e-1"])).unwrap())
            .unwrap();
        let next = segment.next().unwrap();
        assert_eq!((next.number(), next.is_empty()), (2, true));
        let found = || -> Vec<u64> {
            segments(dir.path())
                .unwrap()
                .into_iter()
                .map(|(n, _)| n)
                .collect()
        };
        assert_eq!(found(), vec![1, 2]);
        remove_segment(dir.path(), 1).unwrap();
        assert_eq!(found(), vec![2]);
        assert_eq!(
            dir_of(Path::new("data/weibing.duckdb")),
            Path::new("data/weibing.ingest-log")
        );
    }
}
