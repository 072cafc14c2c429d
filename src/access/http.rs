//! The HTTP side of access: who a request comes from (extractors), the
//! console login, and the credentials and staff APIs (docs/api.md).

use std::collections::HashMap;
use std::net::SocketAddr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{
    Kind, LINK_DEFAULT_HOURS, LINK_MAX_HOURS, Principal, Role, SESSION_MICROS, Scope, hash, hex,
};
use crate::server::AppState;
use crate::store::access::{AuditRow, CredentialRow, SessionRow, UserRow};
use crate::store::{Store, StoreError};
use crate::time;

pub const SESSION_COOKIE: &str = "weibing_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
const MIN_PASSWORD_CHARS: usize = 10;

/// Errors of the access and console APIs: a status and a message for the
/// client; store details go to the log only.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("sign in, or send a valid token (Authorization: Bearer … or ?token=…)")]
    Unauthorized,
    #[error("name or password is wrong")]
    WrongPassword,
    #[error("X-CSRF-Token: missing or wrong")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many failed sign-ins from this address: try again in {0} s")]
    TooMany(u64),
    #[error("the store could not do this now; try again")]
    Store(#[from] StoreError),
    /// A failure of ours; the detail is logged, not shown.
    #[error("the server could not do this; the details are in its log")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized | ApiError::WrongPassword => StatusCode::UNAUTHORIZED,
            ApiError::Csrf => StatusCode::FORBIDDEN,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Store(e) => {
                tracing::error!(error = %e, "store call failed");
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut response = (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        let headers = response.headers_mut();
        match self {
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::TooMany(secs) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            _ => {}
        }
        response
    }
}

/// The caller's address: the TCP peer, or, when the peer is a proxy named
/// by `--trusted-proxy`, the last address it added to `X-Forwarded-For`.
pub fn address(app: &AppState, parts: &Parts) -> String {
    let Some(peer) = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return "-".to_string();
    };
    if !app.trusted_proxies.contains(&peer) {
        return peer.to_string();
    }
    parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<std::net::IpAddr>().ok())
        .next_back()
        .map_or_else(|| peer.to_string(), |ip| ip.to_string())
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn query_token(uri: &Uri) -> Option<String> {
    let Query(query) = Query::<HashMap<String, String>>::try_from_uri(uri).ok()?;
    query.get("token").filter(|t| !t.is_empty()).cloned()
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .filter(|t| !t.is_empty())
}

/// Who is reading: the admin token, a link, a wall token (bearer or `?token=`),
/// or a console session (cookie). A use of a link is recorded in passing.
pub async fn who(app: &AppState, parts: &Parts) -> Result<Principal, ApiError> {
    let now = time::now_beijing_micros();
    let token = bearer(&parts.headers)
        .map(str::to_string)
        .or_else(|| query_token(&parts.uri));
    if let Some(token) = token {
        let address = address(app, parts);
        let (principal, used) = app
            .access
            .reader(&token, &address, now)
            .ok_or(ApiError::Unauthorized)?;
        if let Some(used) = used {
            let (store, id, address) = (app.store.clone(), used.id, used.address);
            // The record of a use never delays the reader.
            tokio::spawn(async move {
                let result = store
                    .credential_used(id.clone(), address.clone(), now, used.new_address)
                    .await;
                if used.new_address && result.is_ok() {
                    let action = "credential_first_use_from_address";
                    audit(&store, &id, action, Some(&id), Some(&address), None).await;
                }
                if let Err(e) = result {
                    tracing::warn!(error = %e, "a credential's use was not recorded");
                }
            });
        }
        return Ok(principal);
    }
    session_cookie(&parts.headers)
        .and_then(|t| app.access.session(t, now))
        .ok_or(ApiError::Unauthorized)
}

/// Any reader of the figures: staff, a link or a wall.
pub struct Reader(pub Principal);

/// Staff, for reads.
pub struct Staff(pub Principal);

/// Staff, for writes: a session must also send its CSRF token.
pub struct StaffWrite(pub Principal, pub String);

impl FromRequestParts<AppState> for Reader {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        who(app, parts).await.map(Reader)
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        match who(app, parts).await? {
            p if p.role == Role::Admin => Ok(Staff(p)),
            _ => Err(ApiError::Unauthorized),
        }
    }
}

impl FromRequestParts<AppState> for StaffWrite {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let Staff(p) = Staff::from_request_parts(parts, app).await?;
        check_csrf(&p, &parts.headers)?;
        Ok(StaffWrite(p, address(app, parts)))
    }
}

/// A session's writes must echo its CSRF token; bearer callers need none
/// (a browser never attaches a bearer token by itself).
pub fn check_csrf(p: &Principal, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &p.csrf else {
        return Ok(());
    };
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if super::same(expected.as_bytes(), sent.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Csrf)
    }
}

/// Writes an audit row, now; a failure is logged, never shown to the caller.
pub async fn audit(
    store: &Store,
    actor: &str,
    action: &str,
    target: Option<&str>,
    address: Option<&str>,
    detail: Option<String>,
) {
    let row = AuditRow {
        at: time::now_beijing_micros(),
        actor: actor.to_string(),
        action: action.to_string(),
        target: target.map(str::to_string),
        address: address.map(str::to_string),
        detail,
    };
    if let Err(e) = store.audit(row).await {
        tracing::error!(error = %e, action, "an audit row was not written");
    }
}

pub fn hash_password(password: &str) -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).expect("16 bytes make a valid salt");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password")
        .to_string()
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A staff account, checked for the console's rules.
pub fn new_user(name: &str, password: &str, by: &str) -> Result<UserRow, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 40 || name.chars().any(char::is_control) {
        return Err("name: 1 to 40 characters, no control characters".into());
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "password: at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    Ok(UserRow {
        name: name.to_string(),
        password_hash: hash_password(password),
        created_at: time::now_beijing_micros(),
        created_by: by.to_string(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    name: String,
    password: String,
}

/// A caller's address, for handlers that take no principal.
pub struct Address(pub String);

impl FromRequestParts<AppState> for Address {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Address(address(app, parts)))
    }
}

pub async fn login(
    State(app): State<AppState>,
    Address(address): Address,
    Json(request): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let now = tokio::time::Instant::now();
    // The name as given, for the trail: bounded, control characters shown as such.
    let tried: String = request
        .name
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    if let Some(wait) = app.access.limiter.check(&address, now) {
        audit(
            &app.store,
            &tried,
            "login_refused",
            None,
            Some(&address),
            Some("too many failures".into()),
        )
        .await;
        return Err(ApiError::TooMany(wait.as_secs().max(1)));
    }
    let stored = app.access.password_hash(&request.name);
    let password = request.password;
    // argon2 is slow on purpose: off the async workers. An unknown name is
    // checked against a throwaway hash so it takes as long as a known one.
    let ok = tokio::task::spawn_blocking(move || match stored {
        Some(phc) => verify_password(&password, &phc),
        None => {
            let _ = verify_password(&password, &DUMMY_HASH);
            false
        }
    })
    .await
    .unwrap_or(false);
    if !ok {
        app.access.limiter.failed(&address, now);
        tracing::warn!(%address, "failed sign-in");
        audit(
            &app.store,
            &tried,
            "login_failed",
            None,
            Some(&address),
            None,
        )
        .await;
        return Err(ApiError::WrongPassword);
    }
    app.access.limiter.succeeded(&address);
    let token = random_secret();
    let created_at = time::now_beijing_micros();
    let row = SessionRow {
        token_hash: hex(&hash(&token)),
        name: request.name.clone(),
        csrf: random_secret(),
        created_at,
        expires_at: created_at + SESSION_MICROS,
    };
    app.store.add_session(row.clone()).await?;
    app.access.add_session(&row);
    audit(&app.store, &row.name, "login", None, Some(&address), None).await;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        SESSION_MICROS / 1_000_000,
        if app.secure_cookies { "; Secure" } else { "" }
    );
    let mut response = Json(serde_json::json!({
        "name": row.name, "role": "admin", "csrf": row.csrf,
    }))
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a token is ASCII"),
    );
    Ok(response)
}

static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("not a password of anyone"));

pub async fn logout(
    State(app): State<AppState>,
    StaffWrite(p, address): StaffWrite,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = session_cookie(&headers)
        && let Some(h) = app.access.end_session(token)
    {
        app.store.delete_session(h).await?;
    }
    audit(&app.store, &p.actor, "logout", None, Some(&address), None).await;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("weibing_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(response)
}

pub async fn session(Staff(p): Staff) -> Result<Response, ApiError> {
    let csrf = p.csrf.ok_or(ApiError::Unauthorized)?;
    Ok(Json(serde_json::json!({"name": p.actor, "role": "admin", "csrf": csrf})).into_response())
}

pub async fn me(State(app): State<AppState>, Reader(p): Reader) -> Response {
    let now = time::now_beijing_micros();
    let listed = p
        .credential
        .as_deref()
        .and_then(|id| app.access.get(id, now));
    let body = match (p.role, listed) {
        (Role::Admin, _) => serde_json::json!({"role": "admin", "name": p.actor}),
        (Role::Viewer(_), Some(l)) => serde_json::json!({
            "role": "viewer", "label": l.label, "scope": l.scope,
            "scope_name": l.scope_name, "expires_at": l.expires_at,
        }),
        (Role::Wall, Some(l)) => serde_json::json!({"role": "wall", "label": l.label}),
        (_, None) => return ApiError::Unauthorized.into_response(),
    };
    Json(body).into_response()
}

#[derive(Deserialize)]
pub struct KindQuery {
    kind: Option<String>,
}

pub async fn list_credentials(
    State(app): State<AppState>,
    Staff(_): Staff,
    Query(q): Query<KindQuery>,
) -> Result<Response, ApiError> {
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(
            Kind::parse(k)
                .ok_or_else(|| ApiError::BadRequest("kind: one of link, wall, ingest".into()))?,
        ),
    };
    let now = time::now_beijing_micros();
    Ok(Json(serde_json::json!({ "credentials": app.access.list(kind, now) })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCredential {
    pub kind: String,
    pub label: String,
    pub scope: Option<String>,
    pub expires_in_hours: Option<i64>,
}

pub async fn create_credential(
    State(app): State<AppState>,
    StaffWrite(p, address): StaffWrite,
    Json(request): Json<CreateCredential>,
) -> Result<Response, ApiError> {
    let (listed, token, url) = issue(&app, request, &p.actor, &address).await?;
    let mut body = serde_json::to_value(listed).expect("serializes");
    body["token"] = token.into();
    body["url"] = url.into();
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Creates a credential: (its listing, the token, the URL that carries it).
/// The token is shown this once; only its hash is kept.
pub async fn issue(
    app: &AppState,
    request: CreateCredential,
    by: &str,
    address: &str,
) -> Result<(super::Listed, String, Option<String>), ApiError> {
    let bad = |m: &str| ApiError::BadRequest(m.to_string());
    let kind = Kind::parse(&request.kind).ok_or_else(|| bad("kind: one of link, wall, ingest"))?;
    let label = request.label.trim().to_string();
    if label.is_empty() || label.chars().count() > 64 || label.chars().any(char::is_control) {
        return Err(bad("label: 1 to 64 characters, no control characters"));
    }
    let now = time::now_beijing_micros();
    let (scope, expires_at) = match kind {
        Kind::Link => {
            let scope = request.scope.as_deref().unwrap_or("city");
            let scope = Scope::parse(scope, app.access.region())
                .ok_or_else(|| bad("scope: \"city\" or one of the region's district codes"))?;
            let hours = request.expires_in_hours.unwrap_or(LINK_DEFAULT_HOURS);
            if !(1..=LINK_MAX_HOURS).contains(&hours) {
                return Err(bad("expires_in_hours: 1 to 720 (30 days)"));
            }
            (
                Some(scope.code(app.access.region())),
                Some(now + hours * 3_600 * 1_000_000),
            )
        }
        Kind::Wall | Kind::Ingest => {
            if request.scope.is_some() || request.expires_in_hours.is_some() {
                return Err(bad(
                    "scope, expires_in_hours: only share links have them (walls and ingest keys last until revoked)",
                ));
            }
            if kind == Kind::Ingest {
                let valid = label.len() <= 40
                    && label.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                    });
                if !valid {
                    return Err(bad("label: an ingest key's name is 1 to 40 of a-z 0-9 _ -"));
                }
                if app.access.ingest_name_taken(&label) {
                    return Err(ApiError::Conflict(format!(
                        "label: an ingest key named {label:?} exists"
                    )));
                }
            }
            (None, None)
        }
    };
    let token = random_secret();
    let row = CredentialRow {
        id: short_id(),
        kind: kind.code().into(),
        label,
        scope,
        token_hash: hex(&hash(&token)),
        created_at: now,
        created_by: by.to_string(),
        expires_at,
        revoked_at: None,
        revoked_by: None,
        last_used_at: None,
        last_used_from: None,
    };
    app.store.add_credential(row.clone()).await?;
    let id = row.id.clone();
    let detail = format!(
        "{} {:?}{}",
        row.kind,
        row.label,
        row.scope
            .as_ref()
            .map(|s| format!(" scope {s}"))
            .unwrap_or_default()
    );
    app.access.add_credential(row);
    audit(
        &app.store,
        by,
        "credential_created",
        Some(&id),
        Some(address),
        Some(detail),
    )
    .await;
    let listed = app.access.get(&id, now).expect("just added");
    let url = match kind {
        Kind::Link => Some(format!("/v/{token}")),
        Kind::Wall => Some(format!("/?token={token}")),
        Kind::Ingest => None,
    };
    Ok((listed, token, url))
}

pub async fn revoke_credential(
    State(app): State<AppState>,
    StaffWrite(p, address): StaffWrite,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let now = time::now_beijing_micros();
    let (listed, was_active) = app
        .access
        .revoke(&id, &p.actor, now)
        .ok_or_else(|| ApiError::NotFound(format!("id: no credential {id:?}")))?;
    if was_active {
        app.store
            .revoke_credential(id.clone(), p.actor.clone(), now)
            .await?;
        let detail = format!("{} {:?}", listed.kind, listed.label);
        audit(
            &app.store,
            &p.actor,
            "credential_revoked",
            Some(&id),
            Some(&address),
            Some(detail),
        )
        .await;
    }
    Ok(Json(listed).into_response())
}

pub async fn list_users(State(app): State<AppState>, Staff(_): Staff) -> Response {
    Json(serde_json::json!({ "users": app.access.user_names() })).into_response()
}

pub async fn create_user(
    State(app): State<AppState>,
    StaffWrite(p, address): StaffWrite,
    Json(request): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    if app.access.password_hash(request.name.trim()).is_some() {
        return Err(ApiError::Conflict(format!(
            "name: a staff account {:?} exists",
            request.name.trim()
        )));
    }
    let (name, password, by) = (request.name, request.password, p.actor.clone());
    let user = tokio::task::spawn_blocking(move || new_user(&name, &password, &by))
        .await
        .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))?
        .map_err(ApiError::BadRequest)?;
    app.store.add_user(user.clone()).await?;
    app.access.add_user(&user);
    audit(
        &app.store,
        &p.actor,
        "user_created",
        Some(&user.name),
        Some(&address),
        None,
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"name": user.name})),
    )
        .into_response())
}

/// A new random secret: 32 bytes from the OS-seeded CSPRNG, hex.
pub fn random_secret() -> String {
    random_hex::<32>()
}

/// A short public id for the console (not a secret).
fn short_id() -> String {
    random_hex::<6>()
}

fn random_hex<const N: usize>() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}
