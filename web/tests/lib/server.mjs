// Starts the real `weibing serve` for the browser tests, and talks to its
// HTTP API (ingest, wall, snapshot).
//
// The binary: $WEIBING_BIN, else ${CARGO_TARGET_DIR:-~/.cache/weibing/target}/release/weibing.
// It embeds web/dist as it was when cargo built it (cargo test rebuilds it).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { randomBytes } from 'node:crypto';

export function binaryPath() {
  if (process.env.WEIBING_BIN) return process.env.WEIBING_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/weibing/target');
  return path.join(target, 'release/weibing');
}

export function tempDataDir(prefix = 'weibing-wall-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

const LISTENING = /weibing listening on (http:\/\/[^\s]+)/;

/**
 * Starts a server and resolves once it says where it listens.
 * @param {{dataDir: string, port?: number, tickMs?: number, ingestKey?: string, adminToken?: string}} o
 */
export async function startServer({ dataDir, port = 0, tickMs = 200, ingestKey, adminToken } = {}) {
  const bin = binaryPath();
  if (!fs.existsSync(bin)) {
    throw new Error(`the weibing binary is not at ${bin}: build it (cargo build --release) or set WEIBING_BIN`);
  }
  ingestKey ??= `ingest-${randomBytes(8).toString('hex')}`;
  adminToken ??= `admin-${randomBytes(8).toString('hex')}`;
  const args = ['serve', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--tick-ms', String(tickMs)];
  const proc = spawn(bin, args, {
    env: { ...process.env, WEIBING_INGEST_KEY: ingestKey, WEIBING_ADMIN_TOKEN: adminToken, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = [];
  const keep = (line) => {
    log.push(line);
    if (log.length > 200) log.shift();
  };
  readline.createInterface({ input: proc.stderr }).on('line', keep);
  const lines = readline.createInterface({ input: proc.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`weibing did not say where it listens within 30 s:\n${log.join('\n')}`)), 30_000);
    lines.on('line', (line) => {
      keep(line);
      const m = LISTENING.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`weibing exited (${code ?? signal}) before listening:\n${log.join('\n')}`));
    });
  });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    url,
    port: Number(new URL(url).port),
    dataDir,
    ingestKey,
    adminToken,
    proc,
    log,
    exited,
    /** Stops the server (SIGTERM, or SIGKILL to simulate a crash) and waits for it. */
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** POST /api/v1/events as NDJSON; resolves with the server's JSON answer. */
export async function ingest(server, events) {
  const res = await fetch(`${server.url}/api/v1/events`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${server.ingestKey}`, 'Content-Type': 'application/x-ndjson' },
    body: events.map((e) => JSON.stringify(e)).join('\n') + '\n',
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`ingest answered ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** POST /api/v1/wall with the admin token. */
export async function setWall(server, body) {
  const res = await fetch(`${server.url}/api/v1/wall`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${server.adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST /api/v1/wall ${JSON.stringify(body)} answered ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** GET /api/v1/snapshot: the envelope the websocket starts with. */
export async function snapshot(server) {
  const res = await fetch(`${server.url}/api/v1/snapshot`);
  if (!res.ok) throw new Error(`GET /api/v1/snapshot answered ${res.status}`);
  return res.json();
}

/** Polls `probe` until it returns a truthy value; fails after `ms` with `what`. */
export async function until(what, probe, ms = 15_000, every = 100) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, every));
  }
}
