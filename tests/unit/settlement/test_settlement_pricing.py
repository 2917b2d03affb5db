from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.pricing import (
    ROUNDING_RESERVE_FEN_PER_FILL,
    ROUNDING_RESERVE_SLACK_FEN,
    buy_hold_fen,
    ceil_div,
    fee_fen,
    round_half_up_div,
    rounding_reserve_fen,
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
    assert isinstance(buy_hold_fen(333_333, 7, 33), int)
    assert isinstance(rounding_reserve_fen(3), int)


def test_buy_hold_is_api_md_price_times_quantity_rounded_up_plus_the_fee_rounded_up():
    # API.md: 5 t at 100.00 CNY/t with 10 bps locks 500.00 + 0.50, not 550.00.
    assert buy_hold_fen(10_000, 5_000, 10) == 50_050
    # 10 kg at 1500 fen/t = 15 fen exactly; fee 25 bps of 15 fen = 0.0375, up to 1.
    assert buy_hold_fen(1_500, 10, 25) == 16
    # 7 kg at 333333 fen/t = 2333.331 -> 2334; 33 bps of it = 7.7022 -> 8.
    assert buy_hold_fen(333_333, 7, 33) == 2_334 + 8
    assert buy_hold_fen(300_000, 0, 30) == 0


@settings(max_examples=500, deadline=None)
@given(
    price=st.integers(1, 5_000_000),
    kg=st.integers(0, 10_000_000),
    fee_bps=st.integers(0, 10_000),
)
def test_buy_hold_equals_the_formula_for_any_amount(price, kg, fee_bps):
    cost = -(-price * kg // 1_000)
    assert buy_hold_fen(price, kg, fee_bps) == cost + -(-cost * fee_bps // 10_000)


def test_the_reserve_is_two_fen_per_fill_plus_two_and_nothing_without_fills():
    assert (ROUNDING_RESERVE_FEN_PER_FILL, ROUNDING_RESERVE_SLACK_FEN) == (2, 2)
    assert rounding_reserve_fen(0) == 0
    assert rounding_reserve_fen(1) == 4
    assert rounding_reserve_fen(10) == 22


def test_one_ceiling_for_the_whole_order_does_not_cover_many_small_fills():
    # Why an order that can trade at once needs the reserve: ten 1 kg fills at
    # 1500 fen/t each round 1.5 fen half up to 2, where the hold is ceil(15) = 15.
    ten_fills = sum(trade_cash_fen(1_500, 1) for _ in range(10))
    assert ten_fills == 20 > buy_hold_fen(1_500, 10, 0) == 15
    assert ten_fills <= buy_hold_fen(1_500, 10, 0) + rounding_reserve_fen(10)


def test_without_the_slack_one_fill_could_leave_the_rest_of_the_order_short():
    # The example in rounding_reserve_fen's docstring: 2n alone is 1 fen short.
    price, bps = 90_131, 7_715
    hold = buy_hold_fen(price, 22, bps)
    cash = trade_cash_fen(price, 14)
    spent = cash + fee_fen(cash, bps)
    assert (hold, cash, spent - cash, buy_hold_fen(price, 8, bps)) == (3_513, 1_262, 974, 1_280)
    left = hold - spent
    assert left + ROUNDING_RESERVE_FEN_PER_FILL * 1 < buy_hold_fen(price, 8, bps)
    assert left + rounding_reserve_fen(1) >= buy_hold_fen(price, 8, bps)


@settings(max_examples=300, deadline=None)
@given(
    limit=st.integers(1, 2_000_000),
    lot_kg=st.integers(1, 1_000),
    fee_bps=st.integers(0, 10_000),
    lots=st.integers(1, 60),
)
def test_a_resting_buy_always_covers_a_single_fill_at_its_limit(limit, lot_kg, fee_bps, lots):
    # A maker meets one taker per fill, always at its own limit: its hold covers it.
    remaining = lots * lot_kg
    hold = buy_hold_fen(limit, remaining, fee_bps)
    for q in range(1, lots + 1):
        cash = trade_cash_fen(limit, q * lot_kg)
        assert cash + fee_fen(cash, fee_bps) <= hold


@settings(max_examples=1_000, deadline=None)
@given(
    limit=st.integers(1, 2_000_000),
    lot_kg=st.integers(1, 1_000),
    fee_bps=st.sampled_from([0, 1, 7, 10, 30, 2_500, 5_000, 7_715, 9_999, 10_000])
    | st.integers(0, 10_000),
    fills=st.lists(
        st.tuples(st.integers(1, 50), st.integers(0, 3) | st.integers(0, 2_000_000)),
        min_size=1,
        max_size=25,
    ),
    rest_lots=st.integers(0, 50),
)
def test_hold_plus_reserve_covers_every_sweep_and_leaves_the_rest_of_the_order_covered(
    limit, lot_kg, fee_bps, fills, rest_lots
):
    """The claim proved in rounding_reserve_fen, for any fills at or below the limit."""
    remaining = (sum(n for n, _ in fills) + rest_lots) * lot_kg
    held = buy_hold_fen(limit, remaining, fee_bps) + rounding_reserve_fen(len(fills))
    for n, below in fills:
        cash = trade_cash_fen(max(1, limit - below), n * lot_kg)
        held -= cash + fee_fen(cash, fee_bps)
        remaining -= n * lot_kg
        assert held >= 0  # every fill of the sweep is paid from the hold
    assert held >= buy_hold_fen(limit, remaining, fee_bps)  # and what rests is covered
