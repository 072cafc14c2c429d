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
  ranking: '治未病指数排名',
  trend: '每分钟扫码 · 近60分钟',
  figures: '团队 / 守护者',
  ticker: '各区动态',
  tickerItem: (district, n) => `${district} 近1分钟 +${n} 扫码`,
  tickerQuiet: '各区近1分钟暂无新扫码',
  headlineSub: (scans, assessed) => `扫码 ${scans} 次 · 完成评估 ${assessed} 人`,
  metric: { people: '扫码人数', index: '治未病指数', managed: '管理人数' },
  metricNote: '每15秒轮换',
  colourNames: { green: '绿色 · 健康人', orange: '橙色 · 爱好者', pink: '粉色 · 家庭女主人', yellow: '黄色 · 老人', blue: '蓝色 · 已病患者' },
  colourShort: { green: '绿色', orange: '橙色', pink: '粉色', yellow: '黄色', blue: '蓝色' },
  assessed: '已评估',
  persons: '人',
  targetNames: { people: '惠及人数', interactive: '线上互动', managed: '线上线下管理', guardians: '健康守护者' },
  etaLabel: '预计达成',
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
  ranking: 'Preventive-health index',
  trend: 'Scans per minute · last 60 min',
  figures: 'Teams / guardians',
  ticker: 'Districts',
  tickerItem: (district, n) => `${district} last minute +${n} scans`,
  tickerQuiet: 'No new scans in the last minute',
  headlineSub: (scans, assessed) => `${scans} scans · ${assessed} assessed`,
  metric: { people: 'People', index: 'Index', managed: 'Managed' },
  metricNote: 'rotates every 15 s',
  colourNames: { green: 'Green · healthy', orange: 'Orange · enthusiasts', pink: 'Pink · family carers', yellow: 'Yellow · elderly', blue: 'Blue · patients' },
  colourShort: { green: 'Green', orange: 'Orange', pink: 'Pink', yellow: 'Yellow', blue: 'Blue' },
  assessed: 'assessed',
  persons: '',
  targetNames: { people: 'Reached', interactive: 'Interactive', managed: 'Managed', guardians: 'Guardians' },
  etaLabel: 'expected',
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
