//! Access: who is asking, and what they may see.
//!
//! Four kinds of callers reach the server (docs/api.md): staff (admin, by a
//! console session or the admin token), leaders (viewer, by a share link),
//! the wall PC (wall token) and partner systems (ingest keys, which can only
//! send). [`Access`] keeps every credential in memory, loaded from the store
//! at start and changed through the console API, which writes the store first.
//!
//! Secrets are never kept: tokens as SHA-256 hashes (a token carries 256
//! random bits, so a fast hash is enough), passwords as argon2 hashes. Token
//! hashes are compared in constant time, and every credential is checked
//! whatever matched before, so timing tells nothing.

pub mod http;
pub mod limit;

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::watch;

use crate::region::Region;
use crate::store::access::{CredentialRow, Loaded, SessionRow, UserRow};

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

/// What a reader may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer(Scope),
    Wall,
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
    users: HashMap<String, String>,
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

pub struct Access {
    region: std::sync::Arc<Region>,
    admin_token: Option<String>,
    /// The backbone's ingest key (`WEIBING_INGEST_KEY`), recorded as source `env`.
    env_ingest: Option<String>,
    // A std RwLock: held for a scan of a few hundred entries, never across an await.
    inner: RwLock<Inner>,
    pub limiter: limit::LoginLimiter,
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

fn same(a: &[u8], b: &[u8]) -> bool {
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
                    .map(|u| (u.name, u.password_hash))
                    .collect(),
                sessions,
                credentials,
            }),
            limiter: limit::LoginLimiter::default(),
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
            },
            record,
        ))
    }

    /// Who a session cookie belongs to, if the session is live.
    pub fn session(&self, token: &str, now: i64) -> Option<Principal> {
        let h = hash(token);
        let inner = self.inner.read().expect("access lock");
        let mut found = None;
        for s in &inner.sessions {
            if same(&s.token_hash, &h) && s.expires_at > now {
                found = Some(Principal {
                    role: Role::Admin,
                    actor: s.name.clone(),
                    credential: None,
                    csrf: Some(s.csrf.clone()),
                    ended: Some(s.ended.subscribe()),
                });
            }
        }
        found
    }

    pub fn password_hash(&self, name: &str) -> Option<String> {
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

    pub fn user_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .read()
            .expect("access lock")
            .users
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    pub fn add_user(&self, user: &UserRow) {
        self.inner
            .write()
            .expect("access lock")
            .users
            .insert(user.name.clone(), user.password_hash.clone());
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
