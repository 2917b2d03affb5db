import { post, get, setSession, getSession, clearSession } from "./api.js";
import { renderHeader, homeFor, flash, flashError, unflash, $, h, t } from "./ui.js";
import { roleName } from "./labels.js";

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
  p.replaceChildren(t("login.already", { user: existing.username, role: roleName(existing.role) }), " ",
    h("a", { href: homeFor(existing.role) }, t("login.continue")));
}

const msg = $("#login-msg");
for (const id of ["#username", "#password"]) $(id).addEventListener("input", () => unflash(msg));

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const username = $("#username").value.trim();
  const password = $("#password").value;
  if (!username || !password) {
    flash(msg, "error", t("login.need_both"));
    return;
  }
  const btn = $("#login-submit");
  btn.disabled = true;
  flash(msg, "info", t("login.busy"));
  try {
    clearSession();
    const s = await post("/session", { username, password }, { auth: false });
    setSession({
      token: s.token, role: s.role, account_id: s.account_id, city_code: s.city_code, username,
      expires_at: s.expires_at || null, logged_in_at: Date.now(),
    });
    try {
      const me = await get("/accounts/me");
      setSession({ ...getSession(), name: me.name });
    } catch {
      /* the name is only cosmetic */
    }
    location.href = destination(s.role);
  } catch (e) {
    flashError(msg, e);
    btn.disabled = false;
  }
});
