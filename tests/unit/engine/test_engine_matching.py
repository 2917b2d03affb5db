"""Price-time priority, fills, sweeps, market orders, IOC and FOK, on both books."""

from matching_engine.events import BookLevelChanged, OrderAccepted, OrderCancelled, Trade
from matching_engine.types import BUY, DAY, FOK, GTC, IOC, MARKET, SELL


def test_orders_that_do_not_cross_rest_and_show_as_levels_best_first(market):
    market.buy(1, "a", 299_000, 500)
    market.buy(2, "b", 299_500, 300)
    market.buy(3, "c", 299_500, 200)
    market.sell(4, "d", 301_000, 100)
    market.sell(5, "e", 300_500, 700)

    assert market.book.best_bid() == 299_500
    assert market.book.best_ask() == 300_500
    assert market.depth() == ([(299_500, 500), (299_000, 500)], [(300_500, 700), (301_000, 100)])
    assert market.depth(1) == ([(299_500, 500)], [(300_500, 700)])


def test_empty_book_has_no_best_prices_and_no_depth(market):
    assert market.book.best_bid() is None
    assert market.book.best_ask() is None
    assert market.depth() == ([], [])


def test_resting_order_reports_accepted_then_its_level(market):
    events = market.buy(1, "a", 299_000, 500, tif=DAY)

    # seq 1 added the instrument; this is command 2, stamped at 2000 µs
    assert events == [
        OrderAccepted(2, 2_000, "NOX-2025", 1, "a", BUY, "limit", 299_000, 500, DAY),
        BookLevelChanged(2, "NOX-2025", BUY, 299_000, 500),
    ]
    assert market.book.get_order(1) == (1, "a", BUY, 299_000, 500, DAY)


def test_incoming_order_trades_at_the_resting_order_price(market):
    market.sell(1, "maker", 300_000, 500)

    events = market.buy(2, "taker", 302_000, 500)

    assert market.fills(events) == [(300_000, 500, 1, 2)]
    trade = events[1]
    assert trade.taker_side == BUY and trade.maker_owner == "maker" and trade.taker_owner == "taker"
    assert trade.maker_remaining_kg == 0 and trade.taker_remaining_kg == 0
    assert market.depth() == ([], [])


def test_orders_at_the_same_price_fill_in_arrival_order(market):
    market.sell(1, "a", 300_000, 100)
    market.sell(2, "b", 300_000, 100)
    market.sell(3, "c", 300_000, 100)

    events = market.buy(4, "d", 300_000, 200)

    assert market.fills(events) == [(300_000, 100, 1, 4), (300_000, 100, 2, 4)]
    assert market.remaining(3) == 100


def test_better_price_fills_before_an_earlier_worse_price(market):
    market.buy(1, "a", 299_000, 100)
    market.buy(2, "b", 299_500, 100)

    events = market.sell(3, "c", 299_000, 200)

    assert market.fills(events) == [(299_500, 100, 2, 3), (299_000, 100, 1, 3)]


def test_partial_fill_leaves_the_maker_remainder_at_the_front_of_its_level(market):
    market.sell(1, "a", 300_000, 500)
    market.sell(2, "b", 300_000, 500)

    first = market.buy(3, "c", 300_000, 200)
    second = market.buy(4, "d", 300_000, 400)

    assert market.fills(first) == [(300_000, 200, 1, 3)]
    assert first[1].maker_remaining_kg == 300
    assert market.fills(second) == [(300_000, 300, 1, 4), (300_000, 100, 2, 4)]
    assert market.depth() == ([], [(300_000, 400)])


def test_partial_fill_of_the_incoming_order_rests_its_remainder(market):
    market.sell(1, "a", 300_000, 200)

    events = market.buy(2, "b", 300_500, 500)

    assert market.kinds(events) == [
        "OrderAccepted",
        "Trade",
        "BookLevelChanged",
        "BookLevelChanged",
    ]
    assert events[2] == BookLevelChanged(events[0].seq, "NOX-2025", SELL, 300_000, 0)
    assert events[3] == BookLevelChanged(events[0].seq, "NOX-2025", BUY, 300_500, 300)
    assert market.depth() == ([(300_500, 300)], [])


def test_aggressive_order_sweeps_levels_best_first_reporting_each_level_once(market):
    market.sell(1, "a", 300_000, 100)
    market.sell(2, "b", 300_000, 100)
    market.sell(3, "c", 300_500, 100)
    market.sell(4, "d", 301_000, 300)

    events = market.buy(5, "e", 301_000, 400)

    assert market.kinds(events) == [
        "OrderAccepted",
        "Trade", "Trade", "BookLevelChanged",
        "Trade", "BookLevelChanged",
        "Trade", "BookLevelChanged",
    ]  # fmt: skip
    assert market.fills(events) == [
        (300_000, 100, 1, 5), (300_000, 100, 2, 5), (300_500, 100, 3, 5), (301_000, 100, 4, 5),
    ]  # fmt: skip
    levels = [(e.price_fen, e.quantity_kg) for e in events if isinstance(e, BookLevelChanged)]
    assert levels == [(300_000, 0), (300_500, 0), (301_000, 200)]
    assert [e.trade_id for e in events if isinstance(e, Trade)] == [1, 2, 3, 4]


def test_sweep_stops_at_the_limit_price(market):
    market.sell(1, "a", 300_000, 100)
    market.sell(2, "b", 300_500, 100)

    events = market.buy(3, "c", 300_000, 300)

    assert market.fills(events) == [(300_000, 100, 1, 3)]
    assert market.depth() == ([(300_000, 200)], [(300_500, 100)])


def test_trade_ids_count_from_one_per_symbol(market):
    market.add_instrument("SO2-2025", pollutant="SO2")
    market.sell(1, "a", 300_000, 200)
    market.sell(2, "a", 300_000, 200, symbol="SO2-2025")

    nox = market.buy(3, "b", 300_000, 100) + market.buy(4, "b", 300_000, 100)
    so2 = market.buy(5, "b", 300_000, 100, symbol="SO2-2025")

    assert [e.trade_id for e in nox if isinstance(e, Trade)] == [1, 2]
    assert [e.trade_id for e in so2 if isinstance(e, Trade)] == [1]


def test_market_buy_is_accepted_at_the_band_high_and_sweeps_the_book(market):
    market.sell(1, "a", 300_000, 100)
    market.sell(2, "b", 330_000, 100)

    events = market.market(3, "c", BUY, 200)

    assert events[0].type == MARKET and events[0].price_fen == 330_000
    assert market.fills(events) == [(300_000, 100, 1, 3), (330_000, 100, 2, 3)]


def test_market_sell_is_accepted_at_the_band_low(market):
    market.buy(1, "a", 270_000, 100)

    events = market.market(2, "b", SELL, 100)

    assert events[0].price_fen == 270_000
    assert market.fills(events) == [(270_000, 100, 1, 2)]


def test_market_order_never_trades_beyond_the_band_edge(market):
    market.sell(1, "a", 320_000, 100)
    market.set_reference(280_000)  # band now 252000..308000: the ask sits above it

    events = market.market(2, "b", BUY, 100)

    assert events[0].price_fen == 308_000
    assert market.fills(events) == []
    assert events[-1].reason == "market_order_remainder"
    assert market.remaining(1) == 100


def test_market_order_remainder_is_cancelled_as_market_order_remainder(market):
    market.sell(1, "a", 300_000, 100)

    events = market.market(2, "b", BUY, 300)

    assert market.kinds(events) == ["OrderAccepted", "Trade", "BookLevelChanged", "OrderCancelled"]
    assert events[-1] == OrderCancelled(
        events[0].seq, events[0].ts_us, "NOX-2025", 2, "b", BUY, 330_000, 200,
        "market_order_remainder",
    )  # fmt: skip
    assert market.depth() == ([], [])


def test_market_order_into_an_empty_book_is_cancelled_whole(market):
    events = market.market(1, "a", SELL, 300)

    assert market.kinds(events) == ["OrderAccepted", "OrderCancelled"]
    assert events[-1].cancelled_kg == 300 and events[-1].reason == "market_order_remainder"


def test_ioc_fills_what_it_can_and_cancels_the_rest(market):
    market.sell(1, "a", 300_000, 100)

    events = market.buy(2, "b", 300_000, 300, tif=IOC)

    assert market.fills(events) == [(300_000, 100, 1, 2)]
    assert events[-1].reason == "ioc_remainder" and events[-1].cancelled_kg == 200
    assert market.depth() == ([], [])


def test_ioc_that_crosses_nothing_is_cancelled_whole(market):
    market.sell(1, "a", 300_500, 100)

    events = market.buy(2, "b", 300_000, 300, tif=IOC)

    assert market.kinds(events) == ["OrderAccepted", "OrderCancelled"]
    assert events[-1].reason == "ioc_remainder" and events[-1].cancelled_kg == 300
    assert market.depth() == ([], [(300_500, 100)])


def test_fok_order_that_cannot_fill_completely_is_cancelled_without_fills(market):
    market.sell(1, "a", 300_000, 100)
    market.sell(2, "b", 300_500, 100)
    before = market.engine.state_hash()

    events = market.buy(3, "c", 300_500, 300, tif=FOK)

    assert market.kinds(events) == ["OrderAccepted", "OrderCancelled"]
    assert events[-1].reason == "fok_not_fillable" and events[-1].cancelled_kg == 300
    assert market.engine.state_hash() == before


def test_fok_order_that_can_fill_completely_fills_across_levels(market):
    market.sell(1, "a", 300_000, 100)
    market.sell(2, "b", 300_500, 200)

    events = market.buy(3, "c", 300_500, 300, tif=FOK)

    assert market.fills(events) == [(300_000, 100, 1, 3), (300_500, 200, 2, 3)]
    assert not any(isinstance(e, OrderCancelled) for e in events)
    assert market.depth() == ([], [])


def test_fok_ignores_liquidity_beyond_its_limit(market):
    market.sell(1, "a", 300_000, 100)
    market.sell(2, "b", 301_000, 500)

    events = market.buy(3, "c", 300_500, 200, tif=FOK)

    assert market.fills(events) == []
    assert events[-1].reason == "fok_not_fillable"


def test_fok_market_order_that_cannot_fill_is_cancelled_fok_not_fillable(market):
    market.buy(1, "a", 299_000, 100)

    events = market.market(2, "b", SELL, 200, tif=FOK)

    assert market.kinds(events) == ["OrderAccepted", "OrderCancelled"]
    assert events[-1].reason == "fok_not_fillable"
    assert market.remaining(1) == 100


def test_fok_market_order_that_can_fill_does(market):
    market.buy(1, "a", 299_000, 100)
    market.buy(2, "b", 298_000, 100)

    events = market.market(3, "c", SELL, 200, tif=FOK)

    assert market.fills(events) == [(299_000, 100, 1, 3), (298_000, 100, 2, 3)]


def test_fok_does_not_count_quantity_behind_its_owners_resting_order(market):
    market.sell(1, "other", 300_000, 100)
    market.sell(2, "me", 300_000, 100)
    market.sell(3, "other", 300_000, 100)

    events = market.buy(4, "me", 300_000, 200, tif=FOK)

    assert market.kinds(events) == ["OrderAccepted", "OrderCancelled"]
    assert events[-1].reason == "fok_not_fillable"
    assert [market.remaining(i) for i in (1, 2, 3)] == [100, 100, 100]


def test_fok_counts_past_own_orders_when_resting_side_is_cancelled(cancel_resting_market):
    m = cancel_resting_market
    m.sell(1, "other", 300_000, 100)
    m.sell(2, "me", 300_000, 100)
    m.sell(3, "other", 300_000, 100)

    events = m.buy(4, "me", 300_000, 200, tif=FOK)

    assert m.fills(events) == [(300_000, 100, 1, 4), (300_000, 100, 3, 4)]
    assert [e.order_id for e in events if isinstance(e, OrderCancelled)] == [2]
    assert m.depth() == ([], [])


def test_gtc_order_keeps_resting_after_partial_fills(market):
    market.buy(1, "a", 300_000, 500, tif=GTC)
    market.sell(2, "b", 300_000, 200)

    assert market.remaining(1) == 300
    assert market.book.get_order(1).tif == GTC
