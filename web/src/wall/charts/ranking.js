// The district ranking: 16 bars in the server's order (`index.order`, which
// moves a district only on a real lead and at most once a minute, so the
// bars do not dance on noise), never sorted here. Each bar shows the value
// the ranking goes by (`index.basis`): the index, or, while quality data are
// thin, people who scanned per 10,000 residents; the line above says which.
// Rows are built once and slide to their new place (a CSS transform).
import { DISTRICTS } from '../../shared/regions.js';
import { districtName } from '../../shared/i18n.js';

/** The value a district is ranked by on `basis`. */
export function basisValue(doc, basis) {
  const v = basis === 'progress' ? doc?.per_10k?.people : doc?.index;
  return Number(v) || 0;
}

export class Ranking {
  constructor(listEl, basisEl, lang, t) {
    this.lang = lang;
    this.t = t;
    this.listEl = listEl;
    this.basisEl = basisEl;
    this.items = new Map();
    for (const d of DISTRICTS) {
      const li = document.createElement('li');
      li.className = 'rk-row';
      li.dataset.testid = `rank-${d.code}`;
      const pos = document.createElement('span');
      pos.className = 'rk-pos tabular';
      const name = document.createElement('span');
      name.className = 'rk-name';
      name.textContent = districtName(lang, d.code);
      const bar = document.createElement('div');
      bar.className = 'rk-bar';
      const fill = document.createElement('i');
      bar.append(fill);
      const value = document.createElement('b');
      value.className = 'rk-value tabular';
      li.append(pos, name, bar, value);
      li.hidden = true;
      listEl.append(li);
      this.items.set(d.code, { li, pos, fill, value });
    }
  }

  render(state) {
    const basis = state.index?.basis === 'progress' ? 'progress' : 'index';
    const text = this.t.rankingBasis[basis];
    if (this.basisEl.textContent !== text) this.basisEl.textContent = text;
    this.basisEl.dataset.basis = basis;
    this.listEl.dataset.basis = basis;
    const order = (state.index?.order ?? []).filter((code) => this.items.has(code) && state.districts?.[code]);
    this.listEl.dataset.order = order.join(',');
    const values = order.map((code) => basisValue(state.districts[code], basis));
    // The index is out of 100; people per 10,000 have no ceiling: the longest bar is the largest value.
    const scale = basis === 'index' ? 100 : Math.max(...values, 0) || 1;
    const at = new Map(order.map((code, i) => [code, i]));
    for (const [code, it] of this.items) {
      const i = at.get(code);
      const doc = state.districts?.[code];
      it.li.hidden = i === undefined;
      if (i === undefined) continue;
      const v = values[i];
      it.li.style.setProperty('--pos', String(i));
      it.pos.textContent = String(i + 1);
      const shown = v.toFixed(1);
      if (it.value.textContent !== shown) it.value.textContent = shown;
      it.fill.style.transform = `scaleX(${Math.min(1, v / scale)})`;
      it.li.classList.toggle('top', i < 3);
      it.li.dataset.order = String(i + 1);
      it.li.dataset.basis = basis;
      it.li.dataset.value = String(v);
      it.li.dataset.rank = String(doc.rank);
      it.li.dataset.index = String(doc.index);
      it.li.setAttribute('aria-label', `${i + 1}. ${districtName(this.lang, code, doc.name)} ${shown}`);
    }
  }
}
