// k and the alert thresholds: GET/PUT /api/v1/settings.
import { api } from './api.js';
import { $ } from './dom.js';
import { strings } from '../shared/i18n.js';

const t = strings('zh').console;

const ALERT_FIELDS = ['district_drop_ratio', 'district_min_per_minute', 'key_silent_minutes', 'rejected_per_minute', 'tick_late_ms'];

export class Settings {
  constructor() {
    this.form = $('settings-form');
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.save();
    });
  }

  msg(role, text) {
    const err = this.form.querySelector('[data-role="error"]');
    const ok = this.form.querySelector('[data-role="ok"]');
    err.hidden = role !== 'error';
    ok.hidden = role !== 'ok';
    if (role) this.form.querySelector(`[data-role="${role}"]`).textContent = text;
  }

  fill(s) {
    const f = this.form.elements;
    f.k.value = String(s.k ?? '');
    for (const k of ALERT_FIELDS) f[k].value = String(s.alerts?.[k] ?? '');
  }

  async load() {
    this.msg(null);
    try {
      this.fill(await api('GET', '/api/v1/settings'));
    } catch (e) {
      if (e.status !== 401) this.msg('error', t.readFailed('', e.message));
    }
  }

  async save() {
    const f = this.form.elements;
    const body = { k: Number(f.k.value), alerts: {} };
    for (const k of ALERT_FIELDS) body.alerts[k] = Number(f[k].value);
    try {
      this.fill(await api('PUT', '/api/v1/settings', body));
      this.msg('ok', t.saved);
    } catch (e) {
      if (e.status !== 401) this.msg('error', t.notSaved(e.message));
    }
  }
}
