// The Beijing district map: a choropleth of one metric at a time, rotating
// every 15 s (people → index → managed), with the value per district on the
// map and in the table beside it.
//
// Boundaries: Apache ECharts 4.9.0, map/json/province/beijing.json
// (Apache-2.0), bundled at build time. The state keys districts by code, the
// map's features by name: joined through regions.js.
import beijing from 'echarts-map-4/map/json/province/beijing.json';
import { echarts, ChartHost, ACCENT, TEXT } from './echarts.js';
import { BY_NAME, DISTRICTS, currentName } from '../regions.js';
import { districtName } from '../i18n.js';
import { thousands } from '../format.js';

export const METRICS = ['people', 'index', 'managed'];
export const ROTATE_MS = 15_000;

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
  东城区: { offset: [34, 4], nameOnly: true },
  西城区: { offset: [-6, -26], nameOnly: true },
  石景山区: { offset: [-40, -4], nameOnly: true },
  朝阳区: { offset: [30, -14] },
  海淀区: { offset: [-10, -20] },
  丰台区: { offset: [-24, 24] },
};

const fmt = (metric, v) => (metric === 'index' ? Number(v).toFixed(1) : thousands(v));

export class DistrictMap {
  constructor(el, { lang, t, tableEl, valuesEl, tabsEl }) {
    this.lang = lang;
    this.t = t;
    this.metric = METRICS[0];
    this.tableEl = tableEl;
    this.valuesEl = valuesEl;
    this.tabsEl = tabsEl;
    this.host = new ChartHost(el, () => this.base(), (s) => this.update(s));
    this.el = el;
    this.buildTabs();
    this.buildValues();
    this.rows = this.buildTable();
  }

  base() {
    const lang = this.lang;
    return {
      animationDurationUpdate: 1200,
      animationEasingUpdate: 'cubicInOut',
      visualMap: {
        type: 'continuous',
        min: 0,
        max: 1,
        left: 8,
        bottom: 8,
        itemWidth: 14,
        itemHeight: 150,
        calculable: false,
        realtime: false,
        text: [lang === 'en' ? 'high' : '高', lang === 'en' ? 'low' : '低'],
        textGap: 8,
        textStyle: { color: TEXT, fontSize: 14 },
        inRange: { color: ['#0c2c5c', '#125aa6', '#1e8fd6', '#3fd0ff', '#a8f0ff'] },
        seriesIndex: 0,
      },
      series: [{
        type: 'map',
        map: 'beijing',
        roam: false,
        selectedMode: false,
        silent: true,
        aspectScale: 0.78,
        layoutCenter: ['50%', '50%'],
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
            return Number.isFinite(p.value) ? `${name}\n{v|${fmt(this.metric, p.value)}}` : name;
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
    const m = this.metric;
    const data = [];
    let max = 0;
    let min = Infinity;
    let matched = 0;
    for (const name of FEATURE_NAMES) {
      const d = BY_NAME.get(name);
      const doc = d && state.districts[d.code];
      if (!doc) continue;
      matched += 1;
      const value = Number(doc[m]) || 0;
      if (value > max) max = value;
      if (value < min) min = value;
      const core = CORE_LABELS[name];
      if (!core) data.push({ name, value });
      else if (!core.nameOnly) data.push({ name, value, label: { offset: core.offset } });
      else data.push({ name, value, label: { offset: core.offset, fontSize: 13, formatter: () => districtName(this.lang, d.code) } });
    }
    this.el.dataset.regions = String(matched);
    this.el.dataset.metric = m;
    const top = max > 0 ? max : 1;
    // The scale spans the districts' own range, so close values (the index
    // sits near 50 everywhere) still show which district leads.
    const bottom = min < max ? min : 0;
    return {
      key: `${m}|${data.map((x) => x.value).join(',')}`,
      option: { visualMap: { min: bottom, max: top }, series: [{ data }] },
    };
  }

  buildTabs() {
    this.tabs = new Map();
    for (const m of METRICS) {
      const tab = document.createElement('span');
      tab.className = 'metric-tab';
      tab.dataset.metric = m;
      tab.textContent = this.t.metric[m];
      const bar = document.createElement('i');
      tab.append(bar);
      this.tabsEl.append(tab);
      this.tabs.set(m, tab);
    }
    const note = document.createElement('span');
    note.className = 'metric-note';
    note.textContent = this.t.metricNote;
    this.tabsEl.append(note);
    this.markTab();
  }

  markTab() {
    for (const [m, tab] of this.tabs) tab.classList.toggle('active', m === this.metric);
    this.tabsEl.dataset.metric = this.metric;
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
    this.metric = METRICS[(METRICS.indexOf(this.metric) + 1) % METRICS.length];
    this.markTab();
    if (this.host.state) this.render(this.host.state);
  }

  render(state) {
    this.host.render(state);
    const m = this.metric;
    const t = this.t;
    // The exact figures, for screen readers and tests.
    for (const [code, li] of this.valueItems) {
      const doc = state.districts[code];
      if (!doc) continue;
      li.dataset.people = String(doc.people);
      li.dataset.index = String(doc.index);
      li.dataset.managed = String(doc.managed);
      li.dataset.rank = String(doc.rank);
      li.textContent = `${districtName(this.lang, code, doc.name)} ${t.metric.people} ${doc.people} ${t.metric.index} ${doc.index} ${t.metric.managed} ${doc.managed}`;
    }
    // The table beside the map: the current metric, largest first.
    const list = DISTRICTS.map((d) => ({ d, v: Number(state.districts[d.code]?.[m]) || 0 }))
      .sort((a, b) => b.v - a.v || a.d.code.localeCompare(b.d.code));
    const max = list[0]?.v || 1;
    list.forEach(({ d, v }, i) => {
      const row = this.rows[i];
      const name = districtName(this.lang, d.code);
      if (row.name.textContent !== name) row.name.textContent = name;
      const text = fmt(m, v);
      if (row.value.textContent !== text) row.value.textContent = text;
      row.bar.style.transform = `scaleX(${max > 0 ? v / max : 0})`;
    });
  }
}
