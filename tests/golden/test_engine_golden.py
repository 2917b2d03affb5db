"""Golden session: replay a fixed command file, assert the exact trades, refusals
and final book; replay again on a fresh engine (and on the reference book) and
compare the state hash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from matching_engine.book import FastBook
from matching_engine.commands import (
    AddInstrument,
    AmendOrder,
    CancelAll,
    CancelOrder,
    CloseSession,
    HaltMarket,
    PlaceOrder,
    ResumeMarket,
    SetReferencePrice,
)
from matching_engine.engine import MatchingEngine
from matching_engine.events import OrderCancelled, OrderRejected, SessionClosed, Trade
from matching_engine.reference_book import ReferenceBook
from matching_engine.types import OrderType, SelfTradePrevention, Side, TimeInForce

HERE = Path(__file__).parent
SYMBOL = "NOX-2025"


def parse(path: Path) -> list[Any]:
    commands: list[Any] = []
    for line in path.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        seq = len(commands) + 1
        stamp = {"seq": seq, "ts_us": seq * 1_000}
        verb, args = words[0], words[1:]
        if verb == "instrument":
            symbol, pollutant, *numbers = args
            commands.append(AddInstrument(**stamp, symbol=symbol, pollutant=pollutant,
                                          vintage=int(numbers[0]), tick_fen=int(numbers[1]),
                                          lot_kg=int(numbers[2]),
                                          reference_price_fen=int(numbers[3]),
                                          band_bps=int(numbers[4])))  # fmt: skip
        elif verb == "place":
            order_id, owner, side, order_type, price, quantity, tif, *options = args
            stp = next((o[4:] for o in options if o.startswith("stp=")), None)
            stp = None if stp is None else SelfTradePrevention(stp)
            commands.append(PlaceOrder(**stamp, symbol=SYMBOL, order_id=int(order_id),
                                       owner=owner, side=Side(side), type=OrderType(order_type),
                                       price_fen=int(price), quantity_kg=int(quantity),
                                       tif=TimeInForce(tif), post_only="post_only" in options,
                                       stp=stp))  # fmt: skip
        elif verb == "cancel_all":
            commands.append(CancelAll(**stamp, owner=args[0],
                                      symbol=args[1] if len(args) > 1 else None))  # fmt: skip
        elif verb == "cancel":
            commands.append(CancelOrder(**stamp, symbol=SYMBOL, order_id=int(args[0]),
                                        owner=args[1]))  # fmt: skip
        elif verb == "amend":
            changes = {key: int(value) for key, value in (a.split("=") for a in args[2:])}
            commands.append(AmendOrder(**stamp, symbol=SYMBOL, order_id=int(args[0]),
                                       owner=args[1], quantity_kg=changes.get("qty"),
                                       price_fen=changes.get("price")))  # fmt: skip
        elif verb == "halt":
            commands.append(HaltMarket(**stamp, symbol=SYMBOL, cancel_orders=args == ["cancel"]))
        elif verb == "resume":
            commands.append(ResumeMarket(**stamp, symbol=SYMBOL))
        elif verb == "close":
            commands.append(CloseSession(**stamp, symbol=SYMBOL))
        elif verb == "reference":
            commands.append(SetReferencePrice(**stamp, symbol=SYMBOL, price_fen=int(args[0])))
        else:
            raise ValueError(f"{path.name}: unknown command {line!r}")
    return commands


def expected_trades() -> list[tuple]:
    rows = []
    for line in (HERE / "engine_session.trades.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            tid, price, qty, side, maker, maker_owner, taker, taker_owner = line.split()
            rows.append((int(tid), int(price), int(qty), side, int(maker), maker_owner,
                         int(taker), taker_owner))  # fmt: skip
    return rows


def replay(
    book_class: type, name: str = "engine_session.txt", stp: str = "cancel_incoming"
) -> tuple[MatchingEngine, list[Any]]:
    engine = MatchingEngine(book_class, SelfTradePrevention(stp))
    events: list[Any] = []
    for cmd in parse(HERE / name):
        events += engine.process(cmd)
        engine.check_invariants()
    return engine, events


@pytest.fixture(scope="module")
def session() -> tuple[MatchingEngine, list[Any]]:
    return replay(FastBook)


def test_golden_session_produces_exactly_the_expected_trades(session):
    _, events = session
    trades = [
        (e.trade_id, e.price_fen, e.quantity_kg, str(e.taker_side), e.maker_order_id,
         e.maker_owner, e.taker_order_id, e.taker_owner)
        for e in events if isinstance(e, Trade)
    ]  # fmt: skip
    assert trades == expected_trades()


def test_golden_session_refuses_and_cancels_exactly_these(session):
    _, events = session
    refused = [(e.order_id, e.owner, e.action, e.reason) for e in events
               if isinstance(e, OrderRejected)]  # fmt: skip
    cancelled = [(e.order_id, e.cancelled_kg, e.reason) for e in events
                 if isinstance(e, OrderCancelled)]  # fmt: skip
    assert refused == [
        (12, "mallory", "cancel", "not_order_owner"),
        (15, "leo", "place", "price_off_tick"),
        (16, "leo", "place", "price_outside_band"),
        (19, "leo", "place", "market_halted"),
    ]
    assert cancelled == [
        (8, 800, "fok_not_fillable"),
        (10, 100, "self_trade"),
        (11, 200, "ioc_remainder"),
        (12, 200, "user"),
        (17, 500, "expired"),
    ]


def test_golden_session_ends_with_this_book_and_reference(session):
    engine, events = session
    book = engine.book(SYMBOL)
    closes = [e for e in events if isinstance(e, SessionClosed)]
    assert [(e.reference_price_fen, e.expired_orders) for e in closes] == [(301_000, 1)]
    assert engine.instrument(SYMBOL).reference_price_fen == 301_000
    assert engine.instrument(SYMBOL).status == "open"
    assert book.depth() == ([(299_000, 200)], [(331_000, 100)])
    assert book.get_order(18) == (18, "ned", "buy", 299_000, 200, "GTC")
    assert book.get_order(20) == (20, "olga", "sell", 331_000, 100, "GTC")
    assert book.trade_count == 10


def test_golden_session_replays_to_the_same_hash_on_both_books(session):
    engine, events = session
    again, events_again = replay(FastBook)
    reference, reference_events = replay(ReferenceBook)

    assert events_again == events
    assert [type(e) for e in reference_events] == [type(e) for e in events]
    assert reference_events == events
    assert again.state_hash() == engine.state_hash() == reference.state_hash()
    assert MatchingEngine.restore(engine.snapshot()).state_hash() == engine.state_hash()


# State hashes of the golden session computed before orders carried their own
# self-trade mode and post-only flag (commit 53f4713): state written then must
# keep its hash, or journals and snapshots taken then would no longer verify.
HASHES_BEFORE_ORDER_OPTIONS = {
    "cancel_incoming": "ae0f44942cc080fee87871dfd1cf7bea7a63898f326c4d7a7ec0a7ca8b73a8a7",
    "cancel_resting": "83be453b1257b61ff6b77604a77c7a1e537914d6b2dc7007d7984f65ca9c20a0",
}


@pytest.mark.parametrize("book_class", [FastBook, ReferenceBook], ids=["fast", "reference"])
@pytest.mark.parametrize("stp", sorted(HASHES_BEFORE_ORDER_OPTIONS))
def test_golden_session_keeps_the_hash_it_had_before_order_options(book_class, stp):
    engine, _ = replay(book_class, stp=stp)

    assert engine.state_hash() == HASHES_BEFORE_ORDER_OPTIONS[stp]
    restored = MatchingEngine.restore(engine.snapshot(), book_class)
    assert restored.state_hash() == HASHES_BEFORE_ORDER_OPTIONS[stp]


def render(event: Any) -> str:
    return " ".join([type(event).__name__, *(str(v) for v in event)])


@pytest.mark.parametrize("book_class", [FastBook, ReferenceBook], ids=["fast", "reference"])
def test_order_options_session_emits_exactly_the_recorded_events(book_class):
    engine, events = replay(book_class, "engine_options_session.txt")
    expected = [
        line
        for line in (HERE / "engine_options_session.events.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    assert [render(e) for e in events] == expected
    again = MatchingEngine.restore(engine.snapshot(), FastBook)
    assert again.state_hash() == engine.state_hash()
