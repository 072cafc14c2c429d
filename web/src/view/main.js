// A leader's read-only link (/v/<token>): the figures that matter on a phone
// held upright, the wall's layout when it is turned (or on a desktop). One
// websocket (/ws?token=…) feeds both. A revoked or expired link (401, or
// {"type":"ended"}) stops reconnecting and says so, full screen.
import '../wall/styles/wall.css';
import './view.css';
import { Live } from '../shared/live.js';
import { socketUrl, showConnection, showFreshness, Throttle } from '../shared/connection.js';
import { Flop } from '../shared/flop.js';
import { strings, districtName } from '../shared/i18n.js';
import { thousands, share, dayTime, percent, percentShort } from '../shared/format.js';
import { DISTRICTS } from '../shared/regions.js';
import { RATES, PLANS, planOf, ratesOf, plansOf, belowStandard, judged } from '../shared/rates.js';
import { COLOURS as COLOUR_LIST, codes, withUnknown, hueOf, colourWheel } from '../shared/lists.js';
import { basisValue } from '../wall/charts/ranking.js';

const t = strings('zh');
const $ = (id) => document.getElementById(id);
const COLOURS = codes(COLOUR_LIST);
const TARGETS = ['people', 'interactive', 'managed', 'guardians'];
const DISTRICT_FIGURES = ['scans', 'assessed', 'managed', 'interactive', 'services', 'guardians', 'scans_last_minute', 'index']
  .map((k) => [k, t.view.figures[k]]);
const SUPPRESSED = t.hidden;
// Phone-first: redraw at most this often (the state itself is always current).
const RENDER_GAP_MS = 400;

/** The token is the path's last part: /v/<token>. */
const token = decodeURIComponent(location.pathname.replace(/\/+$/, '').split('/').pop() || '');

// ---- the portrait page, built once -------------------------------------------------
const flop = new Flop($('v-flop'));
// The mark: the five colours round a circle.
document.querySelector('.v-mark').style.setProperty('--mark', colourWheel());

const targetRows = new Map();
for (const k of TARGETS) {
  const fill = document.createElement('i');
  const bar = el('div', 'v-bar', fill);
  const name = el('span', 'v-t-name', t.targetNames[k]);
  const pct = el('b', 'v-t-pct tabular');
  const val = el('span', 'v-t-val tabular');
  const li = el('li', 'v-target', el('div', 'v-t-line', name, pct), bar, val);
  li.dataset.testid = `v-target-${k}`;
  li.hidden = true;
  $('v-targets').append(li);
  targetRows.set(k, { li, fill, pct, val });
}

// The colours (lists.js's; one it does not know yet is added when the state has it).
const colourRows = new Map();
function addColour(c) {
  const seg = el('i', 'seg');
  const swatch = el('i', 'swatch');
  for (const e of [seg, swatch]) e.style.setProperty('--swatch', hueOf(c));
  $('v-colour-bar').append(seg);
  const count = el('b', 'tabular');
  const pct = el('span', 'v-c-pct tabular');
  const li = el('li', 'v-colour', swatch, el('span', 'v-c-name', t.colourNames[c]), count, pct);
  li.dataset.testid = `v-colour-${c}`;
  li.dataset.colour = c;
  $('v-colours').append(li);
  colourRows.set(c, { seg, count, pct, li });
}
for (const c of COLOURS) addColour(c);

// 三案九率: the scope's nine rates (the city's, or a district link's own), by plan.
$('v-rates-title').textContent = t.rates;
const rateLists = new Map();
function addPlan(plan) {
  const list = el('ul', 'v-rate-list');
  $('v-rates').append(el('div', 'v-plan', el('div', 'v-plan-name', t.planNames[plan]), list));
  rateLists.set(plan, list);
}
for (const plan of PLANS) addPlan(plan);
const rateRows = new Map();
function addRate(rate, state) {
  const fill = document.createElement('i');
  const std = el('i', 'v-std');
  const value = el('b', 'v-rate-value tabular');
  const sub = el('span', 'v-rate-sub tabular');
  const below = el('span', 'v-rate-below tabular');
  const li = el('li', 'v-rate', el('div', 'v-t-line', el('span', 'v-rate-name', t.rateNames[rate]), value),
    el('div', 'v-bar v-rate-bar', fill, std), el('div', 'v-rate-foot', sub, below));
  li.dataset.testid = `v-rate-${rate}`;
  rateLists.get(planOf(state, rate)).append(li);
  rateRows.set(rate, { li, fill, std, value, sub, below });
}
for (const rate of RATES) addRate(rate, {});

$('v-ranking-title').textContent = t.ranking;
const rankRows = new Map();
for (const d of DISTRICTS) {
  const rank = el('span', 'v-r-rank tabular');
  const fill = document.createElement('i');
  const index = el('b', 'v-r-index tabular');
  const people = el('span', 'v-r-people tabular');
  const li = el('li', 'v-rank', rank, el('span', 'v-r-name', d.zh), el('div', 'v-bar thin', fill), index, people);
  li.dataset.testid = `v-rank-${d.code}`;
  rankRows.set(d.code, { li, rank, fill, index, people });
}

const districtCells = new Map();
for (const [k, label] of DISTRICT_FIGURES) {
  const dd = el('dd', 'tabular');
  dd.dataset.testid = `v-district-${k}`;
  $('v-district').append(el('div', 'v-fig', el('dt', '', label), dd));
  districtCells.set(k, dd);
}

function el(tag, cls, ...children) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  for (const c of children) e.append(c);
  return e;
}

// ---- drawing ---------------------------------------------------------------------------
let live = null;
let wall = null;
const throttle = new Throttle(RENDER_GAP_MS, () => render(live.state));

function render(state) {
  if (!state) return;
  const scope = state.scope ?? 'city';
  const isCity = scope === 'city';
  const people = state.totals?.people ?? 0;
  flop.set(people);
  $('v-headline-value').textContent = String(people);
  $('v-headline').setAttribute('aria-label', `${t.people} ${people}`);
  $('v-headline-label').textContent = isCity ? t.view.cityPeople : t.view.districtPeople(districtName('zh', scope));
  $('v-sub').textContent = t.headlineSub(thousands(state.totals?.scans), thousands(state.totals?.assessed));

  for (const [k, r] of targetRows) {
    const g = state.targets?.[k];
    r.li.hidden = !g;
    if (!g) continue;
    const ratio = g.target > 0 ? Math.min(1, g.value / g.target) : 0;
    r.fill.style.width = `${(ratio * 100).toFixed(2)}%`;
    r.pct.textContent = share(g.value, g.target);
    r.val.textContent = `${thousands(g.value)} / ${thousands(g.target)}${g.per_minute > 0 ? ` · ${t.perMinute(thousands(g.per_minute))}` : ''}`;
    r.li.dataset.value = String(g.value);
    r.li.dataset.target = String(g.target);
  }

  const colours = state.colours ?? {};
  for (const c of withUnknown(COLOUR_LIST, colours)) if (!colourRows.has(c)) addColour(c);
  // A colour hidden for viewers (null) is not counted as 0: the total is the published one.
  const assessed = state.totals?.assessed ?? [...colourRows.keys()].reduce((s, c) => s + (colours[c] || 0), 0);
  $('v-assessed').textContent = `${t.assessed} ${thousands(assessed)} ${t.persons}`;
  for (const [c, r] of colourRows) {
    const hidden = colours[c] === null;
    const n = colours[c] || 0;
    r.seg.style.flexGrow = String(n);
    r.seg.hidden = n === 0;
    r.count.textContent = hidden ? t.hidden : thousands(n);
    r.pct.textContent = hidden ? '' : share(n, assessed);
    r.li.dataset.value = hidden ? 'null' : String(n);
  }

  renderRates(state, isCity);
  $('v-ranking-card').hidden = !isCity;
  $('v-district-card').hidden = isCity;
  $('v-teams-card').hidden = isCity;
  if (isCity) renderRanking(state);
  else renderDistrict(state, scope);
}

function renderRates(state, isCity) {
  for (const plan of plansOf(state)) if (!rateLists.has(plan)) addPlan(plan);
  for (const rate of ratesOf(state)) if (!rateRows.has(rate)) addRate(rate, state);
  for (const [rate, r] of rateRows) {
    const list = rateLists.get(planOf(state, rate));
    if (r.li.parentElement !== list) list.append(r.li);
    const doc = state.rates?.[rate];
    const has = doc != null && doc.value != null;
    r.value.textContent = has ? percent(doc.value) : doc?.n > 0 ? t.rateFew : t.rateNone;
    r.li.dataset.pass = has ? (doc.pass ? 'pass' : 'fail') : 'none';
    r.fill.style.width = `${has ? Math.min(100, 100 * doc.value) : 0}%`;
    const standard = doc?.standard ?? state.index?.standards?.[rate]?.standard;
    r.std.hidden = standard == null;
    r.std.style.left = `${100 * Math.min(1, standard ?? 0)}%`;
    const n = thousands(doc?.n ?? 0);
    const nText = rate === 'management' ? t.rateTargetN(n) : t.rateN(n);
    r.sub.textContent = standard == null ? nText : `${t.rateStandard(percentShort(standard))} · ${nText}`;
    // Which districts are below the standard: on the city's link only.
    const below = isCity ? belowStandard(state, rate) : [];
    r.below.textContent = below.length > 0 ? t.rateBelow(below.length, judged(state, rate)) : '';
    r.li.dataset.value = has ? String(doc.value) : '';
    r.li.dataset.n = String(doc?.n ?? 0);
    r.li.dataset.below = below.join(',');
  }
}

function renderRanking(state) {
  const basis = state.index?.basis === 'progress' ? 'progress' : 'index';
  $('v-ranking-basis').textContent = t.rankingBasis[basis];
  $('v-ranking-basis').dataset.basis = basis;
  // The server's order (index.order), never sorted here: it moves a district only on a real lead.
  const order = (state.index?.order ?? []).filter((code) => rankRows.has(code) && state.districts?.[code]);
  const values = order.map((code) => basisValue(state.districts[code], basis));
  const scale = basis === 'index' ? 100 : Math.max(1, ...values);
  const list = $('v-ranking');
  for (const [code, r] of rankRows) if (!order.includes(code)) r.li.remove();
  order.forEach((code, i) => {
    const d = state.districts[code];
    const r = rankRows.get(code);
    r.rank.textContent = String(i + 1);
    r.index.textContent = values[i].toFixed(1);
    r.people.textContent = t.viewPersons(thousands(d.people));
    r.fill.style.width = `${Math.min(100, (values[i] / scale) * 100)}%`;
    r.li.dataset.order = String(i + 1);
    r.li.dataset.basis = basis;
    r.li.dataset.value = String(values[i]);
    r.li.dataset.rank = String(d.rank);
    r.li.dataset.index = String(d.index);
    r.li.dataset.people = String(d.people);
    // Inserting moves the row: the list follows the server's order.
    if (list.children[i] !== r.li) list.insertBefore(r.li, list.children[i] ?? null);
  });
}

function renderDistrict(state, code) {
  const d = state.districts?.[code] ?? {};
  $('v-district-title').textContent = t.view.districtTitle(districtName('zh', code, d.name));
  for (const [k, dd] of districtCells) {
    const v = d[k];
    dd.textContent = v == null ? '—' : k === 'index' ? Number(v).toFixed(1) : thousands(v);
    dd.dataset.value = v == null ? '' : String(v);
  }
  const teams = Object.entries(d.teams ?? {}).sort(([a, x], [b, y]) => (y.managed ?? -1) - (x.managed ?? -1) || a.localeCompare(b));
  const cell = (v) => {
    const td = el('td', v == null ? 'num suppressed' : 'num tabular', v == null ? SUPPRESSED : thousands(v));
    td.dataset.value = v == null ? 'null' : String(v);
    return td;
  };
  const rows = teams.map(([team, f]) => {
    const tr = el('tr', '', el('td', 'data-text', team), cell(f?.managed), cell(f?.served), cell(f?.services));
    tr.dataset.team = team;
    return tr;
  });
  if (rows.length === 0) rows.push(el('tr', '', Object.assign(el('td', 'empty', t.view.noTeams), { colSpan: 4 })));
  $('v-team-rows').replaceChildren(...rows);
}

// ---- connection and freshness (never freeze silently) -----------------------------------
function showStatus(status) {
  showConnection({ status, live, t, badge: $('v-conn'), badgeText: $('v-conn-text'), banner: $('v-stale') });
  wall?.onStatus(status);
}

function onState(state, info) {
  showFreshness($('v-freshness'), info.asOf, t);
  wall?.onState(state, info);
  throttle.follow(info);
}

// ---- ended: revoked or expired ------------------------------------------------------------
function showEnded(reason) {
  if (document.body.dataset.ended) return;
  document.body.dataset.ended = reason;
  live?.stop();
  wall?.stop();
  throttle.cancel();
  clearInterval(metaTimer);
  // The figures go too: a revoked link shows nothing more.
  $('phone').remove();
  $('wall-slot').remove();
  $('ended-why').textContent = t.view.ended[reason] ?? t.view.ended.unknown;
  $('ended').hidden = false;
  document.title = t.view.endedTitle;
}

// ---- who am I: label, scope, expiry ---------------------------------------------------------
let metaTimer = 0;
async function loadMe() {
  let res;
  try {
    res = await fetch(`/api/v1/me?token=${encodeURIComponent(token)}`, { cache: 'no-store', credentials: 'omit' });
  } catch {
    return null; // offline: the socket's own retries go on
  }
  if (res.status === 401) {
    showEnded('unknown');
    return null;
  }
  if (!res.ok) return null;
  const me = await res.json();
  const parts = [me.label, me.scope_name].filter(Boolean);
  if (me.expires_at) parts.push(t.view.validUntil(dayTime(Date.parse(me.expires_at), Date.now())));
  $('v-meta').textContent = parts.join(' · ');
  $('v-meta').dataset.scope = String(me.scope ?? '');
  return me;
}

// ---- portrait or landscape -------------------------------------------------------------------
const landscape = matchMedia('(orientation: landscape)');
let mounting = null;
async function applyOrientation() {
  const wide = landscape.matches;
  document.documentElement.classList.toggle('portrait', !wide);
  document.body.classList.toggle('landscape', wide);
  if (!wide || document.body.dataset.ended) return;
  if (!wall && !mounting) {
    mounting = import('./wall-mount.js').then(({ mountWall }) => mountWall($('wall-slot'), live));
    wall = await mounting;
    mounting = null;
  }
  wall?.refit();
}

async function start() {
  if (!token) {
    showEnded('unknown');
    return;
  }
  live = new Live({
    url: socketUrl(location, token),
    onState,
    onStatus: showStatus,
    onEnded: showEnded,
    // A handshake refused (401 cannot be read from a WebSocket): ask /me.
    onClose: ({ opened }) => { if (!opened) loadMe(); },
  });
  showStatus(live.status);
  live.start();
  loadMe();
  // The expiry passes on its own; /me says so (and keeps the label current).
  metaTimer = setInterval(loadMe, 60_000);
  landscape.addEventListener('change', applyOrientation);
  applyOrientation();
}

start();
