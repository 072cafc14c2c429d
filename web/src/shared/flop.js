// The headline's rolling-digit counter (翻牌器). Each digit is a column of
// 0–9 twice over; a digit only ever rolls forwards (9 → 0 rolls on to the
// second 0, then snaps back unseen), so the number on screen only counts up.
// A lower value (after a resync) is set at once, without a downward roll.

const ROLL_MS = 1200;

export class Flop {
  constructor(root) {
    this.root = root;
    this.value = null;
    this.cells = []; // least significant digit first: {el, strip, pos}
    this.seps = [];
  }

  set(value) {
    value = Math.max(0, Math.floor(value));
    if (value === this.value) return;
    const down = this.value !== null && value < this.value;
    const first = this.value === null;
    this.value = value;
    const digits = String(value).split('').reverse().map(Number);
    this.ensureCells(digits.length);
    digits.forEach((d, i) => this.roll(this.cells[i], d, first || down));
    this.root.dataset.value = String(value);
  }

  ensureCells(n) {
    while (this.cells.length < n) this.addCell();
    while (this.cells.length > n) {
      const cell = this.cells.pop();
      cell.el.remove();
      if (cell.sep) cell.sep.remove();
    }
  }

  addCell() {
    const i = this.cells.length;
    let sep = null;
    if (i > 0 && i % 3 === 0) {
      sep = document.createElement('span');
      sep.className = 'flop-sep';
      sep.textContent = ',';
      this.root.prepend(sep);
    }
    const el = document.createElement('span');
    el.className = 'flop-digit';
    const strip = document.createElement('span');
    strip.className = 'flop-strip';
    for (let k = 0; k < 20; k += 1) {
      const face = document.createElement('span');
      face.textContent = String(k % 10);
      strip.append(face);
    }
    el.append(strip);
    this.root.prepend(el);
    const cell = { el, strip, sep, pos: 0, timer: 0 };
    strip.addEventListener('transitionend', () => this.settle(cell));
    this.cells.push(cell);
    this.place(cell, 0, false);
  }

  roll(cell, digit, instant) {
    if (cell.pos >= 10 && !instant) {
      // Still on the strip's second half from the last roll: snap back
      // (same face, unseen) and let the browser take that in before rolling.
      this.place(cell, cell.pos - 10, false);
      void cell.strip.offsetHeight;
    }
    const from = cell.pos % 10;
    cell.el.dataset.digit = String(digit);
    if (instant) {
      this.place(cell, digit, false);
      return;
    }
    if (digit === from) return;
    // Forwards only: past 9 we go on into the second half of the strip.
    const to = digit > from ? digit : digit + 10;
    this.place(cell, to, true);
  }

  place(cell, pos, animate) {
    cell.strip.classList.toggle('rolling', animate);
    cell.strip.style.transform = `translateY(${-pos * 5}%)`;
    cell.pos = pos;
    clearTimeout(cell.timer);
    // Settle even if transitionend never comes (page in background).
    cell.timer = animate ? setTimeout(() => this.settle(cell), ROLL_MS + 100) : 0;
  }

  settle(cell) {
    clearTimeout(cell.timer);
    cell.timer = 0;
    if (cell.pos >= 10) this.place(cell, cell.pos - 10, false);
  }
}
