//! The server: opens the store, rebuilds the figures, starts the tick and
//! serves HTTP and websockets until told to stop.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, mpsc as std_mpsc};

use anyhow::Context;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::aggregate::Aggregator;
use crate::aggregate::state::Wall;
use crate::aggregate::tick::{self, TickEngine};
use crate::auth::Keys;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::publish::{Hub, ws};
use crate::region::Region;
use crate::store::Store;
use crate::{ingest, time, wall, web};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    pub store: Store,
    pub region: Arc<Region>,
    pub keys: Arc<Keys>,
    pub wall: Arc<Mutex<Wall>>,
    /// Wakes the tick early (the launch moment should not wait for it).
    pub wake: Arc<Notify>,
    pub max_body_bytes: usize,
    pub metrics: Arc<Metrics>,
    pub tick: std::time::Duration,
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(web::index))
        .route("/assets/{*path}", get(web::static_file))
        .route("/ws", get(ws::upgrade))
        .route("/api/v1/snapshot", get(snapshot))
        .route("/api/v1/events", post(ingest::http::post_events))
        .route("/api/v1/wall", post(wall::post_wall))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(get(web::static_file))
        .with_state(state)
}

async fn snapshot(axum::extract::State(app): axum::extract::State<AppState>) -> impl IntoResponse {
    let (_, text) = app.hub.snapshot();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text.as_str().to_string(),
    )
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
        "epoch": app.hub.epoch(),
    });
    (status, axum::Json(body)).into_response()
}

async fn metrics(axum::extract::State(app): axum::extract::State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(app.hub.clients()),
    )
}

/// A started server.
pub struct Running {
    pub addr: SocketAddr,
    pub epoch: u64,
    shutdown: watch::Sender<bool>,
    hub: Arc<Hub>,
    serve: JoinHandle<std::io::Result<()>>,
    tick: JoinHandle<()>,
    writer: std::thread::JoinHandle<()>,
}

/// Opens the store, replays it, binds `config.listen` and starts serving.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    let region = Arc::new(Region::load(&config.region)?);
    let (accepted_tx, accepted_rx) = std_mpsc::channel();
    let path = config.database_path();
    let opening = {
        let region = region.clone();
        tokio::task::spawn_blocking(move || {
            let mut agg = Aggregator::new(region.districts.len(), time::now_beijing_micros());
            let opened = Store::open(&path, &region, &mut |e| agg.apply(e), accepted_tx)?;
            anyhow::Ok((opened, agg))
        })
    };
    let (opened, agg) = opening
        .await?
        .with_context(|| format!("opening the store at {}", config.database_path().display()))?;
    let wall = Arc::new(Mutex::new(wall::from_setting(&opened.settings)));

    let mut engine = TickEngine::new(region.clone(), agg, accepted_rx, wall.clone())?;
    let (engine, first, now) = tokio::task::spawn_blocking(move || {
        let now = time::now_beijing_micros();
        let first = engine.tick(now);
        (engine, first, now)
    })
    .await?;
    let epoch = chrono::Utc::now().timestamp_millis() as u64;
    let metrics = Arc::new(Metrics::new(config.database_path()));
    metrics.ticked(0.0, now);
    let hub = Arc::new(Hub::new(epoch, &first?, now, metrics.fan_out.clone()));

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let wake = Arc::new(Notify::new());
    let state = AppState {
        hub: hub.clone(),
        store: opened.store,
        region,
        keys: Arc::new(Keys::new(
            config.ingest_key.clone(),
            config.admin_token.clone(),
        )),
        wall,
        wake: wake.clone(),
        max_body_bytes: config.max_body_bytes,
        metrics: metrics.clone(),
        tick: config.tick,
    };
    let tick = tokio::spawn(tick::run(
        engine,
        hub.clone(),
        config.tick,
        wake,
        shutdown_rx.clone(),
        metrics,
    ));
    let mut stop = shutdown_rx;
    let serve = tokio::spawn(
        axum::serve(
            listener,
            app(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .into_future(),
    );
    tracing::info!(%addr, epoch, replayed = opened.replayed, "serving");
    Ok(Running {
        addr,
        epoch,
        shutdown,
        hub,
        serve,
        tick,
        writer: opened.writer,
    })
}

impl Running {
    /// Stops accepting, closes websockets with 1001, finishes requests in
    /// flight, and checkpoints the store. Returns when the file is closed.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.hub.close();
        let _ = self.shutdown.send(true);
        self.serve.await??;
        self.tick.await?;
        // The writer ends (after a checkpoint) once every store handle is gone.
        let writer = self.writer;
        tokio::task::spawn_blocking(move || writer.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the store writer panicked"))?;
        Ok(())
    }

    /// Runs until ctrl-c or SIGTERM, then stops gracefully.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("stopping");
        self.stop().await
    }
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
