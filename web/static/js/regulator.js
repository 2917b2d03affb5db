// Regulator dashboard: province (everything) and city bureaus (their own city).
import { get, post, put, download, Feed } from "./api.js";
import { parseScaled, formatScaled, groupDigits, ratio } from "./decimal.js";
import { h, $, $$, qty, cny, fmtDateTime, fmtTime, flash, flashError, toast, renderHeader, requireRole, fillBody, badge, feedStatus, formData, currentMonth } from "./ui.js";
import { CITIES, CITY_TILES, cityName, cityShort, cityEn, SOURCE_KINDS, PRIORITY, METHODS, STATUS, ALERT_KINDS, label } from "./labels.js";

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
  $("#reg-title").textContent = isProvince ? "Provincial dashboard 省级监管" : `${cityName(myCity)} bureau 市级监管`;
  $("#reg-sub").textContent = isProvince
    ? "Guangdong Department of Ecology and Environment · live market, ledger, verification and reallocation"
    : "Your city's ledger, reductions to verify, applications to the province";

  // ---------- selects ----------
  const cityOptions = (sel, cities, selected) => sel.replaceChildren(...cities.map((c) => h("option", { value: c, selected: c === selected }, `${c} ${cityName(c)}`)));
  cityOptions($("#m-city"), isProvince ? CITIES.map((c) => c[0]) : [myCity], myCity || "440100");
  cityOptions($("#floor-city"), CITIES.map((c) => c[0]));
  $("#m-month").value = currentMonth();
  for (const [k, v] of Object.entries(METHODS)) $("#v-method").append(h("option", { value: k }, v));
  for (const [k, v] of Object.entries(PRIORITY)) $("#ra-priority").append(h("option", { value: k }, v));

  // ---------- instruments, market control ----------
  async function loadInstruments() {
    try {
      const r = await get("/instruments", { auth: false });
      state.instruments = r.items || [];
    } catch (e) {
      flashError($("#ledger-msg"), e);
      return;
    }
    const keep = state.symbol || sessionStorage.getItem("emx.symbol");
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
      h("td", {}, i.status === "halted" ? badge("Halted 暂停", "danger") : badge("Open 交易中", "ok")),
      h("td", { class: "num" }, cny(i.reference_price)),
      h("td", { class: "num" }, `±${i.price_band_pct}%`),
      h("td", {}, h("div", { class: "actions" },
        i.status === "halted"
          ? h("button", { type: "button", class: "btn btn-sm btn-primary", onclick: (e) => control(i, "resume", e.currentTarget) }, "Resume 恢复交易")
          : h("button", { type: "button", class: "btn btn-sm btn-danger", onclick: (e) => control(i, "halt", e.currentTarget) }, "Halt 暂停交易"),
        h("button", { type: "button", class: "btn btn-sm", title: "Expire DAY orders; the session's last price becomes the reference price", onclick: (e) => control(i, "close-session", e.currentTarget) }, "Close session 收市"))))),
    "No instruments listed.");
  }

  async function control(inst, action, btn) {
    const words = { halt: `Halt trading in ${inst.symbol}? New orders and amendments will be refused until you resume.`, resume: `Resume trading in ${inst.symbol}?`, "close-session": `Close the session for ${inst.symbol}? DAY orders expire and the last price becomes the reference price.` };
    if (!confirm(words[action])) return;
    btn.disabled = true;
    try {
      await post(`/market/${encodeURIComponent(inst.symbol)}/${action}`, {});
      flash($("#control-msg"), "ok", `${inst.symbol}: ${action.replace("-", " ")} done.`);
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
      $("#fees-line").replaceChildren("Exchange fee account 交易手续费账户: ", h("strong", {}, `${cny(bal)} CNY`));
    } catch {
      $("#fees-line").textContent = "";
    }
  }

  // ---------- ledger ----------
  $("#ledger-symbol").addEventListener("change", (e) => {
    state.symbol = e.target.value;
    sessionStorage.setItem("emx.symbol", state.symbol);
    loadLedger();
  });
  $("#ledger-refresh").addEventListener("click", loadLedger);

  async function loadLedger() {
    if (!state.symbol) return;
    try {
      const r = await get(`/ledger/cities?symbol=${encodeURIComponent(state.symbol)}`);
      state.ledger = (r.items || []).slice().sort((a, b) => String(a.city_code).localeCompare(String(b.city_code)));
      $("#ledger-msg").hidden = true;
    } catch (e) {
      flashError($("#ledger-msg"), e);
      state.ledger = [];
    }
    renderLedger();
    renderKpis();
  }

  const sum = (rows, key) => rows.reduce((acc, r) => acc + (parseScaled(String(r[key] ?? "0").replace(/^-/, ""), 3) ?? 0n) * (String(r[key] ?? "").startsWith("-") ? -1n : 1n), 0n);

  function renderLedger() {
    const rows = state.ledger;
    fillBody($("#ledger tbody"), rows.map((r) => h("tr", { dataset: { city: r.city_code } },
      h("td", {}, h("span", { class: "muted small" }, r.city_code), " ", cityEn(r.city_code), " ", h("span", { lang: "zh-Hans" }, cityShort(r.city_code))),
      h("td", { class: "num" }, qty(r.added)),
      h("td", { class: "num" }, qty(r.used)),
      h("td", { class: "num" }, qty(r.transferred_in)),
      h("td", { class: "num" }, qty(r.transferred_out)),
      h("td", { class: "num", style: "font-weight:650" }, qty(r.remaining)))), "No ledger entries for this instrument yet.");
    const foot = $("#ledger tfoot");
    foot.replaceChildren();
    if (rows.length > 1) {
      foot.append(h("tr", { style: "font-weight:700" }, h("td", {}, "Province 全省"),
        ...["added", "used", "transferred_in", "transferred_out", "remaining"].map((k) => h("td", { class: "num" }, groupDigits(formatScaled(sum(rows, k), 3))))));
    }
    renderMap();
    if (state.view === "bars") renderBars();
  }

  function renderKpis() {
    const rows = state.ledger;
    const k = (title, value, id) => h("div", { class: "kpi" }, h("div", { class: "k" }, title), h("div", { class: "v", id }, value));
    const items = [
      k(isProvince ? "Quota added 全省新增 (t)" : "Quota added 新增 (t)", groupDigits(formatScaled(sum(rows, "added"), 3))),
      k("Used by projects 已使用 (t)", groupDigits(formatScaled(sum(rows, "used"), 3))),
      k("Remaining 存余 (t)", groupDigits(formatScaled(sum(rows, "remaining"), 3))),
    ];
    if (isProvince) items.push(k("Surveillance alerts 监测预警", String(state.alerts.length), "kpi-alerts"));
    else items.push(k("Claims pending 待核定", String(state.reductions.filter((r) => r.status === "pending").length)));
    $("#kpis").replaceChildren(...items);
  }

  function renderMap() {
    const byCode = Object.fromEntries(state.ledger.map((r) => [r.city_code, r]));
    const vals = state.ledger.map((r) => parseScaled(String(r.remaining).replace(/^-/, ""), 3) ?? 0n);
    const max = vals.reduce((a, b) => (a > b ? a : b), 0n);
    const tiles = CITIES.map(([code]) => {
      const [col, row] = CITY_TILES[code];
      const r = byCode[code];
      let bg = "#eef2f7";
      let text = "—";
      let low = false;
      if (r) {
        const neg = String(r.remaining).startsWith("-");
        const v = parseScaled(String(r.remaining).replace(/^-/, ""), 3) ?? 0n;
        const f = neg ? 0 : ratio(v, max);
        bg = `hsl(203 ${35 + f * 40}% ${94 - f * 50}%)`;
        text = qty(r.remaining);
        const added = parseScaled(String(r.added), 3) ?? 0n;
        low = neg || (added > 0n && v * 10n < added);
        return h("div", {
          class: `tile${low ? " low" : ""}`, style: `grid-column:${col};grid-row:${row};background:${bg};color:${f > 0.55 ? "#fff" : "#0d2438"}`,
          title: `${cityName(code)} — remaining ${r.remaining} t (added ${r.added}, used ${r.used}, in ${r.transferred_in}, out ${r.transferred_out})`,
        }, h("div", { class: "zh", lang: "zh-Hans" }, cityShort(code)), h("div", { class: "en" }, cityEn(code)), h("div", { class: "v" }, text));
      }
      return h("div", { class: "tile", style: `grid-column:${col};grid-row:${row};background:${bg};color:#94a3b8`, title: cityName(code) },
        h("div", { class: "zh", lang: "zh-Hans" }, cityShort(code)), h("div", { class: "en" }, cityEn(code)), h("div", { class: "v" }, text));
    });
    $("#tilemap").replaceChildren(...tiles);
    $("#map-legend").replaceChildren(
      h("span", {}, h("span", { class: "sw", style: "background:hsl(203 35% 94%)" }), "less"),
      h("span", {}, h("span", { class: "sw", style: "background:hsl(203 75% 44%)" }), "more remaining"),
      h("span", {}, h("span", { class: "sw", style: "outline:2px solid var(--danger);background:#fff" }), "below 10% of added"),
      h("span", {}, "Tiles are placed roughly by geography. 按地理位置示意"));
  }

  function renderBars() {
    const Chart = window.Chart;
    if (!Chart) return;
    const rows = state.ledger.slice().sort((a, b) => Number(b.remaining) - Number(a.remaining));
    const labels = rows.map((r) => `${cityShort(r.city_code)} ${cityEn(r.city_code)}`);
    // Chart.js plots JS numbers: used for drawing only; the table shows the exact strings.
    const remaining = rows.map((r) => Number(r.remaining));
    const used = rows.map((r) => Number(r.used));
    const wrap = $("#bars-wrap");
    wrap.style.height = `${Math.max(220, rows.length * 26 + 60)}px`;
    const data = { labels, datasets: [
      { label: "Remaining 存余 (t)", data: remaining, backgroundColor: "#1f77b4" },
      { label: "Used 使用 (t)", data: used, backgroundColor: "#b8c4d1" },
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
        plugins: { legend: { position: "bottom" }, tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${c.parsed.x.toFixed(3)}` } } },
        scales: { x: { beginAtZero: true, title: { display: true, text: "tonnes 吨" } } },
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

  $("#floor-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const city = $("#floor-city").value, quantity = $("#floor-qty").value.trim();
    if (!quantity) { flash($("#floor-msg"), "error", "Enter the floor quantity."); return; }
    try {
      await put(`/ledger/cities/${encodeURIComponent(city)}/floor`, { symbol: state.symbol, quantity });
      flash($("#floor-msg"), "ok", `${cityName(city)} must now keep at least ${quantity} t of ${state.symbol}.`);
    } catch (e) {
      flashError($("#floor-msg"), e);
    }
  });

  // ---------- live trades and alerts (province) ----------
  const party = (p) => p ? h("span", {}, p.name || p.account_id, h("div", { class: "small muted" }, `${p.account_id ?? ""} · ${cityName(p.city_code)}`)) : "—";

  function tradeRow(t, fresh) {
    const cross = t.buyer && t.seller && t.buyer.city_code !== t.seller.city_code;
    return h("tr", { class: fresh ? "fresh" : null, dataset: { tradeId: t.id } },
      h("td", { class: "muted" }, fmtTime(t.time)),
      h("td", {}, t.symbol || "—"),
      h("td", { class: `num ${t.taker_side === "buy" ? "up" : t.taker_side === "sell" ? "down" : ""}` }, cny(t.price)),
      h("td", { class: "num" }, qty(t.quantity)),
      h("td", {}, party(t.buyer)),
      h("td", {}, party(t.seller)),
      h("td", {}, cross ? badge(`${cityShort(t.seller.city_code)} → ${cityShort(t.buyer.city_code)}`, "info") : h("span", { class: "muted small" }, "same city")));
  }

  function renderTrades(freshId) {
    fillBody($("#live-trades tbody"), state.trades.slice(0, 200).map((t) => tradeRow(t, t.id === freshId)), "Waiting for trades… 等待成交");
  }

  function alertRow(a, fresh) {
    return h("tr", { class: `alert-row${fresh ? " fresh" : ""}` },
      h("td", { class: "muted" }, fmtDateTime(a.time)),
      h("td", {}, label(ALERT_KINDS, a.kind), a.symbol ? h("div", { class: "small muted" }, a.symbol) : null),
      h("td", {}, a.account_id ?? "—"),
      h("td", { class: "small" }, detailText(a.detail)));
  }

  function detailText(d) {
    if (d === null || d === undefined) return "";
    if (typeof d !== "object") return String(d);
    return Object.entries(d).map(([k, v]) => `${k.replaceAll("_", " ")}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
  }

  // REST alerts carry an id, feed alerts do not: both carry kind, seq, account and symbol.
  const alertKey = (a) => `${a.kind}|${a.seq}|${a.account_id}|${a.symbol}`;

  function renderAlerts(freshId) {
    fillBody($("#alerts tbody"), state.alerts.slice(0, 300).map((a) => alertRow(a, alertKey(a) === freshId)), "No alerts. 暂无预警");
    $("#alert-count").textContent = String(state.alerts.length);
    const k = $("#kpi-alerts");
    if (k) k.textContent = String(state.alerts.length);
  }

  async function loadTrades() {
    try {
      const r = await get("/trades?limit=200");
      const byId = new Map(state.trades.map((t) => [t.id, t]));
      for (const t of r.items || []) if (!byId.has(t.id)) byId.set(t.id, t);
      state.trades = [...byId.values()].sort((a, b) => String(b.time).localeCompare(String(a.time)));
      renderTrades();
    } catch (e) {
      fillBody($("#live-trades tbody"), [h("tr", {}, h("td", { colspan: 7, class: "flash-error" }, e.describe ? e.describe() : String(e)))]);
    }
  }

  async function loadAlerts() {
    try {
      const r = await get("/surveillance/alerts?limit=500");
      const byId = new Map((r.items || []).map((a) => [alertKey(a), a]));
      for (const a of state.alerts) if (!byId.has(alertKey(a))) byId.set(alertKey(a), a);
      state.alerts = [...byId.values()].sort((a, b) => String(b.time).localeCompare(String(a.time)));
      renderAlerts();
    } catch (e) {
      fillBody($("#alerts tbody"), [h("tr", {}, h("td", { colspan: 4, class: "flash-error" }, e.describe ? e.describe() : String(e)))]);
    }
  }

  let ledgerTimer = null;
  if (isProvince) {
    const status = feedStatus($("#reg-feed-status"));
    new Feed("/ws/regulator", {
      token: session.token,
      onStatus: (s) => {
        status(s);
        if (s === "live") { loadTrades(); loadAlerts(); }
      },
      onAuthFailed: () => document.dispatchEvent(new CustomEvent("emx:unauthorized")),
      onMessage: (m) => {
        if (m.type === "trade" && m.data) {
          const t = { symbol: m.symbol, ...m.data };
          if (state.trades.some((x) => x.id === t.id)) return;
          state.trades.unshift(t);
          state.trades.length = Math.min(state.trades.length, 500);
          renderTrades(t.id);
          if (t.buyer && t.seller && t.buyer.city_code !== t.seller.city_code) {
            clearTimeout(ledgerTimer);
            ledgerTimer = setTimeout(loadLedger, 1500); // cross-city trades move the ledger
          }
        } else if (m.type === "alert" && m.data) {
          const key = alertKey(m.data);
          if (state.alerts.some((x) => alertKey(x) === key)) return;
          state.alerts.unshift(m.data);
          renderAlerts(key);
          toast(`Alert: ${label(ALERT_KINDS, m.data.kind)}`, "error");
        }
      },
    });
  }

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
      h("td", {}, r.account_id ?? (r.city_code ? "city pool 城市储备" : "—")),
      h("td", {}, label(SOURCE_KINDS, r.source_kind)),
      h("td", { class: "num" }, qty(r.quantity)),
      h("td", { class: "small" }, r.evidence || "—"),
      h("td", {}, badge(label(STATUS, r.status) + (r.approved_quantity ? ` · ${r.approved_quantity} t` : ""), r.status === "pending" ? "warn" : r.status === "rejected" ? "danger" : "ok")),
      h("td", {}, r.status === "pending" && (isProvince || r.city_code === myCity)
        ? h("div", { class: "actions" }, h("button", { type: "button", class: "btn btn-sm btn-primary", onclick: () => openVerify(r) }, "Verify 核定"))
        : ""))), all ? "No reduction claims." : "Nothing waiting for verification. 暂无待核定申请");
  }

  let verifying = null;
  function openVerify(r) {
    verifying = r;
    $("#verify-kv").replaceChildren(
      h("dt", {}, "Claim"), h("dd", {}, `${r.id} · ${r.symbol}`),
      h("dt", {}, "City"), h("dd", {}, cityName(r.city_code)),
      h("dt", {}, "Account"), h("dd", {}, r.account_id ?? "city pool"),
      h("dt", {}, "Source"), h("dd", {}, label(SOURCE_KINDS, r.source_kind)),
      h("dt", {}, "Claimed"), h("dd", {}, `${r.quantity} t`),
      h("dt", {}, "Description"), h("dd", {}, r.description || "—"),
      h("dt", {}, "Evidence"), h("dd", {}, r.evidence || "—"));
    $("#v-approve").checked = true;
    $("#v-qty").value = r.quantity;
    $("#v-qty").disabled = false;
    $("#v-note").value = "";
    $("#v-msg").hidden = true;
    $("#verify-dialog").showModal();
  }
  for (const r of $$("#verify-form input[name=decision]")) r.addEventListener("change", () => { $("#v-qty").disabled = $("#v-reject").checked; });
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
      toast(decision === "approve" ? `Claim ${r.id} approved: ${body.approved_quantity} t issued. 已核定` : `Claim ${r.id} rejected.`, "ok");
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
  const LOCAL_RA = `emx.reallocations.${session.account_id}`;
  const localRa = () => { try { return JSON.parse(localStorage.getItem(LOCAL_RA) || "[]"); } catch { return []; } };

  async function loadReallocations() {
    let items;
    const msg = $("#realloc-list-msg");
    msg.hidden = true;
    try {
      const r = await get("/reallocations?limit=500");
      items = r.items || [];
      $("#decide-by-id").hidden = true;
    } catch (e) {
      if (e.status === 404 || e.status === 405) {
        items = localRa();
        flash(msg, "info", isProvince
          ? "This server has no list of applications: open one by its id below."
          : "Applications filed from this browser:");
        $("#decide-by-id").hidden = !isProvince;
      } else {
        flashError(msg, e);
        items = [];
      }
    }
    state.reallocations = items;
    fillBody($("#reallocations tbody"), items.slice().sort((a, b) => String(b.created_at).localeCompare(String(a.created_at))).map((a) => h("tr", {},
      h("td", { class: "muted" }, fmtDateTime(a.created_at)),
      h("td", {}, h("code", {}, a.id), h("div", { class: "small muted" }, a.reason || "")),
      h("td", {}, cityName(a.city_code)),
      h("td", {}, a.project_id ?? "—"),
      h("td", {}, label(PRIORITY, a.priority_category)),
      h("td", { class: "num" }, qty(a.quantity)),
      h("td", {}, badge(label(STATUS, a.status), a.status === "pending" ? "warn" : a.status === "rejected" ? "danger" : "ok")),
      h("td", {}, isProvince && a.status === "pending"
        ? h("div", { class: "actions" }, h("button", { type: "button", class: "btn btn-sm btn-primary", onclick: () => openDecide(a) }, "Decide 审批"))
        : ""))), "No applications.");
  }

  $("#realloc-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const body = formData(form);
    const msg = $("#ra-msg");
    for (const k of ["project_id", "quantity", "symbol", "priority_category", "reason"]) {
      if (!body[k]) { flash(msg, "error", `Please fill in every field (${k}).`); return; }
    }
    const btn = form.querySelector("button[type=submit]");
    btn.disabled = true;
    try {
      const a = await post("/reallocations", body);
      const list = localRa().filter((x) => x.id !== a.id);
      list.unshift(a);
      localStorage.setItem(LOCAL_RA, JSON.stringify(list.slice(0, 200)));
      flash(msg, "ok", `Application ${a.id} filed with the province. 申请已提交`);
      form.reset();
      loadReallocations();
    } catch (e) {
      flashError(msg, e);
    } finally {
      btn.disabled = false;
    }
  });

  $("#decide-by-id").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = $("#decide-id").value.trim();
    if (id) openDecide({ id, status: "pending" });
  });

  let deciding = null;
  function sourceRow(from = "", quantity = "") {
    const sel = h("select", { "aria-label": "From 调出城市" },
      h("option", { value: "reserve" }, "Provincial reserve 省储备"),
      CITIES.map(([c]) => h("option", { value: c }, `${c} ${cityName(c)}`)));
    if (from) sel.value = from;
    const q = h("input", { "aria-label": "Quantity (t)", inputmode: "decimal", value: quantity, placeholder: "t" });
    const row = h("div", { class: "src" }, sel, q, h("button", { type: "button", class: "btn btn-sm", "aria-label": "Remove source", onclick: () => { row.remove(); updateSum(); } }, "✕"));
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
    el.textContent = bad ? "A quantity is not a valid amount (up to 3 decimals)."
      : `Sources add up to ${formatScaled(total, 3)} t${want !== null ? ` of ${deciding.quantity} t applied for` : ""}.`;
    el.className = `small ${!bad && (want === null || total === want) ? "muted" : "down"}`;
    if (!bad && want !== null && total !== want) el.className = "small up";
  }
  function openDecide(a) {
    deciding = a;
    $("#decide-kv").replaceChildren(
      h("dt", {}, "Application"), h("dd", {}, a.id),
      h("dt", {}, "City"), h("dd", {}, a.city_code ? cityName(a.city_code) : "—"),
      h("dt", {}, "Project"), h("dd", {}, a.project_id ?? "—"),
      h("dt", {}, "Priority"), h("dd", {}, a.priority_category ? label(PRIORITY, a.priority_category) : "—"),
      h("dt", {}, "Quantity"), h("dd", {}, a.quantity ? `${a.quantity} t ${a.symbol || ""}` : "—"),
      h("dt", {}, "Reason"), h("dd", {}, a.reason || "—"));
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
  }
  $("#d-add-source").addEventListener("click", () => { $("#d-sources").append(sourceRow()); updateSum(); });
  for (const r of $$("#decide-form input[name=decision]")) r.addEventListener("change", () => { $("#d-sources-box").disabled = $("#d-reject").checked; });
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
      toast(`Application ${deciding.id}: ${decision === "approve" ? "approved 已批准" : "rejected 不予批准"}`, "ok");
      loadReallocations();
      loadLedger();
    } catch (e) {
      flashError($("#d-msg"), e);
    } finally {
      btn.disabled = false;
    }
  });

  // ---------- monthly report ----------
  const MONTHLY_LABELS = {
    opening_remaining: "Opening remaining 期初存余", added: "Added 新增", used: "Used 使用",
    transferred_in: "Transferred in 调入", transferred_out: "Transferred out 调出", closing_remaining: "Closing remaining 期末存余",
  };
  $("#monthly-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const city = $("#m-city").value, month = $("#m-month").value;
    const out = $("#monthly-out");
    $("#m-msg").hidden = true;
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
    if (!month) { flash($("#m-msg"), "error", "Choose a month."); return; }
    $("#m-msg").hidden = true;
    try {
      const sym = state.symbol ? `&symbol=${encodeURIComponent(state.symbol)}` : "";
      await download(`/ledger/cities/${encodeURIComponent(city)}/monthly?month=${encodeURIComponent(month)}&format=csv${sym}`, `ledger-${city}-${month}.csv`);
    } catch (e) {
      flashError($("#m-msg"), e);
    }
  });

  function renderMonthly(r) {
    const scalars = Object.entries(r).filter(([k, v]) => (v === null || typeof v !== "object") && k !== "name" && k !== "name_zh");
    const lists = Object.entries(r).filter(([, v]) => Array.isArray(v));
    const nested = Object.entries(r).filter(([, v]) => v && typeof v === "object" && !Array.isArray(v));
    const box = h("div", {});
    box.append(h("dl", { class: "kv", style: "margin-top:.7rem" }, scalars.flatMap(([k, v]) => [
      h("dt", {}, MONTHLY_LABELS[k] || k.replaceAll("_", " ")),
      h("dd", { class: k in MONTHLY_LABELS ? "num" : null, style: "text-align:left" }, k === "city_code" ? cityName(v) : v === null ? "—" : String(v)),
    ])));
    for (const [k, v] of nested) {
      box.append(h("h3", {}, k.replaceAll("_", " ")), h("dl", { class: "kv" }, Object.entries(v).flatMap(([a, b]) => [h("dt", {}, MONTHLY_LABELS[a] || a), h("dd", {}, typeof b === "object" ? JSON.stringify(b) : String(b))])));
    }
    for (const [k, items] of lists) {
      const cols = [...new Set(items.flatMap((i) => Object.keys(i)))];
      box.append(h("h3", { style: "margin:.4rem 0" }, `${k.replaceAll("_", " ")} (${items.length})`),
        h("div", { class: "scroll table-wrap", style: "max-height:260px" }, h("table", {},
          h("thead", {}, h("tr", {}, cols.map((c) => h("th", {}, c.replaceAll("_", " "))))),
          h("tbody", {}, items.length ? items.map((i) => h("tr", {}, cols.map((c) => h("td", { class: /quantity|remaining|added|used/.test(c) ? "num" : null }, /time|_at$/.test(c) ? fmtDateTime(i[c]) : i[c] && typeof i[c] === "object" ? JSON.stringify(i[c]) : i[c] ?? "—"))))
            : h("tr", { class: "empty" }, h("td", { colspan: cols.length || 1 }, "No movements this month."))))));
    }
    return box;
  }

  async function loadProjectsForApplication() {
    if (isProvince) return;
    try {
      const r = await get("/projects?limit=1000");
      const items = r.items || [];
      const list = $("#ra-projects");
      list.replaceChildren(...items.map((p) => h("option", { value: p.id }, `${p.name} — outstanding ${p.outstanding_quantity ?? "?"} t`)));
    } catch {
      /* free text still works */
    }
  }

  // ---------- start ----------
  (async () => {
    await loadInstruments();
    loadLedger();
    loadReductions();
    loadReallocations();
    loadProjectsForApplication();
    loadFees();
    setInterval(loadInstruments, 20_000);
    setInterval(loadLedger, 60_000);
    setInterval(loadReductions, 60_000);
  })();
}
