// The printable monthly review (/console/review) in headless Chromium against
// the real `weibing serve`: the synthetic history of tests/it/review.rs
// (October and November 2026 in 丰台区, persons p-XXXXXXXX only), the page's
// figures against the ones worked out there by hand and against the API
// itself, the month closed (已封账) and a late event leaving it as it was,
// the fourth quarter (?quarter=2026-Q4: its three months, never closed, so
// the late event is in it), the toolbar between month and quarter, the page
// without a session, the console's session, screenshots and A4 PDFs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, tempDataDir, ingest, call } from './lib/server.mjs';
import { launch, openPage, text, attr, ARTIFACTS } from './lib/browser.mjs';

const PASSWORD = 'review-test-password';
const FENGTAI = '110106';
const MONTH = '2026-11';
let server;
let browser;

const event = (id, ts, kind, person, extra) => ({ id, ts: `${ts}+08:00`, kind, district: FENGTAI, person, ...extra });
const enroll = (id, ts, person, team) => event(id, ts, 'enroll', person, { team });
const service = (id, ts, person, team, category) => event(id, ts, 'service', person, { team, category });
const outcome = (id, ts, person, rate, value) => event(id, ts, 'outcome', person, { rate, value });

/** tests/it/review.rs's history: October's one person, November's three more (one with a team the registry does not list). */
const HISTORY = [
  enroll('r-1', '2026-10-10T09:00:00', 'p-r000001', 'ft-zxy-diabetes'),
  service('r-2', '2026-10-12T09:00:00', 'p-r000001', 'ft-zxy-diabetes', 'health_management'),
  outcome('r-3', '2026-10-20T09:00:00', 'p-r000001', 'control', true),
  enroll('r-4', '2026-11-05T09:00:00', 'p-r000002', 'ft-zxy-diabetes'),
  enroll('r-5', '2026-11-06T09:00:00', 'p-r000003', 'ft-youanmen-hypertension'),
  enroll('r-6', '2026-11-07T09:00:00', 'p-r000004', 'ft-unlisted'),
  service('r-7', '2026-11-08T09:00:00', 'p-r000001', 'ft-zxy-diabetes', 'patient_followup'),
  service('r-8', '2026-11-09T09:00:00', 'p-r000002', 'ft-zxy-diabetes', 'treatment'),
  outcome('r-9', '2026-11-10T09:00:00', 'p-r000001', 'awareness', true),
  outcome('r-10', '2026-11-11T09:00:00', 'p-r000002', 'awareness', false),
  outcome('r-11', '2026-11-12T09:00:00', 'p-r000003', 'awareness', true),
  outcome('r-12', '2026-11-20T09:00:00', 'p-r000001', 'control', false),
  // Two scans through the diabetes team's own QR code, one elsewhere; two
  // guardians certified, one of them managed by the diabetes team.
  event('r-15', '2026-11-21T09:00:00', 'scan', 'p-r000001', { channel: 'ft-zxy-diabetes' }),
  event('r-16', '2026-11-21T09:05:00', 'scan', 'p-r000007', { channel: 'ft-zxy-diabetes' }),
  event('r-17', '2026-11-21T09:10:00', 'scan', 'p-r000008', { channel: 'wechat-share' }),
  event('r-18', '2026-11-25T09:00:00', 'train', 'p-r000002', { stage: 'certified' }),
  event('r-19', '2026-11-26T09:00:00', 'train', 'p-r000008', { stage: 'certified' }),
  // December: not in November's figures.
  enroll('r-13', '2026-12-01T09:00:00', 'p-r000006', 'ft-zxy-diabetes'),
];

const reviewUrl = (query = `?month=${MONTH}`) => `${server.url}/console/review${query}`;

/** A page signed in with the admin token (every request carries it, as a script's would). */
async function tokenPage() {
  const opened = await openPage(browser, { width: 1000, height: 1300 });
  await opened.context.setExtraHTTPHeaders({ Authorization: `Bearer ${server.adminToken}` });
  return opened;
}

async function ready(page, url) {
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.state !== 'loading', null, { timeout: 15_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready', await page.evaluate(() => document.body.innerText));
}

const cell = (page, team, field) => text(page, `team-${team}-${field}`);

/** A rate's cell: [value, n, verdict] as printed, and its data attributes. */
async function rate(page, key, code) {
  const id = `rate-${key}-${code}`;
  return {
    shown: [await text(page, `${id}-value`), await text(page, `${id}-n`), await text(page, `${id}-status`)],
    value: await attr(page, id, 'data-value'),
    standard: await attr(page, id, 'data-standard'),
  };
}

/** Every team row of the page, in rank order, equal to the API's answer (`query`: month=… or quarter=…) figure by figure. */
async function sameAsApi(page, query) {
  const api = await call(server, 'GET', `/api/v1/review?${query}&level=team`);
  assert.equal(api.status, 200);
  const rows = api.body.rows.filter((r) => r.district === FENGTAI).sort((a, b) => a.rank - b.rank);
  assert.equal(rows.length, 11);
  const shown = await page.locator('[data-testid="teams"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.testid));
  assert.deepEqual(shown, ['team-row-district', ...rows.map((r) => `team-row-${r.team}`)]);
  for (const r of rows) {
    const fields = { rank: String(r.rank), target: r.target, managed: r.managed, new: r.managed_new, services: r.services, followups: r.followups, scans: r.scans, guardians: r.guardians, passed: String(r.passed) };
    for (const [field, want] of Object.entries(fields)) {
      const value = field === 'rank' ? await cell(page, r.team, field) : await attr(page, `team-${r.team}-${field}`, 'data-value');
      assert.equal(value, String(want), `${r.team} ${field}`);
    }
    for (const [code, doc] of Object.entries(r.rates)) {
      const c = await rate(page, r.team, code);
      assert.equal(c.value, doc.value == null ? '' : String(doc.value), `${r.team} ${code}`);
      assert.equal(c.shown[1], `n ${doc.n.toLocaleString('en-US')}`, `${r.team} ${code} n`);
      assert.equal(c.shown[2], doc.n === 0 ? '待报' : doc.pass ? '达标' : '未达标', `${r.team} ${code} verdict`);
    }
  }
  return api.body;
}

/** The page printed to an A4 PDF in the artifacts: its number of pages. */
async function printPdf(page, name) {
  const file = path.join(ARTIFACTS, name);
  await page.pdf({ path: file, format: 'A4', printBackground: true });
  const pdf = fs.readFileSync(file);
  assert.equal(pdf.subarray(0, 4).toString('latin1'), '%PDF');
  return (pdf.toString('latin1').match(/\/Type\s*\/Page(?![a-zA-Z])/g) ?? []).length;
}

before(async () => {
  server = await startServer({ dataDir: tempDataDir('weibing-review-'), tickMs: 200, adminPassword: PASSWORD });
  const answer = await ingest(server, HISTORY);
  assert.equal(answer.accepted, HISTORY.length, JSON.stringify(answer));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('without a session the review says so and links to the console', async () => {
  const { context, page, errors, csp } = await openPage(browser, { width: 1000, height: 800 });
  await page.goto(reviewUrl());
  await page.waitForFunction(() => document.body.dataset.state !== 'loading');
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'signin');
  assert.match(await text(page, 'review-message'), /未登录/);
  assert.equal(await attr(page, 'review-signin-link', 'href'), '/console');
  assert.equal(await page.getByTestId('review').isVisible(), false, 'no document without figures');
  assert.deepEqual(csp, []);
  // The two reads answered 401, as they must.
  assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
  await context.close();
});

test('November 2026 in 丰台区: the figures of tests/it/review.rs, as the API gives them', async () => {
  const { context, page, errors, csp } = await tokenPage();
  await ready(page, reviewUrl());

  assert.equal(await page.title(), '首都中医治未病 · 月度考核报告 · 2026年11月 · 丰台区');
  assert.equal(await text(page, 'review-title'), '月度考核报告 · 2026年11月 · 丰台区');
  assert.equal(await attr(page, 'review-status', 'data-closed'), 'false');
  assert.match(await text(page, 'review-status'), /^未封账 数据截至 2026-12-01 00:00:00/);
  assert.equal(await text(page, 'review-as-of'), '2026-12-01 00:00:00');

  // The district: four managed of 15,000, three new, two services (one a follow-up), nothing at standard, first of 16.
  assert.equal(await text(page, 'summary-managed'), '4');
  assert.equal(await text(page, 'summary-target'), '15,000');
  assert.equal(await attr(page, 'summary-target', 'data-value'), '15000');
  assert.equal(await text(page, 'summary-new'), '3');
  assert.equal(await text(page, 'summary-previous-managed'), '1');
  assert.equal(await text(page, 'summary-services'), '2');
  assert.equal(await text(page, 'summary-previous-services'), '1');
  assert.equal(await text(page, 'summary-change-services'), '+1');
  assert.equal(await text(page, 'summary-followups'), '1');
  assert.equal(await text(page, 'summary-passed'), '0');
  assert.equal(await text(page, 'summary-rank'), '1');
  assert.equal(await text(page, 'summary-category-patient_followup'), '1');
  assert.equal(await text(page, 'summary-category-treatment'), '1');
  assert.equal(await page.getByTestId('summary-category-health_management').count(), 0, 'October\'s service is not November\'s');
  assert.deepEqual(await rate(page, 'district', 'awareness'), { shown: ['66.7%', 'n 3', '未达标'], value: '0.6667', standard: '0.8' });
  assert.deepEqual(await rate(page, 'district', 'control'), { shown: ['0.0%', 'n 1', '未达标'], value: '0', standard: '0.6' });
  assert.deepEqual(await rate(page, 'district', 'management'), { shown: ['0.0%', 'n 15,000', '未达标'], value: '0.0003', standard: '0.6' });

  // 丰台中西医结合医院糖尿病团队: p-r000001 (since October) and p-r000002.
  const d = 'ft-zxy-diabetes';
  assert.equal(await cell(page, d, 'name'), '丰台中西医结合医院糖尿病团队');
  assert.equal(await cell(page, d, 'institution'), '丰台中西医结合医院');
  assert.equal(await cell(page, d, 'discipline'), '糖尿病');
  assert.deepEqual(
    await Promise.all(['rank', 'target', 'managed', 'new', 'services', 'followups', 'scans', 'guardians', 'passed', 'change-managed', 'change-services'].map((f) => cell(page, d, f))),
    ['2', '1,000', '2', '1', '2', '1', '2', '1', '0', '+1', '+1'],
  );
  assert.deepEqual(await rate(page, d, 'awareness'), { shown: ['50.0%', 'n 2', '未达标'], value: '0.5', standard: '0.8' });
  assert.deepEqual(await rate(page, d, 'control'), { shown: ['0.0%', 'n 1', '未达标'], value: '0', standard: '0.6' });
  assert.deepEqual(await rate(page, d, 'management'), { shown: ['0.2%', 'n 1,000', '未达标'], value: '0.002', standard: '0.6' });
  assert.deepEqual((await rate(page, d, 'satisfaction')).shown, ['—', 'n 0', '待报']);

  // 右安门社区卫生服务中心高血压团队: one managed, aware: the one rate at standard, so first.
  const y = 'ft-youanmen-hypertension';
  assert.deepEqual(
    await Promise.all(['rank', 'discipline', 'managed', 'new', 'services', 'passed'].map((f) => cell(page, y, f))),
    ['1', '高血压', '1', '1', '0', '1'],
  );
  assert.deepEqual((await rate(page, y, 'awareness')).shown, ['100.0%', 'n 1', '达标']);
  // The placeholder tenth team: zeros, its discipline named.
  assert.deepEqual(
    await Promise.all(['discipline', 'managed', 'new', 'services', 'followups', 'passed'].map((f) => cell(page, 'ft-team-10', f))),
    ['非药物疗法', '0', '0', '0', '0', '0'],
  );
  // The team the registry does not list: marked, target 0, its management rate 待报.
  const u = 'ft-unlisted';
  assert.equal(await text(page, `team-${u}-unregistered`), '未登记');
  assert.equal(await attr(page, `team-row-${u}`, 'data-registered'), 'false');
  assert.equal(await page.locator('[data-testid$="-unregistered"]').count(), 1, 'only that one');
  assert.deepEqual([await cell(page, u, 'target'), await cell(page, u, 'managed'), await cell(page, u, 'institution')], ['0', '1', '—']);
  assert.deepEqual((await rate(page, u, 'management')).shown, ['—', 'n 0', '待报']);

  // Every team row, in rank order, equal to the API's answer figure by figure.
  await sameAsApi(page, `month=${MONTH}`);

  // The charts: a bar per team (its managed), a bar per rate (the district's), 待报 for satisfaction.
  assert.equal(await page.locator('[data-testid="chart-managed"] [data-testid^="chart-managed-"]').count(), 11);
  assert.equal(await attr(page, `chart-managed-${d}`, 'data-value'), '2');
  assert.equal(await attr(page, 'chart-rate-awareness', 'data-value'), '0.6667');
  assert.equal(await text(page, 'chart-rate-satisfaction'), '待报');

  await page.screenshot({ path: path.join(ARTIFACTS, 'review-2026-11.png'), fullPage: true });
  // As printed: the toolbar gone, the sheet on white.
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.getByTestId('print').isVisible(), false, 'the 打印 button is not printed');
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(255, 255, 255)');
  await page.screenshot({ path: path.join(ARTIFACTS, 'review-2026-11-print.png'), fullPage: true });
  await page.emulateMedia({ media: 'screen' });
  assert.deepEqual(csp, []);
  assert.deepEqual(errors, []);
  await context.close();
});

// The fourth quarter while November is open: October's three events,
// November's nine and December's enrolment (r-13). 丰台区: p-r000001…4 and
// p-r000006 managed, all five new to it this quarter, nothing the quarter
// before; the services r-2 (health management), r-7 (follow-up), r-8
// (treatment). The diabetes team: p-r000001, p-r000002 and p-r000006.
const QUARTER = '2026-Q4';
const QUARTER_END = Date.UTC(2027, 0, 1) - 8 * 3600e3;

test('the fourth quarter of 2026 in 丰台区: its three months as they stand, for the quarterly meeting', async () => {
  const { context, page, errors, csp } = await tokenPage();
  await ready(page, reviewUrl(`?quarter=${QUARTER}`));

  assert.equal(await page.title(), '首都中医治未病 · 季度考核报告 · 2026年第四季度 · 丰台区');
  assert.equal(await text(page, 'review-title'), '季度考核报告 · 2026年第四季度 · 丰台区');
  assert.equal(await page.evaluate(() => document.body.dataset.period), 'quarter');
  assert.equal(await attr(page, 'review-status', 'data-closed'), 'false');
  const status = await text(page, 'review-status');
  assert.match(status, /^季度汇总 数据截至 \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
  assert.ok(status.endsWith(' · 季度不封账：按现有全部事件（含补报）计算，已封账月份以其月度报告为准'), status);
  assert.equal(status.includes('本季度尚未结束，数字仍在变化'), Date.now() < QUARTER_END, status);
  assert.match(await text(page, 'review-meta'), /^统计期 2026年10月1日至12月31日 · 服务团队 11 支 · 打印时间 /);

  // The district.
  assert.equal(await text(page, 'summary-text'),
    '丰台区截至季末管理 5 人，目标 15,000 人（管理率 0.0%）；本季度新增 5 人，较上季度末 +5。'
    + '本季度服务 3 次（上季度 0 次），其中患教回访 1 次。九率中 0 项达标，在全市 16 个区中排名第 1。');
  assert.deepEqual(
    await Promise.all(['summary-managed', 'summary-target', 'summary-new', 'summary-previous-managed', 'summary-services',
      'summary-previous-services', 'summary-change-services', 'summary-followups', 'summary-passed', 'summary-rank'].map((id) => text(page, id))),
    ['5', '15,000', '5', '0', '3', '0', '+3', '1', '0', '1'],
  );
  assert.deepEqual(
    await Promise.all(['health_management', 'patient_followup', 'treatment'].map((c) => text(page, `summary-category-${c}`))),
    ['1', '1', '1'], 'October\'s service is the quarter\'s',
  );
  assert.deepEqual(await rate(page, 'district', 'awareness'), { shown: ['66.7%', 'n 3', '未达标'], value: '0.6667', standard: '0.8' });
  assert.deepEqual(await rate(page, 'district', 'control'), { shown: ['0.0%', 'n 1', '未达标'], value: '0', standard: '0.6' });
  assert.deepEqual(await rate(page, 'district', 'management'), { shown: ['0.0%', 'n 15,000', '未达标'], value: '0.0003', standard: '0.6' });
  // The words of a quarter.
  const heads = await page.locator('[data-testid="teams"] thead th').allTextContents();
  assert.deepEqual([heads[6], heads[12]], ['本季度新增', '较上季度']);

  // tests/it/review.rs's quarter: the diabetes team 3 managed, 3 new, 3 services, 1 follow-up, management 0.003.
  const d = 'ft-zxy-diabetes';
  assert.deepEqual(
    await Promise.all(['rank', 'target', 'managed', 'new', 'services', 'followups', 'passed', 'change-managed', 'change-services'].map((f) => cell(page, d, f))),
    ['2', '1,000', '3', '3', '3', '1', '0', '+3', '+3'],
  );
  assert.deepEqual(await rate(page, d, 'management'), { shown: ['0.3%', 'n 1,000', '未达标'], value: '0.003', standard: '0.6' });
  assert.deepEqual((await rate(page, d, 'awareness')).shown, ['50.0%', 'n 2', '未达标']);
  assert.deepEqual((await rate(page, d, 'control')).shown, ['0.0%', 'n 1', '未达标']);
  assert.deepEqual(
    await Promise.all(['rank', 'managed', 'new', 'services', 'passed'].map((f) => cell(page, 'ft-youanmen-hypertension', f))),
    ['1', '1', '1', '0', '1'],
  );
  assert.equal(await text(page, 'team-ft-unlisted-unregistered'), '未登记');
  const answer = await sameAsApi(page, `quarter=${QUARTER}`);
  assert.deepEqual([answer.quarter, answer.month], [QUARTER, undefined]);
  assert.equal(await attr(page, `chart-managed-${d}`, 'data-value'), '3');

  // The toolbar: the quarter chosen.
  assert.deepEqual(
    [await page.getByTestId('pick-kind').inputValue(), await page.getByTestId('pick-year').inputValue(), await page.getByTestId('pick-quarter').inputValue()],
    ['quarter', '2026', '4'],
  );
  assert.equal(await page.getByTestId('pick-month').isVisible(), false);

  await page.screenshot({ path: path.join(ARTIFACTS, 'review-2026-Q4.png'), fullPage: true });
  await page.emulateMedia({ media: 'print' });
  await page.screenshot({ path: path.join(ARTIFACTS, 'review-2026-Q4-print.png'), fullPage: true });
  const pages = await printPdf(page, `review-${QUARTER}.pdf`);
  assert.ok(pages >= 1 && pages <= 4, `A4 pages: ${pages}`);
  await page.emulateMedia({ media: 'screen' });

  // Switched to a month, the month's report.
  await page.getByTestId('pick-kind').selectOption('month');
  await page.getByTestId('pick-month').fill(MONTH);
  await page.getByTestId('pick-submit').click();
  await page.waitForURL(/\?month=2026-11&district=110106$/);
  await page.waitForFunction(() => document.body.dataset.state === 'ready');
  assert.equal(await text(page, 'review-title'), '月度考核报告 · 2026年11月 · 丰台区');
  assert.equal(await cell(page, d, 'managed'), '2');
  assert.deepEqual(
    [await page.getByTestId('pick-kind').inputValue(), await page.getByTestId('pick-year').inputValue(), await page.getByTestId('pick-quarter').inputValue()],
    ['month', '2026', '4'], 'the month\'s quarter ready to switch to',
  );
  assert.deepEqual(csp, []);
  assert.deepEqual(errors, []);
  await context.close();
});

test('closed: the page says 已封账, by whom and when; a late event leaves it as closed; the A4 PDF', async () => {
  const closed = await call(server, 'POST', '/api/v1/review/close', { month: MONTH });
  assert.equal(closed.status, 200, JSON.stringify(closed.body));
  // A back-fill of November after the close: a revision, not a change of the closed month.
  const late = await ingest(server, [enroll('r-14', '2026-11-15T09:00:00', 'p-r000005', 'ft-zxy-diabetes')]);
  assert.equal(late.accepted, 1);

  const { context, page, errors, csp } = await tokenPage();
  await ready(page, reviewUrl());
  assert.equal(await attr(page, 'review-status', 'data-closed'), 'true');
  assert.match(await text(page, 'review-status'), /^已封账 封账人 admin-token · 封账时间 \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/);
  assert.equal(await text(page, 'review-closed-by'), closed.body.closed_by);
  // closed_at in Beijing time, as the console writes times.
  const b = new Date(Date.parse(closed.body.closed_at) + 8 * 3600e3).toISOString();
  assert.equal(await text(page, 'review-closed-at'), `${b.slice(0, 10)} ${b.slice(11, 19)}`);
  assert.equal(await cell(page, 'ft-zxy-diabetes', 'managed'), '2', 'the closed figures');
  assert.equal(await text(page, 'summary-managed'), '4');

  await page.screenshot({ path: path.join(ARTIFACTS, 'review-2026-11-closed.png'), fullPage: true });
  await page.emulateMedia({ media: 'print' });
  await page.screenshot({ path: path.join(ARTIFACTS, 'review-2026-11-closed-print.png'), fullPage: true });
  const pages = await printPdf(page, `review-${MONTH}.pdf`);
  assert.ok(pages >= 1 && pages <= 4, `A4 pages: ${pages}`);
  assert.deepEqual(csp, []);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a quarter is never closed: November\'s back-fill is in the quarter, not in the closed month; from the month to the quarter', async () => {
  const { context, page, errors, csp } = await tokenPage();
  await ready(page, reviewUrl(`?month=${MONTH}`));
  assert.equal(await attr(page, 'review-status', 'data-closed'), 'true');
  assert.equal(await cell(page, 'ft-zxy-diabetes', 'managed'), '2', 'November as closed');
  // The toolbar, from the month to its quarter.
  await page.getByTestId('pick-kind').selectOption('quarter');
  assert.equal(await page.getByTestId('pick-month').isVisible(), false);
  await page.getByTestId('pick-submit').click();
  await page.waitForURL(/\?quarter=2026-Q4&district=110106$/);
  await page.waitForFunction(() => document.body.dataset.state === 'ready');
  assert.equal(await text(page, 'review-title'), '季度考核报告 · 2026年第四季度 · 丰台区');
  assert.equal(await attr(page, 'review-status', 'data-closed'), 'false');
  // r-14 (p-r000005, 2026-11-15, the diabetes team), stored after November's close: in the quarter.
  assert.deepEqual(
    await Promise.all(['managed', 'new', 'services', 'followups', 'change-managed'].map((f) => cell(page, 'ft-zxy-diabetes', f))),
    ['4', '4', '3', '1', '+4'],
  );
  assert.deepEqual((await rate(page, 'ft-zxy-diabetes', 'management')).shown, ['0.4%', 'n 1,000', '未达标']);
  assert.deepEqual([await text(page, 'summary-managed'), await text(page, 'summary-new'), await text(page, 'summary-services')], ['6', '6', '3']);
  await sameAsApi(page, `quarter=${QUARTER}`);
  assert.deepEqual(csp, []);
  assert.deepEqual(errors, []);
  await context.close();
});

test('the console\'s session reads it too; the console links to it; the previous month by default', async () => {
  const { context, page, errors, csp } = await openPage(browser, { width: 1440, height: 900 });
  await page.goto(`${server.url}/console#wall`);
  await page.getByTestId('login-name').fill('admin');
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('console').waitFor({ state: 'visible' });
  await page.getByTestId('export-month').fill(MONTH);
  assert.equal(await attr(page, 'review-link', 'href'), `/console/review?month=${MONTH}`);
  assert.equal(await attr(page, 'review-quarter-link', 'href'), '/console/review?quarter=2026-Q4');
  await page.getByTestId('export-month').fill('2026-03');
  assert.equal(await attr(page, 'review-quarter-link', 'href'), '/console/review?quarter=2026-Q1');

  await ready(page, reviewUrl(''));
  const b = new Date(Date.now() + 8 * 3600e3);
  const [year, month] = b.getUTCMonth() === 0 ? [b.getUTCFullYear() - 1, 12] : [b.getUTCFullYear(), b.getUTCMonth()];
  assert.equal(await page.getByTestId('pick-month').inputValue(), `${year}-${String(month).padStart(2, '0')}`);
  assert.equal(await text(page, 'review-title'), `月度考核报告 · ${year}年${month}月 · 丰台区`);

  await ready(page, reviewUrl(`?month=${MONTH}&district=${FENGTAI}`));
  assert.equal(await attr(page, 'review-status', 'data-closed'), 'true');
  assert.equal(await text(page, 'summary-managed'), '4');
  assert.deepEqual(csp, []);
  // The session check before sign-in answers 401 by design.
  assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), []);
  await context.close();
});
