// A table whose rows are rebuilt from data, sortable by clicking a header
// (again to reverse). Cells are text only.
import { h } from './dom.js';

/**
 * @typedef {object} Column
 * @property {string} key
 * @property {string} label
 * @property {boolean} [num] right-aligned, sorted as a number
 * @property {(row: object) => any} [value] the value to sort by (default row[key])
 * @property {(row: object) => string|Node} [cell] what the cell shows (default the value as text)
 */
export class SortableTable {
  /**
   * @param {HTMLElement} mount
   * @param {{columns: Column[], testid: string, rowId: (row: object) => string, sort?: {key: string, desc: boolean}}} o
   */
  constructor(mount, { columns, testid, rowId, sort, empty = '暂无数据' }) {
    this.columns = columns;
    this.rowId = rowId;
    this.sort = sort ?? { key: columns[0].key, desc: false };
    this.empty = empty;
    this.rows = [];
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
    this.body = h('tbody');
    this.table = h('table', { class: 'grid sortable', dataset: { testid } }, h('thead', {}, tr), this.body);
    mount.replaceChildren(this.table);
  }

  set(rows) {
    this.rows = rows;
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
    if (rows.length === 0) {
      this.body.replaceChildren(h('tr', {}, h('td', { class: 'empty', colSpan: this.columns.length }, this.empty)));
      return;
    }
    this.body.replaceChildren(...rows.map((row) => h('tr', { dataset: { id: this.rowId(row) } },
      this.columns.map((c) => {
        const v = this.value(c, row);
        const shown = c.cell ? c.cell(row) : (v == null ? '—' : String(v));
        return h('td', { class: c.num ? 'num' : null, dataset: { key: c.key, value: v == null ? '' : String(v) } }, shown);
      }))));
  }
}
