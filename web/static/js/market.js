// The market view: instrument picker, ticker, candlestick chart with volume, depth ladder and
// trades tape, kept live from /ws/market. Used by market.html and trade.html.
import { createChart, CrosshairMode } from "/vendor/lightweight-charts.standalone.production.mjs";
import { get, Feed, ApiError } from "./api.js";
import { parseScaled, ratio } from "./decimal.js";
import { h, $, qty, cny, fmtTime, toMillis, feedStatus, flashError, badge, t } from "./ui.js";
import { TRADE_KIND, label } from "./labels.js";
import { priceFormat, qtyAxisFormat } from "./i18n.js";

const CHART_TZ_OFFSET_S = 8 * 3600; // the chart library draws UTC; show Asia/Shanghai
const INTERVALS = { "1m": 60, "5m": 300, "1h": 3600, "1d": 86400 };
const DEPTH = 15;
const TAPE_MAX = 60;
const UP = "#d0343c";   // Chinese convention: red = up / buy
const DOWN = "#0d8a56"; // green = down / sell
const STATUS_BADGE = { open: "ok", halted: "danger", expired: "neutral", closed: "warn" };

function chartTime(t) {
  return Math.floor(toMillis(t) / 1000) + CHART_TZ_OFFSET_S;
}

function num(s) {
  // For plotting only: the chart library needs JS numbers. Never used for money arithmetic.
  return s === null || s === undefined ? NaN : Number(s);
}

function signClass(s) {
  if (s === null || s === undefined) return "";
  const t = String(s);
  if (t.startsWith("-")) return "down";
  return parseScaled(t.replace(/^\+/, ""), 8) === 0n ? "" : "up";
}

export class MarketView {
  constructor(root, { onPricePick, onInstrument, onTrade } = {}) {
    this.own = { bid: new Map(), ask: new Map() }; // fen value -> the user's open quantity there (kg)
    this.root = root;
    this.onPricePick = onPricePick || (() => {});
    this.onInstrument = onInstrument || (() => {});
    this.onTrade = onTrade || (() => {});
    this.instruments = [];
    this.symbol = null;
    this.interval = localStorage.getItem("emx.interval") || "5m";
    this.bids = new Map();
    this.asks = new Map();
    this.bookSeq = null;
    this.tape = [];
    this.lastCandle = null;
    this.feed = null;
    this.build();
  }

  get instrument() {
    return this.instruments.find((i) => i.symbol === this.symbol) || null;
  }

  build() {
    this.el = {
      picker: h("select", { id: "instrument", name: "instrument" }),
      status: h("span", { class: "inst-status" }),
      band: h("span", { class: "inst-band muted" }),
      validity: h("span", { class: "inst-validity small", id: "inst-validity" }),
      feed: h("span", { class: "feed-status", id: "market-feed-status", "data-state": "connecting" }, t("feed.connecting")),
      error: h("div", { class: "flash", hidden: true }),
      ticker: h("dl", { class: "ticker", id: "ticker" }),
      intervals: h("div", { class: "seg", role: "group", "aria-label": t("mkt.interval") }),
      chart: h("div", { class: "chart", id: "chart", role: "img", "aria-label": t("mkt.chart_label") }),
      depth: h("canvas", { id: "depth-chart", role: "img", "aria-label": t("mkt.depth_label") }),
      asks: h("tbody", { id: "book-asks" }),
      bids: h("tbody", { id: "book-bids" }),
      spread: h("tr", { class: "spread-row" }),
      tape: h("tbody", { id: "trades-tape" }),
    };
    for (const iv of Object.keys(INTERVALS)) {
      this.el.intervals.append(h("button", {
        type: "button", class: iv === this.interval ? "on" : null, "aria-pressed": String(iv === this.interval),
        dataset: { interval: iv }, onclick: () => this.setInterval(iv),
      }, t(`mkt.iv.${iv}`)));
    }
    this.el.picker.addEventListener("change", () => this.select(this.el.picker.value));

    const book = h("section", { class: "card book", "aria-labelledby": "book-h" },
      h("div", { class: "card-head" }, h("h2", { id: "book-h" }, t("mkt.book")),
        h("span", { class: "muted small" }, t("mkt.book_hint"))),
      h("div", { class: "depth-wrap" }, this.el.depth),
      h("table", { class: "ladder", id: "order-book" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("mkt.col_price")), h("th", { scope: "col", class: "num" }, t("mkt.col_qty")), h("th", { scope: "col", class: "num" }, t("mkt.col_total")))),
        this.el.asks,
        h("tbody", {}, this.el.spread),
        this.el.bids));

    const tape = h("section", { class: "card tape", "aria-labelledby": "tape-h" },
      h("div", { class: "card-head" }, h("h2", { id: "tape-h" }, t("mkt.tape"))),
      h("div", { class: "scroll" },
        h("table", { class: "tape-table", id: "trades" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("mkt.col_time")), h("th", { scope: "col", class: "num" }, t("mkt.col_price")), h("th", { scope: "col", class: "num" }, t("mkt.col_qty")), h("th", { scope: "col" }, t("mkt.col_taker")))),
          this.el.tape)));

    const chartCard = h("section", { class: "card chart-card", "aria-labelledby": "chart-h" },
      h("div", { class: "card-head" }, h("h2", { id: "chart-h" }, t("mkt.chart")), this.el.intervals),
      this.el.chart);

    this.root.replaceChildren(
      h("div", { class: "market-bar" },
        h("label", { class: "inline" }, h("span", {}, t("mkt.instrument")), this.el.picker),
        this.el.status, this.el.band, this.el.validity, h("span", { class: "spacer" }), this.el.feed),
      this.el.error,
      this.el.ticker,
      h("div", { class: "market-grid" }, chartCard, book, tape));

    this.chart = createChart(this.el.chart, {
      autoSize: true,
      layout: { background: { color: "#ffffff" }, textColor: "#334155", fontFamily: getComputedStyle(document.body).fontFamily },
      grid: { vertLines: { color: "#eef2f7" }, horzLines: { color: "#eef2f7" } },
      crosshair: { mode: CrosshairMode.Normal },
      rightPriceScale: { borderColor: "#d9e1ea" },
      timeScale: { borderColor: "#d9e1ea", timeVisible: true, secondsVisible: false },
      // thousands separators on the price axis, per locale (drawing only)
      localization: { locale: document.documentElement.lang, priceFormatter: (p) => priceFormat.format(p) },
    });
    this.candles = this.chart.addCandlestickSeries({
      upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN,
      priceFormat: { type: "price", precision: 2, minMove: 0.01 },
    });
    this.volume = this.chart.addHistogramSeries({
      priceScaleId: "vol", priceFormat: { type: "custom", formatter: (v) => qtyAxisFormat.format(v) }, lastValueVisible: false, priceLineVisible: false,
    });
    this.chart.priceScale("vol").applyOptions({ scaleMargins: { top: 0.78, bottom: 0 } });
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.26 } });
    this.feedStatus = feedStatus(this.el.feed);
  }

  async start() {
    try {
      const res = await get("/instruments", { auth: false });
      this.instruments = res.items || [];
    } catch (e) {
      flashError(this.el.error, e);
      return;
    }
    if (!this.instruments.length) {
      this.el.error.hidden = false;
      this.el.error.className = "flash flash-info";
      this.el.error.textContent = t("mkt.no_instruments");
      return;
    }
    this.el.picker.replaceChildren(...this.instruments.map((i) =>
      h("option", { value: i.symbol }, t("mkt.option", { symbol: i.symbol, pollutant: i.pollutant, vintage: i.vintage }))));
    const wanted = new URLSearchParams(location.search).get("symbol") || localStorage.getItem("emx.symbol");
    const first = this.instruments.some((i) => i.symbol === wanted) ? wanted : this.instruments[0].symbol;
    await this.select(first);
    // Halts are not on the market feed: refresh instrument status now and then.
    setInterval(() => this.refreshInstruments(), 15_000);
  }

  async refreshInstruments() {
    try {
      const res = await get("/instruments", { auth: false });
      this.instruments = res.items || this.instruments;
      this.renderInstrument();
    } catch {
      /* keep the last known */
    }
  }

  renderInstrument() {
    const inst = this.instrument;
    if (!inst) return;
    const status = inst.status === "open" && inst.session === "closed" ? "closed" : inst.status;
    this.el.status.replaceChildren(badge(label("mstatus", status), STATUS_BADGE[status] || "neutral"));
    this.el.status.id = "market-status";
    this.el.status.dataset.status = status;
    this.el.band.textContent = t("mkt.band", { ref: cny(inst.reference_price), pct: inst.price_band_pct, tick: inst.tick_size, lot: inst.lot_size });
    // 排污权 are granted for a term: say until when, and that trading has stopped after it
    this.el.validity.textContent = inst.valid_until
      ? t(status === "expired" ? "mkt.expired_on" : "mkt.valid_until", { date: inst.valid_until })
      : "";
    this.el.validity.className = `inst-validity small ${status === "expired" ? "strong" : "muted"}`;
    this.onInstrument(inst);
  }

  async select(symbol) {
    this.symbol = symbol;
    this.el.picker.value = symbol;
    localStorage.setItem("emx.symbol", symbol);
    const url = new URL(location.href);
    url.searchParams.set("symbol", symbol);
    history.replaceState(null, "", url);
    this.renderInstrument();
    this.el.error.hidden = true;
    this.bids.clear();
    this.asks.clear();
    this.tape = [];
    this.renderBook();
    this.renderTape();
    await Promise.all([this.loadBook(), this.loadTrades(), this.loadTicker(), this.loadCandles()]);
    this.connect();
  }

  connect() {
    if (this.feed) this.feed.close();
    const sym = this.symbol;
    this.feed = new Feed(`/ws/market?symbols=${encodeURIComponent(sym)}`, {
      onStatus: this.feedStatus,
      onMessage: (m) => this.onFeed(m),
      onGap: () => {
        // The feed reconnects and sends fresh book snapshots; trades and ticker from REST.
        this.loadTrades();
        this.loadTicker();
        this.loadCandles();
      },
    });
  }

  onFeed(m) {
    if (m.symbol && m.symbol !== this.symbol) return;
    const d = m.data || {};
    if (m.type === "book") {
      if (d.snapshot) {
        this.bids = new Map((d.bids || []).map(([p, q]) => [p, q]));
        this.asks = new Map((d.asks || []).map(([p, q]) => [p, q]));
        this.bookSeq = d.book_seq ?? null;
      } else {
        for (const [p, q] of d.bids || []) this.applyLevel(this.bids, p, q);
        for (const [p, q] of d.asks || []) this.applyLevel(this.asks, p, q);
        if (d.book_seq !== undefined) this.bookSeq = d.book_seq;
      }
      this.renderBook();
    } else if (m.type === "trade") {
      this.addTrade(d);
      this.onTrade(d);
    } else if (m.type === "ticker") {
      this.renderTicker(d);
    }
  }

  /** Mark the user's own open orders in the book: [{side, price, remaining_quantity}]. */
  setOwnOrders(orders) {
    this.own = { bid: new Map(), ask: new Map() };
    for (const o of orders) {
      if (o.symbol && o.symbol !== this.symbol) continue;
      const pv = parseScaled(o.price, 2), q = parseScaled(o.remaining_quantity, 3);
      if (pv === null || q === null) continue;
      const m = this.own[o.side === "buy" ? "bid" : "ask"];
      m.set(pv, (m.get(pv) || 0n) + q);
    }
    this.renderBook();
  }

  /** Cumulative depth: bids stepping down to the left, asks up to the right (Chart.js). */
  renderDepth(bids, asks) {
    const Chart = window.Chart;
    if (!Chart) return;
    // for drawing only: the ladder shows the exact figures
    let cum = 0n;
    const bidPts = bids.map((l) => ({ x: Number(l.p), y: Number(fmtKg((cum += l.qv))) })).reverse();
    cum = 0n;
    const askPts = asks.map((l) => ({ x: Number(l.p), y: Number(fmtKg((cum += l.qv))) }));
    const data = { datasets: [
      { label: t("mkt.depth_bids"), data: bidPts, stepped: "after", fill: "origin", borderColor: UP, backgroundColor: "rgba(208,52,60,.15)", pointRadius: 0, borderWidth: 1.5 },
      { label: t("mkt.depth_asks"), data: askPts, stepped: "before", fill: "origin", borderColor: DOWN, backgroundColor: "rgba(13,138,86,.15)", pointRadius: 0, borderWidth: 1.5 },
    ] };
    if (this.depthChart) {
      this.depthChart.data = data;
      this.depthChart.update("none");
      return;
    }
    this.depthChart = new Chart(this.el.depth, {
      type: "line",
      data,
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { callbacks: {
          title: (items) => t("fmt.per_tonne", { p: priceFormat.format(items[0].parsed.x) }),
          label: (c) => `${c.dataset.label}: ${t("fmt.tonnes", { q: c.parsed.y.toFixed(3) })}`,
        } } },
        scales: {
          x: { type: "linear", ticks: { maxTicksLimit: 4, callback: (v) => priceFormat.format(v) } },
          y: { beginAtZero: true, ticks: { maxTicksLimit: 4, callback: (v) => qtyAxisFormat.format(v) } },
        },
      },
    });
  }

  applyLevel(side, price, quantity) {
    // Keys are normalised to the price's fen value so "12.5" and "12.50" are one level.
    const key = this.findKey(side, price);
    if (parseScaled(quantity, 3) === 0n) side.delete(key);
    else side.set(key, quantity);
  }

  findKey(side, price) {
    if (side.has(price)) return price;
    const v = parseScaled(price, 2);
    for (const k of side.keys()) if (parseScaled(k, 2) === v) return k;
    return price;
  }

  async loadBook() {
    try {
      const b = await get(`/market/${encodeURIComponent(this.symbol)}/book?depth=${DEPTH * 2}`, { auth: false });
      this.bids = new Map((b.bids || []).map(([p, q]) => [p, q]));
      this.asks = new Map((b.asks || []).map(([p, q]) => [p, q]));
      this.bookSeq = b.seq;
      this.renderBook();
    } catch (e) {
      flashError(this.el.error, e);
    }
  }

  sortedLevels(side, descending) {
    const arr = [...side.entries()].map(([p, q]) => ({ p, q, pv: parseScaled(p, 2) ?? 0n, qv: parseScaled(q, 3) ?? 0n }));
    arr.sort((a, b) => (a.pv === b.pv ? 0 : (a.pv < b.pv) === descending ? 1 : -1));
    return arr.slice(0, DEPTH);
  }

  bestBid() {
    const l = this.sortedLevels(this.bids, true)[0];
    return l ? l.p : null;
  }

  bestAsk() {
    const l = this.sortedLevels(this.asks, false)[0];
    return l ? l.p : null;
  }

  renderBook() {
    const bids = this.sortedLevels(this.bids, true);
    const asks = this.sortedLevels(this.asks, false);
    let cum = 0n;
    const bidCum = bids.map((l) => (cum += l.qv));
    cum = 0n;
    const askCum = asks.map((l) => (cum += l.qv));
    const maxCum = [bidCum.at(-1) || 0n, askCum.at(-1) || 0n].reduce((a, b) => (a > b ? a : b), 0n);
    const row = (l, total, side) => {
      const w = (ratio(total, maxCum) * 100).toFixed(1);
      const mine = this.own[side].get(l.pv);
      return h("tr", {
        class: `lvl ${side}${mine ? " mine" : ""}`, tabindex: "0", style: `--depth:${w}%`,
        title: mine ? t("mkt.mine_title", { q: qty(fmtKg(mine)) }) : t("mkt.use_price", { p: cny(l.p) }),
        onclick: () => this.onPricePick(l.p, side),
        onkeydown: (e) => { if (e.key === "Enter") this.onPricePick(l.p, side); },
      },
      h("td", { class: "price" }, mine ? h("span", { class: "mine-mark", "aria-label": t("mkt.mine") }, "●") : null, cny(l.p)), h("td", { class: "num" }, qty(l.q)),
      h("td", { class: "num muted" }, qty(fmtKg(total))));
    };
    // Asks: best (lowest) at the bottom, next to the spread.
    this.el.asks.replaceChildren(...asks.map((l, i) => row(l, askCum[i], "ask")).reverse());
    this.el.bids.replaceChildren(...bids.map((l, i) => row(l, bidCum[i], "bid")));
    if (!asks.length) this.el.asks.append(h("tr", { class: "empty" }, h("td", { colspan: 3 }, t("mkt.no_asks"))));
    if (!bids.length) this.el.bids.append(h("tr", { class: "empty" }, h("td", { colspan: 3 }, t("mkt.no_bids"))));
    let spread = "—";
    if (bids.length && asks.length) {
      const s = asks[0].pv - bids[0].pv;
      spread = t("fmt.yuan", { a: fmtFen(s) });
    }
    this.el.spread.replaceChildren(h("td", { colspan: 3 }, t("mkt.spread", { s: spread })));
    this.renderDepth(bids, asks);
  }

  async loadTrades() {
    try {
      const r = await get(`/market/${encodeURIComponent(this.symbol)}/trades?limit=${TAPE_MAX}`, { auth: false });
      this.tape = (r.items || []).slice(0, TAPE_MAX);
      this.renderTape();
    } catch (e) {
      flashError(this.el.error, e);
    }
  }

  addTrade(t) {
    if (this.tape.some((x) => x.id === t.id)) return;
    this.tape.unshift(t);
    this.tape.length = Math.min(this.tape.length, TAPE_MAX);
    this.renderTape(t.id);
    // block trades (协议转让) are on the tape but never move the candles
    if (t.kind !== TRADE_KIND.BLOCK) this.updateCandle(t);
  }

  renderTape(freshId) {
    const rows = this.tape.map((x) => h("tr", { class: x.id === freshId ? "fresh" : null, dataset: { kind: x.kind || TRADE_KIND.CONTINUOUS, tradeId: x.id } },
      h("td", { class: "muted" }, fmtTime(x.time)),
      h("td", { class: `num ${x.kind === TRADE_KIND.BLOCK ? "" : x.taker_side === "buy" ? "up" : "down"}` }, cny(x.price)),
      h("td", { class: "num" }, qty(x.quantity)),
      h("td", {}, x.kind === TRADE_KIND.BLOCK ? badge(t("mkt.block"), "info") : label("side", x.taker_side))));
    if (!rows.length) rows.push(h("tr", { class: "empty" }, h("td", { colspan: 4 }, t("mkt.no_trades"))));
    this.el.tape.replaceChildren(...rows);
  }

  async loadTicker() {
    try {
      this.renderTicker(await get(`/market/${encodeURIComponent(this.symbol)}/ticker`, { auth: false }));
    } catch (e) {
      flashError(this.el.error, e);
    }
  }

  renderTicker(tk) {
    const x = tk || {};
    const cls = signClass(x.change);
    const pct = x.change_pct === null || x.change_pct === undefined ? "—" : `${x.change_pct}%`;
    const item = (k, v, c, id) => h("div", { class: "tick" }, h("dt", {}, t(k)), h("dd", { class: c || null, id }, v));
    this.el.ticker.replaceChildren(
      item("mkt.last", x.last ? cny(x.last) : "—", `big ${cls}`, "ticker-last"),
      item("mkt.change", x.change ? cny(x.change) : "—", cls),
      item("mkt.change_pct", pct, cls),
      item("mkt.open", cny(x.open)),
      item("mkt.high", cny(x.high)),
      item("mkt.low", cny(x.low)),
      item("mkt.volume", qty(x.volume), null, "ticker-volume"),
      item("mkt.vwap", cny(x.vwap)));
  }

  setInterval(iv) {
    this.interval = iv;
    localStorage.setItem("emx.interval", iv);
    for (const b of this.el.intervals.querySelectorAll("button")) {
      const on = b.dataset.interval === iv;
      b.classList.toggle("on", on);
      b.setAttribute("aria-pressed", String(on));
    }
    this.loadCandles();
  }

  async loadCandles() {
    const sym = this.symbol, iv = this.interval;
    try {
      const r = await get(`/market/${encodeURIComponent(sym)}/candles?interval=${iv}`, { auth: false });
      if (sym !== this.symbol || iv !== this.interval) return;
      const items = (r.items || []).map((c) => ({
        time: chartTime(c.time), open: num(c.open), high: num(c.high), low: num(c.low), close: num(c.close), volume: num(c.volume),
      })).filter((c) => Number.isFinite(c.time)).sort((a, b) => a.time - b.time);
      // de-duplicate times (the chart library requires strictly increasing times)
      const bars = [];
      for (const c of items) if (!bars.length || bars.at(-1).time < c.time) bars.push(c);
      this.candles.setData(bars.map(({ volume, ...c }) => c));
      this.volume.setData(bars.map((c) => ({ time: c.time, value: c.volume, color: c.close >= c.open ? "rgba(208,52,60,.45)" : "rgba(13,138,86,.45)" })));
      this.lastCandle = bars.at(-1) || null;
      if (bars.length >= 80) this.chart.timeScale().fitContent();
      else this.chart.timeScale().setVisibleLogicalRange({ from: bars.length - 80, to: bars.length + 2 });
    } catch (e) {
      flashError(this.el.error, e);
    }
  }

  updateCandle(t) {
    const step = INTERVALS[this.interval];
    const ts = chartTime(t.time);
    const p = num(t.price), q = num(t.quantity);
    if (!Number.isFinite(ts) || !Number.isFinite(p)) return;
    let c = this.lastCandle;
    if (c && ts < c.time) return; // older than the last bar: already counted by the server
    if (c && ts < c.time + step) {
      c = { ...c, high: Math.max(c.high, p), low: Math.min(c.low, p), close: p, volume: c.volume + q };
    } else {
      // Align the new bar to the server's grid when we have one.
      const base = c ? c.time + Math.floor((ts - c.time) / step) * step : ts - (ts % step);
      c = { time: base, open: p, high: p, low: p, close: p, volume: q };
    }
    this.lastCandle = c;
    const { volume, ...bar } = c;
    this.candles.update(bar);
    this.volume.update({ time: c.time, value: volume, color: c.close >= c.open ? "rgba(208,52,60,.45)" : "rgba(13,138,86,.45)" });
  }
}

function fmtKg(kg) {
  const s = kg.toString().padStart(4, "0");
  return `${s.slice(0, -3)}.${s.slice(-3)}`;
}

function fmtFen(fen) {
  const neg = fen < 0n;
  const s = (neg ? -fen : fen).toString().padStart(3, "0");
  return `${neg ? "-" : ""}${s.slice(0, -2)}.${s.slice(-2)}`;
}

export { ApiError };
