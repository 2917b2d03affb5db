// Small DOM helpers, formatting, messages, confirmations and the shared page header.
import { getSession, clearSession, del, sessionExpiresAt } from "./api.js";
import { groupDigits } from "./decimal.js";
import { roleName, cityName } from "./labels.js";
import { t, has, lang, setLang, applyI18n, dateTimeFormat, timeFormat } from "./i18n.js";

export { t, lang };

/** Create an element: h("td", {class: "num"}, "12.000"). Children may be strings or nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/** Quantity in tonnes, exactly as sent, grouped: "1,234.500". */
export const qty = (s) => (s === null || s === undefined ? "—" : groupDigits(s));
/** Price or cash in CNY, exactly as sent, grouped: "3,456.70". */
export const cny = (s) => (s === null || s === undefined ? "—" : groupDigits(s));
/** "1,234.500 吨" / "1,234.500 t". */
export const tonnes = (s) => (s === null || s === undefined ? "—" : t("fmt.tonnes", { q: groupDigits(s) }));
/** "3,456.70 元" / "CNY 3,456.70". */
export const yuan = (s) => (s === null || s === undefined ? "—" : t("fmt.yuan", { a: groupDigits(s) }));
/** "3,456.70 元/吨" / "CNY 3,456.70/t". */
export const perTonne = (s) => (s === null || s === undefined ? "—" : t("fmt.per_tonne", { p: groupDigits(s) }));

/** Parse an API time (ISO string or epoch seconds/ms) into epoch milliseconds. */
export function toMillis(x) {
  if (x === null || x === undefined || x === "") return NaN;
  if (typeof x === "number") return x > 1e12 ? x : x * 1000;
  if (/^\d+(\.\d+)?$/.test(x)) return toMillis(Number(x));
  return Date.parse(x);
}

export function fmtDateTime(x) {
  const ms = toMillis(x);
  return Number.isFinite(ms) ? dateTimeFormat.format(new Date(ms)) : "—";
}

export function fmtTime(x) {
  const ms = toMillis(x);
  return Number.isFinite(ms) ? timeFormat.format(new Date(ms)) : "—";
}

/** The current month in Asia/Shanghai as YYYY-MM. */
export function currentMonth() {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" }).formatToParts(new Date());
  const y = parts.find((p) => p.type === "year").value;
  const m = parts.find((p) => p.type === "month").value;
  return `${y}-${m}`;
}

/** Show a message in a live region. kind: "error" | "ok" | "info". Empty text hides it. */
export function flash(el, kind, text) {
  el.replaceChildren();
  if (!text) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  el.className = `flash flash-${kind}`;
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  el.append(text);
}

/** Hide a flash element (once the input it complained about is corrected). */
export const unflash = (el) => flash(el, "info", "");

/** The sentence a user reads for an error: its code's message in the user's language. */
export function errorText(err) {
  if (!err) return t("err.unknown");
  if (err.code && has(`err.${err.code}`)) return t(`err.${err.code}`);
  if (err.status === 422 || err.status === 400) return t("err.invalid_input");
  if (err.status === 403) return t("err.forbidden");
  if (err.status === 404) return t("err.not_found");
  if (err.status === 409) return t("err.conflict");
  if (err.status === 429) return t("err.rate_limited");
  if (err.status >= 500) return t("err.unavailable");
  return t("err.unknown");
}

/** Show an error as a sentence; the code and the server's text only under "details". */
export function flashError(el, err, extra) {
  el.replaceChildren();
  el.hidden = false;
  el.className = "flash flash-error";
  el.setAttribute("role", "alert");
  el.append(h("span", { class: "err-text" }, errorText(err)));
  if (extra) el.append(" ", extra);
  if (err && (err.code || err.message)) {
    el.append(h("details", { class: "err-details" },
      h("summary", {}, t("common.details")),
      h("code", {}, [err.status || "", err.code || ""].join(" ").trim()),
      err.message && err.message !== err.code ? h("div", { class: "small" }, err.message) : null));
  }
}

/** An error as a table row's only cell. */
export function errorRow(err, colspan) {
  return h("tr", {}, h("td", { colspan, class: "flash-error" }, errorText(err)));
}

export function toast(text, kind = "info") {
  let box = $("#toasts");
  if (!box) {
    box = h("div", { id: "toasts", class: "toasts", "aria-live": "polite" });
    document.body.append(box);
  }
  const el = h("div", { class: `toast toast-${kind}` }, text);
  box.append(el);
  setTimeout(() => el.classList.add("fade"), 4000);
  setTimeout(() => el.remove(), 4600);
}

/** A browser notification when the user allowed them (fills, alerts); the page shows a toast anyway. */
export function notify(title, body) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    new Notification(title, { body, tag: `${title}|${body}`, icon: "/static/favicon.svg" });
  } catch {
    /* some browsers allow notifications only from a service worker: the toast remains */
  }
}

/** An in-page confirmation: a title, what will happen as [label, value] rows, and a note.
 *  Resolves true when the user confirms. */
export function confirmDialog({ title, rows = [], note = null, confirmText, danger = false }) {
  return new Promise((resolve) => {
    const dlg = h("dialog", { class: "confirm", id: "confirm-dialog", "aria-labelledby": "confirm-h" },
      h("h2", { id: "confirm-h" }, title),
      rows.length ? h("dl", { class: "kv" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])) : null,
      note ? h("p", { class: "small muted" }, note) : null,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "btn", id: "confirm-cancel" }, t("common.back")),
        h("button", { type: "button", class: `btn ${danger ? "btn-danger-solid" : "btn-primary"}`, id: "confirm-ok" }, confirmText || t("common.confirm"))));
    let answered = false;
    const done = (yes) => {
      if (answered) return;
      answered = true;
      dlg.close();
      dlg.remove();
      resolve(yes);
    };
    dlg.querySelector("#confirm-ok").addEventListener("click", () => done(true));
    dlg.querySelector("#confirm-cancel").addEventListener("click", () => done(false));
    dlg.addEventListener("cancel", () => done(false));
    document.body.append(dlg);
    dlg.showModal();
    dlg.querySelector("#confirm-ok").focus();
  });
}

const EXPIRY_WARNING_MS = 10 * 60 * 1000;

// the accounts the service creates on first start: their names in the user's language
const BOOTSTRAP_NAMES = { operator: "acct.operator", province: "acct.province" };

function displayName(session) {
  const key = BOOTSTRAP_NAMES[session.username];
  if (key && session.role === session.username) return t(key);
  return session.name || session.username || "";
}

/** Render the top bar. `page` is the current page key. Returns the session (or null). */
export function renderHeader(page) {
  applyI18n();
  const session = getSession();
  const role = session ? session.role : null;
  const links = [["market", "/market.html", t("nav.market")]];
  if (role === "enterprise") links.push(["trade", "/trade.html", t("nav.trade")]);
  if (role === "enterprise" || role === "province") links.push(["auctions", "/auctions.html", t("nav.auctions")]);
  if (role === "province" || role === "city_bureau") links.push(["regulator", "/regulator.html", t("nav.regulator")]);
  if (role === "operator") links.push(["operator", "/operator.html", t("nav.operator")]);

  const nav = h("nav", { class: "topnav", "aria-label": t("nav.label") },
    links.map(([key, href, text]) =>
      h("a", { href, class: key === page ? "active" : null, "aria-current": key === page ? "page" : null }, text)));

  const langBtn = h("button", {
    type: "button", class: "btn btn-ghost btn-sm", id: "lang-toggle", lang: lang === "zh-CN" ? "en" : "zh-CN",
    onclick: () => setLang(lang === "zh-CN" ? "en" : "zh-CN"),
  }, t("lang.other"));

  let right;
  if (session) {
    const who = [roleName(role)];
    if (session.city_code) who.push(cityName(session.city_code));
    const notifyBtn = "Notification" in window && Notification.permission === "default"
      ? h("button", {
        type: "button", class: "btn btn-ghost btn-sm", id: "notify-enable",
        onclick: async (ev) => {
          const btn = ev.currentTarget;
          await Notification.requestPermission();
          btn.remove();
        },
      }, t("nav.enable_notifications"))
      : null;
    right = h("div", { class: "who" },
      h("span", { class: "who-text", title: [displayName(session), session.account_id ? t("nav.account_title", { id: session.account_id }) : null].filter(Boolean).join(" · ") },
        h("strong", { id: "who-name" }, displayName(session)), " · ", who.join(" · ")),
      notifyBtn, langBtn,
      h("button", { type: "button", class: "btn btn-ghost btn-sm", id: "logout", onclick: logout }, t("nav.logout")));
  } else {
    right = h("div", { class: "who" }, langBtn, page === "login" ? null : h("a", { class: "btn btn-primary btn-sm", href: "/" }, t("nav.login")));
  }

  const header = h("header", { class: "topbar" },
    h("a", { class: "brand", href: "/" },
      h("span", { class: "brand-mark", "aria-hidden": "true" }, t("brand.mark")),
      h("span", { class: "brand-text" },
        h("span", { class: "brand-zh" }, t("brand.name")),
        h("span", { class: "brand-en" }, t("brand.sub")))),
    nav, right);
  const slot = $("#app-header");
  if (slot) slot.replaceWith(header);
  else document.body.prepend(header);

  document.addEventListener("emx:unauthorized", () => {
    clearSession();
    toast(t("session.expired"), "error");
    setTimeout(() => (location.href = "/?next=" + encodeURIComponent(location.pathname)), 1200);
  });
  if (session) watchSession(session);
  return session;
}

function watchSession(session) {
  const expiresAt = sessionExpiresAt(session);
  const now = Date.now();
  const warnIn = expiresAt - EXPIRY_WARNING_MS - now;
  const showWarning = () => {
    if ($("#session-warning")) return;
    const until = fmtTime(expiresAt);
    document.querySelector(".topbar").after(h("div", { class: "session-warning", id: "session-warning", role: "alert" },
      t("session.expiring", { time: until }), " ",
      h("button", { type: "button", class: "btn btn-sm", onclick: logout }, t("session.relogin"))));
  };
  if (warnIn <= 0) showWarning();
  else setTimeout(showWarning, Math.min(warnIn, 2 ** 31 - 1));
  setTimeout(() => document.dispatchEvent(new CustomEvent("emx:unauthorized")), Math.min(Math.max(expiresAt - now, 0), 2 ** 31 - 1));
  // signed out in another tab of this browser: this tab follows
  window.addEventListener("storage", (ev) => {
    if (ev.key === "emx.session" && !ev.newValue) location.href = "/";
  });
}

/** Sign out: the API forgets the token, this browser forgets the session. */
export async function logout() {
  try {
    await del("/session", { quiet: true });
  } catch {
    /* an expired or unknown token is signed out already */
  }
  clearSession();
  location.href = "/";
}

/** Require a login with one of `roles`; otherwise send the user to the login page. */
export function requireRole(roles) {
  const s = getSession();
  if (!s || !roles.includes(s.role)) {
    location.replace("/?next=" + encodeURIComponent(location.pathname));
    return null;
  }
  return s;
}

export function homeFor(role) {
  return {
    enterprise: "/trade.html",
    city_bureau: "/regulator.html",
    province: "/regulator.html",
    operator: "/operator.html",
  }[role] || "/market.html";
}

/** Fill a <tbody> from rows; show `emptyText` in one cell when there are none. */
export function fillBody(tbody, rows, emptyText, colspan) {
  tbody.replaceChildren();
  if (!rows.length) {
    const cols = colspan || tbody.closest("table")?.querySelectorAll("thead th").length || 1;
    tbody.append(h("tr", { class: "empty" }, h("td", { colspan: cols }, emptyText)));
    return;
  }
  tbody.append(...rows);
}

/** Table cells that carry their column's header, so narrow screens can show rows as cards. */
export function labelCells(table) {
  const heads = $$("thead th", table).map((th) => th.textContent.trim());
  for (const tr of $$("tbody tr", table)) {
    if (tr.classList.contains("empty")) continue;
    $$(":scope > td", tr).forEach((td, i) => { if (heads[i] && !td.dataset.label) td.dataset.label = heads[i]; });
  }
}

export function badge(text, kind) {
  return h("span", { class: `badge badge-${kind || "neutral"}` }, text);
}

/** A status dot for a feed: connecting / live / reconnecting / closed. */
export function feedStatus(el) {
  return (state) => {
    el.dataset.state = state;
    el.textContent = t(`feed.${state}`);
  };
}

/** Serialise a form's named fields to an object of trimmed strings (empty → omitted). */
export function formData(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) {
    const s = typeof v === "string" ? v.trim() : v;
    if (s !== "") out[k] = s;
  }
  return out;
}
