//! The access tables (`sql/access.sql`) and the console's reads: staff,
//! sessions, credentials, the audit trail, rejected events, per-key ingest
//! health, and the monthly export's scan.
//!
//! These run on the store's *side* connection (a second connection to the
//! same database), so a console query or an export never waits behind, or
//! holds up, the writer's group commits.

use duckdb::{Connection, params};

use super::{Store, StoreError};
use crate::model::Event;
use crate::region::Region;

pub const ACCESS_SQL: &str = include_str!("../../sql/access.sql");

#[derive(Debug, Clone)]
pub struct UserRow {
    pub name: String,
    pub password_hash: String,
    pub created_at: i64,
    pub created_by: String,
    /// `admin` or `staff`.
    pub role: String,
    pub disabled_at: Option<i64>,
    pub disabled_by: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub token_hash: String,
    pub name: String,
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CredentialRow {
    pub id: String,
    pub kind: String,
    pub label: String,
    pub scope: Option<String>,
    pub token_hash: String,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub last_used_at: Option<i64>,
    pub last_used_from: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub address: Option<String>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RejectedRow {
    pub received_at: i64,
    pub source: String,
    pub format: String,
    pub line: i64,
    pub event_id: Option<String>,
    pub reason: String,
    /// The first [`RAW_SHOWN`] characters of the record as sent.
    pub raw: String,
    /// Characters in the record as stored (whole).
    pub raw_chars: i64,
}

/// Characters of a rejected record a listing carries: a 10 MB line is kept
/// whole in the store but not sent to every console that lists it.
pub const RAW_SHOWN: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
pub struct KeySummary {
    pub source: String,
    pub requests: i64,
    pub accepted: i64,
    pub duplicates: i64,
    /// All rejected, and of them those counted only (not kept whole).
    pub rejected: i64,
    pub not_kept: i64,
    pub last_request_at: Option<i64>,
}

/// Delays of recently received events: (p50, p90, max, events), milliseconds.
pub type Delays = Option<(i64, i64, i64, i64)>;

/// Everything access needs at start.
#[derive(Debug, Default)]
pub struct Loaded {
    pub users: Vec<UserRow>,
    pub sessions: Vec<SessionRow>,
    pub credentials: Vec<CredentialRow>,
    /// (credential id, address) pairs seen before.
    pub addresses: Vec<(String, String)>,
}

fn ts(micros: i64) -> duckdb::types::Value {
    duckdb::types::Value::Timestamp(duckdb::types::TimeUnit::Microsecond, micros)
}

fn opt_ts(micros: Option<i64>) -> duckdb::types::Value {
    micros.map_or(duckdb::types::Value::Null, ts)
}

/// Reads the access tables (blocking; at start).
pub(super) fn load(conn: &Connection, now: i64) -> Result<Loaded, StoreError> {
    conn.execute(
        "DELETE FROM sessions WHERE expires_at <= make_timestamp(?::BIGINT)",
        params![now],
    )?;
    let users = conn
        .prepare(
            "SELECT name, password_hash, epoch_us(created_at), created_by, coalesce(role, 'admin'),
                    epoch_us(disabled_at), disabled_by
             FROM users",
        )?
        .query_map([], |r| {
            Ok(UserRow {
                name: r.get(0)?,
                password_hash: r.get(1)?,
                created_at: r.get(2)?,
                created_by: r.get(3)?,
                role: r.get(4)?,
                disabled_at: r.get(5)?,
                disabled_by: r.get(6)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let sessions = conn
        .prepare(
            "SELECT token_hash, name, csrf, epoch_us(created_at), epoch_us(expires_at) FROM sessions",
        )?
        .query_map([], |r| {
            Ok(SessionRow {
                token_hash: r.get(0)?,
                name: r.get(1)?,
                csrf: r.get(2)?,
                created_at: r.get(3)?,
                expires_at: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let credentials = conn
        .prepare(
            "SELECT id, kind, label, scope, token_hash, epoch_us(created_at), created_by,
                    epoch_us(expires_at), epoch_us(revoked_at), revoked_by,
                    epoch_us(last_used_at), last_used_from
             FROM credentials ORDER BY created_at",
        )?
        .query_map([], |r| {
            Ok(CredentialRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                label: r.get(2)?,
                scope: r.get(3)?,
                token_hash: r.get(4)?,
                created_at: r.get(5)?,
                created_by: r.get(6)?,
                expires_at: r.get(7)?,
                revoked_at: r.get(8)?,
                revoked_by: r.get(9)?,
                last_used_at: r.get(10)?,
                last_used_from: r.get(11)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let addresses = conn
        .prepare("SELECT credential_id, address FROM credential_addresses")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(Loaded {
        users,
        sessions,
        credentials,
        addresses,
    })
}

/// Adds a staff account to a database file directly (`weibing user add`,
/// with the server stopped: DuckDB lets one process open the file).
pub fn add_user_offline(path: &std::path::Path, user: &UserRow) -> Result<(), StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let conn = Connection::open(path)?;
    conn.execute_batch(&super::schema_sql())?;
    conn.execute_batch(ACCESS_SQL)?;
    insert_user(&conn, user)?;
    conn.execute(
        "INSERT INTO audit VALUES (?, 'cli', 'user_saved', ?, NULL, 'weibing user add')",
        params![ts(user.created_at), user.name],
    )?;
    Ok(())
}

/// Adds an account, or sets the password of the account of that name (its
/// role and state stay as they are).
fn insert_user(conn: &Connection, u: &UserRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO users (name, password_hash, created_at, created_by, role)
         VALUES (?, ?, make_timestamp(?::BIGINT), ?, ?)
         ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash",
        params![u.name, u.password_hash, u.created_at, u.created_by, u.role],
    )?;
    Ok(())
}

/// Runs `f` in a transaction: all of it is stored, or none.
fn in_transaction(
    c: &Connection,
    f: impl FnOnce(&Connection) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    c.execute_batch("BEGIN TRANSACTION")?;
    match f(c).and_then(|()| Ok(c.execute_batch("COMMIT")?)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

impl Store {
    /// Bytes DuckDB's buffer manager holds, by its own count.
    pub async fn memory_bytes(&self) -> Result<u64, StoreError> {
        self.side(|c| {
            let bytes: i64 = c.query_row(
                "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory()",
                [],
                |r| r.get(0),
            )?;
            Ok(bytes.max(0) as u64)
        })
        .await
    }

    /// Runs `f` on the side connection, off the async workers.
    pub(super) async fn side<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let side = self.side.clone();
        tokio::task::spawn_blocking(move || {
            // A std Mutex: held by one blocking call at a time, never across an await.
            let conn = side.lock().map_err(|_| StoreError::Closed)?;
            f(&conn)
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }

    pub async fn add_user(&self, user: UserRow) -> Result<(), StoreError> {
        self.side(move |c| insert_user(c, &user)).await
    }

    pub async fn add_session(&self, s: SessionRow) -> Result<(), StoreError> {
        self.side(move |c| {
            c.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, make_timestamp(?::BIGINT), make_timestamp(?::BIGINT))",
                params![s.token_hash, s.name, s.csrf, s.created_at, s.expires_at],
            )?;
            Ok(())
        })
        .await
    }

    /// Disables an account (`Some((at, by))`) and deletes its sessions, or
    /// enables it (`None`), in one transaction.
    pub async fn set_user_disabled(
        &self,
        name: String,
        disabled: Option<(i64, String)>,
    ) -> Result<(), StoreError> {
        self.side(move |c| {
            let (at, by) = disabled.map_or((None, None), |(at, by)| (Some(at), Some(by)));
            in_transaction(c, |c| {
                c.execute(
                    "UPDATE users SET disabled_at = ?, disabled_by = ? WHERE name = ?",
                    params![opt_ts(at), by, name],
                )?;
                if at.is_some() {
                    c.execute("DELETE FROM sessions WHERE name = ?", params![name])?;
                }
                Ok(())
            })
        })
        .await
    }

    /// Sets an account's password and deletes its sessions but `keep` (a
    /// token hash), in one transaction.
    pub async fn set_password(
        &self,
        name: String,
        password_hash: String,
        keep: Option<String>,
    ) -> Result<(), StoreError> {
        self.side(move |c| {
            in_transaction(c, |c| {
                c.execute(
                    "UPDATE users SET password_hash = ? WHERE name = ?",
                    params![password_hash, name],
                )?;
                c.execute(
                    "DELETE FROM sessions WHERE name = ? AND token_hash IS DISTINCT FROM ?",
                    params![name, keep],
                )?;
                Ok(())
            })
        })
        .await
    }

    /// Deletes every session of an account.
    pub async fn delete_sessions_of(&self, name: String) -> Result<(), StoreError> {
        self.side(move |c| {
            c.execute("DELETE FROM sessions WHERE name = ?", params![name])?;
            Ok(())
        })
        .await
    }

    pub async fn delete_session(&self, token_hash: String) -> Result<(), StoreError> {
        self.side(move |c| {
            c.execute(
                "DELETE FROM sessions WHERE token_hash = ?",
                params![token_hash],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn add_credential(&self, r: CredentialRow) -> Result<(), StoreError> {
        self.side(move |c| {
            c.execute(
                "INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL)",
                params![
                    r.id,
                    r.kind,
                    r.label,
                    r.scope,
                    r.token_hash,
                    ts(r.created_at),
                    r.created_by,
                    opt_ts(r.expires_at)
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn revoke_credential(
        &self,
        id: String,
        by: String,
        at: i64,
    ) -> Result<(), StoreError> {
        self.side(move |c| {
            c.execute(
                "UPDATE credentials SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL",
                params![ts(at), by, id],
            )?;
            Ok(())
        })
        .await
    }

    /// Records a use; `new_address` also remembers the address.
    pub async fn credential_used(
        &self,
        id: String,
        address: String,
        at: i64,
        new_address: bool,
    ) -> Result<(), StoreError> {
        self.side(move |c| {
            c.execute(
                "UPDATE credentials SET last_used_at = ?, last_used_from = ? WHERE id = ?",
                params![ts(at), address, id],
            )?;
            if new_address {
                c.execute(
                    "INSERT INTO credential_addresses VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    params![id, address, ts(at)],
                )?;
            }
            Ok(())
        })
        .await
    }

    pub async fn audit(&self, row: AuditRow) -> Result<(), StoreError> {
        self.side(move |c| {
            c.execute(
                "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?)",
                params![
                    ts(row.at),
                    row.actor,
                    row.action,
                    row.target,
                    row.address,
                    row.detail
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// The newest audit rows first; `limit` None reads them all (oldest first).
    pub async fn audit_rows(&self, limit: Option<usize>) -> Result<Vec<AuditRow>, StoreError> {
        self.side(move |c| {
            let sql = match limit {
                Some(n) => format!(
                    "SELECT epoch_us(logged_at), actor, action, target, address, detail FROM audit
                     ORDER BY logged_at DESC LIMIT {n}"
                ),
                None => {
                    "SELECT epoch_us(logged_at), actor, action, target, address, detail FROM audit
                         ORDER BY logged_at"
                        .to_string()
                }
            };
            let rows = c
                .prepare(&sql)?
                .query_map([], |r| {
                    Ok(AuditRow {
                        at: r.get(0)?,
                        actor: r.get(1)?,
                        action: r.get(2)?,
                        target: r.get(3)?,
                        address: r.get(4)?,
                        detail: r.get(5)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    pub async fn rejected_rows(
        &self,
        limit: usize,
        source: Option<String>,
    ) -> Result<Vec<RejectedRow>, StoreError> {
        self.loaded().await;
        self.side(move |c| {
            let rows = c
                .prepare(
                    "SELECT epoch_us(received_at), source, format, line, event_id, reason,
                            left(raw, ?), length(raw)
                     FROM rejected WHERE ?::VARCHAR IS NULL OR source = ?::VARCHAR
                     ORDER BY received_at DESC, line DESC LIMIT ?",
                )?
                .query_map(
                    params![RAW_SHOWN as i64, source, source, limit as i64],
                    |r| {
                        Ok(RejectedRow {
                            received_at: r.get(0)?,
                            source: r.get(1)?,
                            format: r.get(2)?,
                            line: r.get(3)?,
                            event_id: r.get(4)?,
                            reason: r.get(5)?,
                            raw: r.get(6)?,
                            raw_chars: r.get(7)?,
                        })
                    },
                )?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Per ingest key: the rejected records kept since `since` (Beijing
    /// micros) and their bytes as ingest counts them (text, reason, id).
    pub async fn rejected_kept_since(
        &self,
        since: i64,
    ) -> Result<Vec<(String, u64, u64)>, StoreError> {
        self.loaded().await;
        self.side(move |c| {
            let rows = c
                .prepare(
                    "SELECT source, count(*)::UBIGINT,
                            sum(strlen(raw) + strlen(reason) + coalesce(strlen(event_id), 0))::UBIGINT
                     FROM rejected WHERE received_at >= make_timestamp(?::BIGINT) GROUP BY source",
                )?
                .query_map([since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Per ingest key: requests, events accepted, duplicate, rejected, last request.
    pub async fn ingest_by_key(&self) -> Result<Vec<KeySummary>, StoreError> {
        self.loaded().await;
        self.side(|c| {
            let rows = c
                .prepare(
                    "SELECT source, count(*), sum(accepted)::BIGINT, sum(duplicates)::BIGINT,
                            sum(rejected)::BIGINT, epoch_us(max(received_at)),
                            coalesce(sum(not_kept), 0)::BIGINT
                     FROM ingest_requests GROUP BY source ORDER BY source",
                )?
                .query_map([], |r| {
                    Ok(KeySummary {
                        source: r.get(0)?,
                        requests: r.get(1)?,
                        accepted: r.get(2)?,
                        duplicates: r.get(3)?,
                        rejected: r.get(4)?,
                        not_kept: r.get(6)?,
                        last_request_at: r.get(5)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Event time to arrival of the events received since `since`:
    /// (p50, p90, max in ms, how many). Arrival order keeps `received_at`
    /// sorted on disk, so DuckDB's zone maps skip the older row groups.
    pub async fn recent_delays(&self, since: i64) -> Result<Delays, StoreError> {
        self.loaded().await;
        self.side(move |c| {
            let row = c.query_row(
                "SELECT quantile_disc(d, 0.5), quantile_disc(d, 0.9), max(d), count(*)
                 FROM (SELECT epoch_ms(received_at) - epoch_ms(ts) AS d FROM events
                       WHERE received_at >= make_timestamp(?::BIGINT))",
                params![since],
                |r| {
                    Ok((
                        r.get::<_, Option<i64>>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )?;
            Ok(match row {
                (Some(p50), Some(p90), Some(max), n) => Some((p50, p90, max, n)),
                _ => None,
            })
        })
        .await
    }

    /// How many events DuckDB holds with a time before each of `bounds`
    /// (Beijing micros), in order. It does not wait for the ingest log to be
    /// loaded: a caller that needs every answered event calls
    /// [`Store::loaded`] first.
    pub async fn counts_before(&self, bounds: Vec<i64>) -> Result<Vec<u64>, StoreError> {
        self.side(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT count(*) FROM events WHERE ts < make_timestamp(?::BIGINT)",
            )?;
            bounds
                .iter()
                .map(|b| Ok(stmt.query_row(params![b], |r| r.get::<_, i64>(0))? as u64))
                .collect()
        })
        .await
    }

    /// Folds every event DuckDB holds with a time before `until` (Beijing
    /// micros) into `acc` with `f`, on the side connection. Like
    /// [`Store::counts_before`], it does not wait for the ingest log.
    pub async fn fold_until<T, F>(
        &self,
        region: Region,
        until: i64,
        mut acc: T,
        f: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&mut T, Event) + Send + 'static,
    {
        self.side(move |c| {
            super::replay::replay_until(c, &region, Some(until), &mut |e| f(&mut acc, e))?;
            Ok(acc)
        })
        .await
    }
}
