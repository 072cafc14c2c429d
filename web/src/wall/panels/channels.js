// Scans by channel (state.channels): the busiest few channels and the rest
// in one row, each with its count and share of all scans. Channel names are
// free text from partner systems: shown as text, never markup. `(none)` is
// scans sent without a channel, `(other)` the channels past the server's cap.
import { thousands, share } from '../../shared/format.js';

// Rows on the wall: the top ones, or all of them when one more would be the rest.
const ROWS = 4;

export class Channels {
  constructor(root, t) {
    this.t = t;
    this.root = root;
    this.rows = [];
    for (let i = 0; i < ROWS; i += 1) {
      const li = document.createElement('li');
      li.className = 'ch-row';
      const name = document.createElement('span');
      name.className = 'ch-name';
      const bar = document.createElement('i');
      bar.className = 'ch-bar';
      const count = document.createElement('b');
      count.className = 'ch-count tabular';
      const pct = document.createElement('span');
      pct.className = 'ch-share tabular';
      li.append(name, count, pct, bar);
      root.append(li);
      this.rows.push({ li, name, bar, count, pct });
    }
  }

  label(name) {
    if (name === '(none)') return this.t.channelNone;
    if (name === '(other)') return this.t.channelOther;
    return name;
  }

  render(state) {
    const all = Object.entries(state.channels ?? {})
      .map(([name, n]) => ({ name, n: Number(n) || 0 }))
      .filter((c) => c.n > 0)
      .sort((a, b) => b.n - a.n || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const total = all.reduce((s, c) => s + c.n, 0);
    const shown = all.length <= ROWS ? all : all.slice(0, ROWS - 1);
    const rest = all.slice(shown.length);
    const items = shown.map((c) => ({ key: c.name, label: this.label(c.name), n: c.n }));
    if (rest.length > 0) {
      items.push({ key: '', label: this.t.channelRest(rest.length), n: rest.reduce((s, c) => s + c.n, 0), rest: rest.length });
    }
    const top = items.reduce((m, c) => Math.max(m, c.n), 0) || 1;
    this.root.dataset.total = String(total);
    this.root.dataset.channels = String(all.length);
    this.rows.forEach((row, i) => {
      const item = items[i];
      if (i === 0 && !item) {
        // No scans yet: one quiet line rather than an empty panel.
        row.li.hidden = false;
        row.li.dataset.kind = 'empty';
        row.name.textContent = this.t.channelsEmpty;
        row.count.textContent = '';
        row.pct.textContent = '';
        row.bar.style.transform = 'scaleX(0)';
        delete row.li.dataset.name;
        row.li.dataset.count = '0';
        return;
      }
      row.li.hidden = !item;
      if (!item) return;
      row.li.dataset.kind = item.rest ? 'rest' : 'channel';
      if (item.rest) delete row.li.dataset.name;
      else row.li.dataset.name = item.key;
      row.li.dataset.count = String(item.n);
      if (row.name.textContent !== item.label) row.name.textContent = item.label;
      const count = thousands(item.n);
      if (row.count.textContent !== count) row.count.textContent = count;
      row.pct.textContent = share(item.n, total);
      row.bar.style.transform = `scaleX(${item.n / top})`;
    });
  }
}
