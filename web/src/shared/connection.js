// What every page does around its live copy (src/live.js): the socket's
// address, the connection badge, the freshness line, the stale banner (a
// page that had data and lost it says so, never freezes silently) and the
// throttling of redraws. The wall, the phone view and the console use it.
import { hms } from './format.js';

/**
 * The websocket's address on this page's host. `token` (a wall token or a
 * share link) goes in the query; the console's socket sends its session
 * cookie instead.
 */
export function socketUrl(loc, token = null) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = token ? `?token=${encodeURIComponent(token)}` : '';
  return `${scheme}//${loc.host}/ws${query}`;
}

/** `connecting` before the first connection, `live`, or `stale`. */
export function connectionState(status) {
  if (!status.everConnected && !status.connected) return 'connecting';
  return status.connected && !status.stale ? 'live' : 'stale';
}

/**
 * Shows a `Live`'s status: the badge (`data-state` and its words) and the
 * stale banner, shown only once the page has had data. Returns the state.
 * @param {object} o
 * @param {object} o.status Live#status
 * @param {object|null} o.live the Live (for its last state and as-of time)
 * @param {object} o.t strings: connLive, connConnecting, connDown, connWaiting, stale(hms),
 *   staleNone, staleWaiting(hms), staleWaitingNone
 * @param {HTMLElement} o.badge gets data-state
 * @param {HTMLElement} o.badgeText gets the words
 * @param {HTMLElement} o.banner shown when stale
 * @param {HTMLElement} [o.bannerText] gets the banner's words (the banner itself by default)
 */
export function showConnection({ status, live, t, badge, badgeText, banner, bannerText = banner }) {
  const state = connectionState(status);
  badge.dataset.state = state;
  // Connected, but the server said its own source is silent (an edge whose
  // primary stopped): waiting, not reconnecting.
  const waiting = state === 'stale' && status.connected && live?.upstreamStale === true;
  badgeText.textContent = state === 'live' ? t.connLive
    : state === 'connecting' ? t.connConnecting
      : waiting ? t.connWaiting : t.connDown;
  const stale = state === 'stale' && live?.state != null;
  banner.hidden = !stale;
  if (stale) {
    const ms = Date.parse(live.asOf ?? '');
    const [none, at] = waiting ? [t.staleWaitingNone, t.staleWaiting] : [t.staleNone, t.stale];
    bannerText.textContent = Number.isNaN(ms) ? none : at(hms(ms));
  }
  return { state, stale };
}

/** Writes "data as of hh:mm:ss" (or "waiting for data") into `el`. */
export function showFreshness(el, asOf, t) {
  const ms = Date.parse(asOf ?? '');
  el.textContent = Number.isNaN(ms) ? t.freshnessNone : t.freshness(hms(ms));
  el.dataset.asOf = asOf ?? '';
}

/**
 * Redraws at most once per `gapMs`; a snapshot (first one, resync, new
 * epoch) is drawn at once, a heartbeat draws nothing.
 */
export class Throttle {
  constructor(gapMs, draw) {
    this.gapMs = gapMs;
    this.draw = draw;
    this.timer = 0;
    this.last = 0;
  }

  /** Follows one message of a `Live` (its `info.kind`). */
  follow(info) {
    if (info.kind === 'heartbeat') return;
    if (info.kind === 'snapshot') this.now();
    else this.schedule();
  }

  now() {
    this.cancel();
    this.last = performance.now();
    this.draw();
  }

  schedule() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.last = performance.now();
      this.draw();
    }, Math.max(0, this.last + this.gapMs - performance.now()));
  }

  cancel() {
    clearTimeout(this.timer);
    this.timer = 0;
  }
}
