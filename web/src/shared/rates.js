// The nine rates (三案九率), one group of three per plan. The plan of each
// rate comes from the state (`index.standards.<code>.plan`, the region's
// rates.csv); the program's own grouping is the fallback and the order.

export const RATES = [
  'awareness', 'participation', 'satisfaction',
  'attainment', 'improvement', 'effectiveness',
  'management', 'control', 'prevention',
];

export const PLANS = ['training', 'technical', 'implementation'];

const PROGRAM_PLAN = {
  awareness: 'training', participation: 'training', satisfaction: 'training',
  attainment: 'technical', improvement: 'technical', effectiveness: 'technical',
  management: 'implementation', control: 'implementation', prevention: 'implementation',
};

/** The plan (培训/技术/实施方案) a rate belongs to. */
export function planOf(state, rate) {
  const plan = state.index?.standards?.[rate]?.plan;
  return PLANS.includes(plan) ? plan : PROGRAM_PLAN[rate];
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
