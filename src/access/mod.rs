//! Access: who is asking, and what they may see.
//!
//! Four kinds of callers reach the server (docs/api.md): staff (by a console
//! session of a staff account, whose role is admin or staff, or by the admin
//! token), leaders (viewer, by a share link), the wall PC (wall token) and
//! partner systems (ingest keys, which can only send). [`Access`] keeps every
//! credential in memory, loaded from the store at start and changed through
//! the console API, which writes the store first and changes the memory only
//! once the store has the change (under [`Access::writes`]), so a credential
//! revoked in memory is revoked on disk.
//!
//! Secrets are never kept: tokens as SHA-256 hashes (a token carries 256
//! random bits, so a fast hash is enough), passwords as argon2 hashes. Token
//! hashes are compared in constant time, and every credential is checked
//! whatever matched before, so timing tells nothing.

pub mod limit;

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::watch;

use crate::region::Region;
use crate::store::access::{CredentialRow, Loaded, SessionRow, UserRow};

/// The fewest characters of the admin token and the env ingest key.
pub const MIN_SECRET_CHARS: usize = 32;

/// How long a console session lasts.
pub const SESSION_MICROS: i64 = 12 * 3_600 * 1_000_000;
/// A link lasts 24 hours unless told otherwise, 30 days at most.
pub const LINK_DEFAULT_HOURS: i64 = 24;
pub const LINK_MAX_HOURS: i64 = 30 * 24;
/// A credential's last use is written to the store at most this often.
const TOUCH_EVERY_MICROS: i64 = 60 * 1_000_000;

/// What part of the figures a viewer sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    City,
    District(u8),
}

impl Scope {
    pub fn parse(text: &str, region: &Region) -> Option<Scope> {
        match text {
            "city" => Some(Scope::City),
            code => region.district_index(code).map(Scope::District),
        }
    }

    pub fn code(&self, region: &Region) -> String {
        match self {
            Scope::City => "city".into(),
            Scope::District(d) => region.districts[*d as usize].code.clone(),
        }
    }

    pub fn name(&self, region: &Region) -> String {
        match self {
            Scope::City => region.name.clone(),
            Scope::District(d) => region.districts[*d as usize].name.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Link,
    Wall,
    Ingest,
}

impl Kind {
    pub fn code(&self) -> &'static str {
        match self {
            Kind::Link => "link",
            Kind::Wall => "wall",
            Kind::Ingest => "ingest",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        match text {
            "link" => Some(Kind::Link),
            "wall" => Some(Kind::Wall),
            "ingest" => Some(Kind::Ingest),
            _ => None,
        }
    }
}

/// Why a credential stopped working (sent to its open sockets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Revoked,
    Expired,
    /// A console session signed out.
    SignedOut,
}

impl EndReason {
    pub fn code(&self) -> &'static str {
        match self {
            EndReason::Revoked => "revoked",
            EndReason::Expired => "expired",
            EndReason::SignedOut => "signed_out",
        }
    }
}

/// What a reader may see. `Admin` is staff's view, whatever the account's
/// [`StaffRole`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer(Scope),
    Wall,
}

/// What a staff account may do: an admin also manages staff accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffRole {
    Admin,
    Staff,
}

impl StaffRole {
    pub fn code(&self) -> &'static str {
        match self {
            StaffRole::Admin => "admin",
            StaffRole::Staff => "staff",
        }
    }

    pub fn parse(text: &str) -> Option<StaffRole> {
        match text {
            "admin" => Some(StaffRole::Admin),
            "staff" => Some(StaffRole::Staff),
            _ => None,
        }
    }
}

/// A caller that proved who it is, for reading or for staff work.
#[derive(Debug, Clone)]
pub struct Principal {
    pub role: Role,
    /// Who, for the audit trail: a staff name, `admin-token`, or a credential id.
    pub actor: String,
    /// The credential behind it (link or wall token), for `ended` and `me`.
    pub credential: Option<String>,
    /// Set when the caller came with the session cookie: writes must echo it.
    pub csrf: Option<String>,
    /// Changes when the credential or session ends: its sockets close then.
    pub ended: Option<watch::Receiver<Option<EndReason>>>,
    /// Staff: what the account (or the admin token, an admin) may do.
    pub staff_role: Option<StaffRole>,
    /// A console session: the hex hash of its token.
    pub session: Option<String>,
}

#[derive(Debug)]
struct Credential {
    row: CredentialRow,
    hash: [u8; 32],
    scope: Option<Scope>,
    ended: watch::Sender<Option<EndReason>>,
    addresses: HashSet<String>,
    /// When the last use was written to the store.
    touched: i64,
}

impl Credential {
    fn state(&self, now: i64) -> &'static str {
        if self.row.revoked_at.is_some() {
            "revoked"
        } else if self.row.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        }
    }
}

#[derive(Debug)]
struct Session {
    token_hash: [u8; 32],
    name: String,
    csrf: String,
    expires_at: i64,
    ended: watch::Sender<Option<EndReason>>,
}

#[derive(Debug, Default)]
struct Inner {
    users: HashMap<String, UserRow>,
    sessions: Vec<Session>,
    credentials: Vec<Credential>,
}

/// What a use of a credential asks the caller to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub id: String,
    pub address: String,
    pub new_address: bool,
}

/// Ends the sessions of `name` but `keep` (hex hash); how many were live.
fn end_sessions_of(inner: &mut Inner, name: &str, keep: Option<&str>) -> usize {
    let before = inner.sessions.len();
    inner.sessions.retain(|s| {
        let ends = s.name == name && keep.is_none_or(|k| k != hex(&s.token_hash));
        if ends {
            s.ended.send_replace(Some(EndReason::Revoked));
        }
        !ends
    });
    before - inner.sessions.len()
}

/// A credential as the console lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Listed {
    pub id: String,
    pub kind: &'static str,
    pub label: String,
    pub scope: Option<String>,
    pub scope_name: Option<String>,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
    pub last_used_from: Option<String>,
    pub state: &'static str,
}

/// A staff account as the console lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserListed {
    pub name: String,
    pub role: &'static str,
    pub created_at: String,
    pub created_by: String,
    pub disabled_at: Option<String>,
    pub disabled_by: Option<String>,
    /// Until when sign-ins of this name are refused after failures.
    pub locked_until: Option<String>,
}

/// The admin token or the env ingest key is too short to be a secret.
#[derive(Debug, thiserror::Error)]
#[error(
    "{variable} has {chars} characters; at least {MIN_SECRET_CHARS} are needed (make one with `openssl rand -hex 32`)"
)]
pub struct WeakSecret {
    pub variable: &'static str,
    pub chars: usize,
}

/// Refuses an admin token or env ingest key shorter than [`MIN_SECRET_CHARS`]
/// (an empty one is no key at all).
pub fn check_secrets(
    admin_token: Option<&str>,
    ingest_key: Option<&str>,
) -> Result<(), WeakSecret> {
    for (variable, value) in [
        ("WEIBING_ADMIN_TOKEN (--admin-token)", admin_token),
        ("WEIBING_INGEST_KEY (--ingest-key)", ingest_key),
    ] {
        let chars = value.map_or(0, |v| v.chars().count());
        if chars > 0 && chars < MIN_SECRET_CHARS {
            return Err(WeakSecret { variable, chars });
        }
    }
    Ok(())
}

pub struct Access {
    region: std::sync::Arc<Region>,
    admin_token: Option<String>,
    /// The backbone's ingest key (`WEIBING_INGEST_KEY`), recorded as source `env`.
    env_ingest: Option<String>,
    // A std RwLock: held for a scan of a few hundred entries, never across an await.
    inner: RwLock<Inner>,
    pub limiter: limit::LoginLimiter,
    /// Held by a change across its store write and its memory update, so
    /// changes reach both in the same order.
    pub writes: tokio::sync::Mutex<()>,
    /// Woken when a link or wall token is added or revoked (the edges'
    /// copy follows it, `publish::bus`).
    pub changed: tokio::sync::Notify,
}

/// A link or wall token as the edges know it (`publish::bus` carries it):
/// its hash, never the token; no last use, no address, no creator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeCredential {
    pub kind: String,
    /// SHA-256 of the token, in hex.
    pub hash: String,
    pub label: String,
    pub scope: Option<String>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

impl Access {
    pub fn new(
        region: std::sync::Arc<Region>,
        admin_token: Option<String>,
        env_ingest: Option<String>,
        loaded: Loaded,
    ) -> Access {
        let mut addresses: HashMap<String, HashSet<String>> = HashMap::new();
        for (id, address) in loaded.addresses {
            addresses.entry(id).or_default().insert(address);
        }
        let credentials = loaded
            .credentials
            .into_iter()
            .map(|row| Credential {
                hash: unhex(&row.token_hash).unwrap_or([0; 32]),
                scope: row.scope.as_deref().and_then(|s| Scope::parse(s, &region)),
                ended: watch::channel(None).0,
                addresses: addresses.remove(&row.id).unwrap_or_default(),
                touched: row.last_used_at.unwrap_or(0),
                row,
            })
            .collect();
        let sessions = loaded
            .sessions
            .into_iter()
            .filter_map(|s| {
                Some(Session {
                    token_hash: unhex(&s.token_hash)?,
                    name: s.name,
                    csrf: s.csrf,
                    expires_at: s.expires_at,
                    ended: watch::channel(None).0,
                })
            })
            .collect();
        Access {
            region,
            admin_token: admin_token.filter(|t| !t.is_empty()),
            env_ingest: env_ingest.filter(|k| !k.is_empty()),
            inner: RwLock::new(Inner {
                users: loaded
                    .users
                    .into_iter()
                    .map(|u| (u.name.clone(), u))
                    .collect(),
                sessions,
                credentials,
            }),
            limiter: limit::LoginLimiter::default(),
            writes: tokio::sync::Mutex::new(()),
            changed: tokio::sync::Notify::new(),
        }
    }

    /// The links and wall tokens, by id, as the edges are to know them
    /// (ingest keys and staff never leave the primary).
    pub fn for_edges(&self) -> Vec<(String, EdgeCredential)> {
        let inner = self.inner.read().expect("access lock");
        inner
            .credentials
            .iter()
            .filter(|c| matches!(c.row.kind.as_str(), "link" | "wall"))
            .map(|c| {
                let credential = EdgeCredential {
                    kind: c.row.kind.clone(),
                    hash: hex(&c.hash),
                    label: c.row.label.clone(),
                    scope: c.row.scope.clone(),
                    expires_at: c.row.expires_at,
                    revoked_at: c.row.revoked_at,
                };
                (c.row.id.clone(), credential)
            })
            .collect()
    }

    /// An edge takes a credential from its primary: a new one is added, a
    /// revocation ends the credential's sockets at once (`gone`: the
    /// primary no longer lists it, which ends it too).
    pub fn take_from_primary(&self, id: &str, credential: Option<EdgeCredential>, now: i64) {
        let known = self
            .inner
            .read()
            .expect("access lock")
            .credentials
            .iter()
            .any(|c| c.row.id == id);
        let Some(credential) = credential else {
            self.revoke(id, "primary", now);
            return;
        };
        if !known {
            if !matches!(credential.kind.as_str(), "link" | "wall") {
                return;
            }
            self.add_credential(CredentialRow {
                id: id.to_string(),
                kind: credential.kind,
                label: credential.label,
                scope: credential.scope,
                token_hash: credential.hash,
                created_at: 0,
                created_by: "primary".into(),
                expires_at: credential.expires_at,
                revoked_at: credential.revoked_at,
                revoked_by: credential.revoked_at.map(|_| "primary".into()),
                last_used_at: None,
                last_used_from: None,
            });
        } else if let Some(at) = credential.revoked_at {
            self.revoke(id, "primary", at);
        }
    }

    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The name of the ingest key `token` is, if it is a live one.
    pub fn ingest_source(&self, token: &str, now: i64) -> Option<String> {
        let mut found = None;
        if let Some(env) = &self.env_ingest
            && same(env.as_bytes(), token.as_bytes())
        {
            found = Some("env".to_string());
        }
        let h = hash(token);
        let inner = self.inner.read().expect("access lock");
        for c in &inner.credentials {
            if c.row.kind == "ingest" && same(&c.hash, &h) && c.state(now) == "active" {
                found = Some(c.row.label.clone());
            }
        }
        found
    }

    /// The name of the ingest key sent, under the limit on unknown tokens
    /// per address: `Err(None)` for no or an unknown key (counted),
    /// `Err(Some(_))` when the address is refused.
    pub fn ingest_key(
        &self,
        token: Option<&str>,
        address: &str,
    ) -> Result<String, Option<limit::Refused>> {
        let token = token.ok_or(None)?;
        let clock = tokio::time::Instant::now();
        if let Some(wait) = self.limiter.token_wait(address, clock) {
            return Err(Some(limit::Refused::Tokens(wait)));
        }
        let found = self.ingest_source(token, crate::time::now_beijing_micros());
        if found.is_none() {
            self.limiter.token_failed(address, clock);
        }
        found.ok_or(None)
    }

    pub fn is_admin_token(&self, token: &str) -> bool {
        self.admin_token
            .as_ref()
            .is_some_and(|t| same(t.as_bytes(), token.as_bytes()))
    }

    /// Who a bearer or query token is: the admin token, a live link or a
    /// live wall token. Ingest keys read nothing and are not found here.
    pub fn reader(&self, token: &str, address: &str, now: i64) -> Option<(Principal, Option<Use>)> {
        if self.is_admin_token(token) {
            return Some((
                Principal {
                    role: Role::Admin,
                    actor: "admin-token".into(),
                    credential: None,
                    csrf: None,
                    ended: None,
                    staff_role: Some(StaffRole::Admin),
                    session: None,
                },
                None,
            ));
        }
        let h = hash(token);
        let mut inner = self.inner.write().expect("access lock");
        let mut found = None;
        for (i, c) in inner.credentials.iter().enumerate() {
            if same(&c.hash, &h) {
                found = Some(i);
            }
        }
        let c = &mut inner.credentials[found?];
        if c.state(now) != "active" {
            return None;
        }
        let role = match c.row.kind.as_str() {
            "link" => Role::Viewer(c.scope?),
            "wall" => Role::Wall,
            _ => return None,
        };
        let new_address = c.addresses.insert(address.to_string());
        c.row.last_used_at = Some(now);
        c.row.last_used_from = Some(address.to_string());
        let record = (new_address || now - c.touched >= TOUCH_EVERY_MICROS).then(|| {
            c.touched = now;
            Use {
                id: c.row.id.clone(),
                address: address.to_string(),
                new_address,
            }
        });
        Some((
            Principal {
                role,
                actor: c.row.id.clone(),
                credential: Some(c.row.id.clone()),
                csrf: None,
                ended: Some(c.ended.subscribe()),
                staff_role: None,
                session: None,
            },
            record,
        ))
    }

    /// Who a session cookie belongs to, if the session is live and its
    /// account enabled.
    pub fn session(&self, token: &str, now: i64) -> Option<Principal> {
        let h = hash(token);
        let inner = self.inner.read().expect("access lock");
        let mut found = None;
        for s in &inner.sessions {
            if same(&s.token_hash, &h) && s.expires_at > now {
                found = Some(s);
            }
        }
        let s = found?;
        let user = inner.users.get(&s.name)?;
        if user.disabled_at.is_some() {
            return None;
        }
        Some(Principal {
            role: Role::Admin,
            actor: s.name.clone(),
            credential: None,
            csrf: Some(s.csrf.clone()),
            ended: Some(s.ended.subscribe()),
            staff_role: Some(StaffRole::parse(&user.role).unwrap_or(StaffRole::Staff)),
            session: Some(hex(&s.token_hash)),
        })
    }

    /// A staff account, if there is one of that name.
    pub fn user(&self, name: &str) -> Option<UserRow> {
        self.inner
            .read()
            .expect("access lock")
            .users
            .get(name)
            .cloned()
    }

    pub fn has_users(&self) -> bool {
        !self.inner.read().expect("access lock").users.is_empty()
    }

    /// Every staff account, by name.
    pub fn users(&self, now: i64) -> Vec<UserListed> {
        use crate::time::rfc3339_secs as t;
        let clock = tokio::time::Instant::now();
        let inner = self.inner.read().expect("access lock");
        let mut users: Vec<UserListed> = inner
            .users
            .values()
            .map(|u| UserListed {
                name: u.name.clone(),
                role: StaffRole::parse(&u.role).map_or("staff", |r| r.code()),
                created_at: t(u.created_at),
                created_by: u.created_by.clone(),
                disabled_at: u.disabled_at.map(t),
                disabled_by: u.disabled_by.clone(),
                locked_until: self
                    .limiter
                    .locked_for(&u.name, clock)
                    .map(|d| t(now + d.as_micros() as i64)),
            })
            .collect();
        users.sort_by(|a, b| a.name.cmp(&b.name));
        users
    }

    /// Enabled admin accounts other than `name`.
    pub fn other_enabled_admins(&self, name: &str) -> usize {
        self.inner
            .read()
            .expect("access lock")
            .users
            .values()
            .filter(|u| {
                u.name != name && u.role == StaffRole::Admin.code() && u.disabled_at.is_none()
            })
            .count()
    }

    /// Adds an account, or sets its password (the store's upsert).
    pub fn add_user(&self, user: &UserRow) {
        let mut inner = self.inner.write().expect("access lock");
        match inner.users.get_mut(&user.name) {
            Some(u) => u.password_hash = user.password_hash.clone(),
            None => {
                inner.users.insert(user.name.clone(), user.clone());
            }
        }
    }

    /// Marks an account disabled (`Some`) or enabled (`None`); ends its
    /// sessions when disabled. Call it once the store has the change.
    pub fn set_disabled(&self, name: &str, disabled: Option<(i64, String)>) {
        let mut inner = self.inner.write().expect("access lock");
        if let Some(u) = inner.users.get_mut(name) {
            u.disabled_at = disabled.as_ref().map(|d| d.0);
            u.disabled_by = disabled.as_ref().map(|d| d.1.clone());
        }
        if disabled.is_some() {
            end_sessions_of(&mut inner, name, None);
        }
    }

    /// Sets an account's password hash and ends its sessions but `keep`
    /// (hex hash). Call it once the store has the change.
    pub fn set_password(&self, name: &str, password_hash: &str, keep: Option<&str>) -> usize {
        let mut inner = self.inner.write().expect("access lock");
        if let Some(u) = inner.users.get_mut(name) {
            u.password_hash = password_hash.to_string();
        }
        end_sessions_of(&mut inner, name, keep)
    }

    /// Ends every session of `name`; how many were live. Call it once the
    /// store deleted them.
    pub fn end_sessions(&self, name: &str) -> usize {
        end_sessions_of(&mut self.inner.write().expect("access lock"), name, None)
    }

    /// The hex hash of `token` if it is a session's (live or not yet removed).
    pub fn session_hash(&self, token: &str) -> Option<String> {
        let h = hash(token);
        let inner = self.inner.read().expect("access lock");
        let mut found = false;
        for s in &inner.sessions {
            found |= same(&s.token_hash, &h);
        }
        found.then(|| hex(&h))
    }

    pub fn add_session(&self, row: &SessionRow) {
        let token_hash = unhex(&row.token_hash).expect("a hex SHA-256");
        let mut inner = self.inner.write().expect("access lock");
        let now = row.created_at;
        inner.sessions.retain(|s| s.expires_at > now);
        inner.sessions.push(Session {
            token_hash,
            name: row.name.clone(),
            csrf: row.csrf.clone(),
            expires_at: row.expires_at,
            ended: watch::channel(None).0,
        });
    }

    /// Ends the session of `token`; returns its hash (hex) if it was live.
    pub fn end_session(&self, token: &str) -> Option<String> {
        let h = hash(token);
        let mut inner = self.inner.write().expect("access lock");
        let before = inner.sessions.len();
        inner.sessions.retain(|s| {
            let ends = same(&s.token_hash, &h);
            if ends {
                s.ended.send_replace(Some(EndReason::SignedOut));
            }
            !ends
        });
        (inner.sessions.len() < before).then(|| hex(&h))
    }

    pub fn add_credential(&self, row: CredentialRow) {
        let scope = row
            .scope
            .as_deref()
            .and_then(|s| Scope::parse(s, &self.region));
        self.inner
            .write()
            .expect("access lock")
            .credentials
            .push(Credential {
                hash: unhex(&row.token_hash).unwrap_or([0; 32]),
                scope,
                ended: watch::channel(None).0,
                addresses: HashSet::new(),
                touched: 0,
                row,
            });
        self.changed.notify_one();
    }

    /// Whether an ingest key (or the env key) already has this name.
    pub fn ingest_name_taken(&self, name: &str) -> bool {
        name == "env"
            || self
                .inner
                .read()
                .expect("access lock")
                .credentials
                .iter()
                .any(|c| c.row.kind == "ingest" && c.row.label == name)
    }

    /// Revokes a credential now: its sockets are told at once. Returns the
    /// listing, or None if there is no such credential.
    pub fn revoke(&self, id: &str, by: &str, now: i64) -> Option<(Listed, bool)> {
        let mut inner = self.inner.write().expect("access lock");
        let c = inner.credentials.iter_mut().find(|c| c.row.id == id)?;
        let was_active = c.row.revoked_at.is_none();
        if was_active {
            c.row.revoked_at = Some(now);
            c.row.revoked_by = Some(by.to_string());
            c.ended.send_replace(Some(EndReason::Revoked));
            self.changed.notify_one();
        }
        Some((listed(c, &self.region, now), was_active))
    }

    /// Tells the sockets of credentials and sessions that expired by `now`.
    /// Returns the credentials' ids.
    pub fn expire(&self, now: i64) -> Vec<String> {
        let inner = self.inner.read().expect("access lock");
        for s in &inner.sessions {
            if s.expires_at <= now && s.ended.borrow().is_none() {
                s.ended.send_replace(Some(EndReason::Expired));
            }
        }
        let mut ended = Vec::new();
        for c in &inner.credentials {
            if c.row.revoked_at.is_none()
                && c.row.expires_at.is_some_and(|e| e <= now)
                && c.ended.borrow().is_none()
            {
                c.ended.send_replace(Some(EndReason::Expired));
                ended.push(c.row.id.clone());
            }
        }
        ended
    }

    pub fn list(&self, kind: Option<Kind>, now: i64) -> Vec<Listed> {
        let inner = self.inner.read().expect("access lock");
        let mut out: Vec<Listed> = inner
            .credentials
            .iter()
            .filter(|c| kind.is_none_or(|k| c.row.kind == k.code()))
            .map(|c| listed(c, &self.region, now))
            .collect();
        out.reverse();
        out
    }

    pub fn get(&self, id: &str, now: i64) -> Option<Listed> {
        let inner = self.inner.read().expect("access lock");
        inner
            .credentials
            .iter()
            .find(|c| c.row.id == id)
            .map(|c| listed(c, &self.region, now))
    }

    /// Live ingest keys: (name, created at), the env key first.
    pub fn ingest_keys(&self, now: i64) -> Vec<(String, i64)> {
        let inner = self.inner.read().expect("access lock");
        self.env_ingest
            .as_ref()
            .map(|_| ("env".to_string(), 0))
            .into_iter()
            .chain(
                inner
                    .credentials
                    .iter()
                    .filter(|c| c.row.kind == "ingest" && c.state(now) == "active")
                    .map(|c| (c.row.label.clone(), c.row.created_at)),
            )
            .collect()
    }
}

fn listed(c: &Credential, region: &Region, now: i64) -> Listed {
    use crate::time::rfc3339_secs as t;
    Listed {
        id: c.row.id.clone(),
        kind: Kind::parse(&c.row.kind).map_or("unknown", |k| k.code()),
        label: c.row.label.clone(),
        scope: c.scope.map(|s| s.code(region)),
        scope_name: c.scope.map(|s| s.name(region)),
        created_at: t(c.row.created_at),
        created_by: c.row.created_by.clone(),
        expires_at: c.row.expires_at.map(t),
        revoked_at: c.row.revoked_at.map(t),
        last_used_at: c.row.last_used_at.map(t),
        last_used_from: c.row.last_used_from.clone(),
        state: c.state(now),
    }
}
