// The scrolling ticker of district activity ("丰台区 近1分钟 +37 扫码"):
// aggregates only. New text is swapped in when the strip comes round, so the
// scroll never jumps; a fixed number of nodes, whatever the run time.
import { DISTRICTS } from '../../shared/regions.js';
import { districtName } from '../../shared/i18n.js';

const PX_PER_SECOND = 90;

export class Ticker {
  constructor(track, lang, t) {
    this.track = track;
    this.lang = lang;
    this.t = t;
    this.text = '';
    this.pending = null;
    this.halves = [document.createElement('span'), document.createElement('span')];
    for (const h of this.halves) {
      h.className = 'ticker-half';
      track.append(h);
    }
    this.halves[1].setAttribute('aria-hidden', 'true');
    track.addEventListener('animationiteration', () => this.swap());
  }

  render(state) {
    const items = DISTRICTS.map((d) => ({ d, n: state.districts[d.code]?.scans_last_minute || 0 }))
      .filter((x) => x.n > 0)
      .sort((a, b) => b.n - a.n || a.d.code.localeCompare(b.d.code))
      .map(({ d, n }) => this.t.tickerItem(districtName(this.lang, d.code), n));
    const text = items.length ? items.join('　·　') : this.t.tickerQuiet;
    this.track.dataset.text = text;
    if (text === this.text) {
      this.pending = null;
      return;
    }
    this.pending = text;
    // The first text, or a strip that is not moving: in at once.
    if (!this.text || !this.track.classList.contains('moving')) this.swap();
  }

  swap() {
    if (this.pending === null) return;
    this.text = this.pending;
    this.pending = null;
    // Layout sizes (offsetWidth), unaffected by the stage's scale transform.
    for (const h of this.halves) h.textContent = this.text;
    const room = this.track.parentElement.clientWidth;
    // Scroll only what does not fit; a short line stands still.
    const moving = this.halves[0].offsetWidth > room * 0.6;
    // A moving strip is two copies, each ending in a separator, so it loops seamlessly.
    if (moving) for (const h of this.halves) h.textContent = `${this.text}　·　`;
    const width = this.halves[0].offsetWidth;
    this.track.classList.toggle('moving', moving);
    this.halves[1].hidden = !moving;
    this.track.style.animationDuration = `${Math.max(10, width / PX_PER_SECOND)}s`;
  }
}
