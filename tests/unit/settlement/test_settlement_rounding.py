"""The buy hold is exactly API.md's amount; the rounding reserve pays for a sweep's
half-fen roundings; a resting buy a fill leaves short is topped up or reported."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from settlement_world import SYMBOL, World

from matching_engine.commands import PlaceOrder
from matching_engine.types import BUY, GTC, IOC, LIMIT, SELL
from settlement import commands
from settlement.errors import SettlementError
from settlement.events import HoldChanged, TradeSettled
from settlement.pricing import buy_hold_fen, fee_fen, rounding_reserve_fen, trade_cash_fen


def seller(world: World, kg: int = 100_000, account_id: str = "S") -> str:
    world.enterprise(account_id)
    world.issue(account_id, kg)
    return account_id


def wide(fee_bps: int = 0) -> World:
    """1 kg lots and a band from 1 fen/t: prices where every kilogram rounds."""
    return World(fee_bps=fee_bps, band_bps=10_000)


def test_the_lock_of_a_resting_buy_is_exactly_api_md_formula():
    world = World(fee_bps=10)
    world.enterprise("B", cash_fen=1_000_000)
    order_id, _ = world.place("B", BUY, 300_001, 333)
    # ceil(300001 * 333 / 1000) = ceil(99900.333) = 99901; ceil(99901 * 0.001) = 100
    assert world.reg.hold(order_id).held_fen == 99_901 + 100 == buy_hold_fen(300_001, 333, 10)
    assert world.reg.cash("B") == (1_000_000 - 100_001, 100_001)


def test_a_sweep_of_many_half_fen_fills_is_paid_from_hold_plus_reserve():
    # 1500 fen/t, 1 kg fills: 1.5 fen each, rounded to 2; 25% fee on 2 fen = 0.5 -> 1.
    # Ten fills cost 30 fen where the hold for 10 kg is 15 + ceil(15 * 0.25) = 19.
    world = wide(fee_bps=2_500)
    seller(world)
    for _ in range(10):
        world.place("S", SELL, 1_500, 1)
    hold_10, hold_5 = buy_hold_fen(1_500, 10, 2_500), buy_hold_fen(1_500, 5, 2_500)
    assert (hold_10, hold_5) == (19, 8 + 2)
    # The order is for 15 kg: 10 fill, 5 rest; it meets 10 resting sells.
    need = buy_hold_fen(1_500, 15, 2_500) + rounding_reserve_fen(10)
    world.enterprise("B", cash_fen=need)
    order_id, events = world.place("B", BUY, 1_500, 15)
    fills = [e for e in events if type(e) is TradeSettled]
    assert [(f.cash_fen, f.buyer_fee_fen) for f in fills] == [(2, 1)] * 10
    spent = 30
    assert spent > buy_hold_fen(1_500, 10, 2_500)  # what the hold alone would not cover
    # What rests holds exactly its requirement, and nothing else stays locked.
    assert world.reg.hold(order_id).held_fen == hold_5
    assert world.reg.cash("B") == (need - spent - hold_5, hold_5)


def test_without_the_reserve_the_same_sweep_is_refused_before_the_book():
    world = wide(fee_bps=2_500)
    seller(world)
    for _ in range(10):
        world.place("S", SELL, 1_500, 1)
    need = buy_hold_fen(1_500, 15, 2_500) + rounding_reserve_fen(10)
    world.enterprise("B", cash_fen=need - 1)
    with pytest.raises(SettlementError) as err:
        world.place("B", BUY, 1_500, 15)
    assert err.value.code == "insufficient_cash"
    assert len(world.engine.book(SYMBOL).orders) == 10


def test_the_reserve_is_locked_with_the_order_and_never_left_locked():
    world = wide()
    seller(world)
    world.place("S", SELL, 1_500, 1)
    world.place("S", SELL, 1_500, 1)
    world.enterprise("B", cash_fen=1_000)
    order_id, events = world.place("B", BUY, 1_500, 5)
    holds = [(e.action, e.amount, e.held_after) for e in events if type(e) is HoldChanged]
    placed = buy_hold_fen(1_500, 5, 0) + rounding_reserve_fen(2)
    assert holds[0] == ("placed", placed, placed)
    # two fills of 2 fen each, then the excess (reserve included) goes back at once
    assert world.reg.hold(order_id).held_fen == buy_hold_fen(1_500, 3, 0) == 5
    assert world.reg.cash("B") == (1_000 - 4 - 5, 5)
    released = [e for e in events if type(e) is HoldChanged and e.action == "released"]
    assert [e.amount for e in released] == [placed - 4 - 5]


def test_an_ioc_that_meets_nothing_gives_back_its_reserve_with_its_hold():
    world = wide()
    seller(world)
    world.place("S", SELL, 1_500, 1)
    world.enterprise("B", cash_fen=100)
    world.place("B", BUY, 1_500, 3, IOC)
    assert world.reg.cash("B") == (100 - 2, 0)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fee_bps=st.sampled_from([0, 7, 2_500, 5_000, 7_715, 10_000]) | st.integers(0, 10_000),
    limit=st.integers(1_000, 3_000),
    makers=st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, 7)), min_size=1, max_size=25
    ),  # (fen below the limit, kg)
    rest_kg=st.integers(0, 9),
    extra_cash=st.integers(0, 3),
)
def test_any_sweep_at_or_below_the_limit_fits_and_leaves_exactly_the_requirement(
    fee_bps, limit, makers, rest_kg, extra_cash
):
    world = wide(fee_bps)
    seller(world)
    for below, kg in makers:
        world.place("S", SELL, limit - below, kg)
    total = sum(kg for _, kg in makers) + rest_kg
    need = buy_hold_fen(limit, total, fee_bps) + rounding_reserve_fen(len(makers))
    world.enterprise("B", cash_fen=need + extra_cash)
    order_id, events = world.place("B", BUY, limit, total)  # the registry asserts each fill
    spent = sum(f.cash_fen + f.buyer_fee_fen for f in events if type(f) is TradeSettled)
    assert len([e for e in events if type(e) is TradeSettled]) == len(makers)
    for below, kg in makers:  # every fill rounded as DOMAIN.md says
        cash = trade_cash_fen(limit - below, kg)
        assert cash + fee_fen(cash, fee_bps) <= need
    left = buy_hold_fen(limit, rest_kg, fee_bps)
    if rest_kg:
        assert world.reg.hold(order_id).held_fen == left
    else:
        assert world.reg.hold(order_id) is None
    assert world.reg.cash("B") == (need + extra_cash - spent - left, left)
    assert world.shrunk == []  # an order that passed its check is never left short


# ------------------------------------------------------------------ a maker left short


def resting_bid_then_hit(world: World, kg: int, cash_fen: int, fill_kg: int):
    """B rests a bid at 1500 fen/t with `cash_fen` deposited; S sells `fill_kg` into it
    through the registry's own calls, without the world's shrinking."""
    seller(world)
    world.enterprise("B", cash_fen=cash_fen)
    order_id, _ = world.place("B", BUY, 1_500, kg)
    world.seq += 1
    world.reg.check_order("S", SYMBOL, "sell", 1_500, fill_kg)
    cmd = PlaceOrder(
        world.seq, world.ts(), SYMBOL, world.seq, "S", SELL, LIMIT, 1_500, fill_kg, GTC
    )
    world.reg.apply_engine_events(world.engine.process(cmd))
    return order_id


def test_a_maker_fill_that_leaves_the_hold_short_is_reported_with_what_it_still_covers():
    world = wide()
    # 4 kg at 1500 fen/t hold ceil(6.0) = 6 fen; a 1 kg fill costs rhu(1.5) = 2; the
    # 4 fen left do not cover ceil(4.5) = 5 for 3 kg, but cover ceil(3.0) = 3 for 2 kg.
    order_id = resting_bid_then_hit(world, kg=4, cash_fen=6, fill_kg=1)
    assert world.reg.hold(order_id).held_fen == 4
    assert world.reg.cash("B") == (0, 4)
    assert world.reg.take_shortfalls() == [(order_id, 2)]
    assert world.reg.take_shortfalls() == []  # cleared on read


def test_a_short_maker_is_topped_up_from_available_cash_when_there_is_some():
    world = wide()
    order_id = resting_bid_then_hit(world, kg=4, cash_fen=6 + 1, fill_kg=1)
    assert world.reg.take_shortfalls() == []
    assert world.reg.hold(order_id).held_fen == buy_hold_fen(1_500, 3, 0) == 5
    assert world.reg.cash("B") == (0, 5)
    world.reg.check_invariants()


def test_a_maker_whose_hold_covers_no_lot_any_more_is_reported_with_zero():
    world = wide()
    order_id = resting_bid_then_hit(world, kg=2, cash_fen=3, fill_kg=1)  # 1 left of 2
    assert world.reg.take_shortfalls() == [(order_id, 0)]


def test_the_world_shrinks_a_short_maker_like_the_core_and_releases_the_rest():
    world = wide()
    seller(world)
    world.enterprise("B", cash_fen=6)
    order_id, _ = world.place("B", BUY, 1_500, 4)
    world.place("S", SELL, 1_500, 1)
    assert world.shrunk == [(order_id, 2)]
    assert world.engine.book(SYMBOL).get_order(order_id).remaining_kg == 2
    assert world.reg.hold(order_id).held_fen == 3
    assert world.reg.cash("B") == (1, 3)  # of 6: 2 paid, 3 held for 2 kg, 1 back
    world.cmd(commands.Deposit, "B", 10)  # and it trades on as an ordinary order
    world.place("S", SELL, 1_500, 2)
    assert world.reg.hold(order_id) is None


def test_a_short_maker_covering_no_lot_is_cancelled_for_insufficient_funds():
    world = wide()
    seller(world)
    world.enterprise("B", cash_fen=3)
    order_id, _ = world.place("B", BUY, 1_500, 2)
    world.place("S", SELL, 1_500, 1)
    assert world.shrunk == [(order_id, 0)]
    (cancelled,) = [e for e in world.events if type(e) is HoldChanged and e.action == "voided"]
    assert cancelled.order_id == order_id and cancelled.amount == 1
    assert world.reg.hold(order_id) is None
    assert world.engine.book(SYMBOL).get_order(order_id) is None
    assert world.reg.cash("B") == (1, 0)
