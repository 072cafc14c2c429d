// The program's fixed lists, in the program's order: the one place on the web
// side that holds them (a new value is added here, and nowhere else). The
// codes are the server's: src/model.rs lists them in the same order, and the
// state document keys its `colours`, `categories` and `rates` objects by them.
// Names are zh and en; a code this file does not know (one the server added
// first) is shown as the code itself, never left out.
// fonts/subset.py reads this file: the wall's font holds its characters.

/** The five colours (五色): the hue each is drawn in, a long and a short name. */
export const COLOURS = [
  { code: 'green', hue: '#3ccf6e', name: { zh: '绿色 · 健康人', en: 'Green · healthy' }, short: { zh: '绿色', en: 'Green' } },
  { code: 'orange', hue: '#ff9f2e', name: { zh: '橙色 · 爱好者', en: 'Orange · enthusiasts' }, short: { zh: '橙色', en: 'Orange' } },
  { code: 'pink', hue: '#ff6fae', name: { zh: '粉色 · 家庭女主人', en: 'Pink · family carers' }, short: { zh: '粉色', en: 'Pink' } },
  { code: 'yellow', hue: '#ffd43b', name: { zh: '黄色 · 老人', en: 'Yellow · elderly' }, short: { zh: '黄色', en: 'Yellow' } },
  { code: 'blue', hue: '#3d8bff', name: { zh: '蓝色 · 已病患者', en: 'Blue · patients' }, short: { zh: '蓝色', en: 'Blue' } },
];

/** The ten service categories (十类服务). */
export const CATEGORIES = [
  { code: 'idea_promotion', name: { zh: '传播理念', en: 'Idea promotion' } },
  { code: 'science_push', name: { zh: '科普推送', en: 'Science push' } },
  { code: 'activity', name: { zh: '参与活动', en: 'Activities' } },
  { code: 'learning', name: { zh: '学习知识', en: 'Learning' } },
  { code: 'skills_training', name: { zh: '技能培训', en: 'Skills training' } },
  { code: 'behaviour_contest', name: { zh: '行为评比', en: 'Behaviour contests' } },
  { code: 'health_management', name: { zh: '健康管理', en: 'Health management' } },
  { code: 'patient_followup', name: { zh: '患教回访', en: 'Patient follow-up' } },
  { code: 'treatment', name: { zh: '已病治疗', en: 'Treatment' } },
  { code: 'key_intervention', name: { zh: '重点干预', en: 'Key intervention' } },
];

/** The three plans (三案). */
export const PLANS = [
  { code: 'training', name: { zh: '培训方案', en: 'Training' } },
  { code: 'technical', name: { zh: '技术方案', en: 'Technical' } },
  { code: 'implementation', name: { zh: '实施方案', en: 'Implementation' } },
];

/** The nine rates (九率), three to each plan: the program's plan of each (a region's rates.csv may move one). */
export const RATES = [
  { code: 'awareness', plan: 'training', name: { zh: '知晓率', en: 'Awareness' } },
  { code: 'participation', plan: 'training', name: { zh: '参与率', en: 'Participation' } },
  { code: 'satisfaction', plan: 'training', name: { zh: '满意率', en: 'Satisfaction' } },
  { code: 'attainment', plan: 'technical', name: { zh: '达标率', en: 'Attainment' } },
  { code: 'improvement', plan: 'technical', name: { zh: '改善率', en: 'Improvement' } },
  { code: 'effectiveness', plan: 'technical', name: { zh: '有效率', en: 'Effectiveness' } },
  { code: 'management', plan: 'implementation', name: { zh: '管理率', en: 'Management' } },
  { code: 'control', plan: 'implementation', name: { zh: '控制率', en: 'Control' } },
  { code: 'prevention', plan: 'implementation', name: { zh: '防变率', en: 'Prevention' } },
];

/** The three lists of the ledger (一帐三单): tasks, supervision items, feedback with a deadline for the correction. */
export const LEDGER_LISTS = [
  { code: 'task', name: { zh: '任务单', en: 'Task' } },
  { code: 'supervision', name: { zh: '督办单', en: 'Supervision' } },
  { code: 'feedback', name: { zh: '反馈单', en: 'Feedback' } },
];

/** The registry's team levels (层级): city teams (市级) and district teams (区级). */
export const TEAM_LEVELS = [
  { code: 'city', name: { zh: '市级', en: 'City' } },
  { code: 'district', name: { zh: '区级', en: 'District' } },
];

/** A team's discipline: the two diseases and four methods (两病四法). */
export const TEAM_DISCIPLINES = [
  { code: 'hypertension', name: { zh: '高血压', en: 'Hypertension' } },
  { code: 'diabetes', name: { zh: '糖尿病', en: 'Diabetes' } },
  { code: 'diet', name: { zh: '饮食调节', en: 'Diet' } },
  { code: 'psychology', name: { zh: '心理干预', en: 'Psychological intervention' } },
  { code: 'exercise', name: { zh: '医体结合', en: 'Medicine and exercise' } },
  { code: 'non_drug', name: { zh: '非药物疗法', en: 'Non-drug therapies' } },
];

/** The codes of a list, in its order. */
export const codes = (list) => list.map((v) => v.code);

/** A list's codes, then any other key of `doc` (a code the server has and this file not yet), in the doc's order. */
export function withUnknown(list, doc) {
  const known = codes(list);
  return [...known, ...Object.keys(doc ?? {}).filter((k) => !known.includes(k))];
}

/**
 * `{ code: name }` of a list in `lang` ('zh' or 'en'), `field` 'name' or
 * 'short'. Read with a code it lacks, it gives the code.
 */
export function names(list, lang, field = 'name') {
  return orCode(Object.fromEntries(list.map((v) => [v.code, v[field][lang]])));
}

/** A map that gives a key it lacks back as its value (`m.purple` is 'purple'). */
export function orCode(map) {
  return new Proxy(map, { get: (m, k) => (typeof k === 'string' && !(k in m) ? k : m[k]) });
}

/** The hue a colour is drawn in; a colour this file does not know, in a neutral grey-blue. */
export function hueOf(code) {
  return COLOURS.find((c) => c.code === code)?.hue ?? '#7f9cc7';
}

/** The five colours round a circle in equal shares: the pages' mark, as a CSS background. */
export function colourWheel() {
  const n = COLOURS.length;
  const stops = COLOURS.map((c, i) => (i < n - 1 ? `${c.hue} 0 ${+((100 * (i + 1)) / n).toFixed(3)}%` : `${c.hue} 0`));
  return `conic-gradient(${stops.join(', ')})`;
}
