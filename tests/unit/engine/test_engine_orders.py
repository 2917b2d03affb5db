"""Cancel, amend, self-trade prevention, halt and session close, on both books."""

import pytest

from matching_engine.events import (
    BookLevelChanged,
    MarketHalted,
    OrderCancelled,
    OrderReduced,
    OrderReplaced,
    SelfTradePrevented,
    SessionClosed,
)
from matching_engine.types import BUY, DAY, GTC, SELL


def test_cancel_removes_the_order_and_reports_its_level(market):
    market.buy(1, "a", 299_000, 500)
    market.buy(2, "b", 299_000, 300)

    events = market.cancel(1, "a")

    seq = events[0].seq
    assert events == [
        OrderCancelled(seq, seq * 1_000, "NOX-2025", 1, "a", BUY, 299_000, 500, "user"),
        BookLevelChanged(seq, "NOX-2025", BUY, 299_000, 300),
    ]
    assert market.book.get_order(1) is None
    assert market.depth() == ([(299_000, 300)], [])


def test_cancel_of_the_last_order_at_a_level_removes_the_level(market):
    market.sell(1, "a", 300_000, 100)
    market.sell(2, "a", 300_500, 100)

    events = market.cancel(1, "a")

    assert events[-1].quantity_kg == 0
    assert market.book.best_ask() == 300_500


def test_cancel_of_a_filled_order_is_rejected_order_not_open(market):
    market.sell(1, "a", 300_000, 100)
    market.buy(2, "b", 300_000, 100)

    assert market.rejection(market.cancel(1, "a")) == "order_not_open"
    assert market.rejection(market.cancel(99, "a")) == "order_not_open"


def test_cancel_of_someone_elses_order_is_rejected_not_order_owner(market):
    market.sell(1, "a", 300_000, 100)

    assert market.rejection(market.cancel(1, "mallory")) == "not_order_owner"
    assert market.remaining(1) == 100


def test_cancel_is_allowed_while_halted(market):
    market.sell(1, "a", 300_000, 100)
    market.halt()

    events = market.cancel(1, "a")

    assert market.kinds(events) == ["OrderCancelled", "BookLevelChanged"]


def test_reducing_quantity_keeps_time_priority(market):
    market.sell(1, "a", 300_000, 500)
    market.sell(2, "b", 300_000, 500)

    events = market.amend(1, "a", quantity_kg=200)
    fill = market.buy(3, "c", 300_000, 200)

    seq = events[0].seq
    assert events == [
        OrderReduced(seq, seq * 1_000, "NOX-2025", 1, "a", SELL, 300_000, 500, 200),
        BookLevelChanged(seq, "NOX-2025", SELL, 300_000, 700),
    ]
    assert market.fills(fill) == [(300_000, 200, 1, 3)]


def test_raising_quantity_moves_the_order_to_the_back_of_its_level(market):
    market.sell(1, "a", 300_000, 100)
    market.sell(2, "b", 300_000, 100)

    events = market.amend(1, "a", quantity_kg=300)
    fill = market.buy(3, "c", 300_000, 200)

    seq = events[0].seq
    assert events == [
        OrderReplaced(seq, seq * 1_000, "NOX-2025", 1, "a", SELL, 300_000, 300_000, 100, 300),
        BookLevelChanged(seq, "NOX-2025", SELL, 300_000, 400),
    ]
    assert market.fills(fill) == [(300_000, 100, 2, 3), (300_000, 100, 1, 3)]


def test_new_price_loses_priority_and_rests_at_the_new_level(market):
    market.buy(1, "a", 299_000, 100)
    market.buy(2, "b", 299_500, 100)

    events = market.amend(2, "b", price_fen=299_000)
    fill = market.sell(3, "c", 299_000, 100)

    assert market.kinds(events) == ["OrderReplaced", "BookLevelChanged", "BookLevelChanged"]
    assert (events[1].price_fen, events[1].quantity_kg) == (299_500, 0)
    assert (events[2].price_fen, events[2].quantity_kg) == (299_000, 200)
    assert market.fills(fill) == [(299_000, 100, 1, 3)]


def test_new_price_that_crosses_trades_at_once_keeping_its_id_and_tif(market):
    market.buy(1, "a", 299_000, 300, tif=DAY)
    market.sell(2, "b", 300_000, 100)

    events = market.amend(1, "a", price_fen=300_000)

    assert market.kinds(events) == [
        "OrderReplaced", "BookLevelChanged", "Trade", "BookLevelChanged", "BookLevelChanged",
    ]  # fmt: skip
    assert market.fills(events) == [(300_000, 100, 2, 1)]
    assert events[2].taker_side == BUY and events[2].taker_remaining_kg == 200
    assert market.book.get_order(1) == (1, "a", BUY, 300_000, 200, DAY)
    closed = market.close()
    assert [e.order_id for e in closed if isinstance(e, OrderCancelled)] == [1]


def test_amend_with_new_price_and_quantity_applies_both(market):
    market.sell(1, "a", 301_000, 100)

    events = market.amend(1, "a", quantity_kg=400, price_fen=300_500)

    assert events[0] == OrderReplaced(
        events[0].seq, events[0].ts_us, "NOX-2025", 1, "a", SELL, 301_000, 300_500, 100, 400
    )
    assert market.depth() == ([], [(300_500, 400)])


def test_amend_with_nothing_changed_is_rejected_no_change(market):
    market.sell(1, "a", 301_000, 100)

    assert market.rejection(market.amend(1, "a")) == "no_change"
    assert market.rejection(market.amend(1, "a", quantity_kg=100)) == "no_change"
    assert market.rejection(market.amend(1, "a", 100, 301_000)) == "no_change"


@pytest.mark.parametrize(
    ("quantity_kg", "price_fen", "reason"),
    [
        (0, None, "invalid_quantity"),
        (-100, None, "invalid_quantity"),
        (150, None, "quantity_off_lot"),
        (None, 0, "invalid_price"),
        (None, 300_005, "price_off_tick"),
        (None, 330_010, "price_outside_band"),
        (None, 269_990, "price_outside_band"),
    ],
)
def test_amend_checks_the_new_quantity_and_price(market, quantity_kg, price_fen, reason):
    market.sell(1, "a", 301_000, 100)
    before = market.engine.state_hash()

    assert market.rejection(market.amend(1, "a", quantity_kg, price_fen)) == reason
    assert market.engine.state_hash() == before


def test_amend_of_an_order_not_in_the_book_or_not_owned_is_rejected(market):
    market.sell(1, "a", 301_000, 100)

    assert market.rejection(market.amend(2, "a", quantity_kg=100)) == "order_not_open"
    assert market.rejection(market.amend(1, "b", quantity_kg=100)) == "not_order_owner"


def test_amend_is_rejected_while_halted(market):
    market.sell(1, "a", 301_000, 100)
    market.halt()

    assert market.rejection(market.amend(1, "a", quantity_kg=200)) == "market_halted"


def test_self_trade_cancels_the_incoming_remainder_by_default(market):
    market.sell(1, "other", 300_000, 100)
    market.sell(2, "me", 300_000, 100)
    market.sell(3, "other", 300_000, 100)

    events = market.buy(4, "me", 300_000, 300)

    seq = events[0].seq
    assert market.kinds(events) == [
        "OrderAccepted", "Trade", "BookLevelChanged", "SelfTradePrevented", "OrderCancelled",
    ]  # fmt: skip
    assert events[2] == BookLevelChanged(seq, "NOX-2025", SELL, 300_000, 200)
    assert events[3] == SelfTradePrevented(seq, seq * 1_000, "NOX-2025", 4, 2, "me", "incoming")
    assert events[4] == OrderCancelled(
        seq, seq * 1_000, "NOX-2025", 4, "me", BUY, 300_000, 200, "self_trade"
    )
    assert [market.remaining(i) for i in (2, 3)] == [100, 100]


def test_self_trade_at_the_front_of_a_level_cancels_incoming_without_a_level_change(market):
    market.sell(1, "other", 300_000, 100)
    market.sell(2, "me", 300_500, 100)

    events = market.buy(3, "me", 300_500, 300)

    assert market.kinds(events) == [
        "OrderAccepted", "Trade", "BookLevelChanged", "SelfTradePrevented", "OrderCancelled",
    ]  # fmt: skip
    assert events[2].price_fen == 300_000


def test_cancel_resting_mode_cancels_the_own_resting_order_and_keeps_matching(
    cancel_resting_market,
):
    m = cancel_resting_market
    m.sell(1, "other", 300_000, 100)
    m.sell(2, "me", 300_000, 100)
    m.sell(3, "other", 300_000, 100)

    events = m.buy(4, "me", 300_000, 300)

    seq = events[0].seq
    assert m.kinds(events) == [
        "OrderAccepted", "Trade", "SelfTradePrevented", "OrderCancelled", "Trade",
        "BookLevelChanged", "BookLevelChanged",
    ]  # fmt: skip
    assert events[2] == SelfTradePrevented(seq, seq * 1_000, "NOX-2025", 4, 2, "me", "resting")
    assert events[3] == OrderCancelled(
        seq, seq * 1_000, "NOX-2025", 2, "me", SELL, 300_000, 100, "self_trade"
    )
    assert m.fills(events) == [(300_000, 100, 1, 4), (300_000, 100, 3, 4)]
    assert m.depth() == ([(300_000, 100)], [])


def test_self_trade_prevention_applies_to_a_repriced_order(market):
    market.sell(1, "me", 300_000, 100)
    market.buy(2, "me", 299_000, 100)

    events = market.amend(2, "me", price_fen=300_000)

    assert market.kinds(events) == [
        "OrderReplaced", "BookLevelChanged", "SelfTradePrevented", "OrderCancelled",
    ]  # fmt: skip
    assert events[-1].reason == "self_trade"
    assert market.book.get_order(2) is None and market.remaining(1) == 100


def test_halt_rejects_new_orders_until_resume(market):
    assert market.kinds(market.halt()) == ["MarketHalted"]
    assert market.rejection(market.buy(1, "a", 300_000, 100)) == "market_halted"
    assert market.instrument_status() == "halted"

    assert market.kinds(market.resume()) == ["MarketResumed"]
    assert market.kinds(market.buy(1, "a", 300_000, 100))[0] == "OrderAccepted"
    assert market.instrument_status() == "open"


def test_halt_without_cancel_keeps_the_book(market):
    market.buy(1, "a", 299_000, 100)

    market.halt()

    assert market.depth() == ([(299_000, 100)], [])


def test_halt_with_cancel_orders_cancels_every_resting_order_in_order_id_order(market):
    market.sell(5, "a", 300_000, 100)
    market.buy(2, "b", 299_000, 100)
    market.sell(9, "c", 300_000, 100)
    market.buy(1, "d", 298_000, 100)

    events = market.halt(cancel_orders=True)

    assert isinstance(events[0], MarketHalted)
    cancelled = [e.order_id for e in events if isinstance(e, OrderCancelled)]
    assert cancelled == [1, 2, 5, 9]
    assert {e.reason for e in events if isinstance(e, OrderCancelled)} == {"halt"}
    assert market.kinds(events[1:]) == ["OrderCancelled", "BookLevelChanged"] * 4
    assert market.depth() == ([], [])


def test_close_session_expires_day_orders_in_order_id_order_and_keeps_gtc(market):
    market.buy(7, "a", 299_000, 100, tif=DAY)
    market.buy(3, "b", 299_000, 100, tif=GTC)
    market.sell(4, "c", 301_000, 100, tif=DAY)

    events = market.close()

    assert market.kinds(events) == [
        "OrderCancelled", "BookLevelChanged", "OrderCancelled", "BookLevelChanged", "SessionClosed",
    ]  # fmt: skip
    assert [(e.order_id, e.reason) for e in events if isinstance(e, OrderCancelled)] == [
        (4, "expired"), (7, "expired"),
    ]  # fmt: skip
    assert events[-1].expired_orders == 2
    assert market.depth() == ([(299_000, 100)], [])
    assert market.book.get_order(3).tif == GTC


def test_close_session_makes_the_last_trade_price_the_reference(market):
    market.sell(1, "a", 310_000, 100)
    market.sell(2, "a", 320_000, 100)
    market.buy(3, "b", 320_000, 200)

    events = market.close()

    assert events[-1] == SessionClosed(events[-1].seq, events[-1].ts_us, "NOX-2025", 320_000, 0)
    assert market.engine.instrument("NOX-2025").reference_price_fen == 320_000
    assert market.engine.instrument("NOX-2025").band() == (288_000, 352_000)
    assert market.kinds(market.buy(4, "c", 352_000, 100))[0] == "OrderAccepted"


def test_close_session_without_trades_keeps_the_reference(market):
    market.sell(1, "a", 310_000, 100)
    market.buy(2, "b", 310_000, 100)
    market.close()

    events = market.close()

    assert events[-1].reference_price_fen == 310_000
    market.set_reference(305_000)
    assert market.close()[-1].reference_price_fen == 305_000


def test_set_reference_price_moves_the_band(market):
    events = market.set_reference(200_000)

    assert market.kinds(events) == ["ReferencePriceSet"]
    assert market.rejection(market.buy(1, "a", 300_000, 100)) == "price_outside_band"
    assert market.kinds(market.buy(1, "a", 220_000, 100))[0] == "OrderAccepted"
