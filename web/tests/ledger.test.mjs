// 一帐三单 in the staff console, in headless Chromium against the real
// `weibing serve`: items added through the form (an overdue one highlighted
// and counted in the card's header, one due today, one with days left), the
// server's refusals shown word for word, the staff alert while an item is
// overdue, 办结 with an outcome and without one (the item greyed, who closed
// it, the count back to 0), an item closed elsewhere meanwhile, the API and
// the audit trail agreeing, and the lists of lists.js against the server's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, tempDataDir, call, until } from './lib/server.mjs';
import { launch, openPage, screenshot, text, attr } from './lib/browser.mjs';
import { LEDGER_LISTS, codes } from '../src/shared/lists.js';

const PASSWORD = 'ledger-test-password';
let server;
let browser;
let opened;

/** The Beijing date `days` from today, "YYYY-MM-DD". */
const beijingDay = (days = 0) => new Date(Date.now() + 8 * 3600e3 + days * 86_400e3).toISOString().slice(0, 10);

// The three items of the test, with their deadlines: four days ago, today, in ten days.
const OVERDUE = beijingDay(-4);
const TODAY = beijingDay(0);
const LATER = beijingDay(10);

before(async () => {
  server = await startServer({ dataDir: tempDataDir('weibing-ledger-'), tickMs: 200, adminPassword: PASSWORD });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The ids of the table's rows, top to bottom. */
const rowIds = (page) => page.locator('[data-testid="ledger"] tbody tr[data-id]').evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.id)));
const cell = (page, id, field) => text(page, `ledger-${id}-${field}`);
const colour = (page, testid, prop = 'color') => page.getByTestId(testid).evaluate((el, p) => getComputedStyle(el)[p], prop);
const rowColour = (page, id, prop) => page.getByTestId(`ledger-row-${id}`).locator('td').first().evaluate((el, p) => getComputedStyle(el)[p], prop);

async function fill(page, { list, district, team = '', title, owner, deadline, detail = '' }) {
  await page.getByTestId('ledger-list').selectOption(list);
  await page.getByTestId('ledger-district').selectOption(district);
  await page.getByTestId('ledger-team').fill(team);
  await page.getByTestId('ledger-title').fill(title);
  await page.getByTestId('ledger-owner').fill(owner);
  await page.getByTestId('ledger-deadline').fill(deadline);
  await page.getByTestId('ledger-detail').fill(detail);
}

test('lists.js holds the ledger\'s lists: the server names the same codes, in its order', async () => {
  const r = await call(server, 'POST', '/api/v1/ledger', { list: 'memo', district: '110106', title: 't', owner: 'o', deadline: TODAY });
  assert.equal(r.status, 400);
  assert.equal(r.body.error, `list: must be one of ${codes(LEDGER_LISTS).join(', ')}`);
  const empty = await call(server, 'GET', '/api/v1/ledger');
  assert.deepEqual({ ...empty.body, today: undefined }, { today: undefined, open: 0, overdue: 0, items: [] });
  assert.equal(empty.body.today, TODAY, 'the server\'s Beijing date is the test\'s');
});

test('the console\'s 一帐三单: an item past its deadline is highlighted and counted; one due today; one with days left', async () => {
  opened = await openPage(browser, { width: 1440, height: 900 });
  const { page } = opened;
  await page.goto(`${server.url}/console#ledger`);
  await page.getByTestId('login-name').fill('admin');
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('console').waitFor({ state: 'visible' });
  assert.equal(await attr(page, 'tab-ledger', 'aria-selected'), 'true');
  await until('the empty ledger', async () => (await text(page, 'ledger-overdue')) === '逾期 0 项');
  assert.equal(await text(page, 'ledger-open'), '未办结 0 项');
  assert.equal(await page.locator('[data-testid="ledger"] tbody').textContent(), '暂无事项');
  // The form's lists, in the program's order, by their names.
  assert.deepEqual(await page.getByTestId('ledger-list').locator('option').evaluateAll((os) => os.map((o) => [o.value, o.textContent])),
    [['task', '任务单'], ['supervision', '督办单'], ['feedback', '反馈单']]);
  assert.equal(await page.getByTestId('ledger-district').locator('option').count(), 17, '请选择 and the 16 districts');

  // A feedback item of a team, four days past its deadline.
  await fill(page, {
    list: 'feedback', district: '110106', team: 'ft-zxy-diabetes', title: '回访记录缺失', owner: '王主任', deadline: OVERDUE, detail: '十一月患教回访记录未上传',
  });
  await page.getByTestId('ledger-add').click();
  await until('the first item', async () => (await page.getByTestId('ledger-row-1').count()) === 1);
  assert.equal(await text(page, 'ledger-ok'), '已添加反馈单「回访记录缺失」');
  assert.equal(await page.getByTestId('ledger-error-box').isVisible(), false);
  assert.equal(await text(page, 'ledger-overdue'), '逾期 1 项');
  assert.equal(await attr(page, 'ledger-overdue', 'class'), 'count firing');
  assert.equal(await colour(page, 'ledger-overdue'), 'rgb(198, 40, 40)', 'the count in red');
  assert.equal(await text(page, 'ledger-open'), '未办结 1 项');
  assert.equal(await attr(page, 'ledger-row-1', 'data-state'), 'overdue');
  assert.deepEqual(await Promise.all(['list', 'district', 'team', 'title', 'detail', 'owner', 'deadline', 'status'].map((f) => cell(page, 1, f))),
    ['反馈单', '丰台区', 'ft-zxy-diabetes', '回访记录缺失', '十一月患教回访记录未上传', '王主任', OVERDUE, '逾期 4 天']);
  // The team's name from the registry above its id.
  assert.match(await page.getByTestId('ledger-row-1').locator('td').nth(2).textContent(), /^丰台中西医结合医院糖尿病团队ft-zxy-diabetes$/);
  assert.equal(await rowColour(page, 1, 'backgroundColor'), 'rgb(253, 240, 240)', 'the overdue row tinted red');
  assert.equal(await colour(page, 'ledger-1-status', 'backgroundColor'), 'rgb(198, 40, 40)');
  assert.equal(await colour(page, 'ledger-1-deadline'), 'rgb(198, 40, 40)');
  // The form is cleared for the next item; the list and the district stay.
  assert.deepEqual([await page.getByTestId('ledger-title').inputValue(), await page.getByTestId('ledger-list').inputValue(), await page.getByTestId('ledger-district').inputValue()],
    ['', 'feedback', '110106']);

  // The district's own task, ten days ahead; a supervision item due today in 朝阳区.
  await fill(page, { list: 'task', district: '110106', title: '十二月扫码推广', owner: '区办公室', deadline: LATER });
  await page.getByTestId('ledger-add').click();
  await until('the second item', async () => (await page.getByTestId('ledger-row-2').count()) === 1);
  await fill(page, { list: 'supervision', district: '110105', title: '季度例会材料', owner: '区中医药科', deadline: TODAY });
  await page.getByTestId('ledger-add').click();
  await until('the third item', async () => (await page.getByTestId('ledger-row-3').count()) === 1);
  assert.deepEqual(await Promise.all(['list', 'district', 'team', 'owner', 'status'].map((f) => cell(page, 2, f))),
    ['任务单', '丰台区', '区本级', '区办公室', '还剩 10 天']);
  assert.deepEqual(await Promise.all(['list', 'district', 'team', 'status'].map((f) => cell(page, 3, f))),
    ['督办单', '朝阳区', '区本级', '今日到期']);
  assert.deepEqual([await attr(page, 'ledger-row-2', 'data-state'), await attr(page, 'ledger-row-3', 'data-state')], ['open', 'open']);
  assert.equal(await rowColour(page, 2, 'backgroundColor'), 'rgba(0, 0, 0, 0)', 'an open item is not tinted');
  // Open items by deadline.
  assert.deepEqual(await rowIds(page), [1, 3, 2]);
  assert.equal(await text(page, 'ledger-overdue'), '逾期 1 项');
  assert.equal(await text(page, 'ledger-open'), '未办结 3 项');

  // The staff state's alert for 丰台区, shown with the others.
  await until('the ledger_overdue alert', async () => (await page.locator('[data-testid="alert"][data-kind="ledger_overdue"]').count()) === 1);
  const alert = page.locator('[data-testid="alert"][data-kind="ledger_overdue"]');
  assert.deepEqual(await alert.locator('span').evaluateAll((ss) => ss.slice(0, 3).map((s) => s.textContent)),
    ['台账逾期', '丰台区', `丰台区一帐三单逾期1项，最早期限${OVERDUE}`]);
  await screenshot(page, 'ledger-overdue.png');
});

test('a refused item shows the server\'s message as it is, and adds nothing', async () => {
  const { page } = opened;
  await fill(page, { list: 'task', district: '110106', title: '核对团队编号', owner: '13912345678', deadline: LATER });
  await page.getByTestId('ledger-add').click();
  await until('the refusal', async () => page.getByTestId('ledger-error-box').isVisible());
  assert.equal(await text(page, 'ledger-error'), 'owner: looks like an 11-digit mobile phone number; no personal numbers here');
  assert.equal(await text(page, 'ledger-error-box'), '未能添加：owner: looks like an 11-digit mobile phone number; no personal numbers here');
  assert.equal(await page.getByTestId('ledger-ok').isVisible(), false);
  // What was typed stays, to be corrected.
  assert.equal(await page.getByTestId('ledger-owner').inputValue(), '13912345678');
  await screenshot(page, 'ledger-refused-owner.png');

  await page.getByTestId('ledger-owner').fill('区办公室');
  await page.getByTestId('ledger-team').fill('ft-nobody');
  await page.getByTestId('ledger-add').click();
  await until('the second refusal', async () => (await text(page, 'ledger-error')).startsWith('team:'));
  assert.equal(await text(page, 'ledger-error'), 'team: "ft-nobody" is not a registered team of 丰台区 (110106)');
  await screenshot(page, 'ledger-refused-team.png');
  assert.deepEqual(await rowIds(page), [1, 3, 2], 'nothing added');
  assert.equal((await call(server, 'GET', '/api/v1/ledger')).body.items.length, 3);
});

test('办结 with an outcome: the item greyed, who closed it and the outcome; the count back to 0, the alert gone', async () => {
  const { page } = opened;
  await page.getByTestId('ledger-1-finish').click();
  await page.getByTestId('ledger-done-dialog').waitFor({ state: 'visible' });
  assert.equal(await text(page, 'ledger-done-title'), '办结反馈单「回访记录缺失」');
  await page.getByTestId('ledger-outcome').fill('已补传十一月回访记录');
  await screenshot(page, 'ledger-done-dialog.png');
  await page.getByTestId('ledger-done-submit').click();
  await until('the item done', async () => (await attr(page, 'ledger-row-1', 'data-state')) === 'done');
  assert.equal(await page.getByTestId('ledger-done-dialog').isVisible(), false);
  assert.equal(await text(page, 'ledger-overdue'), '逾期 0 项');
  assert.equal(await attr(page, 'ledger-overdue', 'class'), 'count');
  assert.equal(await text(page, 'ledger-open'), '未办结 2 项');
  assert.deepEqual(await Promise.all(['status', 'done-by', 'outcome'].map((f) => cell(page, 1, f))), ['已办结', 'admin', '已补传十一月回访记录']);
  assert.match(await cell(page, 1, 'done-at'), new RegExp(`^${TODAY} \\d{2}:\\d{2}:\\d{2}$`));
  // Greyed: muted text on grey, the title struck through, no 办结 button.
  assert.equal(await rowColour(page, 1, 'color'), 'rgb(93, 107, 133)');
  assert.equal(await rowColour(page, 1, 'backgroundColor'), 'rgb(247, 248, 250)');
  assert.equal(await colour(page, 'ledger-1-title', 'textDecorationLine'), 'line-through');
  assert.equal(await page.getByTestId('ledger-1-finish').count(), 0);
  // Open ones first by deadline, then the done one.
  assert.deepEqual(await rowIds(page), [3, 2, 1]);
  await until('the alert gone', async () => (await page.locator('[data-testid="alert"][data-kind="ledger_overdue"]').count()) === 0);
  await screenshot(page, 'ledger-done.png');
});

test('办结 without an outcome; an item closed elsewhere meanwhile is told, and shown done', async () => {
  const { page, errors, csp } = opened;
  await page.getByTestId('ledger-3-finish').click();
  await page.getByTestId('ledger-done-dialog').waitFor({ state: 'visible' });
  await page.getByTestId('ledger-done-submit').click();
  await until('the item done', async () => (await attr(page, 'ledger-row-3', 'data-state')) === 'done');
  assert.equal(await cell(page, 3, 'outcome'), '（未填写办结结果）');

  // Item 2, closed through the API while the page still offers 办结.
  const r = await call(server, 'POST', '/api/v1/ledger/2/done', { outcome: '已推广' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await page.getByTestId('ledger-2-finish').click();
  await page.getByTestId('ledger-done-dialog').waitFor({ state: 'visible' });
  await page.getByTestId('ledger-done-submit').click();
  await until('the conflict', async () => (await text(page, 'ledger-done-error')) !== '');
  assert.equal(await text(page, 'ledger-done-error'), `ledger item 2 was done already (by admin-token at ${r.body.done_at})`);
  await until('the list read again', async () => (await attr(page, 'ledger-row-2', 'data-state')) === 'done');
  await page.getByTestId('ledger-done-cancel').click();
  assert.deepEqual(await Promise.all(['done-by', 'outcome'].map((f) => cell(page, 2, f))), ['admin-token', '已推广']);
  assert.equal(await text(page, 'ledger-open'), '未办结 0 项');

  // The API and the audit trail agree with the page.
  const ledger = (await call(server, 'GET', '/api/v1/ledger')).body;
  assert.deepEqual([ledger.open, ledger.overdue], [0, 0]);
  assert.deepEqual(ledger.items.map((i) => [i.id, i.done_by, i.outcome, i.overdue]).sort((a, b) => a[0] - b[0]),
    [[1, 'admin', '已补传十一月回访记录', false], [2, 'admin-token', '已推广', false], [3, 'admin', null, false]]);
  const audit = (await call(server, 'GET', '/api/v1/audit?limit=200')).body.audit
    .filter((e) => String(e.action).startsWith('ledger_'))
    .map((e) => [e.action, e.target, e.actor])
    .sort((a, b) => a.join().localeCompare(b.join()));
  assert.deepEqual(audit, [
    ['ledger_added', '1', 'admin'], ['ledger_added', '2', 'admin'], ['ledger_added', '3', 'admin'],
    ['ledger_done', '1', 'admin'], ['ledger_done', '2', 'admin-token'], ['ledger_done', '3', 'admin'],
  ]);
  // The audit tab names the ledger's actions.
  await page.getByTestId('tab-audit').click();
  await until('the audit rows', async () => (await page.locator('[data-testid="audit-row"][data-action="ledger_done"]').count()) === 3);
  assert.equal(await page.locator('[data-testid="audit-row"][data-action="ledger_added"] td').nth(2).textContent(), '新增台账事项');

  assert.deepEqual(csp, []);
  // By design: the session check before sign-in (401), the two refusals (400), the conflict (409).
  assert.deepEqual(errors.filter((e) => !/status of (400|401|409)/.test(e)), []);
  assert.equal(errors.length, 4, errors.join('\n'));
  await opened.context.close();
});
