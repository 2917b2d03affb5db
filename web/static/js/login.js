import { post, get, setSession, getSession, clearSession } from "./api.js";
import { renderHeader, homeFor, flash, flashError, $, h } from "./ui.js";
import { ROLES } from "./labels.js";

const PAGE_ROLES = {
  "/trade.html": ["enterprise"],
  "/regulator.html": ["province", "city_bureau"],
  "/operator.html": ["operator"],
  "/market.html": ["enterprise", "province", "city_bureau", "operator"],
};

function destination(role) {
  const next = new URLSearchParams(location.search).get("next");
  if (next && PAGE_ROLES[next] && PAGE_ROLES[next].includes(role)) return next;
  return homeFor(role);
}

renderHeader("login");

const existing = getSession();
if (existing) {
  const p = $("#logged-in");
  p.hidden = false;
  p.replaceChildren("You are logged in as ", h("strong", {}, existing.username), ` (${ROLES[existing.role] || existing.role}). `,
    h("a", { href: homeFor(existing.role) }, "Continue →"));
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const msg = $("#login-msg");
  const username = $("#username").value.trim();
  const password = $("#password").value;
  if (!username || !password) {
    flash(msg, "error", "Enter your username and password. 请输入用户名和密码");
    return;
  }
  const btn = $("#login-submit");
  btn.disabled = true;
  flash(msg, "info", "Logging in…");
  try {
    clearSession();
    const s = await post("/session", { username, password }, { auth: false });
    setSession({ token: s.token, role: s.role, account_id: s.account_id, city_code: s.city_code, username });
    try {
      const me = await get("/accounts/me");
      setSession({ ...getSession(), name: me.name });
    } catch {
      /* the name is only cosmetic */
    }
    location.href = destination(s.role);
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      flashError(msg, Object.assign(e, { message: e.message || "Wrong username or password." }));
    } else flashError(msg, e);
    btn.disabled = false;
  }
});
