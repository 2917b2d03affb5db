// The message catalogues and the language switch. Simplified Chinese is the default; a
// choice of English is kept per browser (localStorage) and applied on the next render.
import zh from "/static/i18n/zh-CN.js";
import en from "/static/i18n/en.js";

const CATALOGUES = { "zh-CN": zh, en };
export const LANGS = Object.keys(CATALOGUES);
const LANG_KEY = "emx.lang";

function stored() {
  try {
    return localStorage.getItem(LANG_KEY);
  } catch {
    return null;
  }
}

export const lang = LANGS.includes(stored()) ? stored() : "zh-CN";
const cat = CATALOGUES[lang];
document.documentElement.lang = lang;

/** The message `key` in the user's language, with {name} placeholders filled from `params`. */
export function t(key, params) {
  let s = cat[key] ?? zh[key];
  if (s === undefined) {
    console.warn(`missing message ${key}`);
    return key;
  }
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
  return s;
}

/** Whether the catalogue has `key` (for optional messages such as error codes). */
export const has = (key) => key in cat;

export function setLang(next) {
  if (!LANGS.includes(next) || next === lang) return;
  localStorage.setItem(LANG_KEY, next);
  // every page renders from the catalogue once: a reload shows it all in the new language
  location.reload();
}

/** Fill the markup's text from the catalogue: data-i18n (text), data-i18n-placeholder,
 *  data-i18n-title, data-i18n-aria-label. */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
}

const TZ = "Asia/Shanghai";
const LOCALE = lang === "zh-CN" ? "zh-CN" : "en-GB";
export const dateTimeFormat = new Intl.DateTimeFormat(LOCALE, {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
export const timeFormat = new Intl.DateTimeFormat(LOCALE, {
  timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
/** Integers (counts, chart axes) grouped per locale. */
export const intFormat = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
/** Prices on chart axes: two decimals, grouped per locale (drawing only, never money arithmetic). */
export const priceFormat = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
/** Tonnes on chart axes (drawing only). */
export const qtyAxisFormat = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 3 });
