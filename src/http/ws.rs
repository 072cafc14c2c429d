//! One websocket client: a snapshot first, then the hub's frames.
//!
//! [`serve`] is generic over the sink and stream so tests can drive it with
//! channels. A client whose socket does not take a frame within
//! [`SEND_TIMEOUT`] is dropped, and one that fell behind the broadcast buffer
//! is sent a fresh snapshot instead of the frames it missed: a stalled client
//! never holds up the tick or the others, and costs no memory of its own.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use super::AppState;
use super::access::{Address, Reader};
use crate::access::{EndReason, Role};
use crate::publish::protocol::{self, ClientMessage, ServerMessage};
use crate::publish::{DeltaFormat, FrameKind, Hub, Hubs};
use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;

pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Client messages are tiny; anything bigger is refused by the socket.
pub const MAX_CLIENT_MESSAGE: usize = 4 * 1024;

/// Snapshots a socket may ask for (`resync`, `--resyncs-per-minute`) in
/// this window: a client in doubt needs one; a loop of them would cost a
/// snapshot each.
pub const RESYNC_WINDOW: Duration = Duration::from_secs(60);

/// Close code sent when the credential a socket was opened with ends.
pub const CLOSE_ENDED: u16 = 4001;

/// The hub of one audience, held through the shared [`Hubs`].
pub struct HubOf {
    hubs: Arc<Hubs>,
    role: Role,
}

impl std::ops::Deref for HubOf {
    type Target = Hub;
    fn deref(&self) -> &Hub {
        self.hubs.of(self.role)
    }
}

/// `GET /ws`: only for a reader (401 before the upgrade otherwise); the
/// socket carries the state of the reader's audience.
/// `/ws`'s query (besides a `token`).
#[derive(Debug, serde::Deserialize)]
pub struct WsQuery {
    /// `leaves` (the default) or `json-patch`.
    delta: Option<String>,
}

pub async fn upgrade(
    ws: WebSocketUpgrade,
    State(app): State<AppState>,
    Address(address): Address,
    Reader(who): Reader,
    axum::extract::Query(query): axum::extract::Query<WsQuery>,
) -> Response {
    open(ws, app.hubs.clone(), &app.sockets, &address, who, query)
}

/// Opens the socket of `who` on its audience's hub, within the bounds on
/// sockets (a primary's and an edge's).
pub fn open(
    ws: WebSocketUpgrade,
    hubs: Arc<Hubs>,
    sockets: &Arc<crate::publish::limit::SocketLimit>,
    address: &str,
    who: crate::access::Principal,
    query: WsQuery,
) -> Response {
    let format = match query.delta.as_deref().map(DeltaFormat::parse) {
        None => DeltaFormat::Leaves,
        Some(Ok(format)) => format,
        Some(Err(error)) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "error": error })),
            )
                .into_response();
        }
    };
    let slot = match sockets.take(address, who.credential.as_deref()) {
        Ok(slot) => slot,
        Err(full) => {
            hubs.staff.fan_out.refused_sockets.inc();
            let status = match full {
                crate::publish::limit::Full::Total => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::TOO_MANY_REQUESTS,
            };
            return (status, Json(serde_json::json!({ "error": full.message() }))).into_response();
        }
    };
    let hub = HubOf {
        hubs,
        role: who.role,
    };
    let ended = who.ended;
    let resyncs = sockets.bounds().resyncs_per_minute;
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        // Clients send only small control frames (a resync is 17 bytes): a
        // 1 KiB read buffer, not the library's 128 KiB, which was most of a
        // socket's memory. A larger frame (up to the 4 KiB limit) grows it.
        .read_buffer_size(1024)
        .on_upgrade(move |socket: WebSocket| async move {
            let (sink, stream) = socket.split();
            let ended = serve(sink, stream, hub, ended, format, resyncs).await;
            drop(slot);
            tracing::debug!(?ended, "websocket closed");
        })
}

/// Resolves when the credential or session ends (never, without one).
async fn credential_ended(ended: &mut Option<watch::Receiver<Option<EndReason>>>) -> EndReason {
    let Some(rx) = ended else {
        return std::future::pending().await;
    };
    let ended = rx
        .wait_for(Option::is_some)
        .await
        .map(|reason| reason.expect("waited for Some"));
    match ended {
        Ok(reason) => reason,
        // The credential's sender is gone only when the server stops.
        Err(_) => std::future::pending().await,
    }
}

/// Why a client's loop ended (for logs and tests).
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    ClientClosed,
    SendFailed,
    ServerClosing,
    CredentialEnded,
}

pub async fn serve<S, R, E, H>(
    mut sink: S,
    mut stream: R,
    hub: H,
    mut ended: Option<watch::Receiver<Option<EndReason>>>,
    format: DeltaFormat,
    resyncs_per_window: usize,
) -> Ended
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
    H: std::ops::Deref<Target = Hub>,
{
    let hub = &*hub;
    let _patch = (format == DeltaFormat::JsonPatch).then(|| hub.patch_socket());
    // Subscribe before taking the snapshot, so no delta falls between them.
    let mut frames = hub.subscribe();
    let mut closing = hub.closing();
    let (mut at, snapshot) = hub.snapshot();
    if !send(hub, &mut sink, snapshot).await {
        return Ended::SendFailed;
    }
    if let Some(notice) = hub.stale_notice()
        && !send(hub, &mut sink, notice).await
    {
        return Ended::SendFailed;
    }
    let mut resyncs: std::collections::VecDeque<tokio::time::Instant> = Default::default();
    loop {
        tokio::select! {
            frame = frames.recv() => {
                let text = match frame {
                    Ok(frame) => match frame.kind {
                        FrameKind::Delta if frame.seq <= at => continue,
                        FrameKind::Heartbeat if frame.seq < at => continue,
                        FrameKind::Delta => match (format, frame.patch) {
                            (DeltaFormat::Leaves, _) => {
                                at = frame.seq;
                                frame.text
                            }
                            (DeltaFormat::JsonPatch, Some(patch)) => {
                                at = frame.seq;
                                patch
                            }
                            // Published before this socket counted: a
                            // snapshot instead.
                            (DeltaFormat::JsonPatch, None) => {
                                let (seq, snapshot) = hub.snapshot();
                                at = seq;
                                snapshot
                            }
                        },
                        FrameKind::Heartbeat | FrameKind::Stale => frame.text,
                        FrameKind::Snapshot => {
                            at = frame.seq;
                            frame.text
                        }
                    },
                    Err(RecvError::Lagged(_)) => {
                        hub.fan_out.snapshots_for_laggards.inc();
                        let (seq, snapshot) = hub.snapshot();
                        at = seq;
                        snapshot
                    }
                    Err(RecvError::Closed) => return Ended::ServerClosing,
                };
                if !send(hub, &mut sink, text).await {
                    return Ended::SendFailed;
                }
            }
            message = stream.next() => {
                let reply = match message {
                    Some(Ok(Message::Text(text))) => match protocol::parse_client(text.as_str()) {
                        Ok(ClientMessage::Resync) => {
                            let now = tokio::time::Instant::now();
                            while resyncs.front().is_some_and(|t| now - *t >= RESYNC_WINDOW) {
                                resyncs.pop_front();
                            }
                            if resyncs.len() >= resyncs_per_window {
                                let error = format!(
                                    "too many resyncs: at most {resyncs_per_window} a minute; the deltas keep the copy current"
                                );
                                ServerMessage::Error { error: &error }.to_json().into()
                            } else {
                                resyncs.push_back(now);
                                let (seq, snapshot) = hub.snapshot();
                                at = seq;
                                snapshot
                            }
                        }
                        Err(error) => ServerMessage::Error { error: &error }.to_json().into(),
                    },
                    Some(Ok(Message::Binary(_))) => ServerMessage::Error {
                        error: "binary frames are not understood; send JSON text",
                    }
                    .to_json()
                    .into(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Ended::ClientClosed,
                };
                if !send(hub, &mut sink, reply).await {
                    return Ended::SendFailed;
                }
            }
            reason = credential_ended(&mut ended) => {
                let text = ServerMessage::Ended { reason: reason.code() }.to_json();
                let _ = send(hub, &mut sink, text.into()).await;
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code: CLOSE_ENDED,
                        reason: Utf8Bytes::from_static("credential ended"),
                    })))
                    .await;
                return Ended::CredentialEnded;
            }
            _ = closing.changed() => {
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code: 1001,
                        reason: Utf8Bytes::from_static("server stopping"),
                    })))
                    .await;
                return Ended::ServerClosing;
            }
        }
    }
}

async fn send<S: Sink<Message> + Unpin>(hub: &Hub, sink: &mut S, text: Utf8Bytes) -> bool {
    let bytes = text.len() as u64;
    match tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Text(text))).await {
        Ok(Ok(())) => {
            hub.fan_out.bytes_sent.inc_by(bytes);
            hub.fan_out.frames_sent.inc();
            true
        }
        Ok(Err(_)) => false,
        Err(_) => {
            hub.fan_out.dropped_slow_clients.inc();
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::sync::Semaphore;

    use super::*;
    use crate::aggregate::Aggregator;
    use crate::aggregate::state::{self, Wall};
    use crate::region::Region;

    fn state_titled(title: &str) -> state::State {
        let region = Region::load("beijing").unwrap();
        let agg = Aggregator::new(region.districts.len(), 0);
        state::compute(
            &region,
            &agg,
            0,
            Wall {
                title: title.into(),
                ..Wall::default()
            },
        )
    }

    #[tokio::test]
    async fn a_hub_nobody_listens_to_keeps_its_state_current_without_deltas() {
        let hub = Hub::new(7, &state_titled("t0"), 0, Default::default());
        for i in 1..=3 {
            hub.publish(&state_titled(&format!("t{i}")), i * 1_000_000);
        }
        hub.publish(&state_titled("t3"), 4_000_000);
        let (seq, snapshot) = hub.snapshot();
        let snapshot: serde_json::Value = serde_json::from_str(snapshot.as_str()).unwrap();
        assert_eq!(seq, 4, "three changes, then none");
        assert_eq!(snapshot["state"]["wall"]["title"], "t3");
        assert_eq!(snapshot["as_of"], crate::time::rfc3339(4_000_000));
        // A listener from now on gets the delta from that state.
        let mut frames = hub.subscribe();
        hub.publish(&state_titled("t5"), 5_000_000);
        let frame = frames.recv().await.unwrap();
        assert_eq!((frame.kind, frame.seq), (FrameKind::Delta, 5));
        let delta: serde_json::Value = serde_json::from_str(frame.text.as_str()).unwrap();
        // One leaf changed: the title, set in place.
        assert_eq!(delta["ops"], serde_json::json!([]));
        assert_eq!(delta["set"].as_array().unwrap().len(), 2);
        assert_eq!(delta["set"][1], "t5");
        let mut doc = snapshot["state"].clone();
        crate::publish::delta::apply(&mut doc, &delta).unwrap();
        assert_eq!(doc["wall"]["title"], "t5");
        assert_eq!(hub.fan_out.frames_sent.get(), 0);
    }

    #[tokio::test]
    async fn a_json_patch_socket_gets_rfc_6902_deltas_that_a_stock_library_applies() {
        let hub = Arc::new(Hub::new(7, &state_titled("t0"), 0, Default::default()));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
        let sink = futures_util::sink::unfold(tx, |tx, message: Message| async move {
            if let Message::Text(t) = message {
                tx.send(serde_json::from_str(t.as_str()).unwrap()).unwrap();
            }
            Ok::<_, std::convert::Infallible>(tx)
        });
        let stream = futures_util::stream::pending::<Result<Message, std::convert::Infallible>>();
        let client = tokio::spawn(serve(
            Box::pin(sink),
            stream,
            hub.clone(),
            None,
            DeltaFormat::JsonPatch,
            10,
        ));
        let snapshot = rx.recv().await.unwrap();
        assert_eq!(
            (&snapshot["type"], &snapshot["seq"]),
            (&"snapshot".into(), &1.into())
        );
        let mut doc = snapshot["state"].clone();
        for i in 1..=3u64 {
            let next = state_titled(&format!("t{i}"));
            hub.publish(&next, i as i64 * 1_000_000);
            let message = rx.recv().await.unwrap();
            assert_eq!(message["type"], "patch", "{message}");
            assert_eq!(message["seq"], 1 + i);
            assert_eq!(
                message["patch"],
                serde_json::json!([{"op": "replace", "path": "/wall/title", "value": format!("t{i}")}])
            );
            let patch: json_patch::Patch =
                serde_json::from_value(message["patch"].clone()).unwrap();
            json_patch::patch(&mut doc, &patch).unwrap();
            assert_eq!(doc, serde_json::to_value(&next).unwrap());
        }
        // Without such a socket, no patch is made.
        client.abort();
        let _ = client.await;
        let mut frames = hub.subscribe();
        hub.publish(&state_titled("t9"), 9_000_000);
        assert!(frames.recv().await.unwrap().patch.is_none());
    }

    #[test]
    fn the_delta_format_is_named_or_refused_with_the_choices() {
        assert_eq!(DeltaFormat::parse("json-patch"), Ok(DeltaFormat::JsonPatch));
        assert_eq!(DeltaFormat::parse("leaves"), Ok(DeltaFormat::Leaves));
        assert_eq!(
            DeltaFormat::parse("patch"),
            Err("delta: leaves or json-patch, not \"patch\"".into())
        );
    }

    #[tokio::test]
    async fn a_client_that_fell_behind_gets_a_snapshot_not_a_backlog() {
        let hub = Arc::new(Hub::new(7, &state_titled("t0"), 0, Default::default()));
        let seen: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        // The client takes the snapshot and one more frame, then stalls until let go.
        let gate = Arc::new(Semaphore::new(2));
        let sink = futures_util::sink::unfold(
            (seen.clone(), gate.clone()),
            |(seen, gate), message: Message| async move {
                gate.acquire().await.unwrap().forget();
                if let Message::Text(t) = message {
                    seen.lock()
                        .unwrap()
                        .push(serde_json::from_str(t.as_str()).unwrap());
                }
                Ok::<_, std::convert::Infallible>((seen, gate))
            },
        );
        let stream = futures_util::stream::pending::<Result<Message, std::convert::Infallible>>();
        let client = tokio::spawn(serve(
            Box::pin(sink),
            stream,
            hub.clone(),
            None,
            DeltaFormat::Leaves,
            10,
        ));
        tokio::task::yield_now().await;
        // 200 new states while the client is stalled: far beyond the buffer.
        for i in 1..=200 {
            hub.publish(&state_titled(&format!("t{i}")), i * 1_000_000);
            tokio::task::yield_now().await;
        }
        gate.add_permits(10);
        for _ in 0..100 {
            if seen.lock().unwrap().len() >= 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen[0]["type"], "snapshot");
        assert_eq!(seen[0]["seq"], 1);
        assert_eq!(seen[1]["type"], "delta");
        assert_eq!(seen[1]["seq"], 2);
        // The frame it was stuck on, then, instead of 198 stale deltas, the current state.
        assert_eq!(
            (seen[2]["type"].as_str(), seen[2]["seq"].as_u64()),
            (Some("delta"), Some(3))
        );
        assert_eq!(seen[3]["type"], "snapshot");
        assert_eq!(seen[3]["seq"], 201);
        assert_eq!(seen[3]["state"]["wall"]["title"], "t200");
        assert_eq!(seen.len(), 4);
        assert_eq!(hub.fan_out.snapshots_for_laggards.get(), 1);
        assert_eq!(hub.fan_out.frames_sent.get(), 4);
        hub.close();
        assert_eq!(client.await.unwrap(), Ended::ServerClosing);
    }
}
