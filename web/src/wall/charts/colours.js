// The five colours (五色): a donut in the program's own hues, with counts and
// shares in the legend beside it.
import { ChartHost } from './echarts.js';
import { thousands, share } from '../../shared/format.js';

export const COLOURS = [
  ['green', '#3ccf6e'],
  ['orange', '#ff9f2e'],
  ['pink', '#ff6fae'],
  ['yellow', '#ffd43b'],
  ['blue', '#3d8bff'],
];

export class Colours {
  constructor(el, legendEl, t) {
    this.t = t;
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
    for (const [key, colour] of COLOURS) {
      const li = document.createElement('li');
      li.dataset.testid = `colour-${key}`;
      li.dataset.colour = key;
      const dot = document.createElement('i');
      dot.className = `swatch swatch-${key}`;
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
      legendEl.append(li);
      this.items.set(key, { li, count, pct, exact, colour });
    }
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
        data: COLOURS.map(([name, colour]) => ({ name, value: 0, itemStyle: { color: colour, shadowColor: colour, shadowBlur: 12 } })),
      }],
    };
  }

  update(state) {
    const c = state.colours;
    const values = COLOURS.map(([k]) => c[k] || 0);
    return {
      key: values.join(','),
      option: { series: [{}, { data: COLOURS.map(([name, colour], i) => ({ name, value: values[i], itemStyle: { color: colour } })) }] },
    };
  }

  render(state) {
    this.host.render(state);
    const c = state.colours;
    // A colour hidden for viewers (null, docs/privacy.md) is shown as such, never as 0.
    const total = state.totals?.assessed ?? COLOURS.reduce((s, [k]) => s + (c[k] || 0), 0);
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
