// The ten service categories (十类服务, lists.js): service events per
// category. A category lists.js does not know yet is drawn too, by its code.
import { ChartHost, TEXT, MUTED } from './echarts.js';
import { echarts } from './echarts.js';
import { thousands } from '../../shared/format.js';
import { CATEGORIES as CATEGORY_LIST, codes, withUnknown } from '../../shared/lists.js';

export const CATEGORIES = codes(CATEGORY_LIST);

export class Categories {
  constructor(el, valuesEl, t) {
    this.t = t;
    this.valuesEl = valuesEl;
    this.host = new ChartHost(el, () => this.base(), (s) => this.update(s));
    this.items = new Map();
    for (const key of CATEGORIES) this.add(key);
  }

  add(key) {
    const li = document.createElement('li');
    li.dataset.testid = `category-${key}`;
    this.valuesEl.append(li);
    this.items.set(key, li);
  }

  /** The categories drawn: lists.js's, then any other the state has. */
  shown() {
    return [...this.items.keys()];
  }

  base() {
    return {
      animationDurationUpdate: 900,
      grid: { left: 12, right: 56, top: 4, bottom: 0, containLabel: true },
      xAxis: { type: 'value', show: false, max: (v) => Math.max(v.max * 1.05, 1) },
      yAxis: {
        type: 'category',
        inverse: true,
        data: this.shown().map((k) => this.t.categoryNames[k]),
        axisLine: { show: false },
        axisTick: { show: false },
        axisLabel: { color: TEXT, fontSize: 14, margin: 10 },
      },
      series: [{
        type: 'bar',
        silent: true,
        barWidth: 10,
        showBackground: true,
        backgroundStyle: { color: 'rgba(63,208,255,0.06)', borderRadius: 5 },
        itemStyle: {
          borderRadius: 5,
          color: new echarts.graphic.LinearGradient(0, 0, 1, 0, [
            { offset: 0, color: '#2a4fd6' },
            { offset: 1, color: '#4fe3c1' },
          ]),
        },
        label: { show: true, position: 'right', color: MUTED, fontSize: 14, formatter: (p) => thousands(p.value) },
        data: this.shown().map(() => 0),
      }],
    };
  }

  update(state) {
    const keys = this.shown();
    const values = keys.map((k) => state.categories?.[k] || 0);
    const option = { series: [{ data: values }] };
    // Only when a category was added: the axis names it.
    if (keys.length !== CATEGORIES.length) option.yAxis = { data: keys.map((k) => this.t.categoryNames[k]) };
    return { key: `${keys.length}:${values.join(',')}`, option };
  }

  render(state) {
    for (const key of withUnknown(CATEGORY_LIST, state.categories)) if (!this.items.has(key)) this.add(key);
    this.host.render(state);
    for (const [key, li] of this.items) {
      const v = state.categories?.[key];
      // Hidden for viewers (null, docs/privacy.md): said, never drawn as 0.
      li.dataset.value = v === null ? 'null' : String(v || 0);
      li.textContent = `${this.t.categoryNames[key]} ${v === null ? this.t.hidden : v || 0}`;
    }
  }
}
