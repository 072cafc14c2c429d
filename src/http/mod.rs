//! HTTP: what every handler can reach ([`AppState`]), the routes, and the
//! handlers, each calling into the stages below (ingest, store, publish,
//! access). The layer on top: nothing below it imports it.

pub mod access;
pub mod console;
pub mod export;
pub mod ingest;
pub mod review;
pub mod wall;
pub mod ws;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use tokio::sync::Notify;

use self::access::{Reader, Staff};
use crate::aggregate::state::Wall;
use crate::metrics::Metrics;
use crate::publish::Hubs;
use crate::region::Region;
use crate::store::Store;
use crate::{settings, time, web};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub hubs: Arc<Hubs>,
    pub store: Store,
    pub region: Arc<Region>,
    pub access: Arc<crate::access::Access>,
    pub settings: settings::Shared,
    /// Add `Secure` to the session cookie (behind an HTTPS proxy).
    pub secure_cookies: bool,
    /// Peers whose `X-Forwarded-For` names the caller (`--trusted-proxy`).
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    /// Open websockets per address, bounded (`--max-sockets-per-address`).
    pub sockets: Arc<crate::publish::limit::SocketLimit>,
    pub wall: Arc<Mutex<Wall>>,
    /// Changes of the wall per credential, bounded (`POST /api/v1/wall`).
    pub wall_posts: Arc<crate::wall::PostLimit>,
    /// Wakes the tick early (the launch moment should not wait for it).
    pub wake: Arc<Notify>,
    /// What one ingest key can make the server hold.
    pub ingest_bounds: crate::ingest::bounds::Bounds,
    /// Rejected records each key has had kept today.
    pub rejected_allowance: Arc<crate::ingest::bounds::Allowance>,
    /// The team names of each district, bounded.
    pub teams: Arc<crate::ingest::teams::Teams>,
    /// The team registry: the region's file with staff's edits over it.
    pub registry: crate::region::Registry,
    /// The open items of 一帐三单 the tick raises overdue alerts for.
    pub open_items: crate::aggregate::alerts::OpenItems,
    pub metrics: Arc<Metrics>,
    pub tick: std::time::Duration,
    /// The NATS bus's client, when the figures are relayed to edges (`--nats`).
    pub bus: Option<async_nats::Client>,
}

pub fn app(state: AppState) -> Router {
    use self::access as a;
    Router::new()
        .route("/", get(web::index))
        .route("/console", get(web::console))
        .route("/console/review", get(web::review))
        .route("/v/{token}", get(web::view))
        .route("/assets/{*path}", get(web::static_file))
        .route("/ws", get(ws::upgrade))
        .route("/api/v1/snapshot", get(snapshot))
        .route("/api/v1/me", get(a::me))
        .route("/api/v1/events", post(ingest::post_events))
        .route("/api/v1/wall", post(wall::post_wall))
        .route("/api/v1/login", post(a::login))
        .route("/api/v1/logout", post(a::logout))
        .route("/api/v1/session", get(a::session))
        .route(
            "/api/v1/credentials",
            get(a::list_credentials).post(a::create_credential),
        )
        .route(
            "/api/v1/credentials/{id}/revoke",
            post(a::revoke_credential),
        )
        .route("/api/v1/users", get(a::list_users).post(a::create_user))
        .route("/api/v1/users/{name}/disable", post(a::disable_user))
        .route("/api/v1/users/{name}/enable", post(a::enable_user))
        .route(
            "/api/v1/users/{name}/end-sessions",
            post(a::end_user_sessions),
        )
        .route("/api/v1/users/{name}/unlock", post(a::unlock_user))
        .route("/api/v1/password", post(a::change_password))
        .route("/api/v1/ingest", get(console::ingest_health))
        .route("/api/v1/rejected", get(console::rejected))
        .route("/api/v1/audit", get(console::audit))
        .route("/api/v1/audit.csv", get(console::audit_csv))
        .route(
            "/api/v1/settings",
            get(console::get_settings).put(console::put_settings),
        )
        .route("/api/v1/export", get(export::export))
        .route("/api/v1/review", get(review::get_review))
        .route("/api/v1/review/close", post(review::close))
        .route("/api/v1/review/reopen", post(review::reopen))
        .route("/api/v1/review/revisions", get(review::revisions))
        .route("/api/v1/ledger", get(review::ledger).post(review::add_item))
        .route("/api/v1/teams", get(review::teams))
        .route("/api/v1/teams/{id}", put(review::save_team))
        .route("/api/v1/ledger/{id}/done", post(review::item_done))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(get(web::static_file))
        .layer(axum::middleware::map_response_with_state(
            state.secure_cookies,
            security_headers,
        ))
        .with_state(state)
}

/// Every answer: no inline scripts, no sniffing, no referrer (tokens live in
/// URLs), no framing; nothing but hashed assets is cached. Behind HTTPS
/// (`--secure-cookies`), browsers are told to use nothing else (HSTS).
pub async fn security_headers(
    axum::extract::State(https): axum::extract::State<bool>,
    mut response: Response,
) -> Response {
    let headers = response.headers_mut();
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    let set = |h: &mut axum::http::HeaderMap, name, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'",
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}

async fn snapshot(
    axum::extract::State(app): axum::extract::State<AppState>,
    Reader(who): Reader,
) -> Response {
    snapshot_answer(app.hubs.of(who.role))
}

/// `GET /api/v1/snapshot`'s answer: the hub's snapshot message (a
/// primary's and an edge's).
pub fn snapshot_answer(hub: &crate::publish::Hub) -> Response {
    let (_, text) = hub.snapshot();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text.as_str().to_string(),
    )
        .into_response()
}

/// Ready when the store takes commands and the tick ran within three ticks.
async fn readyz(
    axum::extract::State(app): axum::extract::State<AppState>,
) -> axum::response::Response {
    let age_ms = (time::now_beijing_micros() - app.metrics.last_tick()) / 1000;
    let limit_ms = 3 * app.tick.as_millis() as i64 + 1000;
    let store = app.store.is_alive();
    let ready = store && age_ms <= limit_ms;
    let status = if ready {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "ready": ready,
        "store": if store { "open" } else { "stopped" },
        "last_tick_ms_ago": age_ms,
        "tick_ms": app.tick.as_millis() as u64,
        "epoch": app.hubs.epoch(),
        "bus": app.bus.as_ref().map(|c| crate::publish::bus::state_code(c.connection_state())),
    });
    (status, axum::Json(body)).into_response()
}

async fn metrics(
    axum::extract::State(app): axum::extract::State<AppState>,
    _: Staff,
) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(
            app.hubs.clients(),
            app.store.memory_bytes().await.ok(),
            crate::store::wal_bytes(app.metrics.database()),
        ),
    )
}
