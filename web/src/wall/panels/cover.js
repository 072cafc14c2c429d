// The launch moment. state.wall.phase "before" shows the cover (title,
// countdown to wall.countdown_to when set); "live" reveals the figures. The
// phase lives in the server state, so a reload keeps it. Before the first
// snapshot the cover says "connecting", so nothing flashes before a launch.
import { countdownParts, hms } from '../../shared/format.js';

const REVEAL_MS = 2200;

export class Cover {
  constructor({ root, title, sub, countdown, clock, t, now }) {
    this.root = root;
    this.titleEl = title;
    this.subEl = sub;
    this.countdownEl = countdown;
    this.clockEl = clock;
    this.t = t;
    this.now = now;
    this.phase = 'connecting';
    this.countdownTo = null;
    this.timer = 0;
    this.subEl.textContent = t.coverConnecting;
    this.titleEl.textContent = t.title;
  }

  /** Called with the wall document on every state change. */
  render(wall, title) {
    const phase = wall?.phase === 'before' ? 'before' : 'live';
    this.titleEl.textContent = title;
    this.countdownTo = wall?.countdown_to ? Date.parse(wall.countdown_to) : null;
    if (phase === this.phase) return;
    const from = this.phase;
    this.phase = phase;
    document.body.dataset.phase = phase;
    clearTimeout(this.timer);
    if (phase === 'before') {
      document.body.classList.remove('revealing');
      this.root.hidden = false;
      this.root.classList.remove('leaving');
      this.subEl.textContent = this.t.coverSub;
    } else if (from === 'before') {
      // The ceremony: the cover opens and the figures rise into place.
      this.root.classList.add('leaving');
      document.body.classList.add('revealing');
      this.timer = setTimeout(() => {
        this.root.hidden = true;
        this.root.classList.remove('leaving');
        document.body.classList.remove('revealing');
      }, REVEAL_MS);
    } else {
      // Straight from "connecting" to live (a reload after the launch): a quick fade.
      this.root.classList.add('leaving', 'quick');
      this.timer = setTimeout(() => {
        this.root.hidden = true;
        this.root.classList.remove('leaving', 'quick');
      }, 500);
    }
    this.tick();
  }

  /** Once a second: the countdown and the clock on the cover. */
  tick() {
    if (this.root.hidden) return;
    const now = this.now();
    this.clockEl.textContent = this.t.beijingTime(hms(now));
    const show = this.phase === 'before' && Number.isFinite(this.countdownTo);
    this.countdownEl.hidden = !show;
    if (show) {
      const { d, hms: rest } = countdownParts(this.countdownTo - now);
      this.countdownEl.dataset.label = this.t.countdownLabel;
      this.countdownEl.textContent = this.t.countdown(d, rest);
      this.countdownEl.dataset.to = new Date(this.countdownTo).toISOString();
    }
  }
}
