// The Beijing district map: a choropleth of one metric at a time, rotating
// every 15 s (people per 10,000 residents → index → managed per 10,000 →
// guardians per 10,000), with the value per district on the map and in the
// table beside it. Each metric has FIXED colour breaks, labelled with their
// unit in the legend: a colour means the same figure whatever the data, and
// the map of launch morning is honestly dark rather than stretched.
//
// Boundaries: Apache ECharts 4.9.0, map/json/province/beijing.json
// (Apache-2.0), bundled at build time. The state keys districts by code, the
// map's features by name: joined through regions.js.
import beijing from 'echarts-map-4/map/json/province/beijing.json';
import { echarts, ChartHost, ACCENT } from './echarts.js';
import { BY_NAME, DISTRICTS, currentName } from '../../shared/regions.js';
import { districtName } from '../../shared/i18n.js';
import { decimal1 } from '../../shared/format.js';

// Per 10,000 residents. Beijing has about 2,150 × 10,000 residents: the
// program's targets are about 465 reached and 46 managed (and 46 guardians)
// per 10,000; launch morning's 82,969 people are about 38.
const PER_10K_PEOPLE = [0, 10, 25, 50, 100, 200, 500];
const PER_10K_FEW = [0, 1, 5, 10, 25, 50];

/** metric → where its value is in a district's document, and its breaks (the last piece is open unless `max`). */
export const METRICS = [
  { key: 'people', value: (d) => d.per_10k?.people, breaks: PER_10K_PEOPLE },
  { key: 'index', value: (d) => d.index, breaks: [0, 20, 40, 60, 80], max: 100 },
  { key: 'managed', value: (d) => d.per_10k?.managed, breaks: PER_10K_FEW },
  { key: 'guardians', value: (d) => d.per_10k?.guardians, breaks: PER_10K_FEW },
];
export const ROTATE_MS = 15_000;

// Dark to bright, the wall's blues; a metric with fewer pieces takes evenly spaced ones.
const RAMP = ['#0e2247', '#15387a', '#1d55b0', '#2477d8', '#35a4ee', '#6fd3f7', '#c8f4ff'];

/** The fixed pieces of a metric: [{min, max (null: open), label, color}]. */
export function pieces(metric) {
  const { breaks, max } = metric;
  const n = breaks.length;
  return breaks.map((min, i) => {
    const hi = i + 1 < n ? breaks[i + 1] : max ?? null;
    const color = RAMP[n === 1 ? 0 : Math.round((i * (RAMP.length - 1)) / (n - 1))];
    return { min, max: hi, label: hi == null ? `≥ ${min}` : `${min}–${hi}`, color };
  });
}

// Register once per page, with current names (密云县 → 密云区 if ever needed).
const geo = structuredClone(beijing);
for (const f of geo.features) {
  f.properties.name = currentName(f.properties.name);
  // `cp` marks each district's seat of government, often at its edge (门头沟's
  // is next to the city); labels read better at the shape's own centre.
  delete f.properties.cp;
}
echarts.registerMap('beijing', geo);
export const FEATURE_NAMES = geo.features.map((f) => f.properties.name);

// The urban districts are small at this scale: their labels are moved
// apart, and the three smallest show only their names (the table beside the
// map has every value).
const CORE_LABELS = {
  东城区: { offset: [28, 4], nameOnly: true },
  西城区: { offset: [-4, -20], nameOnly: true },
  石景山区: { offset: [-26, 8], nameOnly: true },
  朝阳区: { offset: [24, -10] },
  海淀区: { offset: [-8, -16] },
  丰台区: { offset: [-20, 18] },
};

const fmt = (v) => decimal1(v);
const BY_KEY = new Map(METRICS.map((m) => [m.key, m]));

/** The ECharts pieces of a metric (lower bound included, upper bound excluded but for a closed last piece). */
function visualPieces(metric) {
  return pieces(metric).map((p, i, all) => {
    const piece = { gte: p.min, color: p.color };
    if (p.max != null) piece[i === all.length - 1 ? 'lte' : 'lt'] = p.max;
    return piece;
  });
}

export class DistrictMap {
  constructor(el, { lang, t, tableEl, valuesEl, tabsEl, legendEl }) {
    this.lang = lang;
    this.t = t;
    this.metric = METRICS[0].key;
    this.tableEl = tableEl;
    this.valuesEl = valuesEl;
    this.tabsEl = tabsEl;
    this.legendEl = legendEl;
    this.host = new ChartHost(el, () => this.base(), (s) => this.update(s));
    this.el = el;
    this.buildTabs();
    this.buildLegends();
    this.buildValues();
    this.rows = this.buildTable();
  }

  base() {
    const lang = this.lang;
    return {
      animationDurationUpdate: 1200,
      animationEasingUpdate: 'cubicInOut',
      // The legend is drawn in the page (buildLegends): crisp text, the same breaks.
      visualMap: {
        type: 'piecewise',
        show: false,
        seriesIndex: 0,
        pieces: visualPieces(BY_KEY.get(this.metric)),
        outOfRange: { color: RAMP[0] },
      },
      series: [{
        type: 'map',
        map: 'beijing',
        roam: false,
        selectedMode: false,
        silent: true,
        aspectScale: 0.78,
        // A little right of centre: the legend sits in the bottom-left corner.
        layoutCenter: ['53%', '50%'],
        layoutSize: '96%',
        label: {
          show: true,
          color: '#ffffff',
          fontSize: 14,
          lineHeight: 18,
          textBorderColor: 'rgba(3,12,30,0.9)',
          textBorderWidth: 3,
          formatter: (p) => {
            const d = BY_NAME.get(p.name);
            const name = d ? districtName(lang, d.code) : p.name;
            return Number.isFinite(p.value) ? `${name}\n{v|${fmt(p.value)}}` : name;
          },
          rich: { v: { fontSize: 15, fontWeight: 'bold', color: '#ffe27a', textBorderColor: 'rgba(3,12,30,0.9)', textBorderWidth: 3 } },
        },
        itemStyle: {
          borderColor: ACCENT,
          borderWidth: 1.2,
          shadowColor: 'rgba(63,208,255,0.55)',
          shadowBlur: 14,
        },
        emphasis: { disabled: true },
        data: [],
      }],
    };
  }

  update(state) {
    const metric = BY_KEY.get(this.metric);
    const data = [];
    let matched = 0;
    for (const name of FEATURE_NAMES) {
      const d = BY_NAME.get(name);
      const doc = d && state.districts[d.code];
      if (!doc) continue;
      matched += 1;
      const value = Number(metric.value(doc)) || 0;
      const core = CORE_LABELS[name];
      if (!core) data.push({ name, value });
      else if (!core.nameOnly) data.push({ name, value, label: { offset: core.offset } });
      else data.push({ name, value, label: { offset: core.offset, fontSize: 13, formatter: () => districtName(this.lang, d.code) } });
    }
    this.el.dataset.regions = String(matched);
    this.el.dataset.metric = this.metric;
    return {
      key: `${this.metric}|${data.map((x) => x.value).join(',')}`,
      option: { visualMap: { pieces: visualPieces(metric) }, series: [{ data }] },
    };
  }

  buildTabs() {
    this.tabs = new Map();
    for (const { key } of METRICS) {
      const tab = document.createElement('span');
      tab.className = 'metric-tab';
      tab.dataset.metric = key;
      tab.textContent = this.t.mapMetric[key];
      const bar = document.createElement('i');
      tab.append(bar);
      this.tabsEl.append(tab);
      this.tabs.set(key, tab);
    }
    const note = document.createElement('span');
    note.className = 'metric-note';
    note.textContent = this.t.metricNote;
    this.tabsEl.append(note);
    this.markTab();
  }

  /** One legend per metric, built once; the current one is shown. */
  buildLegends() {
    this.legends = new Map();
    for (const metric of METRICS) {
      const box = document.createElement('div');
      box.className = 'map-legend';
      box.dataset.testid = `map-legend-${metric.key}`;
      box.dataset.metric = metric.key;
      const title = document.createElement('div');
      title.className = 'ml-title';
      title.textContent = this.t.mapLegend[metric.key];
      const list = document.createElement('ol');
      // Highest first, as a legend beside a map reads.
      for (const p of [...pieces(metric)].reverse()) {
        const li = document.createElement('li');
        li.dataset.min = String(p.min);
        li.dataset.max = p.max == null ? '' : String(p.max);
        const swatch = document.createElement('i');
        swatch.style.background = p.color;
        const label = document.createElement('span');
        label.className = 'tabular';
        label.textContent = p.label;
        li.append(swatch, label);
        list.append(li);
      }
      box.append(title, list);
      this.legendEl.append(box);
      this.legends.set(metric.key, box);
    }
    this.markTab();
  }

  markTab() {
    for (const [m, tab] of this.tabs) tab.classList.toggle('active', m === this.metric);
    this.tabsEl.dataset.metric = this.metric;
    for (const [m, box] of this.legends ?? []) box.hidden = m !== this.metric;
    if (this.legendEl) this.legendEl.dataset.metric = this.metric;
  }

  buildValues() {
    this.valueItems = new Map();
    for (const d of DISTRICTS) {
      const li = document.createElement('li');
      li.dataset.testid = `district-${d.code}`;
      this.valuesEl.append(li);
      this.valueItems.set(d.code, li);
    }
  }

  buildTable() {
    const rows = [];
    for (let i = 0; i < DISTRICTS.length; i += 1) {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.className = 'mt-name';
      const value = document.createElement('span');
      value.className = 'mt-value tabular';
      const bar = document.createElement('i');
      li.append(name, value, bar);
      this.tableEl.append(li);
      rows.push({ li, name, value, bar });
    }
    return rows;
  }

  rotate() {
    const i = METRICS.findIndex((m) => m.key === this.metric);
    this.metric = METRICS[(i + 1) % METRICS.length].key;
    this.markTab();
    if (this.host.state) this.render(this.host.state);
  }

  render(state) {
    this.host.render(state);
    const metric = BY_KEY.get(this.metric);
    const t = this.t;
    // The exact figures, for screen readers and tests.
    for (const [code, li] of this.valueItems) {
      const doc = state.districts[code];
      if (!doc) continue;
      const per = doc.per_10k ?? {};
      li.dataset.people = String(doc.people);
      li.dataset.index = String(doc.index);
      li.dataset.managed = String(doc.managed);
      li.dataset.guardians = String(doc.guardians);
      li.dataset.rank = String(doc.rank);
      li.dataset.people10k = String(per.people ?? '');
      li.dataset.managed10k = String(per.managed ?? '');
      li.dataset.guardians10k = String(per.guardians ?? '');
      li.textContent = `${districtName(this.lang, code, doc.name)} ${t.metric.people} ${doc.people} ${t.mapMetric.people} ${per.people} ${t.metric.index} ${doc.index} ${t.metric.managed} ${doc.managed} ${t.mapMetric.managed} ${per.managed}`;
    }
    // The table beside the map: the current metric, largest first.
    const list = DISTRICTS.filter((d) => state.districts[d.code])
      .map((d) => ({ d, v: Number(metric.value(state.districts[d.code])) || 0 }))
      .sort((a, b) => b.v - a.v || a.d.code.localeCompare(b.d.code));
    const max = list[0]?.v || 1;
    this.rows.forEach((row, i) => {
      const item = list[i];
      row.li.hidden = !item;
      if (!item) return;
      const name = districtName(this.lang, item.d.code);
      if (row.name.textContent !== name) row.name.textContent = name;
      const text = fmt(item.v);
      if (row.value.textContent !== text) row.value.textContent = text;
      row.bar.style.transform = `scaleX(${max > 0 ? item.v / max : 0})`;
    });
  }
}
