// The program's four targets as ring gauges: the share reached and, at the
// pace of the last 15 minutes, when the target will be reached.
import { ChartHost } from './echarts.js';
import { thousands, dayTime } from '../format.js';

export const TARGETS = [
  ['people', '#3fd0ff'],
  ['interactive', '#4fe3c1'],
  ['managed', '#8c9dff'],
  ['guardians', '#c58bff'],
];

const pct = (value, target) => (target > 0 ? (100 * value) / target : 0);
const pctText = (p) => `${p >= 10 ? p.toFixed(1) : p.toFixed(2)}%`;

export class Targets {
  constructor(el, cellsEl, t, now) {
    this.t = t;
    this.now = now;
    this.host = new ChartHost(el, () => this.base(), (s) => this.update(s));
    this.cells = new Map();
    for (const [key] of TARGETS) {
      const cell = document.createElement('div');
      cell.className = 'target-cell';
      cell.dataset.testid = `target-${key}`;
      const pctEl = document.createElement('b');
      pctEl.className = 'tg-pct tabular';
      const name = document.createElement('div');
      name.className = 'tg-name';
      name.textContent = t.targetNames[key];
      const value = document.createElement('div');
      value.className = 'tg-value tabular';
      const pace = document.createElement('div');
      pace.className = 'tg-pace';
      const etaLabel = document.createElement('div');
      etaLabel.className = 'tg-eta-label';
      const eta = document.createElement('div');
      eta.className = 'tg-eta tabular';
      const exact = document.createElement('span');
      exact.className = 'sr-only';
      exact.dataset.testid = `target-${key}-value`;
      cell.append(pctEl, name, value, pace, etaLabel, eta, exact);
      cellsEl.append(cell);
      this.cells.set(key, { cell, pctEl, value, pace, etaLabel, eta, exact });
    }
  }

  base() {
    return {
      animationDurationUpdate: 1000,
      series: TARGETS.map(([, colour], i) => ({
        type: 'gauge',
        center: [`${12.5 + 25 * i}%`, '50%'],
        radius: '86%',
        startAngle: 90,
        endAngle: -270,
        min: 0,
        max: 100,
        silent: true,
        pointer: { show: false },
        progress: { show: true, roundCap: true, width: 9, itemStyle: { color: colour, shadowColor: colour, shadowBlur: 10 } },
        axisLine: { lineStyle: { width: 9, color: [[1, 'rgba(63,208,255,0.12)']] } },
        axisTick: { show: false },
        splitLine: { show: false },
        axisLabel: { show: false },
        title: { show: false },
        detail: { show: false },
        data: [{ value: 0 }],
      })),
    };
  }

  update(state) {
    const values = TARGETS.map(([k]) => {
      const tg = state.targets?.[k];
      // A ring that shows something from the first person on.
      return tg ? Math.min(100, pct(tg.value, tg.target)) : 0;
    });
    return {
      key: values.map((v) => v.toFixed(3)).join(','),
      option: { series: values.map((v) => ({ data: [{ value: v }] })) },
    };
  }

  render(state) {
    this.host.render(state);
    const t = this.t;
    for (const [key, c] of this.cells) {
      const tg = state.targets?.[key];
      if (!tg) continue;
      const p = pct(tg.value, tg.target);
      c.pctEl.textContent = pctText(p);
      c.value.textContent = `${thousands(tg.value)} / ${thousands(tg.target)}`;
      c.pace.textContent = t.perMinute(Number(tg.per_minute || 0).toFixed(1));
      // Two lines: "预计达成" over the time (or why there is none).
      let label = t.etaLabel;
      let when;
      if (tg.value >= tg.target) [label, when] = ['', t.etaReached];
      else if (tg.eta && !Number.isNaN(Date.parse(tg.eta))) when = dayTime(Date.parse(tg.eta), this.now());
      else [label, when] = ['', t.etaNone];
      c.etaLabel.textContent = label;
      c.eta.textContent = when;
      const eta = label ? `${label} ${when}` : when;
      c.cell.dataset.value = String(tg.value);
      c.cell.dataset.target = String(tg.target);
      c.cell.dataset.eta = tg.eta ?? '';
      c.cell.dataset.perMinute = String(tg.per_minute);
      c.exact.textContent = String(tg.value);
      c.cell.setAttribute('aria-label', `${t.targetNames[key]} ${tg.value} / ${tg.target} ${pctText(p)} ${eta}`);
    }
  }
}
