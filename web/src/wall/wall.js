// The wall screen: one state document from the server (src/live.js), drawn
// by panels that are each built once and then only updated. `createWall`
// binds to the wall's markup (index.html's #letterbox, also mounted by the
// leaders' view in landscape) and returns the handlers a `Live` feeds.
import './styles/wall.css';
import { Stage } from './stage.js';
import { Flop } from '../shared/flop.js';
import { DEFAULT_TITLE } from '../shared/i18n.js';
import { beijing, ymd, thousands } from '../shared/format.js';
import { showConnection, showFreshness, Throttle } from '../shared/connection.js';
import { DistrictMap, ROTATE_MS } from './charts/map.js';
import { Colours } from './charts/colours.js';
import { Ranking } from './charts/ranking.js';
import { Trend } from './charts/trend.js';
import { Targets } from './charts/targets.js';
import { Categories } from './charts/categories.js';
import { Figures } from './panels/figures.js';
import { Rates } from './panels/rates.js';
import { Channels } from './panels/channels.js';
import { Ticker } from './panels/ticker.js';
import { Cover } from './panels/cover.js';

// Drawing more often than this buys nothing on a wall and costs CPU when the
// server ticks fast; the state itself is always current.
const MIN_RENDER_GAP_MS = 250;

const $ = (id) => document.getElementById(id);

/** Lets the shipped font load before the charts draw text on canvas. */
export async function fontsReady() {
  try {
    await Promise.race([
      Promise.all([document.fonts.load('16px WallSans', '首都丰台区0123'), document.fonts.load('bold 16px WallSans', '首都丰台区0123')]),
      new Promise((resolve) => setTimeout(resolve, 3000)),
    ]);
  } catch { /* draw with the fallback font */ }
}

/**
 * @param {object} o
 * @param {'zh'|'en'} o.lang
 * @param {object} o.t the strings of i18n.js
 * @param {boolean} [o.followPhase] show the cover while `wall.phase` is "before"
 *   (the hall's wall); the leaders' view shows the figures whatever the phase.
 */
export function createWall({ lang, t, followPhase = true }) {
  const now = () => Date.now();
  for (const el of document.querySelectorAll('#letterbox [data-i18n]')) {
    const v = t[el.dataset.i18n];
    if (typeof v === 'string') el.textContent = v;
  }

  const flop = new Flop($('flop'));
  const headline = $('headline');
  const headlineValue = $('headline-value');
  const headlineSub = $('headline-sub');

  const map = new DistrictMap($('chart-map'), {
    lang, t, tableEl: $('map-table'), valuesEl: $('district-values'), tabsEl: $('metric-tabs'), legendEl: $('map-legend'),
  });
  const colours = new Colours($('chart-donut'), $('colour-legend'), t);
  const ranking = new Ranking($('ranking'), $('ranking-basis'), lang, t);
  const rates = new Rates($('rates'), lang, t);
  const channels = new Channels($('channels'), t);
  const trend = new Trend($('chart-trend'), $('trend-value'), t);
  const targets = new Targets($('chart-gauges'), $('target-cells'), $('target-time'), t, now);
  const categories = new Categories($('chart-categories'), $('category-values'), t);
  const figures = new Figures($('figures'), t);
  const ticker = new Ticker($('ticker-track'), lang, t);
  const cover = new Cover({
    root: $('cover'), title: $('cover-title'), sub: $('cover-sub'),
    countdown: $('countdown'), clock: $('cover-clock'), t, now,
  });
  const hosts = [map.host, colours.host, trend.host, targets.host, categories.host];

  const stage = new Stage($('stage'), (density) => {
    for (const h of hosts) h.init(density);
  });

  // ---- the header: clock, connection, freshness -------------------------------
  const sync = $('sync');
  const conn = $('conn');
  const connText = $('conn-text');
  const freshness = $('freshness');
  const staleBanner = $('stale-banner');
  const staleText = $('stale-text');
  let live = null;

  function showClock() {
    const ms = now();
    const b = beijing(ms);
    $('clock-date').textContent = ymd(ms);
    $('clock-weekday').textContent = t.weekdays[b.weekday];
    $('clock-time').textContent = `${b.hh}:${b.mm}:${b.ss}`;
    cover.tick();
  }

  function onStatus(status) {
    // The banner is for a wall that had data and lost it; a first connection
    // shows the cover's "connecting" instead.
    const { stale } = showConnection({
      status, live, t, badge: conn, badgeText: connText, banner: staleBanner, bannerText: staleText,
    });
    document.body.classList.toggle('stale', stale);
  }

  // ---- drawing -----------------------------------------------------------------
  const throttle = new Throttle(MIN_RENDER_GAP_MS, () => render(live.state));

  function render(state) {
    if (!state) return;
    const people = state.totals?.people ?? 0;
    flop.set(people);
    headline.setAttribute('aria-label', `${t.people} ${people}`);
    headlineValue.textContent = String(people);
    headlineSub.textContent = t.headlineSub(thousands(state.totals?.scans), thousands(state.totals?.assessed));
    map.render(state);
    colours.render(state);
    ranking.render(state);
    rates.render(state);
    channels.render(state);
    trend.render(state);
    targets.render(state);
    categories.render(state);
    figures.render(state);
    ticker.render(state);
    const title = state.wall?.title && !(lang === 'en' && state.wall.title === DEFAULT_TITLE) ? state.wall.title : t.title;
    $('title').textContent = title;
    cover.render(followPhase ? state.wall : { ...state.wall, phase: 'live' }, title);
  }

  function onState(state, info) {
    showFreshness(freshness, info.asOf, t);
    sync.dataset.epoch = String(info.epoch);
    sync.dataset.seq = String(info.seq);
    sync.dataset.snapshots = String(live.counts.snapshots);
    sync.dataset.deltas = String(live.counts.deltas);
    sync.dataset.resyncs = String(live.counts.resyncs);
    sync.dataset.connects = String(live.counts.connects);
    sync.dataset.tickMs = String(Math.round(live.tickMs()));
    throttle.follow(info);
  }

  showClock();
  showFreshness(freshness, null, t);
  const timers = [setInterval(showClock, 1000), setInterval(() => map.rotate(), ROTATE_MS)];

  return {
    onState,
    onStatus,
    /** Binds the wall to its live copy; draws what the copy already holds. */
    attach(l) {
      live = l;
      stage.checkDensity();
      onStatus(l.status);
      if (l.state) onState(l.state, { kind: 'snapshot', epoch: l.epoch, seq: l.seq, asOf: l.asOf });
    },
    /** A resize while hidden: fit again when shown. */
    refit() {
      stage.fit();
      stage.checkDensity();
    },
    stop() {
      for (const id of timers) clearInterval(id);
      throttle.cancel();
    },
  };
}
