// A table whose rows are rebuilt from data, sortable by clicking a header
// (again to reverse). Cells are text, or nodes built with h() (never markup).
// Pinned rows (a city row above its districts) stay first, unsorted.
import { h } from './dom.js';
import { strings } from '../shared/i18n.js';

/**
 * @typedef {object} Column
 * @property {string} key
 * @property {string} label
 * @property {boolean} [num] right-aligned, sorted as a number
 * @property {(row: object) => any} [value] the value to sort by (default row[key])
 * @property {(row: object) => string|Node} [cell] what the cell shows (default the value as text)
 * @property {(row: object) => string|null} [cls] a class for the cell (e.g. pass / fail)
 */
export class SortableTable {
  /**
   * @param {HTMLElement} mount
   * @param {{columns: Column[], testid: string, rowId: (row: object) => string, sort?: {key: string, desc: boolean},
   *   groups?: {label: string, span: number}[]}} o groups: a header row above the columns' (spans add up to the columns)
   */
  constructor(mount, { columns, testid, rowId, sort, empty = strings('zh').console.noData, groups }) {
    this.columns = columns;
    this.rowId = rowId;
    this.sort = sort ?? { key: columns[0].key, desc: false };
    this.empty = empty;
    this.rows = [];
    this.pinned = [];
    this.heads = new Map();
    const tr = h('tr');
    for (const col of columns) {
      const button = h('button', { type: 'button', class: 'sort', dataset: { key: col.key } }, col.label);
      const th = h('th', { class: col.num ? 'num' : null, scope: 'col', dataset: { testid: `${testid}-head-${col.key}` } }, button);
      button.addEventListener('click', () => {
        this.sort = { key: col.key, desc: this.sort.key === col.key ? !this.sort.desc : !!col.num };
        this.draw();
      });
      this.heads.set(col.key, th);
      tr.append(th);
    }
    const head = h('thead', {}, groups ? h('tr', { class: 'groups' }, groups.map((g) => h('th', { colSpan: g.span, scope: 'colgroup' }, g.label))) : null, tr);
    this.body = h('tbody');
    this.table = h('table', { class: 'grid sortable', dataset: { testid } }, head, this.body);
    mount.replaceChildren(this.table);
  }

  /** The rows to sort, and the rows that stay first in the order given. */
  set(rows, pinned = []) {
    this.rows = rows;
    this.pinned = pinned;
    this.draw();
  }

  value(col, row) {
    return col.value ? col.value(row) : row[col.key];
  }

  draw() {
    const col = this.columns.find((c) => c.key === this.sort.key) ?? this.columns[0];
    const dir = this.sort.desc ? -1 : 1;
    const rows = [...this.rows].sort((a, b) => {
      const x = this.value(col, a);
      const y = this.value(col, b);
      // Missing (suppressed) values sort last either way.
      if (x == null && y == null) return 0;
      if (x == null) return 1;
      if (y == null) return -1;
      const c = col.num ? Number(x) - Number(y) : String(x).localeCompare(String(y), 'zh-CN');
      return c !== 0 ? dir * c : String(this.rowId(a)).localeCompare(String(this.rowId(b)));
    });
    for (const [key, th] of this.heads) {
      th.setAttribute('aria-sort', key === col.key ? (this.sort.desc ? 'descending' : 'ascending') : 'none');
    }
    if (rows.length === 0 && this.pinned.length === 0) {
      this.body.replaceChildren(h('tr', {}, h('td', { class: 'empty', colSpan: this.columns.length }, this.empty)));
      return;
    }
    const tr = (row, pinned) => h('tr', { class: pinned ? 'pinned' : null, dataset: { id: this.rowId(row) } },
      this.columns.map((c) => {
        const v = this.value(c, row);
        const shown = c.cell ? c.cell(row) : (v == null ? '—' : String(v));
        const cls = [c.num ? 'num' : null, c.cls?.(row) ?? null].filter(Boolean).join(' ') || null;
        return h('td', { class: cls, dataset: { key: c.key, value: v == null ? '' : String(v) } }, shown);
      }));
    this.body.replaceChildren(...this.pinned.map((row) => tr(row, true)), ...rows.map((row) => tr(row, false)));
  }
}
