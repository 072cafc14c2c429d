// 团队登记: the team registry (docs/review.md). GET /api/v1/teams lists the
// region's teams.csv with staff's edits over it (the file's order, then the
// teams added here); PUT /api/v1/teams/{id} adds a team (an id not yet
// listed) or changes one (a listed id). A team is never deleted: it is
// retired by its active_to. The server checks every field and names the one
// it refuses: its message is shown as it is. The list is read again after
// every save.
import { api, read } from './api.js';
import { h, $, fullTime } from './dom.js';
import { DISTRICTS, BY_CODE } from '../shared/regions.js';
import { TEAM_LEVELS, TEAM_DISCIPLINES } from '../shared/lists.js';
import { thousands, ymd } from '../shared/format.js';
import { strings } from '../shared/i18n.js';

const t = strings('zh').console.teams;

// The table's columns: team, institution, level, discipline, target, period, state, last edit, 编辑.
const COLUMNS = 9;
const DEFAULT_TARGET = '1000';
const DISTRICT_ORDER = new Map(DISTRICTS.map((d, i) => [d.code, i]));

/** A team's state on `today` ("YYYY-MM-DD", Beijing): retired once its active_to is past, future before its active_from. */
export function stateOf(team, today) {
  if (team.active_to && team.active_to < today) return 'retired';
  if (team.active_from && team.active_from > today) return 'future';
  return 'active';
}

/** The teams by district, in the districts' order (a code this page does not know last); each district's in the server's order. */
export function byDistrict(teams) {
  const groups = new Map();
  for (const team of teams) {
    const code = String(team.district ?? '');
    if (!groups.has(code)) groups.set(code, { code, name: team.district_name || BY_CODE.get(code)?.zh || code, teams: [] });
    groups.get(code).teams.push(team);
  }
  const rank = (code) => DISTRICT_ORDER.get(code) ?? DISTRICTS.length;
  return [...groups.values()].sort((a, b) => rank(a.code) - rank(b.code));
}

/** The form's fields as the PUT body; active_to only when filled. */
function bodyOf(f) {
  const target = f.target.value.trim();
  const body = {
    name: f.name.value,
    institution: f.institution.value,
    district: f.district.value,
    level: f.level.value,
    discipline: f.discipline.value,
    // A number when it reads as one; otherwise as typed, for the server to name.
    target: target !== '' && Number.isFinite(Number(target)) ? Number(target) : target,
    active_from: f.active_from.value,
  };
  if (f.active_to.value) body.active_to = f.active_to.value;
  return body;
}

/** The district, level and discipline choices of a form. */
function fillChoices(f, { placeholder }) {
  if (!placeholder) f.district.replaceChildren();
  for (const d of DISTRICTS) f.district.append(h('option', { value: d.code }, d.zh));
  for (const l of TEAM_LEVELS) f.level.append(h('option', { value: l.code }, t.levels[l.code]));
  if (!placeholder) f.discipline.replaceChildren();
  for (const d of TEAM_DISCIPLINES) f.discipline.append(h('option', { value: d.code }, t.disciplines[d.code]));
}

/** Selects `value` in a <select>, adding it first when the list lacks it (a code the server has and this page not yet). */
function choose(select, value, label = value) {
  const v = String(value ?? '');
  if (![...select.options].some((o) => o.value === v)) select.append(h('option', { value: v }, String(label ?? v)));
  select.value = v;
}

export class Registry {
  constructor() {
    this.form = $('registry-form');
    this.rows = $('registry-rows');
    this.filter = $('registry-filter');
    this.teams = [];
    this.editing = null; // the team the 编辑 dialog is for
    fillChoices(this.form.elements, { placeholder: true });
    this.form.elements.level.value = 'district';
    this.resetNew();
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.add();
    });
    this.filter.addEventListener('change', () => this.render());
    $('registry-refresh').addEventListener('click', () => this.load());
    // The 编辑 dialog.
    this.dialog = $('registry-edit');
    this.editForm = $('registry-edit-form');
    fillChoices(this.editForm.elements, { placeholder: false });
    $('registry-edit-cancel').addEventListener('click', () => this.dialog.close());
    this.editForm.addEventListener('submit', (e) => {
      e.preventDefault();
      this.save();
    });
    this.dialog.addEventListener('close', () => { this.editing = null; });
  }

  stop() {
    if (this.dialog.open) this.dialog.close();
  }

  /** The 新增 form's fields cleared for the next team; district, level and discipline stay. */
  resetNew() {
    const f = this.form.elements;
    for (const name of ['id', 'name', 'institution', 'active_to']) f[name].value = '';
    f.target.value = DEFAULT_TARGET;
    f.active_from.value = ymd(Date.now());
  }

  async load() {
    const j = await read('/api/v1/teams', $('registry-read-error'), t.readFailed);
    if (!j) return;
    this.teams = Array.isArray(j?.teams) ? j.teams : [];
    this.render();
  }

  render() {
    const today = ymd(Date.now());
    const groups = byDistrict(this.teams);
    // The filter: all, or one of the districts that have teams.
    const chosen = this.filter.value;
    this.filter.replaceChildren(h('option', { value: '' }, t.all),
      ...groups.map((g) => h('option', { value: g.code }, g.name)));
    this.filter.value = groups.some((g) => g.code === chosen) ? chosen : '';
    const shown = groups.filter((g) => !this.filter.value || g.code === this.filter.value);
    const teams = shown.flatMap((g) => g.teams);
    const retired = teams.filter((team) => stateOf(team, today) === 'retired').length;
    const count = $('registry-count');
    count.textContent = t.count(teams.length, retired);
    count.dataset.value = String(teams.length);
    if (teams.length === 0) {
      this.rows.replaceChildren(h('tr', {}, h('td', { class: 'empty', colSpan: COLUMNS }, this.teams.length ? t.noneHere : t.none)));
      return;
    }
    this.rows.replaceChildren(...shown.flatMap((g) => [
      h('tr', { class: 'group', dataset: { testid: `registry-group-${g.code}`, district: g.code } },
        h('th', { colSpan: COLUMNS, scope: 'rowgroup' }, t.group(g.name, g.teams.length))),
      ...g.teams.map((team) => this.row(team, today)),
    ]));
  }

  row(team, today) {
    const id = String(team.id);
    const tid = (field) => `registry-${id}-${field}`;
    const state = stateOf(team, today);
    return h('tr', { class: `registry-${state}`, dataset: { testid: `registry-row-${id}`, id, state, district: String(team.district ?? '') } },
      h('td', { class: 'team' },
        h('div', { class: 'name', dataset: { testid: tid('name') } }, String(team.name ?? '')),
        h('div', { class: 'mono sub', dataset: { testid: tid('id') } }, id)),
      h('td', { dataset: { testid: tid('institution') } }, String(team.institution ?? '')),
      h('td', { class: 'nowrap', dataset: { testid: tid('level'), value: String(team.level ?? '') } }, t.levels[team.level]),
      h('td', { class: 'nowrap' }, h('span', { class: `discipline discipline-${team.discipline}`, dataset: { testid: tid('discipline'), value: String(team.discipline ?? '') } }, t.disciplines[team.discipline])),
      h('td', { class: 'num', dataset: { testid: tid('target'), value: String(team.target ?? '') } }, team.target == null ? '—' : thousands(team.target)),
      h('td', { class: 'nowrap mono', dataset: { testid: tid('period') } }, t.period(String(team.active_from ?? ''), team.active_to ? String(team.active_to) : null)),
      h('td', { class: 'nowrap' }, h('span', { class: `pill ${state}`, dataset: { testid: tid('status') } }, t[state])),
      h('td', { class: 'edited' }, team.edited_by
        ? [h('div', { dataset: { testid: tid('edited-by') } }, String(team.edited_by)),
          h('div', { class: 'sub mono', dataset: { testid: tid('edited-at') } }, fullTime(team.edited_at))]
        : h('span', { class: 'muted', dataset: { testid: tid('source') } }, t.fromFile)),
      h('td', {}, h('button', { type: 'button', class: 'small', dataset: { testid: tid('edit') }, onclick: () => this.edit(team) }, t.edit)));
  }

  showError(box, label, textEl, message) {
    $(label).textContent = message ? t.saveFailed : '';
    $(textEl).textContent = message ?? '';
    $(box).hidden = !message;
  }

  /** 新增团队: PUT with an id not yet listed (a listed one is edited through its row). */
  async add() {
    const f = this.form.elements;
    const showError = (message) => this.showError('registry-error-box', 'registry-error-label', 'registry-error', message);
    showError(null);
    $('registry-ok').hidden = true;
    const id = f.id.value.trim();
    if (!id) {
      showError(t.idMissing);
      return;
    }
    const known = this.teams.find((team) => String(team.id) === id);
    if (known) {
      showError(t.idTaken(id, known.name));
      return;
    }
    const button = this.form.querySelector('button[type="submit"]');
    button.disabled = true;
    let team;
    try {
      team = await api('PUT', `/api/v1/teams/${encodeURIComponent(id)}`, bodyOf(f));
    } catch (e) {
      if (e.status === 401) return;
      // The server's message as it is: it names the field and why.
      showError(e.message);
      return;
    } finally {
      button.disabled = false;
    }
    this.resetNew();
    this.saved(team);
    await this.load();
  }

  saved(team) {
    $('registry-ok').textContent = t.saved(team?.name ?? '');
    $('registry-ok').hidden = false;
    // A filter on another district would hide the team just saved.
    if (this.filter.value && team?.district != null && String(team.district) !== this.filter.value) this.filter.value = String(team.district);
  }

  /** 编辑: the dialog, prefilled with the team; its id stays. */
  edit(team) {
    this.editing = team;
    const f = this.editForm.elements;
    $('registry-edit-title').textContent = t.editTitle(team.id);
    f.name.value = String(team.name ?? '');
    f.institution.value = String(team.institution ?? '');
    choose(f.district, team.district, team.district_name);
    choose(f.level, team.level);
    choose(f.discipline, team.discipline);
    f.target.value = team.target == null ? '' : String(team.target);
    f.active_from.value = String(team.active_from ?? '');
    f.active_to.value = team.active_to ? String(team.active_to) : '';
    this.showError('registry-edit-error-box', 'registry-edit-error-label', 'registry-edit-error', null);
    $('registry-ok').hidden = true;
    this.dialog.showModal();
    f.name.focus();
  }

  async save() {
    const team = this.editing;
    if (!team) return;
    const button = $('registry-edit-submit');
    button.disabled = true;
    let answer;
    try {
      answer = await api('PUT', `/api/v1/teams/${encodeURIComponent(team.id)}`, bodyOf(this.editForm.elements));
      this.dialog.close();
    } catch (e) {
      if (e.status === 401) return;
      this.showError('registry-edit-error-box', 'registry-edit-error-label', 'registry-edit-error', e.message);
      return;
    } finally {
      button.disabled = false;
    }
    this.saved(answer);
    await this.load();
  }
}
