// Regulator dashboard: province (everything) and city bureaus (their own city), kept live
// from /ws/regulator.
import { get, post, put, download, Feed } from "./api.js";
import { exportBar } from "./exports.js";
import { parseScaled, formatScaled, groupDigits, ratio } from "./decimal.js";
import {
  h, $, $$, qty, cny, tonnes, yuan, perTonne, fmtDateTime, fmtTime, flash, unflash, flashError, errorRow, toast, notify,
  confirmDialog, renderHeader, requireRole, fillBody, labelCells, badge, feedStatus, formData, currentMonth, toMillis, t,
} from "./ui.js";
import { CITY_CODES, CITY_TILES, cityName, PRIORITY_CODES, METHOD_CODES, TRADE_KIND, label } from "./labels.js";
import { intFormat } from "./i18n.js";

const ALERT_STATUSES = ["open", "acknowledged"];
const ALERT_KINDS = ["self_trade_blocked", "price_band_rejection", "large_price_move", "concentration", "order_to_cancel_ratio", "block_trade_off_market"];
const SUBMISSION_BADGE = { submitted: "ok", late: "warn", missing: "danger" };

/** The month before this one in Asia/Shanghai (the last finished month), YYYY-MM. */
function previousMonth() {
  const [y, m] = currentMonth().split("-").map(Number);
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
}

const DAY = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" });
/** An API time's day in Asia/Shanghai, YYYY-MM-DD (as the API's from/to filters read dates). */
function shanghaiDay(x) {
  const ms = toMillis(x);
  return Number.isFinite(ms) ? DAY.format(new Date(ms)) : "";
}

const session = requireRole(["province", "city_bureau"]);
if (session) {
  renderHeader("regulator");
  main();
}

function main() {
  const isProvince = session.role === "province";
  const myCity = session.city_code;
  const state = { instruments: [], symbol: null, ledger: [], alerts: [], trades: [], reductions: [], reallocations: null, barChart: null, view: "map" };

  for (const el of $$("[data-role]")) el.hidden = el.dataset.role !== session.role;
  $("#reg-title").textContent = isProvince ? t("rg.h_province") : t("rg.h_city", { city: cityName(myCity) });
  $("#reg-sub").textContent = isProvince ? t("rg.sub_province") : t("rg.sub_city");
  document.title = `${$("#reg-title").textContent} · ${t("brand.name")}`;
  $("#reg-feed-status").textContent = t("feed.connecting");

  // ---------- selects ----------
  const cityOptions = (sel, cities, selected) => sel.replaceChildren(...cities.map((c) => h("option", { value: c, selected: c === selected }, `${c} ${cityName(c)}`)));
  cityOptions($("#m-city"), isProvince ? CITY_CODES : [myCity], myCity || "440100");
  cityOptions($("#floor-city"), CITY_CODES);
  $("#m-month").value = currentMonth();
  $("#sb-month").value = previousMonth();
  for (const k of ["all", ...ALERT_STATUSES]) $("#af-status").append(h("option", { value: k === "all" ? "" : k }, k === "all" ? t("rg.all") : label("alstatus", k)));
  for (const k of ["all", ...ALERT_KINDS]) $("#af-kind").append(h("option", { value: k === "all" ? "" : k }, k === "all" ? t("rg.all") : label("alert", k)));

  // ---------- exports ----------
  const symbolParam = () => (state.symbol ? { symbol: state.symbol } : {});
  $("#ledger-export-slot").replaceWith(exportBar({ id: "ledger-export", path: "/ledger/cities", name: "ledger", params: symbolParam }));
  $("#alerts-export-slot").replaceWith(exportBar({ id: "alerts-export", path: "/surveillance/alerts", name: "alerts", params: alertFilterParams }));
  if (isProvince) $("#trades-export-slot").replaceWith(exportBar({ id: "trades-export", path: "/trades", name: "trades" }));
  for (const k of METHOD_CODES) $("#v-method").append(h("option", { value: k }, label("method", k)));
  for (const k of PRIORITY_CODES) $("#ra-priority").append(h("option", { value: k }, label("priority", k)));

  // ---------- instruments, market control ----------
  async function loadInstruments() {
    try {
      const r = await get("/instruments", { auth: false });
      state.instruments = r.items || [];
    } catch (e) {
      flashError($("#ledger-msg"), e);
      return;
    }
    const keep = state.symbol || localStorage.getItem("emx.symbol");
    const syms = state.instruments.map((i) => i.symbol);
    state.symbol = syms.includes(keep) ? keep : syms[0] || null;
    for (const sel of [$("#ledger-symbol"), $("#ra-symbol")]) {
      sel.replaceChildren(...state.instruments.map((i) => h("option", { value: i.symbol, selected: i.symbol === state.symbol }, `${i.symbol} · ${i.pollutant}`)));
    }
    renderControl();
  }

  function renderControl() {
    if (!isProvince) return;
    fillBody($("#market-control tbody"), state.instruments.map((i) => h("tr", { dataset: { symbol: i.symbol } },
      h("td", {}, h("strong", {}, i.symbol), " ", h("span", { class: "muted small" }, i.pollutant)),
      h("td", {}, badge(label("mstatus", i.status), i.status === "open" ? "ok" : "danger")),
      h("td", { class: "num" }, cny(i.reference_price)),
      h("td", { class: "num" }, `±${i.price_band_pct}%`),
      // an expired instrument no longer trades: nothing to halt, resume or close
      h("td", { class: "row-actions" }, i.status === "expired" ? "" : h("div", { class: "actions" },
        i.status === "halted"
          ? h("button", { type: "button", class: "btn btn-sm btn-primary", onclick: (e) => control(i, "resume", e.currentTarget) }, t("rg.resume"))
          : h("button", { type: "button", class: "btn btn-sm btn-danger", onclick: (e) => control(i, "halt", e.currentTarget) }, t("rg.halt")),
        h("button", { type: "button", class: "btn btn-sm", title: t("op.sessions_note"), onclick: (e) => control(i, "close-session", e.currentTarget) }, t("op.close_session")))))),
    t("op.no_instruments"));
    labelCells($("#market-control"));
  }

  async function control(inst, action, btn) {
    const key = { halt: "halt", resume: "resume", "close-session": "close" }[action];
    const ok = await confirmDialog({
      title: t(`rg.confirm_${key}_h`, { symbol: inst.symbol }),
      note: t(`rg.confirm_${key}_note`),
      confirmText: t(`rg.confirm_${key}_ok`), danger: action === "halt",
    });
    if (!ok) return;
    btn.disabled = true;
    try {
      await post(`/market/${encodeURIComponent(inst.symbol)}/${action}`, {});
      flash($("#control-msg"), "ok", t(`rg.done_${key}`, { symbol: inst.symbol }));
      await loadInstruments();
    } catch (e) {
      flashError($("#control-msg"), e);
      btn.disabled = false;
    }
  }

  async function loadFees() {
    if (!isProvince) return;
    try {
      const f = await get("/accounts/fees");
      const cash = f.cash || f;
      const bal = cash.available ?? cash.balance ?? f.balance;
      $("#fees-line").replaceChildren(t("rg.fees"), " ", h("strong", {}, yuan(bal)));
    } catch {
      $("#fees-line").textContent = "";
    }
  }

  // ---------- ledger ----------
  $("#ledger-symbol").addEventListener("change", (e) => {
    state.symbol = e.target.value;
    localStorage.setItem("emx.symbol", state.symbol);
    loadLedger();
    loadSubmissions();
  });

  async function loadLedger() {
    if (!state.symbol) return;
    try {
      const r = await get(`/ledger/cities?symbol=${encodeURIComponent(state.symbol)}`);
      state.ledger = (r.items || []).slice().sort((a, b) => String(a.city_code).localeCompare(String(b.city_code)));
      $("#ledger-msg").hidden = true;
      $("#ledger-updated").textContent = t("rg.updated", { time: fmtTime(Date.now()) });
      delete $("#ledger-updated").dataset.seen;
    } catch (e) {
      flashError($("#ledger-msg"), e);
      state.ledger = [];
    }
    renderLedger();
    renderKpis();
  }
  // the feed says something moved: one reload for a burst of messages
  let ledgerTimer = null;
  const ledgerSoon = () => {
    clearTimeout(ledgerTimer);
    ledgerTimer = setTimeout(loadLedger, 400);
  };

  const sum = (rows, key) => rows.reduce((acc, r) => acc + (parseScaled(String(r[key] ?? "0").replace(/^-/, ""), 3) ?? 0n) * (String(r[key] ?? "").startsWith("-") ? -1n : 1n), 0n);

  function renderLedger() {
    const rows = state.ledger;
    fillBody($("#ledger tbody"), rows.map((r) => h("tr", { dataset: { city: r.city_code } },
      h("td", {}, h("span", { class: "muted small city-code" }, r.city_code), " ", cityName(r.city_code)),
      h("td", { class: "num" }, qty(r.added)),
      h("td", { class: "num" }, qty(r.used)),
      h("td", { class: "num" }, qty(r.transferred_in)),
      h("td", { class: "num" }, qty(r.transferred_out)),
      h("td", { class: "num strong" }, qty(r.remaining)))), t("rg.ledger_none"));
    const foot = $("#ledger tfoot");
    foot.replaceChildren();
    if (rows.length > 1) {
      foot.append(h("tr", { class: "strong" }, h("td", {}, t("rg.province_total")),
        ...["added", "used", "transferred_in", "transferred_out", "remaining"].map((k) => h("td", { class: "num" }, groupDigits(formatScaled(sum(rows, k), 3))))));
    }
    renderMap();
    if (state.view === "bars") renderBars();
  }

  function renderKpis() {
    const rows = state.ledger;
    const k = (title, value, id) => h("div", { class: "kpi" }, h("div", { class: "k" }, title), h("div", { class: "v", id }, value));
    const items = [
      k(t("rg.kpi_added"), groupDigits(formatScaled(sum(rows, "added"), 3))),
      k(t("rg.kpi_used"), groupDigits(formatScaled(sum(rows, "used"), 3))),
      k(t("rg.kpi_remaining"), groupDigits(formatScaled(sum(rows, "remaining"), 3))),
    ];
    if (isProvince) items.push(k(t("rg.kpi_alerts"), String(state.alerts.filter((a) => (a.status || "open") === "open").length), "kpi-alerts"));
    else items.push(k(t("rg.kpi_pending"), String(state.reductions.filter((r) => r.status === "pending").length)));
    $("#kpis").replaceChildren(...items);
  }

  function renderMap() {
    const byCode = Object.fromEntries(state.ledger.map((r) => [r.city_code, r]));
    const vals = state.ledger.map((r) => parseScaled(String(r.remaining).replace(/^-/, ""), 3) ?? 0n);
    const max = vals.reduce((a, b) => (a > b ? a : b), 0n);
    const tiles = CITY_CODES.map((code) => {
      const [col, row] = CITY_TILES[code];
      const r = byCode[code];
      if (r) {
        const neg = String(r.remaining).startsWith("-");
        const v = parseScaled(String(r.remaining).replace(/^-/, ""), 3) ?? 0n;
        const f = neg ? 0 : ratio(v, max);
        const added = parseScaled(String(r.added), 3) ?? 0n;
        const low = neg || (added > 0n && v * 10n < added);
        return h("div", {
          class: `tile${low ? " low" : ""}`, style: `grid-column:${col};grid-row:${row};background:hsl(203 ${35 + f * 40}% ${94 - f * 50}%);color:${f > 0.55 ? "#fff" : "#0d2438"}`,
          title: t("rg.tile_title", { city: cityName(code), remaining: qty(r.remaining), added: qty(r.added), used: qty(r.used), in: qty(r.transferred_in), out: qty(r.transferred_out) }),
        }, h("div", { class: "zh" }, cityName(code)), h("div", { class: "v" }, qty(r.remaining)));
      }
      return h("div", { class: "tile tile-empty", style: `grid-column:${col};grid-row:${row}`, title: cityName(code) },
        h("div", { class: "zh" }, cityName(code)), h("div", { class: "v" }, "—"));
    });
    $("#tilemap").replaceChildren(...tiles);
    $("#map-legend").replaceChildren(
      h("span", {}, h("span", { class: "sw sw-less" }), t("rg.legend_less")),
      h("span", {}, h("span", { class: "sw sw-more" }), t("rg.legend_more")),
      h("span", {}, h("span", { class: "sw sw-low" }), t("rg.legend_low")),
      h("span", {}, t("rg.legend_geo")));
  }

  function renderBars() {
    const Chart = window.Chart;
    if (!Chart) return;
    const rows = state.ledger.slice().sort((a, b) => Number(b.remaining) - Number(a.remaining));
    const labels = rows.map((r) => cityName(r.city_code));
    // Chart.js plots JS numbers: used for drawing only; the table shows the exact strings.
    const remaining = rows.map((r) => Number(r.remaining));
    const used = rows.map((r) => Number(r.used));
    const wrap = $("#bars-wrap");
    wrap.style.height = `${Math.max(220, rows.length * 26 + 60)}px`;
    const data = { labels, datasets: [
      { label: t("rg.remaining"), data: remaining, backgroundColor: "#1f77b4" },
      { label: t("rg.used"), data: used, backgroundColor: "#b8c4d1" },
    ] };
    if (state.barChart) {
      state.barChart.data = data;
      state.barChart.update();
      return;
    }
    state.barChart = new Chart($("#bars"), {
      type: "bar",
      data,
      options: {
        indexAxis: "y", responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { position: "bottom" }, tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${t("fmt.tonnes", { q: c.parsed.x.toFixed(3) })}` } } },
        scales: { x: { beginAtZero: true, ticks: { callback: (v) => intFormat.format(v) }, title: { display: true, text: t("tr.qty_unit") } } },
      },
    });
  }

  function setView(v) {
    state.view = v;
    $("#view-map").classList.toggle("on", v === "map");
    $("#view-bars").classList.toggle("on", v === "bars");
    $("#view-map").setAttribute("aria-pressed", String(v === "map"));
    $("#view-bars").setAttribute("aria-pressed", String(v === "bars"));
    $("#tilemap").hidden = v !== "map";
    $("#map-legend").hidden = v !== "map";
    $("#bars-wrap").hidden = v !== "bars";
    if (v === "bars") renderBars();
  }
  $("#view-map").addEventListener("click", () => setView("map"));
  $("#view-bars").addEventListener("click", () => setView("bars"));

  $("#floor-form").addEventListener("input", () => unflash($("#floor-msg")));
  $("#floor-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const city = $("#floor-city").value, quantity = $("#floor-qty").value.trim();
    if (!quantity) { flash($("#floor-msg"), "error", t("rg.floor_need")); return; }
    try {
      await put(`/ledger/cities/${encodeURIComponent(city)}/floor`, { symbol: state.symbol, quantity });
      flash($("#floor-msg"), "ok", t("rg.floor_done", { city: cityName(city), q: qty(quantity), symbol: state.symbol }));
    } catch (e) {
      flashError($("#floor-msg"), e);
    }
  });

  // ---------- live trades and alerts ----------
  const party = (p) => p ? h("span", {}, p.name || p.account_id, h("div", { class: "small muted" }, `${p.account_id ?? ""} · ${cityName(p.city_code)}`)) : "—";

  function tradeRow(x, fresh) {
    const cross = x.buyer && x.seller && x.buyer.city_code !== x.seller.city_code;
    return h("tr", { class: fresh ? "fresh" : null, dataset: { tradeId: x.id } },
      h("td", { class: "muted" }, fmtTime(x.time)),
      h("td", {}, x.symbol || "—", x.kind === TRADE_KIND.BLOCK ? h("div", {}, badge(t("mkt.block"), "info")) : null),
      h("td", { class: `num ${x.taker_side === "buy" ? "up" : x.taker_side === "sell" ? "down" : ""}` }, cny(x.price)),
      h("td", { class: "num" }, qty(x.quantity)),
      h("td", {}, party(x.buyer)),
      h("td", {}, party(x.seller)),
      h("td", {}, cross ? badge(`${cityName(x.seller.city_code)} → ${cityName(x.buyer.city_code)}`, "info") : h("span", { class: "muted small" }, t("rg.same_city"))));
  }

  function renderTrades(freshId) {
    fillBody($("#live-trades tbody"), state.trades.slice(0, 200).map((x) => tradeRow(x, x.id === freshId)), t("rg.waiting_trades"));
    labelCells($("#live-trades"));
  }

  function alertRow(a, fresh) {
    const acked = a.status === "acknowledged";
    const mayAck = !acked && (isProvince || a.city_code === myCity);
    return h("tr", { class: `alert-row${fresh ? " fresh" : ""}`, dataset: { alertKey: alertKey(a), status: a.status || "open" } },
      h("td", { class: "muted" }, fmtDateTime(a.time)),
      h("td", {}, label("alert", a.kind), a.symbol ? h("div", { class: "small muted" }, a.symbol) : null),
      h("td", {}, a.account_id ?? "—", a.city_code ? h("div", { class: "small muted" }, cityName(a.city_code)) : null),
      h("td", { class: "small" }, alertDetail(a)),
      h("td", {}, badge(label("alstatus", a.status || "open"), acked ? "ok" : "warn"),
        acked ? h("div", { class: "small muted ack-by" }, t("al.acked_by", { who: a.acknowledged_by ?? "—", time: fmtDateTime(a.acknowledged_at) }), a.note ? h("div", {}, a.note) : null) : null),
      h("td", { class: "row-actions" }, mayAck
        ? h("div", { class: "actions" }, h("button", { type: "button", class: "btn btn-sm btn-primary", dataset: { ack: alertKey(a) }, onclick: () => openAck(a) }, t("al.ack")))
        : ""));
  }

  /** The filter as query parameters (for the list and the export). */
  function alertFilterParams() {
    const q = {};
    for (const [k, el] of [["status", $("#af-status")], ["kind", $("#af-kind")], ["from", $("#af-from")], ["to", $("#af-to")]]) if (el.value) q[k] = el.value;
    return q;
  }

  /** Whether an alert that arrives on the feed belongs in the list as filtered. */
  function matchesFilter(a) {
    const f = alertFilterParams();
    if (f.status && (a.status || "open") !== f.status) return false;
    if (f.kind && a.kind !== f.kind) return false;
    const day = shanghaiDay(a.time);
    if (f.from && day < f.from) return false;
    if (f.to && day > f.to) return false;
    return true;
  }

  $("#alert-filters").addEventListener("change", () => {
    const f = alertFilterParams();
    if (f.from && f.to && f.from > f.to) { flash($("#alerts-msg"), "error", t("ex.bad_period")); return; }
    unflash($("#alerts-msg"));
    state.alerts = [];
    loadAlerts();
  });

  let acking = null;
  function openAck(a) {
    acking = a;
    $("#ack-kv").replaceChildren(
      h("dt", {}, t("rg.alert_kind")), h("dd", {}, label("alert", a.kind)),
      h("dt", {}, t("col.time")), h("dd", {}, fmtDateTime(a.time)),
      h("dt", {}, t("op.col_account")), h("dd", {}, [a.account_id ?? "—", a.city_code ? cityName(a.city_code) : null].filter(Boolean).join(" · ")),
      h("dt", {}, t("rg.alert_detail")), h("dd", {}, alertDetail(a)));
    $("#ack-note").value = "";
    $("#ack-msg").hidden = true;
    $("#ack-dialog").showModal();
  }
  $("#ack-cancel").addEventListener("click", () => $("#ack-dialog").close());
  $("#ack-form").addEventListener("input", () => unflash($("#ack-msg")));
  $("#ack-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const note = $("#ack-note").value.trim();
    if (!note) { flash($("#ack-msg"), "error", t("al.note_need")); return; }
    const btn = $("#ack-submit");
    btn.disabled = true;
    try {
      const r = await post(`/surveillance/alerts/${encodeURIComponent(acking.id)}/acknowledge`, { note });
      $("#ack-dialog").close();
      applyAck(r);
      toast(t("al.acked"), "ok");
    } catch (e) {
      flashError($("#ack-msg"), e);
      if (e.code === "already_acknowledged") loadAlerts();
    } finally {
      btn.disabled = false;
    }
  });

  /** An acknowledgement (ours, or one made elsewhere and sent by the feed). */
  function applyAck(d) {
    const key = alertKey(d);
    const a = state.alerts.find((x) => alertKey(x) === key);
    if (!a) return;
    Object.assign(a, { status: "acknowledged", acknowledged_by: d.acknowledged_by, acknowledged_at: d.acknowledged_at, note: d.note });
    if (!matchesFilter(a)) state.alerts = state.alerts.filter((x) => x !== a);
    renderAlerts(key);
  }

  /** An alert's detail in words, tonnes and yuan (the raw figures are fen, kg and basis points). */
  function alertDetail(a) {
    const d = a.detail;
    if (d === null || d === undefined || typeof d !== "object") return d ? String(d) : "";
    const parts = [];
    for (const [k, v] of Object.entries(d)) {
      if (v === null || typeof v === "object") continue;
      const whole = /^-?\d+$/.test(String(v));
      let key = k, val = String(v);
      if (k.endsWith("_fen") && whole) { key = k.slice(0, -4); val = perTonne(formatScaled(BigInt(v), 2)); }
      else if (k.endsWith("_kg") && whole) { key = k.slice(0, -3); val = tonnes(formatScaled(BigInt(v), 3)); }
      else if (k.endsWith("_bps") && whole) { key = k.slice(0, -4); val = t("fmt.percent", { p: formatScaled(BigInt(v), 2) }); }
      else if (!whole) val = label("adetailv", val);
      parts.push(t("rg.detail_pair", { k: label("adetail", key), v: val }));
    }
    return parts.join(" · ");
  }

  // (seq, ordinal) names an alert in the journal, on REST and on the feed alike
  const alertKey = (a) => `${a.seq}|${a.ordinal ?? 0}`;

  function renderAlerts(freshId) {
    fillBody($("#alerts tbody"), state.alerts.slice(0, 300).map((a) => alertRow(a, alertKey(a) === freshId)), t("rg.no_alerts"));
    labelCells($("#alerts"));
    const open = String(state.alerts.filter((a) => (a.status || "open") === "open").length);
    $("#alert-count").textContent = open;
    const k = $("#kpi-alerts");
    if (k) k.textContent = open;
  }

  async function loadTrades() {
    try {
      const r = await get("/trades?limit=200");
      const byId = new Map(state.trades.map((x) => [x.id, x]));
      for (const x of r.items || []) if (!byId.has(x.id)) byId.set(x.id, x);
      state.trades = [...byId.values()].sort((a, b) => String(b.time).localeCompare(String(a.time)));
      renderTrades();
    } catch (e) {
      fillBody($("#live-trades tbody"), [errorRow(e, 7)]);
    }
  }

  async function loadAlerts() {
    try {
      const r = await get(`/surveillance/alerts?${new URLSearchParams({ ...alertFilterParams(), limit: "500" })}`);
      const byId = new Map((r.items || []).map((a) => [alertKey(a), a]));
      for (const a of state.alerts) if (!byId.has(alertKey(a))) byId.set(alertKey(a), a);
      state.alerts = [...byId.values()].sort((a, b) => String(b.time).localeCompare(String(a.time)));
      renderAlerts();
    } catch (e) {
      fillBody($("#alerts tbody"), [errorRow(e, 6)]);
    }
  }

  const regStatus = feedStatus($("#reg-feed-status"));
  new Feed("/ws/regulator", {
    token: session.token,
    onStatus: (s) => {
      regStatus(s);
      if (s === "live") {
        // (re)connected: what happened while away comes from REST (a bureau has no
        // trade list of its own: its panel fills from the feed)
        if (isProvince) loadTrades();
        loadAlerts();
        loadSubmissions();
        loadLedger();
        loadReductions();
      }
    },
    onAuthFailed: () => document.dispatchEvent(new CustomEvent("emx:unauthorized")),
    onMessage: (m) => {
      if (m.type === "trade" && m.data) {
        const x = { symbol: m.symbol, ...m.data };
        if (!state.trades.some((y) => y.id === x.id)) {
          state.trades.unshift(x);
          state.trades.length = Math.min(state.trades.length, 500);
          renderTrades(x.id);
        }
        ledgerSoon();
      } else if (m.type === "alert" && m.data) {
        const key = alertKey(m.data);
        if (state.alerts.some((x) => alertKey(x) === key)) return;
        // a bureau's feed carries its own city's alerts only
        if (!isProvince && !m.data.city_code) m.data.city_code = myCity;
        if (matchesFilter(m.data)) {
          state.alerts.unshift(m.data);
          renderAlerts(key);
        }
        const text = t("rg.alert_toast", { kind: label("alert", m.data.kind), account: m.data.account_id ?? "—" });
        toast(text, "error");
        notify(t("rg.alert_notify_h"), text);
      } else if (m.type === "alert_ack" && m.data) {
        applyAck(m.data);
      } else if (m.type === "auction" && m.data) {
        toast(t("al.auction_cleared", { id: m.data.id, q: tonnes(m.data.sold_quantity) }), "info");
        ledgerSoon();
      } else if (m.type !== "error") {
        // any other movement the feed reports (verifications, allocations, reallocations)
        ledgerSoon();
        if (/reduction|claim/.test(m.type)) loadReductions();
      }
    },
  });

  // ---------- reductions ----------
  for (const r of $$("input[name=red-filter]")) r.addEventListener("change", renderReductions);

  async function loadReductions() {
    try {
      const r = await get("/reductions?limit=1000");
      state.reductions = r.items || [];
      $("#red-msg").hidden = true;
    } catch (e) {
      flashError($("#red-msg"), e);
    }
    renderReductions();
    renderKpis();
  }

  function renderReductions() {
    const all = $("#rf-all").checked;
    const rows = state.reductions.filter((r) => all || r.status === "pending")
      .sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    fillBody($("#pending-reductions tbody"), rows.map((r) => h("tr", { dataset: { reductionId: r.id } },
      h("td", { class: "muted" }, fmtDateTime(r.created_at)),
      h("td", {}, h("code", {}, r.id), " ", r.symbol || "", h("div", { class: "small muted" }, r.description || "")),
      h("td", {}, cityName(r.city_code)),
      h("td", {}, r.account_id ?? (r.city_code ? t("rg.city_pool") : "—")),
      h("td", {}, label("source", r.source_kind)),
      h("td", { class: "num" }, qty(r.quantity)),
      h("td", { class: "small" }, r.evidence || "—"),
      h("td", {}, badge(label("status", r.status === "approved" ? "verified" : r.status) + (r.approved_quantity ? ` · ${tonnes(r.approved_quantity)}` : ""), r.status === "pending" ? "warn" : r.status === "rejected" ? "danger" : "ok")),
      h("td", { class: "row-actions" }, r.status === "pending" && (isProvince || r.city_code === myCity)
        ? h("div", { class: "actions" }, h("button", { type: "button", class: "btn btn-sm btn-primary", onclick: () => openVerify(r) }, t("rg.verify")))
        : ""))), all ? t("rg.red_none_all") : t("rg.red_none"));
    labelCells($("#pending-reductions"));
  }

  let verifying = null;
  function openVerify(r) {
    verifying = r;
    $("#verify-kv").replaceChildren(
      h("dt", {}, t("col.claim")), h("dd", {}, `${r.id} · ${r.symbol}`),
      h("dt", {}, t("col.city")), h("dd", {}, cityName(r.city_code)),
      h("dt", {}, t("op.col_account")), h("dd", {}, r.account_id ?? t("rg.city_pool")),
      h("dt", {}, t("col.source")), h("dd", {}, label("source", r.source_kind)),
      h("dt", {}, t("rg.claimed")), h("dd", {}, tonnes(r.quantity)),
      h("dt", {}, t("tr.red_desc")), h("dd", {}, r.description || "—"),
      h("dt", {}, t("tr.red_evidence")), h("dd", {}, r.evidence || "—"));
    $("#v-approve").checked = true;
    $("#v-qty").value = r.quantity;
    $("#v-qty").disabled = false;
    $("#v-note").value = "";
    $("#v-msg").hidden = true;
    $("#verify-dialog").showModal();
  }
  for (const r of $$("#verify-form input[name=decision]")) r.addEventListener("change", () => { $("#v-qty").disabled = $("#v-reject").checked; });
  $("#verify-form").addEventListener("input", () => unflash($("#v-msg")));
  $("#verify-form").addEventListener("change", () => unflash($("#v-msg")));
  $("#v-cancel").addEventListener("click", () => $("#verify-dialog").close());
  $("#verify-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = verifying;
    const decision = $("#v-approve").checked ? "approve" : "reject";
    const body = { decision, method: $("#v-method").value, note: $("#v-note").value.trim() };
    if (decision === "approve") body.approved_quantity = $("#v-qty").value.trim();
    const btn = ev.currentTarget.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      await post(`/reductions/${encodeURIComponent(r.id)}/verify`, body);
      $("#verify-dialog").close();
      toast(decision === "approve" ? t("rg.v_approved", { id: r.id, q: qty(body.approved_quantity) }) : t("rg.v_rejected", { id: r.id }), "ok");
      loadReductions();
      loadLedger();
    } catch (e) {
      flashError($("#v-msg"), e);
      if (e.code === "already_verified") loadReductions();
    } finally {
      btn.disabled = false;
    }
  });

  // ---------- reallocations ----------
  async function loadReallocations() {
    const msg = $("#realloc-list-msg");
    msg.hidden = true;
    let items = [];
    try {
      const r = await get("/reallocations?limit=500");
      items = r.items || [];
    } catch (e) {
      flashError(msg, e);
    }
    state.reallocations = items;
    fillBody($("#reallocations tbody"), items.slice().sort((a, b) => String(b.created_at).localeCompare(String(a.created_at))).map((a) => h("tr", { dataset: { applicationId: a.id } },
      h("td", { class: "muted" }, fmtDateTime(a.created_at)),
      h("td", {}, h("code", {}, a.id), h("div", { class: "small muted" }, a.reason || "")),
      h("td", {}, cityName(a.city_code)),
      h("td", {}, a.project_id ?? "—"),
      h("td", {}, label("priority", a.priority_category)),
      h("td", { class: "num" }, qty(a.quantity)),
      h("td", {}, badge(label("status", a.status), a.status === "pending" ? "warn" : a.status === "rejected" ? "danger" : "ok")),
      h("td", { class: "row-actions" }, isProvince && a.status === "pending"
        ? h("div", { class: "actions" }, h("button", { type: "button", class: "btn btn-sm btn-primary", onclick: () => openDecide(a) }, t("rg.decide")))
        : ""))), t("rg.ra_none"));
    labelCells($("#reallocations"));
  }

  $("#realloc-form").addEventListener("input", () => unflash($("#ra-msg")));
  $("#realloc-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const body = formData(form);
    const msg = $("#ra-msg");
    for (const k of ["project_id", "quantity", "symbol", "priority_category", "reason"]) {
      if (!body[k]) { flash(msg, "error", t("common.fill_all")); return; }
    }
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const a = await post("/reallocations", body);
      flash(msg, "ok", t("rg.ra_done", { id: a.id }));
      form.reset();
      loadReallocations();
    } catch (e) {
      flashError(msg, e);
    } finally {
      btn.disabled = false;
    }
  });

  let deciding = null;
  function sourceRow(from = "", quantity = "") {
    const sel = h("select", { "aria-label": t("rg.d_from") },
      h("option", { value: "reserve" }, cityName("reserve")),
      CITY_CODES.map((c) => h("option", { value: c }, `${c} ${cityName(c)}`)));
    if (from) sel.value = from;
    const q = h("input", { "aria-label": t("col.qty_t"), inputmode: "decimal", value: quantity });
    const row = h("div", { class: "src" }, sel, q, h("button", { type: "button", class: "btn btn-sm", "aria-label": t("rg.d_remove"), onclick: () => { row.remove(); updateSum(); } }, "✕"));
    q.addEventListener("input", updateSum);
    return row;
  }
  function updateSum() {
    let total = 0n, bad = false;
    for (const i of $$("#d-sources input")) {
      const v = i.value.trim() ? parseScaled(i.value.trim(), 3) : 0n;
      if (v === null) bad = true;
      else total += v;
    }
    const want = deciding?.quantity ? parseScaled(deciding.quantity, 3) : null;
    const el = $("#d-sum");
    el.textContent = bad ? t("rg.d_bad") : t("rg.d_sum", { total: groupDigits(formatScaled(total, 3)), want: deciding?.quantity ? qty(deciding.quantity) : "—" });
    el.className = `small ${!bad && (want === null || total === want) ? "muted" : "up"}`;
  }

  async function openDecide(a) {
    deciding = a;
    const kv = $("#decide-kv");
    const base = [
      [t("rg.application"), a.id],
      [t("col.city"), cityName(a.city_code)],
      [t("col.priority"), label("priority", a.priority_category)],
      [t("rg.applied_for"), `${tonnes(a.quantity)} ${a.symbol || ""}`],
      [t("rg.ra_reason"), a.reason || "—"],
    ];
    const render = (extra) => kv.replaceChildren(...[...extra, ...base].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    render([[t("col.project"), a.project_id ?? "—"]]);
    // Suggest the city with the most remaining quota as the first source.
    const donors = state.ledger.filter((r) => r.city_code !== a.city_code)
      .sort((x, y) => Number(y.remaining) - Number(x.remaining));
    $("#d-sources").replaceChildren(sourceRow(donors[0]?.city_code || "reserve", a.quantity || ""));
    $("#d-approve").checked = true;
    $("#d-sources-box").disabled = false;
    $("#d-note").value = "";
    $("#d-msg").hidden = true;
    updateSum();
    $("#decide-dialog").showModal();
    if (!a.project_id) return;
    // the project itself: what it is, whose, where, and what it still needs
    try {
      const [p, owners] = await Promise.all([get(`/projects/${encodeURIComponent(a.project_id)}`), get("/accounts?role=enterprise").catch(() => ({ items: [] }))]);
      const owner = (owners.items || []).find((x) => x.id === p.owner_account_id);
      render([
        [t("col.project"), `${p.name} (${p.id})`],
        [t("rg.owner"), owner ? `${owner.name} (${p.owner_account_id})` : p.owner_account_id],
        [t("rg.project_city"), cityName(p.city_code)],
        [t("rg.project_priority"), label("priority", p.priority_category)],
        [t("rg.project_needs"), t("rg.project_needs_v", { out: qty(p.outstanding_quantity), req: qty(p.required_quantity), alloc: qty(p.allocated_quantity) })],
      ]);
      kv.dataset.projectLoaded = "1";
    } catch (e) {
      flashError($("#d-msg"), e);
    }
  }
  $("#d-add-source").addEventListener("click", () => { $("#d-sources").append(sourceRow()); updateSum(); });
  for (const r of $$("#decide-form input[name=decision]")) r.addEventListener("change", () => { $("#d-sources-box").disabled = $("#d-reject").checked; });
  $("#decide-form").addEventListener("input", () => unflash($("#d-msg")));
  $("#d-cancel").addEventListener("click", () => $("#decide-dialog").close());
  $("#decide-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const decision = $("#d-approve").checked ? "approve" : "reject";
    const body = { decision, note: $("#d-note").value.trim() };
    if (decision === "approve") {
      body.sources = $$("#d-sources .src").map((row) => ({ from: row.querySelector("select").value, quantity: row.querySelector("input").value.trim() }))
        .filter((s) => s.quantity);
    } else body.sources = [];
    const btn = ev.currentTarget.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      await post(`/reallocations/${encodeURIComponent(deciding.id)}/decide`, body);
      $("#decide-dialog").close();
      toast(t(decision === "approve" ? "rg.d_approved" : "rg.d_rejected", { id: deciding.id }), "ok");
      loadReallocations();
      loadLedger();
    } catch (e) {
      flashError($("#d-msg"), e);
    } finally {
      btn.disabled = false;
    }
  });

  // ---------- monthly report ----------
  $("#monthly-form").addEventListener("input", () => unflash($("#m-msg")));
  $("#monthly-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const city = $("#m-city").value, month = $("#m-month").value;
    const out = $("#monthly-out");
    $("#m-msg").hidden = true;
    if (!month) { flash($("#m-msg"), "error", t("rg.m_need_month")); return; }
    try {
      const sym = state.symbol ? `&symbol=${encodeURIComponent(state.symbol)}` : "";
      const r = await get(`/ledger/cities/${encodeURIComponent(city)}/monthly?month=${encodeURIComponent(month)}${sym}`);
      out.replaceChildren(renderMonthly(r));
    } catch (e) {
      out.replaceChildren();
      flashError($("#m-msg"), e);
    }
  });
  $("#m-csv").addEventListener("click", async () => {
    const city = $("#m-city").value, month = $("#m-month").value;
    if (!month) { flash($("#m-msg"), "error", t("rg.m_need_month")); return; }
    $("#m-msg").hidden = true;
    try {
      const sym = state.symbol ? `&symbol=${encodeURIComponent(state.symbol)}` : "";
      await download(`/ledger/cities/${encodeURIComponent(city)}/monthly?month=${encodeURIComponent(month)}&format=csv${sym}`, `ledger-${city}-${month}.csv`);
    } catch (e) {
      flashError($("#m-msg"), e);
    }
  });

  $("#m-xlsx").addEventListener("click", async () => {
    const city = $("#m-city").value, month = $("#m-month").value;
    if (!month) { flash($("#m-msg"), "error", t("rg.m_need_month")); return; }
    $("#m-msg").hidden = true;
    try {
      const sym = state.symbol ? `&symbol=${encodeURIComponent(state.symbol)}` : "";
      await download(`/ledger/cities/${encodeURIComponent(city)}/monthly?month=${encodeURIComponent(month)}&format=xlsx${sym}`, `ledger-${city}-${month}.xlsx`);
    } catch (e) {
      flashError($("#m-msg"), e);
    }
  });

  const MONTHLY_ROWS = ["opening_remaining", "added", "used", "transferred_in", "transferred_out", "closing_remaining"];
  function renderMonthly(r, prefix = "monthly") {
    const summary = h("table", { class: "monthly-summary", id: `${prefix}-summary` },
      h("caption", {}, t("rg.m_caption", { city: cityName(r.city_code), month: r.month, symbol: r.symbol || "" })),
      h("thead", {}, h("tr", {}, h("th", {}, t("rg.m_item")), h("th", { class: "num" }, t("col.qty_t")))),
      h("tbody", {}, MONTHLY_ROWS.map((k) => h("tr", { class: k.endsWith("remaining") ? "strong" : null },
        h("th", { scope: "row" }, t(`rg.m.${k}`)), h("td", { class: "num" }, qty(r[k]))))));
    const moves = r.movements || [];
    const movements = h("table", { class: "cards", id: `${prefix}-movements` },
      h("caption", {}, t("rg.m_movements", { n: String(moves.length) })),
      h("thead", {}, h("tr", {}, h("th", {}, t("col.time")), h("th", {}, t("rg.m_kind")), h("th", { class: "num" }, t("col.qty_t")), h("th", {}, t("rg.m_reference")), h("th", {}, t("rg.m_counterparty")))),
      h("tbody", {}, moves.length ? moves.map((mv) => h("tr", {},
        h("td", { class: "muted" }, fmtDateTime(mv.time)),
        h("td", {}, label("rg.m", mv.kind)),
        h("td", { class: "num" }, qty(mv.quantity)),
        h("td", {}, mv.reference || "—"),
        h("td", {}, mv.counterparty ? cityName(mv.counterparty) : "—")))
        : h("tr", { class: "empty" }, h("td", { colspan: 5 }, t("rg.m_no_movements")))));
    const box = h("div", { class: "monthly" }, summary, h("div", { class: "scroll table-wrap scroll-260" }, movements));
    labelCells(movements);
    return box;
  }

  // ---------- monthly submissions (每月报送) ----------
  const accountNames = new Map();
  async function loadAccountNames() {
    if (session.name) accountNames.set(session.account_id, session.name);
    if (!isProvince) return;
    try {
      const r = await get("/accounts?role=city_bureau");
      for (const a of r.items || []) accountNames.set(a.id, a.name);
    } catch {
      /* ids alone still say who */
    }
  }
  const who = (id) => (accountNames.has(id) ? `${accountNames.get(id)} (${id})` : id ?? "—");
  const shortSha = (sha) => h("code", { title: sha, class: "sha" }, sha ? `${sha.slice(0, 12)}…` : "—");
  const versionCells = (v) => [
    h("td", {}, who(v.submitted_by)),
    h("td", { class: "muted" }, fmtDateTime(v.submitted_at)),
    h("td", { class: "num" }, qty(v.figures?.closing_remaining)),
    h("td", { class: "small" }, v.correction_reason || "—"),
    h("td", {}, shortSha(v.csv_sha256)),
  ];
  const submission = { data: null };

  $("#sb-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadSubmissions(); });
  $("#sb-month").addEventListener("change", () => loadSubmissions());
  for (const r of $$("input[name=sb-filter]")) r.addEventListener("change", renderSubmissions);
  $("#sb-reason").addEventListener("input", () => { unflash($("#sb-submit-msg")); renderSubmitButton(); });

  async function loadSubmissions() {
    const month = $("#sb-month").value;
    unflash($("#sb-msg"));
    if (!month) { flash($("#sb-msg"), "error", t("rg.m_need_month")); return; }
    try {
      const sym = state.symbol ? `&symbol=${encodeURIComponent(state.symbol)}` : "";
      submission.data = await get(`/ledger/submissions?month=${encodeURIComponent(month)}${sym}`);
    } catch (e) {
      submission.data = null;
      flashError($("#sb-msg"), e);
    }
    renderSubmissions();
    if (!isProvince) loadPreview();
  }

  function renderSubmissions() {
    const d = submission.data;
    const items = d ? d.items || [] : [];
    $("#sb-due").textContent = d ? t("sb.due", { time: fmtDateTime(d.due_at) }) : "";
    const n = (st) => items.filter((i) => i.status === st).length;
    $("#sb-summary").textContent = d && isProvince ? t("sb.summary", { month: d.month, s: n("submitted"), l: n("late"), m: n("missing") }) : "";
    if (isProvince) {
      const f = $("input[name=sb-filter]:checked").value;
      const rows = items.filter((i) => f === "all" || i.status === f).map((i) => {
        const last = (i.versions || [])[i.versions.length - 1];
        return h("tr", { dataset: { city: i.city_code, status: i.status } },
          h("td", {}, h("span", { class: "muted small city-code" }, i.city_code), " ", cityName(i.city_code)),
          h("td", {}, badge(label("sbstatus", i.status), SUBMISSION_BADGE[i.status]), i.late ? h("div", { class: "small muted" }, label("sblate", i.late)) : null),
          h("td", { class: "num" }, String((i.versions || []).length)),
          ...(last ? versionCells(last) : [h("td", {}, "—"), h("td", {}, "—"), h("td", { class: "num" }, "—"), h("td", {}, "—"), h("td", {}, "—")]));
      });
      fillBody($("#sb-overview tbody"), rows, d ? t("sb.none_filtered") : t("sb.pick_month"));
      labelCells($("#sb-overview"));
      return;
    }
    const mine = items.find((i) => i.city_code === myCity);
    const versions = mine ? (mine.versions || []).slice().reverse() : [];
    fillBody($("#sb-versions tbody"), versions.map((v) => h("tr", { dataset: { version: v.version } },
      h("td", {}, t("sb.version_n", { n: v.version })), ...versionCells(v))), t("sb.no_versions"));
    labelCells($("#sb-versions"));
    if (mine) $("#sb-summary").replaceChildren(t("sb.mine", { month: d.month }), " ", badge(label("sbstatus", mine.status), SUBMISSION_BADGE[mine.status]),
      mine.late ? h("span", { class: "small muted" }, " ", label("sblate", mine.late)) : "");
    renderSubmitButton();
  }

  const submittedBefore = () => {
    const mine = (submission.data?.items || []).find((i) => i.city_code === myCity);
    return Boolean(mine && (mine.versions || []).length);
  };
  function renderSubmitButton() {
    const again = submittedBefore();
    const btn = $("#sb-submit");
    btn.textContent = again ? t("sb.correct") : t("sb.submit");
    $("#sb-reason").required = again;
    $("#sb-reason").closest(".field").hidden = !again;
    btn.disabled = !submission.data;
  }

  async function loadPreview() {
    const month = $("#sb-month").value;
    const out = $("#sb-preview");
    try {
      const sym = state.symbol ? `&symbol=${encodeURIComponent(state.symbol)}` : "";
      const r = await get(`/ledger/cities/${encodeURIComponent(myCity)}/monthly?month=${encodeURIComponent(month)}${sym}`);
      out.replaceChildren(renderMonthly(r, "sb-preview"));
    } catch (e) {
      out.replaceChildren();
      flashError($("#sb-msg"), e);
    }
  }

  $("#sb-submit").addEventListener("click", async (ev) => {
    const btn = ev.currentTarget;
    const month = $("#sb-month").value;
    const again = submittedBefore();
    const reason = $("#sb-reason").value.trim();
    const msg = $("#sb-submit-msg");
    if (again && !reason) { flash(msg, "error", t("sb.reason_need")); return; }
    const ok = await confirmDialog({
      title: t(again ? "sb.confirm_correct_h" : "sb.confirm_h", { city: cityName(myCity), month }),
      rows: again ? [[t("sb.reason"), reason]] : [],
      note: t("sb.confirm_note"),
      confirmText: again ? t("sb.correct") : t("sb.submit"),
    });
    if (!ok) return;
    btn.disabled = true;
    try {
      const body = { symbol: state.symbol || undefined };
      if (again) body.correction_reason = reason;
      const r = await post(`/ledger/cities/${encodeURIComponent(myCity)}/monthly/${encodeURIComponent(month)}/submit`, body);
      flash(msg, "ok", t("sb.done", { month: r.month, n: r.version }));
      $("#sb-reason").value = "";
      await loadSubmissions();
    } catch (e) {
      flashError(msg, e);
      btn.disabled = false;
    }
  });

  async function loadProjectsForApplication() {
    if (isProvince) return;
    try {
      const r = await get("/projects?limit=1000");
      $("#ra-projects").replaceChildren(...(r.items || []).map((p) => h("option", { value: p.id }, t("rg.ra_option", { name: p.name, q: qty(p.outstanding_quantity) }))));
    } catch {
      /* free text still works */
    }
  }

  // ---------- start ----------
  (async () => {
    // a bureau's trades panel fills from the feed alone: say it is waiting
    if (!isProvince) renderTrades();
    await loadInstruments();
    loadLedger();
    loadReductions();
    loadReallocations();
    loadProjectsForApplication();
    loadFees();
    await loadAccountNames();
    loadSubmissions();
    // halts and session closes are not on the regulator feed: the control table looks again
    setInterval(loadInstruments, 20_000);
  })();
}
