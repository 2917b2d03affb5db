// Operator page: accounts, deposits and withdrawals, fee balance, session close.
import { get, post } from "./api.js";
import { parseScaled } from "./decimal.js";
import { h, $, $$, cny, yuan, flash, unflash, flashError, toast, confirmDialog, renderHeader, requireRole, fillBody, labelCells, badge, formData, t } from "./ui.js";
import { CITY_CODES, ROLE_CODES, cityName, roleName, label } from "./labels.js";

const session = requireRole(["operator"]);
if (session) {
  renderHeader("operator");
  main();
}

function main() {
  let accounts = [];
  for (const r of ROLE_CODES) $("#a-role").append(h("option", { value: r }, roleName(r)));
  $("#f-role").append(h("option", { value: "" }, t("op.all_roles")), ...ROLE_CODES.map((r) => h("option", { value: r }, roleName(r))));
  $("#a-city").replaceChildren(h("option", { value: "" }, t("op.no_city")),
    ...CITY_CODES.map((c) => h("option", { value: c }, `${c} ${cityName(c)}`)));
  const syncCity = () => {
    const needs = ["enterprise", "city_bureau"].includes($("#a-role").value);
    $("#a-city").required = needs;
    if (needs && !$("#a-city").value) $("#a-city").value = "440100";
    if (!needs) $("#a-city").value = "";
  };
  $("#a-role").addEventListener("change", syncCity);
  syncCity();

  $("#account-form").addEventListener("input", () => unflash($("#a-msg")));
  $("#account-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const msg = $("#a-msg");
    const body = formData(form);
    body.password = $("#a-pass").value; // passwords are not trimmed
    for (const k of ["name", "role", "username", "password"]) {
      if (!body[k]) { flash(msg, "error", t("common.fill_all")); return; }
    }
    if (["enterprise", "city_bureau"].includes(body.role) && !body.city_code) { flash(msg, "error", t("op.need_city")); return; }
    if (!body.city_code) body.city_code = null;
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const a = await post("/accounts", body);
      flash(msg, "ok", t("op.created", { id: a.id, name: a.name, role: roleName(a.role) }));
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

  $("#cash-form").addEventListener("input", () => unflash($("#c-msg")));
  $("#cash-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    // read everything from the event before the first await: currentTarget is null after it
    const form = ev.currentTarget;
    const kind = ev.submitter?.value || "deposits";
    const buttons = $$("button", form);
    const msg = $("#c-msg");
    const account = $("#c-account").value.trim();
    const amount = $("#c-amount").value.trim();
    if (!account || !amount) { flash(msg, "error", t("op.need_account_amount")); return; }
    if (parseScaled(amount, 2) === null) { flash(msg, "error", t("op.amount_format")); return; }
    const known = accounts.find((a) => a.id === account);
    const deposit = kind === "deposits";
    const rows = [
      [t("op.account"), known ? `${known.name} (${account})` : account],
      [deposit ? t("op.deposit") : t("op.withdraw"), yuan(amount)],
    ];
    if (known?.cash) rows.push([t("op.col_cash_available"), yuan(known.cash.available)]);
    const ok = await confirmDialog({
      title: deposit ? t("op.confirm_deposit_h") : t("op.confirm_withdraw_h"), rows,
      note: deposit ? null : t("op.withdraw_note"),
      confirmText: deposit ? t("op.deposit") : t("op.withdraw"),
    });
    if (!ok) return;
    for (const b of buttons) b.disabled = true;
    try {
      const r = await post(`/accounts/${encodeURIComponent(account)}/${kind}`, { amount });
      const after = r?.cash ? t("op.cash_after", { available: yuan(r.cash.available), locked: yuan(r.cash.locked) }) : "";
      flash(msg, "ok", `${t(deposit ? "op.deposited" : "op.withdrawn", { amount: yuan(amount), account })} ${after}`);
      $("#c-amount").value = "";
      loadAccounts();
      loadFees();
    } catch (e) {
      flashError(msg, e);
    } finally {
      for (const b of buttons) b.disabled = false;
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
    const rows = accounts.filter((a) => !q || [a.id, a.name, a.role, roleName(a.role), a.city_code, cityName(a.city_code)].join(" ").toLowerCase().includes(q));
    fillBody($("#accounts tbody"), rows.map((a) => h("tr", { dataset: { accountId: a.id } },
      h("td", {}, h("code", {}, a.id)),
      h("td", {}, a.name),
      h("td", {}, badge(roleName(a.role), a.role === "enterprise" ? "info" : "neutral")),
      h("td", { class: "nowrap" }, a.city_code ? cityName(a.city_code) : "—"),
      h("td", { class: "num cash-available" }, cny(a.cash?.available)),
      h("td", { class: "num" }, cny(a.cash?.locked)),
      h("td", { class: "row-actions" }, h("div", { class: "actions" }, h("button", {
        type: "button", class: "btn btn-sm",
        onclick: () => { $("#c-account").value = a.id; $("#c-amount").focus(); },
      }, t("op.cash_btn")))))), t("op.no_accounts"));
    labelCells($("#accounts"));
  }

  async function loadFees() {
    try {
      const f = await get("/accounts/fees");
      $("#fees").replaceChildren(h("dt", {}, t("op.fees_available")), h("dd", {}, cny(f.cash?.available)),
        h("dt", {}, t("op.fees_locked")), h("dd", {}, cny(f.cash?.locked)));
    } catch (e) {
      flashError($("#s-msg"), e);
    }
  }

  async function loadInstruments() {
    try {
      const r = await get("/instruments", { auth: false });
      fillBody($("#sessions tbody"), (r.items || []).map((i) => h("tr", {},
        h("td", {}, h("strong", {}, i.symbol)),
        h("td", {}, badge(label("mstatus", i.status), i.status === "open" ? "ok" : "danger")),
        h("td", { class: "num" }, cny(i.reference_price)),
        h("td", { class: "row-actions" }, h("div", { class: "actions" }, h("button", {
          type: "button", class: "btn btn-sm",
          onclick: async (e) => {
            const btn = e.currentTarget;
            const ok = await confirmDialog({
              title: t("op.confirm_close_h", { symbol: i.symbol }), note: t("op.sessions_note"), confirmText: t("op.close_session"),
            });
            if (!ok) return;
            btn.disabled = true;
            try {
              await post(`/market/${encodeURIComponent(i.symbol)}/close-session`, {});
              toast(t("op.closed", { symbol: i.symbol }), "ok");
              loadInstruments();
            } catch (err) {
              flashError($("#s-msg"), err);
              btn.disabled = false;
            }
          },
        }, t("op.close_session")))))), t("op.no_instruments"));
      labelCells($("#sessions"));
    } catch (e) {
      flashError($("#s-msg"), e);
    }
  }

  loadAccounts();
  loadFees();
  loadInstruments();
}
