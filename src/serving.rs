//! The HTTP connections: accepted under a cap, each served by hyper with a
//! header-read timeout, so a client that opens connections and never
//! finishes a request (slowloris) is dropped and cannot hold the server.
//! Websockets, once upgraded, are not timed out (they have their own
//! liveness: `publish::ws`). Counted in `/metrics`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// The bounds of the HTTP side (`--max-connections`, `--header-timeout-ms`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at most; beyond, a new one is closed at once.
    pub max_connections: usize,
    /// A request's head must arrive within this; an idle keep-alive
    /// connection is closed after it too.
    pub header_timeout: Duration,
}

/// What `/metrics` shows of the connections.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub open: Gauge,
    pub refused: Counter,
    pub closed_with_error: Counter,
}

/// Serves `router` on `listener` until `stop` turns true, then lets the
/// requests in flight finish (connections are told to close after them).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    counts: Counts,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let builder = Arc::new(builder);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, go on.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = async { let _ = stop.wait_for(|s| *s).await; } => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            counts.refused.inc();
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            })
            .map_err(|e: Infallible| match e {});
        let (builder, counts, mut stop) = (builder.clone(), counts.clone(), stop.clone());
        connections.spawn(async move {
            counts.open.inc();
            let connection = builder
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(connection);
            let stopping = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopping => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                // A header timeout, a client gone mid-request: its own
                // business, counted and logged at debug.
                counts.closed_with_error.inc();
                tracing::debug!(error = %e, %peer, "connection closed with an error");
            }
            counts.open.dec();
            drop(permit);
        });
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
    Ok(())
}
