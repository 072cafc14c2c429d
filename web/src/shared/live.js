// The wall's copy of the server state, kept current over the websocket
// (docs/protocol.md): a snapshot, then deltas applied in place, with
// seq/epoch checked on every message. Any doubt (a gap, a new epoch, a patch
// that does not apply) asks for a fresh snapshot; until it comes, the last
// picture stays up. The socket reconnects by itself with back-off, until the
// server says the credential ended ({"type":"ended"}, or close code 4001).
// An edge whose primary fell silent says so ({"type":"stale"}): the socket is
// alive, the figures are not, until the next delta or heartbeat.
import { applyDelta } from './delta.js';

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10_000;
const DEFAULT_TICK_MS = 2_000;
// How many message spacings to keep for estimating the server's tick.
const SPACINGS = 8;
// Stale after 3 ticks of silence, but never sooner than this (a GC pause in a
// 50 ms-tick test must not flash the banner).
const STALE_FLOOR_MS = 1_000;
// An open socket that stays silent this long is taken for dead and replaced.
const DEAD_TICKS = 6;
const DEAD_FLOOR_MS = 8_000;
// The server closes the sockets of a revoked or expired link with this code.
const CLOSE_ENDED = 4001;

export class Live {
  /**
   * @param {object} o
   * @param {string} o.url websocket URL
   * @param {(state: object, info: object) => void} o.onState after every change of the copy
   * @param {(status: object) => void} o.onStatus when connection or staleness changes
   * @param {(reason: string) => void} [o.onEnded] the credential was revoked or
   *   expired: the socket is closed for good and no reconnect follows
   * @param {(info: {opened: boolean, code: number}) => void} [o.onClose] after a
   *   socket closed (a handshake refused with 401 closes before it opened)
   */
  constructor({ url, onState, onStatus, onEnded = () => {}, onClose = () => {} }) {
    this.url = url;
    this.onState = onState;
    this.onStatus = onStatus;
    this.onEnded = onEnded;
    this.onClose = onClose;
    this.ended = null;
    this.state = null;
    this.epoch = null;
    this.seq = -1;
    this.asOf = null;
    this.awaitingSnapshot = true;
    this.socket = null;
    this.attempt = 0;
    this.lastMessageAt = 0;
    this.lastTickAt = 0;
    this.spacings = [];
    this.counts = { snapshots: 0, deltas: 0, resyncs: 0, connects: 0 };
    this.status = { connected: false, stale: true, everConnected: false };
    // The server said its own source fell silent (an edge's primary).
    this.upstreamStale = false;
    this.retryTimer = 0;
    this.watchTimer = setInterval(() => this.watch(), 250);
  }

  start() {
    this.connect();
  }

  /** Closes the socket for good: no reconnect, no more callbacks. */
  stop() {
    clearTimeout(this.retryTimer);
    this.retryTimer = 0;
    clearInterval(this.watchTimer);
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.onmessage = null;
      socket.close();
    }
  }

  end(reason) {
    if (this.ended) return;
    this.ended = reason;
    this.stop();
    this.setStatus({ connected: false, stale: true });
    this.onEnded(reason);
  }

  connect() {
    if (this.ended) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = 0;
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.awaitingSnapshot = true;
    let opened = false;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      opened = true;
      this.counts.connects += 1;
      this.lastMessageAt = performance.now();
      this.lastTickAt = 0;
      this.setStatus({ connected: true, everConnected: true });
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this.receive(event.data);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (event?.code === CLOSE_ENDED) {
        this.end('ended');
        return;
      }
      this.setStatus({ connected: false, stale: true });
      this.scheduleReconnect();
      this.onClose({ opened, code: event?.code ?? 0 });
    };
    // onerror is always followed by onclose; nothing to do twice.
    socket.onerror = null;
  }

  scheduleReconnect() {
    if (this.retryTimer || this.ended) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    this.attempt += 1;
    // ±25% jitter so a hall full of screens does not reconnect in lockstep.
    const delay = base * (0.75 + Math.random() * 0.5);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  tickMs() {
    if (this.spacings.length < 3) return DEFAULT_TICK_MS;
    const sorted = [...this.spacings].sort((a, b) => a - b);
    return sorted[sorted.length >> 1];
  }

  watch() {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    const silent = performance.now() - this.lastMessageAt;
    const tick = this.tickMs();
    const stale = this.upstreamStale || silent > Math.max(3 * tick, STALE_FLOOR_MS);
    if (stale !== this.status.stale) this.setStatus({ stale });
    if (silent > Math.max(DEAD_TICKS * tick, DEAD_FLOOR_MS)) {
      // A half-open socket: close it and reconnect rather than freeze silently.
      const socket = this.socket;
      this.socket = null;
      socket.onclose = null;
      socket.close();
      this.setStatus({ connected: false, stale: true });
      this.scheduleReconnect();
    }
  }

  setStatus(change) {
    const next = { ...this.status, ...change };
    if (next.connected === this.status.connected && next.stale === this.status.stale
      && next.everConnected === this.status.everConnected) return;
    this.status = next;
    this.onStatus(next, this);
  }

  /**
   * Every message proves the server alive. Only the spacing between two
   * tick messages (delta or heartbeat) measures the tick: a snapshot comes
   * whenever it is asked for.
   */
  noteMessage(tick) {
    const now = performance.now();
    if (tick && this.lastTickAt) {
      this.spacings.push(now - this.lastTickAt);
      if (this.spacings.length > SPACINGS) this.spacings.shift();
    }
    this.lastTickAt = tick ? now : 0;
    this.lastMessageAt = now;
  }

  resync() {
    this.awaitingSnapshot = true;
    this.counts.resyncs += 1;
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send('{"type":"resync"}');
    }
  }

  receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    switch (msg.type) {
      case 'snapshot':
        this.noteMessage(false);
        this.state = msg.state;
        this.epoch = msg.epoch;
        this.seq = msg.seq;
        this.asOf = msg.as_of;
        this.awaitingSnapshot = false;
        this.attempt = 0;
        this.counts.snapshots += 1;
        this.upstreamStale = false;
        this.setStatus({ stale: false });
        this.onState(this.state, { kind: 'snapshot', epoch: this.epoch, seq: this.seq, asOf: this.asOf });
        break;
      case 'delta':
        this.noteMessage(true);
        if (this.awaitingSnapshot) return;
        if (msg.epoch !== this.epoch) return this.resync();
        if (msg.seq <= this.seq) return;
        if (msg.seq !== this.seq + 1) return this.resync();
        try {
          // Mutates the copy in place: no new document per delta.
          applyDelta(this.state, msg);
        } catch {
          return this.resync();
        }
        this.seq = msg.seq;
        this.asOf = msg.as_of;
        this.counts.deltas += 1;
        this.upstreamStale = false;
        this.setStatus({ stale: false });
        this.onState(this.state, { kind: 'delta', epoch: this.epoch, seq: this.seq, asOf: this.asOf });
        break;
      case 'heartbeat':
        this.noteMessage(true);
        if (this.awaitingSnapshot) return;
        if (msg.epoch !== this.epoch || msg.seq > this.seq) return this.resync();
        this.asOf = msg.as_of;
        this.upstreamStale = false;
        this.setStatus({ stale: false });
        this.onState(this.state, { kind: 'heartbeat', epoch: this.epoch, seq: this.seq, asOf: this.asOf });
        break;
      case 'stale':
        // Proves the socket alive (no reconnect), not the figures.
        this.noteMessage(false);
        if (this.awaitingSnapshot) return;
        this.upstreamStale = true;
        this.setStatus({ stale: true });
        break;
      case 'ended':
        // The link or wall token was revoked or expired: reconnecting is futile.
        this.end(typeof msg.reason === 'string' ? msg.reason : 'ended');
        break;
      default:
        // {"type":"error"} and anything newer: nothing the wall can act on.
        break;
    }
  }
}
