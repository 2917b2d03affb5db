// Bilingual labels for the domain's codes (simplified Chinese, as used in Guangdong).

export const CITIES = [
  ["440100", "Guangzhou", "广州"],
  ["440200", "Shaoguan", "韶关"],
  ["440300", "Shenzhen", "深圳"],
  ["440400", "Zhuhai", "珠海"],
  ["440500", "Shantou", "汕头"],
  ["440600", "Foshan", "佛山"],
  ["440700", "Jiangmen", "江门"],
  ["440800", "Zhanjiang", "湛江"],
  ["440900", "Maoming", "茂名"],
  ["441200", "Zhaoqing", "肇庆"],
  ["441300", "Huizhou", "惠州"],
  ["441400", "Meizhou", "梅州"],
  ["441500", "Shanwei", "汕尾"],
  ["441600", "Heyuan", "河源"],
  ["441700", "Yangjiang", "阳江"],
  ["441800", "Qingyuan", "清远"],
  ["441900", "Dongguan", "东莞"],
  ["442000", "Zhongshan", "中山"],
  ["445100", "Chaozhou", "潮州"],
  ["445200", "Jieyang", "揭阳"],
  ["445300", "Yunfu", "云浮"],
];

const CITY_BY_CODE = Object.fromEntries(CITIES.map(([c, en, zh]) => [c, { en, zh }]));

export function cityName(code) {
  if (!code) return "—";
  if (code === "reserve") return "Provincial reserve 省储备";
  const c = CITY_BY_CODE[code];
  return c ? `${c.en} ${c.zh}` : code;
}

export function cityShort(code) {
  const c = CITY_BY_CODE[code];
  return c ? c.zh : code;
}

export function cityEn(code) {
  const c = CITY_BY_CODE[code];
  return c ? c.en : code;
}

/** Rough geographic tile positions [column, row] for a map-like layout of the 21 cities. */
export const CITY_TILES = {
  "440200": [5, 1], "441400": [9, 1],
  "441800": [5, 2], "441600": [7, 2], "445200": [9, 2], "445100": [10, 2],
  "445300": [3, 3], "441200": [4, 3], "440600": [5, 3], "440100": [6, 3],
  "441900": [7, 3], "441300": [8, 3], "441500": [9, 3], "440500": [10, 3],
  "440700": [5, 4], "442000": [6, 4], "440300": [7, 4],
  "440900": [2, 5], "441700": [3, 5], "440400": [6, 5],
  "440800": [1, 6],
};

export const ROLES = {
  enterprise: "Enterprise 企业",
  city_bureau: "City bureau 市生态环境局",
  province: "Province 省生态环境厅",
  operator: "Exchange operator 交易所",
};

export const SOURCE_KINDS = {
  structure_upgrade: "Industrial structure upgrade 产业结构升级",
  deep_treatment: "Deep industrial treatment 工业深度治理",
  coal_boiler_phaseout: "Coal-fired boiler phase-out 燃煤锅炉淘汰",
  clean_energy_substitution: "Clean-energy substitution 清洁能源替代",
  self_initiated: "Self-initiated reduction 自主减排",
  eia_approved_unbuilt: "EIA approved, unbuilt 环评已批未建",
  other_lawful: "Other lawful source 其他合法来源",
};

export const PRIORITY = {
  key_construction: "Key construction project 重点建设项目",
  major_platform: "Major development platform 重大发展平台",
  strategic_cluster: "Strategic industrial cluster 战略性产业集群",
  county_town_village: "County, town and village 县镇村",
  ordinary: "Ordinary 一般项目",
};

export const METHODS = {
  online_monitoring: "Online monitoring 在线监控",
  on_site_inspection: "On-site inspection 现场核查",
  periodic_check: "Periodic check 定期核查",
  enforcement_inspection: "Enforcement inspection 执法检查",
};

export const TIF = {
  GTC: "GTC — good till cancelled",
  DAY: "DAY — expires at session close",
  IOC: "IOC — immediate or cancel",
  FOK: "FOK — fill or kill",
};

export const STATUS = {
  open: "Open 挂单",
  partially_filled: "Partially filled 部分成交",
  filled: "Filled 全部成交",
  cancelled: "Cancelled 已撤",
  pending: "Pending 待核定",
  approved: "Approved 已核定",
  verified: "Verified 已核定",
  rejected: "Rejected 未通过",
  halted: "Halted 暂停交易",
};

export const CANCEL_REASONS = {
  user: "by you",
  ioc_remainder: "IOC remainder",
  fok_not_fillable: "FOK not fillable",
  self_trade: "self-trade prevented",
  expired: "expired (DAY)",
  market_order_remainder: "market order remainder",
  insufficient_funds: "insufficient funds (a fill left its lock short)",
};

export const ALERT_KINDS = {
  self_trade_blocked: "Self-trade blocked 自成交拦截",
  price_band_refusal: "Price-band refusal 超出价格区间",
  price_band_rejection: "Price-band refusal 超出价格区间",
  price_band: "Price-band refusal 超出价格区间",
  large_price_move: "Large price move 价格大幅波动",
  concentration: "Concentration 持仓/成交集中",
  high_order_to_cancel: "High order-to-cancel ratio 高撤单率",
  order_to_cancel_ratio: "High order-to-cancel ratio 高撤单率",
};

export const label = (map, key) => (key in map ? map[key] : key ? String(key).replaceAll("_", " ") : "—");
