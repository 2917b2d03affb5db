// Auctions of reserve quota (拍卖) and block trades (协议转让). The province opens and
// closes auctions and sees every bid; an enterprise bids, withdraws, sees its result, and
// proposes, accepts, rejects or withdraws block trades. Kept live from /ws/private
// (bids, block trades) and /ws/regulator (auction results).
import { get, post, del, Feed } from "./api.js";
import { parseScaled, formatScaled, groupDigits, lockFen } from "./decimal.js";
import {
  h, $, $$, qty, cny, tonnes, perTonne, fmtDateTime, flash, unflash, flashError, toast, notify,
  confirmDialog, renderHeader, requireRole, fillBody, labelCells, badge, feedStatus, formData, t,
} from "./ui.js";
import { TRADE_KIND, label } from "./labels.js";

const AUCTION_BADGE = { open: "ok", cleared: "neutral", cancelled: "danger" };
const BID_BADGE = { open: "ok", won: "ok", lost: "danger", withdrawn: "neutral", cancelled: "danger" };
const BLOCK_BADGE = { pending: "warn", accepted: "ok", rejected: "danger", withdrawn: "neutral", cancelled: "danger" };
// The province sees other enterprises' bids only by asking: while an auction is open, ask
// again every few seconds (bids are sealed, so no feed carries them).
const PROVINCE_BID_POLL_MS = 5000;
// No feed announces a newly opened auction to enterprises: look for one now and then.
const ENTERPRISE_AUCTION_POLL_MS = 20_000;
// account ids as the registry writes them (ENT-…); anything else is refused before sending
const ACCOUNT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const groupFen = (fen) => groupDigits(formatScaled(fen, 2));

/** A block trade's cash: what it settled for, or price × quantity while it is pending
 *  (the registry fills in `cash` on acceptance). */
function blockAmountFen(b) {
  const settled = parseScaled(b.cash || "0", 2) ?? 0n;
  if (settled > 0n) return settled;
  const p = parseScaled(b.price, 2), q = parseScaled(b.quantity, 3);
  return p === null || q === null ? 0n : lockFen(p, q);
}

const session = requireRole(["enterprise", "province"]);
if (session) {
  renderHeader("auctions");
  main();
}

function main() {
  const isProvince = session.role === "province";
  const me = session.account_id;
  const state = { instruments: [], auctions: [], blocks: [] };

  for (const el of $$("[data-role]")) el.hidden = el.dataset.role !== session.role;
  $("#au-sub").replaceChildren(isProvince ? t("au.sub_province") : t("au.sub_enterprise"),
    isProvince ? "" : h("span", { class: "small muted", id: "my-account-id" }, " ", t("au.your_id", { id: me })));

  // ---------- instruments ----------
  async function loadInstruments() {
    try {
      const r = await get("/instruments", { auth: false });
      state.instruments = r.items || [];
    } catch (e) {
      flashError($("#au-msg"), e);
      return;
    }
    const live = state.instruments.filter((i) => i.status !== "expired");
    for (const sel of [$("#au-symbol"), $("#bt-symbol")]) {
      const keep = sel.value;
      sel.replaceChildren(...live.map((i) => h("option", { value: i.symbol, selected: i.symbol === keep }, `${i.symbol} · ${i.pollutant}`)));
    }
    blockHint();
  }
  const instrument = (symbol) => state.instruments.find((i) => i.symbol === symbol);

  // ---------- province: open an auction ----------
  async function loadReserve() {
    if (!isProvince) return;
    try {
      const r = await get("/reserve");
      const parts = Object.entries(r.allowances || {}).map(([sym, a]) => `${sym} ${tonnes(a.available)}`);
      $("#reserve-line").textContent = t("au.reserve_holds", { what: parts.join(" · ") || "—" });
    } catch {
      $("#reserve-line").textContent = "";
    }
  }

  $("#auction-form").addEventListener("input", () => unflash($("#au-form-msg")));
  $("#auction-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const body = formData(form);
    const msg = $("#au-form-msg");
    for (const k of ["symbol", "quantity", "reserve_price", "bidder_cap_pct"]) {
      if (!body[k]) { flash(msg, "error", t("common.fill_all")); return; }
    }
    if (parseScaled(body.quantity, 3) === null || parseScaled(body.reserve_price, 2) === null || !/^\d{1,3}$/.test(body.bidder_cap_pct)) {
      flash(msg, "error", t("err.invalid_input"));
      return;
    }
    body.bidder_cap_pct = Number(body.bidder_cap_pct);
    body.note = body.note || "";
    const ok = await confirmDialog({
      title: t("au.confirm_open_h", { symbol: body.symbol }),
      rows: [[t("col.qty_t"), tonnes(body.quantity)], [t("au.reserve_price"), perTonne(body.reserve_price)], [t("au.cap"), t("fmt.percent", { p: body.bidder_cap_pct })]],
      note: t("au.confirm_open_note"),
      confirmText: t("au.open_submit"),
    });
    if (!ok) return;
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const a = await post("/auctions", body);
      flash(msg, "ok", t("au.opened", { id: a.id }));
      form.reset();
      $("#au-cap").value = "50";
      await loadInstruments();
      loadAuctions();
      loadReserve();
    } catch (e) {
      flashError(msg, e);
    } finally {
      btn.disabled = false;
    }
  });

  // ---------- auctions ----------
  async function loadAuctions() {
    try {
      const r = await get("/auctions");
      const list = r.items || [];
      // the list may leave bids out: each auction's own view has them (sealed for bidders)
      state.auctions = await Promise.all(list.map((a) => (a.bids ? a : get(`/auctions/${encodeURIComponent(a.id)}`))));
      $("#au-msg").hidden = true;
    } catch (e) {
      flashError($("#au-msg"), e);
    }
    renderAuctions();
  }

  function renderAuctions() {
    const list = state.auctions.slice().sort((a, b) =>
      (a.status === "open" ? 0 : 1) - (b.status === "open" ? 0 : 1) || String(b.opened_at).localeCompare(String(a.opened_at)));
    const box = $("#auctions");
    if (!list.length) {
      box.replaceChildren(h("p", { class: "muted empty-note" }, t("au.none")));
      return;
    }
    // update the cards in place: a bidder typing in a form keeps the form and its focus
    // while the feed brings news
    const existing = new Map($$("#auctions article").map((el) => [el.dataset.auctionId, el]));
    const cards = list.map((a) => {
      const el = existing.get(a.id) || h("article", { class: "auction", dataset: { auctionId: a.id } },
        h("div", { class: "auction-info" }), h("div", { class: "auction-bids" }), h("div", { class: "auction-act" }));
      fillAuction(el, a);
      return el;
    });
    const order = (els) => els.map((el) => el.dataset.auctionId).join(" ");
    if (order(Array.from(box.children)) !== order(cards)) box.replaceChildren(...cards);
    for (const tbl of $$("#auctions table")) labelCells(tbl);
  }

  function fillAuction(el, a) {
    el.dataset.status = a.status;
    const head = h("div", { class: "auction-head" },
      h("strong", {}, a.id), " ", h("span", {}, a.symbol), " ",
      badge(label("austatus", a.status), AUCTION_BADGE[a.status] || "neutral"));
    const facts = [
      [t("au.offered"), tonnes(a.quantity)],
      [t("au.reserve_price"), perTonne(a.reserve_price)],
      [t("au.cap"), t("fmt.percent", { p: a.bidder_cap_pct })],
      [t("au.opened_at"), fmtDateTime(a.opened_at)],
    ];
    if (a.status === "cleared") {
      facts.push([t("au.clearing_price"), a.clearing_price ? perTonne(a.clearing_price) : t("au.no_sale")]);
      facts.push([t("au.sold"), tonnes(a.sold_quantity)]);
      facts.push([t("au.closed_at"), fmtDateTime(a.closed_at)]);
    }
    if (a.note) facts.push([t("rg.note"), a.note]);
    const kv = h("dl", { class: "kv" }, facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    const [info, bids, act] = el.children;
    info.replaceChildren(head, kv);
    bids.replaceChildren(isProvince || (a.bids && a.bids.length) ? bidsTable(a, isProvince) : "");
    if (a.status !== "open") act.replaceChildren();
    else if (isProvince) {
      act.replaceChildren(h("div", { class: "actions" },
        h("button", { type: "button", class: "btn btn-sm btn-danger", dataset: { close: a.id }, onclick: (e) => closeAuction(a, e.currentTarget) }, t("au.close"))));
    } else if (!act.firstChild) act.append(bidForm(a));
  }

  function bidsTable(a, all) {
    const cleared = a.status === "cleared";
    const heads = [t("col.time"), t("au.bid")];
    if (all) heads.push(t("au.bidder"));
    heads.push(t("col.price"), t("col.qty_t"), t("col.status"));
    if (cleared) heads.push(t("au.awarded_t"), t("au.paid"));
    if (!all) heads.push(t("col.actions"));
    const num = new Set([t("col.price"), t("col.qty_t"), t("au.awarded_t"), t("au.paid"), t("col.actions")]);
    const bids = (a.bids || []).slice().sort((x, y) => String(y.time).localeCompare(String(x.time)));
    const rows = bids.map((b) => h("tr", { dataset: { bidId: b.id } },
      h("td", { class: "muted" }, fmtDateTime(b.time)),
      h("td", {}, h("code", {}, b.id)),
      all ? h("td", {}, b.account_id) : null,
      h("td", { class: "num" }, cny(b.price)),
      h("td", { class: "num" }, qty(b.quantity)),
      h("td", {}, badge(label("bidstatus", b.status), BID_BADGE[b.status] || "neutral")),
      cleared ? h("td", { class: "num" }, qty(b.awarded_quantity)) : null,
      cleared ? h("td", { class: "num" }, b.paid === null || b.paid === undefined ? "—" : t("au.paid_v", { paid: cny(b.paid), fee: cny(b.fee ?? "0.00") })) : null,
      all ? null : h("td", { class: "row-actions" }, a.status === "open" && b.status === "open"
        ? h("div", { class: "actions" }, h("button", { type: "button", class: "btn btn-sm btn-danger", dataset: { withdraw: b.id }, onclick: (e) => withdrawBid(a, b, e.currentTarget) }, t("au.withdraw")))
        : "")));
    const table = h("table", { class: "cards bids" },
      h("thead", {}, h("tr", {}, heads.map((x) => h("th", { class: num.has(x) ? "num" : null }, x)))),
      h("tbody", {}));
    fillBody(table.tBodies[0], rows, t("au.no_bids"), heads.length);
    return h("div", { class: "table-wrap" }, table);
  }

  function bidForm(a) {
    const price = h("input", { name: "price", inputmode: "decimal", autocomplete: "off", "aria-label": t("col.price"), placeholder: t("au.price_ph") });
    const quantity = h("input", { name: "quantity", inputmode: "decimal", autocomplete: "off", "aria-label": t("col.qty_t"), placeholder: t("au.qty_ph") });
    const msg = h("div", { class: "flash", hidden: true });
    const form = h("form", { class: "inline-form bid-form form-gap", novalidate: true, dataset: { auctionId: a.id } },
      h("div", { class: "field field-narrow" }, h("label", {}, t("tr.price"), " ", h("span", { class: "hint" }, t("tr.price_unit"))), price),
      h("div", { class: "field field-narrow" }, h("label", {}, t("tr.quantity"), " ", h("span", { class: "hint" }, t("tr.qty_unit"))), quantity),
      h("button", { type: "submit", class: "btn btn-sm btn-primary" }, t("au.bid_submit")));
    form.addEventListener("input", () => unflash(msg));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const p = parseScaled(price.value.trim(), 2), q = parseScaled(quantity.value.trim(), 3);
      if (p === null || q === null || p === 0n || q === 0n) { flash(msg, "error", t("au.bid_need")); return; }
      const reserveFen = parseScaled(a.reserve_price, 2);
      if (reserveFen !== null && p < reserveFen) { flash(msg, "error", t("err.bid_below_reserve")); return; }
      const lock = lockFen(p, q);
      const ok = await confirmDialog({
        title: t("au.confirm_bid_h", { id: a.id, symbol: a.symbol }),
        rows: [[t("tr.price"), perTonne(formatScaled(p, 2))], [t("tr.quantity"), tonnes(formatScaled(q, 3))], [t("tr.cash_to_lock"), t("fmt.yuan", { a: groupFen(lock) })]],
        note: t("au.confirm_bid_note"),
        confirmText: t("au.bid_submit"),
      });
      if (!ok) return;
      const btn = form.querySelector("button[type=submit]");
      btn.disabled = true;
      try {
        const b = await post(`/auctions/${encodeURIComponent(a.id)}/bids`, { price: formatScaled(p, 2), quantity: formatScaled(q, 3) });
        price.value = "";
        quantity.value = "";
        toast(t("au.bid_done", { id: b.id }), "ok");
        await loadAuctions();
      } catch (e) {
        flashError(msg, e);
      } finally {
        btn.disabled = false;
      }
    });
    return h("div", {}, form, msg);
  }

  async function withdrawBid(a, b, btn) {
    const ok = await confirmDialog({
      title: t("au.confirm_withdraw_h", { id: b.id }),
      rows: [[t("tr.price"), perTonne(b.price)], [t("tr.quantity"), tonnes(b.quantity)]],
      note: t("au.confirm_withdraw_note"),
      confirmText: t("au.withdraw"), danger: true,
    });
    if (!ok) return;
    btn.disabled = true;
    try {
      await del(`/auctions/${encodeURIComponent(a.id)}/bids/${encodeURIComponent(b.id)}`);
      toast(t("au.withdrawn", { id: b.id }), "ok");
      await loadAuctions();
    } catch (e) {
      btn.disabled = false;
      flashError($("#au-msg"), e);
    }
  }

  async function closeAuction(a, btn) {
    const ok = await confirmDialog({
      title: t("au.confirm_close_h", { id: a.id }),
      rows: [[t("au.offered"), tonnes(a.quantity)], [t("au.reserve_price"), perTonne(a.reserve_price)], [t("au.bids_n"), String((a.bids || []).filter((b) => b.status === "open").length)]],
      note: t("au.confirm_close_note"),
      confirmText: t("au.close"), danger: true,
    });
    if (!ok) return;
    btn.disabled = true;
    try {
      const r = await post(`/auctions/${encodeURIComponent(a.id)}/close`, {});
      toast(r.clearing_price ? t("au.cleared", { id: a.id, p: perTonne(r.clearing_price), q: tonnes(r.sold_quantity) }) : t("au.cleared_none", { id: a.id }), "ok");
      await loadAuctions();
      loadReserve();
    } catch (e) {
      btn.disabled = false;
      flashError($("#au-msg"), e);
    }
  }

  $("#auctions-refresh").addEventListener("click", loadAuctions);

  // ---------- block trades ----------
  function blockHint() {
    const inst = instrument($("#bt-symbol").value);
    $("#bt-price-hint").textContent = inst ? t("bt.price_hint", { ref: cny(inst.reference_price) }) : "";
  }
  $("#bt-symbol").addEventListener("change", blockHint);
  $("#block-form").addEventListener("input", () => unflash($("#bt-form-msg")));
  $("#block-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const body = formData(form);
    const msg = $("#bt-form-msg");
    for (const k of ["symbol", "buyer_account_id", "price", "quantity"]) {
      if (!body[k]) { flash(msg, "error", t("common.fill_all")); return; }
    }
    if (!ACCOUNT_ID.test(body.buyer_account_id)) { flash(msg, "error", t("bt.buyer_bad")); return; }
    if (body.buyer_account_id === me) { flash(msg, "error", t("err.invalid_counterparty")); return; }
    const p = parseScaled(body.price, 2), q = parseScaled(body.quantity, 3);
    if (p === null || q === null || p === 0n || q === 0n) { flash(msg, "error", t("err.invalid_input")); return; }
    body.price = formatScaled(p, 2);
    body.quantity = formatScaled(q, 3);
    body.note = body.note || "";
    const ok = await confirmDialog({
      title: t("bt.confirm_propose_h", { buyer: body.buyer_account_id }),
      rows: [[t("col.instrument"), body.symbol], [t("tr.price"), perTonne(body.price)], [t("tr.quantity"), tonnes(body.quantity)],
        [t("tr.allowances_to_lock"), tonnes(body.quantity)], [t("bt.amount"), t("fmt.yuan", { a: groupFen(lockFen(p, q)) })]],
      note: t("bt.confirm_propose_note"),
      confirmText: t("bt.propose_submit"),
    });
    if (!ok) return;
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const b = await post("/block-trades", body);
      flash(msg, "ok", t("bt.proposed", { id: b.id }));
      form.reset();
      await loadInstruments();
      upsertBlock(b);
    } catch (e) {
      flashError(msg, e);
    } finally {
      btn.disabled = false;
    }
  });

  async function loadBlocks() {
    try {
      const r = await get("/block-trades");
      state.blocks = r.items || [];
      $("#bt-msg").hidden = true;
    } catch (e) {
      flashError($("#bt-msg"), e);
    }
    renderBlocks();
  }

  function upsertBlock(b, fresh) {
    const i = state.blocks.findIndex((x) => x.id === b.id);
    if (i >= 0) state.blocks[i] = b;
    else state.blocks.unshift(b);
    renderBlocks(fresh ? b.id : null);
  }

  function renderBlocks(freshId) {
    const rows = state.blocks.slice().sort((a, b) => String(b.created_at).localeCompare(String(a.created_at))).map((b) => {
      const mineSells = b.seller_account_id === me, mineBuys = b.buyer_account_id === me;
      const pending = b.status === "pending";
      const acts = [];
      if (pending && mineBuys) {
        acts.push(h("button", { type: "button", class: "btn btn-sm btn-primary", dataset: { accept: b.id }, onclick: (e) => acceptBlock(b, e.currentTarget) }, t("bt.accept")));
        acts.push(h("button", { type: "button", class: "btn btn-sm btn-danger", dataset: { reject: b.id }, onclick: (e) => rejectBlock(b, e.currentTarget) }, t("bt.reject")));
      }
      if (pending && mineSells) {
        acts.push(h("button", { type: "button", class: "btn btn-sm btn-danger", dataset: { withdrawBlock: b.id }, onclick: (e) => withdrawBlock(b, e.currentTarget) }, t("bt.withdraw")));
      }
      const party = (id) => (id === me ? t("bt.me", { id }) : id);
      return h("tr", { dataset: { blockId: b.id, status: b.status }, class: b.id === freshId ? "fresh" : null },
        h("td", { class: "muted" }, fmtDateTime(b.decided_at || b.created_at)),
        h("td", {}, h("code", {}, b.id), b.note ? h("div", { class: "small muted" }, b.note) : null),
        h("td", {}, b.symbol),
        h("td", {}, party(b.seller_account_id)),
        h("td", {}, party(b.buyer_account_id)),
        h("td", { class: "num" }, cny(b.price)),
        h("td", { class: "num" }, qty(b.quantity)),
        h("td", { class: "num" }, groupFen(blockAmountFen(b))),
        h("td", {}, badge(label("btstatus", b.status), BLOCK_BADGE[b.status] || "neutral")),
        h("td", { class: "row-actions" }, acts.length ? h("div", { class: "actions" }, acts) : ""));
    });
    fillBody($("#block-trades tbody"), rows, t("bt.none"));
    labelCells($("#block-trades"));
  }

  async function acceptBlock(b, btn) {
    const cash = blockAmountFen(b);
    const ok = await confirmDialog({
      title: t("bt.confirm_accept_h", { id: b.id }),
      rows: [[t("bt.seller"), b.seller_account_id], [t("col.instrument"), b.symbol], [t("tr.price"), perTonne(b.price)], [t("tr.quantity"), tonnes(b.quantity)],
        [t("bt.to_pay"), t("fmt.yuan", { a: groupFen(cash) })]],
      note: `${t("tr.note_fee")} ${t("bt.confirm_accept_note")}`,
      confirmText: t("bt.accept"),
    });
    if (!ok) return;
    btn.disabled = true;
    try {
      upsertBlock(await post(`/block-trades/${encodeURIComponent(b.id)}/accept`, {}));
      toast(t("bt.accepted", { id: b.id }), "ok");
    } catch (e) {
      btn.disabled = false;
      flashError($("#bt-msg"), e);
    }
  }

  async function rejectBlock(b, btn) {
    const ok = await confirmDialog({ title: t("bt.confirm_reject_h", { id: b.id }), note: t("bt.confirm_reject_note"), confirmText: t("bt.reject"), danger: true });
    if (!ok) return;
    btn.disabled = true;
    try {
      upsertBlock(await post(`/block-trades/${encodeURIComponent(b.id)}/reject`, {}));
    } catch (e) {
      btn.disabled = false;
      flashError($("#bt-msg"), e);
    }
  }

  async function withdrawBlock(b, btn) {
    const ok = await confirmDialog({ title: t("bt.confirm_withdraw_h", { id: b.id }), note: t("bt.confirm_withdraw_note"), confirmText: t("bt.withdraw"), danger: true });
    if (!ok) return;
    btn.disabled = true;
    try {
      const r = await del(`/block-trades/${encodeURIComponent(b.id)}`);
      if (r && r.id) upsertBlock(r);
      else loadBlocks();
    } catch (e) {
      btn.disabled = false;
      flashError($("#bt-msg"), e);
    }
  }

  // ---------- live ----------
  const status = feedStatus($("#au-feed-status"));
  let auctionsTimer = null;
  const auctionsSoon = () => {
    clearTimeout(auctionsTimer);
    auctionsTimer = setTimeout(loadAuctions, 200);
  };
  new Feed(isProvince ? "/ws/regulator" : "/ws/private", {
    token: session.token,
    onStatus: (s) => {
      status(s);
      if (s === "live") {
        loadAuctions();
        loadBlocks();
      }
    },
    onAuthFailed: () => document.dispatchEvent(new CustomEvent("emx:unauthorized")),
    onMessage: (m) => {
      if (m.type === "trade" && m.data && m.data.kind === TRADE_KIND.BLOCK) {
        // the province's feed reports an accepted block trade as a trade
        loadBlocks();
      } else if (m.type === "bid" || m.type === "auction") {
        auctionsSoon();
        if (m.type === "bid" && m.data && (m.data.status === "won" || m.data.status === "lost")) {
          const text = t(`au.result_${m.data.status}`, { id: m.data.auction_id, q: tonnes(m.data.awarded_quantity ?? "0") });
          toast(text, m.data.status === "won" ? "ok" : "info");
          notify(t("au.result_notify_h"), text);
        }
      } else if (m.type === "block_trade" && m.data) {
        const before = state.blocks.find((x) => x.id === m.data.id);
        upsertBlock(m.data, true);
        if (!before && m.data.buyer_account_id === me && m.data.status === "pending") {
          const text = t("bt.incoming", { id: m.data.id, seller: m.data.seller_account_id, q: tonnes(m.data.quantity), p: perTonne(m.data.price) });
          toast(text, "info");
          notify(t("bt.notify_h"), text);
        } else if (before && before.status !== m.data.status) {
          toast(t("bt.changed", { id: m.data.id, status: label("btstatus", m.data.status) }), "info");
        }
      }
    },
  });
  if (isProvince) {
    setInterval(() => { if (state.auctions.some((a) => a.status === "open")) loadAuctions(); }, PROVINCE_BID_POLL_MS);
  } else setInterval(loadAuctions, ENTERPRISE_AUCTION_POLL_MS);

  loadInstruments();
  loadReserve();
}
