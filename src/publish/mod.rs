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
//!
//! An edge's hub is a *mirror*: it is not fed states but the primary's own
//! messages ([`Hub::reset`] with a snapshot, [`Hub::follow`] with a delta or
//! heartbeat), which it applies to its copy and passes on as they came, byte
//! for byte ([`bus`] carries them).

pub mod bus;
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
    /// A mirror took a new state from its primary (a new epoch, or after a
    /// gap): every socket starts again from it.
    Snapshot,
    /// A mirror's primary fell silent: the sockets are told, and keep the
    /// last state.
    Stale,
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
    /// The delta changed the document's shape (it has operations).
    pub reshaped: bool,
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
    // A std Mutex: held only to swap a few fields, never across an await.
    inner: Mutex<Inner>,
    frames: broadcast::Sender<Frame>,
    closing: watch::Sender<bool>,
    pub fan_out: FanOut,
    /// Sockets that want RFC 6902 deltas.
    patch_sockets: AtomicUsize,
}

struct Inner {
    /// Changes at every start of the primary (a mirror follows it).
    epoch: u64,
    seq: u64,
    as_of: String,
    state: serde_json::Value,
    /// The snapshot message for (seq, as_of), made on first demand.
    snapshot: Option<Utf8Bytes>,
    /// A mirror whose primary fell silent: the notice a socket gets.
    stale: Option<Utf8Bytes>,
}

/// Why a mirror cannot take a message of its primary's: it asks for a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Gap {
    #[error("the mirror has no state yet")]
    Empty,
    #[error("epoch {got}, the mirror is at epoch {at}")]
    Epoch { at: u64, got: u64 },
    #[error("seq {got} does not follow the mirror's {at}")]
    Seq { at: u64, got: u64 },
    #[error("not a message the primary sends: {0}")]
    Message(String),
}

/// A snapshot, delta or heartbeat message's head, as a mirror reads it.
#[derive(Debug, serde::Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    epoch: u64,
    seq: u64,
    as_of: String,
}

impl Hub {
    /// A hub whose first state (seq 1) is `state`. `epoch` must differ from
    /// every earlier start's (the start time in milliseconds does).
    pub fn new(epoch: u64, state: &State, now_micros: i64, fan_out: FanOut) -> Hub {
        let state = serde_json::to_value(state).expect("the state serializes");
        Hub::holding(epoch, 1, time::rfc3339(now_micros), state, fan_out)
    }

    fn holding(
        epoch: u64,
        seq: u64,
        as_of: String,
        state: serde_json::Value,
        fan_out: FanOut,
    ) -> Hub {
        let (frames, _) = broadcast::channel(BROADCAST_FRAMES);
        let (closing, _) = watch::channel(false);
        Hub {
            inner: Mutex::new(Inner {
                epoch,
                seq,
                as_of,
                state,
                snapshot: None,
                stale: None,
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
        self.inner.lock().expect("hub lock").epoch
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
                    epoch: inner.epoch,
                    seq: inner.seq,
                    as_of: &inner.as_of,
                }
                .to_json()
                .into(),
                patch: None,
                reshaped: false,
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
                        epoch: inner.epoch,
                        seq: inner.seq,
                        as_of: &inner.as_of,
                        patch: &patch,
                    }
                    .to_json()
                    .into()
                }),
                reshaped: !delta.ops.is_empty(),
                text: ServerMessage::Delta {
                    epoch: inner.epoch,
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
                epoch: inner.epoch,
                seq: inner.seq,
                as_of: &inner.as_of,
                state: &inner.state,
            }
            .to_json();
            inner.snapshot = Some(text.into());
        }
        (inner.seq, inner.snapshot.clone().expect("just made"))
    }

    /// A mirror with no state yet: it takes its first from [`Hub::reset`].
    pub fn mirror(fan_out: FanOut) -> Hub {
        Hub::holding(0, 0, String::new(), serde_json::Value::Null, fan_out)
    }

    /// Whether the hub has a state to serve (a mirror may not yet).
    pub fn has_state(&self) -> bool {
        self.inner.lock().expect("hub lock").seq > 0
    }

    /// A mirror takes its primary's snapshot message: its state from now
    /// on, and every socket starts again from these very bytes. A snapshot
    /// of the same epoch older than the mirror's state is left unused (the
    /// deltas after it bring the mirror no further back than it is).
    /// Whether it was taken.
    pub fn reset(&self, text: Utf8Bytes) -> Result<bool, Gap> {
        let mut message: serde_json::Value =
            serde_json::from_str(text.as_str()).map_err(|e| Gap::Message(e.to_string()))?;
        let head = head(&message)?;
        if head.kind != "snapshot" {
            return Err(Gap::Message(format!("a {} is not a snapshot", head.kind)));
        }
        let mut inner = self.inner.lock().expect("hub lock");
        if inner.seq > 0 && head.epoch == inner.epoch && head.seq <= inner.seq {
            return Ok(false);
        }
        inner.epoch = head.epoch;
        inner.seq = head.seq;
        inner.as_of = head.as_of;
        inner.state = message["state"].take();
        inner.snapshot = Some(text.clone());
        inner.stale = None;
        let _ = self.frames.send(Frame {
            kind: FrameKind::Snapshot,
            seq: head.seq,
            text,
            patch: None,
            reshaped: true,
        });
        Ok(true)
    }

    /// A mirror takes its primary's delta or heartbeat: applied to its
    /// copy, then passed on to its sockets as it came. A message the copy
    /// cannot take (another epoch, a missed seq) is a [`Gap`]: the caller
    /// fetches a snapshot. What the mirror already has (a delta of its seq
    /// or before, a heartbeat before its seq or no newer than its time) is
    /// skipped. Whether it was taken: news of the primary.
    pub fn follow(&self, text: Utf8Bytes) -> Result<bool, Gap> {
        let message: serde_json::Value =
            serde_json::from_str(text.as_str()).map_err(|e| Gap::Message(e.to_string()))?;
        let head = head(&message)?;
        let mut inner = self.inner.lock().expect("hub lock");
        let at = inner.seq;
        if at == 0 {
            return Err(Gap::Empty);
        }
        if head.epoch != inner.epoch {
            return Err(Gap::Epoch {
                at: inner.epoch,
                got: head.epoch,
            });
        }
        let frame = match head.kind.as_str() {
            // RFC 3339 times of one zone compare as text.
            "heartbeat" if head.seq == at && head.as_of <= inner.as_of => return Ok(false),
            "heartbeat" if head.seq == at => Frame {
                kind: FrameKind::Heartbeat,
                seq: at,
                text,
                patch: None,
                reshaped: false,
            },
            // Older than the copy (the snapshot it started from was newer
            // than the delta the snapshot names): already had.
            "delta" | "heartbeat" if head.seq < at => return Ok(false),
            "delta" if head.seq == at => return Ok(false),
            "delta" if head.seq == at + 1 => {
                let before =
                    (self.patch_sockets.load(Ordering::Relaxed) > 0).then(|| inner.state.clone());
                if let Err(error) = delta::apply(&mut inner.state, &message) {
                    // The copy is spoilt: nothing is served from it until
                    // the snapshot the caller fetches now.
                    inner.seq = 0;
                    return Err(Gap::Message(error));
                }
                let patch = before.map(|before| {
                    let patch = json_patch::diff(&before, &inner.state);
                    ServerMessage::Patch {
                        epoch: head.epoch,
                        seq: head.seq,
                        as_of: &head.as_of,
                        patch: &patch,
                    }
                    .to_json()
                    .into()
                });
                let reshaped = message["ops"].as_array().is_some_and(|ops| !ops.is_empty());
                Frame {
                    kind: FrameKind::Delta,
                    seq: head.seq,
                    text,
                    patch,
                    reshaped,
                }
            }
            "heartbeat" | "delta" => return Err(Gap::Seq { at, got: head.seq }),
            other => {
                return Err(Gap::Message(format!(
                    "a {other} is not a delta or heartbeat"
                )));
            }
        };
        inner.seq = frame.seq;
        inner.as_of = head.as_of;
        inner.snapshot = None;
        inner.stale = None;
        let _ = self.frames.send(frame);
        Ok(true)
    }

    /// A mirror whose primary fell silent tells its sockets (again at every
    /// call, so that they know the socket itself is alive); they keep the
    /// last state. The next delta or heartbeat ends it.
    pub fn mark_stale(&self) {
        let mut inner = self.inner.lock().expect("hub lock");
        if inner.seq == 0 {
            return;
        }
        let text: Utf8Bytes = ServerMessage::Stale {
            epoch: inner.epoch,
            seq: inner.seq,
            as_of: &inner.as_of,
        }
        .to_json()
        .into();
        inner.stale = Some(text.clone());
        let _ = self.frames.send(Frame {
            kind: FrameKind::Stale,
            seq: inner.seq,
            text,
            patch: None,
            reshaped: false,
        });
    }

    /// The stale notice a new socket gets after its snapshot, while stale.
    pub fn stale_notice(&self) -> Option<Utf8Bytes> {
        self.inner.lock().expect("hub lock").stale.clone()
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

fn head(message: &serde_json::Value) -> Result<Head, Gap> {
    <Head as serde::Deserialize>::deserialize(message).map_err(|e| Gap::Message(e.to_string()))
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

    /// An edge's hubs: a mirror per viewer audience. Staff's stays empty
    /// (staff read the primary).
    pub fn mirrors(districts: usize, fan_out: FanOut) -> Hubs {
        Hubs {
            staff: Hub::mirror(fan_out.clone()),
            city: Hub::mirror(fan_out.clone()),
            districts: (0..districts)
                .map(|_| Hub::mirror(fan_out.clone()))
                .collect(),
        }
    }

    /// The viewer hubs in `bus::audiences`' order: the city's, then each
    /// district's.
    pub fn viewer(&self, index: usize) -> &Hub {
        match index {
            0 => &self.city,
            i => &self.districts[i - 1],
        }
    }

    /// The viewer hubs, in [`Hubs::viewer`]'s order.
    pub fn viewers(&self) -> impl Iterator<Item = &Hub> {
        std::iter::once(&self.city).chain(&self.districts)
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
        std::iter::once(&self.staff).chain(self.viewers())
    }
}

#[cfg(test)]
mod mirror {
    use super::*;
    use crate::aggregate::state::{self, Wall};

    fn state_titled(title: &str) -> State {
        let region = crate::region::Region::load("beijing").unwrap();
        let agg = crate::aggregate::Aggregator::new(region.districts.len(), 0);
        let wall = Wall {
            title: title.into(),
            ..Wall::default()
        };
        state::compute(&region, &agg, 0, wall)
    }

    #[test]
    fn a_mirror_takes_only_what_follows_its_copy_and_says_why_not() {
        let primary = Hub::new(7, &state_titled("t0"), 0, Default::default());
        let mut frames = primary.subscribe();
        let mirror = Hub::mirror(Default::default());
        assert!(!mirror.has_state());
        let first = primary.snapshot().1;
        primary.publish(&state_titled("t1"), 1_000_000);
        let delta2 = frames.try_recv().unwrap().text;
        assert_eq!(mirror.follow(delta2.clone()), Err(Gap::Empty));
        mirror.reset(first.clone()).unwrap();
        primary.publish(&state_titled("t2"), 2_000_000);
        let delta3 = frames.try_recv().unwrap().text;
        assert_eq!(mirror.follow(delta3), Err(Gap::Seq { at: 1, got: 3 }));
        mirror.follow(delta2.clone()).unwrap();
        // Already had: skipped, a heartbeat of an older seq too; an older
        // snapshot: left unused.
        assert_eq!(mirror.follow(delta2), Ok(false));
        let old_heartbeat = ServerMessage::Heartbeat {
            epoch: 7,
            seq: 1,
            as_of: "t",
        };
        assert_eq!(mirror.follow(old_heartbeat.to_json().into()), Ok(false));
        // A heartbeat of its seq is news only if newer than its time.
        let heartbeat_at = |micros| {
            let as_of = crate::time::rfc3339(micros);
            let heartbeat = ServerMessage::Heartbeat {
                epoch: 7,
                seq: 2,
                as_of: &as_of,
            };
            mirror.follow(heartbeat.to_json().into())
        };
        assert_eq!(heartbeat_at(500_000), Ok(false));
        assert_eq!(heartbeat_at(1_000_000), Ok(false));
        assert_eq!(heartbeat_at(1_500_000), Ok(true));
        assert_eq!(mirror.snapshot().0, 2);
        assert_eq!(mirror.reset(first), Ok(false));
        assert_eq!(mirror.snapshot().0, 2);
        // Another epoch (the primary started again).
        let again = Hub::new(8, &state_titled("t9"), 0, Default::default());
        let mut frames = again.subscribe();
        again.publish(&state_titled("t9"), 9_000_000);
        let heartbeat = frames.try_recv().unwrap().text;
        assert_eq!(mirror.follow(heartbeat), Err(Gap::Epoch { at: 7, got: 8 }));
        let mut sockets = mirror.subscribe();
        mirror.reset(again.snapshot().1).unwrap();
        let reset = sockets.try_recv().unwrap();
        assert_eq!((reset.kind, reset.seq), (FrameKind::Snapshot, 1));
        assert_eq!(mirror.snapshot(), again.snapshot());
        assert_eq!(
            mirror.follow(r#"{"type":"ended","reason":"x"}"#.into()),
            Err(Gap::Message("missing field `epoch`".into()))
        );
    }

    #[test]
    fn a_mirror_makes_the_same_rfc_6902_patches_as_its_primary() {
        let primary = Hub::new(7, &state_titled("t0"), 0, Default::default());
        let _primary_patch = primary.patch_socket();
        let mut frames = primary.subscribe();
        let mirror = Hub::mirror(Default::default());
        mirror.reset(primary.snapshot().1).unwrap();
        let _mirror_patch = mirror.patch_socket();
        let mut sockets = mirror.subscribe();
        primary.publish(&state_titled("t1"), 1_000_000);
        let sent = frames.try_recv().unwrap();
        mirror.follow(sent.text.clone()).unwrap();
        let passed = sockets.try_recv().unwrap();
        assert_eq!(passed.text, sent.text, "the primary's bytes");
        assert!(sent.patch.is_some());
        assert_eq!(passed.patch, sent.patch);
    }

    #[test]
    fn a_stale_mirror_tells_its_sockets_until_the_next_message() {
        let primary = Hub::new(7, &state_titled("t0"), 0, Default::default());
        let mut frames = primary.subscribe();
        let mirror = Hub::mirror(Default::default());
        mirror.reset(primary.snapshot().1).unwrap();
        let mut sockets = mirror.subscribe();
        mirror.mark_stale();
        let notice = sockets.try_recv().unwrap();
        assert_eq!(notice.kind, FrameKind::Stale);
        let as_of = crate::time::rfc3339(0);
        let expected = format!(r#"{{"type":"stale","epoch":7,"seq":1,"as_of":"{as_of}"}}"#);
        assert_eq!(notice.text.as_str(), expected);
        assert_eq!(mirror.stale_notice().as_deref(), Some(expected.as_str()));
        primary.publish(&state_titled("t0"), 1_000_000);
        mirror.follow(frames.try_recv().unwrap().text).unwrap();
        assert_eq!(sockets.try_recv().unwrap().kind, FrameKind::Heartbeat);
        assert_eq!(mirror.stale_notice(), None);
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
            // A mirror of each hub, as an edge keeps one: the first
            // snapshot's bytes, then every frame as it came.
            let mirrors: Vec<(Hub, broadcast::Receiver<Frame>)> = hubs
                .iter()
                .map(|hub| {
                    let frames = hub.subscribe();
                    let mirror = Hub::mirror(Default::default());
                    mirror.reset(hub.snapshot().1).unwrap();
                    (mirror, frames)
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
                        FrameKind::Snapshot | FrameKind::Stale => {
                            prop_assert!(false, "a primary's hub sends neither");
                        }
                    }
                }
                let (last_seq, text) = hub.snapshot();
                let last: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                prop_assert_eq!(*seq, last_seq);
                prop_assert_eq!(&*doc, &last["state"]);
            }
            for (hub, (mirror, mut frames)) in hubs.iter().zip(mirrors) {
                while let Ok(frame) = frames.try_recv() {
                    prop_assert_eq!(mirror.follow(frame.text), Ok(true));
                }
                prop_assert_eq!(mirror.snapshot(), hub.snapshot(), "the same bytes at the same seq");
            }
        }
    }
}
