// Scans per minute over the last 60 minutes (state.trend, by event time).
import { ChartHost, ACCENT, MUTED, LINE } from './echarts.js';
import { echarts } from './echarts.js';
import { minuteLabel } from '../../shared/format.js';

export class Trend {
  constructor(el, valueEl, t) {
    this.t = t;
    this.valueEl = valueEl;
    this.host = new ChartHost(el, () => this.base(), (s) => this.update(s));
  }

  base() {
    return {
      animationDurationUpdate: 800,
      grid: { left: 4, right: 12, top: 10, bottom: 2, containLabel: true },
      xAxis: {
        type: 'category',
        boundaryGap: false,
        data: [],
        axisLine: { lineStyle: { color: LINE } },
        axisTick: { show: false },
        axisLabel: { color: MUTED, fontSize: 12, interval: 14 },
      },
      yAxis: {
        type: 'value',
        minInterval: 1,
        splitNumber: 2,
        axisLabel: { color: MUTED, fontSize: 12 },
        splitLine: { lineStyle: { color: 'rgba(63,208,255,0.10)' } },
      },
      series: [{
        type: 'line',
        smooth: 0.35,
        silent: true,
        symbol: 'none',
        lineStyle: { color: ACCENT, width: 2.5, shadowColor: 'rgba(63,208,255,0.8)', shadowBlur: 10 },
        areaStyle: {
          color: new echarts.graphic.LinearGradient(0, 0, 0, 1, [
            { offset: 0, color: 'rgba(63,208,255,0.45)' },
            { offset: 1, color: 'rgba(63,208,255,0.02)' },
          ]),
        },
        data: [],
      }],
    };
  }

  update(state) {
    const trend = state.trend || [];
    const labels = trend.map((p) => minuteLabel(p.minute));
    const values = trend.map((p) => p.scans);
    return {
      key: `${labels[0]}|${values.join(',')}`,
      option: { xAxis: { data: labels }, series: [{ data: values }] },
    };
  }

  render(state) {
    this.host.render(state);
    const trend = state.trend || [];
    const last = trend[trend.length - 1];
    this.valueEl.textContent = last ? String(last.scans) : '0';
    this.valueEl.setAttribute('aria-label', `${this.t.trend} ${trend.map((p) => p.scans).join(' ')}`);
  }
}
