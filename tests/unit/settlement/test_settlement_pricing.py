from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.pricing import (
    buy_hold_fen,
    buy_lock_per_lot_fen,
    ceil_div,
    fee_fen,
    round_half_up_div,
    trade_cash_fen,
)


def test_trade_cash_is_price_times_kilograms_over_1000_rounded_half_up():
    assert trade_cash_fen(300_000, 1_500) == 450_000
    assert trade_cash_fen(1_500, 1) == 2  # 1.5 fen rounds up
    assert trade_cash_fen(1_499, 1) == 1  # 1.499 rounds down
    assert trade_cash_fen(2_500, 1) == 3  # half up, not half even
    assert trade_cash_fen(123_457, 3) == 370  # 370.371


def test_fee_is_basis_points_of_the_cash_rounded_half_up():
    assert fee_fen(10_000, 25) == 25
    assert fee_fen(200, 25) == 1  # 0.5 rounds up
    assert fee_fen(199, 25) == 0  # 0.4975 rounds down
    assert fee_fen(123_456, 0) == 0


def test_rounding_helpers_use_integers_only():
    assert round_half_up_div(5, 10) == 1 and round_half_up_div(4, 10) == 0
    assert ceil_div(1, 1_000) == 1 and ceil_div(1_000, 1_000) == 1 and ceil_div(0, 7) == 0
    assert isinstance(buy_hold_fen(333_333, 7, 1, 33), int)


def test_buy_hold_is_whole_lots_times_ceiled_cost_plus_ceiled_fee():
    # 1 kg lots at 1500 fen/t: ceil(1.5) = 2 fen per lot, fee 25 bps: ceil(2 * 0.0025) = 1.
    assert buy_lock_per_lot_fen(1_500, 1, 25) == 3
    assert buy_hold_fen(1_500, 10, 1, 25) == 30


def test_locking_the_whole_order_rounded_once_would_not_cover_many_small_fills():
    # Why the hold is per lot: ten 1 kg fills at 1500 fen/t each round half up to 2 fen.
    whole_order_ceiling = ceil_div(1_500 * 10, 1_000)
    ten_fills = sum(trade_cash_fen(1_500, 1) for _ in range(10))
    assert ten_fills > whole_order_ceiling
    assert ten_fills <= buy_hold_fen(1_500, 10, 1, 0)


@settings(max_examples=300, deadline=None)
@given(
    limit=st.integers(1, 2_000_000),
    lot_kg=st.integers(1, 1_000),
    fee_bps=st.integers(0, 10_000),
    fills=st.lists(st.tuples(st.integers(1, 50), st.integers(0, 2_000_000)), max_size=20),
)
def test_per_lot_hold_covers_every_sequence_of_fills_at_or_below_the_limit(
    limit, lot_kg, fee_bps, fills
):
    lots = sum(n for n, _ in fills) or 1
    hold = buy_hold_fen(limit, lots * lot_kg, lot_kg, fee_bps)
    remaining = lots * lot_kg
    for n, offset in fills:
        price = max(1, limit - offset)
        cash = trade_cash_fen(price, n * lot_kg)
        hold -= cash + fee_fen(cash, fee_bps)
        remaining -= n * lot_kg
        # After each fill what is left still covers the rest of the order.
        assert hold >= buy_hold_fen(limit, remaining, lot_kg, fee_bps)
