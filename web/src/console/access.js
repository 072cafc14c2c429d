// Share links, wall tokens and ingest keys: create (the token is shown once),
// list, revoke. docs/api.md "Credentials".
import { api } from './api.js';
import { h, $, fullTime, ago, copyText } from './dom.js';
import { DISTRICTS } from '../shared/regions.js';
import { strings } from '../shared/i18n.js';

const t = strings('zh').console.credentials;

const MAX_HOURS = 720;
const KINDS = {
  link: { ...t.kinds.link, mount: 'links-table', form: 'link-form' },
  wall: { ...t.kinds.wall, mount: 'walls-table', form: 'wall-token-form' },
  ingest: { ...t.kinds.ingest, mount: 'ingests-table', form: 'ingest-key-form' },
};

export class Access {
  constructor({ confirm }) {
    this.confirm = confirm;
    const scope = $('link-scope');
    for (const d of DISTRICTS) scope.append(h('option', { value: d.code }, d.zh));
    for (const [kind, k] of Object.entries(KINDS)) {
      const form = $(k.form);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        this.create(kind, form);
      });
    }
    $('once-copy').addEventListener('click', async () => {
      const ok = await copyText($('once-value').value, $('once-value'));
      $('once-copied').textContent = ok ? t.copied : t.copyFailed;
    });
    $('once-close').addEventListener('click', () => this.hideOnce());
  }

  async load() {
    await Promise.all(Object.keys(KINDS).map((kind) => this.list(kind)));
  }

  hideOnce() {
    $('once').hidden = true;
    $('once-value').value = '';
    $('once-copied').textContent = '';
  }

  async create(kind, form) {
    const err = form.querySelector('[data-role="error"]');
    err.hidden = true;
    const label = form.elements.label.value.trim();
    const body = { kind, label };
    if (kind === 'link') {
      const hours = Number(form.elements.hours.value);
      if (!Number.isInteger(hours) || hours < 1 || hours > MAX_HOURS) {
        err.textContent = t.hours(MAX_HOURS);
        err.hidden = false;
        return;
      }
      body.scope = form.elements.scope.value;
      body.expires_in_hours = hours;
    }
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const made = await api('POST', '/api/v1/credentials', body);
      // The token is in this answer only: show it once, prominently.
      const value = made.url ? new URL(made.url, location.origin).href : made.token;
      $('once-title').textContent = t.made(KINDS[kind].once, made.label ?? label, made.scope_name);
      $('once-value').value = value;
      $('once-value').dataset.kind = kind;
      $('once-copied').textContent = '';
      $('once').hidden = false;
      $('once-value').select();
      form.elements.label.value = '';
      await this.list(kind);
    } catch (e) {
      if (e.status === 401) return;
      err.textContent = t.createFailed(e.message);
      err.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  async list(kind) {
    const mount = $(KINDS[kind].mount);
    let j;
    try {
      j = await api('GET', `/api/v1/credentials?kind=${kind}`);
    } catch (e) {
      if (e.status === 401) return;
      mount.replaceChildren(h('p', { class: 'form-error' }, t.listFailed(e.message)));
      return;
    }
    const rows = j.credentials ?? [];
    const now = Date.now();
    const c_ = t.columns;
    const head = [c_.label, ...(kind === 'link' ? [c_.scope] : []), c_.state, c_.created, ...(kind === 'link' ? [c_.expires] : []), c_.lastUsed, c_.lastFrom, ''];
    const body = rows.length === 0
      ? [h('tr', {}, h('td', { class: 'empty', colSpan: head.length }, t.none))]
      : rows.map((c) => h('tr', { dataset: { testid: `credential-${c.id}`, id: String(c.id), state: String(c.state) }, class: `state-${c.state}` },
        h('td', {}, String(c.label ?? '')),
        kind === 'link' ? h('td', {}, String(c.scope_name ?? c.scope ?? '')) : null,
        h('td', {}, h('span', { class: `pill ${c.state}`, dataset: { testid: 'credential-state' } }, t.states[c.state] ?? String(c.state))),
        h('td', { class: 'nowrap' }, `${fullTime(c.created_at)} · ${c.created_by ?? ''}`),
        kind === 'link' ? h('td', { class: 'nowrap' }, fullTime(c.expires_at)) : null,
        h('td', { class: 'nowrap', title: fullTime(c.last_used_at) }, c.last_used_at ? ago(c.last_used_at, now) : t.neverUsed),
        h('td', { class: 'mono' }, String(c.last_used_from ?? '—')),
        h('td', {}, c.state === 'active'
          ? h('button', { type: 'button', class: 'danger small', dataset: { testid: 'revoke' }, onclick: () => this.revoke(kind, c) }, t.revoke)
          : null)));
    mount.replaceChildren(h('table', { class: 'grid', dataset: { testid: `credentials-${kind}` } },
      h('thead', {}, h('tr', {}, head.map((t) => h('th', {}, t)))), h('tbody', {}, body)));
  }

  async revoke(kind, c) {
    const what = t.named(KINDS[kind].title, c.label ?? '');
    const ok = await this.confirm(t.revokeConfirm(what));
    if (!ok) return;
    try {
      await api('POST', `/api/v1/credentials/${encodeURIComponent(c.id)}/revoke`);
    } catch (e) {
      if (e.status === 401) return;
      $(KINDS[kind].mount).prepend(h('p', { class: 'form-error' }, t.revokeFailed(e.message)));
      return;
    }
    await this.list(kind);
  }
}
