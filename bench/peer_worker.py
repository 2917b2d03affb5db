"""One timed pass of one engine over a prebuilt command stream; prints JSON.

Run as a script by `bench.peers`, never imported by the service: it
imports only the standard library and the engine it measures, so the same file
runs under the peers' interpreter. `matching_engine` names both this project's
engine and the peer package of that name; which one a process gets is decided
by the caller through PYTHONPATH (this project's) or its absence (the peer's).

Stream rows are `[is_place, seq, ts_us, order_id, owner, is_buy, is_market,
price, quantity]` (cancels use the first five). Each engine's arguments are
laid out before the timer starts; inside it, every engine builds its own
command objects and calls its public API, one row at a time. The timed pass
drops what process() returns, as a consumer that has handled it would; a second,
untimed pass on a fresh engine keeps every event to check the outcome (keeping
hundreds of thousands of event lists alive makes the garbage collector's full
passes walk them all, which measures the collector rather than the engine).
"""

from __future__ import annotations

import gc
import hashlib
import json
import sys
import time

SYMBOL = "NOX-2025"


def _digest(rows: list) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def _result(elapsed: tuple, rows: int, trades: list | None, levels: list, live: list) -> dict:
    wall_ns, cpu_ns = elapsed
    out = {
        "elapsed_ns": wall_ns,
        "ops": rows,
        "ops_per_s": int(rows * 1e9 / wall_ns),
        # CPU time of this process: what a busy machine's other processes disturb least
        "ops_per_cpu_s": int(rows * 1e9 / max(1, cpu_ns)),
        "levels": _digest(sorted(levels)),
        "live_orders": _digest(sorted(live)),
        "resting_orders": len(live),
    }
    if trades is not None:
        out["trades"] = len(trades)
        out["traded_qty"] = sum(t[3] for t in trades)
        out["fills"] = _digest(trades)  # (taker, maker, price, qty) in order: who filled
    return out


def _timed(loop) -> tuple[int, int]:
    """(wall, CPU) nanoseconds of one call of `loop`."""
    gc.collect()
    gc.freeze()  # the stream is not the engine's memory: keep the collector off it
    try:
        start, cpu_start = time.perf_counter_ns(), time.process_time_ns()
        loop()
        return time.perf_counter_ns() - start, time.process_time_ns() - cpu_start
    finally:
        gc.unfreeze()


def run_this_project(stream: list, pure: bool = False) -> dict:
    from matching_engine.commands import AddInstrument, CancelOrder, PlaceOrder
    from matching_engine.engine import MatchingEngine, PyMatchingEngine
    from matching_engine.events import Trade
    from matching_engine.types import BUY, GTC, IOC, LIMIT, MARKET, SELL

    def new_engine() -> MatchingEngine:
        # the pure-Python engine and book even where the compiled ones were built
        engine = PyMatchingEngine() if pure else MatchingEngine()
        # a band of ±100%: market orders are limited by the book alone, as in the peers
        engine.process(AddInstrument(0, 0, SYMBOL, "NOx", 2025, 1, 1, 300_000, 10_000))
        return engine

    rows = []
    for r in stream:
        owner = f"E{r[4]:04d}"
        if r[0]:
            side, kind, tif = BUY if r[5] else SELL, MARKET if r[6] else LIMIT, IOC if r[6] else GTC
            rows.append((True, (r[1], r[2], SYMBOL, r[3], owner, side, kind, r[7], r[8], tif)))
        else:
            rows.append((False, (r[1], r[2], SYMBOL, r[3], owner)))

    def timed_loop() -> None:
        process = engine.process
        for is_place, a in rows:
            if is_place:
                process(PlaceOrder(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]))
            else:
                process(CancelOrder(a[0], a[1], a[2], a[3], a[4]))

    engine = new_engine()
    elapsed = _timed(timed_loop)
    timed_hash = engine.state_hash()
    engine = new_engine()
    trades = []
    for is_place, a in rows:
        cmd = PlaceOrder(*a) if is_place else CancelOrder(*a)
        trades += [(e.taker_order_id, e.maker_order_id, e.price_fen, e.quantity_kg)
                   for e in engine.process(cmd) if type(e) is Trade]  # fmt: skip
    assert engine.state_hash() == timed_hash, "the checking pass reached another state"
    from matching_engine import engine as engine_module
    from matching_engine import events

    book = engine.book(SYMBOL)
    bids, asks = book.depth(10**9)
    count: dict = {}
    for o in book.orders.values():
        count[(o.side == BUY, o.price_fen)] = count.get((o.side == BUY, o.price_fen), 0) + 1
    levels = [(True, p, q, count[(True, p)]) for p, q in bids]
    levels += [(False, p, q, count[(False, p)]) for p, q in asks]
    result = _result(elapsed, len(rows), trades, levels, list(book.orders))
    # "compiled": the Cython-compiled engine and book (setup.py); "pure": their
    # Python source; either uses the small C helpers where they were built
    helpers = []
    if events.new_event is not tuple.__new__:
        helpers.append("C events")
    if type(engine_module._place_fields).__module__ == "matching_engine._slots":
        helpers.append("C slot reader")
    result["implementation"] = ", ".join(
        ["pure" if pure else engine_module.IMPLEMENTATION, *helpers]
    )
    return result


def run_matching_engine(stream: list) -> dict:
    from matching_engine import CancelOrder, NewOrder, OrderType, SequencedCommand, Side
    from matching_engine import TimeInForce as Tif
    from matching_engine.engine import MatchingEngine
    from matching_engine.events import Trade

    rows = []
    for r in stream:
        account = r[4] + 1
        if r[0]:
            side = Side.BUY if r[5] else Side.SELL
            if r[6]:
                args = (r[3], account, side, 0, r[8], OrderType.MARKET, Tif.IOC)
            else:
                args = (r[3], account, side, r[7], r[8], OrderType.LIMIT, Tif.GTC)
            rows.append((True, r[1], r[2], args))
        else:
            rows.append((False, r[1], r[2], (r[3], account)))

    def timed_loop() -> None:
        process = engine.process
        for is_place, seq, ts, a in rows:
            if is_place:
                process(SequencedCommand(seq, ts, NewOrder(a[0], a[1], a[2], a[3], a[4], a[5],
                                                           a[6])))  # fmt: skip
            else:
                process(SequencedCommand(seq, ts, CancelOrder(a[0], a[1])))

    engine = MatchingEngine()
    elapsed = _timed(timed_loop)
    timed_hash = engine.state_hash()
    engine = MatchingEngine()
    trades = []
    for is_place, seq, ts, a in rows:
        cmd = SequencedCommand(seq, ts, NewOrder(*a) if is_place else CancelOrder(*a))
        trades += [(e.taker_order_id, e.maker_order_id, e.price, e.qty)
                   for e in engine.process(cmd) if type(e) is Trade]  # fmt: skip
    assert engine.state_hash() == timed_hash, "the checking pass reached another state"
    entries = list(engine.book.entries())
    count: dict = {}
    volume: dict = {}
    for e in entries:
        key = (e.side is Side.BUY, e.price)
        count[key] = count.get(key, 0) + 1
        volume[key] = volume.get(key, 0) + e.qty
    levels = [(buy, price, volume[(buy, price)], n) for (buy, price), n in count.items()]
    return _result(elapsed, len(rows), trades, levels, [e.order_id for e in entries])


def run_limit_order_book(stream: list) -> dict:
    from limit_order_book import LimitOrderBook

    book = LimitOrderBook()
    rows = []
    ids, prices = set(), set()
    for r in stream:
        if r[0]:
            ids.add(r[3])
            if r[6]:
                rows.append((book.market_buy if r[5] else book.market_sell, (r[3], r[8])))
            else:
                prices.add((r[5], r[7]))
                method = book.limit_buy if r[5] else book.limit_sell
                rows.append((method, (r[3], r[8], r[7])))
        else:
            rows.append((book.cancel, (r[3],)))

    def loop() -> None:
        for method, a in rows:
            method(*a)

    elapsed = _timed(loop)
    live = [i for i in ids if book.has(i)]
    levels = []
    for is_buy, price in prices:
        volume = book.volume_buy(price) if is_buy else book.volume_sell(price)
        if volume:
            levels.append((bool(is_buy), price, volume, book.count_at(price)))
    return _result(elapsed, len(rows), None, levels, live)


RUNNERS = {
    "this-project": run_this_project,
    "this-project-pure": lambda stream: run_this_project(stream, pure=True),
    "matching-engine": run_matching_engine,
    "limit-order-book": run_limit_order_book,
}

if __name__ == "__main__":
    name, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        stream = json.load(f)
    result = RUNNERS[name](stream)
    result["python"] = sys.version.split()[0]
    print(json.dumps(result))
