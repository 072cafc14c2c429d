// The wall in headless Chromium against the real `weibing serve`: exact
// figures at 1920×1080 and 3840×2160, live updates, privacy, the launch
// moment, and recovery from a server that stops.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, tempDataDir, ingest, setWall, snapshot, until, createCredential, wallToken } from './lib/server.mjs';
import { launch, openPage, screenshot, text, attr } from './lib/browser.mjs';
import { CODES, COLOURS, firstBatch, moreScans } from './lib/data.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FONT_CHARS = new Set([...fs.readFileSync(path.join(HERE, '..', 'src', 'wall', 'fonts', 'chars.txt'), 'utf8').trim()]);
const PERSON_ID = /p-\d{8}/;

let server;
let browser;
let batch;
let dataDir;
// The suite's data folder with the wall token and no event: what a server
// started over on empty data is started from.
let emptyWithToken;
let wall;

/**
 * The page, as the server's binary embeds it, opened with a wall token (every
 * read needs a credential; a wall sees the city's state). `query` adds to
 * it: '&lang=en'.
 */
const pageUrl = (query = '', token = wall) => `${server.url}/?token=${encodeURIComponent(token)}${query}`;

before(async () => {
  dataDir = tempDataDir();
  server = await startServer({ dataDir, tickMs: 200 });
  wall = await wallToken(server);
  const { ingestKey, adminToken } = server;
  await server.stop();
  emptyWithToken = tempDataDir('weibing-token-only-');
  fs.cpSync(dataDir, emptyWithToken, { recursive: true });
  server = await startServer({ dataDir, tickMs: 200, ingestKey, adminToken });
  batch = firstBatch('wall');
  const answer = await ingest(server, batch.events);
  assert.deepEqual(answer, { accepted: batch.events.length, duplicates: 0, rejected: 0, errors: [] });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  if (emptyWithToken) fs.rmSync(emptyWithToken, { recursive: true, force: true });
});

/** Waits until the page shows `people` in the headline (its exact, accessible value). */
async function headlineReaches(page, people, ms = 15_000) {
  await until(`the headline to read ${people}`, async () => (await text(page, 'headline-value')) === String(people), ms);
}

async function checkExactFigures(page, errors, viewport) {
  const { people, districts, colours } = batch.expected;
  await headlineReaches(page, people);
  assert.equal(await attr(page, 'headline', 'aria-label'), `扫码人数 ${people}`);
  // The flop counter's digits, once rolled, show the same number.
  await until('the flop counter to settle', () => page.evaluate((n) => {
    const digits = [...document.querySelectorAll('#flop .flop-digit')].map((d) => d.dataset.digit).join('');
    return digits === String(n);
  }, people));
  assert.equal(await page.locator('#flop').getAttribute('data-value'), String(people));
  // The five colours, each exact.
  for (const c of COLOURS) {
    assert.equal(await text(page, `colour-${c}-value`), String(colours[c]), `colour ${c}`);
  }
  // 16 districts: all 16 joined to the map's regions, each with its exact people.
  assert.equal(await page.locator('#chart-map').getAttribute('data-regions'), '16');
  assert.equal(await page.locator('[data-testid^="district-"]').count(), 16);
  for (const code of CODES) {
    assert.equal(await attr(page, `district-${code}`, 'data-people'), String(districts[code]), `district ${code}`);
  }
  // Every other figure is exactly the server's (index, rank, managed, targets, categories).
  const { state } = await snapshot(server);
  for (const code of CODES) {
    const d = state.districts[code];
    assert.equal(await attr(page, `district-${code}`, 'data-index'), String(d.index), `index of ${code}`);
    assert.equal(await attr(page, `district-${code}`, 'data-managed'), String(d.managed), `managed of ${code}`);
    assert.equal(await attr(page, `rank-${code}`, 'data-rank'), String(d.rank), `rank of ${code}`);
  }
  for (const k of ['people', 'interactive', 'managed', 'guardians']) {
    assert.equal(await text(page, `target-${k}-value`), String(state.targets[k].value), `target ${k}`);
  }
  assert.equal(await text(page, 'target-people-value'), String(people));
  for (const [k, n] of Object.entries(state.categories)) {
    assert.equal(await attr(page, `category-${k}`, 'data-value'), String(n), `category ${k}`);
  }
  for (const k of ['managed', 'interactive', 'services', 'trainees', 'guardians', 'scans']) {
    assert.equal(await text(page, `total-${k}-value`), String(state.totals[k]), `total ${k}`);
  }
  assert.equal(await text(page, 'total-scans-value'), String(batch.events.filter((e) => e.kind === 'scan').length));
  // Readable from 10 m: a headline digit is at least 8% of the screen height.
  const digit = await page.locator('#flop .flop-digit').first().boundingBox();
  assert.ok(digit.height >= 0.08 * viewport.height, `digit ${digit.height}px high on a ${viewport.height}px screen`);
  // Sharp: the map's canvas has a device pixel for every screen pixel.
  const sharp = await page.evaluate(() => {
    const c = document.querySelector('#chart-map canvas');
    const r = c.getBoundingClientRect();
    return { backing: c.width, shown: r.width * devicePixelRatio };
  });
  assert.ok(sharp.backing >= Math.floor(sharp.shown), `map canvas ${sharp.backing}px wide shown at ${sharp.shown}px`);
  // The shipped font is in use, and holds every character on the page (no tofu).
  assert.equal(await page.evaluate(() => document.fonts.check('700 16px WallSans', '丰台区')), true);
  const shown = await page.evaluate(() => document.body.innerText);
  const missing = [...new Set([...shown].filter((ch) => ch.trim() && !FONT_CHARS.has(ch)))];
  assert.deepEqual(missing, [], `characters not in the wall's font: ${missing.join('')}`);
  assert.deepEqual(errors, []);
}

test('at 1920×1080 the wall shows the exact headline, 16 districts and five colours', async () => {
  const { context, page, errors } = await openPage(browser, { width: 1920, height: 1080 });
  await page.goto(pageUrl());
  await checkExactFigures(page, errors, { width: 1920, height: 1080 });
  // The stale banner is not up, the cover is gone, the freshness line is there.
  assert.equal(await page.locator('[data-testid="stale-banner"]').isVisible(), false);
  await until('the cover to open', async () => !(await page.locator('[data-testid="cover"]').isVisible()));
  assert.match(await text(page, 'freshness'), /^数据更新于 \d\d:\d\d:\d\d$/);
  assert.equal(await attr(page, 'conn', 'data-state'), 'live');
  await page.waitForTimeout(1500); // let the charts finish their entry animation
  await screenshot(page, 'wall-1920x1080.png');
  await context.close();
});

test('at 3840×2160 the wall shows the same exact figures, drawn at 4K', async () => {
  const { context, page, errors } = await openPage(browser, { width: 3840, height: 2160 });
  await page.goto(pageUrl());
  await checkExactFigures(page, errors, { width: 3840, height: 2160 });
  const map = await page.evaluate(() => document.querySelector('#chart-map canvas').width);
  const css = await page.evaluate(() => document.querySelector('#chart-map').offsetWidth);
  assert.equal(map, css * 2, 'the map canvas is drawn at twice the design size on a 4K screen');
  await page.waitForTimeout(1500);
  await screenshot(page, 'wall-3840x2160.png');
  await context.close();
});

test('in English (?lang=en) the wall shows the same figures', async () => {
  const { context, page, errors } = await openPage(browser);
  await page.goto(pageUrl('&lang=en'));
  await headlineReaches(page, batch.expected.people);
  assert.equal(await attr(page, 'headline', 'aria-label'), `People who scanned ${batch.expected.people}`);
  assert.match(await text(page, 'freshness'), /^Data as of \d\d:\d\d:\d\d$/);
  await page.waitForTimeout(1500);
  await screenshot(page, 'wall-en.png');
  assert.deepEqual(errors, []);
  await context.close();
});

test('after the grace period the ranking goes by the index, in the server\'s order (index.order)', async () => {
  const { context, page, errors } = await openPage(browser);
  await page.goto(pageUrl());
  await headlineReaches(page, batch.expected.people);
  // This region's calendar starts in 2017: its grace period is long over.
  assert.equal(await text(page, 'ranking-basis'), '按治未病指数排名');
  let state;
  await until('the page to show the server\'s order', async () => {
    state = (await snapshot(server)).state;
    return (await attr(page, 'ranking', 'data-order')) === state.index.order.join(',');
  });
  assert.equal(state.index.basis, 'index');
  for (const [i, code] of state.index.order.entries()) {
    assert.equal(await attr(page, `rank-${code}`, 'data-order'), String(i + 1), code);
    assert.equal(await attr(page, `rank-${code}`, 'data-basis'), 'index', code);
    assert.equal(await attr(page, `rank-${code}`, 'data-value'), String(state.districts[code].index), code);
    assert.equal(await page.locator(`[data-testid="rank-${code}"] .rk-value`).textContent(), state.districts[code].index.toFixed(1), code);
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test('more events: the counter reaches the new exact value without a reload', async () => {
  const { context, page, errors } = await openPage(browser);
  await page.goto(pageUrl());
  await headlineReaches(page, batch.expected.people);
  await page.evaluate(() => { window.__sameDocument = true; });
  const extra = moreScans('more', batch.lastPerson + 1, 37);
  const answer = await ingest(server, extra);
  assert.equal(answer.accepted, 37);
  batch.lastPerson += 37;
  batch.expected.people += 37;
  for (const e of extra) batch.expected.districts[e.district] += 1;
  await headlineReaches(page, batch.expected.people);
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
  for (const code of CODES) {
    assert.equal(await attr(page, `district-${code}`, 'data-people'), String(batch.expected.districts[code]), `district ${code}`);
  }
  // The ticker tells each district's scans in the last full minute, as the
  // server counts them (which minute that is depends on the clock: compare).
  await until('the ticker to match the server', async () => {
    const { state } = await snapshot(server);
    const busy = Object.values(state.districts).filter((d) => d.scans_last_minute > 0)
      .sort((a, b) => b.scans_last_minute - a.scans_last_minute);
    const shown = await page.locator('#ticker-track').getAttribute('data-text');
    return busy.length === 0 ? shown === '各区近1分钟暂无新扫码'
      : busy.every((d) => shown.includes(`${d.name} 近1分钟 +${d.scans_last_minute} 扫码`));
  });
  assert.equal(Number(await attr(page, 'sync', 'data-deltas')) > 0, true, 'the change came as a delta');
  assert.deepEqual(errors, []);
  await context.close();
});

test('no person id reaches the page', async () => {
  const { context, page, errors, frames } = await openPage(browser);
  await page.goto(pageUrl());
  await headlineReaches(page, batch.expected.people);
  await page.waitForTimeout(1000);
  const html = await page.content();
  const shown = await page.evaluate(() => document.body.innerText);
  assert.equal(PERSON_ID.test(html), false, 'a person id is in the page HTML');
  assert.equal(PERSON_ID.test(shown), false, 'a person id is on screen');
  assert.ok(frames.count > 0, 'the page received websocket frames');
  const leaked = frames.texts.filter((f) => PERSON_ID.test(f));
  assert.deepEqual(leaked, [], 'a person id came over the websocket');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the launch moment: cover before, kept over a reload, figures after launch', async () => {
  const { context, page, errors } = await openPage(browser);
  await setWall(server, { phase: 'before', countdown_to: null });
  await page.goto(pageUrl());
  await until('the cover', async () => (await page.locator('body').getAttribute('data-phase')) === 'before');
  assert.equal(await page.locator('[data-testid="cover"]').isVisible(), true);
  await page.reload();
  await until('the cover after a reload', async () => (await page.locator('body').getAttribute('data-phase')) === 'before');
  assert.equal(await page.locator('[data-testid="cover"]').isVisible(), true);
  // A countdown set by the console shows on the cover.
  const to = new Date(Date.now() + 3600_000 + 5000).toISOString().replace(/\.\d+Z$/, 'Z');
  await setWall(server, { phase: 'before', countdown_to: to });
  await until('the countdown', async () => /^00:59:\d\d$|^01:00:0\d$/.test((await text(page, 'countdown')) ?? ''));
  await screenshot(page, 'wall-cover.png');
  // The key on the wall PC launches it (POST /api/v1/wall with the page's token).
  await page.keyboard.press('Control+Shift+L');
  await until('the launch', async () => (await page.locator('body').getAttribute('data-phase')) === 'live');
  await until('the cover to open', async () => !(await page.locator('[data-testid="cover"]').isVisible()), 5000);
  await headlineReaches(page, batch.expected.people);
  assert.notEqual((await snapshot(server)).state.wall.launched_at, null);
  // The cover is for staff: Ctrl+Shift+B with the wall's token is refused, and said so.
  await page.keyboard.press('Control+Shift+B');
  await until('the refusal', async () => /^操作未成功：大屏只能启动/.test((await text(page, 'toast')) ?? ''));
  assert.equal((await snapshot(server)).state.wall.phase, 'live');
  // Staff put the cover back; every wall follows.
  await setWall(server, { phase: 'before', countdown_to: null });
  await until('the cover again', async () => (await page.locator('body').getAttribute('data-phase')) === 'before');
  // Launch again through the API: every wall follows.
  await setWall(server, { phase: 'live' });
  await until('the launch by the console', async () => (await page.locator('body').getAttribute('data-phase')) === 'live');
  // The browser logs the refused cover itself (403); nothing else may fail.
  assert.deepEqual(errors.filter((e) => !/403/.test(e)), []);
  await context.close();
});

test('without a token the wall shows no figures; a leader\'s link token shows them but cannot launch', async () => {
  const { context, page, errors } = await openPage(browser);
  // No credential: /ws answers 401, the cover keeps saying it connects.
  await page.goto(`${server.url}/`);
  await page.waitForTimeout(1500);
  assert.equal(await page.locator('body').getAttribute('data-phase'), 'connecting');
  assert.equal(await text(page, 'headline-value'), '');
  assert.equal(await attr(page, 'conn', 'data-state'), 'connecting');
  await page.keyboard.press('Control+Shift+B');
  await until('the toast', () => page.locator('[data-testid="toast"]').isVisible());
  assert.match(await text(page, 'toast'), /控制台/);
  assert.equal((await snapshot(server)).state.wall.phase, 'live', 'nothing was changed');
  // A city link's token reads the city state, and may not set the launch moment.
  const link = await createCredential(server, { kind: 'link', label: 'wall-test', scope: 'city', expires_in_hours: 1 });
  await page.goto(pageUrl('', link.token));
  await headlineReaches(page, batch.expected.people);
  await page.keyboard.press('Control+Shift+B');
  await until('the refusal', async () => /^操作未成功/.test((await text(page, 'toast')) ?? ''));
  assert.equal((await snapshot(server)).state.wall.phase, 'live', 'nothing was changed');
  // The browser logs the refused requests itself (401); nothing else may fail.
  assert.deepEqual(errors.filter((e) => !/401|WebSocket/.test(e)), []);
  await context.close();
});

test('a silent server (SIGSTOP): the stale banner after 3 ticks; it clears by itself when messages come again', async () => {
  const { context, page, errors } = await openPage(browser);
  await page.goto(pageUrl());
  await headlineReaches(page, batch.expected.people);
  await until('the cover to open', async () => !(await page.locator('[data-testid="cover"]').isVisible()));
  // Until the page has measured the server's tick it assumes 2 s (stale after 6 s).
  await until('the page to measure the 200 ms tick', async () => Number(await attr(page, 'sync', 'data-tick-ms')) < 400);
  const connects = await attr(page, 'sync', 'data-connects');
  assert.equal(connects, '1');
  server.proc.kill('SIGSTOP');
  try {
    // The socket stays open; only the messages stop (tick 200 ms: stale after 1 s).
    const stoppedAt = Date.now();
    await until('the stale banner', () => page.locator('[data-testid="stale-banner"]').isVisible(), 5000);
    assert.ok(Date.now() - stoppedAt < 3000, `stale after ${Date.now() - stoppedAt} ms`);
    assert.equal(await attr(page, 'conn', 'data-state'), 'stale');
    assert.match(await text(page, 'stale-banner'), /数据连接中断/);
    assert.equal(await text(page, 'headline-value'), String(batch.expected.people));
  } finally {
    server.proc.kill('SIGCONT');
  }
  await until('the stale banner to go', async () => !(await page.locator('[data-testid="stale-banner"]').isVisible()), 8000);
  assert.equal(await attr(page, 'conn', 'data-state'), 'live');
  assert.equal(await attr(page, 'sync', 'data-connects'), connects, 'the same socket carried on');
  assert.deepEqual(errors, []);
  await context.close();
});

test('server stops: the stale banner appears; restarted, the page recovers by itself', async () => {
  const { context, page } = await openPage(browser);
  await page.goto(pageUrl());
  await headlineReaches(page, batch.expected.people);
  await until('the cover to open', async () => !(await page.locator('[data-testid="cover"]').isVisible()));
  const epoch = await attr(page, 'sync', 'data-epoch');
  const port = server.port;
  await server.stop('SIGKILL');
  await until('the stale banner', () => page.locator('[data-testid="stale-banner"]').isVisible(), 8000);
  assert.equal(await attr(page, 'conn', 'data-state'), 'stale');
  // The last picture stays up: nothing blanks.
  assert.equal(await text(page, 'headline-value'), String(batch.expected.people));
  assert.equal(await page.locator('#flop').getAttribute('data-value'), String(batch.expected.people));
  await screenshot(page, 'wall-stale.png');

  server = await startServer({ dataDir, port, tickMs: 200, ingestKey: server.ingestKey, adminToken: server.adminToken });
  const fresh = await snapshot(server);
  assert.notEqual(String(fresh.epoch), epoch, 'a restarted server has a new epoch');
  await until('the page to take the new epoch', async () => (await attr(page, 'sync', 'data-epoch')) === String(fresh.epoch), 30_000);
  await until('the stale banner to go', async () => !(await page.locator('[data-testid="stale-banner"]').isVisible()), 10_000);
  assert.equal(await attr(page, 'conn', 'data-state'), 'live');
  await headlineReaches(page, batch.expected.people);
  for (const c of COLOURS) {
    assert.equal(await text(page, `colour-${c}-value`), String(batch.expected.colours[c]), `colour ${c}`);
  }
  for (const code of CODES) {
    assert.equal(await attr(page, `district-${code}`, 'data-people'), String(batch.expected.districts[code]), `district ${code}`);
  }
  await context.close();
});

test('a lower figure (a server started over on empty data) is set at once, never rolled down', async () => {
  const { context, page, errors } = await openPage(browser);
  await page.goto(pageUrl());
  await headlineReaches(page, batch.expected.people);
  await until('the cover to open', async () => !(await page.locator('[data-testid="cover"]').isVisible()));
  // Record the counter's value whenever a digit starts to roll.
  await page.evaluate(() => {
    window.__rolls = [];
    const flop = document.getElementById('flop');
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.target.classList?.contains('rolling')) window.__rolls.push(flop.dataset.value);
      }
    }).observe(flop, { subtree: true, attributes: true, attributeFilter: ['class'] });
  });
  const port = server.port;
  await server.stop();
  // Empty of events; the wall's token is known there.
  const emptyDir = tempDataDir('weibing-empty-');
  fs.cpSync(emptyWithToken, emptyDir, { recursive: true });
  const other = await startServer({ dataDir: emptyDir, port, tickMs: 200, ingestKey: server.ingestKey, adminToken: server.adminToken });
  try {
    await headlineReaches(page, 0, 30_000);
    await page.waitForTimeout(500);
    assert.deepEqual(await page.evaluate(() => window.__rolls), [], 'no digit rolled on the way down');
    assert.equal(await page.locator('#flop').getAttribute('data-value'), '0');
    assert.equal(await page.locator('#flop .flop-digit').count(), 1);
    // Growing again rolls forwards as usual.
    await ingest(other, moreScans('again', 1, 5));
    await headlineReaches(page, 5);
    await until('a forward roll', async () => (await page.evaluate(() => window.__rolls)).includes('5'));
    assert.deepEqual(errors.filter((e) => !/WebSocket/.test(e)), []);
  } finally {
    await other.stop();
    fs.rmSync(emptyDir, { recursive: true, force: true });
    // Put the suite's server back for anything after this test.
    server = await startServer({ dataDir, port, tickMs: 200, ingestKey: other.ingestKey, adminToken: other.adminToken });
    await context.close();
  }
});
