// Numbers and Beijing time. The wall shows Beijing time (UTC+8, no daylight
// saving) whatever time zone the PC driving it is set to.

const BEIJING_OFFSET_MS = 8 * 3600 * 1000;

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** Parts of a moment in Beijing time. */
export function beijing(ms) {
  const d = new Date(ms + BEIJING_OFFSET_MS);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    weekday: d.getUTCDay(),
    hh: pad(d.getUTCHours()),
    mm: pad(d.getUTCMinutes()),
    ss: pad(d.getUTCSeconds()),
  };
}

export const hms = (ms) => {
  const b = beijing(ms);
  return `${b.hh}:${b.mm}:${b.ss}`;
};

export const ymd = (ms) => {
  const b = beijing(ms);
  return `${b.year}-${pad(b.month)}-${pad(b.day)}`;
};

/** "14:32" today, "06-29 14:32" later this year, "2018-01-03 14:32" beyond (Beijing time). */
export function dayTime(ms, nowMs) {
  const b = beijing(ms);
  const t = `${b.hh}:${b.mm}`;
  if (ymd(ms) === ymd(nowMs)) return t;
  if (b.year === beijing(nowMs).year) return `${pad(b.month)}-${pad(b.day)} ${t}`;
  return `${ymd(ms)} ${t}`;
}

/** "HH:MM" of an RFC 3339 time, in Beijing time. */
export function minuteLabel(rfc3339) {
  const ms = Date.parse(rfc3339);
  if (Number.isNaN(ms)) return '';
  const b = beijing(ms);
  return `${b.hh}:${b.mm}`;
}

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
/** 82969 → "82,969" (the comma grouping Chinese screens use too). */
export const thousands = (n) => grouped.format(Math.round(n || 0));

export function share(part, whole) {
  if (!whole) return '0.0%';
  return `${((100 * part) / whole).toFixed(1)}%`;
}

export function countdownParts(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return { d, hms: `${pad(h)}:${pad(m)}:${pad(s % 60)}` };
}

/** A share in [0, 1] as a percentage with one decimal: 0.8123 → "81.2%". */
export const percent = (v) => `${(100 * v).toFixed(1)}%`;

/** A standard in [0, 1] as a short percentage: 0.8 → "80%", 0.65 → "65%", 0.675 → "67.5%". */
export const percentShort = (v) => `${Number((100 * v).toFixed(1))}%`;

/** One decimal, with thousands separators: 1234.56 → "1,234.6". */
const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
export const decimal1 = (n) => oneDecimal.format(Number(n) || 0);
