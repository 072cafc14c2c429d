// 团队登记 in the staff console, in headless Chromium against the real
// `weibing serve`: Fengtai's ten teams of the region's teams.csv listed as
// the file has them, the tenth renamed through 编辑 (who edited it, and
// when), the server's refusals shown word for word (in the dialog and in the
// 新增团队 form), teams added (one in another district, grouped and
// filtered by district), a team retired by its active_to (已停用), the API
// and the audit trail agreeing, the edits kept across a restart, and the
// lists of lists.js against the server's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, tempDataDir, call, until } from './lib/server.mjs';
import { launch, openPage, screenshot, text, attr } from './lib/browser.mjs';
import { TEAM_LEVELS, TEAM_DISCIPLINES, codes } from '../src/shared/lists.js';

const PASSWORD = 'teams-test-password';
let server;
let browser;
let opened;
let dataDir;

/** The Beijing date `days` from today, "YYYY-MM-DD". */
const beijingDay = (days = 0) => new Date(Date.now() + 8 * 3600e3 + days * 86_400e3).toISOString().slice(0, 10);
const TODAY = beijingDay(0);
const YESTERDAY = beijingDay(-1);
const EDITED_AT = new RegExp(`^${TODAY} \\d{2}:\\d{2}:\\d{2}$`);

// fixtures/regions/beijing/teams.csv: Fengtai's ten district teams, in the file's order.
const FENGTAI = [
  ['ft-zxy-diabetes', '丰台中西医结合医院糖尿病团队', '丰台中西医结合医院', 'diabetes'],
  ['ft-zxy-psychology', '丰台中西医结合医院心理干预团队', '丰台中西医结合医院', 'psychology'],
  ['ft-zxy-diet', '丰台中西医结合医院饮食调节团队', '丰台中西医结合医院', 'diet'],
  ['ft-zxy-exercise-copd', '丰台中西医结合医院医体结合（慢阻肺）团队', '丰台中西医结合医院', 'exercise'],
  ['ft-youanmen-hypertension', '右安门社区卫生服务中心高血压团队', '右安门社区卫生服务中心', 'hypertension'],
  ['ft-fangzhuang-diabetes', '方庄社区卫生服务中心糖尿病团队', '方庄社区卫生服务中心', 'diabetes'],
  ['ft-lugouqiao-exercise-copd', '卢沟桥社区卫生服务中心医体结合（慢阻肺）团队', '卢沟桥社区卫生服务中心', 'exercise'],
  ['ft-puhuangyu-psychology', '蒲黄榆社区卫生服务中心心理干预团队', '蒲黄榆社区卫生服务中心', 'psychology'],
  ['ft-boaitang-diabetes', '北京博爱堂中医医院糖尿病团队', '北京博爱堂中医医院', 'diabetes'],
  ['ft-team-10', '第十支区级团队（待定）', '待定', 'non_drug'],
];
const FROM_FILE = FENGTAI.map(([id, name, institution, discipline]) => ({
  id, name, institution, district: '110106', district_name: '丰台区', level: 'district', discipline, target: 1000, active_from: '2017-10-24', active_to: null, edited_by: null, edited_at: null,
}));
const DISCIPLINE_ZH = {
  hypertension: '高血压', diabetes: '糖尿病', diet: '饮食调节', psychology: '心理干预', exercise: '医体结合', non_drug: '非药物疗法',
};

// The tenth team, named by the district office.
const RENAMED = { name: '丰台区中医医院非药物疗法团队', institution: '丰台区中医医院' };
// Two teams added in the console: one of Fengtai's, one city team in 东城区.
const DIET = { id: 'ft-youanmen-diet', name: '右安门社区卫生服务中心饮食调节团队', institution: '右安门社区卫生服务中心', district: '110106', level: 'district', discipline: 'diet' };
const CITY = { id: 'dc-bjtcm-hypertension', name: '北京中医医院高血压团队', institution: '首都医科大学附属北京中医医院', district: '110101', level: 'city', discipline: 'hypertension' };

before(async () => {
  dataDir = tempDataDir('weibing-teams-');
  server = await startServer({ dataDir, tickMs: 200, adminPassword: PASSWORD });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The ids of the table's rows, top to bottom. */
const rowIds = (page) => page.locator('[data-testid="registry"] tbody tr[data-id]').evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
const cell = (page, id, field) => text(page, `registry-${id}-${field}`);
const options = (page, testid) => page.getByTestId(testid).locator('option').evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
const teamsNow = async () => {
  const r = await call(server, 'GET', '/api/v1/teams');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.teams;
};

async function fill(page, { id, name, institution, district, level, discipline, target, activeFrom, activeTo }) {
  if (id !== undefined) await page.getByTestId('registry-id').fill(id);
  if (name !== undefined) await page.getByTestId('registry-name').fill(name);
  if (institution !== undefined) await page.getByTestId('registry-institution').fill(institution);
  if (district !== undefined) await page.getByTestId('registry-district').selectOption(district);
  if (level !== undefined) await page.getByTestId('registry-level').selectOption(level);
  if (discipline !== undefined) await page.getByTestId('registry-discipline').selectOption(discipline);
  if (target !== undefined) await page.getByTestId('registry-target').fill(target);
  if (activeFrom !== undefined) await page.getByTestId('registry-active-from').fill(activeFrom);
  if (activeTo !== undefined) await page.getByTestId('registry-active-to').fill(activeTo);
}

test('the API lists teams.csv as it is; lists.js holds the levels and disciplines the server names, in its order', async () => {
  assert.deepEqual(await teamsNow(), FROM_FILE);
  const base = { name: '探测团队', institution: '探测机构', district: '110106', level: 'district', discipline: 'diet', target: 1000, active_from: TODAY };
  const level = await call(server, 'PUT', '/api/v1/teams/ft-probe', { ...base, level: 'province' });
  assert.equal(level.status, 400);
  assert.equal(level.body.error, `level: must be one of ${codes(TEAM_LEVELS).join(', ')}`);
  const discipline = await call(server, 'PUT', '/api/v1/teams/ft-probe', { ...base, discipline: 'acupuncture' });
  assert.equal(discipline.status, 400);
  assert.equal(discipline.body.error, `discipline: must be one of ${codes(TEAM_DISCIPLINES).join(', ')}`);
  assert.deepEqual(await teamsNow(), FROM_FILE, 'nothing added');
});

test('the console\'s 团队登记: Fengtai\'s ten teams as teams.csv has them, from the region\'s file', async () => {
  opened = await openPage(browser, { width: 1440, height: 900 });
  const { page } = opened;
  await page.goto(`${server.url}/console#registry`);
  await page.getByTestId('login-name').fill('admin');
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('console').waitFor({ state: 'visible' });
  assert.equal(await attr(page, 'tab-registry', 'aria-selected'), 'true');
  assert.equal(await text(page, 'tab-registry'), '团队登记');
  await until('the ten teams', async () => (await rowIds(page)).length === 10);
  assert.deepEqual(await rowIds(page), FENGTAI.map(([id]) => id));
  assert.equal(await text(page, 'registry-group-110106'), '丰台区 · 10 支团队');
  assert.equal(await text(page, 'registry-count'), '共 10 支团队');
  for (const [id, name, institution, discipline] of FENGTAI) {
    assert.deepEqual(await Promise.all(['name', 'id', 'institution', 'level', 'discipline', 'target', 'period', 'status', 'source'].map((f) => cell(page, id, f))),
      [name, id, institution, '区级', DISCIPLINE_ZH[discipline], '1,000', '2017-10-24 至今', '在用', '来自区域文件'], id);
    assert.equal(await attr(page, `registry-row-${id}`, 'data-state'), 'active');
    assert.equal(await page.getByTestId(`registry-${id}-edited-by`).count(), 0);
  }
  // The filter: all, or a district that has teams.
  assert.deepEqual(await options(page, 'registry-filter'), [['', '全部'], ['110106', '丰台区']]);
  // The 新增团队 form: the lists by their names, in the program's order; the defaults.
  assert.deepEqual(await options(page, 'registry-level'), [['city', '市级'], ['district', '区级']]);
  assert.deepEqual(await options(page, 'registry-discipline'),
    [['', '请选择'], ['hypertension', '高血压'], ['diabetes', '糖尿病'], ['diet', '饮食调节'], ['psychology', '心理干预'], ['exercise', '医体结合'], ['non_drug', '非药物疗法']]);
  assert.equal(await page.getByTestId('registry-district').locator('option').count(), 17, '请选择 and the 16 districts');
  assert.deepEqual(await Promise.all(['registry-id', 'registry-district', 'registry-level', 'registry-discipline', 'registry-target', 'registry-active-from', 'registry-active-to']
    .map((id) => page.getByTestId(id).inputValue())), ['', '', 'district', '', '1000', TODAY, '']);
  await screenshot(page, 'teams-registry.png');
});

test('编辑 ft-team-10: the dialog prefilled; a refusal shown as sent; renamed, with who edited it and when', async () => {
  const { page } = opened;
  await page.getByTestId('registry-ft-team-10-edit').click();
  await page.getByTestId('registry-edit-dialog').waitFor({ state: 'visible' });
  assert.equal(await text(page, 'registry-edit-title'), '编辑团队 ft-team-10');
  assert.deepEqual(await Promise.all(['name', 'institution', 'district', 'level', 'discipline', 'target', 'active-from', 'active-to']
    .map((f) => page.getByTestId(`registry-edit-${f}`).inputValue())),
  ['第十支区级团队（待定）', '待定', '110106', 'district', 'non_drug', '1000', '2017-10-24', '']);

  // An empty name: the server's refusal, in the dialog, as it is.
  await page.getByTestId('registry-edit-name').fill('');
  await page.getByTestId('registry-edit-submit').click();
  await until('the refusal', async () => (await text(page, 'registry-edit-error')) !== '');
  assert.equal(await text(page, 'registry-edit-error'), 'name: 1 to 100 characters, got 0');
  assert.equal(await page.getByTestId('registry-edit-dialog').isVisible(), true, 'the dialog stays open');
  assert.equal(await cell(page, 'ft-team-10', 'name'), '第十支区级团队（待定）', 'nothing changed');

  await page.getByTestId('registry-edit-name').fill(RENAMED.name);
  await page.getByTestId('registry-edit-institution').fill(RENAMED.institution);
  await screenshot(page, 'teams-edit-dialog.png');
  await page.getByTestId('registry-edit-submit').click();
  await until('the row renamed', async () => (await cell(page, 'ft-team-10', 'name')) === RENAMED.name);
  assert.equal(await page.getByTestId('registry-edit-dialog').isVisible(), false);
  assert.equal(await text(page, 'registry-ok'), `已保存团队「${RENAMED.name}」`);
  assert.deepEqual(await Promise.all(['institution', 'level', 'discipline', 'target', 'period', 'status', 'edited-by'].map((f) => cell(page, 'ft-team-10', f))),
    [RENAMED.institution, '区级', '非药物疗法', '1,000', '2017-10-24 至今', '在用', 'admin']);
  assert.match(await cell(page, 'ft-team-10', 'edited-at'), EDITED_AT);
  assert.equal(await page.getByTestId('registry-ft-team-10-source').count(), 0);
  // In its place; the others still as the file has them.
  assert.deepEqual(await rowIds(page), FENGTAI.map(([id]) => id));
  assert.equal(await cell(page, 'ft-boaitang-diabetes', 'source'), '来自区域文件');

  const teams = await teamsNow();
  const tenth = teams.find((x) => x.id === 'ft-team-10');
  assert.deepEqual({ ...tenth, edited_at: undefined }, { ...FROM_FILE[9], ...RENAMED, edited_by: 'admin', edited_at: undefined });
  assert.ok(Math.abs(Date.parse(tenth.edited_at) - Date.now()) < 60_000, tenth.edited_at);
  assert.deepEqual(teams.slice(0, 9), FROM_FILE.slice(0, 9));
  await screenshot(page, 'teams-edited.png');
});

test('新增团队: a bad target shows the server\'s message as it is, and adds nothing; a listed id is edited through its row', async () => {
  const { page } = opened;
  await fill(page, { ...DIET, target: '1000001' });
  await page.getByTestId('registry-add').click();
  await until('the refusal', async () => page.getByTestId('registry-error-box').isVisible());
  assert.equal(await text(page, 'registry-error'), 'target: a whole number from 0 to 1000000');
  assert.equal(await text(page, 'registry-error-box'), '未能保存：target: a whole number from 0 to 1000000');
  assert.equal(await page.getByTestId('registry-ok').isVisible(), false);
  // What was typed stays, to be corrected.
  assert.deepEqual([await page.getByTestId('registry-id').inputValue(), await page.getByTestId('registry-target').inputValue()], [DIET.id, '1000001']);
  await screenshot(page, 'teams-refused-target.png');
  assert.equal((await rowIds(page)).length, 10, 'nothing added');
  assert.equal((await teamsNow()).length, 10);

  // An id the registry lists already is not overwritten from the 新增 form.
  await page.getByTestId('registry-id').fill('ft-team-10');
  await page.getByTestId('registry-target').fill('1000');
  await page.getByTestId('registry-add').click();
  await until('the id taken', async () => (await text(page, 'registry-error')).startsWith('编号'));
  assert.equal(await text(page, 'registry-error'), `编号 ft-team-10 已是团队「${RENAMED.name}」：修改请用该行的“编辑”`);
  assert.equal((await teamsNow()).find((x) => x.id === 'ft-team-10').name, RENAMED.name, 'unchanged');
});

test('新增团队: a valid team is listed after the file\'s; a city team in 东城区 gets its own group and filter', async () => {
  const { page } = opened;
  await fill(page, { ...DIET, target: '800' });
  await page.getByTestId('registry-add').click();
  await until('the team added', async () => (await page.getByTestId(`registry-row-${DIET.id}`).count()) === 1);
  assert.equal(await text(page, 'registry-ok'), `已保存团队「${DIET.name}」`);
  assert.equal(await page.getByTestId('registry-error-box').isVisible(), false);
  assert.deepEqual(await rowIds(page), [...FENGTAI.map(([id]) => id), DIET.id]);
  assert.deepEqual(await Promise.all(['name', 'institution', 'level', 'discipline', 'target', 'period', 'status', 'edited-by'].map((f) => cell(page, DIET.id, f))),
    [DIET.name, DIET.institution, '区级', '饮食调节', '800', `${TODAY} 至今`, '在用', 'admin']);
  assert.match(await cell(page, DIET.id, 'edited-at'), EDITED_AT);
  assert.equal(await text(page, 'registry-group-110106'), '丰台区 · 11 支团队');
  // The form cleared for the next team, with its defaults; the district, level and discipline stay.
  assert.deepEqual(await Promise.all(['registry-id', 'registry-name', 'registry-institution', 'registry-district', 'registry-level', 'registry-discipline', 'registry-target', 'registry-active-from']
    .map((id) => page.getByTestId(id).inputValue())), ['', '', '', '110106', 'district', 'diet', '1000', TODAY]);

  // A city team of 东城区 with the defaults: target 1,000, active from today.
  await fill(page, CITY);
  await page.getByTestId('registry-add').click();
  await until('the city team', async () => (await page.getByTestId(`registry-row-${CITY.id}`).count()) === 1);
  assert.deepEqual(await Promise.all(['name', 'institution', 'level', 'discipline', 'target', 'period', 'edited-by'].map((f) => cell(page, CITY.id, f))),
    [CITY.name, CITY.institution, '市级', '高血压', '1,000', `${TODAY} 至今`, 'admin']);
  // Grouped by district, in the districts' order: 东城区 first.
  assert.deepEqual(await rowIds(page), [CITY.id, ...FENGTAI.map(([id]) => id), DIET.id]);
  assert.equal(await text(page, 'registry-group-110101'), '东城区 · 1 支团队');
  assert.equal(await text(page, 'registry-count'), '共 12 支团队');
  assert.deepEqual(await options(page, 'registry-filter'), [['', '全部'], ['110101', '东城区'], ['110106', '丰台区']]);
  await page.getByTestId('registry-filter').selectOption('110101');
  assert.deepEqual(await rowIds(page), [CITY.id]);
  assert.equal(await text(page, 'registry-count'), '共 1 支团队');
  await page.getByTestId('registry-filter').selectOption('110106');
  assert.deepEqual(await rowIds(page), [...FENGTAI.map(([id]) => id), DIET.id]);
  assert.equal(await page.getByTestId('registry-group-110101').count(), 0);
  await page.getByTestId('registry-filter').selectOption('');

  // The API: the file's teams in its order, then the two added here.
  const teams = await teamsNow();
  assert.deepEqual(teams.map((x) => x.id), [...FENGTAI.map(([id]) => id), DIET.id, CITY.id]);
  assert.deepEqual(teams.slice(10).map((x) => ({ ...x, edited_at: undefined })), [
    { ...DIET, district_name: '丰台区', target: 800, active_from: TODAY, active_to: null, edited_by: 'admin', edited_at: undefined },
    { ...CITY, district_name: '东城区', target: 1000, active_from: TODAY, active_to: null, edited_by: 'admin', edited_at: undefined },
  ]);
  await screenshot(page, 'teams-added.png');
});

test('a team retired by its active_to: 已停用, greyed, still listed; the API and the audit trail agree', async () => {
  const { page, errors, csp } = opened;
  await page.getByTestId('registry-ft-boaitang-diabetes-edit').click();
  await page.getByTestId('registry-edit-dialog').waitFor({ state: 'visible' });
  await page.getByTestId('registry-edit-active-to').fill(YESTERDAY);
  await page.getByTestId('registry-edit-submit').click();
  await until('the team retired', async () => (await attr(page, 'registry-row-ft-boaitang-diabetes', 'data-state')) === 'retired');
  assert.deepEqual(await Promise.all(['name', 'period', 'status', 'edited-by'].map((f) => cell(page, 'ft-boaitang-diabetes', f))),
    ['北京博爱堂中医医院糖尿病团队', `2017-10-24 至 ${YESTERDAY}`, '已停用', 'admin']);
  assert.equal(await text(page, 'registry-count'), '共 12 支团队（已停用 1 支）');
  assert.equal(await page.getByTestId('registry-row-ft-boaitang-diabetes').locator('td').first()
    .evaluate((el) => getComputedStyle(el).backgroundColor), 'rgb(247, 248, 250)', 'greyed');
  assert.equal(await attr(page, 'registry-row-ft-team-10', 'data-state'), 'active');
  assert.equal((await teamsNow()).find((x) => x.id === 'ft-boaitang-diabetes').active_to, YESTERDAY);
  await screenshot(page, 'teams-retired.png');

  const audit = (await call(server, 'GET', '/api/v1/audit?limit=200')).body.audit
    .filter((e) => String(e.action).startsWith('team_'))
    .map((e) => [e.action, e.target, e.actor])
    .sort((a, b) => a.join().localeCompare(b.join()));
  assert.deepEqual(audit, [
    ['team_saved', CITY.id, 'admin'], ['team_saved', 'ft-boaitang-diabetes', 'admin'], ['team_saved', 'ft-team-10', 'admin'], ['team_saved', DIET.id, 'admin'],
  ]);
  // The audit tab names the action.
  await page.getByTestId('tab-audit').click();
  await until('the audit rows', async () => (await page.locator('[data-testid="audit-row"][data-action="team_saved"]').count()) === 4);
  assert.equal(await page.locator('[data-testid="audit-row"][data-action="team_saved"] td').nth(2).textContent(), '保存团队登记');

  assert.deepEqual(csp, []);
  // By design: the session check before sign-in (401), the two refusals (400).
  assert.deepEqual(errors.filter((e) => !/status of (400|401)/.test(e)), []);
  assert.equal(errors.length, 3, errors.join('\n'));
  await opened.context.close();
});

test('the edits are kept across a restart', async () => {
  const before = await teamsNow();
  assert.equal(before.length, 12);
  await server.stop();
  server = await startServer({ dataDir, tickMs: 200, adminPassword: PASSWORD });
  assert.deepEqual(await teamsNow(), before);
});
