// The nine rates (三案九率), one group of three per plan. The plan of each
// rate comes from the state (`index.standards.<code>.plan`, the region's
// rates.csv); the program's own grouping (lists.js) is the fallback and the
// order. A rate or a plan lists.js does not know yet comes after them, by its code.
import { RATES as RATE_LIST, PLANS as PLAN_LIST, codes, withUnknown } from './lists.js';

export const RATES = codes(RATE_LIST);

export const PLANS = codes(PLAN_LIST);

const PROGRAM_PLAN = Object.fromEntries(RATE_LIST.map((r) => [r.code, r.plan]));

/** The plan (培训/技术/实施方案) a rate belongs to: the region's, else the program's (a rate of neither: the last plan). */
export function planOf(state, rate) {
  const plan = state.index?.standards?.[rate]?.plan;
  return typeof plan === 'string' && plan !== '' ? plan : PROGRAM_PLAN[rate] ?? PLANS[PLANS.length - 1];
}

/** The rates to show: the program's nine, then any other the state has. */
export function ratesOf(state) {
  const rates = withUnknown(RATE_LIST, state.rates);
  return [...rates, ...Object.keys(state.index?.standards ?? {}).filter((r) => !rates.includes(r))];
}

/** The plans to show: the program's three, then any other a rate of the state is in. */
export function plansOf(state) {
  const plans = [...PLANS];
  for (const rate of ratesOf(state)) {
    const plan = planOf(state, rate);
    if (!plans.includes(plan)) plans.push(plan);
  }
  return plans;
}

/** The codes of the districts whose value of `rate` is below its standard (`pass` false), in code order. */
export function belowStandard(state, rate) {
  return Object.keys(state.districts ?? {})
    .filter((code) => state.districts[code]?.rates?.[rate]?.pass === false)
    .sort();
}

/** How many districts have a value of `rate` (are judged against its standard). */
export function judged(state, rate) {
  return Object.values(state.districts ?? {}).filter((d) => d?.rates?.[rate]?.pass != null).length;
}
