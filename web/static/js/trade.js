// Trading page for enterprises: market view, order ticket, balances, orders, fills,
// reduction claims and projects, live from /ws/private.
import { get, post, patch, del, Feed, newClientOrderId } from "./api.js";
import { parseScaled, formatScaled, lockFen } from "./decimal.js";
import {
  h, $, $$, qty, cny, tonnes, yuan, perTonne, fmtDateTime, flash, unflash, flashError, errorRow, toast, notify,
  confirmDialog, renderHeader, requireRole, fillBody, labelCells, badge, feedStatus, formData, t,
} from "./ui.js";
import { MarketView } from "./market.js";
import { exportBar } from "./exports.js";
import { CITY_CODES, cityName, SOURCE_KIND_CODES, PRIORITY_CODES, TIF_CODES, STP_CODES, label } from "./labels.js";

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
  $("#private-feed-status").textContent = t("feed.connecting");
  $("#orders-export-slot").replaceWith(exportBar({ id: "orders-export", path: "/orders", name: "orders" }));
  $("#fills-export-slot").replaceWith(exportBar({ id: "fills-export", path: "/trades", name: "trades" }));
  for (const code of TIF_CODES) $("#tif").append(h("option", { value: code }, `${code} — ${label("tif", code)}`));
  for (const code of STP_CODES) $("#stp").append(h("option", { value: code }, label("stp", code)));

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
  state.market.start().then(() => {
    fillInstrumentSelects();
    markOwnOrders();
  });

  // ---------- order ticket ----------
  const ticket = $("#ticket");
  ticket.addEventListener("input", () => {
    state.pendingCoid = null; // a changed order is a new order
    unflash($("#ticket-msg")); // the complaint was about the input just changed
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
    const tk = tickFen(inst);
    return (raw / tk) * tk;
  }
  function bandBottomFen(inst) {
    const ref = parseScaled(inst.reference_price, 2);
    const pct = parseScaled(inst.price_band_pct, 2);
    if (ref === null || pct === null) return null;
    const raw = ref * (10000n - pct);
    const tk = tickFen(inst);
    const v = (raw + 9999n) / 10000n;
    return ((v + tk - 1n) / tk) * tk;
  }
  function bandText(inst) {
    const lo = bandBottomFen(inst), hi = bandTopFen(inst);
    return lo === null || hi === null ? "" : t("tr.band_range", { lo: groupFen(lo), hi: groupFen(hi) });
  }

  /** Worst price a market order may reach: the band's edge on its side. */
  function worstPriceFen(inst, isBuy) {
    return isBuy ? bandTopFen(inst) : bandBottomFen(inst);
  }

  function updateTicket() {
    const inst = state.instrument;
    const isMarket = type() === "market";
    const isBuy = side() === "buy";
    // what an expired instrument disabled comes back for the next one (the rules below decide)
    for (const el of $$("#ticket [data-expired-off]")) {
      el.disabled = false;
      delete el.dataset.expiredOff;
    }
    $("#price").disabled = isMarket;
    $("#price-field").hidden = isMarket;
    const tif = $("#tif");
    if (isMarket) {
      tif.value = "IOC";
      tif.disabled = true;
    } else tif.disabled = false;
    const postOnly = $("#post-only");
    postOnly.disabled = isMarket || !["GTC", "DAY"].includes(tif.value);
    if (postOnly.disabled) postOnly.checked = false;
    const btn = $("#submit-order");
    btn.className = `btn btn-block ${isBuy ? "btn-buy" : "btn-sell"}`;
    btn.textContent = t(isMarket ? "tr.submit_market" : "tr.submit_limit", { side: label("side", side()), symbol: inst ? inst.symbol : "" });
    if (inst && inst.status !== "open") {
      btn.disabled = true;
      btn.textContent = t("tr.submit_closed", { status: label("mstatus", inst.status) });
    } else btn.disabled = false;
    const expired = Boolean(inst && inst.status === "expired");
    $("#ticket-expired").hidden = !expired;
    $("#ticket-expired").textContent = expired ? t("tr.expired_note", { symbol: inst.symbol, date: inst.valid_until || "—" }) : "";
    if (expired) {
      for (const el of $$("#ticket input, #ticket select")) {
        if (!el.disabled) el.dataset.expiredOff = "1";
        el.disabled = true;
      }
    }

    const preview = $("#preview");
    const rows = [];
    let problem = null;
    const qtyText = $("#quantity").value.trim();
    const priceText = $("#price").value.trim();
    const qtyKg = qtyText ? parseScaled(qtyText, 3) : null;
    const priceFen = !isMarket && priceText ? parseScaled(priceText, 2) : null;

    // hints
    let qHint = inst ? t("tr.lot_hint", { lot: inst.lot_size }) : "";
    if (qtyText && qtyKg === null) qHint = t("tr.qty_format");
    else if (qtyKg !== null && inst && qtyKg % lotKg(inst) !== 0n) qHint = t("tr.qty_lot", { lot: inst.lot_size });
    else if (qtyKg === 0n) qHint = t("tr.qty_zero");
    $("#qty-hint").textContent = qHint;
    $("#quantity").setAttribute("aria-invalid", String(!!qtyText && (qtyKg === null || qtyKg === 0n || (inst && qtyKg % lotKg(inst) !== 0n))));

    let pHint = inst ? t("tr.price_hint", { band: bandText(inst), tick: inst.tick_size }) : "";
    let priceBad = false;
    if (!isMarket && priceText) {
      if (priceFen === null) { pHint = t("tr.price_format"); priceBad = true; }
      else if (inst && priceFen % tickFen(inst) !== 0n) { pHint = t("tr.price_tick", { tick: inst.tick_size }); priceBad = true; }
      else if (inst) {
        const lo = bandBottomFen(inst), hi = bandTopFen(inst);
        if (lo !== null && (priceFen < lo || priceFen > hi)) problem = t("tr.warn_band", { band: bandText(inst) });
      }
    }
    $("#price-hint").textContent = pHint;
    $("#price").setAttribute("aria-invalid", String(priceBad));

    if (!inst || qtyKg === null || qtyKg === 0n || (!isMarket && (priceFen === null || priceBad))) {
      preview.replaceChildren(h("span", { class: "muted" }, isMarket ? t("tr.preview_market_empty") : t("tr.preview_empty")));
      return;
    }
    const me = state.me;
    if (isBuy) {
      let lock;
      let note = "";
      if (isMarket) {
        const worst = worstPriceFen(inst, true);
        if (worst === null) {
          preview.replaceChildren(h("span", { class: "muted" }, t("tr.preview_market_empty")));
          return;
        }
        lock = lockFen(worst, qtyKg);
        note = t("tr.note_market_buy", { worst: groupFen(worst) });
      } else {
        lock = lockFen(priceFen, qtyKg);
      }
      rows.push([t("tr.cash_to_lock"), t("fmt.yuan", { a: groupFen(lock) })]);
      const avail = me?.cash?.available ? parseScaled(me.cash.available, 2) : null;
      if (avail !== null) {
        rows.push([t("tr.cash_available"), yuan(me.cash.available)]);
        if (lock > avail) problem = problem || t("tr.warn_cash");
      }
      preview.replaceChildren(h("dl", {}, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
        h("dd", { class: "warn muted" }, [t("tr.note_fee"), note].filter(Boolean).join(" ")),
        problem ? h("dd", { class: "warn", role: "note" }, "⚠ " + problem) : null));
    } else {
      rows.push([t("tr.allowances_to_lock"), t("fmt.tonnes", { q: formatScaled(qtyKg, 3) })]);
      const al = me?.allowances?.[inst.symbol];
      if (al) {
        rows.push([t("tr.allowances_available"), tonnes(al.available)]);
        const avail = parseScaled(al.available, 3);
        if (avail !== null && qtyKg > avail) problem = problem || t("tr.warn_allowances");
      } else if (me) {
        problem = problem || t("tr.warn_no_allowances", { symbol: inst.symbol });
      }
      if (!isMarket && priceFen !== null) rows.push([t("tr.proceeds"), t("fmt.yuan", { a: groupFen((priceFen * qtyKg) / 1000n) })]);
      if (isMarket) {
        const worst = worstPriceFen(inst, false);
        if (worst !== null) rows.push([t("tr.worst_price"), t("fmt.per_tonne", { p: groupFen(worst) })]);
      }
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
    if ($("#post-only").checked) body.post_only = true;
    if ($("#stp").value !== "cancel_incoming") body.self_trade_prevention = $("#stp").value;
    if (!body.quantity || (type() === "limit" && !body.price)) {
      flash(msg, "error", type() === "limit" ? t("tr.need_price_qty") : t("tr.need_qty"));
      return;
    }
    if (type() === "market") {
      // a market order trades at once at whatever the book offers: say what that can mean
      const qtyKg = parseScaled(body.quantity, 3);
      const worst = worstPriceFen(inst, body.side === "buy");
      const rows = [
        [t("col.side"), label("side", body.side)],
        [t("col.instrument"), inst.symbol],
        [t("col.qty_t"), tonnes(body.quantity)],
      ];
      if (worst !== null) rows.push([t("tr.worst_price"), t("fmt.per_tonne", { p: groupFen(worst) })]);
      if (body.side === "buy" && worst !== null && qtyKg !== null) rows.push([t("tr.cash_to_lock"), t("fmt.yuan", { a: groupFen(lockFen(worst, qtyKg)) })]);
      const ok = await confirmDialog({
        title: t("tr.confirm_market_h"), rows, note: t("tr.confirm_market_note"),
        confirmText: t("tr.confirm_market_ok", { side: label("side", body.side) }),
      });
      if (!ok) return;
    }
    state.pendingCoid = body.client_order_id;
    const btn = $("#submit-order");
    btn.disabled = true;
    flash(msg, "info", t("tr.sending"));
    try {
      const o = await post("/orders", body);
      state.pendingCoid = null;
      upsertOrder(o);
      flash(msg, o.status === "cancelled" ? "info" : "ok", describeOrder(o));
      msg.dataset.orderId = o.id;
      refreshBalances();
      if (o.filled_quantity && parseScaled(o.filled_quantity, 3) > 0n) loadFills();
    } catch (e) {
      if (e.status && e.status !== 0) state.pendingCoid = null; // definitive answer; a network error keeps the id
      flashError(msg, e, e.code === "price_outside_band" ? bandText(inst) : null);
    } finally {
      btn.disabled = false;
      updateTicket();
    }
  }

  function describeOrder(o) {
    const filled = parseScaled(o.filled_quantity || "0", 3) || 0n;
    const parts = [t("tr.order_done", {
      id: o.id, side: label("side", o.side), q: qty(o.quantity),
      price: o.type === "limit" ? perTonne(o.price) : label("otype", "market"), status: label("status", o.status),
    })];
    if (filled > 0n) parts.push(t("tr.order_filled", { q: qty(o.filled_quantity), avg: perTonne(o.average_price) }));
    if (o.cancel_reason) parts.push(t("tr.order_reason", { reason: label("cancel", o.cancel_reason) }));
    return parts.join(" ");
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
      $("#account-line").textContent = t("tr.account_line", { name: me.name, city: cityName(me.city_code), id: me.id });
      const dl = $("#balances");
      const items = [
        h("dt", { class: "sub" }, t("tr.bal_cash")),
        h("dt", {}, t("tr.bal_available")), h("dd", { id: "cash-available" }, cny(me.cash?.available)),
        h("dt", {}, t("tr.bal_locked")), h("dd", { id: "cash-locked" }, cny(me.cash?.locked)),
      ];
      const al = me.allowances || {};
      const syms = Object.keys(al).sort();
      if (!syms.length) items.push(h("dt", { class: "sub" }, t("tr.bal_allowances")), h("dd", { class: "muted bal-none" }, t("tr.bal_none")));
      for (const s of syms) {
        items.push(h("dt", { class: "sub" }, t("tr.bal_allowances_of", { symbol: s })),
          h("dt", {}, t("tr.bal_available")), h("dd", {}, qty(al[s].available)),
          h("dt", {}, t("tr.bal_locked")), h("dd", {}, qty(al[s].locked)),
          h("dt", {}, t("tr.bal_used")), h("dd", {}, qty(al[s].used)));
      }
      dl.replaceChildren(...items);
      updateTicket();
    } catch (e) {
      $("#balances").replaceChildren(h("dd", { class: "flash flash-error bal-none" }, t("tr.bal_error")));
      flashError($("#orders-msg"), e);
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

  function openOrders() {
    return [...state.orders.values()].filter((o) => OPEN.has(o.status));
  }

  function markOwnOrders() {
    if (state.market) state.market.setOwnOrders(openOrders().filter((o) => o.type === "limit"));
  }

  let amending = null;
  function renderOrders() {
    const all = [...state.orders.values()].sort(byTimeDesc);
    const open = all.filter((o) => OPEN.has(o.status));
    const done = all.filter((o) => !OPEN.has(o.status));
    $("#open-count").textContent = String(open.length);
    $("#cancel-all").disabled = !open.length;
    const tbody = $("#open-orders tbody");
    const rows = [];
    for (const o of open) {
      rows.push(h("tr", { dataset: { orderId: o.id }, class: "order-row" },
        h("td", { class: "muted" }, fmtDateTime(o.created_at)),
        h("td", {}, h("code", {}, o.id)),
        h("td", { class: o.side === "buy" ? "up" : "down" }, label("side", o.side)),
        h("td", {}, label("otype", o.type)),
        h("td", { class: "num" }, o.price ? cny(o.price) : label("otype", "market")),
        h("td", { class: "num" }, qty(o.quantity)),
        h("td", { class: "num" }, qty(o.remaining_quantity)),
        h("td", { class: "num" }, qty(o.filled_quantity)),
        h("td", { class: "num" }, o.average_price ? cny(o.average_price) : "—"),
        h("td", {}, label("tif", o.time_in_force)),
        h("td", {}, statusBadge(o)),
        h("td", { class: "row-actions" }, h("div", { class: "actions" },
          o.type === "limit" ? h("button", { type: "button", class: "btn btn-sm", onclick: () => { amending = amending === o.id ? null : o.id; renderOrders(); }, "aria-expanded": String(amending === o.id) }, t("tr.amend")) : null,
          h("button", { type: "button", class: "btn btn-sm btn-danger", onclick: (e) => cancelOrder(o, e.currentTarget) }, t("tr.cancel"))))));
      if (amending === o.id) rows.push(amendRow(o));
    }
    fillBody(tbody, rows, t("tr.no_open"));
    labelCells($("#open-orders"));

    fillBody($("#order-history tbody"), done.slice(0, 200).map((o) => h("tr", {},
      h("td", { class: "muted" }, fmtDateTime(o.created_at)),
      h("td", {}, h("code", {}, o.id)),
      h("td", { class: o.side === "buy" ? "up" : "down" }, label("side", o.side)),
      h("td", {}, label("otype", o.type)),
      h("td", { class: "num" }, o.price ? cny(o.price) : label("otype", "market")),
      h("td", { class: "num" }, qty(o.quantity)),
      h("td", { class: "num" }, qty(o.filled_quantity)),
      h("td", { class: "num" }, o.average_price ? cny(o.average_price) : "—"),
      h("td", {}, label("tif", o.time_in_force)),
      h("td", {}, statusBadge(o)))), t("tr.no_history"));
    labelCells($("#order-history"));
    markOwnOrders();
  }

  function statusBadge(o) {
    const kind = { open: "info", partially_filled: "warn", filled: "ok", cancelled: "neutral" }[o.status] || "neutral";
    const text = label("status", o.status) + (o.cancel_reason ? ` · ${label("cancel", o.cancel_reason)}` : "");
    return badge(text, kind);
  }

  function amendRow(o) {
    const msg = h("div", { class: "flash", hidden: true });
    const priceIn = h("input", { id: `amend-price-${o.id}`, name: "price", value: o.price || "", inputmode: "decimal" });
    const qtyIn = h("input", { id: `amend-qty-${o.id}`, name: "quantity", value: o.remaining_quantity, inputmode: "decimal" });
    const form = h("form", { class: "amend-form", novalidate: true },
      h("div", { class: "field" }, h("label", { for: priceIn.id }, t("tr.amend_price")), priceIn),
      h("div", { class: "field" }, h("label", { for: qtyIn.id }, t("tr.amend_qty")), qtyIn),
      h("button", { class: "btn btn-primary btn-sm", type: "submit" }, t("tr.amend_save")),
      h("button", { class: "btn btn-sm", type: "button", onclick: () => { amending = null; renderOrders(); } }, t("common.close")),
      h("span", { class: "small muted" }, t("tr.amend_note")));
    form.addEventListener("input", () => unflash(msg));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {};
      const np = priceIn.value.trim(), nq = qtyIn.value.trim();
      if (np && parseScaled(np, 2) !== parseScaled(o.price, 2)) body.price = np;
      if (nq && parseScaled(nq, 3) !== parseScaled(o.remaining_quantity, 3)) body.quantity = nq;
      if (!Object.keys(body).length) { flash(msg, "info", t("err.no_change")); return; }
      const btn = form.querySelector("button[type=submit]");
      btn.disabled = true;
      try {
        const updated = await patch(`/orders/${encodeURIComponent(o.id)}`, body);
        amending = null;
        upsertOrder(updated);
        toast(t("tr.amended", { id: updated.id }), "ok");
        refreshBalances();
      } catch (e) {
        flashError(msg, e);
        btn.disabled = false;
      }
    });
    return h("tr", { class: "amend-row" }, h("td", { colspan: 12 }, form, msg));
  }

  async function cancelOrder(o, btn) {
    const ok = await confirmDialog({
      title: t("tr.confirm_cancel_h"),
      rows: [
        [t("col.order"), o.id],
        [t("col.side"), label("side", o.side)],
        [t("col.price"), o.price ? perTonne(o.price) : label("otype", "market")],
        [t("col.remaining_t"), tonnes(o.remaining_quantity)],
      ],
      note: o.side === "buy" ? t("tr.confirm_cancel_buy") : t("tr.confirm_cancel_sell"),
      confirmText: t("tr.cancel"), danger: true,
    });
    if (!ok) return;
    btn.disabled = true;
    try {
      const res = await del(`/orders/${encodeURIComponent(o.id)}`);
      if (res && res.id) upsertOrder(res);
      else upsertOrder({ ...o, status: "cancelled", cancel_reason: "user" });
      toast(t("tr.cancelled", { id: o.id }), "ok");
      refreshBalances();
    } catch (e) {
      btn.disabled = false;
      flashError($("#orders-msg"), e);
      if (e.code === "order_not_open") loadOrders();
    }
  }

  $("#cancel-all").addEventListener("click", async (ev) => {
    const btn = ev.currentTarget;
    const open = openOrders();
    if (!open.length) return;
    const buys = open.filter((o) => o.side === "buy").length;
    const ok = await confirmDialog({
      title: t("tr.confirm_cancel_all_h"),
      rows: [[t("tr.open_orders"), String(open.length)], [t("side.buy"), String(buys)], [t("side.sell"), String(open.length - buys)]],
      note: t("tr.confirm_cancel_all_note"), confirmText: t("tr.cancel_all"), danger: true,
    });
    if (!ok) return;
    btn.disabled = true;
    try {
      const r = await post("/orders/cancel-all", state.instrument ? { symbol: state.instrument.symbol } : {});
      toast(t("tr.cancelled_all", { n: r?.cancelled ?? open.length }), "ok");
      loadOrders();
      refreshBalances();
    } catch (e) {
      flashError($("#orders-msg"), e);
    } finally {
      btn.disabled = !openOrders().length;
    }
  });

  // ---------- fills ----------
  async function loadFills() {
    try {
      const r = await get("/trades?limit=200");
      const items = r.items || [];
      fillBody($("#fills tbody"), items.map((x) => {
        const amount = x.cash ?? x.amount ?? amountOf(x.price, x.quantity);
        const s = x.side || x.my_side;
        return h("tr", {},
          h("td", { class: "muted" }, fmtDateTime(x.time)),
          h("td", {}, h("code", {}, x.id)),
          h("td", {}, x.symbol || state.instrument?.symbol || "—"),
          h("td", { class: s === "buy" ? "up" : "down" }, label("side", s)),
          h("td", { class: "num" }, cny(x.price)),
          h("td", { class: "num" }, qty(x.quantity)),
          h("td", { class: "num" }, cny(amount)),
          h("td", { class: "num" }, cny(x.fee ?? "0.00")));
      }), t("tr.no_fills"));
      labelCells($("#fills"));
    } catch (e) {
      fillBody($("#fills tbody"), [errorRow(e, 8)]);
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
        const text = t("tr.fill_toast", { side: label("side", d.side), q: qty(d.quantity), p: perTonne(d.price) });
        toast(text, "ok");
        notify(t("tr.fill_notify_h"), text);
        clearTimeout(lastFillReload);
        lastFillReload = setTimeout(loadFills, 200);
        refreshBalances();
      }
    },
  });

  // ---------- tabs ----------
  const tabs = $$("[role=tab]");
  function selectTab(tab) {
    for (const x of tabs) {
      const on = x === tab;
      x.setAttribute("aria-selected", String(on));
      x.tabIndex = on ? 0 : -1;
      $("#" + x.getAttribute("aria-controls")).hidden = !on;
    }
    sessionStorage.setItem("emx.tradeTab", tab.id);
  }
  tabs.forEach((x, i) => {
    x.addEventListener("click", () => selectTab(x));
    x.addEventListener("keydown", (e) => {
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
  for (const k of SOURCE_KIND_CODES) $("#red-kind").append(h("option", { value: k }, label("source", k)));
  for (const k of PRIORITY_CODES) $("#pj-priority").append(h("option", { value: k }, label("priority", k)));
  for (const code of CITY_CODES) $("#pj-city").append(h("option", { value: code, selected: code === session.city_code }, cityName(code)));

  function fillInstrumentSelects() {
    for (const sel of [$("#red-symbol"), $("#pj-symbol")]) {
      sel.replaceChildren(...state.market.instruments.map((i) => h("option", { value: i.symbol }, `${i.symbol} · ${i.pollutant}`)));
    }
  }

  $("#reduction-form").addEventListener("input", () => unflash($("#red-msg")));
  $("#reduction-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const msg = $("#red-msg");
    const body = formData(form);
    for (const k of ["symbol", "quantity", "source_kind", "description", "evidence"]) {
      if (!body[k]) { flash(msg, "error", t("common.fill_all")); return; }
    }
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const r = await post("/reductions", body);
      flash(msg, "ok", t("tr.red_done", { id: r.id, q: qty(r.quantity) }));
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
        h("td", {}, label("source", c.source_kind)),
        h("td", { class: "num" }, qty(c.quantity)),
        h("td", { class: "num" }, c.approved_quantity ? qty(c.approved_quantity) : "—"),
        h("td", {}, c.method ? label("method", c.method) : "—"),
        h("td", {}, badge(label("status", c.status === "approved" ? "verified" : c.status), c.status === "pending" ? "warn" : c.status === "rejected" ? "danger" : "ok")))),
      t("tr.red_none"));
      labelCells($("#reductions"));
    } catch (e) {
      fillBody($("#reductions tbody"), [errorRow(e, 7)]);
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

  $("#project-form").addEventListener("input", () => unflash($("#pj-msg")));
  $("#project-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const msg = $("#pj-msg");
    const body = formData(form);
    for (const k of ["name", "symbol", "priority_category", "required_quantity", "eia_reference"]) {
      if (!body[k]) { flash(msg, "error", t("common.fill_all")); return; }
    }
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const p = await post("/projects", body);
      rememberProject(p);
      flash(msg, "ok", t("tr.pj_done", { id: p.id }));
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
        note.textContent = t("tr.pj_local");
      } else {
        note.textContent = t("tr.pj_error");
        items = localProjects();
      }
    }
    const rows = [];
    for (const p of items) {
      rows.push(h("tr", {},
        h("td", {}, h("strong", {}, p.name), h("div", { class: "small muted" }, h("code", {}, p.id), " · ", p.symbol || "")),
        h("td", {}, cityName(p.city_code)),
        h("td", {}, label("priority", p.priority_category)),
        h("td", {}, p.eia_reference || "—"),
        h("td", { class: "num" }, qty(p.required_quantity)),
        h("td", { class: "num" }, qty(p.allocated_quantity ?? p.used_quantity ?? null)),
        h("td", { class: "row-actions" }, h("div", { class: "actions" },
          h("button", { type: "button", class: "btn btn-sm", "aria-expanded": String(openAlloc === p.id), onclick: () => { openAlloc = openAlloc === p.id ? null : p.id; loadProjects(); } }, t("tr.pj_allocate")),
          h("button", { type: "button", class: "btn btn-sm", onclick: () => showSources(p) }, t("tr.pj_sources"))))));
      if (openAlloc === p.id) rows.push(allocRow(p));
    }
    fillBody($("#projects tbody"), rows, t("tr.pj_none"));
    labelCells($("#projects"));
  }

  function allocRow(p) {
    const msg = h("div", { class: "flash", hidden: true });
    const sym = h("select", { id: `alloc-sym-${p.id}`, name: "symbol" },
      state.market.instruments.map((i) => h("option", { value: i.symbol, selected: i.symbol === p.symbol }, i.symbol)));
    const q = h("input", { id: `alloc-qty-${p.id}`, name: "quantity", inputmode: "decimal", placeholder: "10.000" });
    const avail = state.me?.allowances?.[p.symbol]?.available;
    const form = h("form", { class: "amend-form", novalidate: true },
      h("div", { class: "field" }, h("label", { for: sym.id }, t("col.instrument")), sym),
      h("div", { class: "field" }, h("label", { for: q.id }, t("tr.alloc_qty")), q),
      h("button", { class: "btn btn-primary btn-sm", type: "submit" }, t("tr.alloc_submit")),
      h("span", { class: "small muted" }, t("tr.alloc_note"), avail ? " " + t("tr.alloc_available", { q: qty(avail) }) : ""));
    form.addEventListener("input", () => unflash(msg));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const btn = form.querySelector("button");
      btn.disabled = true;
      try {
        await post(`/projects/${encodeURIComponent(p.id)}/allocations`, { symbol: sym.value, quantity: q.value.trim() });
        toast(t("tr.alloc_done", { q: qty(q.value.trim()), name: p.name }), "ok");
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
    $("#sources-sub").textContent = t("tr.src_sub", { name: p.name, id: p.id });
    const tbody = $("#sources tbody");
    fillBody(tbody, [], t("common.loading"));
    dlg.showModal();
    try {
      const r = await get(`/projects/${encodeURIComponent(p.id)}/sources`);
      fillBody(tbody, (r.items || []).map((s) => h("tr", {},
        h("td", {}, h("code", {}, s.lot_id)),
        h("td", {}, h("code", {}, s.reduction_id ?? "—")),
        h("td", {}, label("source", s.source_kind)),
        h("td", {}, cityName(s.origin_city_code)),
        h("td", {}, s.origin_account_id ?? "—"),
        h("td", { class: "num" }, qty(s.quantity)))), t("tr.src_none"));
      labelCells($("#sources"));
    } catch (e) {
      fillBody(tbody, [errorRow(e, 6)]);
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
