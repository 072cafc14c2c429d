// The staff console (/console): login, then the live figures from the staff
// state over /ws (the session cookie authenticates the socket), ingest
// health, rejected records, the team registry (团队登记), the ledger
// (一帐三单), access management, the wall, export, settings and the audit
// trail. docs/api.md is the contract.
import './console.css';
import { Live } from '../shared/live.js';
import { socketUrl, showConnection, showFreshness, Throttle } from '../shared/connection.js';
import { api, setCsrf, whenUnauthorized } from './api.js';
import { $ } from './dom.js';
import { Figures } from './figures.js';
import { RateTables } from './rates.js';
import { strings } from '../shared/i18n.js';
import { colourWheel } from '../shared/lists.js';
import { Ingest } from './ingest.js';
import { Access } from './access.js';
import { WallControl, Export } from './wall-export.js';
import { Settings } from './settings.js';
import { Audit } from './audit.js';
import { Ledger } from './ledger.js';
import { Registry } from './registry.js';

const TABS = ['overview', 'regions', 'registry', 'ledger', 'access', 'wall', 'settings', 'audit'];
// The state's tables are redrawn at most this often; the counters at once.
const TABLE_GAP_MS = 1000;

// ---- confirm (a <dialog>, not window.confirm: styled, and testable) -------------
const dialog = $('confirm');
let answer = null;
$('confirm-ok').addEventListener('click', () => dialog.close('ok'));
$('confirm-cancel').addEventListener('click', () => dialog.close('cancel'));
dialog.addEventListener('close', () => {
  answer?.(dialog.returnValue === 'ok');
  answer = null;
});
function confirmDialog(text) {
  $('confirm-text').textContent = text;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => { answer = resolve; });
}

// The mark: the five colours round a circle.
for (const mark of document.querySelectorAll('.brand-mark')) mark.style.setProperty('--mark', colourWheel());

const figures = new Figures();
const t = strings('zh');
$('rates-title').textContent = t.consoleRates;
$('index-title').textContent = t.consoleIndex;
const rateTables = new RateTables({
  ratesMount: $('district-rates'), ratesHint: $('rates-hint'), indexMount: $('district-index'), indexHint: $('index-hint'),
});
const ingest = new Ingest();
const access = new Access({ confirm: confirmDialog });
const wallControl = new WallControl();
new Export();
const settings = new Settings();
const audit = new Audit();
const ledger = new Ledger();
const registry = new Registry();

// ---- live: the staff state --------------------------------------------------------
let live = null;

function showStatus(status) {
  showConnection({ status, live, t, badge: $('conn'), badgeText: $('conn-text'), banner: $('stale-banner') });
}

const throttle = new Throttle(TABLE_GAP_MS, () => {
  figures.render(live.state);
  rateTables.render(live.state);
  wallControl.render(live.state.wall);
});

function onState(state, info) {
  showFreshness($('freshness'), info.asOf, t);
  throttle.follow(info);
}

// ---- tabs --------------------------------------------------------------------------
function showTab(name) {
  if (!TABS.includes(name)) name = 'overview';
  for (const b of document.querySelectorAll('#tabs [data-tab]')) {
    b.setAttribute('aria-selected', String(b.dataset.tab === name));
  }
  for (const p of document.querySelectorAll('#pages [data-page]')) p.hidden = p.dataset.page !== name;
  document.body.dataset.tab = name;
  if (name === 'registry') registry.load();
  if (name === 'ledger') ledger.load();
  if (name === 'access') access.load();
  if (name === 'settings') settings.load();
  if (name === 'audit') audit.load();
}
for (const b of document.querySelectorAll('#tabs [data-tab]')) {
  b.addEventListener('click', () => {
    history.replaceState(null, '', `#${b.dataset.tab}`);
    showTab(b.dataset.tab);
  });
}

// ---- session --------------------------------------------------------------------------
function showLogin(message) {
  stopConsole();
  document.body.dataset.view = 'login';
  $('app').hidden = true;
  $('login').hidden = false;
  const err = $('login-error');
  err.hidden = !message;
  err.textContent = message ?? '';
  $('login-password').value = '';
  $('login-name').focus();
}

function startConsole(session) {
  setCsrf(session.csrf);
  $('user-name').textContent = session.name ?? '';
  $('login').hidden = true;
  $('app').hidden = false;
  document.body.dataset.view = 'console';
  showTab(location.hash.slice(1));
  live = new Live({
    // The session cookie authenticates the socket: no token in the address.
    url: socketUrl(location),
    onState,
    onStatus: showStatus,
    // A socket refused before it opened: the session may have ended.
    onClose: ({ opened }) => {
      if (!opened) api('GET', '/api/v1/session').catch(() => {});
    },
  });
  showStatus(live.status);
  live.start();
  ingest.start();
}

function stopConsole() {
  if ($('password').open) $('password').close();
  ledger.stop();
  registry.stop();
  live?.stop();
  live = null;
  throttle.cancel();
  ingest.stop();
  access.hideOnce();
  setCsrf('');
}

whenUnauthorized(() => {
  if (document.body.dataset.view === 'console') showLogin(t.console.login.expired);
});

let retryTimer = 0;
$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const button = $('login-submit');
  const err = $('login-error');
  button.disabled = true;
  err.hidden = true;
  try {
    const session = await api('POST', '/api/v1/login', { name: $('login-name').value.trim(), password: $('login-password').value }, { quiet401: true });
    $('login-password').value = '';
    startConsole(session);
  } catch (ex) {
    $('login-password').value = '';
    if (ex.status === 429) {
      // Too many failures: say how long to wait, counting down.
      let left = ex.retryAfter ?? 900;
      const tell = () => {
        err.textContent = t.console.login.tooMany(Math.floor(left / 60), left % 60, ex.message);
        err.dataset.retryAfter = String(left);
      };
      tell();
      clearInterval(retryTimer);
      retryTimer = setInterval(() => {
        left -= 1;
        if (left <= 0) {
          clearInterval(retryTimer);
          err.textContent = t.console.login.again;
          return;
        }
        tell();
      }, 1000);
    } else if (ex.status === 401) {
      err.textContent = t.console.login.wrong(ex.message);
    } else {
      err.textContent = t.console.login.failed(ex.message);
    }
    err.hidden = false;
  } finally {
    button.disabled = false;
  }
});

$('logout').addEventListener('click', async () => {
  try {
    await api('POST', '/api/v1/logout', undefined, { quiet401: true });
  } catch { /* the session is gone either way */ }
  showLogin(t.console.login.loggedOut);
});

// The account's own password: the current one is checked by the server
// (under the sign-in limits); its other sessions end.
function showPassword(error, ok) {
  $('password-error').hidden = !error;
  $('password-error').textContent = error ?? '';
  $('password-ok').hidden = !ok;
  $('password-ok').textContent = ok ?? '';
}
$('password-open').addEventListener('click', () => {
  $('password-form').reset();
  showPassword();
  $('password').showModal();
});
$('password-close').addEventListener('click', () => $('password').close());
$('password-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const current = $('password-current').value;
  const next = $('password-new').value;
  if (next !== $('password-again').value) {
    showPassword(t.console.password.mismatch);
    return;
  }
  $('password-submit').disabled = true;
  try {
    const r = await api('POST', '/api/v1/password', { current_password: current, new_password: next });
    $('password-form').reset();
    showPassword(null, t.console.password.changed(r.other_sessions_ended));
  } catch (ex) {
    if (ex.status !== 401) showPassword(t.console.password.failed(ex.message));
  } finally {
    $('password-submit').disabled = false;
  }
});

// On load: a live session goes straight to the console.
(async () => {
  try {
    startConsole(await api('GET', '/api/v1/session', undefined, { quiet401: true }));
  } catch (e) {
    showLogin(e.status === 401 ? null : t.console.login.unreachable(e.message));
  }
})();
