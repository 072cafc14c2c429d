// The program's four targets as ring gauges: the share reached (the thick
// ring) against the share the plan expects by now (the thin outer arc,
// `planned`: the target pro-rated along its calendar and milestones), and
// in words whether the program is ahead of its plan or behind it, by how
// many. At the pace of the last 15 minutes, when the target will be reached
// is a secondary line.
import { ChartHost } from './echarts.js';
import { thousands, dayTime } from '../../shared/format.js';

export const TARGETS = [
  ['people', '#3fd0ff'],
  ['interactive', '#4fe3c1'],
  ['managed', '#8c9dff'],
  ['guardians', '#c58bff'],
];

// The plan's arc: thin, bright, just outside the ring.
const PLAN_COLOUR = '#ffe27a';

const pct = (value, target) => (target > 0 ? (100 * value) / target : 0);
const pctText = (p) => `${p >= 10 ? p.toFixed(1) : p.toFixed(2)}%`;

/**
 * A target against its plan: a label and the gap's figure (超前计划 82,798,
 * 落后计划 546), or a word alone (按计划进行, 目标已达成, 尚未开始).
 */
export function planStatus(t, tg) {
  const gap = Number(tg.gap) || 0;
  switch (tg.status) {
    case 'reached': return { level: 'reached', label: t.planStatus.reached, figure: '' };
    case 'not_started': return { level: 'not_started', label: t.planStatus.not_started, figure: '' };
    case 'behind': return { level: 'behind', label: t.planStatus.behind, figure: thousands(Math.abs(gap)) };
    case 'ahead': return gap > 0
      ? { level: 'ahead', label: t.planStatus.ahead, figure: thousands(gap) }
      : { level: 'on_track', label: t.planStatus.onTrack, figure: '' };
    // A status this page does not know yet: said by its code.
    default: return { level: 'unknown', label: tg.status == null ? '' : String(tg.status), figure: '' };
  }
}

export class Targets {
  constructor(el, cellsEl, timeEl, t, now) {
    this.t = t;
    this.now = now;
    this.timeEl = timeEl;
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
      const status = document.createElement('div');
      status.className = 'tg-status';
      status.dataset.testid = `target-${key}-status`;
      const statusLabel = document.createElement('span');
      statusLabel.className = 'tg-status-label';
      const statusFigure = document.createElement('b');
      statusFigure.className = 'tg-status-figure tabular';
      status.append(statusLabel, statusFigure);
      const planned = document.createElement('div');
      planned.className = 'tg-planned tabular';
      planned.dataset.testid = `target-${key}-planned`;
      const pace = document.createElement('div');
      pace.className = 'tg-pace tabular';
      const eta = document.createElement('div');
      eta.className = 'tg-eta tabular';
      const exact = document.createElement('span');
      exact.className = 'sr-only';
      exact.dataset.testid = `target-${key}-value`;
      cell.append(pctEl, name, value, status, planned, pace, eta, exact);
      cellsEl.append(cell);
      this.cells.set(key, { cell, pctEl, value, status, statusLabel, statusFigure, planned, pace, eta, exact });
    }
  }

  base() {
    const ring = (i) => ({
      type: 'gauge',
      center: [`${12.5 + 25 * i}%`, '50%'],
      startAngle: 90,
      endAngle: -270,
      min: 0,
      max: 100,
      silent: true,
      pointer: { show: false },
      axisTick: { show: false },
      splitLine: { show: false },
      axisLabel: { show: false },
      title: { show: false },
      detail: { show: false },
      data: [{ value: 0 }],
    });
    return {
      animationDurationUpdate: 1000,
      series: TARGETS.flatMap(([, colour], i) => [{
        ...ring(i),
        radius: '80%',
        progress: { show: true, roundCap: true, width: 9, itemStyle: { color: colour, shadowColor: colour, shadowBlur: 10 } },
        axisLine: { lineStyle: { width: 9, color: [[1, 'rgba(63,208,255,0.12)']] } },
      }, {
        // Where the plan says the value should be by now.
        ...ring(i),
        radius: '96%',
        progress: { show: true, roundCap: true, width: 3, itemStyle: { color: PLAN_COLOUR, shadowColor: PLAN_COLOUR, shadowBlur: 6 } },
        axisLine: { lineStyle: { width: 3, color: [[1, 'rgba(255,226,122,0.10)']] } },
      }]),
    };
  }

  update(state) {
    const values = TARGETS.flatMap(([k]) => {
      const tg = state.targets?.[k];
      return tg ? [Math.min(100, pct(tg.value, tg.target)), Math.min(100, pct(tg.planned ?? 0, tg.target))] : [0, 0];
    });
    return {
      key: values.map((v) => v.toFixed(3)).join(','),
      option: { series: values.map((v) => ({ data: [{ value: v }] })) },
    };
  }

  render(state) {
    this.host.render(state);
    const t = this.t;
    const deadlines = new Set();
    for (const [key, c] of this.cells) {
      const tg = state.targets?.[key];
      if (!tg) continue;
      const p = pct(tg.value, tg.target);
      c.pctEl.textContent = pctText(p);
      c.value.textContent = `${thousands(tg.value)} / ${thousands(tg.target)}`;
      const status = planStatus(t, tg);
      if (c.statusLabel.textContent !== status.label) c.statusLabel.textContent = status.label;
      if (c.statusFigure.textContent !== status.figure) c.statusFigure.textContent = status.figure;
      c.status.dataset.level = status.level;
      c.planned.textContent = t.planned(thousands(tg.planned ?? 0));
      c.pace.textContent = t.perMinute(Number(tg.per_minute || 0).toFixed(1));
      // The pace's forecast, secondary: "预计 06-29 07:12" (or why there is none).
      let eta;
      if (tg.value >= tg.target) eta = '';
      else if (tg.eta && !Number.isNaN(Date.parse(tg.eta))) eta = `${t.etaLabel} ${dayTime(Date.parse(tg.eta), this.now())}`;
      else eta = t.etaNone;
      c.eta.textContent = eta;
      if (tg.deadline) deadlines.add(`${tg.deadline}|${tg.elapsed}`);
      const d = c.cell.dataset;
      d.value = String(tg.value);
      d.target = String(tg.target);
      d.planned = String(tg.planned);
      d.gap = String(tg.gap);
      d.status = String(tg.status);
      d.elapsed = String(tg.elapsed);
      d.deadline = tg.deadline ?? '';
      d.eta = tg.eta ?? '';
      d.perMinute = String(tg.per_minute);
      c.exact.textContent = String(tg.value);
      c.cell.setAttribute('aria-label', `${t.targetNames[key]} ${tg.value} / ${tg.target} ${pctText(p)} ${status.label} ${status.figure} ${t.planned(tg.planned)} ${eta}`.trim());
    }
    // One line for the calendar when the four share it (the region's files may give each its own).
    const [one] = deadlines;
    const time = deadlines.size === 1 ? one.split('|') : null;
    const text = time ? t.planTime(pctText(100 * Number(time[1])), time[0]) : '';
    if (this.timeEl.textContent !== text) this.timeEl.textContent = text;
  }
}
