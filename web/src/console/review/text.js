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

export const QUARTER_REPORT = '季度考核报告';
const QUARTER_NUMERALS = ['一', '二', '三', '四'];

/** "2026-Q4" → {year: 2026, quarter: 4}, or null. */
export function parseQuarter(text) {
  const m = /^(\d{4})-Q([1-4])$/.exec(text ?? '');
  return m ? { year: Number(m[1]), quarter: Number(m[2]) } : null;
}

/** "2026年第四季度" (the text itself when it is not a quarter). */
export function quarterName(text) {
  const q = parseQuarter(text);
  return q ? `${q.year}年第${QUARTER_NUMERALS[q.quarter - 1]}季度` : String(text);
}

/** The quarter a month (1-based) falls in, as "YYYY-Qn". */
export const quarterOf = (year, month) => `${year}-Q${Math.floor((month - 1) / 3) + 1}`;

/** The months of a quarter: its first and last, 1-based ({first: 10, last: 12} for Q4). */
export function quarterMonths(text) {
  const q = parseQuarter(text);
  return q ? { first: 3 * q.quarter - 2, last: 3 * q.quarter } : null;
}

/**
 * What a report covers: a month ("2026-11") or a quarter ("2026-Q4"), with
 * the words the page uses for it. null when the text is neither.
 */
export function periodOf(text) {
  const m = parseMonth(text);
  if (m) {
    return {
      kind: 'month', value: text, name: monthName(text), report: REPORT,
      // The first and last day, "2026年11月1日至30日".
      span: `${monthName(text)}1日至${lastDay(text)}日`,
      end: Date.UTC(m.year, m.month, 1) - 8 * 3600e3,
      this: '本月', previous: '上月', close: '月末', previousClose: '上月末',
    };
  }
  const q = parseQuarter(text);
  if (q) {
    const { first, last } = quarterMonths(text);
    const lastOfQuarter = new Date(Date.UTC(q.year, last, 0)).getUTCDate();
    return {
      kind: 'quarter', value: text, name: quarterName(text), report: QUARTER_REPORT,
      span: `${q.year}年${first}月1日至${last}月${lastOfQuarter}日`,
      end: Date.UTC(q.year, last, 1) - 8 * 3600e3,
      this: '本季度', previous: '上季度', close: '季末', previousClose: '上季度末',
    };
  }
  return null;
}
