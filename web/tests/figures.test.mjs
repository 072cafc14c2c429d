// Figures that mean something, against the real `weibing serve` on a
// program that starts today: the nine rates (三案九率) on the wall, the
// console and the phone, with values worked out here from the events sent;
// scans by channel; the ranking in the server's order and on its basis; the
// map's fixed, labelled breaks; the targets against their plan. Screenshots
// of the wall at 1920×1080, at twice the pixels and at 3840×2160.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, tempDataDir, ingest, ingestRaw, snapshot, until, createCredential, wallToken } from './lib/server.mjs';
import { launch, openPage, screenshot, text, attr } from './lib/browser.mjs';
import { beijingToday, figuresBatch, moreScans, beijingTs, personId } from './lib/data.mjs';
import { COLOURS, CATEGORIES, PLANS, RATES, codes } from '../src/shared/lists.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FONT_CHARS = new Set([...fs.readFileSync(path.join(HERE, '..', 'src', 'wall', 'fonts', 'chars.txt'), 'utf8').trim()]);
const PASSWORD = 'figures-test-password';

let server;
let browser;
let batch;

let wall;
const pageUrl = (query = '') => `${server.url}/?token=${encodeURIComponent(wall)}${query}`;
// The server rounds a rate to 4 decimals; the wall shows one decimal of its percentage.
const share4 = (trues, n) => Math.round((trues / n) * 1e4) / 1e4;
const pct = (v) => `${(100 * v).toFixed(1)}%`;
const grouped = (n) => new Intl.NumberFormat('en-US').format(n);

before(async () => {
  server = await startServer({
    dataDir: tempDataDir('weibing-figures-'), tickMs: 200, adminPassword: PASSWORD,
    args: ['--program-start', beijingToday()],
  });
  wall = await wallToken(server);
  batch = figuresBatch('fig', 1);
  const answer = await ingest(server, batch.events);
  assert.deepEqual(answer, { accepted: batch.events.length, duplicates: 0, rejected: 0, errors: [] });
  await until('the batch counted', async () => {
    const { state } = await snapshot(server);
    return state.totals.scans === batch.expected.scans && state.rates.awareness.n === 17 && state.totals.managed === 3;
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Waits until the wall shows the server's current rates. */
async function wallReady(page) {
  await until('the wall to show the rates', async () => {
    const { state } = await snapshot(server);
    return (await attr(page, 'rate-awareness', 'data-n')) === String(state.rates.awareness.n);
  });
}

test('the server counts the rates as the events say (the contract the panels draw)', async () => {
  const { state } = await snapshot(server);
  const { awareness, participation } = batch.expected.rates;
  assert.deepEqual(state.rates.awareness, { value: share4(11, 17), n: 17, standard: 0.8, pass: false });
  // participation and compliance (依从率) are one slot.
  assert.deepEqual(state.rates.participation, { value: 0.8, n: 5, standard: 0.7, pass: true });
  assert.deepEqual(state.rates.satisfaction, { value: null, n: 0, standard: 0.9, pass: null });
  assert.equal(state.rates.management.n, 100_000);
  for (const [code, [trues, n]] of Object.entries(awareness.districts)) {
    assert.equal(state.districts[code].rates.awareness.value, share4(trues, n), `awareness of ${code}`);
    assert.equal(state.districts[code].rates.awareness.n, n, `n of ${code}`);
  }
  assert.equal(state.districts['110101'].rates.participation.n, participation.n);
  const channels = { ...batch.expected.channels };
  assert.deepEqual(state.channels, channels);
  assert.equal(state.index.basis, 'progress', 'on the program\'s first day quality data are thin');
  assert.equal(state.index.order.length, 16);
});

test('the wall\'s 三案九率 panel: exact percentages, n, standards, districts below, 待报 without data', async () => {
  const { context, page, errors } = await openPage(browser);
  await page.goto(pageUrl());
  await until('the wall to show the rates', async () => (await attr(page, 'rate-awareness', 'data-n')) === '17');
  const { state } = await snapshot(server);

  // 知晓率: 11 of 17 city-wide, below the 80% standard. A wall sees a
  // district's rate from 5 persons (k, docs/privacy.md): 丰台's 9, not 朝阳's
  // or 东城's 4.
  assert.equal(await text(page, 'rate-awareness-text'), pct(share4(11, 17)));
  assert.equal(await text(page, 'rate-awareness-text'), '64.7%');
  assert.equal(await attr(page, 'rate-awareness', 'data-value'), String(share4(11, 17)));
  assert.equal(await attr(page, 'rate-awareness', 'data-pass'), 'fail');
  assert.equal(await attr(page, 'rate-awareness', 'data-plan'), 'training');
  assert.equal(await page.locator('[data-testid="rate-awareness"] .rt-sub').textContent(), '标准 80% · 样本 17');
  assert.equal(await attr(page, 'rate-awareness', 'data-below'), '110106');
  assert.equal(await text(page, 'rate-awareness-below'), '1/1 区未达标');
  // 参与率: three participation and two compliance events, 4 of 5, at standard everywhere it is known.
  assert.equal(await text(page, 'rate-participation-text'), '80.0%');
  assert.equal(await attr(page, 'rate-participation', 'data-n'), '5');
  assert.equal(await attr(page, 'rate-participation', 'data-pass'), 'pass');
  assert.equal(await text(page, 'rate-participation-below'), '1 区达标');
  // 满意率: nobody observed: 待报, not 0%.
  assert.equal(await text(page, 'rate-satisfaction-text'), '待报');
  assert.equal(await attr(page, 'rate-satisfaction', 'data-pass'), 'none');
  assert.equal(await attr(page, 'rate-satisfaction', 'data-value'), '');
  assert.equal(await text(page, 'rate-satisfaction-below'), '');
  // 管理率: managed ÷ the target population of 100,000.
  const management = state.rates.management;
  assert.equal(await text(page, 'rate-management-text'), pct(management.value));
  assert.equal(await page.locator('[data-testid="rate-management"] .rt-sub').textContent(), '标准 60% · 目标人群 100,000');
  const belowManagement = Object.keys(state.districts).filter((c) => state.districts[c].rates.management.pass === false);
  const judgedManagement = Object.keys(state.districts).filter((c) => state.districts[c].rates.management.pass !== null);
  assert.equal(await text(page, 'rate-management-below'), `${belowManagement.length}/${judgedManagement.length} 区未达标`);
  // Three plans, three rates each, in the program's order.
  const plans = await page.locator('#rates .rate-plan').evaluateAll((groups) => groups.map((g) => [g.dataset.plan, [...g.querySelectorAll('li')].map((li) => li.dataset.rate)]));
  assert.deepEqual(plans, [
    ['training', ['awareness', 'participation', 'satisfaction']],
    ['technical', ['attainment', 'improvement', 'effectiveness']],
    ['implementation', ['management', 'control', 'prevention']],
  ]);

  // Live: more observations update the same row in place (nothing is rebuilt, nothing blanks).
  await page.evaluate(() => { document.querySelector('[data-testid="rate-awareness"]').__kept = true; });
  // Five more in 朝阳 (a district's figures move for viewers in steps of k events).
  const extra = ['110105', '110105', '110105', '110105', '110105'].map((district, i) => ({ id: `fig-more-${i}`, ts: beijingTs(5000), kind: 'outcome', district, person: personId(90_000 + i), rate: 'awareness', value: true }));
  assert.equal((await ingest(server, extra)).accepted, 5);
  await until('the new awareness', async () => (await attr(page, 'rate-awareness', 'data-n')) === '22');
  assert.equal(await text(page, 'rate-awareness-text'), pct(share4(16, 22)));
  // 朝阳: 6 of 9 now, shown, and below the standard.
  await until('朝阳 below', async () => (await attr(page, 'rate-awareness', 'data-below')) === '110105,110106');
  assert.equal(await text(page, 'rate-awareness-below'), '2/2 区未达标');
  assert.equal(await page.evaluate(() => document.querySelector('[data-testid="rate-awareness"]').__kept), true);
  assert.deepEqual(errors, []);
  await context.close();
});

test('scans by channel: the top three, 未标注 for none, the rest in one row', async () => {
  const { context, page, errors } = await openPage(browser);
  await page.goto(pageUrl());
  await wallReady(page);
  const rows = await page.locator('[data-testid="channels"] li:not([hidden])').evaluateAll((lis) => lis.map((li) => ({
    kind: li.dataset.kind, name: li.dataset.name ?? null, count: li.dataset.count,
    text: [...li.querySelectorAll('span, b')].map((e) => e.textContent).join('|'),
  })));
  assert.deepEqual(rows, [
    { kind: 'channel', name: 'wechat', count: '6', text: 'wechat|6|28.6%' },
    { kind: 'channel', name: '(none)', count: '5', text: '未标注|5|23.8%' },
    { kind: 'channel', name: 'poster', count: '4', text: 'poster|4|19.0%' },
    { kind: 'rest', name: null, count: '6', text: '其余 3 个渠道|6|28.6%' },
  ]);
  assert.equal(await attr(page, 'channels', 'data-total'), '21');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the ranking follows index.order, shows people per 10,000 and says it ranks by them', async () => {
  const { context, page, errors } = await openPage(browser);
  await page.goto(pageUrl());
  await wallReady(page);
  assert.equal(await text(page, 'ranking-basis'), '按每万人扫码排名 · 质量数据不足');
  // The order can change once a minute: compare with the snapshot until both agree.
  let state;
  await until('the page to show the server\'s order', async () => {
    state = (await snapshot(server)).state;
    return (await attr(page, 'ranking', 'data-order')) === state.index.order.join(',');
  });
  for (const [i, code] of state.index.order.entries()) {
    const d = state.districts[code];
    assert.equal(await attr(page, `rank-${code}`, 'data-order'), String(i + 1), `position of ${code}`);
    assert.equal(await attr(page, `rank-${code}`, 'data-basis'), 'progress');
    assert.equal(await attr(page, `rank-${code}`, 'data-value'), String(d.per_10k.people), `people per 10k of ${code}`);
    assert.equal(await page.locator(`[data-testid="rank-${code}"] .rk-value`).textContent(), d.per_10k.people.toFixed(1));
    assert.equal(await attr(page, `rank-${code}`, 'data-rank'), String(d.rank));
    assert.equal(await attr(page, `rank-${code}`, 'data-index'), String(d.index));
  }
  // On screen, top to bottom in that order (the rows have slid into place).
  await page.waitForTimeout(1200);
  const ys = [];
  for (const code of state.index.order) ys.push((await page.locator(`[data-testid="rank-${code}"]`).boundingBox()).y);
  assert.deepEqual(ys, [...ys].sort((a, b) => a - b), 'rows are drawn in index.order');
  assert.ok(ys[15] - ys[0] > 250, 'the 16 rows are spread over the panel');
  assert.deepEqual(errors, []);
  await context.close();
});

test('the map: people per 10,000 by district, and fixed, labelled breaks for each metric', async () => {
  const { context, page, errors } = await openPage(browser);
  await page.goto(pageUrl());
  await wallReady(page);
  const { state } = await snapshot(server);
  for (const code of Object.keys(state.districts)) {
    assert.equal(await attr(page, `district-${code}`, 'data-people10k'), String(state.districts[code].per_10k.people), code);
    assert.equal(await attr(page, `district-${code}`, 'data-managed10k'), String(state.districts[code].per_10k.managed), code);
  }
  const legend = (metric) => page.locator(`[data-testid="map-legend-${metric}"]`).evaluate((box) => ({
    title: box.querySelector('.ml-title').textContent,
    pieces: [...box.querySelectorAll('li')].map((li) => [li.textContent, li.dataset.min, li.dataset.max]),
  }));
  assert.deepEqual(await legend('people'), {
    title: '单位：人/万人',
    pieces: [['≥ 500', '500', ''], ['200–500', '200', '500'], ['100–200', '100', '200'], ['50–100', '50', '100'], ['25–50', '25', '50'], ['10–25', '10', '25'], ['0–10', '0', '10']],
  });
  assert.deepEqual(await legend('index'), {
    title: '单位：分（0–100）',
    pieces: [['80–100', '80', '100'], ['60–80', '60', '80'], ['40–60', '40', '60'], ['20–40', '20', '40'], ['0–20', '0', '20']],
  });
  for (const metric of ['managed', 'guardians']) {
    assert.deepEqual((await legend(metric)).pieces.map(([label]) => label), ['≥ 50', '25–50', '10–25', '5–10', '1–5', '0–1'], metric);
  }
  // The first metric is people per 10,000, its legend the one shown.
  assert.equal(await attr(page, 'map', 'data-metric'), 'people');
  assert.equal(await page.locator('[data-testid="map-legend-people"]').isVisible(), true);
  assert.equal(await page.locator('[data-testid="map-legend-index"]').isVisible(), false);
  // The same breaks whatever the data: more people change the values, not the legend.
  const before = await legend('people');
  assert.equal((await ingest(server, moreScans('fig-map', 200_000, 40))).accepted, 40);
  await until('the new people on the map', async () => {
    const { state: now } = await snapshot(server);
    return now.totals.people === 21 + 40
      && (await attr(page, 'district-110101', 'data-people10k')) === String(now.districts['110101'].per_10k.people);
  });
  assert.deepEqual(await legend('people'), before);
  assert.deepEqual(errors, []);
  await context.close();
});

test('targets against their plan: planned, ahead or behind by the gap, the time elapsed', async () => {
  const { context, page, errors } = await openPage(browser);
  await page.goto(pageUrl());
  await wallReady(page);
  // `planned` moves with the clock: compare with a snapshot until both agree.
  let state;
  await until('the page to show the server\'s plan', async () => {
    state = (await snapshot(server)).state;
    for (const k of ['people', 'interactive', 'managed', 'guardians']) {
      if ((await attr(page, `target-${k}`, 'data-planned')) !== String(state.targets[k].planned)) return false;
    }
    return true;
  });
  const words = { ahead: '超前计划', behind: '落后计划' };
  for (const k of ['people', 'interactive', 'managed', 'guardians']) {
    const tg = state.targets[k];
    assert.equal(await attr(page, `target-${k}`, 'data-status'), tg.status, k);
    assert.equal(await attr(page, `target-${k}`, 'data-gap'), String(tg.gap), k);
    assert.equal(await text(page, `target-${k}-planned`), `计划 ${grouped(tg.planned)}`, k);
    const status = page.locator(`[data-testid="target-${k}-status"]`);
    const shown = [await status.locator('.tg-status-label').textContent(), await status.locator('.tg-status-figure').textContent()];
    if (tg.status === 'behind') assert.deepEqual(shown, [words.behind, grouped(-tg.gap)], k);
    else if (tg.status === 'ahead' && tg.gap > 0) assert.deepEqual(shown, [words.ahead, grouped(tg.gap)], k);
    else if (tg.status === 'ahead') assert.deepEqual(shown, ['按计划进行', ''], k);
    else if (tg.status === 'reached') assert.deepEqual(shown, ['目标已达成', ''], k);
    else assert.deepEqual(shown, ['尚未开始', ''], k);
  }
  // Guardians: 0 certified on a day the plan already expects some (unless it is just past midnight).
  if (state.targets.guardians.planned > 0) assert.equal(state.targets.guardians.status, 'behind');
  const deadline = state.targets.people.deadline;
  assert.match(await text(page, 'target-time'), new RegExp(`^时间进度 \\d+\\.\\d+% · 期限 ${deadline}$`));
  assert.deepEqual(errors, []);
  await context.close();
});

async function shoot(viewport, name, query = '') {
  const { context, page, errors } = await openPage(browser, viewport);
  await page.goto(pageUrl(query));
  await wallReady(page);
  await until('the cover to open', async () => !(await page.locator('[data-testid="cover"]').isVisible()));
  await page.waitForTimeout(1800); // the charts' entry animation
  // Taken first, so that a failure below has its picture.
  const file = await screenshot(page, name);
  // Every character on the page is in the wall's font (no tofu in the new panels).
  const shown = await page.evaluate(() => document.body.innerText);
  const missing = [...new Set([...shown].filter((ch) => ch.trim() && !FONT_CHARS.has(ch)))];
  assert.deepEqual(missing, [], `characters not in the wall's font: ${missing.join('')}`);
  // No panel spills over another: their boxes on the stage do not intersect.
  const boxes = await page.evaluate(() => [...document.querySelectorAll('#stage .panel, #headline')].map((el) => {
    const r = el.getBoundingClientRect();
    return { id: el.id, x: r.left, y: r.top, r: r.right, b: r.bottom };
  }));
  for (const a of boxes) {
    for (const b of boxes) {
      if (a.id >= b.id) continue;
      const overlap = a.x < b.r - 1 && b.x < a.r - 1 && a.y < b.b - 1 && b.y < a.b - 1;
      assert.equal(overlap, false, `${a.id} overlaps ${b.id}`);
    }
  }
  // Nothing in the new panels is cut off: no element inside reaches past the
  // box's edges (measured on the elements, as a reader sees them; the
  // container's scrollHeight also counts the rounding of the sliding rows).
  const spill = await page.evaluate(() => ['rates', 'ranking', 'channels', 'target-cells'].flatMap((id) => {
    const box = document.getElementById(id).getBoundingClientRect();
    // (.sr-only text is for screen readers: one clipped pixel, not drawn.)
    return [...document.getElementById(id).querySelectorAll('*:not(.sr-only)')]
      .map((el) => [el, el.getBoundingClientRect()])
      .filter(([, r]) => r.height > 0 && (r.bottom > box.bottom + 1 || r.top < box.top - 1 || r.right > box.right + 1 || r.left < box.left - 1))
      .map(([el, r]) => `${id}: .${el.className} at ${r.left.toFixed(0)},${r.top.toFixed(0)}–${r.right.toFixed(0)},${r.bottom.toFixed(0)} outside ${box.left.toFixed(0)},${box.top.toFixed(0)}–${box.right.toFixed(0)},${box.bottom.toFixed(0)}`);
  }));
  assert.deepEqual(spill, []);
  assert.deepEqual(errors, []);
  await context.close();
  return file;
}

test('screenshots: 1920×1080, the same at twice the pixels, 3840×2160, and in English', async () => {
  await shoot({ width: 1920, height: 1080 }, 'figures-1920x1080.png');
  await shoot({ width: 1920, height: 1080, scale: 2 }, 'figures-1920x1080@2x.png');
  await shoot({ width: 3840, height: 2160 }, 'figures-3840x2160.png');
  await shoot({ width: 1920, height: 1080 }, 'figures-en.png', '&lang=en');
});

test('the console: each district\'s nine rates (the city first) and how its index is made', async () => {
  const { context, page, errors } = await openPage(browser, { width: 1440, height: 900 });
  await page.goto(`${server.url}/console#regions`);
  await page.getByTestId('login-name').fill('admin');
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await until('the console', async () => page.getByTestId('console').isVisible());
  await page.getByTestId('tab-regions').click();
  const rates = page.getByTestId('district-rates');
  await until('the rates table', async () => (await rates.locator('tbody tr').count()) === 17);
  await until('the latest awareness', async () => (await rates.locator('tr[data-id="city"] td[data-key="awareness"]').getAttribute('data-value')) === String(share4(16, 22)));
  const cell = async (row, key) => {
    const td = rates.locator(`tr[data-id="${row}"] td[data-key="${key}"]`);
    return { value: await td.getAttribute('data-value'), cls: await td.getAttribute('class'), text: await td.textContent() };
  };
  assert.equal(await rates.locator('tbody tr').first().getAttribute('data-id'), 'city', 'the city first');
  assert.deepEqual(await cell('city', 'awareness'), { value: String(share4(16, 22)), cls: 'num rate-fail', text: `${pct(share4(16, 22))}n 22` });
  assert.deepEqual(await cell('110106', 'awareness'), { value: '0.6667', cls: 'num rate-fail', text: '66.7%n 9' });
  assert.deepEqual(await cell('110101', 'awareness'), { value: '1', cls: 'num rate-pass', text: '100.0%n 4' });
  assert.deepEqual(await cell('110101', 'participation'), { value: '0.8', cls: 'num rate-pass', text: '80.0%n 5' });
  assert.deepEqual(await cell('110101', 'satisfaction'), { value: '', cls: 'num rate-none', text: '待报n 0' });
  assert.equal(await rates.locator('thead th[data-testid="district-rates-head-awareness"]').textContent(), '知晓率 ≥80%');

  const { state } = await snapshot(server);
  const index = page.getByTestId('district-index');
  await until('the index table', async () => (await index.locator('tbody tr').count()) === 16);
  const row = index.locator('tr[data-id="110106"]');
  const fengtai = state.districts['110106'];
  assert.equal(await row.locator('td[data-key="index"]').textContent(), fengtai.index.toFixed(1));
  assert.equal(await row.locator('td[data-key="progress"]').textContent(), fengtai.progress.toFixed(1));
  assert.equal(await row.locator('td[data-key="quality"]').textContent(), fengtai.quality.toFixed(1));
  // Nine persons observed (fewer than min_n = 30): 偏少; nobody: 待报 in the grace period.
  const flag = async (key) => [await row.locator(`td[data-key="${key}"] .comp`).getAttribute('data-flag'), await row.locator(`td[data-key="${key}"] .flag`).allTextContents()];
  assert.deepEqual(await flag('awareness'), ['thin', ['偏少']]);
  assert.deepEqual(await flag('satisfaction'), ['pending', ['待报']]);
  assert.equal(fengtai.components.awareness.flag, 'thin');
  assert.equal(fengtai.components.satisfaction.flag, 'pending');
  // Every weighted component has its column.
  for (const name of Object.keys(state.weights)) {
    assert.equal(await row.locator(`td[data-key="${name}"]`).count(), 1, name);
  }
  await page.getByTestId('district-rates').scrollIntoViewIfNeeded();
  await screenshot(page, 'figures-console-rates.png');
  assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
  await context.close();
});

test('the phone: the city\'s nine rates and the ranking in index.order; a district link its own rates', async () => {
  const city = await createCredential(server, { kind: 'link', label: 'figures-city', scope: 'city', expires_in_hours: 1 });
  const phone = await openPage(browser, { width: 390, height: 844, scale: 2 });
  await phone.page.goto(`${server.url}${city.url}`);
  await until('the rates', async () => (await attr(phone.page, 'v-rate-awareness', 'data-n')) === '22');
  assert.equal(await phone.page.locator('[data-testid="v-rate-awareness"] .v-rate-value').textContent(), pct(share4(16, 22)));
  assert.equal(await phone.page.locator('[data-testid="v-rate-participation"] .v-rate-value').textContent(), '80.0%');
  assert.equal(await phone.page.locator('[data-testid="v-rate-satisfaction"] .v-rate-value').textContent(), '待报');
  assert.equal(await attr(phone.page, 'v-rate-awareness', 'data-below'), '110105,110106');
  assert.equal(await text(phone.page, 'v-ranking-basis'), '按每万人扫码排名 · 质量数据不足');
  let state;
  await until('the server\'s order', async () => {
    state = (await snapshot(server, city.token)).state;
    const shown = await phone.page.locator('[data-testid="v-ranking"] li').evaluateAll((lis) => lis.map((li) => li.dataset.testid.slice('v-rank-'.length)));
    return shown.join(',') === state.index.order.join(',');
  });
  const first = state.index.order[0];
  assert.equal(await attr(phone.page, `v-rank-${first}`, 'data-value'), String(state.districts[first].per_10k.people));
  await phone.page.getByTestId('v-rates').scrollIntoViewIfNeeded();
  await screenshot(phone.page, 'figures-phone-city.png');
  assert.deepEqual(phone.errors, []);
  assert.deepEqual(phone.csp, []);
  await phone.context.close();

  // A district link: the state's own rates are the district's.
  const fengtai = await createCredential(server, { kind: 'link', label: 'figures-fengtai', scope: '110106', expires_in_hours: 1 });
  const view = await openPage(browser, { width: 390, height: 844, scale: 2 });
  await view.page.goto(`${server.url}${fengtai.url}`);
  await until('the district\'s rates', async () => (await attr(view.page, 'v-rate-awareness', 'data-n')) === '9');
  assert.equal(await view.page.locator('[data-testid="v-rate-awareness"] .v-rate-value').textContent(), '66.7%');
  assert.equal(await attr(view.page, 'v-rate-awareness', 'data-below'), '', 'no other district on a district link');
  assert.equal(await view.page.locator('#v-ranking-card').isVisible(), false);
  assert.deepEqual(view.errors, []);
  await view.context.close();
});

// Last in this file: the records it sends are refused, and stay counted as such.
test('lists.js holds the server\'s lists: the same codes as the live state, in the server\'s order, each named in zh and en', async () => {
  const { state } = await snapshot(server);
  // The state's objects are keyed by exactly these codes (it sends its keys in code-point order, docs/protocol.md).
  for (const [key, list] of [['colours', COLOURS], ['categories', CATEGORIES], ['rates', RATES]]) {
    assert.deepEqual(Object.keys(state[key]).sort(), codes(list).sort(), `the codes of state.${key}`);
  }
  for (const [code, d] of Object.entries(state.districts)) {
    assert.deepEqual(Object.keys(d.colours).sort(), codes(COLOURS).sort(), `the codes of ${code}'s colours`);
    assert.deepEqual(Object.keys(d.rates).sort(), codes(RATES).sort(), `the codes of ${code}'s rates`);
  }
  assert.deepEqual(Object.keys(state.index.standards).sort(), codes(RATES).sort());
  // Each rate in its plan, the program's (this server's region keeps them), and no other plan.
  assert.deepEqual(Object.fromEntries(Object.entries(state.index.standards).map(([r, s]) => [r, s.plan])),
    Object.fromEntries(RATES.map((r) => [r.code, r.plan])));
  assert.deepEqual([...new Set(RATES.map((r) => r.plan))], codes(PLANS), 'the plans, in order, three rates each');

  // The order: the server's own (src/model.rs), as it names the codes it takes when it refuses a record.
  const ts = beijingTs(1000);
  const refused = [
    { id: 'lists-colour', ts, kind: 'assess', district: '110101', person: personId(95_001), colour: 'not-a-colour' },
    { id: 'lists-category', ts, kind: 'service', district: '110101', person: personId(95_002), team: 'lists', category: 'not-a-category' },
    { id: 'lists-rate', ts, kind: 'outcome', district: '110101', person: personId(95_003), rate: 'not-a-rate', value: true },
  ];
  const { body } = await ingestRaw(server, `${refused.map((e) => JSON.stringify(e)).join('\n')}\n`);
  assert.equal(body.rejected, 3, JSON.stringify(body));
  const taken = (field) => {
    const m = body.errors.map((e) => /^(\w+): must be one of (.+), got /.exec(e.error)).find((x) => x?.[1] === field);
    assert.ok(m, `a refusal that names the ${field} codes: ${JSON.stringify(body.errors)}`);
    return m[2].split(', ');
  };
  assert.deepEqual(taken('colour'), codes(COLOURS));
  assert.deepEqual(taken('category'), codes(CATEGORIES));
  // Outcomes observe the rates but 管理率 (counted from enrolments); 依从率 (compliance) is counted in 参与率's slot.
  assert.deepEqual(taken('rate').filter((r) => r !== 'compliance'), codes(RATES).filter((r) => r !== 'management'));

  // Every code has its names, zh and en (and a colour its hue and short names).
  for (const v of [...COLOURS, ...CATEGORIES, ...PLANS, ...RATES]) {
    for (const lang of ['zh', 'en']) {
      assert.ok(typeof v.name[lang] === 'string' && v.name[lang].trim() !== '', `${v.code}: a ${lang} name`);
      if (v.short) assert.ok(typeof v.short[lang] === 'string' && v.short[lang].trim() !== '', `${v.code}: a short ${lang} name`);
    }
  }
  for (const c of COLOURS) assert.match(c.hue, /^#[0-9a-f]{6}$/, `${c.code}: a hue`);

  // The wall draws them in that order, by those names, each colour's swatch in its hue.
  const rgb = (hex) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;
  for (const lang of ['zh', 'en']) {
    const { context, page, errors } = await openPage(browser);
    await page.goto(pageUrl(lang === 'en' ? '&lang=en' : ''));
    await wallReady(page);
    const legend = await page.locator('#colour-legend li').evaluateAll((lis) => lis.map((li) => [
      li.dataset.colour, li.querySelector('.cl-name').textContent, getComputedStyle(li.querySelector('.swatch')).backgroundColor,
    ]));
    assert.deepEqual(legend, COLOURS.map((c) => [c.code, c.name[lang], rgb(c.hue)]), `the colours (${lang})`);
    const categories = await page.locator('#category-values li').evaluateAll((lis) => lis.map((li) => li.dataset.testid.slice('category-'.length)));
    assert.deepEqual(categories, codes(CATEGORIES), `the categories (${lang})`);
    const names = await page.locator('#category-values li').allTextContents();
    assert.deepEqual(names.map((n) => n.replace(/ \S+$/, '')), CATEGORIES.map((c) => c.name[lang]), `the categories' names (${lang})`);
    const rates = await page.locator('#rates .rate-plan').evaluateAll((groups) => groups.map((g) => [
      g.dataset.plan, g.querySelector('.rate-plan-name').textContent, [...g.querySelectorAll('li')].map((li) => [li.dataset.rate, li.querySelector('.rt-name').textContent]),
    ]));
    assert.deepEqual(rates, PLANS.map((p) => [p.code, p.name[lang], RATES.filter((r) => r.plan === p.code).map((r) => [r.code, r.name[lang]])]), `the rates (${lang})`);
    assert.deepEqual(errors, []);
    await context.close();
  }
});
