// The review's words (Chinese: the report is printed for the program's
// meetings) and its number formats. Under src/console/, so the wall's font
// subset (fonts/subset.py) leaves them out: the page uses the system's fonts.

/**
 * The disciplines (两病四法) of src/model.rs's `Discipline`, which the team
 * rows carry by code; only this page names them. A code not listed here is
 * shown as itself.
 */
export const DISCIPLINES = {
  hypertension: '高血压',
  diabetes: '糖尿病',
  diet: '饮食调节',
  psychology: '心理干预',
  exercise: '医体结合',
  non_drug: '非药物疗法',
};

export const disciplineName = (code) => (code == null ? '—' : DISCIPLINES[code] ?? String(code));

export const PROGRAM = '首都中医治未病';
export const REPORT = '月度考核报告';
/** The district shown without ?district=: 丰台区, the pilot (seed 001). */
export const DEFAULT_DISTRICT = '110106';

const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0, useGrouping: true });
/** A count exactly as the API gives it, grouped by thousands: 15000 → "15,000". */
export const count = (n) => (Number.isInteger(n) ? grouped.format(n) : String(n ?? '—'));

/** A change against the month before: "+3", "−1", "0". */
export const signed = (d) => (d > 0 ? `+${count(d)}` : d < 0 ? `−${count(-d)}` : '0');

/** A rate's value as a percentage with one decimal (0.6667 → "66.7%"); "—" without one. */
export const percent = (v) => (v == null ? '—' : `${(100 * v).toFixed(1)}%`);

/** A standard, short: 0.8 → "80%", 0.675 → "67.5%". */
export const standardText = (v) => (v == null ? '—' : `${Number((100 * v).toFixed(1))}%`);

/** "2026-11" → {year: 2026, month: 11}, or null. */
export function parseMonth(text) {
  const m = /^(\d{4})-(\d{2})$/.exec(text ?? '');
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  return month >= 1 && month <= 12 ? { year, month } : null;
}

/** "2026年11月" (the text itself when it is not a month). */
export function monthName(text) {
  const m = parseMonth(text);
  return m ? `${m.year}年${m.month}月` : String(text);
}

/** The month's last day, "30". */
export function lastDay(text) {
  const m = parseMonth(text);
  return m ? new Date(Date.UTC(m.year, m.month, 0)).getUTCDate() : null;
}

/** The month before `year`-`month` (1-based), as "YYYY-MM". */
export function monthBefore(year, month) {
  const y = month === 1 ? year - 1 : year;
  const m = month === 1 ? 12 : month - 1;
  return `${y}-${String(m).padStart(2, '0')}`;
}

/** The pass of a rate, in words: 达标, 未达标, or 待报 (nobody observed: n 0, no value). */
export function verdict(rate) {
  if (!rate || rate.value == null || rate.n === 0) return { key: 'pending', text: '待报' };
  return rate.pass ? { key: 'pass', text: '达标' } : { key: 'fail', text: '未达标' };
}
