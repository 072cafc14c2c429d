// The five colours (五色): a donut in the program's own hues (lists.js), with
// counts and shares in the legend beside it. A colour lists.js does not know
// yet is shown too, by its code, in a neutral hue.
import { ChartHost } from './echarts.js';
import { thousands, share } from '../../shared/format.js';
import { COLOURS as COLOUR_LIST, codes, withUnknown, hueOf } from '../../shared/lists.js';

export const COLOURS = codes(COLOUR_LIST);

export class Colours {
  constructor(el, legendEl, t) {
    this.t = t;
    this.legendEl = legendEl;
    this.host = new ChartHost(el, () => this.base(), (s) => this.update(s));
    this.centre = document.createElement('div');
    this.centre.className = 'donut-centre';
    this.centreValue = document.createElement('b');
    this.centreValue.className = 'tabular';
    const label = document.createElement('span');
    label.textContent = t.assessed;
    this.centre.append(this.centreValue, label);
    el.parentElement.append(this.centre);
    this.items = new Map();
    for (const key of COLOURS) this.add(key);
  }

  /** A colour's legend row: its swatch in its hue, name, count and share. */
  add(key) {
    const t = this.t;
    const colour = hueOf(key);
    const li = document.createElement('li');
    li.dataset.testid = `colour-${key}`;
    li.dataset.colour = key;
    const dot = document.createElement('i');
    dot.className = 'swatch';
    dot.style.setProperty('--swatch', colour);
    const name = document.createElement('span');
    name.className = 'cl-name';
    name.textContent = t.colourNames[key];
    const count = document.createElement('b');
    count.className = 'cl-count tabular';
    count.setAttribute('aria-hidden', 'true');
    const pct = document.createElement('span');
    pct.className = 'cl-share tabular';
    pct.setAttribute('aria-hidden', 'true');
    const exact = document.createElement('span');
    exact.className = 'sr-only';
    exact.dataset.testid = `colour-${key}-value`;
    li.append(dot, name, count, pct, exact);
    this.legendEl.append(li);
    this.items.set(key, { li, count, pct, exact, colour });
  }

  /** The colours drawn: lists.js's, then any other the state has. */
  shown() {
    return [...this.items.keys()];
  }

  base() {
    return {
      animationDurationUpdate: 900,
      series: [{
        // The empty track under the ring, so no colours means an empty ring.
        type: 'pie',
        radius: ['60%', '86%'],
        silent: true,
        label: { show: false },
        labelLine: { show: false },
        animation: false,
        itemStyle: { color: 'rgba(63,208,255,0.10)' },
        data: [{ name: 'track', value: 1 }],
      }, {
        type: 'pie',
        stillShowZeroSum: false,
        radius: ['60%', '86%'],
        center: ['50%', '50%'],
        silent: true,
        startAngle: 90,
        label: { show: false },
        labelLine: { show: false },
        itemStyle: { borderColor: '#081a36', borderWidth: 3 },
        data: this.shown().map((name) => ({ name, value: 0, itemStyle: { color: hueOf(name), shadowColor: hueOf(name), shadowBlur: 12 } })),
      }],
    };
  }

  update(state) {
    const c = state.colours ?? {};
    const keys = this.shown();
    const values = keys.map((k) => c[k] || 0);
    return {
      key: `${keys.join(',')}:${values.join(',')}`,
      option: { series: [{}, { data: keys.map((name, i) => ({ name, value: values[i], itemStyle: { color: hueOf(name) } })) }] },
    };
  }

  render(state) {
    const c = state.colours ?? {};
    for (const key of withUnknown(COLOUR_LIST, c)) if (!this.items.has(key)) this.add(key);
    this.host.render(state);
    // A colour hidden for viewers (null, docs/privacy.md) is shown as such, never as 0.
    const total = state.totals?.assessed ?? this.shown().reduce((s, k) => s + (c[k] || 0), 0);
    this.centreValue.textContent = thousands(total);
    for (const [key, item] of this.items) {
      const hidden = c[key] === null;
      const n = c[key] || 0;
      const pct = hidden ? '' : share(n, total);
      item.count.textContent = hidden ? this.t.hidden : thousands(n);
      item.pct.textContent = pct;
      item.exact.textContent = hidden ? '' : String(n);
      item.li.dataset.hidden = hidden ? 'true' : 'false';
      item.li.setAttribute('aria-label', `${this.t.colourNames[key]} ${hidden ? this.t.hidden : n} ${pct}`);
    }
  }
}
