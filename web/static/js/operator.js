// Operator page: accounts, deposits and withdrawals, fee balance, session close.
import { get, post } from "./api.js";
import { parseScaled } from "./decimal.js";
import { h, $, cny, flash, flashError, toast, renderHeader, requireRole, fillBody, badge, formData } from "./ui.js";
import { CITIES, cityName, ROLES } from "./labels.js";

const session = requireRole(["operator"]);
if (session) {
  renderHeader("operator");
  main();
}

function main() {
  let accounts = [];
  $("#a-city").replaceChildren(h("option", { value: "" }, "— none (province, operator) —"),
    ...CITIES.map(([c]) => h("option", { value: c }, `${c} ${cityName(c)}`)));
  const syncCity = () => {
    const needs = ["enterprise", "city_bureau"].includes($("#a-role").value);
    $("#a-city").required = needs;
    if (needs && !$("#a-city").value) $("#a-city").value = "440100";
    if (!needs) $("#a-city").value = "";
  };
  $("#a-role").addEventListener("change", syncCity);
  syncCity();

  $("#account-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const msg = $("#a-msg");
    const body = formData(form);
    body.password = $("#a-pass").value; // passwords are not trimmed
    for (const k of ["name", "role", "username", "password"]) {
      if (!body[k]) { flash(msg, "error", `Please fill in ${k}.`); return; }
    }
    if (["enterprise", "city_bureau"].includes(body.role) && !body.city_code) { flash(msg, "error", "Choose the city."); return; }
    if (!body.city_code) body.city_code = null;
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const a = await post("/accounts", body);
      flash(msg, "ok", `Account ${a.id} created for ${a.name} (${ROLES[a.role] || a.role}). 开户成功`);
      form.reset();
      syncCity();
      $("#c-account").value = a.id;
      loadAccounts();
    } catch (e) {
      flashError(msg, e);
    } finally {
      btn.disabled = false;
    }
  });

  $("#cash-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const kind = ev.submitter?.value || "deposits";
    const msg = $("#c-msg");
    const account = $("#c-account").value.trim();
    const amount = $("#c-amount").value.trim();
    if (!account || !amount) { flash(msg, "error", "Enter the account and the amount."); return; }
    if (parseScaled(amount, 2) === null) { flash(msg, "error", "The amount must be a number of yuan with up to 2 decimals, e.g. 100000.00"); return; }
    const verb = kind === "deposits" ? "Deposit" : "Withdraw";
    if (!confirm(`${verb} ${amount} CNY ${kind === "deposits" ? "into" : "from"} account ${account}?`)) return;
    for (const b of ev.currentTarget.querySelectorAll("button")) b.disabled = true;
    try {
      const r = await post(`/accounts/${encodeURIComponent(account)}/${kind}`, { amount });
      flash(msg, "ok", `${verb} of ${amount} CNY recorded. ${r?.cash ? `Account ${account} now has ${cny(r.cash.available)} available, ${cny(r.cash.locked)} locked.` : ""}`);
      $("#c-amount").value = "";
      loadAccounts();
      loadFees();
    } catch (e) {
      flashError(msg, e);
    } finally {
      for (const b of ev.currentTarget.querySelectorAll("button")) b.disabled = false;
    }
  });

  $("#f-role").addEventListener("change", loadAccounts);
  $("#f-text").addEventListener("input", renderAccounts);

  async function loadAccounts() {
    const role = $("#f-role").value;
    try {
      const r = await get(`/accounts${role ? `?role=${encodeURIComponent(role)}` : ""}`);
      accounts = (r.items || []).slice().sort((a, b) => String(a.id).localeCompare(String(b.id), undefined, { numeric: true }));
      $("#l-msg").hidden = true;
    } catch (e) {
      accounts = [];
      flashError($("#l-msg"), e);
    }
    $("#account-ids").replaceChildren(...accounts.map((a) => h("option", { value: a.id }, `${a.name}${a.city_code ? " · " + cityName(a.city_code) : ""}`)));
    renderAccounts();
  }

  function renderAccounts() {
    const q = $("#f-text").value.trim().toLowerCase();
    const rows = accounts.filter((a) => !q || [a.id, a.name, a.role, a.city_code, cityName(a.city_code)].join(" ").toLowerCase().includes(q));
    fillBody($("#accounts tbody"), rows.map((a) => h("tr", {},
      h("td", {}, h("code", {}, a.id)),
      h("td", {}, a.name),
      h("td", {}, badge(ROLES[a.role] || a.role, a.role === "enterprise" ? "info" : "neutral")),
      h("td", { style: "white-space:nowrap" }, a.city_code ? cityName(a.city_code) : "—"),
      h("td", { class: "num" }, cny(a.cash?.available)),
      h("td", { class: "num" }, cny(a.cash?.locked)),
      h("td", {}, h("div", { class: "actions" }, h("button", {
        type: "button", class: "btn btn-sm",
        onclick: () => { $("#c-account").value = a.id; $("#c-amount").focus(); },
      }, "Cash 出入金"))))), "No accounts match.");
  }

  async function loadFees() {
    try {
      const f = await get("/accounts/fees");
      $("#fees").replaceChildren(h("dt", {}, "Available 可用 (CNY)"), h("dd", {}, cny(f.cash?.available)),
        h("dt", {}, "Locked 冻结 (CNY)"), h("dd", {}, cny(f.cash?.locked)));
    } catch (e) {
      $("#fees").replaceChildren(h("dd", { class: "flash flash-error", style: "grid-column:1/-1" }, e.describe ? e.describe() : String(e)));
    }
  }

  async function loadInstruments() {
    try {
      const r = await get("/instruments", { auth: false });
      fillBody($("#sessions tbody"), (r.items || []).map((i) => h("tr", {},
        h("td", {}, h("strong", {}, i.symbol)),
        h("td", {}, i.status === "halted" ? badge("Halted 暂停", "danger") : badge("Open 交易中", "ok")),
        h("td", { class: "num" }, cny(i.reference_price)),
        h("td", {}, h("div", { class: "actions" }, h("button", {
          type: "button", class: "btn btn-sm",
          onclick: async (e) => {
            if (!confirm(`Close the session for ${i.symbol}? DAY orders expire.`)) return;
            e.currentTarget.disabled = true;
            try {
              await post(`/market/${encodeURIComponent(i.symbol)}/close-session`, {});
              toast(`${i.symbol}: session closed. 已收市`, "ok");
              loadInstruments();
            } catch (err) {
              flashError($("#s-msg"), err);
            }
          },
        }, "Close session 收市"))))), "No instruments.");
    } catch (e) {
      flashError($("#s-msg"), e);
    }
  }

  loadAccounts();
  loadFees();
  loadInstruments();
}
