// Building the console's DOM without ever parsing data as HTML: every value
// from the server goes in as text (textContent, attributes), never markup.
import { beijing } from '../shared/format.js';
import { strings } from '../shared/i18n.js';

const t = strings('zh').console;

/**
 * h('td', {class: 'num', dataset: {testid: 'x'}}, 'text', child…)
 * Strings and numbers become text nodes; null/false children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.append(c);
    else el.append(document.createTextNode(String(c)));
  }
}

export const $ = (id) => document.getElementById(id);

const pad = (n) => String(n).padStart(2, '0');

/** An RFC 3339 time as "2017-06-28 10:59:58", Beijing time; "—" for none. */
export function fullTime(rfc3339) {
  if (!rfc3339) return '—';
  const ms = Date.parse(rfc3339);
  if (Number.isNaN(ms)) return String(rfc3339);
  const b = beijing(ms);
  return `${b.year}-${pad(b.month)}-${pad(b.day)} ${b.hh}:${b.mm}:${b.ss}`;
}

/** "3 分钟前", "2 小时前"… from an RFC 3339 time. */
export function ago(rfc3339, nowMs = Date.now()) {
  const ms = Date.parse(rfc3339 ?? '');
  if (Number.isNaN(ms)) return '';
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (s < 60) return t.ago.s(s);
  if (s < 3600) return t.ago.m(Math.floor(s / 60));
  if (s < 86400) return t.ago.h(Math.floor(s / 3600));
  return t.ago.d(Math.floor(s / 86400));
}

// C0 controls and DEL shown as their Unicode control pictures (␀ ␊ ␛ …), and
// the bidirectional overrides that could reorder what staff read, as ⟨U+202E⟩.
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** Raw text from outside made visible as it is: nothing hidden, nothing reordered. */
export function visible(raw) {
  return String(raw ?? '')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f]/g, (c) => String.fromCharCode(0x2400 + c.charCodeAt(0)))
    .replace(/\u007f/g, '\u2421')
    .replace(BIDI, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟩`);
}

/** Copies text to the clipboard (also where the async Clipboard API is absent: plain http). */
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!input) return false;
    input.focus();
    input.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}
