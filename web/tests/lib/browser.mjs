// Headless Chromium (Debian's package) through playwright-core.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

// Screenshots: web/tests/artifacts (not committed), or WALL_ARTIFACTS.
export const ARTIFACTS = process.env.WALL_ARTIFACTS ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

export async function launch() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

/**
 * A page that records its console errors, uncaught exceptions, every
 * Content-Security-Policy violation the browser reports (in `csp`, whatever
 * the message's level), and every websocket frame text it receives.
 */
export async function openPage(browser, { width = 1920, height = 1080, scale = 1 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: scale });
  const page = await context.newPage();
  const errors = [];
  const csp = [];
  const frames = { count: 0, texts: [], sockets: 0 };
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('websocket', (ws) => {
    frames.sockets += 1;
    ws.on('framereceived', (f) => {
      frames.count += 1;
      // Keep the first few hundred for the privacy check; enough to cover snapshots.
      if (frames.texts.length < 400) frames.texts.push(String(f.payload));
    });
  });
  return { context, page, errors, csp, frames };
}

export async function screenshot(page, name) {
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file });
  return file;
}

/** The text of an element by data-testid (hidden ones too). */
export function text(page, testid) {
  return page.locator(`[data-testid="${testid}"]`).first().textContent();
}

export function attr(page, testid, name) {
  return page.locator(`[data-testid="${testid}"]`).first().getAttribute(name);
}
