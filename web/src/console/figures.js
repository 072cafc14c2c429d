// What the console shows from the staff state: the header counters, the
// alerts, and the per-district and per-team tables.
import { h, $, fullTime, ago } from './dom.js';
import { SortableTable } from './table.js';
import { thousands } from '../shared/format.js';
import { DISTRICTS, BY_CODE } from '../shared/regions.js';
import { strings } from '../shared/i18n.js';

const t = strings('zh').console;

export const COUNTERS = ['people', 'scans', 'assessed', 'managed', 'services'].map((k) => [k, t.counters[k]]);

const ALERT_KINDS = t.alertKinds;
const ALERT_PLACES = t.alertPlaces;

/** A district code as its name; anything else as it is. */
export const placeName = (where) => BY_CODE.get(String(where))?.zh ?? (where == null || where === '' ? t.city : String(where));

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
        { key: 'name', label: t.columns.name, cell: (r) => r.name },
        { key: 'people', label: t.columns.people, num: true, cell: (r) => n(r.people) },
        { key: 'scans', label: t.columns.scans, num: true, cell: (r) => n(r.scans) },
        { key: 'scans_last_minute', label: t.columns.scans_last_minute, num: true, cell: (r) => n(r.scans_last_minute) },
        { key: 'assessed', label: t.columns.assessed, num: true, cell: (r) => n(r.assessed) },
        { key: 'managed', label: t.columns.managed, num: true, cell: (r) => n(r.managed) },
        { key: 'interactive', label: t.columns.interactive, num: true, cell: (r) => n(r.interactive) },
        { key: 'services', label: t.columns.services, num: true, cell: (r) => n(r.services) },
        { key: 'guardians', label: t.columns.guardians, num: true, cell: (r) => n(r.guardians) },
        { key: 'teams', label: t.columns.teams, num: true },
        { key: 'index', label: t.columns.index, num: true, cell: (r) => (r.index == null ? '—' : Number(r.index).toFixed(1)) },
        { key: 'rank', label: t.columns.rank, num: true },
      ],
    });

    this.teamDistrict = $('team-district');
    for (const d of DISTRICTS) this.teamDistrict.append(h('option', { value: d.code }, d.zh));
    this.teamDistrict.addEventListener('change', () => this.drawTeams());
    this.teams = new SortableTable($('team-table'), {
      testid: 'teams',
      rowId: (r) => `${r.code}/${r.team}`,
      sort: { key: 'managed', desc: true },
      empty: t.noTeams,
      columns: [
        { key: 'team', label: t.columns.team },
        { key: 'district', label: t.columns.district },
        { key: 'managed', label: t.columns.managed, num: true, cell: (r) => n(r.managed) },
        { key: 'served', label: t.columns.served, num: true, cell: (r) => n(r.served) },
        { key: 'services', label: t.columns.services, num: true, cell: (r) => n(r.services) },
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
    this.alertsTitle.textContent = alerts.length > 0 ? t.alerts(alerts.length) : t.noAlerts;
    this.alertList.replaceChildren(...alerts.map((a) => h('li', { class: 'alert', dataset: { testid: 'alert', kind: a.kind ?? '', id: a.id ?? '' } },
      h('span', { class: 'alert-kind' }, ALERT_KINDS[a.kind] ?? String(a.kind ?? t.alert)),
      h('span', { class: 'alert-where' }, ALERT_PLACES[a.where] ?? placeName(a.where)),
      h('span', { class: 'alert-message' }, String(a.message ?? '')),
      h('span', { class: 'alert-since', title: fullTime(a.since) }, a.since ? t.alertSince(fullTime(a.since).slice(11), ago(a.since, now)) : ''))));
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
    $('team-count').textContent = t.teamCount(rows.length);
    this.teams.set(rows);
  }
}
