// Beijing's 16 districts. The state keys districts by code; the map's
// features carry names; this table joins the two (and gives English names).
export const DISTRICTS = [
  ['110101', '东城区', 'Dongcheng'],
  ['110102', '西城区', 'Xicheng'],
  ['110105', '朝阳区', 'Chaoyang'],
  ['110106', '丰台区', 'Fengtai'],
  ['110107', '石景山区', 'Shijingshan'],
  ['110108', '海淀区', 'Haidian'],
  ['110109', '门头沟区', 'Mentougou'],
  ['110111', '房山区', 'Fangshan'],
  ['110112', '通州区', 'Tongzhou'],
  ['110113', '顺义区', 'Shunyi'],
  ['110114', '昌平区', 'Changping'],
  ['110115', '大兴区', 'Daxing'],
  ['110116', '怀柔区', 'Huairou'],
  ['110117', '平谷区', 'Pinggu'],
  ['110118', '密云区', 'Miyun'],
  ['110119', '延庆区', 'Yanqing'],
].map(([code, zh, en]) => ({ code, zh, en }));

export const BY_CODE = new Map(DISTRICTS.map((d) => [d.code, d]));
export const BY_NAME = new Map(DISTRICTS.map((d) => [d.zh, d]));

// Map data older than 2015 calls two of them counties.
const RENAMED = new Map([['密云县', '密云区'], ['延庆县', '延庆区']]);

/** The current district name for a map feature's name. */
export function currentName(name) {
  return RENAMED.get(name) ?? name;
}
