// The console's HTTP client (docs/api.md). The session cookie authenticates
// every request; every write also carries X-CSRF-Token.
import { strings } from '../shared/i18n.js';

export class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

let csrf = '';
let onUnauthorized = () => {};

export function setCsrf(token) {
  csrf = token || '';
}

/** Called when a request made with the session gets 401 (the session ended). */
export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

/**
 * @param {string} method
 * @param {string} path
 * @param {object} [body] sent as JSON
 * @param {{quiet401?: boolean}} [o] quiet401: a 401 is the answer itself (login, session)
 */
export async function api(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, strings('zh').console.offline(e?.message || e));
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch { /* not JSON */ }
  if (!res.ok) {
    const message = json && typeof json.error === 'string' ? json.error : `HTTP ${res.status}`;
    const retry = Number(res.headers.get('Retry-After'));
    if (res.status === 401 && !quiet401) onUnauthorized();
    throw new ApiError(res.status, message, Number.isFinite(retry) ? retry : undefined);
  }
  return json;
}

/**
 * GETs `path` for a section: its error line `errorEl` says why a read failed
 * (`say(message)`) and is hidden once a read succeeds. Null when the read
 * failed, or when the session ended (the sign-in takes over then).
 */
export async function read(path, errorEl, say) {
  try {
    const j = await api('GET', path);
    errorEl.hidden = true;
    return j;
  } catch (e) {
    if (e.status !== 401) {
      errorEl.textContent = say(e.message);
      errorEl.hidden = false;
    }
    return null;
  }
}
