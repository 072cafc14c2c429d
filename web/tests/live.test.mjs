// The wall's protocol client (src/shared/live.js) without a browser: snapshot,
// in-place deltas, and every case that must end in a resync (a gap, a new
// epoch, a heartbeat ahead, a patch that does not apply), which the real
// server rarely produces on demand; also the reconnect back-off.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';

class FakeSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 3;
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = FakeSocket.CONNECTING;
    this.sent = [];
    FakeSocket.all.push(this);
  }
  open() {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
  }
  message(obj) {
    this.onmessage?.({ data: JSON.stringify(obj) });
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close(code = 1000) {
    this.readyState = FakeSocket.CLOSED;
    this.onclose?.({ code });
  }
}

globalThis.WebSocket = FakeSocket;
const { Live } = await import('../src/shared/live.js');
const { socketUrl, connectionState } = await import('../src/shared/connection.js');

const state = () => ({ totals: { people: 10 }, districts: { 110106: { people: 4 } } });
let live;
let seen;
let ended;
let closes;

beforeEach(() => {
  FakeSocket.all = [];
  seen = [];
  ended = [];
  closes = [];
  live = new Live({
    url: 'ws://wall/ws',
    onState: (s, info) => seen.push({ ...info, people: s.totals.people }),
    onStatus: () => {},
    onEnded: (reason) => ended.push(reason),
    onClose: (info) => closes.push(info),
  });
  live.start();
  FakeSocket.all[0].open();
});

afterEach(() => {
  clearInterval(live.watchTimer);
  clearTimeout(live.retryTimer);
});

const socket = () => FakeSocket.all[FakeSocket.all.length - 1];
const snap = (epoch, seq, s = state()) => ({ type: 'snapshot', epoch, seq, as_of: '2017-06-28T10:59:58.000+08:00', state: s });
const delta = (epoch, seq, ops) => ({ type: 'delta', epoch, seq, as_of: '2017-06-28T11:00:00.000+08:00', ops });

test('the socket URL follows the page: ws or wss, same host, the token passed on', () => {
  assert.equal(socketUrl({ protocol: 'http:', host: 'wall:8080' }), 'ws://wall:8080/ws');
  assert.equal(socketUrl({ protocol: 'https:', host: 'wall' }, 'a b'), 'wss://wall/ws?token=a%20b');
});

test('the connection badge: connecting, live, stale; the banner only once there was data', () => {
  assert.equal(connectionState({ everConnected: false, connected: false, stale: true }), 'connecting');
  assert.equal(connectionState({ everConnected: true, connected: true, stale: false }), 'live');
  assert.equal(connectionState({ everConnected: true, connected: true, stale: true }), 'stale');
  assert.equal(connectionState({ everConnected: true, connected: false, stale: false }), 'stale');
});

test('a snapshot, then deltas applied in place in order', () => {
  socket().message(snap(7, 41));
  const copy = live.state;
  socket().message(delta(7, 42, [{ op: 'replace', path: '/totals/people', value: 82969 }]));
  socket().message(delta(7, 43, [{ op: 'replace', path: '/districts/110106/people', value: 5 }]));
  assert.equal(live.state, copy, 'the same object, patched in place');
  assert.deepEqual(live.state, { totals: { people: 82969 }, districts: { 110106: { people: 5 } } });
  assert.deepEqual(seen.map((s) => [s.kind, s.seq, s.people]), [['snapshot', 41, 10], ['delta', 42, 82969], ['delta', 43, 82969]]);
  assert.deepEqual(socket().sent, []);
});

test('an old or repeated delta is ignored', () => {
  socket().message(snap(7, 41));
  socket().message(delta(7, 41, [{ op: 'replace', path: '/totals/people', value: 1 }]));
  socket().message(delta(7, 40, [{ op: 'replace', path: '/totals/people', value: 1 }]));
  assert.equal(live.state.totals.people, 10);
  assert.deepEqual(socket().sent, []);
});

test('a gap asks for a snapshot and ignores deltas until it comes; the picture stays', () => {
  socket().message(snap(7, 41));
  socket().message(delta(7, 43, [{ op: 'replace', path: '/totals/people', value: 99 }]));
  assert.deepEqual(socket().sent, [{ type: 'resync' }]);
  assert.equal(live.state.totals.people, 10, 'the last state stays up');
  socket().message(delta(7, 44, [{ op: 'replace', path: '/totals/people', value: 98 }]));
  assert.equal(live.state.totals.people, 10);
  socket().message(snap(7, 44, { totals: { people: 98 }, districts: {} }));
  socket().message(delta(7, 45, [{ op: 'replace', path: '/totals/people', value: 100 }]));
  assert.equal(live.state.totals.people, 100);
  assert.equal(live.counts.resyncs, 1);
});

test('a new epoch (delta or heartbeat) asks for a snapshot', () => {
  socket().message(snap(7, 41));
  socket().message(delta(8, 1, [{ op: 'replace', path: '/totals/people', value: 1 }]));
  assert.deepEqual(socket().sent, [{ type: 'resync' }]);
  socket().message(snap(8, 1));
  socket().message({ type: 'heartbeat', epoch: 9, seq: 1, as_of: '2017-06-28T11:00:02.000+08:00' });
  assert.deepEqual(socket().sent, [{ type: 'resync' }, { type: 'resync' }]);
});

test('a heartbeat ahead of our seq is a gap; one at our seq only refreshes the time', () => {
  socket().message(snap(7, 41));
  socket().message({ type: 'heartbeat', epoch: 7, seq: 41, as_of: '2017-06-28T11:00:02.000+08:00' });
  assert.deepEqual(socket().sent, []);
  assert.equal(live.asOf, '2017-06-28T11:00:02.000+08:00');
  socket().message({ type: 'heartbeat', epoch: 7, seq: 42, as_of: '2017-06-28T11:00:04.000+08:00' });
  assert.deepEqual(socket().sent, [{ type: 'resync' }]);
});

test('a patch that does not apply asks for a snapshot', () => {
  socket().message(snap(7, 41));
  socket().message(delta(7, 42, [{ op: 'remove', path: '/no/such/thing' }]));
  assert.deepEqual(socket().sent, [{ type: 'resync' }]);
});

test('numbers set by leaf, in place; a leaf that does not exist asks for a snapshot', () => {
  socket().message(snap(7, 41));
  // Leaves: districts/110106/people (0), totals/people (1).
  socket().message({ ...delta(7, 42, []), set: [1, 82969, 0, 6] });
  assert.deepEqual(live.state, { totals: { people: 82969 }, districts: { 110106: { people: 6 } } });
  assert.equal(live.seq, 42);
  socket().message({ ...delta(7, 43, []), set: [2, 1] });
  assert.deepEqual(socket().sent, [{ type: 'resync' }]);
});

test('an edge\'s stale notice shows stale, keeps the picture and the socket, until the next tick message', () => {
  const statuses = [];
  live.onStatus = (status) => statuses.push(status.stale);
  socket().message(snap(7, 41));
  socket().message({ type: 'stale', epoch: 7, seq: 41, as_of: '2017-06-28T10:59:58.000+08:00' });
  assert.equal(live.status.stale, true);
  assert.equal(live.state.totals.people, 10, 'the last state stays up');
  // The watch does not take the notice's own freshness for live figures.
  live.watch();
  assert.equal(live.status.stale, true);
  assert.equal(FakeSocket.all.length, 1, 'no reconnect: the socket itself is alive');
  socket().message({ type: 'heartbeat', epoch: 7, seq: 41, as_of: '2017-06-28T11:00:02.000+08:00' });
  assert.equal(live.status.stale, false);
  live.watch();
  assert.equal(live.status.stale, false);
  assert.deepEqual(statuses, [false, true, false]);
  assert.deepEqual(socket().sent, []);
});

test('errors and unknown messages change nothing', () => {
  socket().message(snap(7, 41));
  socket().message({ type: 'error', error: 'nope' });
  socket().message({ type: 'something-new' });
  socket().onmessage({ data: 'not json' });
  assert.equal(live.seq, 41);
  assert.deepEqual(socket().sent, []);
});

test('reconnects back off from 0.5 s, doubling to 10 s, with jitter; a snapshot resets it', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const delays = [];
  for (let i = 0; i < 7; i += 1) {
    const before = FakeSocket.all.length;
    socket().close();
    // Find the delay: advance until a new socket is made.
    let waited = 0;
    while (FakeSocket.all.length === before && waited < 20_000) {
      t.mock.timers.tick(10);
      waited += 10;
    }
    delays.push(waited);
  }
  const bases = [500, 1000, 2000, 4000, 8000, 10_000, 10_000];
  delays.forEach((d, i) => {
    assert.ok(d >= bases[i] * 0.75 - 10 && d <= bases[i] * 1.25 + 10, `attempt ${i + 1}: ${d} ms for a ${bases[i]} ms base`);
  });
  socket().open();
  socket().message(snap(7, 1));
  assert.equal(live.attempt, 0);
});

test('{"type":"ended"} closes the socket for good: no reconnect, the last state kept', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  socket().message(snap(7, 41));
  socket().message({ type: 'ended', reason: 'revoked' });
  assert.deepEqual(ended, ['revoked']);
  assert.equal(socket().readyState, FakeSocket.CLOSED);
  const sockets = FakeSocket.all.length;
  t.mock.timers.tick(30_000);
  assert.equal(FakeSocket.all.length, sockets, 'no new socket');
  assert.equal(live.status.connected, false);
  assert.equal(live.state.totals.people, 10);
});

test('close code 4001 (credential ended) stops reconnecting too', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  socket().message(snap(7, 41));
  socket().close(4001);
  assert.deepEqual(ended, ['ended']);
  t.mock.timers.tick(30_000);
  assert.equal(FakeSocket.all.length, 1, 'no new socket');
});

test('a handshake refused (closed before it opened) is told to onClose, and reconnects', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  socket().close(1006);
  assert.deepEqual(closes, [{ opened: true, code: 1006 }]);
  t.mock.timers.tick(700);
  assert.equal(FakeSocket.all.length, 2);
  socket().close(1006);
  assert.deepEqual(closes[1], { opened: false, code: 1006 });
  assert.deepEqual(ended, []);
});
