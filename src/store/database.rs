//! The database file, opened once through DuckDB's C API. The store's
//! connections are made from it: duckdb-rs connections for SQL ([`Conn`]),
//! and the loader's [`RawConnection`], which hands the events' Arrow
//! batches to DuckDB's appender as they are. duckdb-rs's own Arrow append
//! copies every string into a vector of its own and casts the fixed lists
//! through a hash table; DuckDB reads Arrow's buffers in place, and the
//! load costs about 15% less a row
//! (docs/decisions/0013-the-loader-appends-arrow-in-place-in-whole-chunks.md).
//!
//! Lifetimes: DuckDB keeps its instance while a connection to it is open,
//! but a connection may be made only from an open [`Database`]. So every
//! connection holds the `Arc` of its database, and the file is closed when
//! the last of them goes.

use std::ffi::{CStr, CString, c_char};
use std::ops::Deref;
use std::path::Path;
use std::ptr;
use std::sync::Arc;

use arrow::array::{Array, StructArray};
use arrow::datatypes::DataType;
use arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow::record_batch::RecordBatch;
use duckdb::ffi;

use super::StoreError;
use super::loader::WAL_CHECKPOINT_BYTES;

/// An open database file.
pub(crate) struct Database {
    raw: ffi::duckdb_database,
}

// DuckDB's database handle may be used, and connected to, from any thread.
unsafe impl Send for Database {}
unsafe impl Sync for Database {}

impl Drop for Database {
    fn drop(&mut self) {
        // SAFETY: opened by `open`, closed once; no connection is made after
        // this (each holds the `Arc`).
        unsafe { ffi::duckdb_close(&mut self.raw) }
    }
}

impl Database {
    /// Opens the events database as the store keeps it:
    /// - without vacuuming at checkpoints. Events are never deleted, so
    ///   vacuuming has nothing to reclaim; what it did was merge the partly
    ///   filled row group each checkpoint leaves with its neighbours, writing
    ///   them again at the next checkpoint (half of a checkpoint's cost at
    ///   full ingest, docs/decisions/0011-checkpoints-by-row-group-without-vacuum.md);
    /// - with DuckDB's own checkpoint at commit only past twice the loader's
    ///   WAL bound: the store chooses the moment
    ///   ([`super::writer::ROW_GROUP_ROWS`]).
    pub(crate) fn open(path: &Path) -> Result<Arc<Database>, StoreError> {
        use std::os::unix::ffi::OsStrExt;
        let path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| StoreError::Open("the database path holds a NUL byte".into()))?;
        let options = [
            ("max_vacuum_tasks", "0".to_string()),
            (
                "checkpoint_threshold",
                format!("{}b", 2 * WAL_CHECKPOINT_BYTES),
            ),
            ("duckdb_api", "rust".to_string()),
        ];
        let mut config: ffi::duckdb_config = ptr::null_mut();
        // SAFETY: the config is made, filled and destroyed here; the strings
        // outlive the calls that read them.
        unsafe {
            if ffi::duckdb_create_config(&mut config) != ffi::DuckDBSuccess {
                return Err(StoreError::Open(
                    "DuckDB could not make a configuration".into(),
                ));
            }
            for (key, value) in &options {
                let (k, v) = (c_string(key), c_string(value));
                if ffi::duckdb_set_config(config, k.as_ptr(), v.as_ptr()) != ffi::DuckDBSuccess {
                    ffi::duckdb_destroy_config(&mut config);
                    return Err(StoreError::Open(format!(
                        "DuckDB refused the option {key} = {value}"
                    )));
                }
            }
            let mut raw: ffi::duckdb_database = ptr::null_mut();
            let mut error: *mut c_char = ptr::null_mut();
            let state = ffi::duckdb_open_ext(path.as_ptr(), &mut raw, config, &mut error);
            ffi::duckdb_destroy_config(&mut config);
            if state != ffi::DuckDBSuccess {
                let why = text_or(error, "DuckDB could not open the database");
                if !error.is_null() {
                    ffi::duckdb_free(error.cast());
                }
                return Err(StoreError::Open(why));
            }
            Ok(Arc::new(Database { raw }))
        }
    }

    /// A duckdb-rs connection, for SQL.
    pub(crate) fn connect(self: &Arc<Database>) -> Result<Conn, StoreError> {
        // SAFETY: the database is open while `Conn` holds its `Arc`.
        let conn = unsafe { duckdb::Connection::open_from_raw(self.raw) }?;
        Ok(Conn {
            conn,
            _database: self.clone(),
        })
    }

    /// A connection through the C API, for the loader's appends.
    pub(super) fn raw_connection(self: &Arc<Database>) -> Result<RawConnection, StoreError> {
        let mut raw: ffi::duckdb_connection = ptr::null_mut();
        // SAFETY: the database is open (borrowed through its `Arc`).
        if unsafe { ffi::duckdb_connect(self.raw, &mut raw) } != ffi::DuckDBSuccess {
            // SAFETY: a failed connect may still have allocated it.
            unsafe { ffi::duckdb_disconnect(&mut raw) };
            return Err(StoreError::Transaction(
                "DuckDB could not connect to the database".into(),
            ));
        }
        Ok(RawConnection {
            raw,
            _database: self.clone(),
        })
    }
}

/// A duckdb-rs connection that keeps its database open. Make another with
/// [`Database::connect`], not `try_clone` (which would hold no `Arc`).
pub(crate) struct Conn {
    // Dropped before the `Arc`: fields drop in order.
    conn: duckdb::Connection,
    _database: Arc<Database>,
}

impl Conn {
    #[cfg(test)]
    /// Another connection to the same database.
    pub(crate) fn another(&self) -> Result<Conn, StoreError> {
        self._database.connect()
    }
}

impl Deref for Conn {
    type Target = duckdb::Connection;

    fn deref(&self) -> &duckdb::Connection {
        &self.conn
    }
}

/// A connection through DuckDB's C API.
pub(super) struct RawConnection {
    raw: ffi::duckdb_connection,
    _database: Arc<Database>,
}

// Used by one thread at a time (the loader's); DuckDB's connections may move
// between threads.
unsafe impl Send for RawConnection {}

impl Drop for RawConnection {
    fn drop(&mut self) {
        // SAFETY: connected by `raw_connection`, disconnected once, while
        // the database is open (the `Arc` drops after this).
        unsafe { ffi::duckdb_disconnect(&mut self.raw) }
    }
}

impl RawConnection {
    /// Runs statements that return nothing the caller reads.
    pub(super) fn execute(&self, sql: &str) -> Result<(), StoreError> {
        let sql = CString::new(sql)
            .map_err(|_| StoreError::Transaction("a statement holds a NUL byte".into()))?;
        // SAFETY: the result is zeroed, filled by the query and destroyed
        // once whatever the outcome (DuckDB's documented use).
        unsafe {
            let mut result: ffi::duckdb_result = std::mem::zeroed();
            let state = ffi::duckdb_query(self.raw, sql.as_ptr(), &mut result);
            let outcome = if state == ffi::DuckDBSuccess {
                Ok(())
            } else {
                Err(StoreError::Transaction(text_or(
                    ffi::duckdb_result_error(&mut result),
                    "the statement failed",
                )))
            };
            ffi::duckdb_destroy_result(&mut result);
            outcome
        }
    }

    /// Appends `batch` to `table`, whose columns it has in order (a column
    /// whose type differs, text for an ENUM say, is cast by DuckDB). Arrow's
    /// buffers are read in place, a vector's worth of rows at a time.
    pub(super) fn append(&self, table: &str, batch: &RecordBatch) -> Result<(), StoreError> {
        let appender = Appender::create(self, table)?;
        let mut schema =
            FFI_ArrowSchema::try_from(DataType::Struct(batch.schema().fields().clone()))
                .map_err(|e| StoreError::Transaction(format!("describing the rows: {e}")))?;
        let mut converted: ffi::duckdb_arrow_converted_schema = ptr::null_mut();
        // SAFETY: the schema is a valid Arrow C schema, read (not taken)
        // by DuckDB; `converted` is destroyed below.
        let error = unsafe {
            ffi::duckdb_schema_from_arrow(
                self.raw,
                (&mut schema as *mut FFI_ArrowSchema).cast(),
                &mut converted,
            )
        };
        taken_error(error)?;
        let converted = ConvertedSchema(converted);
        // SAFETY: a constant of the library.
        let vector = unsafe { ffi::duckdb_vector_size() } as usize;
        let mut at = 0;
        while at < batch.num_rows() {
            let rows = vector.min(batch.num_rows() - at);
            let slice = StructArray::from(batch.slice(at, rows)).into_data();
            let mut array = FFI_ArrowArray::new(&slice);
            let mut chunk: ffi::duckdb_data_chunk = ptr::null_mut();
            // SAFETY: DuckDB takes the array (it releases it when the chunk
            // no longer needs its buffers, which it reads in place); the
            // chunk is destroyed once appended.
            unsafe {
                taken_error(ffi::duckdb_data_chunk_from_arrow(
                    self.raw,
                    (&mut array as *mut FFI_ArrowArray).cast(),
                    converted.0,
                    &mut chunk,
                ))?;
                let state = ffi::duckdb_append_data_chunk(appender.0, chunk);
                ffi::duckdb_destroy_data_chunk(&mut chunk);
                appender.check(state)?;
            }
            at += rows;
        }
        // SAFETY: the appender is open.
        appender.check(unsafe { ffi::duckdb_appender_flush(appender.0) })
    }
}

/// A C string of text the store wrote (no NUL byte in it).
fn c_string(text: &str) -> CString {
    CString::new(text).expect("the store's own text holds no NUL byte")
}

/// DuckDB's message, or `otherwise` when it gave none.
///
/// # Safety
/// `message` is null or a NUL-terminated string.
unsafe fn text_or(message: *const c_char, otherwise: &str) -> String {
    if message.is_null() {
        otherwise.to_string()
    } else {
        // SAFETY: as the caller promises.
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    }
}

/// An error DuckDB returned as data: its message, and the data destroyed.
fn taken_error(mut error: ffi::duckdb_error_data) -> Result<(), StoreError> {
    if error.is_null() {
        return Ok(());
    }
    // SAFETY: a non-null error data, destroyed once after its message is
    // copied.
    let why = unsafe {
        let why = text_or(
            ffi::duckdb_error_data_message(error),
            "DuckDB refused the rows",
        );
        ffi::duckdb_destroy_error_data(&mut error);
        why
    };
    Err(StoreError::Transaction(why))
}

/// DuckDB's reading of an Arrow schema, destroyed on drop.
struct ConvertedSchema(ffi::duckdb_arrow_converted_schema);

impl Drop for ConvertedSchema {
    fn drop(&mut self) {
        // SAFETY: made by `duckdb_schema_from_arrow`, destroyed once.
        unsafe { ffi::duckdb_destroy_arrow_converted_schema(&mut self.0) }
    }
}

/// An appender, destroyed on drop (which flushes what it holds; a failed
/// append has voided the transaction already).
struct Appender(ffi::duckdb_appender);

impl Appender {
    fn create(conn: &RawConnection, table: &str) -> Result<Appender, StoreError> {
        let name = c_string(table);
        let mut raw: ffi::duckdb_appender = ptr::null_mut();
        // SAFETY: the connection is open; the appender is destroyed by
        // `Drop` whatever the outcome (DuckDB's documented use).
        let state =
            unsafe { ffi::duckdb_appender_create(conn.raw, ptr::null(), name.as_ptr(), &mut raw) };
        let appender = Appender(raw);
        appender.check(state)?;
        Ok(appender)
    }

    fn check(&self, state: ffi::duckdb_state) -> Result<(), StoreError> {
        if state == ffi::DuckDBSuccess {
            return Ok(());
        }
        // SAFETY: the appender's last error, read while it is alive.
        Err(StoreError::Transaction(unsafe {
            text_or(ffi::duckdb_appender_error(self.0), "the append failed")
        }))
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        // SAFETY: made by `duckdb_appender_create`, destroyed once.
        unsafe { ffi::duckdb_appender_destroy(&mut self.0) };
    }
}

/// `text` as an SQL string literal: the store's one way of writing a value
/// into SQL where it cannot be bound (the loader's C-API connection takes no
/// parameters; COPY and table functions name their files as literals).
pub(super) fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `name` as an SQL identifier (a table named by the backup's manifest).
pub(super) fn quoted_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        ArrayRef, BooleanArray, Int64Array, StringArray, TimestampMicrosecondArray,
    };

    const TABLE: &str = "CREATE TYPE colour AS ENUM ('red', 'green');
        CREATE TABLE t (n BIGINT, s VARCHAR, ts TIMESTAMP, c colour, b BOOLEAN)";

    /// Row `i`: every column null in its own turn, long and short strings
    /// (DuckDB keeps those of 12 bytes or fewer inline).
    fn rows(n: usize) -> RecordBatch {
        let i = 0..n as i64;
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "n",
                Arc::new(Int64Array::from_iter(
                    i.clone().map(|i| (i % 5 != 0).then_some(i * 3 - 7)),
                )),
            ),
            (
                "s",
                Arc::new(StringArray::from_iter(i.clone().map(|i| {
                    (i % 5 != 1).then(|| {
                        if i % 2 == 0 {
                            format!("s{i}")
                        } else {
                            format!("a longer text, 第{i}行")
                        }
                    })
                }))),
            ),
            (
                "ts",
                Arc::new(TimestampMicrosecondArray::from_iter(
                    i.clone()
                        .map(|i| (i % 5 != 2).then_some(1_700_000_000_000_000 + i)),
                )),
            ),
            (
                "c",
                Arc::new(StringArray::from_iter(i.clone().map(|i| {
                    (i % 5 != 3).then_some(if i % 3 == 0 { "red" } else { "green" })
                }))),
            ),
            (
                "b",
                Arc::new(BooleanArray::from_iter(
                    i.map(|i| (i % 5 != 4).then_some(i % 7 < 3)),
                )),
            ),
        ];
        RecordBatch::try_from_iter(columns).unwrap()
    }

    type Row = (
        Option<i64>,
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<bool>,
    );

    fn read(conn: &duckdb::Connection) -> Vec<Row> {
        conn.prepare("SELECT n, s, epoch_us(ts), c::VARCHAR, b FROM t ORDER BY rowid")
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn expected(batch: &RecordBatch) -> Vec<Row> {
        use arrow::array::AsArray;
        use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
        let c = |i: usize| batch.column(i);
        (0..batch.num_rows())
            .map(|r| {
                let text = |i: usize| {
                    let s = c(i).as_string::<i32>();
                    s.is_valid(r).then(|| s.value(r).to_string())
                };
                (
                    c(0).is_valid(r)
                        .then(|| c(0).as_primitive::<Int64Type>().value(r)),
                    text(1),
                    c(2).is_valid(r)
                        .then(|| c(2).as_primitive::<TimestampMicrosecondType>().value(r)),
                    text(3),
                    c(4).is_valid(r).then(|| c(4).as_boolean().value(r)),
                )
            })
            .collect()
    }

    /// Every value comes back as it was sent, nulls included, whatever the
    /// slice's offset and across DuckDB's vectors (2,048 rows).
    #[test]
    fn an_arrow_append_stores_every_value_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("a.duckdb")).unwrap();
        let sql = db.connect().unwrap();
        sql.execute_batch(TABLE).unwrap();
        let all = rows(5_000);
        // A slice starting mid-vector of Arrow's validity bits, then one
        // longer than two of DuckDB's vectors.
        let (first, second) = (all.slice(7, 13), all.slice(20, 4_980));
        let raw = db.raw_connection().unwrap();
        raw.execute("BEGIN TRANSACTION").unwrap();
        raw.append("t", &first).unwrap();
        raw.append("t", &second).unwrap();
        raw.execute("COMMIT").unwrap();
        let stored = read(&sql);
        let mut sent = expected(&first);
        sent.extend(expected(&second));
        assert_eq!(stored.len(), 4_993);
        assert_eq!(
            stored[0],
            (
                Some(14),
                Some("a longer text, 第7行".into()),
                None,
                Some("green".into()),
                Some(true)
            )
        );
        assert_eq!(stored, sent);
    }

    /// A value the table's type cannot take is refused, with the column
    /// (DuckDB does not say which value); the connection goes on.
    #[test]
    fn a_value_outside_an_enum_is_refused_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("e.duckdb")).unwrap();
        db.connect().unwrap().execute_batch(TABLE).unwrap();
        let raw = db.raw_connection().unwrap();
        let bad = RecordBatch::try_from_iter(vec![
            ("n", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
            ("s", Arc::new(StringArray::from(vec!["x", "y"]))),
            ("ts", Arc::new(TimestampMicrosecondArray::from(vec![0, 0]))),
            ("c", Arc::new(StringArray::from(vec!["red", "purple"]))),
            ("b", Arc::new(BooleanArray::from(vec![true, false]))),
        ])
        .unwrap();
        raw.execute("BEGIN TRANSACTION").unwrap();
        let error = raw.append("t", &bad).unwrap_err().to_string();
        assert!(
            error.ends_with("expected ENUM('red', 'green'), got VARCHAR for column 3"),
            "{error}"
        );
        raw.execute("ROLLBACK").unwrap();
        raw.append("t", &rows(3)).unwrap();
        let n: i64 = db
            .connect()
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn a_failed_statement_says_why() {
        let db = Database::open(Path::new(":memory:")).unwrap();
        let raw = db.raw_connection().unwrap();
        let error = raw
            .execute("SELECT * FROM nowhere")
            .unwrap_err()
            .to_string();
        assert!(error.contains("nowhere"), "{error}");
        let error = raw.append("nowhere", &rows(1)).unwrap_err().to_string();
        assert!(error.contains("nowhere"), "{error}");
    }

    #[test]
    fn a_database_that_cannot_be_opened_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let error = Database::open(&dir.path().join("missing/d.duckdb"))
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("missing/d.duckdb"), "{error}");
    }

    /// A quoted text is read back as it was, quotes and all, and so is a
    /// quoted identifier.
    #[test]
    fn quoted_text_round_trips() {
        let db = Database::open(Path::new(":memory:")).unwrap();
        let conn = db.connect().unwrap();
        for text in ["", "plain", "it's", "''", "a\\'b", "五色"] {
            let back: String = conn
                .query_row(&format!("SELECT {}", quoted(text)), [], |r| r.get(0))
                .unwrap();
            assert_eq!(back, text);
        }
        for name in ["plain", "with space", "it's", "a\"b", "select", "五色"] {
            let ident = quoted_identifier(name);
            let seven: i64 = conn
                .query_row(
                    &format!("SELECT {ident} FROM (SELECT 7 AS {ident})"),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(seven, 7, "{name}");
        }
    }

    /// The database stays open while a connection to it does.
    #[test]
    fn a_connection_keeps_its_database_open() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("k.duckdb")).unwrap();
        let conn = db.connect().unwrap();
        let raw = db.raw_connection().unwrap();
        drop(db);
        raw.execute("CREATE TABLE k AS SELECT 41 AS v").unwrap();
        let other = conn.another().unwrap();
        drop(conn);
        let v: i64 = other
            .query_row("SELECT v + 1 FROM k", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 42);
    }
}
