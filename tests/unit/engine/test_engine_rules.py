"""Every reject reason, instrument rules, snapshots and the invariant checks."""

import pytest

from matching_engine.book import FastBook
from matching_engine.commands import CancelOrder, PlaceOrder, ResumeMarket
from matching_engine.engine import MatchingEngine
from matching_engine.errors import InvariantViolation
from matching_engine.events import OrderRejected
from matching_engine.reference_book import ReferenceBook
from matching_engine.types import BUY, DAY, FOK, GTC, IOC, LIMIT, MARKET, SELL


@pytest.mark.parametrize(
    ("side", "price_fen", "quantity_kg", "reason"),
    [
        (BUY, 0, 100, "invalid_price"),
        (BUY, -10, 100, "invalid_price"),
        (BUY, 300_005, 100, "price_off_tick"),
        (BUY, 330_010, 100, "price_outside_band"),
        (SELL, 269_990, 100, "price_outside_band"),
        (BUY, 300_000, 0, "invalid_quantity"),
        (SELL, 300_000, -100, "invalid_quantity"),
        (BUY, 300_000, 150, "quantity_off_lot"),
    ],
)
def test_place_is_rejected_and_changes_nothing(market, side, price_fen, quantity_kg, reason):
    market.sell(1, "a", 301_000, 100)
    before = market.engine.state_hash()

    events = market.place(2, "b", side, price_fen, quantity_kg)

    assert market.rejection(events) == reason
    assert events[0] == OrderRejected(events[0].seq, events[0].ts_us, "NOX-2025", 2, "b", "place",
                                      reason)  # fmt: skip
    assert market.engine.state_hash() == before


def test_price_checks_come_before_quantity_checks(market):
    assert market.rejection(market.buy(1, "a", 300_005, 150)) == "price_off_tick"


@pytest.mark.parametrize("price_fen", [270_000, 330_000])
def test_band_edges_are_inclusive(market, price_fen):
    assert market.kinds(market.buy(1, "a", price_fen, 100))[0] == "OrderAccepted"


def test_band_is_rounded_inward_to_the_tick(market):
    market.add_instrument("SO2-2025", tick_fen=700, reference_price_fen=300_300, band_bps=1000)
    low, high = market.engine.instrument("SO2-2025").band()  # exact: 270270..330330

    assert (low, high) == (270_900, 329_700)
    assert market.rejection(market.buy(1, "a", 270_200, 100, symbol="SO2-2025")) == (
        "price_outside_band"
    )
    assert market.kinds(market.buy(1, "a", 270_900, 100, symbol="SO2-2025"))[0] == "OrderAccepted"


def test_place_for_an_unknown_symbol_is_rejected(market):
    assert market.rejection(market.buy(1, "a", 300_000, 100, symbol="XXX-2025")) == "unknown_symbol"


def test_place_while_halted_is_rejected(market):
    market.halt()
    assert market.rejection(market.market(1, "a", BUY, 100)) == "market_halted"


def test_duplicate_live_order_id_is_rejected(market):
    market.sell(1, "a", 301_000, 100)

    assert market.rejection(market.buy(1, "b", 299_000, 100)) == "duplicate_order_id"
    assert market.depth() == ([], [(301_000, 100)])


def test_order_id_of_an_order_no_longer_resting_may_be_used_again(market):
    market.sell(1, "a", 301_000, 100)
    market.cancel(1, "a")

    assert market.kinds(market.buy(1, "b", 299_000, 100))[0] == "OrderAccepted"


@pytest.mark.parametrize("tif", [GTC, DAY])
def test_market_order_that_could_rest_is_rejected_invalid_time_in_force(market, tif):
    assert market.rejection(market.market(1, "a", BUY, 100, tif=tif)) == "invalid_time_in_force"


@pytest.mark.parametrize("tif", [IOC, FOK])
def test_market_order_accepts_ioc_and_fok(market, tif):
    assert market.kinds(market.market(1, "a", BUY, 100, tif=tif))[0] == "OrderAccepted"


def test_unknown_time_in_force_is_rejected(market):
    assert market.rejection(market.buy(1, "a", 300_000, 100, tif="GTD")) == "invalid_time_in_force"


def test_cancel_and_amend_for_an_unknown_symbol_are_rejected(market):
    assert market.rejection(market.cancel(1, "a", symbol="XXX-2025")) == "unknown_symbol"
    assert market.rejection(market.amend(1, "a", 100, symbol="XXX-2025")) == "unknown_symbol"


@pytest.mark.parametrize(
    ("send", "action"),
    [
        (lambda m: m.halt(symbol="XXX-2025"), "halt_market"),
        (lambda m: m.resume(symbol="XXX-2025"), "resume_market"),
        (lambda m: m.close(symbol="XXX-2025"), "close_session"),
        (lambda m: m.set_reference(300_000, symbol="XXX-2025"), "set_reference_price"),
    ],
)
def test_market_commands_for_an_unknown_symbol_are_rejected(market, send, action):
    events = send(market)

    assert market.rejection(events) == "unknown_symbol"
    assert (events[0].order_id, events[0].owner, events[0].action) == (0, "", action)


@pytest.mark.parametrize(
    ("price_fen", "reason"), [(0, "invalid_price"), (300_005, "price_off_tick")]
)
def test_set_reference_price_must_be_positive_and_on_the_tick(market, price_fen, reason):
    events = market.set_reference(price_fen)

    assert market.rejection(events) == reason
    assert market.engine.instrument("NOX-2025").reference_price_fen == 300_000


def test_adding_an_existing_symbol_is_rejected_instrument_exists(market):
    events = market.add_instrument("NOX-2025")

    assert market.rejection(events) == "instrument_exists"
    assert (events[0].order_id, events[0].owner, events[0].action) == (0, "", "add_instrument")


@pytest.mark.parametrize(
    "overrides",
    [
        {"tick_fen": 0},
        {"lot_kg": 0},
        {"reference_price_fen": 0},
        {"reference_price_fen": 300_005},
        {"band_bps": 0},
        {"band_bps": 10_001},
    ],
)
def test_invalid_instrument_is_rejected(market, overrides):
    events = market.add_instrument("SO2-2025", **overrides)

    assert market.rejection(events) == "invalid_instrument"
    assert market.engine.symbols() == ["NOX-2025"]


def test_added_instrument_is_reported_and_open(market):
    events = market.add_instrument("SO2-2025", pollutant="SO2", band_bps=10_000)

    assert market.kinds(events) == ["InstrumentAdded"]
    assert market.engine.instrument("SO2-2025").status == "open"
    assert market.engine.instrument("SO2-2025").band() == (10, 600_000)


def test_commands_carrying_plain_strings_behave_like_enum_members(market):
    market.place(1, "a", "sell", 300_000, 100, tif="GTC", type="limit")

    events = market.place(2, "b", "buy", 0, 100, tif="IOC", type="market")

    assert market.fills(events) == [(300_000, 100, 1, 2)]
    assert events[0].side is BUY and events[0].type is MARKET and events[0].tif is IOC


def test_processing_something_that_is_not_a_command_raises(market):
    with pytest.raises(TypeError):
        market.engine.process("place 1 a buy")


def test_snapshot_is_identical_for_both_books_given_the_same_commands(market):
    other = type(market)(ReferenceBook if market.book_class is FastBook else FastBook,
                         market.engine.stp)  # fmt: skip
    for m in (market, other):
        m.sell(1, "a", 301_000, 300, tif=DAY)
        m.sell(2, "b", 301_000, 200)
        m.buy(3, "c", 299_000, 100)
        m.buy(4, "d", 301_000, 100)

    assert market.engine.snapshot() == other.engine.snapshot()
    assert market.engine.state_hash() == other.engine.state_hash()


def test_restored_engine_has_the_same_hash_and_behaves_the_same(market, book_class):
    market.sell(1, "a", 301_000, 300, tif=DAY)
    market.sell(2, "b", 301_000, 200)
    market.buy(3, "c", 299_000, 100)
    market.buy(4, "d", 301_000, 100)
    market.halt()

    restored = MatchingEngine.restore(market.engine.snapshot(), book_class)

    assert restored.state_hash() == market.engine.state_hash()
    restored.check_invariants()
    assert restored.instrument("NOX-2025").status == "halted"
    resume = ResumeMarket(100, 0, "NOX-2025")
    next_trade = PlaceOrder(101, 0, "NOX-2025", 5, "e", BUY, LIMIT, 301_000, 400, GTC)
    assert restored.process(resume) == market.engine.process(resume)
    assert restored.process(next_trade) == market.engine.process(next_trade)
    assert restored.state_hash() == market.engine.state_hash()
    assert restored.book("NOX-2025").trade_count == 3


def test_snapshot_restores_into_the_other_book(market, book_class):
    market.sell(1, "a", 301_000, 300)
    market.buy(2, "b", 299_000, 100)
    other = ReferenceBook if book_class is FastBook else FastBook

    restored = MatchingEngine.restore(market.engine.snapshot(), other)

    assert restored.state_hash() == market.engine.state_hash()
    cancel = CancelOrder(50, 0, "NOX-2025", 1, "a")
    assert restored.process(cancel) == market.engine.process(cancel)


def test_state_hash_changes_when_the_book_changes(market):
    before = market.engine.state_hash()
    market.buy(1, "a", 299_000, 100)
    assert market.engine.state_hash() != before


def test_check_invariants_catches_a_corrupted_order(market):
    market.buy(1, "a", 299_000, 100)
    market.book.orders[1].remaining_kg = 0

    with pytest.raises(InvariantViolation):
        market.engine.check_invariants()


def test_check_invariants_catches_a_crossed_book(market):
    market.buy(1, "a", 299_000, 100)
    market.sell(2, "b", 300_000, 100)
    corrupt = market.engine.snapshot().replace(b"[300000,[[2,", b"[299000,[[2,")

    with pytest.raises(InvariantViolation, match="crossed"):
        MatchingEngine.restore(corrupt, market.book_class).check_invariants()
