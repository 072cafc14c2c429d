//! Publish: one state, many screens.
//!
//! The [`Hub`] keeps the current state document with its `epoch` and `seq`,
//! turns each new state into a [`delta`] (or a heartbeat when nothing
//! changed), serializes it **once**, and broadcasts the same bytes to every
//! socket. A socket that falls behind the broadcast buffer is not sent a
//! backlog: it gets a fresh snapshot (see `http::ws`).
//!
//! [`Hubs`] holds one hub per audience: staff, city viewers (links and
//! walls) and each district's links. What a socket receives is decided by
//! which hub it subscribes to, on the server: a district link's socket never
//! carries another district's figures.

pub mod delta;
pub mod limit;
pub mod protocol;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{broadcast, watch};

use crate::access::{Role, Scope};
use crate::aggregate::state::State;
use crate::aggregate::tick::Views;
use crate::metrics::FanOut;
use crate::time;
use protocol::ServerMessage;

/// Frames kept for sockets that read slowly; beyond this they get a snapshot.
const BROADCAST_FRAMES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Delta,
    Heartbeat,
}

/// One message for every socket, serialized once.
#[derive(Debug, Clone)]
pub struct Frame {
    pub kind: FrameKind,
    pub seq: u64,
    pub text: Utf8Bytes,
    /// The same delta as RFC 6902 operations, made only while a socket of
    /// the hub asked for them ([`Hub::patch_socket`]).
    pub patch: Option<Utf8Bytes>,
}

/// How a socket wants its deltas (`/ws?delta=…`, docs/protocol.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeltaFormat {
    /// Changed leaves by position, and operations for changes of shape:
    /// compact, what the pages use.
    #[default]
    Leaves,
    /// Plain RFC 6902 JSON Patch, which any JSON Patch library applies.
    JsonPatch,
}

impl DeltaFormat {
    pub fn parse(text: &str) -> Result<DeltaFormat, String> {
        match text {
            "leaves" => Ok(DeltaFormat::Leaves),
            "json-patch" => Ok(DeltaFormat::JsonPatch),
            other => Err(format!("delta: leaves or json-patch, not {other:?}")),
        }
    }
}

/// Counts a socket that wants RFC 6902 deltas while it lives.
pub struct PatchSocket<'a>(&'a AtomicUsize);

impl Drop for PatchSocket<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub struct Hub {
    epoch: u64,
    // A std Mutex: held only to swap a few fields, never across an await.
    inner: Mutex<Inner>,
    frames: broadcast::Sender<Frame>,
    closing: watch::Sender<bool>,
    pub fan_out: FanOut,
    /// Sockets that want RFC 6902 deltas.
    patch_sockets: AtomicUsize,
}

struct Inner {
    seq: u64,
    as_of: String,
    state: serde_json::Value,
    /// The snapshot message for (seq, as_of), made on first demand.
    snapshot: Option<Utf8Bytes>,
}

impl Hub {
    /// A hub whose first state (seq 1) is `state`. `epoch` must differ from
    /// every earlier start's (the start time in milliseconds does).
    pub fn new(epoch: u64, state: &State, now_micros: i64, fan_out: FanOut) -> Hub {
        let (frames, _) = broadcast::channel(BROADCAST_FRAMES);
        let (closing, _) = watch::channel(false);
        Hub {
            epoch,
            inner: Mutex::new(Inner {
                seq: 1,
                as_of: time::rfc3339(now_micros),
                state: serde_json::to_value(state).expect("the state serializes"),
                snapshot: None,
            }),
            frames,
            closing,
            fan_out,
            patch_sockets: AtomicUsize::new(0),
        }
    }

    /// Registers a socket that wants RFC 6902 deltas: from the next
    /// publish on, frames carry them too. Register before subscribing.
    pub fn patch_socket(&self) -> PatchSocket<'_> {
        self.patch_sockets.fetch_add(1, Ordering::Relaxed);
        PatchSocket(&self.patch_sockets)
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Publishes the tick's state: a delta if it differs, else a heartbeat.
    pub fn publish(&self, state: &State, now_micros: i64) {
        let next = serde_json::to_value(state).expect("the state serializes");
        let as_of = time::rfc3339(now_micros);
        let mut inner = self.inner.lock().expect("hub lock");
        inner.as_of = as_of;
        inner.snapshot = None;
        // Nobody listens (most district hubs, most of the time): no delta to
        // make. A socket that subscribes now takes its snapshot after this
        // lock is released, so it starts from this state.
        if self.frames.receiver_count() == 0 {
            if inner.state != next {
                inner.seq += 1;
                inner.state = next;
            }
            return;
        }
        let delta = delta::diff(&inner.state, &next);
        let frame = if delta.is_empty() {
            Frame {
                kind: FrameKind::Heartbeat,
                seq: inner.seq,
                text: ServerMessage::Heartbeat {
                    epoch: self.epoch,
                    seq: inner.seq,
                    as_of: &inner.as_of,
                }
                .to_json()
                .into(),
                patch: None,
            }
        } else {
            let patch = (self.patch_sockets.load(Ordering::Relaxed) > 0)
                .then(|| json_patch::diff(&inner.state, &next));
            inner.seq += 1;
            inner.state = next;
            Frame {
                kind: FrameKind::Delta,
                seq: inner.seq,
                patch: patch.map(|patch| {
                    ServerMessage::Patch {
                        epoch: self.epoch,
                        seq: inner.seq,
                        as_of: &inner.as_of,
                        patch: &patch,
                    }
                    .to_json()
                    .into()
                }),
                text: ServerMessage::Delta {
                    epoch: self.epoch,
                    seq: inner.seq,
                    as_of: &inner.as_of,
                    set: delta.set_pairs(),
                    ops: &delta.ops,
                }
                .to_json()
                .into(),
            }
        };
        // Sent under the lock so frames leave in seq order; no receiver is fine.
        let _ = self.frames.send(frame);
    }

    /// The current snapshot message and its seq.
    pub fn snapshot(&self) -> (u64, Utf8Bytes) {
        let mut inner = self.inner.lock().expect("hub lock");
        if inner.snapshot.is_none() {
            let text = ServerMessage::Snapshot {
                epoch: self.epoch,
                seq: inner.seq,
                as_of: &inner.as_of,
                state: &inner.state,
            }
            .to_json();
            inner.snapshot = Some(text.into());
        }
        (inner.seq, inner.snapshot.clone().expect("just made"))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.frames.subscribe()
    }

    pub fn clients(&self) -> usize {
        self.frames.receiver_count()
    }

    /// Tells every socket the server is going away.
    pub fn close(&self) {
        let _ = self.closing.send(true);
    }

    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }
}

/// One hub per audience.
pub struct Hubs {
    pub staff: Hub,
    pub city: Hub,
    pub districts: Vec<Hub>,
}

impl Hubs {
    pub fn new(epoch: u64, views: &Views, now_micros: i64, fan_out: FanOut) -> Hubs {
        let hub = |state: &State| Hub::new(epoch, state, now_micros, fan_out.clone());
        Hubs {
            staff: hub(&views.staff),
            city: hub(&views.city),
            districts: views.districts.iter().map(hub).collect(),
        }
    }

    pub fn publish(&self, views: &Views, now_micros: i64) {
        self.staff.publish(&views.staff, now_micros);
        self.city.publish(&views.city, now_micros);
        for (hub, state) in self.districts.iter().zip(&views.districts) {
            hub.publish(state, now_micros);
        }
    }

    /// The hub whose state `role` may see.
    pub fn of(&self, role: Role) -> &Hub {
        match role {
            Role::Admin => &self.staff,
            Role::Wall | Role::Viewer(Scope::City) => &self.city,
            Role::Viewer(Scope::District(d)) => &self.districts[d as usize],
        }
    }

    pub fn epoch(&self) -> u64 {
        self.staff.epoch()
    }

    pub fn clients(&self) -> usize {
        self.all().map(Hub::clients).sum()
    }

    pub fn close(&self) {
        self.all().for_each(Hub::close);
    }

    fn all(&self) -> impl Iterator<Item = &Hub> {
        [&self.staff, &self.city].into_iter().chain(&self.districts)
    }
}

#[cfg(test)]
mod properties {
    //! Applying every delta a hub sends to the snapshot a client started
    //! from gives the hub's last snapshot, for random event sequences.

    use proptest::prelude::*;

    use super::*;
    use crate::aggregate::Aggregator;
    use crate::aggregate::properties::{build, event};
    use crate::aggregate::state::{self, Wall};
    use crate::region::Region;

    fn states(agg: &Aggregator, region: &Region, now_micros: i64) -> (State, State) {
        let staff = state::compute(region, agg, now_micros, Wall::default());
        let city = state::for_viewers(&staff, 5);
        (staff, city)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn deltas_applied_to_the_first_snapshot_give_the_last(
            ticks in proptest::collection::vec(proptest::collection::vec(event(), 0..12), 1..12),
        ) {
            let region = Region::load("beijing").unwrap();
            let mut agg = Aggregator::new(region.districts.len(), 0);
            let (staff, city) = states(&agg, &region, 0);
            let hubs = [Hub::new(1, &staff, 0, Default::default()), Hub::new(1, &city, 0, Default::default())];
            let mut clients: Vec<_> = hubs
                .iter()
                .map(|hub| {
                    let frames = hub.subscribe();
                    let (seq, text) = hub.snapshot();
                    let first: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                    (frames, seq, first["state"].clone())
                })
                .collect();
            let mut n = 0;
            for (t, tick) in ticks.into_iter().enumerate() {
                for raw in tick {
                    // Events land in the first districts of the region.
                    agg.apply(build(n, raw));
                    n += 1;
                }
                let now = (t as i64 + 1) * 60_000_000;
                let (staff, city) = states(&agg, &region, now);
                hubs[0].publish(&staff, now);
                hubs[1].publish(&city, now);
            }
            for (hub, (frames, seq, doc)) in hubs.iter().zip(clients.iter_mut()) {
                while let Ok(frame) = frames.try_recv() {
                    let message: serde_json::Value = serde_json::from_str(frame.text.as_str()).unwrap();
                    match frame.kind {
                        FrameKind::Heartbeat => prop_assert_eq!(frame.seq, *seq),
                        FrameKind::Delta => {
                            prop_assert_eq!(frame.seq, *seq + 1, "deltas come in seq order");
                            delta::apply(doc, &message).unwrap();
                            *seq = frame.seq;
                        }
                    }
                }
                let (last_seq, text) = hub.snapshot();
                let last: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                prop_assert_eq!(*seq, last_seq);
                prop_assert_eq!(&*doc, &last["state"]);
            }
        }
    }
}
