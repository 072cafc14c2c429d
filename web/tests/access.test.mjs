// The staff console and the leaders' phone view in headless Chromium against
// the real `weibing serve`: sign-in (wrong, then right), live counters equal
// to the snapshot, a share link made in the console opened on a phone,
// revocation reaching the open phone page, a district link showing only its
// district, rejected raw text shown as text, and no CSP violation anywhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, tempDataDir, ingest, ingestRaw, snapshot, until, createCredential, call } from './lib/server.mjs';
import { launch, openPage, screenshot, text, attr } from './lib/browser.mjs';
import { CODES, firstBatch, teamBatch } from './lib/data.mjs';

const PASSWORD = 'console-test-password';
let server;
let browser;
let batch;
let staff;
let consolePage;

before(async () => {
  server = await startServer({ dataDir: tempDataDir('weibing-access-'), tickMs: 200, adminPassword: PASSWORD });
  batch = firstBatch('acc');
  const answer = await ingest(server, batch.events);
  assert.equal(answer.accepted, batch.events.length);
  await until('the batch counted', async () => (await snapshot(server)).state.totals.people === batch.expected.people);
  staff = (await snapshot(server)).state;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the console: a wrong password is refused, the right one shows live counters equal to the snapshot', async () => {
  consolePage = await openPage(browser, { width: 1440, height: 900 });
  const { page } = consolePage;
  await page.goto(`${server.url}/console`);
  await page.getByTestId('login-name').fill('admin');
  await page.getByTestId('login-password').fill('not-the-password');
  await page.getByTestId('login-submit').click();
  await until('the error', async () => (await page.getByTestId('login-error').isVisible()));
  assert.match(await text(page, 'login-error'), /用户名或密码错误/);
  assert.equal(await page.getByTestId('console').isVisible(), false);

  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await until('the console', async () => page.getByTestId('console').isVisible());
  assert.equal(await text(page, 'user-name'), 'admin');
  await until('the counters', async () => (await attr(page, 'counter-people-value', 'data-value')) === String(staff.totals.people));
  assert.equal(await attr(page, 'counter-scans-value', 'data-value'), String(staff.totals.scans));
  assert.equal(await attr(page, 'counter-assessed-value', 'data-value'), String(staff.totals.assessed));
  // The cookie is HttpOnly: the page's script cannot read it.
  assert.equal(await page.evaluate(() => document.cookie), '');
  // Live: more people arrive, the counter follows.
  await ingest(server, [{ id: 'acc-live-1', ts: new Date().toISOString(), kind: 'scan', district: CODES[0], person: 'p-99000001' }]);
  await until('the new person', async () => (await attr(page, 'counter-people-value', 'data-value')) === String(staff.totals.people + 1));
  staff = (await snapshot(server)).state;
  await screenshot(page, 'console-overview.png');
  assert.deepEqual(consolePage.csp, []);
  // The session check before sign-in and the wrong password answer 401 by design.
  assert.deepEqual(consolePage.errors.filter((e) => !/status of 401/.test(e)), []);
  assert.equal(consolePage.errors.length, 2);
});

test('the rejected list shows raw text as text, never as markup', async () => {
  const { page } = consolePage;
  const bad = '{"id":"<b>x</b>","kind":"scan"}';
  const r = await ingestRaw(server, bad);
  assert.equal(r.status, 200);
  assert.equal(r.body.rejected, 1);
  await page.getByTestId('rejected-refresh').click();
  await until('the rejected row', async () => (await page.getByTestId('rejected-raw').count()) > 0);
  assert.equal(await page.getByTestId('rejected-raw').first().textContent(), bad);
  assert.equal(await page.locator('[data-testid="rejected"] b').count(), 0, 'no <b> element was made');
});

let linkUrl;
let phone;

test('a city link made in the console opens on a phone with the live figures', async () => {
  const { page } = consolePage;
  await page.getByTestId('tab-access').click();
  await page.getByTestId('link-label').fill('市领导手机');
  await page.getByTestId('link-scope').selectOption('city');
  await page.getByTestId('link-hours').fill('24');
  await page.getByTestId('link-create').click();
  await until('the new link', async () => (await page.getByTestId('once-value').inputValue()).includes('/v/'));
  linkUrl = await page.getByTestId('once-value').inputValue();
  assert.match(linkUrl, /^http:\/\/127\.0\.0\.1:\d+\/v\/[0-9a-f]{64}$/);
  await screenshot(page, 'console-link-created.png');
  await page.getByTestId('once-close').click();

  phone = await openPage(browser, { width: 390, height: 844, scale: 2 });
  await phone.page.goto(linkUrl);
  await until('the headline', async () => (await text(phone.page, 'v-headline-value')) === String(staff.totals.people));
  await until('the meta line', async () => (await text(phone.page, 'v-meta')).includes('市领导手机'));
  await screenshot(phone.page, 'view-phone-city.png');
  assert.equal(await phone.page.getByTestId('ended').isVisible(), false);
  // The phone's socket carries no person id of the batch.
  const frames = phone.frames.texts.join('\n');
  assert.ok(frames.includes('"type":"snapshot"'));
  assert.doesNotMatch(frames, /p-\d{8}/);
  assert.doesNotMatch(frames, /"alerts"/, 'alerts are for staff');
  assert.deepEqual(phone.csp, []);
});

test('revoking the link in the console ends the open phone page at once', async () => {
  const { page } = consolePage;
  const links = await call(server, 'GET', '/api/v1/credentials?kind=link');
  const link = links.body.credentials.find((c) => c.label === '市领导手机');
  assert.equal(link.state, 'active');
  const row = page.getByTestId(`credential-${link.id}`);
  await until('the link listed', async () => (await row.count()) === 1);
  await row.getByTestId('revoke').click();
  await page.getByTestId('confirm-ok').click();
  const revokedAt = Date.now();
  await until('the phone to say the link ended', async () => phone.page.getByTestId('ended').isVisible(), 5_000);
  assert.ok(Date.now() - revokedAt < 5_000);
  assert.match(await phone.page.getByTestId('ended').textContent(), /链接已失效/);
  await screenshot(phone.page, 'view-phone-ended.png');
  await until('the console shows it revoked', async () => (await row.getAttribute('data-state')) === 'revoked');
  // A reload of the ended link shows the same, without data.
  await phone.page.reload();
  await until('ended after reload', async () => phone.page.getByTestId('ended').isVisible(), 5_000);
  await phone.context.close();
});

test('team tables: staff see every figure, sortable; a district phone sees small teams suppressed, and the team beside them', async () => {
  const teams = teamBatch('acc-team', batch.lastPerson + 1000);
  assert.equal((await ingest(server, teams.events)).accepted, teams.events.length);
  await until('the teams counted', async () => (await snapshot(server)).state.districts['110106'].teams['ft-big']?.managed === 6);
  const { page } = consolePage;
  await page.getByTestId('tab-regions').click();
  await page.getByTestId('team-district').selectOption('110106');
  const rowsOf = () => page.locator('[data-testid="teams"] tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  await until('two Fengtai teams', async () => (await rowsOf()).length === 2);
  assert.deepEqual(await rowsOf(), [['ft-big', '丰台区', '6', '6', '6'], ['ft-small', '丰台区', '2', '1', '1']]);
  // Sorting by managed, ascending.
  await page.getByTestId('teams-head-managed').locator('button').click();
  await until('resorted', async () => (await rowsOf())[0][0] === 'ft-small');
  await screenshot(page, 'console-teams.png');

  const made = await createCredential(server, { kind: 'link', label: '丰台团队', scope: '110106' });
  const view = await openPage(browser, { width: 390, height: 844 });
  await view.page.goto(`${server.url}${made.url}`);
  const cells = (team) => view.page.locator(`#v-team-rows tr[data-team="${team}"] td`).evaluateAll((tds) => tds.map((td) => td.dataset.value ?? td.textContent));
  await until('the team rows', async () => (await cells('ft-small')).length === 4);
  // ft-small is small; ft-big, the only other team, is hidden with it, or the
  // district's totals minus ft-big would give ft-small away (docs/privacy.md).
  assert.deepEqual(await cells('ft-big'), ['ft-big', 'null', 'null', 'null']);
  assert.deepEqual(await cells('ft-small'), ['ft-small', 'null', 'null', 'null']);
  assert.equal(await view.page.locator('#v-team-rows tr[data-team="dc-five"]').count(), 0, 'another district\'s team');
  await view.page.getByTestId('v-teams').scrollIntoViewIfNeeded();
  await screenshot(view.page, 'view-phone-teams.png');
  await view.context.close();
});

test('a district link shows only its district, on the page and on the wire', async () => {
  const made = await createCredential(server, { kind: 'link', label: '丰台区领导', scope: '110106' });
  const view = await openPage(browser, { width: 390, height: 844, scale: 2 });
  await view.page.goto(`${server.url}${made.url}`);
  const people = (await snapshot(server)).state.districts['110106'].people;
  await until('the district headline', async () => (await text(view.page, 'v-headline-value')) === String(people));
  assert.equal(await view.page.getByTestId('v-district').isVisible(), true);
  await view.page.waitForTimeout(1_000);
  await screenshot(view.page, 'view-phone-district.png');
  const wire = view.frames.texts.join('\n');
  assert.ok(wire.includes('"scope":"110106"'));
  for (const code of CODES.filter((c) => c !== '110106')) {
    assert.ok(!wire.includes(code), `${code} is on the district link's wire`);
  }
  // Landscape: the wall's layout with the district's figures.
  await view.page.setViewportSize({ width: 844, height: 390 });
  await view.page.waitForTimeout(500);
  await screenshot(view.page, 'view-landscape-district.png');
  assert.deepEqual(view.csp, []);
  assert.deepEqual(view.errors, []);
  await view.context.close();
});

test('a made-up link shows that it has ended, and nothing else', async () => {
  const view = await openPage(browser, { width: 390, height: 844 });
  await view.page.goto(`${server.url}/v/${'0'.repeat(64)}`);
  await until('ended', async () => view.page.getByTestId('ended').isVisible(), 5_000);
  assert.equal(view.frames.count, 0, 'no figure reached the page');
  await view.context.close();
});

test('signing out ends the console session', async () => {
  const { page } = consolePage;
  await page.getByTestId('logout').click();
  await until('the login form', async () => page.getByTestId('login').isVisible());
  await page.reload();
  await until('still signed out', async () => page.getByTestId('login').isVisible());
  await consolePage.context.close();
});
