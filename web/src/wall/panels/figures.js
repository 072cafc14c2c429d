// Teams and guardians: the program's people figures as large tiles.
import { thousands } from '../../shared/format.js';

export const FIGURES = ['managed', 'interactive', 'services', 'trainees', 'guardians', 'scans'];

export class Figures {
  constructor(root, t) {
    this.t = t;
    this.tiles = new Map();
    for (const key of FIGURES) {
      const tile = document.createElement('div');
      tile.className = 'figure';
      tile.dataset.testid = `total-${key}`;
      const value = document.createElement('b');
      value.className = 'figure-value tabular';
      value.setAttribute('aria-hidden', 'true');
      const label = document.createElement('span');
      label.className = 'figure-label';
      label.textContent = t.figureNames[key];
      const exact = document.createElement('span');
      exact.className = 'sr-only';
      exact.dataset.testid = `total-${key}-value`;
      tile.append(value, label, exact);
      root.append(tile);
      this.tiles.set(key, { tile, value, exact });
    }
  }

  render(state) {
    for (const [key, f] of this.tiles) {
      const n = state.totals?.[key] || 0;
      const text = thousands(n);
      if (f.value.textContent !== text) f.value.textContent = text;
      f.exact.textContent = String(n);
      f.tile.setAttribute('aria-label', `${this.t.figureNames[key]} ${n}`);
    }
  }
}
