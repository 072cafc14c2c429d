// The monthly review for print (/console/review?month=YYYY-MM&district=110106),
// or a quarter's for the district's quarterly meeting (?quarter=YYYY-Qn, which
// wins over month): GET /api/v1/review at both levels (docs/review.md), read
// with the console's session cookie (or any staff credential the browser
// sends), laid out as an A4 portrait document: the month's status (封账; a
// quarter is never closed), the district's summary, two charts, the teams
// ranked, and the nine rates of every team. Every count is shown as the API
// gives it; rates as percentages with one decimal. Without a session it says
// so and links to the console.
import './review.css';
import { api } from '../api.js';
import { h, fullTime } from '../dom.js';
import { CATEGORIES, RATES, PLANS, colourWheel } from '../../shared/lists.js';
import { beijing } from '../../shared/format.js';
import { managedChart, ratesChart } from './charts.js';
import {
  PROGRAM, REPORT, QUARTER_REPORT, DEFAULT_DISTRICT, count, signed, percent, standardText, verdict,
  disciplineName, monthBefore, parseMonth, parseQuarter, quarterOf, quarterMonths, periodOf,
} from './text.js';

const $ = (id) => document.getElementById(id);

/** The month before this one in Beijing: the one a review is usually printed for. */
function previousMonth() {
  const b = beijing(Date.now());
  return monthBefore(b.year, b.month);
}

const query = new URLSearchParams(location.search);
const asked = query.get('quarter')
  ? { kind: 'quarter', value: query.get('quarter') }
  : { kind: 'month', value: query.get('month') || previousMonth() };
// What the page covers and its words; a text that is neither a month nor a
// quarter is sent as it is, and the API's answer says what is wrong with it.
const period = periodOf(asked.value)?.kind === asked.kind ? periodOf(asked.value) : {
  ...asked, name: asked.value, report: asked.kind === 'quarter' ? QUARTER_REPORT : REPORT, span: asked.value, end: NaN,
  ...(asked.kind === 'quarter'
    ? { this: '本季度', previous: '上季度', close: '季末', previousClose: '上季度末' }
    : { this: '本月', previous: '上月', close: '月末', previousClose: '上月末' }),
};
const district = query.get('district') || DEFAULT_DISTRICT;
document.body.dataset.period = period.kind;

function show(state) {
  document.body.dataset.state = state;
}

function message(text, { signIn = false } = {}) {
  $('message-text').textContent = text;
  $('message-link').hidden = !signIn;
  $('message').hidden = false;
  $('doc').hidden = true;
}

// ---- the toolbar (hidden in print): a month or a quarter, and the district ------------
$('print').addEventListener('click', () => window.print());

/** Shows the month's field or the quarter's, by the kind chosen. */
function pickKind(kind) {
  $('pick-kind').value = kind;
  $('pick-month-label').hidden = kind !== 'month';
  $('pick-quarter-label').hidden = kind !== 'quarter';
  $('pick-month').required = kind === 'month';
  $('pick-year').required = kind === 'quarter';
}

(function fillPick() {
  const now = beijing(Date.now());
  const thisMonth = `${now.year}-${String(now.month).padStart(2, '0')}`;
  const m = parseMonth(period.value);
  const q = parseQuarter(period.value);
  if (m) {
    $('pick-month').value = period.value;
    const [year, n] = quarterOf(m.year, m.month).split('-Q');
    $('pick-year').value = year;
    $('pick-quarter').value = n;
  } else if (q) {
    $('pick-year').value = String(q.year);
    $('pick-quarter').value = String(q.quarter);
    // The quarter's last month that has begun.
    const last = `${q.year}-${String(quarterMonths(period.value).last).padStart(2, '0')}`;
    $('pick-month').value = last < thisMonth ? last : thisMonth;
  }
  pickKind(period.kind);
}());
$('pick-kind').addEventListener('change', () => pickKind($('pick-kind').value));
$('pick').addEventListener('submit', (e) => {
  e.preventDefault();
  const chosen = $('pick-kind').value === 'quarter'
    ? { quarter: `${$('pick-year').value}-Q${$('pick-quarter').value}` }
    : { month: $('pick-month').value };
  const q = new URLSearchParams({ ...chosen, district: $('pick-district').value || district });
  location.search = `?${q}`;
});

function districtChoices(rows) {
  const select = $('pick-district');
  select.replaceChildren(...rows.map((r) => h('option', { value: r.district, selected: r.district === district }, r.district_name)));
}

// ---- the document ------------------------------------------------------------------------
const RATE_CODES = (rows) => {
  const codes = RATES.map((r) => r.code);
  for (const row of rows) for (const code of Object.keys(row.rates ?? {})) if (!codes.includes(code)) codes.push(code);
  return codes;
};
const rateName = (code) => RATES.find((r) => r.code === code)?.name.zh ?? code;
const planOf = (code) => RATES.find((r) => r.code === code)?.plan ?? PLANS[PLANS.length - 1].code;

/** A count in a cell: its text as the API gives it, the raw number in data-value. */
const num = (value, testid, attrs = {}) => h('span', { dataset: { testid, value: String(value) }, ...attrs }, count(value));

function header(teamReview, districtReview, row) {
  const closed = districtReview.closed;
  const running = !closed && Date.parse(districtReview.as_of) < period.end;
  const status = period.kind === 'quarter'
    // A quarter is never closed: its three months as the stored events stand.
    ? h('p', { class: 'status open', dataset: { testid: 'review-status', closed: 'false' } },
      h('b', { class: 'seal' }, '季度汇总'),
      ' 数据截至 ', h('span', { dataset: { testid: 'review-as-of' } }, fullTime(districtReview.as_of)),
      running ? ' · 本季度尚未结束，数字仍在变化' : '',
      ' · 季度不封账：按现有全部事件（含补报）计算，已封账月份以其月度报告为准')
    : closed
    ? h('p', { class: 'status closed', dataset: { testid: 'review-status', closed: 'true' } },
      h('b', { class: 'seal' }, '已封账'),
      ' 封账人 ', h('span', { dataset: { testid: 'review-closed-by' } }, districtReview.closed_by ?? '—'),
      ' · 封账时间 ', h('span', { dataset: { testid: 'review-closed-at' } }, fullTime(districtReview.closed_at)),
      ' · 数据以封账时为准，此后补报的事件另列为修订')
    : h('p', { class: 'status open', dataset: { testid: 'review-status', closed: 'false' } },
      h('b', { class: 'seal' }, '未封账'),
      ' 数据截至 ', h('span', { dataset: { testid: 'review-as-of' } }, fullTime(districtReview.as_of)),
      running ? ' · 本月尚未结束，数字仍在变化' : ' · 封账前补报的事件仍会改变数字');
  const teams = teamReview.rows.filter((r) => r.district === row.district);
  return h('header', { class: 'doc-head' },
    h('div', { class: 'kicker' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), PROGRAM, ' · 治未病健康促进工程'),
    h('h1', { dataset: { testid: 'review-title' } }, `${period.report} · ${period.name} · ${row.district_name}`),
    status,
    h('p', { class: 'meta', dataset: { testid: 'review-meta' } },
      `统计期 ${period.span}`, ` · 服务团队 ${teams.length} 支`,
      ` · 打印时间 ${fullTime(new Date().toISOString())}`));
}

function figure(label, value, sub, extra) {
  return h('div', { class: 'figure' },
    h('div', { class: 'figure-label' }, label),
    h('div', { class: 'figure-value' }, value, extra),
    h('div', { class: 'figure-sub' }, sub));
}

function summary(row, districtCount) {
  const rateCount = Object.keys(row.rates ?? {}).length;
  const pending = Object.values(row.rates ?? {}).filter((r) => verdict(r).key === 'pending').length;
  const management = row.rates?.management?.value;
  const serviceChange = row.services - row.previous.services;
  const managedChange = row.managed - row.previous.managed;
  const sentence = h('p', { class: 'lead', dataset: { testid: 'summary-text' } },
    `${row.district_name}截至${period.close}管理 ${count(row.managed)} 人，目标 ${count(row.target)} 人`,
    management != null ? `（管理率 ${percent(management)}）` : '',
    `；${period.this}新增 ${count(row.managed_new)} 人，较${period.previousClose} ${signed(managedChange)}。`,
    `${period.this}服务 ${count(row.services)} 次（${period.previous} ${count(row.previous.services)} 次），其中患教回访 ${count(row.followups)} 次。`,
    `九率中 ${row.passed} 项达标，在全市 ${districtCount} 个区中排名第 ${row.rank}。`);
  const categories = CATEGORIES.map((c) => [c.code, c.name.zh])
    .concat(Object.keys(row.categories ?? {}).filter((k) => !CATEGORIES.some((c) => c.code === k)).map((k) => [k, k]))
    .filter(([code]) => row.categories?.[code] > 0);
  return h('section', { class: 'block summary' },
    h('h2', {}, '一、全区概况'),
    sentence,
    h('div', { class: 'figures', dataset: { testid: 'summary' } },
      figure('管理人数', num(row.managed, 'summary-managed'),
        h('span', {}, '目标 ', num(row.target, 'summary-target'), ' 人')),
      figure(`${period.this}新增`, num(row.managed_new, 'summary-new'),
        h('span', {}, `${period.previousClose}在管 `, num(row.previous.managed, 'summary-previous-managed'), ' 人')),
      figure('服务次数', num(row.services, 'summary-services'),
        h('span', {}, `${period.previous} `, num(row.previous.services, 'summary-previous-services'), ' 次 · ',
          h('span', { dataset: { testid: 'summary-change-services' } }, signed(serviceChange)))),
      figure('患教回访', num(row.followups, 'summary-followups'), `${period.this}次数`),
      figure('九率达标', h('span', { dataset: { testid: 'summary-passed', value: String(row.passed) } }, String(row.passed)),
        `待报 ${pending} 项`, h('small', {}, ` / ${rateCount}`)),
      figure('全市排名', h('span', { dataset: { testid: 'summary-rank', value: String(row.rank) } }, String(row.rank)),
        '按达标项数、管理进度', h('small', {}, ` / ${districtCount}`))),
    h('p', { class: 'categories', dataset: { testid: 'summary-categories' } },
      h('b', {}, '服务构成：'),
      categories.length
        ? categories.map(([code, name], i) => [i ? '；' : '', `${name} `, num(row.categories[code], `summary-category-${code}`), ' 次'])
        : `${period.this}无服务记录`));
}

function charts(row, teams) {
  const bars = teams.map((t) => ({
    id: t.team, label: t.name, managed: t.managed, target: t.target, registered: t.registered !== false,
  }));
  return h('section', { class: 'block charts' },
    h('h2', {}, '二、图表'),
    h('figure', { class: 'chart-box' },
      h('figcaption', {}, '图 1  各团队管理人数与目标（按名次）'),
      managedChart(bars)),
    h('figure', { class: 'chart-box' },
      h('figcaption', {}, `图 2  ${row.district_name}九率与标准`),
      ratesChart(row.rates)));
}

function teamTable(row, teams) {
  const rateCount = (r) => Object.keys(r.rates ?? {}).length;
  const line = (r, key, total) => {
    const id = (field) => `team-${key}-${field}`;
    const name = h('td', { class: 'name', dataset: { testid: id('name') } }, r.name);
    if (r.registered === false) {
      name.append(' ', h('span', { class: 'tag', dataset: { testid: id('unregistered') } }, '未登记'));
    }
    return h('tr', { class: total ? 'total' : null, dataset: { testid: `team-row-${key}`, registered: String(r.registered !== false) } },
      h('td', { class: 'num', dataset: { testid: id('rank') } }, total ? '—' : String(r.rank)),
      name,
      h('td', { class: 'institution', dataset: { testid: id('institution') } }, total ? '' : r.institution ?? '—'),
      h('td', { class: 'discipline', dataset: { testid: id('discipline') } }, total ? '' : disciplineName(r.discipline)),
      h('td', { class: 'num' }, num(r.target, id('target'))),
      h('td', { class: 'num strong' }, num(r.managed, id('managed'))),
      h('td', { class: 'num' }, num(r.managed_new, id('new'))),
      h('td', { class: 'num' }, num(r.services, id('services'))),
      h('td', { class: 'num' }, num(r.followups, id('followups'))),
      h('td', { class: 'num' }, num(r.scans, id('scans'))),
      h('td', { class: 'num' }, num(r.guardians, id('guardians'))),
      h('td', { class: 'num' }, h('span', { dataset: { testid: id('passed'), value: String(r.passed) } }, String(r.passed)), ` / ${rateCount(r)}`),
      h('td', { class: 'num change' },
        h('div', {}, '管理 ', h('span', { dataset: { testid: id('change-managed') } }, signed(r.managed - r.previous.managed))),
        h('div', {}, '服务 ', h('span', { dataset: { testid: id('change-services') } }, signed(r.services - r.previous.services)))));
  };
  return h('section', { class: 'block' },
    h('h2', {}, '三、各团队考核排名'),
    h('table', { class: 'grid teams', dataset: { testid: 'teams' } },
      h('thead', {}, h('tr', {},
        h('th', { class: 'num' }, '名次'), h('th', {}, '团队'), h('th', {}, '所属机构'), h('th', {}, '专业'),
        h('th', { class: 'num' }, '目标'), h('th', { class: 'num' }, '管理人数'), h('th', { class: 'num' }, `${period.this}新增`),
        h('th', { class: 'num' }, '服务次数'), h('th', { class: 'num' }, '患教回访'),
        h('th', { class: 'num', title: '经团队二维码的扫码次数' }, '团队码扫码'), h('th', { class: 'num' }, '新结业守护者'),
        h('th', { class: 'num' }, '九率达标'),
        h('th', { class: 'num' }, `较${period.previous}`))),
      h('tbody', {},
        line({ ...row, name: `${row.district_name}（全区）` }, 'district', true),
        teams.length ? teams.map((t) => line(t, t.team, false))
          : h('tr', {}, h('td', { colspan: 11, class: 'empty' }, `${period.this}没有在册或有数据的服务团队`)))));
}

function rateCell(r, key, code) {
  const rate = r.rates?.[code];
  const v = verdict(rate);
  const id = `rate-${key}-${code}`;
  return h('td', {
    class: `rate ${v.key}`,
    dataset: {
      testid: id, value: rate?.value == null ? '' : String(rate.value), n: String(rate?.n ?? 0),
      standard: String(rate?.standard ?? ''), pass: String(rate?.pass ?? ''),
    },
  },
  h('div', { class: 'rate-value', dataset: { testid: `${id}-value` } }, percent(rate?.value)),
  h('div', { class: 'rate-sub' },
    h('span', { dataset: { testid: `${id}-n` } }, `n ${count(rate?.n ?? 0)}`),
    ' ',
    h('span', { class: 'verdict', dataset: { testid: `${id}-status` } }, v.text)));
}

function rateGrid(row, teams) {
  const codes = RATE_CODES([row, ...teams]);
  const plans = [];
  for (const code of codes) {
    const plan = planOf(code);
    const last = plans[plans.length - 1];
    if (last?.plan === plan) last.span += 1;
    else plans.push({ plan, span: 1 });
  }
  const planName = (code) => PLANS.find((p) => p.code === code)?.name.zh ?? code;
  const line = (r, key, label, total) => h('tr', { class: total ? 'total' : null, dataset: { testid: `rates-row-${key}` } },
    h('th', { scope: 'row', class: 'name' }, label,
      r.registered === false ? h('span', { class: 'tag' }, '未登记') : null),
    codes.map((code) => rateCell(r, key, code)));
  return h('section', { class: 'block' },
    h('h2', {}, '四、三案九率明细'),
    h('table', { class: 'grid rates', dataset: { testid: 'rates' } },
      h('thead', {},
        h('tr', { class: 'plans' }, h('th', { rowspan: 2 }, '团队'),
          plans.map((p) => h('th', { colspan: p.span }, planName(p.plan)))),
        h('tr', {}, codes.map((code) => h('th', { dataset: { testid: `rate-head-${code}` } },
          rateName(code), h('small', {}, `标准 ≥${standardText(row.rates?.[code]?.standard)}`))))),
      h('tbody', {},
        line(row, 'district', `${row.district_name}（全区）`, true),
        teams.map((t) => line(t, t.team, `${t.rank}. ${t.name}`, false)))));
}

function notes() {
  return h('section', { class: 'block notes' },
    h('h2', {}, '五、说明'),
    h('ol', {},
      h('li', {}, `管理人数为截至${period.close}在该团队（或该区）入组的不同人数；${period.this}新增为其中${period.this}首次入组者。`),
      h('li', {}, `服务次数为${period.this}服务次数，患教回访为其中一类；较${period.previous}与${period.previousClose}管理人数、${period.previous}服务次数相比。`),
      h('li', {}, `九率取每人截至${period.close}的最近一次观察，值不低于标准为达标；无人观察（n 为 0）记为“待报”，不计达标。管理率 = 管理人数 ÷ 目标人数，n 为目标人数。`),
      h('li', {}, '团队的九率按其管理对象计算（以最近一次入组的团队为准）；区的九率按在该区所做的观察计算。'),
      h('li', {}, '名次：先比达标项数，再比管理人数 ÷ 目标，再按编号。'),
      h('li', {}, '未登记：事件中出现、但不在团队登记表中的团队，目标记为 0；请核对上报系统的团队编号或登记表。')));
}

function render(teamReview, districtReview) {
  const row = districtReview.rows.find((r) => r.district === district);
  districtChoices(districtReview.rows);
  if (!row) {
    message(`没有代码为 ${district} 的区。`);
    show('error');
    return;
  }
  const teams = teamReview.rows
    .filter((r) => r.district === district)
    .sort((a, b) => a.rank - b.rank || String(a.team).localeCompare(String(b.team)));
  document.title = `${PROGRAM} · ${period.report} · ${period.name} · ${row.district_name}`;
  const doc = $('doc');
  doc.replaceChildren(
    header(teamReview, districtReview, row),
    summary(row, districtReview.rows.length),
    charts(row, teams),
    teamTable(row, teams),
    rateGrid(row, teams),
    notes(),
    h('footer', { class: 'doc-foot' }, `${PROGRAM} · ${period.report} · ${period.name} · ${row.district_name} · 数据来源：指挥中心 /api/v1/review`));
  for (const mark of doc.querySelectorAll('.brand-mark')) mark.style.setProperty('--mark', colourWheel());
  doc.hidden = false;
  $('message').hidden = true;
  show('ready');
}

(async () => {
  document.title = `${PROGRAM} · ${period.report} · ${period.name}`;
  const path = (level) => `/api/v1/review?${new URLSearchParams({ [period.kind]: period.value, level })}`;
  try {
    const [team, byDistrict] = await Promise.all([
      api('GET', path('team'), undefined, { quiet401: true }),
      api('GET', path('district'), undefined, { quiet401: true }),
    ]);
    render(team, byDistrict);
  } catch (e) {
    if (e.status === 401) {
      message(`未登录或登录已过期：${period.report}仅限指挥中心工作人员查看，请先在控制台登录，再打开本页。`, { signIn: true });
      show('signin');
    } else {
      message(`无法生成报告：${e.message}`);
      show('error');
    }
  }
})();
