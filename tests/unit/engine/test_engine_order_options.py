"""Post-only orders, self-trade prevention chosen per order, and cancel-all, on both books."""

import pytest

from matching_engine.book import FastBook
from matching_engine.commands import CancelAll, PlaceOrder
from matching_engine.engine import MatchingEngine
from matching_engine.events import (
    BookLevelChanged,
    OrderCancelled,
    SelfTradePrevented,
)
from matching_engine.reference_book import ReferenceBook
from matching_engine.types import (
    BUY,
    DAY,
    FOK,
    GTC,
    IOC,
    LIMIT,
    MARKET,
    SELL,
    SelfTradePrevention,
)

CANCEL_INCOMING = SelfTradePrevention.CANCEL_INCOMING
CANCEL_RESTING = SelfTradePrevention.CANCEL_RESTING
CANCEL_BOTH = SelfTradePrevention.CANCEL_BOTH

# ------------------------------------------------------------------ post-only


@pytest.mark.parametrize("tif", [GTC, DAY])
def test_post_only_that_does_not_cross_rests_whole(market, tif):
    market.sell(1, "a", 300_500, 100)

    events = market.buy(2, "b", 300_000, 200, tif=tif, post_only=True)

    assert market.kinds(events) == ["OrderAccepted", "BookLevelChanged"]
    assert market.remaining(2) == 200
    assert market.book.orders[2].post_only is True


@pytest.mark.parametrize(
    ("side", "price_fen"),
    [(BUY, 300_500), (BUY, 301_000), (SELL, 300_000), (SELL, 299_500)],
)
def test_post_only_that_would_trade_is_refused_and_changes_nothing(market, side, price_fen):
    market.sell(1, "a", 300_500, 100)
    market.buy(2, "b", 300_000, 100)
    before = market.engine.state_hash()

    events = market.place(3, "c", side, price_fen, 100, post_only=True)

    assert market.rejection(events) == "post_only_would_cross"
    assert events[0].action == "place" and events[0].order_id == 3
    assert market.engine.state_hash() == before


def test_post_only_is_refused_even_when_the_only_order_it_meets_is_its_owners(market):
    market.sell(1, "me", 300_500, 100)

    events = market.buy(2, "me", 300_500, 100, post_only=True)

    assert market.rejection(events) == "post_only_would_cross"
    assert market.remaining(1) == 100


@pytest.mark.parametrize("tif", [IOC, FOK])
def test_post_only_limit_ioc_or_fok_is_invalid_time_in_force(market, tif):
    assert market.rejection(market.buy(1, "a", 300_000, 100, tif=tif, post_only=True)) == (
        "invalid_time_in_force"
    )


def test_post_only_market_order_is_invalid_time_in_force(market):
    events = market.place(1, "a", BUY, 0, 100, IOC, type=MARKET, post_only=True)

    assert market.rejection(events) == "invalid_time_in_force"


def test_post_only_checks_come_after_the_price_and_duplicate_checks(market):
    market.sell(1, "a", 300_000, 100)

    assert market.rejection(market.buy(2, "b", 300_005, 100, post_only=True)) == "price_off_tick"
    assert market.rejection(market.buy(1, "b", 300_000, 100, post_only=True)) == (
        "duplicate_order_id"
    )


def test_post_only_order_moved_to_a_crossing_price_is_refused(market):
    market.sell(1, "a", 300_500, 100)
    market.buy(2, "b", 299_000, 200, post_only=True)
    before = market.engine.state_hash()

    events = market.amend(2, "b", price_fen=300_500)

    assert market.rejection(events) == "post_only_would_cross"
    assert events[0].action == "amend"
    assert market.engine.state_hash() == before


def test_post_only_order_may_move_to_a_price_that_does_not_cross(market):
    market.sell(1, "a", 300_500, 100)
    market.buy(2, "b", 299_000, 200, post_only=True)

    events = market.amend(2, "b", price_fen=300_000)

    assert market.kinds(events) == ["OrderReplaced", "BookLevelChanged", "BookLevelChanged"]
    assert market.book.orders[2].post_only is True


def test_an_ordinary_order_moved_through_the_book_still_trades(market):
    market.sell(1, "a", 300_500, 100)
    market.buy(2, "b", 299_000, 100)

    assert market.fills(market.amend(2, "b", price_fen=300_500)) == [(300_500, 100, 1, 2)]


# ------------------------------------------------- self-trade prevention per order


def test_cancel_both_cancels_the_met_resting_order_and_the_incoming_remainder(market):
    market.sell(1, "other", 300_000, 100)
    market.sell(2, "me", 300_000, 100)
    market.sell(3, "other", 300_000, 100)

    events = market.buy(4, "me", 300_000, 300, stp=CANCEL_BOTH)

    seq, ts = events[0].seq, events[0].seq * 1_000
    assert market.kinds(events[:2]) == ["OrderAccepted", "Trade"]
    assert events[2:] == [
        SelfTradePrevented(seq, ts, "NOX-2025", 4, 2, "me", "both"),
        OrderCancelled(seq, ts, "NOX-2025", 2, "me", SELL, 300_000, 100, "self_trade"),
        BookLevelChanged(seq, "NOX-2025", SELL, 300_000, 100),
        OrderCancelled(seq, ts, "NOX-2025", 4, "me", BUY, 300_000, 200, "self_trade"),
    ]
    assert market.fills(events) == [(300_000, 100, 1, 4)]
    assert market.remaining(2) is None and market.remaining(4) is None
    assert market.depth() == ([], [(300_000, 100)])


def test_cancel_both_at_the_front_of_a_level_reports_that_level_once(market):
    market.sell(1, "me", 300_000, 100)

    events = market.buy(2, "me", 300_500, 300, stp=CANCEL_BOTH)

    assert market.kinds(events) == [
        "OrderAccepted", "SelfTradePrevented", "OrderCancelled", "BookLevelChanged",
        "OrderCancelled",
    ]  # fmt: skip
    assert events[3] == BookLevelChanged(events[0].seq, "NOX-2025", SELL, 300_000, 0)
    assert market.depth() == ([], [])
    assert market.book.trade_count == 0


def test_the_incoming_orders_mode_decides_not_the_resting_orders(market):
    market.sell(1, "me", 300_000, 100, stp=CANCEL_BOTH)
    market.sell(2, "other", 300_000, 100)

    events = market.buy(3, "me", 300_000, 100, stp=CANCEL_RESTING)

    assert market.kinds(events) == [
        "OrderAccepted", "SelfTradePrevented", "OrderCancelled", "Trade", "BookLevelChanged",
    ]  # fmt: skip
    assert events[1].cancelled == "resting" and events[2].order_id == 1
    assert market.fills(events) == [(300_000, 100, 2, 3)]


def test_orders_of_different_modes_in_one_book(market):
    market.sell(1, "me", 300_000, 100)
    market.sell(2, "me", 300_500, 100)

    default = market.buy(3, "me", 300_500, 100)
    resting = market.buy(4, "me", 300_500, 100, stp=CANCEL_RESTING)

    assert [e.cancelled for e in default if isinstance(e, SelfTradePrevented)] == ["incoming"]
    assert [e.cancelled for e in resting if isinstance(e, SelfTradePrevented)] == [
        "resting",
        "resting",
    ]
    assert market.remaining(4) == 100  # nothing left to meet: it rests
    assert market.depth() == ([(300_500, 100)], [])


def test_engine_default_applies_to_orders_that_name_no_mode(cancel_resting_market):
    m = cancel_resting_market
    m.sell(1, "me", 300_000, 100)

    events = m.buy(2, "me", 300_000, 100)

    assert [e.cancelled for e in events if isinstance(e, SelfTradePrevented)] == ["resting"]
    assert m.book.orders[2].stp is CANCEL_RESTING


def test_explicit_cancel_incoming_overrides_a_cancel_resting_default(cancel_resting_market):
    m = cancel_resting_market
    m.sell(1, "me", 300_000, 100)

    events = m.buy(2, "me", 300_000, 100, stp=CANCEL_INCOMING)

    assert [e.cancelled for e in events if isinstance(e, SelfTradePrevented)] == ["incoming"]
    assert m.remaining(1) == 100


def test_a_repriced_order_matches_with_its_own_mode(market):
    market.sell(1, "me", 300_000, 100)
    market.buy(2, "me", 299_000, 100, stp=CANCEL_BOTH)

    events = market.amend(2, "me", price_fen=300_000)

    assert market.kinds(events) == [
        "OrderReplaced", "BookLevelChanged", "SelfTradePrevented", "OrderCancelled",
        "BookLevelChanged", "OrderCancelled",
    ]  # fmt: skip
    assert [e.order_id for e in events if isinstance(e, OrderCancelled)] == [1, 2]
    assert market.depth() == ([], [])


def test_an_unknown_mode_is_refused(market):
    events = market.buy(1, "a", 300_000, 100, stp="cancel_nobody")

    assert market.rejection(events) == "invalid_self_trade_prevention"


def test_modes_given_as_plain_strings_work_like_members(market):
    market.sell(1, "me", 300_000, 100)

    events = market.buy(2, "me", 300_000, 100, stp="cancel_both")

    assert [e.cancelled for e in events if isinstance(e, SelfTradePrevented)] == ["both"]


# ------------------------------------------ fill-or-kill with each self-trade mode


def _fok_book(market):
    market.sell(1, "other", 300_000, 100)
    market.sell(2, "me", 300_000, 100)
    market.sell(3, "other", 300_500, 200)


@pytest.mark.parametrize("stp", [CANCEL_INCOMING, CANCEL_BOTH])
def test_fok_that_would_meet_its_own_order_before_filling_is_killed_untouched(market, stp):
    _fok_book(market)
    before = market.engine.state_hash()

    events = market.buy(4, "me", 300_500, 200, tif=FOK, stp=stp)

    assert market.kinds(events) == ["OrderAccepted", "OrderCancelled"]
    assert events[1].reason == "fok_not_fillable"
    assert market.engine.state_hash() == before
    assert market.depth() == ([], [(300_000, 200), (300_500, 200)])


@pytest.mark.parametrize("stp", [CANCEL_INCOMING, CANCEL_BOTH])
def test_fok_that_fills_before_reaching_its_own_order_trades(market, stp):
    _fok_book(market)

    events = market.buy(4, "me", 300_500, 100, tif=FOK, stp=stp)

    assert market.fills(events) == [(300_000, 100, 1, 4)]
    assert market.remaining(2) == 100


def test_fok_cancelling_resting_orders_counts_every_other_owners_order(market):
    _fok_book(market)

    events = market.buy(4, "me", 300_500, 300, tif=FOK, stp=CANCEL_RESTING)

    assert market.fills(events) == [(300_000, 100, 1, 4), (300_500, 200, 3, 4)]
    assert market.remaining(2) is None


def test_fok_cancelling_resting_orders_not_fillable_cancels_nothing(market):
    _fok_book(market)

    events = market.buy(4, "me", 300_500, 400, tif=FOK, stp=CANCEL_RESTING)

    assert market.kinds(events) == ["OrderAccepted", "OrderCancelled"]
    assert market.remaining(2) == 100


# ---------------------------------------------------------------- cancel-all


def test_cancel_all_cancels_the_owners_orders_in_order_id_order(market):
    market.buy(5, "me", 299_000, 100)
    market.sell(2, "me", 301_000, 200)
    market.buy(3, "other", 299_000, 300)
    market.sell(9, "me", 301_500, 100, tif=DAY)

    events = market.send(CancelAll, owner="me")

    seq, ts = events[0].seq, events[0].seq * 1_000
    assert events == [
        OrderCancelled(seq, ts, "NOX-2025", 2, "me", SELL, 301_000, 200, "user"),
        BookLevelChanged(seq, "NOX-2025", SELL, 301_000, 0),
        OrderCancelled(seq, ts, "NOX-2025", 5, "me", BUY, 299_000, 100, "user"),
        BookLevelChanged(seq, "NOX-2025", BUY, 299_000, 300),
        OrderCancelled(seq, ts, "NOX-2025", 9, "me", SELL, 301_500, 100, "user"),
        BookLevelChanged(seq, "NOX-2025", SELL, 301_500, 0),
    ]
    assert market.depth() == ([(299_000, 300)], [])


def test_cancel_all_with_nothing_open_emits_nothing(market):
    market.buy(1, "other", 299_000, 100)

    assert market.send(CancelAll, owner="me") == []
    assert market.remaining(1) == 100


def test_cancel_all_works_while_halted(market):
    market.buy(1, "me", 299_000, 100)
    market.halt()

    assert market.kinds(market.send(CancelAll, owner="me")) == [
        "OrderCancelled",
        "BookLevelChanged",
    ]


def test_cancel_all_for_an_unknown_symbol_is_refused(market):
    events = market.send(CancelAll, owner="me", symbol="SO2-2025")

    assert market.rejection(events) == "unknown_symbol"
    assert events[0].action == "cancel_all"


def test_cancel_all_of_one_symbol_leaves_the_others(market):
    market.add_instrument("SO2-2025")
    market.buy(1, "me", 299_000, 100)
    market.send(PlaceOrder, symbol="SO2-2025", order_id=2, owner="me", side=BUY, type=LIMIT,
                price_fen=299_000, quantity_kg=100, tif=GTC)  # fmt: skip

    events = market.send(CancelAll, owner="me", symbol="SO2-2025")

    assert [e.order_id for e in events if isinstance(e, OrderCancelled)] == [2]
    assert market.remaining(1) == 100


def test_cancel_all_everywhere_goes_in_order_id_order_across_symbols(market):
    market.add_instrument("SO2-2025")
    market.send(PlaceOrder, symbol="SO2-2025", order_id=1, owner="me", side=BUY, type=LIMIT,
                price_fen=299_000, quantity_kg=100, tif=GTC)  # fmt: skip
    market.buy(2, "me", 299_000, 100)
    market.send(PlaceOrder, symbol="SO2-2025", order_id=3, owner="me", side=SELL, type=LIMIT,
                price_fen=301_000, quantity_kg=100, tif=GTC)  # fmt: skip

    events = market.send(CancelAll, owner="me", symbol=None)

    cancelled = [(e.symbol, e.order_id) for e in events if isinstance(e, OrderCancelled)]
    assert cancelled == [("SO2-2025", 1), ("NOX-2025", 2), ("SO2-2025", 3)]


# ------------------------------------------------------------ snapshots


def test_order_modes_and_post_only_survive_a_snapshot_into_either_book(market):
    market.sell(1, "me", 301_000, 100, stp=CANCEL_BOTH)
    market.sell(2, "me", 301_500, 100, post_only=True)
    market.sell(3, "me", 302_000, 100)

    for other in (FastBook, ReferenceBook):
        restored = MatchingEngine.restore(market.engine.snapshot(), other)
        assert restored.state_hash() == market.engine.state_hash()
        orders = restored.book("NOX-2025").orders
        assert [orders[i].stp for i in (1, 2, 3)] == [CANCEL_BOTH, CANCEL_INCOMING, CANCEL_INCOMING]
        assert [orders[i].post_only for i in (1, 2, 3)] == [False, True, False]


def test_snapshot_lists_only_what_differs_from_the_defaults(market):
    market.sell(1, "me", 301_000, 100)
    market.sell(2, "me", 301_500, 100, stp=CANCEL_BOTH, post_only=True)

    asks = market.book.snapshot_state()["asks"]

    assert asks == [
        [301_000, [[1, "me", 100, "GTC"]]],
        [301_500, [[2, "me", 100, "GTC", {"post_only": True, "stp": "cancel_both"}]]],
    ]


def test_an_order_naming_the_engine_default_is_stored_like_one_naming_none(market, book_class):
    unnamed = type(market)(book_class, market.engine.stp)

    market.buy(1, "me", 299_000, 100, stp=CANCEL_INCOMING)
    unnamed.buy(1, "me", 299_000, 100)

    assert market.engine.snapshot() == unnamed.engine.snapshot()
