// The review's two charts, drawn as inline SVG: vector in the printed PDF at
// any scale, laid out once by the viewBox (no resize when the page turns
// into print), and only attributes, never inline styles (the server's
// Content-Security-Policy has no 'unsafe-inline'). Colours are the program's
// hues (lists.js), used for the bars only.
import { hueOf, RATES, PLANS } from '../../shared/lists.js';
import { count, percent, standardText, verdict } from './text.js';

const NS = 'http://www.w3.org/2000/svg';
const INK = '#17233a';
const MUTED = '#5d6b85';
const GRID = '#d9e0ec';
const PASS = hueOf('green');
const FAIL = hueOf('orange');
const BAR = hueOf('blue');

/** An SVG element with attributes; strings among `children` become text. */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'testid') el.setAttribute('data-testid', v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c == null || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return el;
}

function svg(width, height, label, testid) {
  return s('svg', {
    viewBox: `0 0 ${width} ${height}`, width: '100%', class: 'chart', role: 'img', 'aria-label': label,
    preserveAspectRatio: 'xMidYMid meet', testid,
  });
}

/** Ticks from 0 to at least `max`: about four steps of 1, 2, 2.5 or 5 × 10ⁿ (integers). */
export function ticks(max) {
  if (!(max > 0)) return [0, 1];
  const raw = max / 4;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 2.5, 5, 10].map((m) => m * pow).find((v) => v >= raw));
  const top = Math.ceil(max / step) * step;
  const out = [];
  for (let v = 0; v <= top + step / 2; v += step) out.push(Math.round(v * 1000) / 1000);
  return out;
}

/**
 * Teams' managed persons (bars) against their target (a dark mark).
 * @param {{id: string, label: string, managed: number, target: number, registered: boolean}[]} rows
 */
export function managedChart(rows) {
  const W = 680;
  const LABEL = 232;
  const X0 = LABEL + 6;
  const X1 = W - 96;
  const TOP = 30;
  const ROW = 20;
  const BAR_H = 11;
  const H = TOP + Math.max(1, rows.length) * ROW + 22;
  const root = svg(W, H, '各团队管理人数与目标', 'chart-managed');
  const max = Math.max(1, ...rows.map((r) => Math.max(r.managed, r.target)));
  const axis = ticks(max);
  const top = axis[axis.length - 1];
  const x = (v) => X0 + ((X1 - X0) * v) / top;
  // Legend.
  root.append(
    s('rect', { x: X0, y: 6, width: 14, height: 9, fill: BAR }),
    s('text', { x: X0 + 19, y: 14, class: 'legend' }, '管理人数'),
    s('line', { x1: X0 + 86, x2: X0 + 86, y1: 3, y2: 18, stroke: INK, 'stroke-width': 2 }),
    s('text', { x: X0 + 93, y: 14, class: 'legend' }, '目标人数'),
    s('text', { x: W, y: 14, class: 'legend muted', 'text-anchor': 'end' }, '单位：人'),
  );
  const bottom = TOP + rows.length * ROW;
  for (const v of axis) {
    root.append(
      s('line', { x1: x(v), x2: x(v), y1: TOP - 4, y2: bottom, stroke: GRID, 'stroke-width': 1 }),
      s('text', { x: x(v), y: bottom + 14, class: 'tick', 'text-anchor': 'middle' }, count(v)),
    );
  }
  rows.forEach((r, i) => {
    const y = TOP + i * ROW + (ROW - BAR_H) / 2;
    const reached = r.target > 0 && r.managed >= r.target;
    // A count above 0 stays visible however small against the scale.
    const width = r.managed > 0 ? Math.max(1.5, x(r.managed) - X0) : 0;
    root.append(
      s('text', { x: LABEL, y: y + BAR_H - 1.5, class: 'label', 'text-anchor': 'end' }, r.label),
      s('rect', {
        x: X0, y, width, height: BAR_H, fill: reached ? PASS : BAR,
        testid: `chart-managed-${r.id}`, 'data-value': r.managed, 'data-target': r.target,
      }),
    );
    if (r.target > 0) {
      root.append(s('line', { x1: x(r.target), x2: x(r.target), y1: y - 3, y2: y + BAR_H + 3, stroke: INK, 'stroke-width': 2 }));
    }
    const value = r.registered === false ? `${count(r.managed)} · 未登记` : `${count(r.managed)} / ${count(r.target)}`;
    root.append(s('text', { x: X1 + 8, y: y + BAR_H - 1.5, class: 'value' }, value));
  });
  root.append(s('line', { x1: X0, x2: X0, y1: TOP - 4, y2: bottom, stroke: MUTED, 'stroke-width': 1 }));
  return root;
}

/**
 * The nine rates of one row (the district's) against their standards: a bar
 * per rate (green at standard, orange below, none and 待报 without a value),
 * the standard a dashed line across its slot, grouped by plan.
 * @param {object} rates the row's `rates` ({code: {value, n, standard, pass}})
 */
export function ratesChart(rates) {
  const W = 680;
  const H = 236;
  const X0 = 40;
  const X1 = W - 4;
  const TOP = 34;
  const BOTTOM = 178;
  const codes = RATES.map((r) => r.code);
  for (const code of Object.keys(rates ?? {})) if (!codes.includes(code)) codes.push(code);
  const slot = (X1 - X0) / codes.length;
  const y = (v) => BOTTOM - (BOTTOM - TOP) * Math.max(0, Math.min(1, v));
  const root = svg(W, H, '全区九率与标准', 'chart-rates');
  root.append(
    s('rect', { x: X0, y: 6, width: 14, height: 9, fill: PASS }),
    s('text', { x: X0 + 19, y: 14, class: 'legend' }, '达标'),
    s('rect', { x: X0 + 58, y: 6, width: 14, height: 9, fill: FAIL }),
    s('text', { x: X0 + 77, y: 14, class: 'legend' }, '未达标'),
    s('line', { x1: X0 + 128, x2: X0 + 150, y1: 10.5, y2: 10.5, stroke: INK, 'stroke-width': 1.5, 'stroke-dasharray': '4 2' }),
    s('text', { x: X0 + 155, y: 14, class: 'legend' }, '标准'),
  );
  for (let p = 0; p <= 100; p += 20) {
    root.append(
      s('line', { x1: X0, x2: X1, y1: y(p / 100), y2: y(p / 100), stroke: GRID, 'stroke-width': 1 }),
      s('text', { x: X0 - 5, y: y(p / 100) + 3.5, class: 'tick', 'text-anchor': 'end' }, `${p}%`),
    );
  }
  codes.forEach((code, i) => {
    const rate = rates?.[code];
    const cx = X0 + slot * (i + 0.5);
    const v = verdict(rate);
    if (v.key === 'pending') {
      root.append(s('text', { x: cx, y: BOTTOM - 6, class: 'value muted', 'text-anchor': 'middle', testid: `chart-rate-${code}`, 'data-value': '' }, '待报'));
    } else {
      const top = y(rate.value);
      root.append(
        s('rect', {
          x: cx - 15, y: top, width: 30, height: Math.max(0, BOTTOM - top), fill: v.key === 'pass' ? PASS : FAIL,
          testid: `chart-rate-${code}`, 'data-value': rate.value,
        }),
        s('text', { x: cx, y: Math.min(top, BOTTOM) - 4, class: 'value', 'text-anchor': 'middle' }, percent(rate.value)),
      );
    }
    if (rate?.standard != null) {
      const sy = y(rate.standard);
      root.append(
        s('line', { x1: cx - slot / 2 + 6, x2: cx + slot / 2 - 6, y1: sy, y2: sy, stroke: INK, 'stroke-width': 1.5, 'stroke-dasharray': '4 2' }),
        s('text', { x: cx + slot / 2 - 6, y: sy - 3, class: 'tick', 'text-anchor': 'end' }, standardText(rate.standard)),
      );
    }
    const name = RATES.find((r) => r.code === code)?.name.zh ?? code;
    root.append(s('text', { x: cx, y: BOTTOM + 15, class: 'label', 'text-anchor': 'middle' }, name));
  });
  root.append(s('line', { x1: X0, x2: X1, y1: BOTTOM, y2: BOTTOM, stroke: MUTED, 'stroke-width': 1 }));
  // The plans under their three rates.
  PLANS.forEach((plan) => {
    const inPlan = RATES.filter((r) => r.plan === plan.code).map((r) => codes.indexOf(r.code)).filter((i) => i >= 0);
    if (!inPlan.length) return;
    const a = X0 + slot * Math.min(...inPlan) + 6;
    const b = X0 + slot * (Math.max(...inPlan) + 1) - 6;
    root.append(
      s('path', { d: `M${a} ${BOTTOM + 22} v5 H${b} v-5`, fill: 'none', stroke: MUTED, 'stroke-width': 1 }),
      s('text', { x: (a + b) / 2, y: BOTTOM + 42, class: 'plan', 'text-anchor': 'middle' }, plan.name.zh),
    );
  });
  return root;
}
