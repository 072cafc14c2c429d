// What the console shows from the staff state: the header counters, the
// alerts, and the per-district and per-team tables.
import { h, $, fullTime, ago } from './dom.js';
import { SortableTable } from './table.js';
import { thousands } from '../format.js';
import { DISTRICTS, BY_CODE } from '../regions.js';

export const COUNTERS = [
  ['people', '扫码人数'],
  ['scans', '扫码次数'],
  ['assessed', '已评估'],
  ['managed', '管理人数'],
  ['services', '服务次数'],
];

const ALERT_KINDS = {
  district_drop: '区扫码放缓',
  key_silent: '数据接口静默',
  rejected_burst: '拒收激增',
  tick_late: '计算延迟',
};
const ALERT_PLACES = { tick: '服务器' };

/** A district code as its name; anything else as it is. */
export const placeName = (where) => BY_CODE.get(String(where))?.zh ?? (where == null || where === '' ? '全市' : String(where));

const n = (v) => (v == null ? '—' : thousands(v));

export class Figures {
  constructor() {
    this.counters = new Map();
    const dl = $('counters');
    for (const [key, label] of COUNTERS) {
      const dd = h('dd', { dataset: { testid: `counter-${key}-value` } }, '—');
      dl.append(h('div', { class: 'counter', dataset: { testid: `counter-${key}` } }, h('dt', {}, label), dd));
      this.counters.set(key, dd);
    }
    this.alertList = $('alert-list');
    this.alertsBox = $('alerts');
    this.alertsTitle = $('alerts-title');
    this.alertsKey = null;

    this.districts = new SortableTable($('district-table'), {
      testid: 'districts',
      rowId: (r) => r.code,
      sort: { key: 'rank', desc: false },
      columns: [
        { key: 'name', label: '区', cell: (r) => r.name },
        { key: 'people', label: '扫码人数', num: true, cell: (r) => n(r.people) },
        { key: 'scans', label: '扫码次数', num: true, cell: (r) => n(r.scans) },
        { key: 'scans_last_minute', label: '近1分钟扫码', num: true, cell: (r) => n(r.scans_last_minute) },
        { key: 'assessed', label: '已评估', num: true, cell: (r) => n(r.assessed) },
        { key: 'managed', label: '管理人数', num: true, cell: (r) => n(r.managed) },
        { key: 'interactive', label: '互动人数', num: true, cell: (r) => n(r.interactive) },
        { key: 'services', label: '服务次数', num: true, cell: (r) => n(r.services) },
        { key: 'guardians', label: '守护者', num: true, cell: (r) => n(r.guardians) },
        { key: 'teams', label: '团队数', num: true },
        { key: 'index', label: '治未病指数', num: true, cell: (r) => (r.index == null ? '—' : Number(r.index).toFixed(1)) },
        { key: 'rank', label: '排名', num: true },
      ],
    });

    this.teamDistrict = $('team-district');
    for (const d of DISTRICTS) this.teamDistrict.append(h('option', { value: d.code }, d.zh));
    this.teamDistrict.addEventListener('change', () => this.drawTeams());
    this.teams = new SortableTable($('team-table'), {
      testid: 'teams',
      rowId: (r) => `${r.code}/${r.team}`,
      sort: { key: 'managed', desc: true },
      empty: '暂无团队数据',
      columns: [
        { key: 'team', label: '团队' },
        { key: 'district', label: '所属区' },
        { key: 'managed', label: '管理人数', num: true, cell: (r) => n(r.managed) },
        { key: 'served', label: '服务人数', num: true, cell: (r) => n(r.served) },
        { key: 'services', label: '服务次数', num: true, cell: (r) => n(r.services) },
      ],
    });
    this.state = null;
    this.tableKey = null;
  }

  render(state) {
    this.state = state;
    for (const [key, dd] of this.counters) {
      const v = state.totals?.[key] ?? 0;
      const text = thousands(v);
      if (dd.textContent !== text) dd.textContent = text;
      dd.dataset.value = String(v);
    }
    this.renderAlerts(state.alerts ?? []);
    // The tables are rebuilt only when a figure in them changed.
    const key = JSON.stringify(state.districts ?? {});
    if (key !== this.tableKey) {
      this.tableKey = key;
      this.drawDistricts();
      this.drawTeams();
    }
  }

  renderAlerts(alerts) {
    const key = JSON.stringify(alerts);
    // "since" moves on its own: redraw at least every 10 s for "… 分钟前".
    const now = Date.now();
    if (key === this.alertsKey && now - (this.alertsDrawn ?? 0) < 10_000) return;
    this.alertsKey = key;
    this.alertsDrawn = now;
    this.alertsBox.classList.toggle('firing', alerts.length > 0);
    this.alertsBox.dataset.count = String(alerts.length);
    this.alertsTitle.textContent = alerts.length > 0 ? `告警 ${alerts.length} 条` : '当前无告警';
    this.alertList.replaceChildren(...alerts.map((a) => h('li', { class: 'alert', dataset: { testid: 'alert', kind: a.kind ?? '', id: a.id ?? '' } },
      h('span', { class: 'alert-kind' }, ALERT_KINDS[a.kind] ?? String(a.kind ?? '告警')),
      h('span', { class: 'alert-where' }, ALERT_PLACES[a.where] ?? placeName(a.where)),
      h('span', { class: 'alert-message' }, String(a.message ?? '')),
      h('span', { class: 'alert-since', title: fullTime(a.since) }, a.since ? `自 ${fullTime(a.since).slice(11)} 起 · ${ago(a.since, now)}` : ''))));
  }

  drawDistricts() {
    const rows = Object.entries(this.state?.districts ?? {}).map(([code, d]) => ({
      code, ...d, name: d.name ?? placeName(code), teams: Object.keys(d.teams ?? {}).length,
    }));
    this.districts.set(rows);
  }

  drawTeams() {
    const only = this.teamDistrict.value;
    const rows = [];
    for (const [code, d] of Object.entries(this.state?.districts ?? {})) {
      if (only && code !== only) continue;
      for (const [team, f] of Object.entries(d.teams ?? {})) {
        rows.push({ code, team, district: d.name ?? placeName(code), managed: f?.managed ?? null, served: f?.served ?? null, services: f?.services ?? null });
      }
    }
    $('team-count').textContent = `共 ${rows.length} 个团队`;
    this.teams.set(rows);
  }
}
