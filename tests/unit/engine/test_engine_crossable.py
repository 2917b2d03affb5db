"""`crossable_orders`: how many resting orders an incoming order could meet, counted
best first up to a cap, on both books; and the cancel reason a CancelOrder carries."""

import pytest

from matching_engine.book import FastBook
from matching_engine.events import OrderCancelled
from matching_engine.reference_book import ReferenceBook
from matching_engine.types import BUY, SELL, CancelReason, SelfTradePrevention
from tests.unit.engine.conftest import SYMBOL, Market

CAP = 1_000_000


def seeded(market):
    """Asks: 3 at 300000, 1 at 300500, 2 at 301000; bids: 2 at 299000, 1 at 298000."""
    oid = 0
    for price, n in ((300_000, 3), (300_500, 1), (301_000, 2)):
        for _ in range(n):
            oid += 1
            market.sell(oid, f"s{oid}", price, 100 * oid)
    for price, n in ((299_000, 2), (298_000, 1)):
        for _ in range(n):
            oid += 1
            market.buy(oid, f"b{oid}", price, 100)
    return market


def count(market, side, limit, cap=CAP):
    return market.engine.crossable_orders(SYMBOL, side, limit, cap)


def test_a_buy_counts_the_asks_at_or_below_its_limit(market):
    seeded(market)
    assert count(market, BUY, 299_990) == 0
    assert count(market, BUY, 300_000) == 3
    assert count(market, BUY, 300_490) == 3
    assert count(market, BUY, 300_500) == 4
    assert count(market, BUY, 301_000) == 6
    assert count(market, BUY, 330_000) == 6


def test_a_sell_counts_the_bids_at_or_above_its_limit(market):
    seeded(market)
    assert count(market, SELL, 299_010) == 0
    assert count(market, SELL, 299_000) == 2
    assert count(market, SELL, 298_000) == 3
    assert count(market, SELL, 270_000) == 3


def test_the_count_stops_at_the_cap_even_inside_a_level(market):
    seeded(market)
    assert [count(market, BUY, 330_000, cap) for cap in (0, 1, 2, 3, 4, 5, 6, 7)] == [
        0, 1, 2, 3, 4, 5, 6, 6,
    ]  # fmt: skip
    assert count(market, SELL, 270_000, 2) == 2


def test_an_empty_side_counts_nothing_and_sides_may_be_strings(market):
    assert count(market, BUY, 330_000) == 0
    market.sell(1, "a", 300_000, 100)
    assert count(market, "buy", 330_000) == 1 and count(market, "sell", 270_000) == 0


def test_the_owners_own_orders_count_too_so_it_bounds_the_fills(market):
    market.sell(1, "a", 300_000, 100)
    market.sell(2, "b", 300_000, 100)
    assert count(market, BUY, 300_000) == 2
    events = market.buy(3, "a", 300_000, 200)  # self-trade prevention: no fill at all
    assert market.fills(events) == []


def test_it_changes_nothing(market):
    seeded(market)
    before = market.engine.snapshot()
    seq = market.seq
    for side in (BUY, SELL):
        for limit in (270_000, 299_000, 300_000, 330_000):
            count(market, side, limit, 3)
    assert market.engine.snapshot() == before and market.seq == seq
    market.engine.check_invariants()


def test_an_unknown_symbol_is_a_key_error(market):
    with pytest.raises(KeyError):
        market.engine.crossable_orders("NOPE-2025", BUY, 300_000, CAP)


def test_it_counts_what_a_sweep_meets_after_fills_partial_fills_and_cancels(market):
    seeded(market)
    market.buy(20, "x", 300_000, 200)  # fills order 1 (100 kg), half of order 2 (200 kg)
    assert count(market, BUY, 300_000) == 2
    market.cancel(4, "s4")
    assert count(market, BUY, 301_000) == 4
    events = market.buy(21, "y", 301_000, 10_000)
    assert len(market.fills(events)) == 4
    assert count(market, BUY, 330_000) == 0


def test_both_books_agree_on_random_books():
    import random

    rnd = random.Random(7)
    fast = Market(FastBook, SelfTradePrevention.CANCEL_INCOMING)
    ref = Market(ReferenceBook, SelfTradePrevention.CANCEL_INCOMING)
    for oid in range(1, 300):
        side = rnd.choice((BUY, SELL))
        price = 300_000 + rnd.randint(-30, 30) * 10
        qty = rnd.randint(1, 5) * 100
        owner = rnd.choice("abcde")
        assert fast.place(oid, owner, side, price, qty) == ref.place(oid, owner, side, price, qty)
        for side in (BUY, SELL):
            for limit in (270_000, 299_500, 300_000, 300_500, 330_000):
                cap = rnd.choice((0, 1, 3, 10, CAP))
                a = fast.engine.crossable_orders(SYMBOL, side, limit, cap)
                assert a == ref.engine.crossable_orders(SYMBOL, side, limit, cap)


def test_a_cancel_carries_its_reason_user_by_default(market):
    market.buy(1, "a", 299_000, 100)
    market.buy(2, "a", 299_000, 100)
    (user, _) = market.cancel(1, "a")
    assert type(user) is OrderCancelled and user.reason == CancelReason.USER == "user"
    (funds, _) = market.cancel(2, "a", reason=CancelReason.INSUFFICIENT_FUNDS)
    assert funds.reason is CancelReason.INSUFFICIENT_FUNDS
    assert funds.reason == "insufficient_funds"


def test_a_cancel_reason_given_as_a_string_becomes_the_enum(market):
    market.buy(1, "a", 299_000, 100)
    (cancelled, _) = market.cancel(1, "a", reason="insufficient_funds")
    assert cancelled.reason is CancelReason.INSUFFICIENT_FUNDS
