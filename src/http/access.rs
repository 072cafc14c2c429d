//! The HTTP side of access: who a request comes from (extractors), the
//! console login, and the credentials and staff APIs (docs/api.md).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::access::limit::Refused;
use crate::access::{
    Kind, LINK_DEFAULT_HOURS, LINK_MAX_HOURS, Principal, Role, SESSION_MICROS, Scope, StaffRole,
    hash, hex,
};
use crate::store::access::{AuditRow, CredentialRow, SessionRow, UserRow};
use crate::store::{Store, StoreError};
use crate::time;

/// The session cookie's name over plain HTTP...
pub const SESSION_COOKIE: &str = "weibing_session";
/// ...and with `--secure-cookies`: the `__Host-` prefix makes browsers take
/// it only if it is Secure, for Path=/ and without Domain (so no other host
/// of the site can set or shadow it).
pub const SECURE_SESSION_COOKIE: &str = "__Host-weibing_session";
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
    #[error("{0}")]
    TooMany(Refused),
    #[error("{0}")]
    Forbidden(String),
    #[error(
        "?token= takes only share links and wall tokens: send the admin token as Authorization: Bearer"
    )]
    TokenInQuery,
    #[error("the store could not do this now; try again")]
    Store(#[from] StoreError),
    /// A failure of ours; the detail is logged, not shown.
    #[error("the server could not do this; the details are in its log")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::Unauthorized | ApiError::WrongPassword | ApiError::TokenInQuery => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Csrf | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
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
            ApiError::Unauthorized | ApiError::TokenInQuery => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::TooMany(refused) => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(refused.retry_after()),
                );
            }
            _ => {}
        }
        response
    }
}

/// A server state that names the proxies whose `X-Forwarded-For` is
/// believed (a primary's and an edge's).
pub trait Proxies {
    fn trusted_proxies(&self) -> &[IpAddr];
}

impl Proxies for AppState {
    fn trusted_proxies(&self) -> &[IpAddr] {
        &self.trusted_proxies
    }
}

/// The caller's address: the TCP peer, or, when the peer is a proxy named
/// by `--trusted-proxy`, what `X-Forwarded-For` says (see [`client_address`]).
pub fn address(app: &impl Proxies, parts: &Parts) -> String {
    let Some(peer) = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return "-".to_string();
    };
    let forwarded = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    client_address(peer, forwarded, app.trusted_proxies()).to_string()
}

/// Who sent a request that reached us from `peer` with these
/// `X-Forwarded-For` headers (in order), believing only `trusted` proxies.
///
/// Each proxy appends the address it received the request from, so the
/// hops are read from the last back: while the hop that handed the request
/// on is a trusted proxy, the hop before it is believed. The first address
/// that is not a trusted proxy is the caller. A hop that is not an IP
/// address (a port is allowed) stops the walk: the caller is then the last
/// trusted proxy. Without a trusted peer the header is not read at all.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted: &[IpAddr],
) -> IpAddr {
    let hops: Vec<&str> = forwarded.flat_map(|v| v.split(',')).collect();
    let mut caller = peer;
    for hop in hops.iter().rev() {
        if !trusted.contains(&caller) {
            break;
        }
        match parse_hop(hop.trim()) {
            Some(ip) => caller = ip,
            None => break,
        }
    }
    caller
}

/// An `X-Forwarded-For` hop: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
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

/// The session cookie's name on this server.
pub fn cookie_name(app: &AppState) -> &'static str {
    if app.secure_cookies {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

fn session_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
        .filter(|t| !t.is_empty())
}

/// Who is reading: the admin token (`Authorization: Bearer` only), a link or
/// a wall token (bearer or `?token=`), or a console session (cookie). A use
/// of a link is recorded in passing. Tokens that open nothing are counted
/// per address ([`crate::access::limit::TOKENS`]); past the limit every token from
/// that address is refused (429) until the window passes.
pub async fn who(app: &AppState, parts: &Parts) -> Result<Principal, ApiError> {
    let now = time::now_beijing_micros();
    if let Some(found) = token_reader(&app.access, app, parts, now) {
        let (principal, used) = found?;
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
    let principal = session_cookie(&parts.headers, cookie_name(app))
        .and_then(|t| app.access.session(t, now))
        .ok_or(ApiError::Unauthorized)?;
    if is_websocket(&parts.headers) && !same_origin(app, parts) {
        return Err(ApiError::Forbidden(
            "Origin: a console session's websocket opens only from this server's own pages".into(),
        ));
    }
    Ok(principal)
}

/// Who a bearer or `?token=` token is (None: the request has no token),
/// under the limit on tokens that open nothing; the use to record, if due.
pub fn token_reader(
    access: &crate::access::Access,
    proxies: &impl Proxies,
    parts: &Parts,
    now: i64,
) -> Option<Result<(Principal, Option<crate::access::Use>), ApiError>> {
    let (token, in_query) = match bearer(&parts.headers) {
        Some(t) => (t.to_string(), false),
        None => (query_token(&parts.uri)?, true),
    };
    let address = address(proxies, parts);
    let clock = tokio::time::Instant::now();
    if let Some(wait) = access.limiter.token_wait(&address, clock) {
        return Some(Err(ApiError::TooMany(Refused::Tokens(wait))));
    }
    // Staff's token never travels in a URL (logs, history, Referer).
    if in_query && access.is_admin_token(&token) {
        return Some(Err(ApiError::TokenInQuery));
    }
    let found = access.reader(&token, &address, now);
    if found.is_none() {
        access.limiter.token_failed(&address, clock);
    }
    Some(found.ok_or(ApiError::Unauthorized))
}

fn is_websocket(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Whether the request's `Origin` (if it sent one) names this server: its
/// host name is the one the request was sent to (`Host`, or from a trusted
/// proxy `X-Forwarded-Host`). Ports are not compared: a proxy may pass the
/// host without the port it listens on.
fn same_origin(app: &AppState, parts: &Parts) -> bool {
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return true;
    };
    let from_proxy = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| app.trusted_proxies.contains(&c.0.ip()));
    let host = from_proxy
        .then(|| parts.headers.get("x-forwarded-host"))
        .flatten()
        .or_else(|| parts.headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .map(|h| host_name(h.split(',').next().unwrap_or("").trim()));
    let origin = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, authority)| host_name(authority));
    matches!((origin, host), (Some(o), Some(h)) if !o.is_empty() && o.eq_ignore_ascii_case(h))
}

/// The host name of an authority (`host`, `host:port`, `[v6]:port`).
fn host_name(authority: &str) -> &str {
    let authority = authority.split('/').next().unwrap_or("");
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
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

/// An admin (an admin account's session or the admin token), for reads.
pub struct Admin(pub Principal);

/// An admin, for writes (a session also sends its CSRF token).
pub struct AdminWrite(pub Principal, pub String);

fn admin_only(p: Principal) -> Result<Principal, ApiError> {
    match p.staff_role {
        Some(StaffRole::Admin) => Ok(p),
        _ => Err(ApiError::Forbidden(
            "staff accounts are managed by admins only: this account's role is staff".into(),
        )),
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let Staff(p) = Staff::from_request_parts(parts, app).await?;
        admin_only(p).map(Admin)
    }
}

impl FromRequestParts<AppState> for AdminWrite {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let StaffWrite(p, address) = StaffWrite::from_request_parts(parts, app).await?;
        admin_only(p).map(|p| AdminWrite(p, address))
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
    if crate::access::same(expected.as_bytes(), sent.as_bytes()) {
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

/// A staff account with role admin, checked for the console's rules (the
/// first account, and `weibing user add`).
pub fn new_user(name: &str, password: &str, by: &str) -> Result<UserRow, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 40 || name.chars().any(char::is_control) {
        return Err("name: 1 to 40 characters, no control characters".into());
    }
    check_password("password", password)?;
    Ok(UserRow {
        name: name.to_string(),
        password_hash: hash_password(password),
        created_at: time::now_beijing_micros(),
        created_by: by.to_string(),
        role: StaffRole::Admin.code().into(),
        disabled_at: None,
        disabled_by: None,
    })
}

fn check_password(field: &str, password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("{field}: at least {MIN_PASSWORD_CHARS} characters"));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    name: String,
    password: String,
}

/// A caller's address, for handlers that take no principal.
pub struct Address(pub String);

impl<S: Proxies + Send + Sync> FromRequestParts<S> for Address {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, app: &S) -> Result<Self, Self::Rejection> {
        Ok(Address(address(app, parts)))
    }
}

/// Checks `password` for the account `name` (which may not exist) under the
/// limits: the attempt is counted before the check and given back only if
/// the password is right. Refusals are audited once per address and window.
async fn check_sign_in(
    app: &AppState,
    address: &str,
    name: &str,
    password: String,
) -> Result<Option<UserRow>, ApiError> {
    let clock = tokio::time::Instant::now();
    let (attempt, permit) = match app.access.limiter.begin(address, name, clock) {
        Ok(begun) => begun,
        Err(refused) => {
            if app.access.limiter.first_refusal(address, clock) {
                let detail = format!(
                    "{}; further refusals from this address are not recorded for 15 minutes",
                    refused.code()
                );
                audit(
                    &app.store,
                    &shown(name),
                    "login_refused",
                    None,
                    Some(address),
                    Some(detail),
                )
                .await;
            }
            return Err(ApiError::TooMany(refused));
        }
    };
    let user = app.access.user(name);
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    // argon2 is slow on purpose: off the async workers, holding the permit
    // until it ends (even if the client goes away). An unknown name is
    // checked against a throwaway hash so it takes as long as a known one.
    let ok = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        match stored {
            Some(phc) => verify_password(&password, &phc),
            None => {
                let _ = verify_password(&password, &DUMMY_HASH);
                false
            }
        }
    })
    .await
    .unwrap_or(false);
    if ok {
        app.access.limiter.succeeded(attempt);
        Ok(user)
    } else {
        app.access
            .limiter
            .failed(attempt, tokio::time::Instant::now());
        Ok(None)
    }
}

/// A name as given, for the trail: bounded, control characters shown as such.
fn shown(name: &str) -> String {
    name.chars()
        .take(64)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

pub async fn login(
    State(app): State<AppState>,
    Address(address): Address,
    Json(request): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let tried = shown(&request.name);
    let checked = check_sign_in(&app, &address, &request.name, request.password).await?;
    let Some(user) = checked else {
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
    };
    if user.disabled_at.is_some() {
        audit(
            &app.store,
            &user.name,
            "login_failed",
            None,
            Some(&address),
            Some("account disabled".into()),
        )
        .await;
        return Err(ApiError::Forbidden(
            "this staff account is disabled: ask an admin".into(),
        ));
    }
    let token = random_secret();
    let created_at = time::now_beijing_micros();
    let row = SessionRow {
        token_hash: hex(&hash(&token)),
        name: user.name.clone(),
        csrf: random_secret(),
        created_at,
        expires_at: created_at + SESSION_MICROS,
    };
    app.store.add_session(row.clone()).await?;
    app.access.add_session(&row);
    audit(&app.store, &row.name, "login", None, Some(&address), None).await;
    let cookie = format!(
        "{}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        cookie_name(&app),
        SESSION_MICROS / 1_000_000,
        if app.secure_cookies { "; Secure" } else { "" }
    );
    let role = StaffRole::parse(&user.role).unwrap_or(StaffRole::Staff);
    let mut response = Json(serde_json::json!({
        "name": row.name, "role": role.code(), "csrf": row.csrf,
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

/// Ends the caller's session: in the store first, then in memory (a failed
/// store write leaves the session as it was, and says so).
pub async fn logout(
    State(app): State<AppState>,
    StaffWrite(p, address): StaffWrite,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = session_cookie(&headers, cookie_name(&app)) {
        let _writing = app.access.writes.lock().await;
        if let Some(h) = app.access.session_hash(token) {
            app.store.delete_session(h).await?;
            app.access.end_session(token);
        }
    }
    audit(&app.store, &p.actor, "logout", None, Some(&address), None).await;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let cookie = format!(
        "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        cookie_name(&app),
        if app.secure_cookies { "; Secure" } else { "" }
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("ASCII"),
    );
    Ok(response)
}

fn staff_role_code(p: &Principal) -> &'static str {
    p.staff_role.unwrap_or(StaffRole::Staff).code()
}

pub async fn session(Staff(p): Staff) -> Result<Response, ApiError> {
    let role = staff_role_code(&p);
    let csrf = p.csrf.ok_or(ApiError::Unauthorized)?;
    Ok(Json(serde_json::json!({"name": p.actor, "role": role, "csrf": csrf})).into_response())
}

pub async fn me(State(app): State<AppState>, Reader(p): Reader) -> Response {
    me_answer(&app.access, &p)
}

/// `GET /api/v1/me`'s answer for a reader (a primary's and an edge's).
pub fn me_answer(access: &crate::access::Access, p: &Principal) -> Response {
    let now = time::now_beijing_micros();
    let listed = p.credential.as_deref().and_then(|id| access.get(id, now));
    let body = match (p.role, listed) {
        (Role::Admin, _) => serde_json::json!({"role": staff_role_code(p), "name": p.actor}),
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
) -> Result<(crate::access::Listed, String, Option<String>), ApiError> {
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

/// Revokes a credential: in the store first, then in memory (its sockets
/// close then). A failed store write leaves it working, and says so.
pub async fn revoke_credential(
    State(app): State<AppState>,
    StaffWrite(p, address): StaffWrite,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let now = time::now_beijing_micros();
    let _writing = app.access.writes.lock().await;
    let listed = app
        .access
        .get(&id, now)
        .ok_or_else(|| ApiError::NotFound(format!("id: no credential {id:?}")))?;
    if listed.revoked_at.is_some() {
        return Ok(Json(listed).into_response());
    }
    app.store
        .revoke_credential(id.clone(), p.actor.clone(), now)
        .await?;
    let (listed, _) = app
        .access
        .revoke(&id, &p.actor, now)
        .expect("listed above, never removed");
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
    Ok(Json(listed).into_response())
}

pub async fn list_users(State(app): State<AppState>, Admin(_): Admin) -> Response {
    let now = time::now_beijing_micros();
    Json(serde_json::json!({ "users": app.access.users(now) })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    name: String,
    password: String,
    role: Option<String>,
}

pub async fn create_user(
    State(app): State<AppState>,
    AdminWrite(p, address): AdminWrite,
    Json(request): Json<NewUserRequest>,
) -> Result<Response, ApiError> {
    let role = match request.role.as_deref() {
        None => StaffRole::Staff,
        Some(r) => StaffRole::parse(r)
            .ok_or_else(|| ApiError::BadRequest("role: admin or staff".into()))?,
    };
    let (name, password, by) = (request.name, request.password, p.actor.clone());
    let mut user = tokio::task::spawn_blocking(move || new_user(&name, &password, &by))
        .await
        .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))?
        .map_err(ApiError::BadRequest)?;
    user.role = role.code().into();
    let _writing = app.access.writes.lock().await;
    if app.access.user(&user.name).is_some() {
        return Err(ApiError::Conflict(format!(
            "name: a staff account {:?} exists",
            user.name
        )));
    }
    app.store.add_user(user.clone()).await?;
    app.access.add_user(&user);
    audit(
        &app.store,
        &p.actor,
        "user_created",
        Some(&user.name),
        Some(&address),
        Some(format!("role {}", user.role)),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"name": user.name, "role": user.role})),
    )
        .into_response())
}

fn no_user(name: &str) -> ApiError {
    ApiError::NotFound(format!("name: no staff account {name:?}"))
}

fn listed_user(app: &AppState, name: &str) -> Response {
    let now = time::now_beijing_micros();
    let listed = app.access.users(now).into_iter().find(|u| u.name == name);
    Json(listed).into_response()
}

/// Disables an account: it cannot sign in, and its sessions end (in the
/// store, then in memory). The last enabled admin account is kept.
pub async fn disable_user(
    State(app): State<AppState>,
    AdminWrite(p, address): AdminWrite,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let _writing = app.access.writes.lock().await;
    let user = app.access.user(&name).ok_or_else(|| no_user(&name))?;
    if user.disabled_at.is_none() {
        if user.role == StaffRole::Admin.code() && app.access.other_enabled_admins(&name) == 0 {
            return Err(ApiError::Conflict(format!(
                "name: {name:?} is the last enabled admin account; make another admin first"
            )));
        }
        let disabled = (time::now_beijing_micros(), p.actor.clone());
        app.store
            .set_user_disabled(name.clone(), Some(disabled.clone()))
            .await?;
        app.access.set_disabled(&name, Some(disabled));
        audit(
            &app.store,
            &p.actor,
            "user_disabled",
            Some(&name),
            Some(&address),
            None,
        )
        .await;
    }
    Ok(listed_user(&app, &name))
}

pub async fn enable_user(
    State(app): State<AppState>,
    AdminWrite(p, address): AdminWrite,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let _writing = app.access.writes.lock().await;
    let user = app.access.user(&name).ok_or_else(|| no_user(&name))?;
    if user.disabled_at.is_some() {
        app.store.set_user_disabled(name.clone(), None).await?;
        app.access.set_disabled(&name, None);
        audit(
            &app.store,
            &p.actor,
            "user_enabled",
            Some(&name),
            Some(&address),
            None,
        )
        .await;
    }
    Ok(listed_user(&app, &name))
}

/// Ends every session of an account (in the store, then in memory).
pub async fn end_user_sessions(
    State(app): State<AppState>,
    AdminWrite(p, address): AdminWrite,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let _writing = app.access.writes.lock().await;
    app.access.user(&name).ok_or_else(|| no_user(&name))?;
    app.store.delete_sessions_of(name.clone()).await?;
    let ended = app.access.end_sessions(&name);
    audit(
        &app.store,
        &p.actor,
        "user_sessions_ended",
        Some(&name),
        Some(&address),
        Some(format!("{ended} sessions")),
    )
    .await;
    Ok(Json(serde_json::json!({"name": name, "ended": ended})).into_response())
}

/// Clears the lock that failed sign-ins put on a name.
pub async fn unlock_user(
    State(app): State<AppState>,
    AdminWrite(p, address): AdminWrite,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    app.access.user(&name).ok_or_else(|| no_user(&name))?;
    let was_locked = app
        .access
        .limiter
        .unlock(&name, tokio::time::Instant::now());
    audit(
        &app.store,
        &p.actor,
        "user_unlocked",
        Some(&name),
        Some(&address),
        Some(
            if was_locked {
                "was locked"
            } else {
                "was not locked"
            }
            .into(),
        ),
    )
    .await;
    Ok(Json(serde_json::json!({"name": name, "was_locked": was_locked})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// A signed-in account changes its own password. The current password is
/// checked under the sign-in limits; the account's other sessions end.
pub async fn change_password(
    State(app): State<AppState>,
    StaffWrite(p, address): StaffWrite,
    Json(request): Json<PasswordChange>,
) -> Result<Response, ApiError> {
    let Some(session) = p.session.clone() else {
        return Err(ApiError::BadRequest(
            "the admin token has no password: sign in to the console with a staff account".into(),
        ));
    };
    check_password("new_password", &request.new_password).map_err(ApiError::BadRequest)?;
    if request.new_password == request.current_password {
        return Err(ApiError::BadRequest(
            "new_password: the same as the current one".into(),
        ));
    }
    let checked = check_sign_in(&app, &address, &p.actor, request.current_password).await?;
    if checked.is_none() {
        audit(
            &app.store,
            &p.actor,
            "password_change_failed",
            Some(&p.actor),
            Some(&address),
            Some("current password wrong".into()),
        )
        .await;
        return Err(ApiError::BadRequest(
            "current_password: not this account's password".into(),
        ));
    }
    let new_password = request.new_password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&new_password))
        .await
        .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))?;
    let _writing = app.access.writes.lock().await;
    app.store
        .set_password(
            p.actor.clone(),
            password_hash.clone(),
            Some(session.clone()),
        )
        .await?;
    let ended = app
        .access
        .set_password(&p.actor, &password_hash, Some(&session));
    audit(
        &app.store,
        &p.actor,
        "password_changed",
        Some(&p.actor),
        Some(&address),
        Some(format!("{ended} other sessions ended")),
    )
    .await;
    Ok(Json(serde_json::json!({"name": p.actor, "other_sessions_ended": ended})).into_response())
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
