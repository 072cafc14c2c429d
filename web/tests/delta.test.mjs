// Deltas (docs/protocol.md): the page's applyDelta (src/shared/delta.js) by itself,
// then against the real server: a websocket client that applies every delta
// holds, at each seq, exactly the state the server's snapshot gives for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';

import { applyDelta, byCodePoint, leaves } from '../src/shared/delta.js';
import { startServer, tempDataDir, ingest, snapshot, until } from './lib/server.mjs';
import { beijingTs, firstBatch, moreScans, personId } from './lib/data.mjs';

test('keys are ordered by code point, not by UTF-16 code unit', () => {
  // U+FF5E is one code unit; U+20000 is two, starting with 0xD840.
  const keys = ['𠀀二队', '～一队', 'b', '丰台', 'a'];
  assert.deepEqual([...keys].sort(byCodePoint), ['a', 'b', '丰台', '～一队', '𠀀二队']);
  assert.deepEqual([...keys].sort(), ['a', 'b', '丰台', '𠀀二队', '～一队'], 'the default sort differs');
  assert.ok(byCodePoint('ab', 'a') > 0 && byCodePoint('a', 'ab') < 0 && byCodePoint('x', 'x') === 0);
});

test('leaves come depth first, keys sorted, arrays in order', () => {
  const doc = { z: 1, a: { y: [true, null, { k: 'v' }], b: 2 }, e: {}, n: [] };
  assert.deepEqual(leaves(doc).map(([c, k]) => c[k]), [2, true, null, 'v', 1]);
});

test('set gives leaves of the previous state their values, then ops change the shape', () => {
  const state = { totals: { people: 1, scans: 2 }, rates: {} };
  applyDelta(state, {
    set: [0, 5, 1, 7],
    ops: [{ op: 'add', path: '/rates/control', value: { value: 0.5, n: 2 } }],
  });
  assert.deepEqual(state, { totals: { people: 5, scans: 7 }, rates: { control: { value: 0.5, n: 2 } } });
  // The new rate's leaves come first now: n (0), value (1), then the totals.
  applyDelta(state, { set: [1, 0.75, 0, 3, 3, 8], ops: [] });
  assert.deepEqual(state, { totals: { people: 5, scans: 8 }, rates: { control: { value: 0.75, n: 3 } } });
});

test('a delta that does not fit the copy throws', () => {
  assert.throws(() => applyDelta({ a: 1 }, { set: [1, 2], ops: [] }), /leaf 1 of 1 does not exist/);
  assert.throws(() => applyDelta({ a: 1 }, { set: [0], ops: [] }), /pairs/);
  assert.throws(() => applyDelta({ a: 1 }, { set: [0, { b: 1 }], ops: [] }), /object/);
  assert.throws(() => applyDelta({ a: 1 }, { set: [], ops: [{ op: 'remove', path: '/no/such' }] }));
});

test('every delta of the real server, applied in order, gives the state of its seq', async () => {
  const server = await startServer({ dataDir: tempDataDir(), tickMs: 100 });
  const socket = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, {
    headers: { Authorization: `Bearer ${server.adminToken}` },
  });
  // Every state the client passed through, by seq, as text.
  const states = new Map();
  let state = null;
  let seq = 0;
  let deltas = 0;
  let structural = 0;
  const problems = [];
  socket.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.type === 'snapshot') {
      state = msg.state;
      seq = msg.seq;
    } else if (msg.type === 'delta') {
      if (msg.seq !== seq + 1) problems.push(`gap: ${seq} then ${msg.seq}`);
      try {
        applyDelta(state, msg);
      } catch (e) {
        problems.push(`seq ${msg.seq}: ${e.message}`);
      }
      seq = msg.seq;
      deltas += 1;
      if (msg.ops.length > 0) structural += 1;
    } else {
      return;
    }
    states.set(seq, JSON.stringify(state));
  });
  try {
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    // Each step is checked at the seq of the first snapshot that counts it.
    const check = async (what, counted) => {
      const snap = await until(what, async () => {
        const s = await snapshot(server);
        return counted(s.state) && s;
      });
      await until(`the client at seq ${snap.seq} (${what})`, () => states.has(snap.seq));
      assert.deepEqual(JSON.parse(states.get(snap.seq)), snap.state, `${what}: the state at seq ${snap.seq}`);
      return snap;
    };
    const first = firstBatch('delta');
    await ingest(server, first.events);
    const one = await check('the first batch', (s) => s.totals.people === first.expected.people);
    assert.equal(one.state.totals.people, first.expected.people);

    // Two teams whose names sort differently by code point and by UTF-16
    // unit, one with a '/' and a '~' to escape; their counts differ, so a
    // leaf given to the wrong team shows.
    let n = 10_000;
    let id = 0;
    const team = (name, people) => Array.from({ length: people }, () => {
      const person = personId(n++);
      return [
        { id: `team-${++id}`, ts: beijingTs(5000), kind: 'enroll', district: '110106', person, team: name },
        { id: `team-${++id}`, ts: beijingTs(5000), kind: 'service', district: '110106', person, team: name, category: 'treatment' },
      ];
    }).flat();
    await ingest(server, [...team('～一队/甲~乙', 3), ...team('𠀀二队', 7)]);
    await check('two new teams', (s) => s.districts['110106'].teams['𠀀二队']?.managed === 7);
    await ingest(server, [...team('～一队/甲~乙', 2), ...team('𠀀二队', 4)]);
    const teams = (await check('the teams grow', (s) => s.districts['110106'].teams['𠀀二队']?.managed === 11)).state.districts['110106'].teams;
    assert.deepEqual(teams['～一队/甲~乙'], { managed: 5, served: 5, services: 5 });
    assert.deepEqual(teams['𠀀二队'], { managed: 11, served: 11, services: 11 });

    // Outcomes give the nine rates (always present) their values: a null turns into a number.
    const outcome = (k, rate, value) => ({ id: `out-${k}`, ts: beijingTs(3000), kind: 'outcome', district: '110108', person: personId(20_000 + k), rate, value });
    await ingest(server, [outcome(1, 'control', true), outcome(2, 'control', false)]);
    await check('a rate gets its value', (s) => s.districts['110108'].rates.control?.n === 2);
    await ingest(server, [outcome(3, 'control', true), outcome(4, 'awareness', true), ...moreScans('more', 30_000, 40)]);
    const last = await check('rates and scans move', (s) => s.districts['110108'].rates.awareness?.n === 1 && s.totals.people === first.expected.people + 40);
    assert.deepEqual(last.state.districts['110108'].rates.control, { value: 0.6667, n: 3, standard: 0.6, pass: true });
    assert.deepEqual(problems, []);
    assert.ok(deltas >= 5, `a delta per step at least, got ${deltas}`);
    assert.ok(structural >= 2, `teams and channels came as ops, got ${structural}`);
  } finally {
    socket.close();
    await server.stop();
  }
});
