// ECharts, tree-shaken: only the charts and components the wall draws.
import * as echarts from 'echarts/core';
import { MapChart, PieChart, BarChart, LineChart, GaugeChart } from 'echarts/charts';
import { GridComponent, VisualMapPiecewiseComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([MapChart, PieChart, BarChart, LineChart, GaugeChart, GridComponent, VisualMapPiecewiseComponent, CanvasRenderer]);

export { echarts };

export const FONT = "WallSans, 'Noto Sans CJK SC', 'Noto Sans SC', 'WenQuanYi Micro Hei', 'Microsoft YaHei', sans-serif";
export const TEXT = '#e6f1ff';
export const MUTED = '#7f9cc7';
export const ACCENT = '#3fd0ff';
export const LINE = '#1e3a6b';

/**
 * One chart on the wall: created once, then only fed with setOption. It is
 * re-created only when the stage's pixel density changes (the window was
 * resized), so the canvas stays sharp at any size.
 */
export class ChartHost {
  /**
   * @param {HTMLElement} el
   * @param {() => object} base the option that does not depend on the data
   * @param {(state: object) => {key: string, option: object} | null} update
   */
  constructor(el, base, update) {
    this.el = el;
    this.base = base;
    this.update = update;
    this.chart = null;
    this.key = null;
    this.state = null;
  }

  init(dpr) {
    if (this.chart) this.chart.dispose();
    this.chart = echarts.init(this.el, null, { renderer: 'canvas', devicePixelRatio: dpr });
    this.chart.setOption({ textStyle: { fontFamily: FONT, color: TEXT }, ...this.base() });
    this.key = null;
    if (this.state) this.render(this.state);
  }

  render(state) {
    this.state = state;
    if (!this.chart) return;
    const next = this.update(state);
    if (!next || next.key === this.key) return;
    this.key = next.key;
    this.chart.setOption(next.option);
  }
}
