// Every string the wall shows. Chinese by default, `?lang=en` for English.
// fonts/subset.py reads this file (and the others in src/) to decide which
// characters the shipped font must hold.
import { BY_CODE } from './regions.js';

const zh = {
  title: '首都中医治未病 · 实时指挥大屏',
  weekdays: ['星期日', '星期一', '星期二', '星期三', '星期四', '星期五', '星期六'],
  connLive: '实时',
  connConnecting: '连接中',
  connDown: '重连中',
  freshness: (t) => `数据更新于 ${t}`,
  freshnessNone: '等待数据…',
  stale: (t) => `数据连接中断，正在自动重连 · 画面为 ${t} 的数据`,
  staleNone: '数据连接中断，正在自动重连',
  colours: '五色人群',
  targets: '目标进度',
  categories: '十类服务',
  people: '扫码人数',
  ranking: '各区排名',
  trend: '每分钟扫码 · 近60分钟',
  figures: '团队 / 守护者',
  ticker: '各区动态',
  tickerItem: (district, n) => `${district} 近1分钟 +${n} 扫码`,
  tickerQuiet: '各区近1分钟暂无新扫码',
  headlineSub: (scans, assessed) => `扫码 ${scans} 次 · 完成评估 ${assessed} 人`,
  metric: { people: '扫码人数', index: '治未病指数', managed: '管理人数' },
  // The map's metrics: per 10,000 residents, or the index.
  mapMetric: { people: '每万人扫码', index: '治未病指数', managed: '每万人管理', guardians: '每万人守护者' },
  // The legend's unit (the tab above names the metric).
  mapLegend: { people: '单位：人/万人', index: '单位：分（0–100）', managed: '单位：人/万人', guardians: '单位：人/万人' },
  metricNote: '每15秒轮换',
  colourNames: { green: '绿色 · 健康人', orange: '橙色 · 爱好者', pink: '粉色 · 家庭女主人', yellow: '黄色 · 老人', blue: '蓝色 · 已病患者' },
  colourShort: { green: '绿色', orange: '橙色', pink: '粉色', yellow: '黄色', blue: '蓝色' },
  assessed: '已评估',
  persons: '人',
  targetNames: { people: '惠及人数', interactive: '线上互动', managed: '线上线下管理', guardians: '健康守护者' },
  etaLabel: '预计',
  etaReached: '目标已达成',
  etaNone: '暂无法预计',
  perMinute: (n) => `+${n} 人/分钟`,
  categoryNames: {
    idea_promotion: '传播理念', science_push: '科普推送', activity: '参与活动', learning: '学习知识',
    skills_training: '技能培训', behaviour_contest: '行为评比', health_management: '健康管理',
    patient_followup: '患教回访', treatment: '已病治疗', key_intervention: '重点干预',
  },
  times: '次',
  figureNames: { managed: '管理人数', interactive: '互动人数', services: '服务次数', trainees: '培训学员', guardians: '健康守护者', scans: '扫码次数' },
  coverKicker: '北京中医药治未病健康促进工程',
  coverSub: '启动仪式 · 即将开启',
  coverConnecting: '正在连接数据服务…',
  beijingTime: (t) => `北京时间 ${t}`,
  countdownLabel: '距启动',
  countdown: (d, hms) => (d > 0 ? `${d} 天 ${hms}` : hms),
  needToken: '启动大屏需要在控制台操作（此页面没有令牌）',
  launchFailed: (why) => `操作未成功：${why}`,
  indexUnit: '分',
  // The ranking: what it goes by (state.index.basis).
  rankingBasis: { index: '按治未病指数排名', progress: '按每万人扫码排名 · 质量数据不足' },
  // Targets against their plan (status of state.targets.<k>).
  // A label over the gap's figure (超前计划 / 82,798), or a word alone.
  planStatus: { ahead: '超前计划', behind: '落后计划', onTrack: '按计划进行', reached: '目标已达成', not_started: '尚未开始' },
  planned: (n) => `计划 ${n}`,
  planTime: (elapsed, deadline) => `时间进度 ${elapsed} · 期限 ${deadline}`,
  // 三案九率.
  rates: '三案九率',
  planNames: { training: '培训方案', technical: '技术方案', implementation: '实施方案' },
  rateNames: {
    awareness: '知晓率', participation: '参与率', satisfaction: '满意率',
    attainment: '达标率', improvement: '改善率', effectiveness: '有效率',
    management: '管理率', control: '控制率', prevention: '防变率',
  },
  rateNone: '待报',
  // A figure of fewer than k persons, not shown to viewers (docs/privacy.md).
  rateFew: '样本过少',
  hidden: '过少',
  rateStandard: (s) => `标准 ${s}`,
  rateN: (n) => `样本 ${n}`,
  rateTargetN: (n) => `目标人群 ${n}`,
  // Of the districts with a value of the rate: how many are below its standard, or that all of them pass.
  rateBelow: (k, m) => `${k}/${m} 区未达标`,
  rateAllPass: (m) => `${m} 区达标`,
  // Scans by channel.
  channels: '扫码渠道',
  channelNone: '未标注',
  channelOther: '其他',
  channelRest: (k) => `其余 ${k} 个渠道`,
  channelsEmpty: '暂无扫码',
  // The leaders' view.
  viewPersons: (n) => `${n} 人`,
  // The console's index table.
  city: '全市',
  district: '区',
  rank: '排名',
  indexHalves: { progress: '进度', quality: '质量' },
  componentNames: { reach: '惠及', interactive: '互动', managed: '管理', guardians: '守护者' },
  flagNames: { ok: '', thin: '偏少', pending: '待报', missing: '未报' },
  consoleRates: '三案九率 · 各区',
  consoleRatesHint: (minN) => `绿色达标、橙色未达标（对照标准）；待报：暂无数据；样本少于 ${minN} 人的区在指数中标为偏少 · 点击表头排序`,
  consoleIndex: '治未病指数构成 · 各区',
  consoleIndexHint: (minN) => `分项得分 0–100，指数为其加权平均；偏少：样本少于 ${minN} 人；待报：暂无数据或样本不足 k 人（宽限期内）；未报：宽限期后仍如此，按 0 计`,
  rateHead: (name, standard) => `${name} ≥${standard}`,
  // A leader's link (/v/<token>).
  view: {
    figures: {
      scans: '扫码次数', assessed: '已评估', managed: '管理人数', interactive: '互动人数',
      services: '服务次数', guardians: '健康守护者', scans_last_minute: '近1分钟扫码', index: '治未病指数',
    },
    cityPeople: '全市扫码人数',
    districtPeople: (name) => `${name} 扫码人数`,
    districtTitle: (name) => `${name} · 本区数据`,
    noTeams: '暂无团队数据',
    ended: { revoked: '此链接已被撤销。', expired: '此链接已过期。', unknown: '此链接已被撤销或已过期。' },
    endedTitle: '链接已失效',
    validUntil: (when) => `有效期至 ${when}`,
  },
};

const en = {
  title: 'Capital TCM Preventive Health · Live Wall',
  weekdays: ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'],
  connLive: 'Live',
  connConnecting: 'Connecting',
  connDown: 'Reconnecting',
  freshness: (t) => `Data as of ${t}`,
  freshnessNone: 'Waiting for data…',
  stale: (t) => `Connection lost, reconnecting · showing data as of ${t}`,
  staleNone: 'Connection lost, reconnecting',
  colours: 'Five colours',
  targets: 'Targets',
  categories: 'Ten services',
  people: 'People who scanned',
  ranking: 'District ranking',
  trend: 'Scans / minute · last hour',
  figures: 'Teams / guardians',
  ticker: 'Districts',
  tickerItem: (district, n) => `${district} last minute +${n} scans`,
  tickerQuiet: 'No new scans in the last minute',
  headlineSub: (scans, assessed) => `${scans} scans · ${assessed} assessed`,
  metric: { people: 'People', index: 'Index', managed: 'Managed' },
  mapMetric: { people: 'People /10k', index: 'Index', managed: 'Managed /10k', guardians: 'Guardians /10k' },
  mapLegend: { people: 'per 10,000 residents', index: 'points (0–100)', managed: 'per 10,000 residents', guardians: 'per 10,000 residents' },
  metricNote: 'rotates every 15 s',
  colourNames: { green: 'Green · healthy', orange: 'Orange · enthusiasts', pink: 'Pink · family carers', yellow: 'Yellow · elderly', blue: 'Blue · patients' },
  colourShort: { green: 'Green', orange: 'Orange', pink: 'Pink', yellow: 'Yellow', blue: 'Blue' },
  assessed: 'assessed',
  persons: '',
  targetNames: { people: 'Reached', interactive: 'Interactive', managed: 'Managed', guardians: 'Guardians' },
  etaLabel: 'due',
  etaReached: 'reached',
  etaNone: '—',
  perMinute: (n) => `+${n} /min`,
  categoryNames: {
    idea_promotion: 'Idea promotion', science_push: 'Science push', activity: 'Activities', learning: 'Learning',
    skills_training: 'Skills training', behaviour_contest: 'Behaviour contests', health_management: 'Health management',
    patient_followup: 'Patient follow-up', treatment: 'Treatment', key_intervention: 'Key intervention',
  },
  times: '',
  figureNames: { managed: 'Managed', interactive: 'Interactive', services: 'Services', trainees: 'Trainees', guardians: 'Guardians', scans: 'Scans' },
  coverKicker: 'Capital TCM preventive-health programme',
  coverSub: 'Launch ceremony · starting soon',
  coverConnecting: 'Connecting to the data service…',
  beijingTime: (t) => `Beijing time ${t}`,
  countdownLabel: 'Launch in',
  countdown: (d, hms) => (d > 0 ? `${d} d ${hms}` : hms),
  needToken: 'Launching the wall needs the console (this page has no token)',
  launchFailed: (why) => `Not done: ${why}`,
  indexUnit: '',
  rankingBasis: { index: 'ranked by the preventive-health index', progress: 'ranked by people per 10,000 residents · quality data still thin' },
  planStatus: { ahead: 'ahead of plan by', behind: 'behind plan by', onTrack: 'on track', reached: 'reached', not_started: 'not started' },
  planned: (n) => `plan ${n}`,
  planTime: (elapsed, deadline) => `time elapsed ${elapsed} · deadline ${deadline}`,
  rates: 'Nine rates',
  planNames: { training: 'Training', technical: 'Technical', implementation: 'Implementation' },
  rateNames: {
    awareness: 'Awareness', participation: 'Participation', satisfaction: 'Satisfaction',
    attainment: 'Attainment', improvement: 'Improvement', effectiveness: 'Effectiveness',
    management: 'Management', control: 'Control', prevention: 'Prevention',
  },
  rateNone: 'no data yet',
  rateFew: 'too few to show',
  hidden: 'too few',
  rateStandard: (s) => `standard ${s}`,
  rateN: (n) => `n ${n}`,
  rateTargetN: (n) => `of ${n}`,
  rateBelow: (k, m) => `${k} of ${m} below`,
  rateAllPass: (m) => `${m} at standard`,
  channels: 'Scans by channel',
  channelNone: 'no channel',
  channelOther: 'other',
  channelRest: (k) => `${k} more channels`,
  channelsEmpty: 'no scans yet',
  viewPersons: (n) => `${n} people`,
  city: 'City',
  district: 'District',
  rank: 'Rank',
  indexHalves: { progress: 'progress', quality: 'quality' },
  componentNames: { reach: 'Reach', interactive: 'Interactive', managed: 'Managed', guardians: 'Guardians' },
  flagNames: { ok: '', thin: 'thin', pending: 'pending', missing: 'missing' },
  consoleRates: 'Nine rates · by district',
  consoleRatesHint: (minN) => `green at standard, amber below; pending: no data yet; a district with fewer than ${minN} persons is flagged thin in the index · click a header to sort`,
  consoleIndex: 'Index components · by district',
  consoleIndexHint: (minN) => `component scores 0–100, the index is their weighted mean; thin: fewer than ${minN} persons; pending: no data yet, or fewer than k persons (grace period); missing: still so after it, counts 0`,
  rateHead: (name, standard) => `${name} ≥${standard}`,
  view: {
    figures: {
      scans: 'Scans', assessed: 'Assessed', managed: 'Managed', interactive: 'Interactive',
      services: 'Services', guardians: 'Guardians', scans_last_minute: 'Scans, last minute', index: 'Preventive-health index',
    },
    cityPeople: 'People who scanned, city-wide',
    districtPeople: (name) => `People who scanned in ${name}`,
    districtTitle: (name) => `${name} · this district`,
    noTeams: 'No team figures yet',
    ended: { revoked: 'This link was revoked.', expired: 'This link has expired.', unknown: 'This link was revoked or has expired.' },
    endedTitle: 'Link ended',
    validUntil: (when) => `valid until ${when}`,
  },
};

export const DEFAULT_TITLE = zh.title;

export function pickLang(search) {
  return new URLSearchParams(search).get('lang') === 'en' ? 'en' : 'zh';
}

export function strings(lang) {
  return lang === 'en' ? en : zh;
}

export function districtName(lang, code, fallback) {
  const d = BY_CODE.get(code);
  if (!d) return fallback ?? code;
  return lang === 'en' ? d.en : d.zh;
}
