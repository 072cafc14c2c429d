//! Backup and restore of the data folder (`weibing backup`, `weibing restore`),
//! with the server stopped.
//!
//! A backup is DuckDB's own `EXPORT DATABASE … (FORMAT parquet)`: `schema.sql`
//! (every table with its keys), `load.sql` and one `<table>.parquet` per table,
//! plus our `manifest.json` (rows per table, each file's size and SHA-256, the
//! versions, the time). The manifest is written last, so a folder without one
//! is an interrupted backup and restore refuses it.
//!
//! A restore checks every file against the manifest, runs the backup's SQL
//! (only what `EXPORT DATABASE` writes for our tables: `store::backup_sql`)
//! into a scratch file beside the target, compares every table's rows with the
//! manifest, checkpoints, and only then links the file to `weibing.duckdb`:
//! a failed restore leaves no database behind, and never overwrites one.
//!
//! It opens the file itself (not through [`super::Store`]): it runs from the
//! command line against a stopped server (DuckDB lets one process hold a file
//! open for writing), on a blocking thread, never from async code.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use duckdb::{AccessMode, Config, Connection};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::backup_sql;
use super::database::quoted_identifier;
use crate::store::access::ACCESS_SQL;
use crate::store::schema_sql;

/// The database file inside a data folder.
pub const DATABASE_FILE: &str = "weibing.duckdb";
/// The backup's own description, written last.
pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("no database at {0}")]
    NoDatabase(PathBuf),
    #[error(
        "{path} is held by another process, most likely a running weibing server: \
         stop the server (e.g. systemctl stop weibing), then run this again \
         (an online backup from the running server is not built yet)\n  DuckDB said: {detail}"
    )]
    InUse { path: PathBuf, detail: String },
    #[error("{0} exists and is not empty: back up into a new or empty folder")]
    TargetNotEmpty(PathBuf),
    #[error("{0} already exists: restore into a data folder that holds no database")]
    DatabaseExists(PathBuf),
    #[error("loading the ingest log before the backup: {0}")]
    Log(String),
    #[error("{0} is not a complete weibing backup: {1}")]
    NotABackup(PathBuf, String),
    #[error("{0}: the path is not valid UTF-8")]
    PathNotUtf8(PathBuf),
    // No `#[source]` on these two: the message already holds the cause, and
    // anyhow would print it twice.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("database: {0}")]
    Db(duckdb::Error),
    /// What was written or read back differs from what should be there.
    #[error("{0}")]
    Mismatch(String),
}

/// `manifest.json`: what a backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The weibing that made the backup.
    pub weibing_version: String,
    pub duckdb_version: String,
    /// When the backup was made (UTC, RFC 3339).
    pub made_at: String,
    /// The database file it was made from.
    pub database: String,
    /// Rows per table.
    pub tables: BTreeMap<String, u64>,
    /// Every other file of the backup: its size and SHA-256.
    pub files: BTreeMap<String, FileSum>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    pub bytes: u64,
    pub sha256: String,
}

/// A backup written: where, and what it holds.
#[derive(Debug)]
pub struct Written {
    pub folder: PathBuf,
    pub manifest: Manifest,
}

/// A database restored: where, from what, and the rows found in it.
#[derive(Debug)]
pub struct Restored {
    pub database: PathBuf,
    pub manifest: Manifest,
    pub tables: BTreeMap<String, u64>,
}

impl From<duckdb::Error> for BackupError {
    fn from(e: duckdb::Error) -> BackupError {
        BackupError::Db(e)
    }
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |error| BackupError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// A path as an SQL string literal.
fn sql_path(path: &Path) -> Result<String, BackupError> {
    let text = path
        .to_str()
        .ok_or_else(|| BackupError::PathNotUtf8(path.to_path_buf()))?;
    Ok(super::database::quoted(text))
}

/// DuckDB keeps committed transactions not yet checkpointed here.
fn wal_of(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".wal");
    PathBuf::from(name)
}

/// Writes a backup of `data`'s database into `to` (new, or an empty folder).
/// Blocking.
pub fn backup(data: &Path, to: &Path) -> Result<Written, BackupError> {
    let database = data.join(DATABASE_FILE);
    if !database.is_file() {
        return Err(BackupError::NoDatabase(database));
    }
    if to.exists() {
        let mut entries = std::fs::read_dir(to).map_err(io_at(to))?;
        if entries.next().is_some() {
            return Err(BackupError::TargetNotEmpty(to.to_path_buf()));
        }
    }
    // DuckDB's word for a file another process (the server) holds.
    let held = |detail: String| {
        detail
            .contains("Could not set lock")
            .then(|| BackupError::InUse {
                path: database.clone(),
                detail,
            })
    };
    let in_use = |e: duckdb::Error| held(e.to_string()).unwrap_or(BackupError::Db(e));
    // A server killed with answered events in its ingest log: they are
    // loaded first, as its next start would load them.
    let log = crate::store::log::dir_of(&database);
    if !crate::store::log::segments(&log)
        .map_err(|e| BackupError::Log(e.to_string()))?
        .is_empty()
    {
        crate::store::load_ingest_log(&database).map_err(|e| match e {
            crate::store::StoreError::Open(ref detail) => {
                held(detail.clone()).unwrap_or_else(|| BackupError::Log(e.to_string()))
            }
            crate::store::StoreError::Db(e) => in_use(e),
            e => BackupError::Log(e.to_string()),
        })?;
    }
    // Read-only otherwise: DuckDB still replays a WAL left by a server that
    // was killed, in memory.
    let conn = Connection::open_with_flags(
        &database,
        Config::default().access_mode(AccessMode::ReadOnly)?,
    )
    .map_err(in_use)?;
    let tables = row_counts(&conn)?;
    std::fs::create_dir_all(to).map_err(io_at(to))?;
    let folder = std::fs::canonicalize(to).map_err(io_at(to))?;
    conn.execute_batch(&format!(
        "EXPORT DATABASE {} (FORMAT parquet)",
        sql_path(&folder)?
    ))?;
    // Read what was written back: every table's file holds its rows.
    for (table, rows) in &tables {
        let file = folder.join(format!("{table}.parquet"));
        let written: i64 = conn.query_row(
            &format!("SELECT count(*) FROM read_parquet({})", sql_path(&file)?),
            [],
            |r| r.get(0),
        )?;
        if written as u64 != *rows {
            return Err(BackupError::Mismatch(format!(
                "table {table}: {rows} rows in the database, {written} written to {}",
                file.display()
            )));
        }
    }
    let duckdb_version: String = conn.query_row("SELECT version()", [], |r| r.get(0))?;
    drop(conn);
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&folder).map_err(io_at(&folder))? {
        let path = entry.map_err(io_at(&folder))?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| BackupError::PathNotUtf8(path.clone()))?
            .to_string();
        sync_file(&path)?;
        files.insert(name, sum(&path)?);
    }
    let manifest = Manifest {
        weibing_version: env!("CARGO_PKG_VERSION").to_string(),
        duckdb_version,
        made_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        database: std::fs::canonicalize(&database)
            .map_err(io_at(&database))?
            .display()
            .to_string(),
        tables,
        files,
    };
    // Written aside, then renamed: a manifest is whole or absent.
    let partial = folder.join(format!("{MANIFEST_FILE}.partial"));
    let text = serde_json::to_string_pretty(&manifest).expect("a manifest serializes");
    let mut file = std::fs::File::create(&partial).map_err(io_at(&partial))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(io_at(&partial))?;
    let path = folder.join(MANIFEST_FILE);
    std::fs::rename(&partial, &path).map_err(io_at(&path))?;
    sync_file(&folder)?;
    Ok(Written { folder, manifest })
}

/// Makes `data/weibing.duckdb` from the backup in `from`, checking every file
/// and every table's rows against the manifest. Refuses a data folder that
/// holds a database. Blocking.
pub fn restore(from: &Path, data: &Path) -> Result<Restored, BackupError> {
    let manifest = read_manifest(from)?;
    let database = data.join(DATABASE_FILE);
    if database.exists() {
        return Err(BackupError::DatabaseExists(database));
    }
    // A log without its database would be replayed into the new one.
    let wal = wal_of(&database);
    if wal.exists() {
        return Err(BackupError::DatabaseExists(wal));
    }
    let log = crate::store::log::dir_of(&database);
    if crate::store::log::segments(&log).is_ok_and(|s| !s.is_empty()) {
        return Err(BackupError::DatabaseExists(log));
    }
    std::fs::create_dir_all(data).map_err(io_at(data))?;
    let scratch = Scratch(data.join(format!("restoring-{}.duckdb", std::process::id())));
    scratch.remove();
    let conn = Connection::open(&scratch.0)?;
    // The SQL runs from the text checked against the manifest, statement
    // by statement, each copy reading its file from this folder.
    let from = std::fs::canonicalize(from).map_err(io_at(from))?;
    let plan = backup_sql::plan(
        &checked_text(&from, "schema.sql", &manifest)?,
        &checked_text(&from, "load.sql", &manifest)?,
        &manifest,
    )
    .map_err(|why| {
        BackupError::NotABackup(
            from.clone(),
            format!("its SQL is not what a backup of weibing holds ({why})"),
        )
    })?;
    for statement in &plan.schema {
        conn.execute_batch(statement)?;
    }
    for (table, file) in &plan.loads {
        conn.execute_batch(&format!(
            "COPY {} FROM {} (FORMAT 'parquet')",
            quoted_identifier(table),
            sql_path(&from.join(file))?
        ))?;
    }
    // What `Store::open` would create: tables a newer version added (IF NOT EXISTS).
    conn.execute_batch(&schema_sql())?;
    conn.execute_batch(ACCESS_SQL)?;
    let tables = row_counts(&conn)?;
    for (table, rows) in &manifest.tables {
        let found = tables.get(table).copied();
        if found != Some(*rows) {
            return Err(BackupError::Mismatch(format!(
                "table {table}: the backup holds {rows} rows, the restored database {}",
                found.map_or("has no such table".to_string(), |n| format!("{n}"))
            )));
        }
    }
    conn.execute_batch("CHECKPOINT")?;
    drop(conn);
    if wal_of(&scratch.0).exists() {
        return Err(BackupError::Mismatch(format!(
            "{} kept a write-ahead log after its checkpoint",
            scratch.0.display()
        )));
    }
    sync_file(&scratch.0)?;
    // A hard link never replaces a file: a database made meanwhile is kept.
    std::fs::hard_link(&scratch.0, &database).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            BackupError::DatabaseExists(database.clone())
        } else {
            io_at(&database)(e)
        }
    })?;
    drop(scratch);
    // Figures saved beside another database would not be used (the restored
    // one does not name them); removed so nothing stale lies beside it.
    let saved = super::saved_figures_path(&database);
    match std::fs::remove_file(&saved) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_at(&saved)(e)),
        _ => {}
    }
    sync_file(data)?;
    Ok(Restored {
        database,
        manifest,
        tables,
    })
}

/// A restore's scratch database, removed (with its log) unless it became the
/// database.
struct Scratch(PathBuf);

impl Scratch {
    fn remove(&self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(wal_of(&self.0));
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A text file of the backup, read once and checked against the manifest.
fn checked_text(from: &Path, name: &str, manifest: &Manifest) -> Result<String, BackupError> {
    let path = from.join(name);
    let bytes = std::fs::read(&path).map_err(io_at(&path))?;
    let found = FileSum {
        bytes: bytes.len() as u64,
        sha256: format!("{:x}", Sha256::digest(&bytes)),
    };
    if manifest.files.get(name) != Some(&found) {
        return Err(BackupError::NotABackup(
            from.to_path_buf(),
            format!("{name} differs from its size or SHA-256 in {MANIFEST_FILE}"),
        ));
    }
    String::from_utf8(bytes).map_err(|_| {
        BackupError::NotABackup(from.to_path_buf(), format!("{name} is not UTF-8 text"))
    })
}

/// Reads `from/manifest.json` and checks every file it names.
fn read_manifest(from: &Path) -> Result<Manifest, BackupError> {
    let not_a_backup = |why: String| BackupError::NotABackup(from.to_path_buf(), why);
    let path = from.join(MANIFEST_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(not_a_backup(format!(
                "it has no {MANIFEST_FILE} (an interrupted backup?)"
            )));
        }
        Err(e) => return Err(io_at(&path)(e)),
    };
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| not_a_backup(format!("{MANIFEST_FILE}: {e}")))?;
    for name in ["schema.sql", "load.sql"] {
        if !manifest.files.contains_key(name) {
            return Err(not_a_backup(format!("{MANIFEST_FILE} names no {name}")));
        }
    }
    for (name, expected) in &manifest.files {
        let file = from.join(name);
        if !file.is_file() {
            return Err(not_a_backup(format!("{name} is missing")));
        }
        if sum(&file)? != *expected {
            return Err(not_a_backup(format!(
                "{name} differs from its size or SHA-256 in {MANIFEST_FILE}"
            )));
        }
    }
    Ok(manifest)
}

/// Rows of every table of the database (temporary tables aside).
fn row_counts(conn: &Connection) -> Result<BTreeMap<String, u64>, BackupError> {
    let names: Vec<String> = conn
        .prepare(
            "SELECT table_name FROM duckdb_tables()
             WHERE database_name = current_database() AND NOT temporary
             ORDER BY table_name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut counts = BTreeMap::new();
    for name in names {
        let rows: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {}", quoted_identifier(&name)),
            [],
            |r| r.get(0),
        )?;
        counts.insert(name, rows as u64);
    }
    Ok(counts)
}

fn sum(path: &Path) -> Result<FileSum, BackupError> {
    let mut file = std::fs::File::open(path).map_err(io_at(path))?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(io_at(path))?;
    Ok(FileSum {
        bytes,
        sha256: format!("{:x}", hasher.finalize()),
    })
}

/// Flushes a file or a folder's entries to the disk.
fn sync_file(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_at(path))
}

impl fmt::Display for Written {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.manifest;
        writeln!(
            f,
            "backup of {} written to {}",
            m.database,
            self.folder.display()
        )?;
        for (table, rows) in &m.tables {
            writeln!(f, "  {table:<22}{rows:>12} rows")?;
        }
        write!(
            f,
            "{} files and {MANIFEST_FILE} (weibing {}, DuckDB {}, {})",
            m.files.len(),
            m.weibing_version,
            m.duckdb_version,
            m.made_at
        )
    }
}

impl fmt::Display for Restored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.manifest;
        writeln!(
            f,
            "restored {} from the backup of {} made {} (weibing {})",
            self.database.display(),
            m.database,
            m.made_at,
            m.weibing_version
        )?;
        for (table, rows) in &self.tables {
            let note = match m.tables.get(table) {
                Some(_) => "as in the backup",
                None => "new in this version",
            };
            writeln!(f, "  {table:<22}{rows:>12} rows  {note}")?;
        }
        if m.weibing_version != env!("CARGO_PKG_VERSION") {
            writeln!(
                f,
                "note: the backup was made by weibing {}, this is {}",
                m.weibing_version,
                env!("CARGO_PKG_VERSION")
            )?;
        }
        let folder = self.database.parent().unwrap_or(Path::new("."));
        write!(
            f,
            "start it with: weibing serve --data {}",
            folder.display()
        )
    }
}
