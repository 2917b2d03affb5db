// Trading page for enterprises: market view, order ticket, balances, orders, fills,
// reduction claims and projects, live from /ws/private.
import { get, post, patch, del, Feed, getSession, newClientOrderId } from "./api.js";
import { parseScaled, formatScaled, lockFen } from "./decimal.js";
import { h, $, $$, qty, cny, fmtDateTime, flash, flashError, toast, renderHeader, requireRole, fillBody, badge, feedStatus, formData } from "./ui.js";
import { MarketView } from "./market.js";
import { CITIES, cityName, SOURCE_KINDS, PRIORITY, METHODS, STATUS, CANCEL_REASONS, label } from "./labels.js";

const session = requireRole(["enterprise"]);
if (session) {
  renderHeader("trade");
  main();
}

function main() {
  const state = {
    me: null,
    instrument: null,
    orders: new Map(), // id -> order
    market: null,
    pendingCoid: null, // kept across a network failure so a retry is idempotent
  };

  // ---------- market view ----------
  state.market = new MarketView($("#market"), {
    onPricePick: (price) => {
      $("#type-limit").checked = true;
      $("#price").value = price;
      updateTicket();
      $("#quantity").focus();
    },
    onInstrument: (inst) => {
      state.instrument = inst;
      $("#ticket-symbol").textContent = inst.symbol;
      updateTicket();
    },
  });
  state.market.start().then(fillInstrumentSelects);

  // ---------- order ticket ----------
  const ticket = $("#ticket");
  ticket.addEventListener("input", () => {
    state.pendingCoid = null; // a changed order is a new order
    updateTicket();
  });
  ticket.addEventListener("change", updateTicket);
  ticket.addEventListener("submit", submitOrder);

  function side() { return ticket.elements.side.value; }
  function type() { return ticket.elements.type.value; }

  function tickFen(inst) { return parseScaled(inst?.tick_size || "0.01", 2) || 1n; }
  function lotKg(inst) { return parseScaled(inst?.lot_size || "0.001", 3) || 1n; }

  /** Highest price inside the band (in fen), rounded down to the tick. */
  function bandTopFen(inst) {
    const ref = parseScaled(inst.reference_price, 2);
    const pct = parseScaled(inst.price_band_pct, 2); // hundredths of a percent
    if (ref === null || pct === null) return null;
    const raw = (ref * (10000n + pct)) / 10000n;
    const t = tickFen(inst);
    return (raw / t) * t;
  }
  function bandBottomFen(inst) {
    const ref = parseScaled(inst.reference_price, 2);
    const pct = parseScaled(inst.price_band_pct, 2);
    if (ref === null || pct === null) return null;
    const raw = ref * (10000n - pct);
    const t = tickFen(inst);
    const v = (raw + 9999n) / 10000n;
    return ((v + t - 1n) / t) * t;
  }

  function updateTicket() {
    const inst = state.instrument;
    const isMarket = type() === "market";
    const isBuy = side() === "buy";
    $("#price").disabled = isMarket;
    $("#price-field").hidden = isMarket;
    const tif = $("#tif");
    if (isMarket) {
      tif.value = "IOC";
      tif.disabled = true;
    } else tif.disabled = false;
    const btn = $("#submit-order");
    btn.className = `btn btn-block ${isBuy ? "btn-buy" : "btn-sell"}`;
    btn.textContent = `${isBuy ? "Buy 买入" : "Sell 卖出"} ${inst ? inst.symbol : ""}${isMarket ? " at market 市价" : ""}`;
    if (inst && inst.status === "halted") {
      btn.disabled = true;
      btn.textContent = "Market halted 暂停交易";
    } else btn.disabled = false;

    const preview = $("#preview");
    const rows = [];
    let problem = null;
    const qtyText = $("#quantity").value.trim();
    const priceText = $("#price").value.trim();
    const qtyKg = qtyText ? parseScaled(qtyText, 3) : null;
    const priceFen = !isMarket && priceText ? parseScaled(priceText, 2) : null;

    // hints
    let qHint = inst ? `Lot ${inst.lot_size} t` : "";
    if (qtyText && qtyKg === null) qHint = "Up to 3 decimals, e.g. 12.500";
    else if (qtyKg !== null && inst && qtyKg % lotKg(inst) !== 0n) qHint = `Must be a multiple of the lot, ${inst.lot_size} t`;
    else if (qtyKg === 0n) qHint = "Must be more than zero";
    $("#qty-hint").textContent = qHint;
    $("#quantity").setAttribute("aria-invalid", String(!!qtyText && (qtyKg === null || qtyKg === 0n || (inst && qtyKg % lotKg(inst) !== 0n))));

    let pHint = "";
    if (inst) {
      const lo = bandBottomFen(inst), hi = bandTopFen(inst);
      if (lo !== null && hi !== null) pHint = `Band ${formatScaled(lo, 2)} – ${formatScaled(hi, 2)} · tick ${inst.tick_size}`;
    }
    let priceBad = false;
    if (!isMarket && priceText) {
      if (priceFen === null) { pHint = "Up to 2 decimals, e.g. 3200.50"; priceBad = true; }
      else if (inst && priceFen % tickFen(inst) !== 0n) { pHint = `Must be on the tick, ${inst.tick_size}`; priceBad = true; }
      else if (inst) {
        const lo = bandBottomFen(inst), hi = bandTopFen(inst);
        if (lo !== null && (priceFen < lo || priceFen > hi)) problem = "Outside the price band: the exchange will refuse it (price_outside_band).";
      }
    }
    $("#price-hint").textContent = pHint;
    $("#price").setAttribute("aria-invalid", String(priceBad));

    if (!inst || qtyKg === null || qtyKg === 0n) {
      preview.replaceChildren(h("span", { class: "muted" }, "Enter a quantity to see what the order will lock. 输入数量后显示冻结金额"));
      return;
    }
    const me = state.me;
    if (isBuy) {
      let px = priceFen;
      let note = null;
      if (isMarket) {
        px = bandTopFen(inst);
        note = "A market buy locks at the top of the price band; fills at better prices release the difference.";
      }
      if (px === null) {
        preview.replaceChildren(h("span", { class: "muted" }, "Enter a price to see the cash it will lock."));
        return;
      }
      const cash = lockFen(px, qtyKg);
      rows.push(["Cash to lock 冻结资金", `${groupFen(cash)} CNY`]);
      rows.push(["Computed as", `${formatScaled(px, 2)} × ${formatScaled(qtyKg, 3)} t`]);
      if (me) {
        const avail = parseScaled(me.cash?.available, 2);
        rows.push(["Cash available 可用资金", `${cny(me.cash?.available)} CNY`]);
        if (avail !== null && cash > avail) problem = problem || "More than your available cash: the exchange will refuse it (insufficient_cash).";
      }
      preview.replaceChildren(h("dl", {}, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
        h("dd", { class: "warn muted" }, "Plus the exchange fee, if one is charged. " + (note || "")),
        problem ? h("dd", { class: "warn", role: "note" }, "⚠ " + problem) : null));
    } else {
      rows.push(["Allowances to lock 冻结指标", `${formatScaled(qtyKg, 3)} t`]);
      const al = me?.allowances?.[inst.symbol];
      if (al) {
        rows.push(["Available 可用指标", `${qty(al.available)} t`]);
        const avail = parseScaled(al.available, 3);
        if (avail !== null && qtyKg > avail) problem = problem || "More than your available allowances: the exchange will refuse it (insufficient_allowances).";
      } else if (me) {
        problem = problem || `You hold no ${inst.symbol} allowances (insufficient_allowances).`;
      }
      if (!isMarket && priceFen !== null) rows.push(["Proceeds if filled 预计成交金额", `${groupFen((priceFen * qtyKg) / 1000n)} CNY`]);
      preview.replaceChildren(h("dl", {}, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
        problem ? h("dd", { class: "warn", role: "note" }, "⚠ " + problem) : null));
    }
  }

  async function submitOrder(ev) {
    ev.preventDefault();
    const inst = state.instrument;
    const msg = $("#ticket-msg");
    if (!inst) return;
    const body = {
      client_order_id: state.pendingCoid || newClientOrderId(),
      symbol: inst.symbol,
      side: side(),
      type: type(),
      quantity: $("#quantity").value.trim(),
      time_in_force: type() === "market" ? "IOC" : $("#tif").value,
    };
    if (type() === "limit") body.price = $("#price").value.trim();
    if (!body.quantity || (type() === "limit" && !body.price)) {
      flash(msg, "error", type() === "limit" ? "Enter a price and a quantity. 请输入价格和数量" : "Enter a quantity. 请输入数量");
      return;
    }
    state.pendingCoid = body.client_order_id;
    const btn = $("#submit-order");
    btn.disabled = true;
    flash(msg, "info", "Sending… 提交中");
    try {
      const o = await post("/orders", body);
      state.pendingCoid = null;
      upsertOrder(o);
      flash(msg, o.status === "cancelled" ? "info" : "ok", describeOrder(o));
      refreshBalances();
      if (o.filled_quantity && parseScaled(o.filled_quantity, 3) > 0n) loadFills();
    } catch (e) {
      if (e.status && e.status !== 0) state.pendingCoid = null; // definitive answer; a network error keeps the id
      flashError(msg, e);
    } finally {
      btn.disabled = false;
      updateTicket();
    }
  }

  function describeOrder(o) {
    const filled = parseScaled(o.filled_quantity || "0", 3) || 0n;
    const base = `Order ${o.id}: ${o.side} ${o.quantity} t ${o.type === "limit" ? "at " + o.price : "at market"} — ${label(STATUS, o.status)}`;
    const fills = filled > 0n ? `; filled ${o.filled_quantity} t at avg ${o.average_price}` : "";
    const why = o.cancel_reason ? ` (${label(CANCEL_REASONS, o.cancel_reason)})` : "";
    return base + fills + why;
  }

  // ---------- balances ----------
  let balTimer = null;
  function refreshBalances() {
    clearTimeout(balTimer);
    balTimer = setTimeout(loadBalances, 150);
  }
  $("#refresh-balances").addEventListener("click", loadBalances);

  async function loadBalances() {
    try {
      const me = await get("/accounts/me");
      state.me = me;
      $("#account-line").textContent = `${me.name} · ${cityName(me.city_code)} · account ${me.id}`;
      const dl = $("#balances");
      const items = [
        h("dt", { class: "sub" }, "Cash 资金 (CNY)"),
        h("dt", {}, "Available 可用"), h("dd", { id: "cash-available" }, cny(me.cash?.available)),
        h("dt", {}, "Locked 冻结"), h("dd", { id: "cash-locked" }, cny(me.cash?.locked)),
      ];
      const al = me.allowances || {};
      const syms = Object.keys(al).sort();
      if (!syms.length) items.push(h("dt", { class: "sub" }, "Allowances 排污权指标"), h("dd", { class: "muted", style: "grid-column:1/-1;text-align:left;font-weight:400" }, "None held yet."));
      for (const s of syms) {
        items.push(h("dt", { class: "sub" }, `${s} allowances 指标 (t)`),
          h("dt", {}, "Available 可用"), h("dd", {}, qty(al[s].available)),
          h("dt", {}, "Locked 冻结"), h("dd", {}, qty(al[s].locked)),
          h("dt", {}, "Used 已使用"), h("dd", {}, qty(al[s].used)));
      }
      dl.replaceChildren(...items);
      updateTicket();
    } catch (e) {
      $("#balances").replaceChildren(h("dd", { class: "flash flash-error", style: "grid-column:1/-1" }, e.describe ? e.describe() : String(e)));
    }
  }

  // ---------- orders ----------
  const OPEN = new Set(["open", "partially_filled"]);

  async function loadOrders() {
    try {
      const [open, part, all] = await Promise.all([
        get("/orders?status=open&limit=1000"),
        get("/orders?status=partially_filled&limit=1000"),
        get("/orders?limit=200"),
      ]);
      state.orders.clear();
      for (const o of [...(all.items || []), ...(open.items || []), ...(part.items || [])]) state.orders.set(o.id, o);
      $("#orders-msg").hidden = true;
      renderOrders();
    } catch (e) {
      flashError($("#orders-msg"), e);
    }
  }

  function upsertOrder(o) {
    const prev = state.orders.get(o.id);
    state.orders.set(o.id, { ...(prev || {}), ...o });
    renderOrders();
  }

  function byTimeDesc(a, b) {
    return String(b.created_at || "").localeCompare(String(a.created_at || "")) || String(b.id).localeCompare(String(a.id));
  }

  let amending = null;
  function renderOrders() {
    const all = [...state.orders.values()].sort(byTimeDesc);
    const open = all.filter((o) => OPEN.has(o.status));
    const done = all.filter((o) => !OPEN.has(o.status));
    $("#open-count").textContent = String(open.length);
    const tbody = $("#open-orders tbody");
    const rows = [];
    for (const o of open) {
      rows.push(h("tr", { dataset: { orderId: o.id }, class: "order-row" },
        h("td", { class: "muted" }, fmtDateTime(o.created_at)),
        h("td", {}, h("code", { title: `client_order_id ${o.client_order_id}` }, o.id)),
        h("td", { class: o.side === "buy" ? "up" : "down" }, o.side === "buy" ? "Buy 买" : "Sell 卖"),
        h("td", {}, o.type),
        h("td", { class: "num" }, o.price ? cny(o.price) : "market"),
        h("td", { class: "num" }, qty(o.quantity)),
        h("td", { class: "num" }, qty(o.remaining_quantity)),
        h("td", { class: "num" }, qty(o.filled_quantity)),
        h("td", { class: "num" }, o.average_price ? cny(o.average_price) : "—"),
        h("td", {}, o.time_in_force),
        h("td", {}, statusBadge(o)),
        h("td", {}, h("div", { class: "actions" },
          o.type === "limit" ? h("button", { type: "button", class: "btn btn-sm", onclick: () => { amending = amending === o.id ? null : o.id; renderOrders(); }, "aria-expanded": String(amending === o.id) }, "Amend 改单") : null,
          h("button", { type: "button", class: "btn btn-sm btn-danger", onclick: (e) => cancelOrder(o, e.currentTarget) }, "Cancel 撤单")))));
      if (amending === o.id) rows.push(amendRow(o));
    }
    fillBody(tbody, rows, "No open orders. 暂无当前委托");

    fillBody($("#order-history tbody"), done.slice(0, 200).map((o) => h("tr", {},
      h("td", { class: "muted" }, fmtDateTime(o.created_at)),
      h("td", {}, h("code", {}, o.id)),
      h("td", { class: o.side === "buy" ? "up" : "down" }, o.side === "buy" ? "Buy 买" : "Sell 卖"),
      h("td", {}, o.type),
      h("td", { class: "num" }, o.price ? cny(o.price) : "market"),
      h("td", { class: "num" }, qty(o.quantity)),
      h("td", { class: "num" }, qty(o.filled_quantity)),
      h("td", { class: "num" }, o.average_price ? cny(o.average_price) : "—"),
      h("td", {}, o.time_in_force),
      h("td", {}, statusBadge(o)))), "No finished orders yet.");
  }

  function statusBadge(o) {
    const kind = { open: "info", partially_filled: "warn", filled: "ok", cancelled: "neutral" }[o.status] || "neutral";
    const text = label(STATUS, o.status) + (o.cancel_reason ? ` · ${label(CANCEL_REASONS, o.cancel_reason)}` : "");
    return badge(text, kind);
  }

  function amendRow(o) {
    const msg = h("div", { class: "flash", hidden: true });
    const priceIn = h("input", { id: `amend-price-${o.id}`, name: "price", value: o.price || "", inputmode: "decimal" });
    const qtyIn = h("input", { id: `amend-qty-${o.id}`, name: "quantity", value: o.remaining_quantity, inputmode: "decimal" });
    const form = h("form", { class: "amend-form", novalidate: true },
      h("div", { class: "field" }, h("label", { for: priceIn.id }, "New price 新价格"), priceIn),
      h("div", { class: "field" }, h("label", { for: qtyIn.id }, "New remaining qty 剩余数量 (t)"), qtyIn),
      h("button", { class: "btn btn-primary btn-sm", type: "submit" }, "Save 确认修改"),
      h("button", { class: "btn btn-sm", type: "button", onclick: () => { amending = null; renderOrders(); } }, "Close"),
      h("span", { class: "small muted" }, "Lowering the quantity keeps time priority; raising it or changing the price loses it."));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {};
      const np = priceIn.value.trim(), nq = qtyIn.value.trim();
      if (np && parseScaled(np, 2) !== parseScaled(o.price, 2)) body.price = np;
      if (nq && parseScaled(nq, 3) !== parseScaled(o.remaining_quantity, 3)) body.quantity = nq;
      if (!Object.keys(body).length) { flash(msg, "info", "Nothing changed."); return; }
      const btn = form.querySelector("button[type=submit]");
      btn.disabled = true;
      try {
        const updated = await patch(`/orders/${encodeURIComponent(o.id)}`, body);
        amending = null;
        upsertOrder(updated);
        toast(`Order ${updated.id} amended. 改单成功`, "ok");
        refreshBalances();
      } catch (e) {
        flashError(msg, e);
        btn.disabled = false;
      }
    });
    return h("tr", { class: "amend-row" }, h("td", { colspan: 12 }, form, msg));
  }

  async function cancelOrder(o, btn) {
    btn.disabled = true;
    try {
      const res = await del(`/orders/${encodeURIComponent(o.id)}`);
      if (res && res.id) upsertOrder(res);
      else upsertOrder({ ...o, status: "cancelled", cancel_reason: "user" });
      toast(`Order ${o.id} cancelled. 撤单成功`, "ok");
      refreshBalances();
    } catch (e) {
      btn.disabled = false;
      const m = $("#orders-msg");
      flashError(m, e);
      if (e.code === "order_not_open") loadOrders();
    }
  }

  // ---------- fills ----------
  async function loadFills() {
    try {
      const r = await get("/trades?limit=200");
      const items = r.items || [];
      fillBody($("#fills tbody"), items.map((t) => {
        const amount = t.cash ?? t.amount ?? amountOf(t.price, t.quantity);
        const side = t.side || t.my_side;
        return h("tr", {},
          h("td", { class: "muted" }, fmtDateTime(t.time)),
          h("td", {}, h("code", {}, t.id)),
          h("td", {}, t.symbol || state.instrument?.symbol || "—"),
          h("td", { class: side === "buy" ? "up" : "down" }, side === "buy" ? "Buy 买" : side === "sell" ? "Sell 卖" : "—"),
          h("td", { class: "num" }, cny(t.price)),
          h("td", { class: "num" }, qty(t.quantity)),
          h("td", { class: "num" }, cny(amount)),
          h("td", { class: "num" }, cny(t.fee ?? "0.00")));
      }), "No fills yet. 暂无成交");
    } catch (e) {
      fillBody($("#fills tbody"), [h("tr", {}, h("td", { colspan: 8, class: "flash-error" }, e.describe ? e.describe() : String(e)))]);
    }
  }

  // ---------- private feed ----------
  const privStatus = feedStatus($("#private-feed-status"));
  let lastFillReload = null;
  new Feed("/ws/private", {
    token: session.token,
    onStatus: (s) => {
      privStatus(s);
      if (s === "live") {
        // (Re)connected: whatever happened while we were away comes from REST.
        loadOrders();
        loadBalances();
        loadFills();
      }
    },
    onAuthFailed: () => document.dispatchEvent(new CustomEvent("emx:unauthorized")),
    onMessage: (m) => {
      if (m.type === "order" && m.data) {
        upsertOrder(m.data);
        refreshBalances();
      } else if (m.type === "fill") {
        const d = m.data || {};
        toast(`Filled ${d.quantity ?? ""} t at ${d.price ?? ""} ${d.side ? "(" + d.side + ")" : ""} 成交`, "ok");
        clearTimeout(lastFillReload);
        lastFillReload = setTimeout(loadFills, 200);
        refreshBalances();
      }
    },
  });

  // ---------- tabs ----------
  const tabs = $$("[role=tab]");
  function selectTab(tab) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      $("#" + t.getAttribute("aria-controls")).hidden = !on;
    }
    sessionStorage.setItem("emx.tradeTab", tab.id);
  }
  tabs.forEach((t, i) => {
    t.addEventListener("click", () => selectTab(t));
    t.addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        const n = tabs[(i + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
        selectTab(n);
        n.focus();
      }
    });
  });
  const savedTab = $("#" + (sessionStorage.getItem("emx.tradeTab") || "tab-open"));
  selectTab(savedTab || tabs[0]);

  // ---------- reductions ----------
  for (const [k, v] of Object.entries(SOURCE_KINDS)) $("#red-kind").append(h("option", { value: k }, v));
  for (const [k, v] of Object.entries(PRIORITY)) $("#pj-priority").append(h("option", { value: k }, v));
  for (const [code] of CITIES) $("#pj-city").append(h("option", { value: code, selected: code === session.city_code }, cityName(code)));

  function fillInstrumentSelects() {
    for (const sel of [$("#red-symbol"), $("#pj-symbol")]) {
      sel.replaceChildren(...state.market.instruments.map((i) => h("option", { value: i.symbol }, `${i.symbol} · ${i.pollutant}`)));
    }
  }

  $("#reduction-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const msg = $("#red-msg");
    const body = formData(form);
    for (const k of ["symbol", "quantity", "source_kind", "description", "evidence"]) {
      if (!body[k]) { flash(msg, "error", `Please fill in every field (${k}).`); return; }
    }
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const r = await post("/reductions", body);
      flash(msg, "ok", `Claim ${r.id} submitted for ${r.quantity} t — pending verification by your city bureau. 已提交，待核定`);
      form.reset();
      fillInstrumentSelects();
      loadReductions();
    } catch (e) {
      flashError(msg, e);
    } finally {
      btn.disabled = false;
    }
  });

  async function loadReductions() {
    try {
      const r = await get("/reductions?limit=500");
      fillBody($("#reductions tbody"), (r.items || []).map((c) => h("tr", {},
        h("td", { class: "muted" }, fmtDateTime(c.created_at)),
        h("td", {}, h("code", {}, c.id), h("div", { class: "small muted" }, c.description || "")),
        h("td", {}, label(SOURCE_KINDS, c.source_kind)),
        h("td", { class: "num" }, qty(c.quantity)),
        h("td", { class: "num" }, c.approved_quantity ? qty(c.approved_quantity) : "—"),
        h("td", {}, c.method ? label(METHODS, c.method) : "—"),
        h("td", {}, badge(label(STATUS, c.status), c.status === "pending" ? "warn" : c.status === "rejected" ? "danger" : "ok")))),
      "No claims yet. 暂无申请");
    } catch (e) {
      fillBody($("#reductions tbody"), [h("tr", {}, h("td", { colspan: 7, class: "flash-error" }, e.describe ? e.describe() : String(e)))]);
    }
  }

  // ---------- projects ----------
  const LOCAL_PROJECTS = `emx.projects.${session.account_id}`;
  const localProjects = () => { try { return JSON.parse(localStorage.getItem(LOCAL_PROJECTS) || "[]"); } catch { return []; } };
  const rememberProject = (p) => {
    const list = localProjects().filter((x) => x.id !== p.id);
    list.unshift(p);
    localStorage.setItem(LOCAL_PROJECTS, JSON.stringify(list.slice(0, 200)));
  };

  $("#project-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const msg = $("#pj-msg");
    const body = formData(form);
    for (const k of ["name", "symbol", "priority_category", "required_quantity", "eia_reference"]) {
      if (!body[k]) { flash(msg, "error", `Please fill in every field (${k}).`); return; }
    }
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const p = await post("/projects", body);
      rememberProject(p);
      flash(msg, "ok", `Project ${p.id} registered. 项目已登记`);
      form.reset();
      $("#pj-city").value = session.city_code || "";
      fillInstrumentSelects();
      loadProjects();
    } catch (e) {
      flashError(msg, e);
    } finally {
      btn.disabled = false;
    }
  });

  let openAlloc = null;
  async function loadProjects() {
    let items;
    const note = $("#projects-note");
    try {
      const r = await get("/projects?limit=500");
      items = r.items || [];
      note.textContent = "";
    } catch (e) {
      if (e.status === 404 || e.status === 405) {
        // No project listing on this server: show the projects registered from this browser.
        items = localProjects();
        note.textContent = "Projects registered from this browser.";
      } else {
        note.textContent = e.describe ? e.describe() : String(e);
        items = localProjects();
      }
    }
    const rows = [];
    for (const p of items) {
      rows.push(h("tr", {},
        h("td", {}, h("strong", {}, p.name), h("div", { class: "small muted" }, h("code", {}, p.id), " · ", p.symbol || "")),
        h("td", {}, cityName(p.city_code)),
        h("td", {}, label(PRIORITY, p.priority_category)),
        h("td", {}, p.eia_reference || "—"),
        h("td", { class: "num" }, qty(p.required_quantity)),
        h("td", { class: "num" }, qty(p.allocated_quantity ?? p.used_quantity ?? null)),
        h("td", {}, h("div", { class: "actions" },
          h("button", { type: "button", class: "btn btn-sm", "aria-expanded": String(openAlloc === p.id), onclick: () => { openAlloc = openAlloc === p.id ? null : p.id; loadProjects(); } }, "Allocate 配置指标"),
          h("button", { type: "button", class: "btn btn-sm", onclick: () => showSources(p) }, "Sources 来源")))));
      if (openAlloc === p.id) rows.push(allocRow(p));
    }
    fillBody($("#projects tbody"), rows, "No projects registered yet. 暂无项目");
  }

  function allocRow(p) {
    const msg = h("div", { class: "flash", hidden: true });
    const sym = h("select", { id: `alloc-sym-${p.id}`, name: "symbol" },
      state.market.instruments.map((i) => h("option", { value: i.symbol, selected: i.symbol === p.symbol }, i.symbol)));
    const q = h("input", { id: `alloc-qty-${p.id}`, name: "quantity", inputmode: "decimal", placeholder: "10.000" });
    const avail = state.me?.allowances?.[p.symbol]?.available;
    const form = h("form", { class: "amend-form", novalidate: true },
      h("div", { class: "field" }, h("label", { for: sym.id }, "Instrument"), sym),
      h("div", { class: "field" }, h("label", { for: q.id }, "Quantity to bind 数量 (t)"), q),
      h("button", { class: "btn btn-primary btn-sm", type: "submit" }, "Bind to project 配置"),
      h("span", { class: "small muted" }, `Binds available allowances first-in first-out; they become used and leave the market for good.${avail ? ` Available: ${avail} t.` : ""}`));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const btn = form.querySelector("button");
      btn.disabled = true;
      try {
        await post(`/projects/${encodeURIComponent(p.id)}/allocations`, { symbol: sym.value, quantity: q.value.trim() });
        toast(`Allocated ${q.value.trim()} t to ${p.name}. 指标已配置`, "ok");
        openAlloc = null;
        refreshBalances();
        loadProjects();
      } catch (e) {
        flashError(msg, e);
      } finally {
        btn.disabled = false;
      }
    });
    return h("tr", { class: "amend-row" }, h("td", { colspan: 7 }, form, msg));
  }

  async function showSources(p) {
    const dlg = $("#sources-dialog");
    $("#sources-sub").textContent = `${p.name} (${p.id}) — every tonne bound to this project, traced back to the verified reduction that created it.`;
    const tbody = $("#sources tbody");
    fillBody(tbody, [], "Loading…");
    dlg.showModal();
    try {
      const r = await get(`/projects/${encodeURIComponent(p.id)}/sources`);
      fillBody(tbody, (r.items || []).map((s) => h("tr", {},
        h("td", {}, h("code", {}, s.lot_id)),
        h("td", {}, h("code", {}, s.reduction_id ?? "—")),
        h("td", {}, label(SOURCE_KINDS, s.source_kind)),
        h("td", {}, cityName(s.origin_city_code)),
        h("td", {}, s.origin_account_id ?? "—"),
        h("td", { class: "num" }, qty(s.quantity)))), "No allowances bound to this project yet.");
    } catch (e) {
      fillBody(tbody, [h("tr", {}, h("td", { colspan: 6, class: "flash-error" }, e.describe ? e.describe() : String(e)))]);
    }
  }

  loadBalances();
  loadReductions();
  loadProjects();
}

function groupFen(fen) {
  const s = formatScaled(fen, 2);
  const [i, f] = s.split(".");
  return i.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + "." + f;
}

/** price × quantity rounded half-up to the fen, as the exchange settles a trade. */
function amountOf(price, quantity) {
  const p = parseScaled(price, 2), q = parseScaled(quantity, 3);
  if (p === null || q === null) return null;
  return formatScaled((p * q + 500n) / 1000n, 2);
}
