// For front-end work without a Rust build: with WEIBING_WEB_DIST set (a
// web/dist folder), the tests put this proxy in front of the binary. It
// serves the pages and assets from that folder, with the server's own
// security headers (its Content-Security-Policy included), and passes
// everything else (the API, /ws) through to the binary untouched. Without
// it the tests see the pages the binary embeds, as a deployment does.
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.woff2': 'font/woff2',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json',
};
// The answer headers a page takes from the server's.
const KEPT = ['content-security-policy', 'x-content-type-options', 'referrer-policy', 'x-frame-options', 'cache-control'];

/** The dist file a GET of `pathname` is answered from, or null (then the server answers). */
function pageFile(dist, pathname) {
  if (pathname === '/') return path.join(dist, 'index.html');
  if (pathname === '/console') return path.join(dist, 'console.html');
  if (pathname === '/console/review') return path.join(dist, 'review.html');
  if (pathname.startsWith('/v/')) return path.join(dist, 'view.html');
  if (pathname.startsWith('/assets/') && !pathname.includes('..')) return path.join(dist, pathname);
  return null;
}

/**
 * Listens on 127.0.0.1:`port` in front of the server at `backend` (http://127.0.0.1:N).
 * @returns {Promise<{url: string, port: number, close: () => Promise<void>}>}
 */
export async function pagesProxy({ dist, backend, port = 0 }) {
  const target = new URL(backend);
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://proxy');
    const file = req.method === 'GET' ? pageFile(dist, pathname) : null;
    if (file && fs.existsSync(file)) {
      // Ask the server for the same path, only for its headers.
      const probe = http.request({ host: target.hostname, port: target.port, path: req.url, method: 'GET', headers: { host: req.headers.host } }, (answer) => {
        answer.resume();
        const headers = { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' };
        for (const k of KEPT) if (answer.headers[k]) headers[k] = answer.headers[k];
        res.writeHead(200, headers);
        res.end(fs.readFileSync(file));
      });
      probe.on('error', () => { res.writeHead(502); res.end(); });
      probe.end();
      return;
    }
    const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.rawHeaders);
      answer.pipe(res);
    });
    up.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  // A websocket upgrade: the raw request passed on, then bytes both ways.
  server.on('upgrade', (req, socket, head) => {
    const up = net.connect(Number(target.port), target.hostname, () => {
      let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) text += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(`${text}\r\n`);
      if (head?.length) up.write(head);
      socket.pipe(up).pipe(socket);
    });
    for (const s of [socket, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { socket.destroy(); up.destroy(); });
    }
    socket.on('close', () => up.destroy());
    up.on('close', () => socket.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const bound = server.address().port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
