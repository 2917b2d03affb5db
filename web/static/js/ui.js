// Small DOM helpers, formatting and the shared page header.
import { getSession, clearSession, post } from "./api.js";
import { groupDigits } from "./decimal.js";
import { ROLES, cityName } from "./labels.js";

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

const TZ = "Asia/Shanghai";
const dtFull = new Intl.DateTimeFormat("en-CA", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
const dtTime = new Intl.DateTimeFormat("en-GB", {
  timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});

/** Parse an API time (ISO string or epoch seconds/ms) into epoch milliseconds. */
export function toMillis(t) {
  if (t === null || t === undefined || t === "") return NaN;
  if (typeof t === "number") return t > 1e12 ? t : t * 1000;
  if (/^\d+(\.\d+)?$/.test(t)) return toMillis(Number(t));
  return Date.parse(t);
}

export function fmtDateTime(t) {
  const ms = toMillis(t);
  return Number.isFinite(ms) ? dtFull.format(new Date(ms)).replace(",", "") : "—";
}

export function fmtTime(t) {
  const ms = toMillis(t);
  return Number.isFinite(ms) ? dtTime.format(new Date(ms)) : "—";
}

/** The current month in Asia/Shanghai as YYYY-MM. */
export function currentMonth() {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit" }).formatToParts(new Date());
  const y = parts.find((p) => p.type === "year").value;
  const m = parts.find((p) => p.type === "month").value;
  return `${y}-${m}`;
}

/** Show a message in a live region. kind: "error" | "ok" | "info". */
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

/** Show an ApiError (or any error) in a flash element with its code in monospace. */
export function flashError(el, err) {
  el.replaceChildren();
  el.hidden = false;
  el.className = "flash flash-error";
  el.setAttribute("role", "alert");
  if (err && err.code) {
    el.append(h("strong", {}, err.status ? `${err.status} ` : ""), h("code", {}, err.code));
    if (err.message && err.message !== err.code) el.append(" — ", err.message);
  } else {
    el.append(String(err && err.message ? err.message : err));
  }
}

export function toast(text, kind = "info") {
  let box = $("#toasts");
  if (!box) {
    box = h("div", { id: "toasts", class: "toasts", "aria-live": "polite" });
    document.body.append(box);
  }
  const t = h("div", { class: `toast toast-${kind}` }, text);
  box.append(t);
  setTimeout(() => t.classList.add("fade"), 4000);
  setTimeout(() => t.remove(), 4600);
}

/** Render the top bar. `page` is the current page key. Returns the session (or null). */
export function renderHeader(page) {
  const session = getSession();
  const role = session ? session.role : null;
  const links = [["market", "/market.html", "Market 行情"]];
  if (role === "enterprise") links.push(["trade", "/trade.html", "Trading 交易"]);
  if (role === "province" || role === "city_bureau") links.push(["regulator", "/regulator.html", "Regulator 监管"]);
  if (role === "operator") links.push(["operator", "/operator.html", "Operator 运营"]);

  const nav = h("nav", { class: "topnav", "aria-label": "Main" },
    links.map(([key, href, text]) =>
      h("a", { href, class: key === page ? "active" : null, "aria-current": key === page ? "page" : null }, text)));

  let right;
  if (session) {
    const who = [session.name || session.username || "", ROLES[role] || role];
    if (session.city_code) who.push(cityName(session.city_code));
    right = h("div", { class: "who" },
      h("span", { class: "who-text", title: session.account_id ? `Account ${session.account_id}` : null },
        h("strong", {}, session.username || ""), " · ", who.slice(1).join(" · ")),
      h("button", { type: "button", class: "btn btn-ghost", id: "logout", onclick: logout }, "Log out 退出"));
  } else {
    right = h("div", { class: "who" }, h("a", { class: "btn btn-primary", href: "/" }, "Log in 登录"));
  }

  const header = h("header", { class: "topbar" },
    h("a", { class: "brand", href: "/" },
      h("span", { class: "brand-mark", "aria-hidden": "true" }, "粤"),
      h("span", { class: "brand-text" },
        h("span", { class: "brand-zh" }, "广东省排污权交易"),
        h("span", { class: "brand-en" }, "Guangdong Emissions Allowance Exchange"))),
    nav, right);
  const slot = $("#app-header");
  if (slot) slot.replaceWith(header);
  else document.body.prepend(header);

  document.addEventListener("emx:unauthorized", () => {
    clearSession();
    toast("Your session has expired. Please log in again. 登录已过期", "error");
    setTimeout(() => (location.href = "/?next=" + encodeURIComponent(location.pathname)), 1200);
  });
  return session;
}

export async function logout() {
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

export function badge(text, kind) {
  return h("span", { class: `badge badge-${kind || "neutral"}` }, text);
}

/** A status dot for a feed: connecting / live / reconnecting / closed. */
export function feedStatus(el) {
  return (state) => {
    el.dataset.state = state;
    el.textContent = { connecting: "Connecting…", live: "Live 实时", reconnecting: "Reconnecting…", closed: "Offline" }[state] || state;
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

/** Run an async form action with the submit button disabled and errors shown. */
export async function busy(button, fn) {
  const old = button ? button.disabled : false;
  if (button) button.disabled = true;
  try {
    return await fn();
  } finally {
    if (button) button.disabled = old;
  }
}

export { post };
