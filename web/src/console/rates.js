// The console's quality figures: each district's nine rates (value, n,
// against the standard; the city first), and how each district's index is
// made (progress and quality halves, every component's score and flag).
// Staff read them to see which district lacks which data, and why an index
// is where it is.
import { h } from './dom.js';
import { SortableTable } from './table.js';
import { strings } from '../shared/i18n.js';
import { RATES, planOf, ratesOf, plansOf } from '../shared/rates.js';
import { percent, percentShort, thousands } from '../shared/format.js';
import { BY_CODE } from '../shared/regions.js';

const t = strings('zh');
const PROGRESS = ['reach', 'interactive', 'managed', 'guardians'];

/** A rate's cell: the value as %, n under it; "待报" without a value. */
function rateCell(doc) {
  if (!doc) return '—';
  const n = h('small', { class: 'rate-n' }, `n ${thousands(doc.n)}`);
  return h('span', { class: 'rate' }, doc.value == null ? t.rateNone : percent(doc.value), n);
}

const rateClass = (doc) => (doc?.value == null ? 'rate-none' : doc.pass ? 'rate-pass' : 'rate-fail');

/** A component's cell: its score 0–100 and its flag (偏少, 待报, 未报). */
function componentCell(c) {
  if (!c) return '—';
  const flag = c.flag && c.flag !== 'ok' ? h('span', { class: `flag flag-${c.flag}`, dataset: { flag: c.flag } }, t.flagNames[c.flag] ?? String(c.flag)) : null;
  return h('span', { class: 'comp', dataset: { flag: c.flag ?? '' } }, (100 * c.value).toFixed(1), flag);
}

export class RateTables {
  constructor({ ratesMount, ratesHint, indexMount, indexHint }) {
    this.ratesMount = ratesMount;
    this.ratesHint = ratesHint;
    this.indexMount = indexMount;
    this.indexHint = indexHint;
    this.rates = null;
    this.index = null;
    this.layout = null;
    this.key = null;
  }

  /** The tables' columns follow the region (plans of the rates, weighted components): built again if it changes. */
  build(state) {
    // The plans and rates: lists.js's, then any the state has that it does not know yet.
    const byPlan = plansOf(state).map((plan) => ({ plan, rates: ratesOf(state).filter((r) => planOf(state, r) === plan) }))
      .filter((g) => g.rates.length > 0);
    // The weighted components (state.weights), each in its half, in the program's order.
    const place = (c) => [PROGRESS.indexOf(c), RATES.indexOf(c)].map((i) => (i < 0 ? 99 : i));
    const components = Object.keys(state.weights ?? {}).sort((a, b) => {
      const [x, y] = [place(a), place(b)];
      return x[0] - y[0] || x[1] - y[1] || (a < b ? -1 : a > b ? 1 : 0);
    });
    const halves = state.index?.halves ?? {};
    const progress = components.filter((c) => halves[c] === 'progress');
    const quality = components.filter((c) => halves[c] !== 'progress');
    const layout = JSON.stringify([byPlan, progress, quality, state.index?.standards ?? {}]);
    if (layout === this.layout) return;
    this.layout = layout;
    const standard = (r) => state.index?.standards?.[r]?.standard ?? state.rates?.[r]?.standard;

    this.rates = new SortableTable(this.ratesMount, {
      testid: 'district-rates',
      rowId: (r) => r.code,
      sort: { key: 'code', desc: false },
      groups: [{ label: '', span: 1 }, ...byPlan.map((g) => ({ label: t.planNames[g.plan], span: g.rates.length }))],
      columns: [
        { key: 'code', label: t.district, value: (r) => r.code, cell: (r) => r.name },
        ...byPlan.flatMap((g) => g.rates).map((rate) => ({
          key: rate,
          label: standard(rate) == null ? t.rateNames[rate] : t.rateHead(t.rateNames[rate], percentShort(standard(rate))),
          num: true,
          value: (r) => r.rates?.[rate]?.value ?? null,
          cell: (r) => rateCell(r.rates?.[rate]),
          cls: (r) => rateClass(r.rates?.[rate]),
        })),
      ],
    });

    const comp = (name) => ({
      key: name,
      label: t.componentNames[name] ?? t.rateNames[name] ?? name,
      num: true,
      value: (r) => r.components?.[name]?.value ?? null,
      cell: (r) => componentCell(r.components?.[name]),
    });
    this.index = new SortableTable(this.indexMount, {
      testid: 'district-index',
      rowId: (r) => r.code,
      sort: { key: 'rank', desc: false },
      groups: [
        { label: '', span: 5 },
        { label: t.indexHalves.progress, span: progress.length },
        { label: t.indexHalves.quality, span: quality.length },
      ].filter((g) => g.span > 0),
      columns: [
        { key: 'code', label: t.district, value: (r) => r.code, cell: (r) => r.name },
        { key: 'index', label: t.metric.index, num: true, cell: (r) => Number(r.index).toFixed(1) },
        { key: 'rank', label: t.rank, num: true },
        { key: 'progress', label: t.indexHalves.progress, num: true, cell: (r) => Number(r.progress).toFixed(1) },
        { key: 'quality', label: t.indexHalves.quality, num: true, cell: (r) => Number(r.quality).toFixed(1) },
        ...progress.map(comp),
        ...quality.map(comp),
      ],
    });
  }

  render(state) {
    const key = JSON.stringify([state.rates, state.weights, state.index?.standards, state.index?.min_n,
      Object.entries(state.districts ?? {}).map(([c, d]) => [c, d.rates, d.components, d.index, d.rank, d.progress, d.quality])]);
    if (key === this.key) return;
    this.key = key;
    this.build(state);
    const minN = state.index?.min_n ?? '—';
    this.ratesHint.textContent = t.consoleRatesHint(minN);
    this.indexHint.textContent = t.consoleIndexHint(minN);
    const rows = Object.entries(state.districts ?? {}).map(([code, d]) => ({ code, ...d, name: d.name ?? BY_CODE.get(code)?.zh ?? code }));
    const city = state.scope === 'city' || state.scope == null ? [{ code: 'city', name: t.city, rates: state.rates }] : [];
    this.rates.set(rows, city);
    this.index.set(rows);
  }
}
