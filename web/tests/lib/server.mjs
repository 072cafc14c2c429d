// Starts the real `weibing serve` for the browser tests, and talks to its
// HTTP API (ingest, wall, snapshot, and any other call with the admin token).
// Every read needs a credential (docs/api.md): the helpers send the admin's.
//
// The binary: $WEIBING_BIN, else ${CARGO_TARGET_DIR:-~/.cache/weibing/target}/release/weibing.
// It embeds web/dist as it was when cargo built it (cargo test rebuilds it);
// WEIBING_WEB_DIST=web/dist serves the pages from that folder instead
// (lib/pages.mjs), for front-end work between Rust builds.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { randomBytes } from 'node:crypto';
import { pagesProxy } from './pages.mjs';

export function binaryPath() {
  if (process.env.WEIBING_BIN) return process.env.WEIBING_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/weibing/target');
  return path.join(target, 'release/weibing');
}

/**
 * A fresh data folder under the system's temporary folder. It is removed
 * when the test file's process exits, unless a test failed: then it is
 * kept, and its path printed, to be looked at.
 */
export function tempDataDir(prefix = 'weibing-wall-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.once('exit', (code) => {
    if (code === 0) fs.rmSync(dir, { recursive: true, force: true });
    else console.error(`kept the data of a failed run: ${dir}`);
  });
  return dir;
}

const LISTENING = /weibing listening on (http:\/\/[^\s]+)/;

/**
 * Starts a server and resolves once it says where it listens.
 * @param {{dataDir: string, port?: number, tickMs?: number, ingestKey?: string, adminToken?: string, adminPassword?: string, args?: string[]}} o
 *   adminPassword: WEIBING_ADMIN_PASSWORD, which creates the staff user `admin` at the first start;
 *   args: more arguments of `weibing serve` (e.g. ['--program-start', '2026-12-03'])
 */
export async function startServer({ dataDir, port = 0, tickMs = 200, ingestKey, adminToken, adminPassword, args: more = [] } = {}) {
  const dist = process.env.WEIBING_WEB_DIST;
  if (dist) {
    // The binary behind a proxy that serves the pages from `dist`, on the port asked for.
    const inner = await startBinary({ dataDir, port: 0, tickMs, ingestKey, adminToken, adminPassword, more });
    const proxy = await pagesProxy({ dist: path.resolve(dist), backend: inner.url, port });
    return {
      ...inner,
      url: proxy.url,
      port: proxy.port,
      async stop(signal = 'SIGTERM') {
        const result = await inner.stop(signal);
        await proxy.close();
        return result;
      },
    };
  }
  return startBinary({ dataDir, port, tickMs, ingestKey, adminToken, adminPassword, more });
}

/**
 * Spawns the weibing binary with `args` and `env`; resolves once a line of its
 * stdout matches `pattern` (its first group: the address it listens on), with
 * the process and its last 200 lines of output. `what` names it in errors.
 */
export async function spawnListening(args, env, pattern, what) {
  const proc = spawn(binaryPath(), args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  const keep = (line) => {
    log.push(line);
    if (log.length > 200) log.shift();
  };
  readline.createInterface({ input: proc.stderr }).on('line', keep);
  const lines = readline.createInterface({ input: proc.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${what} did not say where it listens within 30 s:\n${log.join('\n')}`));
    }, 30_000);
    lines.on('line', (line) => {
      keep(line);
      const m = pattern.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before listening:\n${log.join('\n')}`));
    });
  });
  return { proc, log, url };
}

async function startBinary({ dataDir, port, tickMs, ingestKey, adminToken, adminPassword, more }) {
  const bin = binaryPath();
  if (!fs.existsSync(bin)) {
    throw new Error(`the weibing binary is not at ${bin}: build it (cargo build --release) or set WEIBING_BIN`);
  }
  // The server refuses secrets under 32 characters.
  ingestKey ??= `ingest-${randomBytes(16).toString('hex')}`;
  adminToken ??= `admin-${randomBytes(16).toString('hex')}`;
  const args = ['serve', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--tick-ms', String(tickMs), ...more];
  const env = { ...process.env, WEIBING_INGEST_KEY: ingestKey, WEIBING_ADMIN_TOKEN: adminToken, RUST_LOG: process.env.RUST_LOG ?? 'warn' };
  if (adminPassword) env.WEIBING_ADMIN_PASSWORD = adminPassword;
  else delete env.WEIBING_ADMIN_PASSWORD;
  const { proc, log, url } = await spawnListening(args, env, LISTENING, 'weibing');
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    url,
    port: Number(new URL(url).port),
    dataDir,
    ingestKey,
    adminToken,
    adminPassword,
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

/** POST /api/v1/events with any body; resolves with {status, body} whatever the status. */
export async function ingestRaw(server, text, contentType = 'application/x-ndjson', key = server.ingestKey) {
  const res = await fetch(`${server.url}/api/v1/events`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': contentType },
    body: text,
  });
  const body = await res.text();
  let parsed = body;
  try {
    parsed = JSON.parse(body);
  } catch { /* keep the text */ }
  return { status: res.status, body: parsed };
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

/** GET /api/v1/snapshot: the envelope the websocket starts with (the admin's: the staff state, or `token`'s). */
export async function snapshot(server, token = server.adminToken) {
  const res = await fetch(`${server.url}/api/v1/snapshot`, { headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET /api/v1/snapshot answered ${res.status}: ${await res.text()}`);
  return res.json();
}

/**
 * Any API call, with the admin token unless another is given; resolves with
 * {status, body (parsed JSON when it is), headers}. It never throws on a status:
 * tests assert the status they expect.
 */
export async function call(server, method, path, body, { token = server.adminToken, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch { /* not JSON: keep the text */ }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** POST /api/v1/credentials with the admin token; throws unless 201. */
/** A wall token: what a wall page carries in ?token= (the admin token may not). */
export async function wallToken(server, label = 'test wall') {
  return (await createCredential(server, { kind: 'wall', label })).token;
}

export async function createCredential(server, body) {
  const r = await call(server, 'POST', '/api/v1/credentials', body);
  if (r.status !== 201) throw new Error(`POST /api/v1/credentials ${JSON.stringify(body)} answered ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
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
