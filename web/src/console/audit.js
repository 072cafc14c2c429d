// The audit trail: GET /api/v1/audit (newest first); the whole trail as CSV
// is a plain link.
import { read } from './api.js';
import { h, $, fullTime, visible } from './dom.js';
import { strings } from '../shared/i18n.js';

// The server's action names (i18n.js); an unknown one is shown as it is.
const t = strings('zh').console.audit;
const ACTIONS = t.actions;

export class Audit {
  constructor() {
    $('audit-refresh').addEventListener('click', () => this.load());
  }

  async load() {
    const j = await read('/api/v1/audit?limit=200', $('audit-error'), t.readFailed);
    if (!j) return;
    const rows = j.audit ?? [];
    const detail = (d) => (d == null ? '' : typeof d === 'string' ? d : JSON.stringify(d));
    $('audit-rows').replaceChildren(...(rows.length === 0
      ? [h('tr', {}, h('td', { class: 'empty', colSpan: 6 }, t.none))]
      : rows.map((r) => h('tr', { dataset: { testid: 'audit-row', action: String(r.action ?? '') } },
        h('td', { class: 'nowrap' }, fullTime(r.at)),
        h('td', {}, visible(r.actor ?? '')),
        h('td', { title: String(r.action ?? '') }, ACTIONS[r.action] ?? visible(r.action ?? '')),
        h('td', {}, visible(r.target ?? '')),
        h('td', { class: 'mono' }, visible(r.address ?? '')),
        h('td', { class: 'detail' }, visible(detail(r.detail)))))));
  }
}
