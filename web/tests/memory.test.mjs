// Runs for days: thousands of deltas must not grow the page's memory. The
// server ticks every 50 ms while events stream in, so nearly every tick is a
// delta; the JS heap (after a forced GC), the DOM node count and the event
// listener count are measured after a warm-up and again at the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer, tempDataDir, ingest, until, wallToken } from './lib/server.mjs';
import { launch, openPage, screenshot, attr } from './lib/browser.mjs';
import { moreScans } from './lib/data.mjs';

// Long enough for V8 to finish compiling the hot paths (its code counts in the heap).
const WARM_UP_DELTAS = Number(process.env.WALL_MEMORY_WARM_UP ?? 800);
const MEASURED_DELTAS = Number(process.env.WALL_MEMORY_DELTAS ?? 2500);
// Start with five-digit figures, so the headline keeps its number of digits
// (a sixth digit would rightly add DOM nodes) while ~8,000 people are added.
const SEED_PEOPLE = 10_000;
// The bounds, between the two measurements (2,500 deltas apart): the JS heap
// may grow by less than 1.5 MiB (under 630 bytes a delta; a page that kept
// each delta's ops, or a state copy per snapshot, breaks it many times over;
// measured: 0.4–0.6 MiB, the tail of V8's compiling) and stay under 64 MiB.
// Blink's own heap may grow by less than 3 MiB (measured: 0.4–1.0 MiB, its
// canvas font and text-shaping caches filling, a growth that slows down run
// after run and that is absent with the charts taken away).
const HEAP_GROWTH_BOUND = 1.5 * 1024 * 1024;
const EMBEDDER_GROWTH_BOUND = 3 * 1024 * 1024;
const HEAP_TOTAL_BOUND = 64 * 1024 * 1024;

let server;
let browser;
let dataDir;

before(async () => {
  dataDir = tempDataDir('weibing-memory-');
  server = await startServer({ dataDir, tickMs: 50 });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function measure(cdp) {
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = await cdp.send('Runtime.getHeapUsage');
  const dom = await cdp.send('Memory.getDOMCounters');
  return {
    heap: heap.usedSize,
    // Blink's own objects (style, text shaping caches), where the browser reports them.
    embedder: heap.embedderHeapUsedSize ?? 0,
    nodes: dom.nodes,
    listeners: dom.jsEventListeners,
    documents: dom.documents,
  };
}

test(`the page's memory stays flat over ${MEASURED_DELTAS} deltas`, { timeout: 15 * 60_000 }, async () => {
  const { context, page, errors } = await openPage(browser);
  const cdp = await context.newCDPSession(page);
  for (let from = 1; from <= SEED_PEOPLE; from += 2500) {
    const answer = await ingest(server, moreScans(`seed-${from}`, from, 2500));
    assert.equal(answer.accepted, 2500);
  }
  await page.goto(`${server.url}/?token=${encodeURIComponent(await wallToken(server))}`);
  await until('the seeded snapshot', async () => (await page.locator('[data-testid="headline-value"]').textContent()) === String(SEED_PEOPLE), 30_000);

  // Ingest small batches back to back, so the state changes on nearly every
  // tick. Paused for each measurement, so that both are taken at rest (no
  // chart animation in flight).
  let person = SEED_PEOPLE + 1;
  let batch = 0;
  let pump = null;
  let running = false;
  const startPump = () => {
    running = true;
    pump = (async () => {
      while (running) {
        const events = moreScans(`mem-${batch++}`, person, 3);
        person += 3;
        await ingest(server, events);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
  };
  const stopPump = async () => {
    running = false;
    await pump;
    // The last delta drawn and every animation (≤ 1.2 s) done.
    await page.waitForTimeout(2500);
  };
  const deltas = async () => Number(await attr(page, 'sync', 'data-deltas'));
  try {
    startPump();
    await until(`${WARM_UP_DELTAS} deltas`, async () => (await deltas()) >= WARM_UP_DELTAS, 120_000, 500);
    await stopPump();
    const start = await measure(cdp);
    const startDeltas = await deltas();
    startPump();
    await until(`${MEASURED_DELTAS} more deltas`, async () => (await deltas()) >= startDeltas + MEASURED_DELTAS, 600_000, 1000);
    await stopPump();
    const end = await measure(cdp);
    const applied = (await deltas()) - startDeltas;
    const mib = (n) => (n / 1048576).toFixed(2);
    const report = `JS heap ${mib(start.heap)} → ${mib(end.heap)} MiB, embedder heap ${mib(start.embedder)} → ${mib(end.embedder)} MiB over ${applied} deltas; `
      + `DOM nodes ${start.nodes} → ${end.nodes}; listeners ${start.listeners} → ${end.listeners}`;
    console.log(report);
    fs.writeFileSync(new URL('./artifacts/memory.txt', import.meta.url), `${report}\n`);
    await screenshot(page, 'wall-after-deltas.png');

    assert.equal(Number(await attr(page, 'sync', 'data-resyncs')), 0, 'no gap: every delta applied in order');
    assert.ok(end.heap - start.heap < HEAP_GROWTH_BOUND, report);
    assert.ok(end.heap < HEAP_TOTAL_BOUND, report);
    assert.ok(end.embedder - start.embedder < EMBEDDER_GROWTH_BOUND, report);
    assert.ok(end.nodes - start.nodes < 200, report);
    assert.equal(end.listeners, start.listeners, report);
    assert.equal(end.documents, start.documents, report);
    // The page kept up: the headline is the server's exact figure.
    const expected = person - 1;
    await until(`the headline to read ${expected}`, async () => (await page.locator('[data-testid="headline-value"]').textContent()) === String(expected), 10_000);
    assert.deepEqual(errors, []);
  } finally {
    running = false;
    await pump?.catch(() => {});
    await context.close();
  }
});
