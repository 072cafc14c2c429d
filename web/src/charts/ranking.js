// The district index (治未病指数) ranking: 16 bars that slide to their new
// place as ranks change (ECharts realtimeSort).
import { ChartHost, TEXT } from './echarts.js';
import { DISTRICTS } from '../regions.js';
import { districtName } from '../i18n.js';
import { echarts } from './echarts.js';

export class Ranking {
  constructor(el, valuesEl, lang) {
    this.lang = lang;
    this.host = new ChartHost(el, () => this.base(), (s) => this.update(s));
    this.items = new Map();
    for (const d of DISTRICTS) {
      const li = document.createElement('li');
      li.dataset.testid = `rank-${d.code}`;
      valuesEl.append(li);
      this.items.set(d.code, li);
    }
  }

  base() {
    return {
      animationDuration: 0,
      animationDurationUpdate: 1000,
      animationEasing: 'linear',
      animationEasingUpdate: 'linear',
      grid: { left: 4, right: 58, top: 2, bottom: 2, containLabel: true },
      xAxis: { type: 'value', show: false, max: (v) => Math.max(v.max * 1.05, 1) },
      yAxis: {
        type: 'category',
        inverse: true,
        max: DISTRICTS.length - 1,
        data: DISTRICTS.map((d) => districtName(this.lang, d.code)),
        axisLine: { show: false },
        axisTick: { show: false },
        axisLabel: { color: TEXT, fontSize: 15, margin: 10 },
        animationDuration: 300,
        animationDurationUpdate: 800,
      },
      series: [{
        type: 'bar',
        realtimeSort: true,
        silent: true,
        barWidth: 12,
        showBackground: true,
        backgroundStyle: { color: 'rgba(63,208,255,0.06)', borderRadius: 6 },
        itemStyle: {
          borderRadius: 6,
          color: new echarts.graphic.LinearGradient(0, 0, 1, 0, [
            { offset: 0, color: '#1560bd' },
            { offset: 1, color: '#3fd0ff' },
          ]),
          shadowColor: 'rgba(63,208,255,0.5)',
          shadowBlur: 8,
        },
        label: {
          show: true,
          position: 'right',
          color: '#ffe27a',
          fontSize: 15,
          fontWeight: 'bold',
          valueAnimation: true,
          formatter: (p) => Number(p.value).toFixed(1),
        },
        data: DISTRICTS.map(() => 0),
      }],
    };
  }

  update(state) {
    // realtimeSort orders by value; a tiny nudge by the server's rank (ties by
    // code) keeps equal indexes in the server's order instead of shuffling.
    // Labels show one decimal, so the nudge never shows.
    const values = DISTRICTS.map((d) => {
      const doc = state.districts[d.code];
      return doc ? (Number(doc.index) || 0) + (DISTRICTS.length - (Number(doc.rank) || DISTRICTS.length)) * 1e-6 : 0;
    });
    return { key: values.join(','), option: { series: [{ data: values }] } };
  }

  render(state) {
    this.host.render(state);
    for (const [code, li] of this.items) {
      const doc = state.districts[code];
      if (!doc) continue;
      li.dataset.rank = String(doc.rank);
      li.dataset.index = String(doc.index);
      li.textContent = `${doc.rank}. ${districtName(this.lang, code, doc.name)} ${doc.index}`;
    }
  }
}

