// The wall's launch moment (POST /api/v1/wall) and the monthly export link
// (GET /api/v1/export), with the printable reports of its month and quarter.
import { api } from './api.js';
import { h, $, fullTime } from './dom.js';
import { beijing } from '../shared/format.js';
import { strings } from '../shared/i18n.js';

const tw = strings('zh').console.wallControl;

const pad = (n) => String(n).padStart(2, '0');

/** "2017-06-28T10:00:00+08:00" → "2017-06-28T10:00:00" for a datetime-local input (Beijing time). */
function toLocalInput(rfc3339) {
  const ms = Date.parse(rfc3339 ?? '');
  if (Number.isNaN(ms)) return '';
  const b = beijing(ms);
  return `${b.year}-${pad(b.month)}-${pad(b.day)}T${b.hh}:${b.mm}:${b.ss}`;
}

/** A datetime-local value, read as Beijing time, as RFC 3339. */
function fromLocalInput(value) {
  if (!value) return null;
  const full = value.length === 16 ? `${value}:00` : value;
  return `${full}+08:00`;
}

export class WallControl {
  constructor() {
    this.form = $('wall-form');
    this.wall = null;
    this.touched = false;
    this.form.addEventListener('input', () => { this.touched = true; });
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  /** The state's `wall` document, on every state change. */
  render(wall) {
    if (!wall) return;
    const key = JSON.stringify(wall);
    if (key === this.key) return;
    this.key = key;
    this.wall = wall;
    const fact = (k, label, value) => [h('dt', {}, label), h('dd', { dataset: { testid: `wall-now-${k}` } }, value)];
    $('wall-now').replaceChildren(
      ...fact('phase', tw.phase, wall.phase === 'before' ? tw.before : tw.live),
      ...fact('title', tw.title, String(wall.title ?? '')),
      ...fact('countdown', tw.countdown, fullTime(wall.countdown_to)),
      ...fact('launched', tw.launched, fullTime(wall.launched_at)),
    );
    // Fill the form from the server unless staff are editing it.
    if (!this.touched) this.fill(wall);
  }

  fill(wall) {
    const f = this.form.elements;
    for (const r of this.form.querySelectorAll('input[name="phase"]')) r.checked = r.value === wall.phase;
    f.title.value = wall.title ?? '';
    f.countdown.value = toLocalInput(wall.countdown_to);
  }

  async submit() {
    const f = this.form.elements;
    const err = this.form.querySelector('[data-role="error"]');
    const ok = this.form.querySelector('[data-role="ok"]');
    err.hidden = true;
    ok.hidden = true;
    const phase = this.form.querySelector('input[name="phase"]:checked')?.value;
    if (!phase) {
      err.textContent = tw.choosePhase;
      err.hidden = false;
      return;
    }
    const body = { phase, title: f.title.value.trim() || null, countdown_to: fromLocalInput(f.countdown.value) };
    try {
      await api('POST', '/api/v1/wall', body);
      this.touched = false;
      ok.textContent = phase === 'live' ? tw.nowLive : tw.covered;
      ok.hidden = false;
    } catch (e) {
      if (e.status === 401) return;
      err.textContent = tw.applyFailed(e.message);
      err.hidden = false;
    }
  }
}

export class Export {
  constructor() {
    this.form = $('export-form');
    this.link = $('export-link');
    const b = beijing(Date.now());
    this.form.elements.month.value = `${b.year}-${pad(b.month)}`;
    this.form.addEventListener('input', () => this.update());
    this.form.addEventListener('change', () => this.update());
    this.form.addEventListener('submit', (e) => e.preventDefault());
    this.update();
  }

  update() {
    const f = this.form.elements;
    const month = f.month.value;
    const q = new URLSearchParams({ month, level: f.level.value, format: f.format.value });
    this.link.href = `/api/v1/export?${q}`;
    this.link.setAttribute('download', `weibing-${month}-${f.level.value}.${f.format.value}`);
    this.link.classList.toggle('disabled', !/^\d{4}-\d{2}$/.test(month));
    // The printable review of the same month (/console/review), for the district.
    const review = $('review-link');
    review.href = `/console/review?${new URLSearchParams({ month })}`;
    review.classList.toggle('disabled', !/^\d{4}-\d{2}$/.test(month));
    // The quarter the month falls in, for the district's quarterly meeting.
    const m = /^(\d{4})-(\d{2})$/.exec(month);
    const quarter = $('review-quarter-link');
    quarter.href = m ? `/console/review?${new URLSearchParams({ quarter: `${m[1]}-Q${Math.floor((Number(m[2]) - 1) / 3) + 1}` })}` : '/console/review';
    quarter.classList.toggle('disabled', !m);
  }
}
