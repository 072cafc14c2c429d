// 三案九率: the nine rates city-wide, in their three plans, each a bar
// against its standard line, with the persons observed (n) and how many
// districts are below the standard. A rate nobody was observed for says
// 待报 (no data yet), never 0%. Rows are built once (a rate or plan lists.js
// does not know yet, when the state first has it); a render sets text,
// widths and classes only.
import { RATES, PLANS, planOf, ratesOf, plansOf, belowStandard, judged } from '../../shared/rates.js';
import { percent, percentShort, thousands } from '../../shared/format.js';
import { districtName } from '../../shared/i18n.js';

export class Rates {
  constructor(root, lang, t) {
    this.root = root;
    this.lang = lang;
    this.t = t;
    this.lists = new Map();
    for (const plan of PLANS) this.addPlan(plan);
    this.rows = new Map();
    for (const rate of RATES) this.addRate(rate);
    this.place({});
  }

  addPlan(plan) {
    const group = document.createElement('div');
    group.className = 'rate-plan';
    group.dataset.plan = plan;
    const name = document.createElement('div');
    name.className = 'rate-plan-name';
    name.textContent = this.t.planNames[plan];
    const list = document.createElement('ul');
    list.className = 'rate-rows';
    group.append(name, list);
    this.root.append(group);
    this.lists.set(plan, list);
  }

  addRate(rate) {
    const li = document.createElement('li');
    li.className = 'rate-row';
    li.dataset.testid = `rate-${rate}`;
    li.dataset.rate = rate;
    const name = document.createElement('span');
    name.className = 'rt-name';
    name.textContent = this.t.rateNames[rate];
    const bar = document.createElement('div');
    bar.className = 'rt-bar';
    const fill = document.createElement('i');
    fill.className = 'rt-fill';
    const std = document.createElement('i');
    std.className = 'rt-std';
    bar.append(fill, std);
    const value = document.createElement('b');
    value.className = 'rt-value tabular';
    value.dataset.testid = `rate-${rate}-text`;
    const sub = document.createElement('span');
    sub.className = 'rt-sub tabular';
    const below = document.createElement('span');
    below.className = 'rt-below tabular';
    below.dataset.testid = `rate-${rate}-below`;
    li.append(name, bar, value, sub, below);
    this.rows.set(rate, { li, fill, std, value, sub, below });
  }

  /** Puts each row in its plan's list (moved only when the region says otherwise). */
  place(state) {
    for (const plan of plansOf(state)) if (!this.lists.has(plan)) this.addPlan(plan);
    for (const rate of ratesOf(state)) if (!this.rows.has(rate)) this.addRate(rate);
    for (const [rate, row] of this.rows) {
      const list = this.lists.get(planOf(state, rate));
      if (row.li.parentElement !== list) list.append(row.li);
    }
  }

  render(state) {
    const t = this.t;
    this.place(state);
    for (const [rate, row] of this.rows) {
      const doc = state.rates?.[rate];
      const standard = doc?.standard ?? state.index?.standards?.[rate]?.standard ?? null;
      const has = doc != null && doc.value != null;
      const valueText = has ? percent(doc.value) : doc?.n > 0 ? t.rateFew : t.rateNone;
      if (row.value.textContent !== valueText) row.value.textContent = valueText;
      const pass = has ? (doc.pass === true ? 'pass' : 'fail') : 'none';
      if (row.li.dataset.pass !== pass) row.li.dataset.pass = pass;
      row.fill.style.transform = `scaleX(${has ? Math.min(1, Math.max(0, doc.value)) : 0})`;
      row.std.style.left = `${100 * Math.min(1, Math.max(0, standard ?? 0))}%`;
      row.std.hidden = standard == null;
      // n is persons observed; for 管理率 the target population it is a share of.
      const n = doc?.n ?? 0;
      const nText = rate === 'management' ? t.rateTargetN(thousands(n)) : t.rateN(thousands(n));
      const sub = standard == null ? nText : `${t.rateStandard(percentShort(standard))} · ${nText}`;
      if (row.sub.textContent !== sub) row.sub.textContent = sub;
      // Of the districts with a value: how many are below the standard ("2/3 区未达标"), or "3 区达标".
      const below = belowStandard(state, rate);
      const m = judged(state, rate);
      const belowText = below.length > 0 ? t.rateBelow(below.length, m) : m > 0 ? t.rateAllPass(m) : '';
      if (row.below.textContent !== belowText) row.below.textContent = belowText;
      row.below.dataset.level = below.length > 0 ? 'fail' : 'pass';
      // The exact figures, for screen readers and tests.
      const li = row.li;
      li.dataset.value = has ? String(doc.value) : '';
      li.dataset.n = String(n);
      li.dataset.standard = standard == null ? '' : String(standard);
      li.dataset.below = below.join(',');
      li.dataset.plan = planOf(state, rate);
      const names = below.map((c) => districtName(this.lang, c, state.districts[c]?.name)).join(' ');
      li.setAttribute('aria-label', `${t.rateNames[rate]} ${valueText} ${sub} ${belowText} ${names}`.trim());
    }
  }
}
