//! An edge: a read-only node that serves the wall, the leaders' view and
//! their websockets from what its primary relays over NATS (docs/scale.md).
//!
//! It holds no database and no person data: a mirror hub per viewer
//! audience ([`follow`]), the links and wall tokens as hashes. Its sockets
//! get the primary's own bytes, with the same epoch and seq. Writes, sign-in
//! and the console answer 421 with the primary's address.

pub mod follow;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, middleware};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::access::{Access, Principal, Role};
use crate::config::EdgeConfig;
use crate::http::access::{Address, ApiError, Proxies};
use crate::http::ws::WsQuery;
use crate::metrics::EdgeMetrics;
use crate::publish::Hubs;
use crate::publish::bus::{self, Names};
use crate::publish::limit::{Bounds, SocketLimit};
use crate::region::Region;
use crate::{time, web};
use follow::Link;

/// What the edge's handlers reach.
#[derive(Clone)]
pub struct EdgeState {
    pub hubs: Arc<Hubs>,
    pub access: Arc<Access>,
    pub link: Arc<Link>,
    pub metrics: Arc<EdgeMetrics>,
    trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    sockets: Arc<SocketLimit>,
}

impl Proxies for EdgeState {
    fn trusted_proxies(&self) -> &[std::net::IpAddr] {
        &self.trusted_proxies
    }
}

/// A link or wall token (the admin token reads only `/metrics` here).
struct EdgeReader(Principal);

impl FromRequestParts<EdgeState> for EdgeReader {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, edge: &EdgeState) -> Result<Self, ApiError> {
        let now = time::now_beijing_micros();
        // A use is not recorded here: the primary keeps that record.
        let (principal, _) = crate::http::access::token_reader(&edge.access, edge, parts, now)
            .ok_or(ApiError::Unauthorized)??;
        Ok(EdgeReader(principal))
    }
}

pub fn app(edge: EdgeState, secure: bool) -> Router {
    Router::new()
        .route("/", get(web::index))
        .route("/v/{token}", get(web::view))
        .route("/assets/{*path}", get(web::static_file))
        .route("/ws", get(ws))
        .route("/api/v1/snapshot", get(snapshot))
        .route("/api/v1/me", get(me))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(fallback)
        .layer(middleware::map_response_with_state(
            secure,
            crate::http::security_headers,
        ))
        .with_state(edge)
}

/// Why an edge does not serve a reader's figures.
enum Unserved {
    /// Staff read the primary.
    Staff,
    /// No figures from the primary yet (or of another region).
    NotYet,
}

impl Unserved {
    fn answer(self, edge: &EdgeState) -> Response {
        match self {
            Unserved::Staff => elsewhere(edge, "staff's figures"),
            Unserved::NotYet => {
                let error = "this edge has no figures from its primary yet; try again in a moment";
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "1")],
                    Json(serde_json::json!({ "error": error })),
                )
                    .into_response()
            }
        }
    }
}

/// The audience's hub, or why the edge cannot serve it.
fn hub_of(edge: &EdgeState, role: Role) -> Result<&crate::publish::Hub, Unserved> {
    if role == Role::Admin {
        return Err(Unserved::Staff);
    }
    let hub = edge.hubs.of(role);
    let wrong_region = edge.link.wrong_region.load(Ordering::Relaxed);
    if !hub.has_state() || wrong_region {
        return Err(Unserved::NotYet);
    }
    Ok(hub)
}

async fn ws(
    socket: WebSocketUpgrade,
    State(edge): State<EdgeState>,
    Address(address): Address,
    EdgeReader(who): EdgeReader,
    Query(query): Query<WsQuery>,
) -> Response {
    if let Err(unserved) = hub_of(&edge, who.role) {
        return unserved.answer(&edge);
    }
    crate::http::ws::open(
        socket,
        edge.hubs.clone(),
        &edge.sockets,
        &address,
        who,
        query,
    )
}

async fn snapshot(State(edge): State<EdgeState>, EdgeReader(who): EdgeReader) -> Response {
    match hub_of(&edge, who.role) {
        Ok(hub) => crate::http::snapshot_answer(hub),
        Err(unserved) => unserved.answer(&edge),
    }
}

async fn me(State(edge): State<EdgeState>, EdgeReader(who): EdgeReader) -> Response {
    crate::http::access::me_answer(&edge.access, &who)
}

/// Ready when every audience has its figures (a stale edge is still ready:
/// it serves the last ones and says so); the facts beside.
async fn readyz(State(edge): State<EdgeState>) -> Response {
    let audiences = edge.hubs.districts.len() + 1;
    let with_state = edge.hubs.viewers().filter(|h| h.has_state()).count();
    let wrong_region = edge.link.wrong_region.load(Ordering::Relaxed);
    let ready = with_state == audiences && !wrong_region;
    let silent = edge.link.silent_ms();
    let tick_ms = edge.link.tick_ms();
    let body = serde_json::json!({
        "ready": ready,
        "role": "edge",
        "bus": edge.link.bus_state(),
        "audiences": audiences,
        "audiences_with_figures": with_state,
        "stale": silent.is_some_and(|s| s >= edge.link.stale_after_ms()),
        "last_message_ms_ago": silent,
        "tick_ms": tick_ms,
        "epoch": edge.hubs.city.epoch(),
        "primary": edge.link.primary_url(),
        "wrong_region": wrong_region,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// `/metrics`, for the admin token the edge was started with.
async fn metrics(State(edge): State<EdgeState>, headers: axum::http::HeaderMap) -> Response {
    let allowed =
        crate::http::access::bearer(&headers).is_some_and(|t| edge.access.is_admin_token(t));
    if !allowed {
        return ApiError::Unauthorized.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        edge.metrics.render(edge.hubs.clients()),
    )
        .into_response()
}

/// Pages and files are served; every other request (writes, sign-in, the
/// console, staff's API) belongs to the primary.
async fn fallback(State(edge): State<EdgeState>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let primary_only = path.starts_with("/api/") || path.starts_with("/console");
    if method == Method::GET && !primary_only {
        return web::static_file(uri).await;
    }
    elsewhere(&edge, &format!("{method} {path}"))
}

/// 421: this is an edge; the primary (named when known) does it.
fn elsewhere(edge: &EdgeState, what: &str) -> Response {
    let primary = edge.link.primary_url();
    let error = match &primary {
        Some(url) => format!(
            "{what}: this is a read-only edge; the primary at {url} takes writes, sign-in, staff and the console"
        ),
        None => format!(
            "{what}: this is a read-only edge; writes, sign-in, staff and the console are on the primary"
        ),
    };
    (
        StatusCode::MISDIRECTED_REQUEST,
        Json(serde_json::json!({ "error": error, "primary": primary })),
    )
        .into_response()
}

/// A started edge.
pub struct RunningEdge {
    pub addr: SocketAddr,
    pub state: EdgeState,
    shutdown: watch::Sender<bool>,
    serve: JoinHandle<std::io::Result<()>>,
    follow: JoinHandle<()>,
}

/// Connects to the bus (in the background: an edge starts without it and
/// serves once its primary's figures arrive), binds and serves.
pub async fn start(config: EdgeConfig) -> anyhow::Result<RunningEdge> {
    crate::access::check_secrets(config.admin_token.as_deref(), None)?;
    let region = Arc::new(Region::load(&config.region)?);
    let names = Names::new(&config.region);
    let metrics = Arc::new(EdgeMetrics::default());
    let hubs = Arc::new(Hubs::mirrors(
        region.districts.len(),
        metrics.fan_out.clone(),
    ));
    let access = Arc::new(Access::new(
        region.clone(),
        config.admin_token.clone(),
        None,
        Default::default(),
    ));
    let link = Arc::new(Link::new(bus::audiences(&region).len()));
    let client = bus::client(&config.nats, "weibing-edge").await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let state = EdgeState {
        hubs,
        access,
        link,
        metrics: metrics.clone(),
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        sockets: SocketLimit::new(Bounds {
            per_address: config.max_sockets_per_address,
            per_credential: config.max_sockets_per_link,
            total: config.max_sockets,
            resyncs_per_minute: config.resyncs_per_minute,
        }),
    };
    let follow = tokio::spawn(follow::run(
        client,
        names,
        region,
        state.clone(),
        shutdown_rx.clone(),
    ));
    let serve = tokio::spawn(crate::serving::serve(
        listener,
        app(state.clone(), config.secure_cookies),
        crate::serving::Limits {
            max_connections: config.max_connections,
            header_timeout: config.header_timeout,
        },
        metrics.connections.clone(),
        shutdown_rx,
    ));
    tracing::info!(%addr, nats = %bus::redacted(&config.nats), "edge serving");
    Ok(RunningEdge {
        addr,
        state,
        shutdown,
        serve,
        follow,
    })
}

impl RunningEdge {
    /// Closes the websockets with 1001 and stops.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.state.hubs.close();
        let _ = self.shutdown.send(true);
        self.serve.await??;
        self.follow.await?;
        Ok(())
    }

    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        crate::server::shutdown_signal().await;
        tracing::info!("stopping");
        self.stop().await
    }
}
