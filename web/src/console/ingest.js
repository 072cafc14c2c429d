// Ingest health (GET /api/v1/ingest every 2 s) and the newest rejected
// records (GET /api/v1/rejected). Raw records are outside data: shown as
// text, with control characters made visible.
import { api } from './api.js';
import { h, $, fullTime, ago, visible } from './dom.js';
import { thousands } from '../shared/format.js';
import { strings } from '../shared/i18n.js';

const t = strings('zh').console;

const POLL_MS = 2000;
const REJECTED_EVERY_MS = 6000;
const RAW_SHOWN = 400;

const rate = (x) => (x == null ? '—' : Number(x).toFixed(1));
const ms = (x) => (x == null ? '—' : `${thousands(x)} ms`);

export class Ingest {
  constructor() {
    this.timer = 0;
    this.lastRejected = 0;
    this.running = false;
    this.sources = new Set();
    this.sourceSelect = $('rejected-source');
    this.sourceSelect.addEventListener('change', () => this.loadRejected());
    $('rejected-refresh').addEventListener('click', () => this.loadRejected());
  }

  start() {
    this.running = true;
    this.poll();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
  }

  async poll() {
    clearTimeout(this.timer);
    if (!this.running) return;
    await this.loadHealth();
    if (Date.now() - this.lastRejected >= REJECTED_EVERY_MS) await this.loadRejected();
    if (this.running) this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  async loadHealth() {
    const err = $('ingest-error');
    let j;
    try {
      j = await api('GET', '/api/v1/ingest');
    } catch (e) {
      if (e.status === 401) return;
      err.textContent = t.readFailed(t.ingestHealth, e.message);
      err.hidden = false;
      return;
    }
    err.hidden = true;
    $('ingest-updated').textContent = t.updatedAt(fullTime(new Date().toISOString()).slice(11));
    const ps = j.per_second ?? {};
    const d = j.delay_ms ?? {};
    const stat = (key, label, value, note) => h('div', { class: 'stat', dataset: { testid: `ingest-${key}` } },
      h('span', { class: 'stat-label' }, label), h('b', { class: 'stat-value', dataset: { value: String(value ?? '') } }, note));
    $('ingest-stats').replaceChildren(
      stat('accepted', t.ingestStats.accepted, ps.accepted, rate(ps.accepted)),
      stat('rejected', t.ingestStats.rejected, ps.rejected, rate(ps.rejected)),
      stat('p50', t.ingestStats.p50, d.p50, ms(d.p50)),
      stat('p90', t.ingestStats.p90, d.p90, ms(d.p90)),
      stat('max', t.ingestStats.max, d.max, ms(d.max)),
      stat('events', t.ingestStats.events, d.events, d.events == null ? '—' : thousands(d.events)),
    );
    const now = Date.now();
    const keys = j.keys ?? [];
    $('ingest-keys').replaceChildren(...(keys.length === 0
      ? [h('tr', {}, h('td', { class: 'empty', colSpan: 6 }, t.noRequests))]
      : keys.map((k) => h('tr', { dataset: { source: String(k.source) } },
        h('td', {}, String(k.source)),
        h('td', { class: 'num', dataset: { key: 'requests' } }, thousands(k.requests)),
        h('td', { class: 'num', dataset: { key: 'accepted' } }, thousands(k.accepted)),
        h('td', { class: 'num', dataset: { key: 'duplicates' } }, thousands(k.duplicates)),
        h('td', { class: 'num', dataset: { key: 'rejected' } }, thousands(k.rejected),
          ...(k.not_kept > 0
            ? [h('small', { class: 'not-kept', title: t.notKeptTitle }, t.notKept(thousands(k.not_kept)))]
            : [])),
        h('td', { title: fullTime(k.last_request_at) }, k.last_request_at ? `${fullTime(k.last_request_at)}（${ago(k.last_request_at, now)}）` : '—')))));
    // The rejected list can be narrowed to one source.
    for (const k of keys) {
      if (this.sources.has(k.source)) continue;
      this.sources.add(k.source);
      this.sourceSelect.append(h('option', { value: String(k.source) }, String(k.source)));
    }
  }

  async loadRejected() {
    this.lastRejected = Date.now();
    const err = $('rejected-error');
    const source = this.sourceSelect.value;
    let j;
    try {
      j = await api('GET', `/api/v1/rejected?limit=50${source ? `&source=${encodeURIComponent(source)}` : ''}`);
    } catch (e) {
      if (e.status === 401) return;
      err.textContent = t.readFailed(t.rejectedRecords, e.message);
      err.hidden = false;
      return;
    }
    err.hidden = true;
    const rows = j.rejected ?? [];
    $('rejected-rows').replaceChildren(...(rows.length === 0
      ? [h('tr', {}, h('td', { class: 'empty', colSpan: 7 }, t.noRejected))]
      : rows.map((r) => {
        const raw = visible(r.raw);
        const total = Math.max(r.raw_chars ?? 0, raw.length);
        const shown = total > raw.length || raw.length > RAW_SHOWN ? t.rawCut(raw.slice(0, RAW_SHOWN), total) : raw;
        return h('tr', { dataset: { testid: 'rejected-row' } },
          h('td', { class: 'nowrap' }, fullTime(r.received_at)),
          h('td', {}, String(r.source ?? '')),
          h('td', {}, String(r.format ?? '')),
          h('td', { class: 'num' }, r.line == null ? '' : String(r.line)),
          h('td', { class: 'mono' }, visible(r.event_id ?? '')),
          h('td', { class: 'reason', dataset: { testid: 'rejected-reason' } }, visible(r.reason)),
          h('td', { class: 'raw' }, h('code', { dataset: { testid: 'rejected-raw' }, title: raw.length > RAW_SHOWN ? raw : null }, shown)));
      })));
  }
}
