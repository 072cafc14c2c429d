// 一帐三单: the ledger's task, supervision and feedback lists (docs/review.md).
// GET /api/v1/ledger lists the items (open ones first, by deadline) with the
// counts of open and overdue ones; POST /api/v1/ledger adds one; POST
// /api/v1/ledger/{id}/done closes one with its outcome. The server checks
// every field and names the one it refuses: its message is shown as it is.
// The list is read again after every change.
import { api, read } from './api.js';
import { h, $, fullTime } from './dom.js';
import { DISTRICTS, BY_CODE } from '../shared/regions.js';
import { LEDGER_LISTS } from '../shared/lists.js';
import { beijing } from '../shared/format.js';
import { strings } from '../shared/i18n.js';

const t = strings('zh').console.ledger;

const pad = (n) => String(n).padStart(2, '0');

/** Whole days from one "YYYY-MM-DD" to another (positive when `to` is later). */
export function daysBetween(from, to) {
  const day = (d) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d ?? '');
    return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  };
  return Math.round((day(to) - day(from)) / 86_400_000);
}

/** What the status column says of an item: overdue by n days, due today, n days left, or done. */
export function statusText(item, today) {
  if (item.done_at) return t.done;
  const left = daysBetween(today, item.deadline);
  if (Number.isNaN(left)) return item.overdue ? t.overdueDays('?') : '';
  if (item.overdue || left < 0) return t.overdueDays(Math.max(1, -left));
  return left === 0 ? t.dueToday : t.daysLeft(left);
}

const stateOf = (item) => (item.done_at ? 'done' : item.overdue ? 'overdue' : 'open');

export class Ledger {
  constructor() {
    this.form = $('ledger-form');
    this.rows = $('ledger-rows');
    this.teams = new Map(); // registered team id → {name, district}
    this.teamsRead = false;
    this.doing = null; // the item the 办结 dialog is for
    const list = this.form.elements.list;
    for (const l of LEDGER_LISTS) list.append(h('option', { value: l.code }, t.lists[l.code]));
    const district = this.form.elements.district;
    for (const d of DISTRICTS) district.append(h('option', { value: d.code }, d.zh));
    district.addEventListener('change', () => this.teamChoices());
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.add();
    });
    $('ledger-refresh').addEventListener('click', () => this.load());
    // The 办结 dialog.
    this.dialog = $('ledger-done');
    $('ledger-done-cancel').addEventListener('click', () => this.dialog.close());
    $('ledger-done-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.done();
    });
    this.dialog.addEventListener('close', () => { this.doing = null; });
  }

  stop() {
    if (this.dialog.open) this.dialog.close();
  }

  /** Reads the items again (and, the first time, the registry's team names). */
  async load() {
    if (!this.teamsRead) this.readTeams();
    const j = await read('/api/v1/ledger', $('ledger-read-error'), t.readFailed);
    if (!j) return;
    this.render(j);
  }

  /**
   * The registry's teams, with their names, from this month's review (one
   * row per team of the registry): the team field's suggestions and the
   * names in the table. Without them the ids are shown as they are.
   */
  async readTeams() {
    this.teamsRead = true;
    const b = beijing(Date.now());
    try {
      const j = await api('GET', `/api/v1/review?${new URLSearchParams({ month: `${b.year}-${pad(b.month)}`, level: 'team' })}`);
      for (const r of j.rows ?? []) {
        if (r.registered !== false) this.teams.set(String(r.team), { name: String(r.name ?? r.team), district: String(r.district) });
      }
    } catch {
      this.teamsRead = false; // tried again at the next load
      return;
    }
    this.teamChoices();
    if (this.last) this.render(this.last);
  }

  teamChoices() {
    const district = this.form.elements.district.value;
    const options = [...this.teams].filter(([, v]) => v.district === district)
      .map(([id, v]) => h('option', { value: id, label: v.name }));
    $('ledger-teams').replaceChildren(...options);
  }

  render(j) {
    this.last = j;
    const items = Array.isArray(j.items) ? j.items : [];
    const open = $('ledger-open');
    open.textContent = t.open(j.open ?? 0);
    open.dataset.value = String(j.open ?? 0);
    const overdue = $('ledger-overdue');
    overdue.textContent = t.overdue(j.overdue ?? 0);
    overdue.dataset.value = String(j.overdue ?? 0);
    overdue.classList.toggle('firing', (j.overdue ?? 0) > 0);
    if (items.length === 0) {
      this.rows.replaceChildren(h('tr', {}, h('td', { class: 'empty', colSpan: 8 }, t.none)));
      return;
    }
    this.rows.replaceChildren(...items.map((item) => this.row(item, j.today)));
  }

  row(item, today) {
    const id = (field) => `ledger-${item.id}-${field}`;
    const state = stateOf(item);
    const listName = item.list_name || t.lists[item.list];
    const team = item.team == null ? null : String(item.team);
    const teamName = team ? this.teams.get(team)?.name : null;
    return h('tr', { class: `ledger-${state}`, dataset: { testid: `ledger-row-${item.id}`, id: String(item.id), state } },
      h('td', { class: 'nowrap' }, h('span', { class: `list list-${item.list}`, dataset: { testid: id('list') } }, listName)),
      h('td', { class: 'nowrap', dataset: { testid: id('district') } }, BY_CODE.get(String(item.district))?.zh ?? String(item.district)),
      h('td', {},
        team
          ? [teamName ? h('div', { class: 'team-name' }, teamName) : null, h('div', { class: 'mono', dataset: { testid: id('team') } }, team)]
          : h('span', { class: 'muted', dataset: { testid: id('team') } }, t.ownItem)),
      h('td', { class: 'item' },
        h('div', { class: 'title', dataset: { testid: id('title') } }, String(item.title ?? '')),
        item.detail ? h('div', { class: 'sub', dataset: { testid: id('detail') } }, String(item.detail)) : null,
        h('div', { class: 'sub small' }, t.created(String(item.created_by ?? ''), fullTime(item.created_at)))),
      h('td', { dataset: { testid: id('owner') } }, String(item.owner ?? '')),
      h('td', { class: 'nowrap mono deadline', dataset: { testid: id('deadline') } }, String(item.deadline ?? '')),
      h('td', { class: 'ledger-status' },
        h('span', { class: `pill ${state}`, dataset: { testid: id('status') } }, statusText(item, today)),
        item.done_at
          ? [
            h('div', { class: 'sub small' },
              h('span', { dataset: { testid: id('done-by') } }, String(item.done_by ?? '')), ' · ',
              h('span', { dataset: { testid: id('done-at') } }, fullTime(item.done_at))),
            h('div', { class: 'sub outcome' }, item.outcome
              ? [t.outcome, h('span', { dataset: { testid: id('outcome') } }, String(item.outcome))]
              : h('span', { dataset: { testid: id('outcome') } }, t.noOutcome)),
          ]
          : null),
      h('td', {}, item.done_at ? null : h('button', {
        type: 'button', class: 'small', dataset: { testid: id('finish') }, onclick: () => this.ask(item),
      }, t.finish)));
  }

  showError(box, label, textEl, prefix, message) {
    $(label).textContent = message ? prefix : '';
    $(textEl).textContent = message ?? '';
    $(box).hidden = !message;
  }

  async add() {
    const f = this.form.elements;
    this.showError('ledger-error-box', 'ledger-error-label', 'ledger-error', t.addFailed, null);
    $('ledger-ok').hidden = true;
    const body = {
      list: f.list.value,
      district: f.district.value,
      title: f.title.value,
      owner: f.owner.value,
      deadline: f.deadline.value,
    };
    // Optional fields are sent only when filled; the server trims them.
    if (f.team.value.trim()) body.team = f.team.value.trim();
    if (f.detail.value.trim()) body.detail = f.detail.value;
    const button = this.form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const item = await api('POST', '/api/v1/ledger', body);
      for (const name of ['team', 'title', 'owner', 'deadline', 'detail']) f[name].value = '';
      $('ledger-ok').textContent = t.added(item.list_name || t.lists[item.list], item.title);
      $('ledger-ok').hidden = false;
    } catch (e) {
      if (e.status === 401) return;
      // The server's message as it is: it names the field and why.
      this.showError('ledger-error-box', 'ledger-error-label', 'ledger-error', t.addFailed, e.message);
      return;
    } finally {
      button.disabled = false;
    }
    await this.load();
  }

  /** 办结: asks for the outcome (optional) in a dialog. */
  ask(item) {
    this.doing = item;
    $('ledger-done-title').textContent = t.doneTitle(item.list_name || t.lists[item.list], item.title);
    $('ledger-outcome').value = '';
    this.showError('ledger-done-error-box', 'ledger-done-error-label', 'ledger-done-error', t.doneFailed, null);
    this.dialog.showModal();
    $('ledger-outcome').focus();
  }

  async done() {
    const item = this.doing;
    if (!item) return;
    const outcome = $('ledger-outcome').value.trim();
    const button = $('ledger-done-submit');
    button.disabled = true;
    try {
      await api('POST', `/api/v1/ledger/${encodeURIComponent(item.id)}/done`, outcome ? { outcome } : {});
      this.dialog.close();
    } catch (e) {
      if (e.status === 401) return;
      this.showError('ledger-done-error-box', 'ledger-done-error-label', 'ledger-done-error', t.doneFailed, e.message);
      // Done elsewhere already (409) or gone (404): the list shows how it stands.
      if (e.status === 409 || e.status === 404) await this.load();
      return;
    } finally {
      button.disabled = false;
    }
    await this.load();
  }
}
