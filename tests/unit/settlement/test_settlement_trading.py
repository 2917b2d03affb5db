"""Holds, delivery versus payment and releases, driven through the real engine."""

from __future__ import annotations

import pytest
from settlement_world import FS, GZ, SYMBOL, SZ

from matching_engine.events import OrderAccepted, Trade
from matching_engine.types import BUY, DAY, FOK, IOC, LIMIT, MARKET, SELL
from settlement import commands
from settlement.errors import SettlementError
from settlement.events import CashPosted, HoldChanged, LedgerMoved, TradeSettled
from settlement.pricing import buy_hold_fen, rounding_reserve_fen


def seller_with(world, account_id="S", kg=10_000, city=GZ):
    world.enterprise(account_id, city)
    world.issue(account_id, kg)
    return account_id


def test_accepted_buy_locks_price_times_quantity_rounded_up_plus_the_fee_rounded_up(make_world):
    world = make_world(fee_bps=30, lot_kg=100)
    world.enterprise("B", cash_fen=10_000_000)
    order_id, events = world.place("B", BUY, 300_001, 700)
    # API.md: ceil(300001 * 700 / 1000) = ceil(210000.7) = 210001 fen, and the fee on
    # that rounded up: ceil(210001 * 0.003) = ceil(630.003) = 631 (not 7 lots x 30092)
    assert buy_hold_fen(300_001, 700, 30) == 210_632
    assert world.reg.cash("B") == (10_000_000 - 210_632, 210_632)
    (hold,) = [e for e in events if type(e) is HoldChanged]
    assert (hold.order_id, hold.action, hold.amount, hold.remaining_kg) == (
        order_id,
        "placed",
        210_632,
        700,
    )


def test_a_buyer_with_exactly_the_api_md_amount_may_place_a_resting_buy(make_world):
    # 5 t at 100.00 CNY/t, 10 bps: 500.00 + 0.50 locked, where per lot it took 550.00.
    world = make_world(fee_bps=10, band_bps=10_000)
    world.enterprise("B", cash_fen=50_050)
    order_id, _ = world.place("B", BUY, 10_000, 5_000)
    assert world.reg.cash("B") == (0, 50_050)
    assert world.reg.hold(order_id).held_fen == 50_050
    world.enterprise("C", cash_fen=50_049)
    with pytest.raises(SettlementError) as err:
        world.place("C", BUY, 10_000, 5_000)
    assert err.value.code == "insufficient_cash"


def test_accepted_sell_locks_allowances_oldest_lot_first(world):
    world.enterprise("S")
    first = world.issue("S", 300)
    second = world.issue("S", 500)
    order_id, _ = world.place("S", SELL, 300_000, 400)
    assert world.reg.allowances("S", SYMBOL) == (400, 400, 0)
    held = [(lot_id, kg) for _, lot_id, kg in world.reg.hold(order_id).lots.portions()]
    assert held == [(first, 300), (second, 100)]
    assert world.reg.available_lots("S", SYMBOL) == [(second, 400)]


def test_buy_without_enough_cash_is_refused_before_the_book(world):
    world.enterprise("B", cash_fen=299_999)
    with pytest.raises(SettlementError) as err:
        world.place("B", BUY, 300_000, 1_000)
    assert err.value.code == "insufficient_cash"
    assert world.engine.book(SYMBOL).best_bid() is None


def test_sell_without_enough_allowances_is_refused_before_the_book(world):
    seller_with(world, kg=999)
    with pytest.raises(SettlementError) as err:
        world.place("S", SELL, 300_000, 1_000)
    assert err.value.code == "insufficient_allowances"


def test_only_enterprises_and_the_reserve_may_trade(world):
    world.bureau("BUR", GZ)
    for account in ("BUR", "PROV", "POOL-440100", "FEES"):
        with pytest.raises(SettlementError) as err:
            world.reg.check_order(account, SYMBOL, "buy", 300_000, 1)
        assert err.value.code == "not_allowed"
    world.reg.check_order("RESERVE", SYMBOL, "buy", 300_000, 0)
    with pytest.raises(SettlementError) as err:
        world.reg.check_order("NOBODY", SYMBOL, "buy", 300_000, 1)
    assert err.value.code == "unknown_account"


def test_trade_delivers_allowances_and_the_seller_gets_exactly_what_the_buyer_pays(world):
    seller_with(world)
    world.enterprise("B", cash_fen=1_000_000)
    world.place("S", SELL, 300_000, 1_234)
    world.place("B", BUY, 300_000, 1_234)
    cash = 370_200  # 300000 * 1234 / 1000
    assert world.reg.cash("S") == (cash, 0)
    assert world.reg.cash("B") == (1_000_000 - cash, 0)
    assert world.reg.allowances("S", SYMBOL) == (10_000 - 1_234, 0, 0)
    assert world.reg.allowances("B", SYMBOL) == (1_234, 0, 0)
    (settled,) = world.of(TradeSettled)
    assert (settled.buyer_account_id, settled.seller_account_id, settled.cash_fen) == (
        "B",
        "S",
        cash,
    )


def test_fees_are_charged_on_each_side_rounded_half_up_into_the_fee_account(make_world):
    world = make_world(fee_bps=25)
    seller_with(world)
    world.enterprise("B", cash_fen=1_000_000)
    world.place("S", SELL, 300_000, 1_001)
    world.place("B", BUY, 300_000, 1_001)
    cash = 300_300
    fee = 751  # 300300 * 0.0025 = 750.75
    assert world.reg.cash("FEES") == (2 * fee, 0)
    assert world.reg.cash("S") == (cash - fee, 0)
    assert world.reg.cash("B") == (1_000_000 - cash - fee, 0)
    (settled,) = world.of(TradeSettled)
    assert (settled.buyer_fee_fen, settled.seller_fee_fen) == (fee, fee)


def test_a_fill_at_a_better_price_releases_the_difference(world):
    seller_with(world)
    world.enterprise("B", cash_fen=1_000_000)
    world.place("S", SELL, 290_000, 1_000)
    order_id, events = world.place("B", BUY, 310_000, 1_000)
    assert world.reg.cash("B") == (1_000_000 - 290_000, 0)
    # It could meet one resting sell, so it locked the rounding reserve for one fill
    # too; the release gives back the difference and the unused reserve together.
    placed = next(e for e in events if type(e) is HoldChanged and e.action == "placed")
    assert placed.amount == 310_000 + rounding_reserve_fen(1)
    released = [e for e in events if type(e) is HoldChanged and e.action == "released"]
    assert [e.amount for e in released] == [20_000 + rounding_reserve_fen(1)]
    assert world.reg.hold(order_id) is None


def test_many_small_fills_each_rounded_up_are_covered_by_the_rounding_reserve(make_world):
    # 1500 fen/t in 1 kg fills: each rounds 1.5 fen up to 2, ten of them cost 20 fen
    # where ceil(1500 * 10 / 1000) = 15 is the hold of the whole order. Meeting ten
    # resting sells, the buy must also have the reserve for ten fills available.
    world = make_world(fee_bps=0, band_bps=10_000)  # a band wide enough to admit 1500
    seller_with(world, kg=100)
    need = buy_hold_fen(1_500, 10, 0) + rounding_reserve_fen(10)
    assert need == 15 + 22
    world.enterprise("B", cash_fen=need - 1)
    for _ in range(10):
        world.place("S", SELL, 1_500, 1)
    with pytest.raises(SettlementError) as err:
        world.place("B", BUY, 1_500, 10)
    assert err.value.code == "insufficient_cash"
    world.cmd(commands.Deposit, "B", 1)
    world.place("B", BUY, 1_500, 10)
    assert len(world.of(TradeSettled)) == 10
    assert world.reg.cash("B") == (need - 20, 0)  # the reserve is never left locked
    assert world.reg.cash("S") == (20, 0)


def test_cancel_releases_all_that_is_left_of_the_hold(world):
    seller_with(world)
    world.enterprise("B", cash_fen=1_000_000)
    world.place("S", SELL, 300_000, 400)
    order_id, _ = world.place("B", BUY, 300_000, 1_000)
    assert world.reg.cash("B") == (700_000, 180_000)  # 400 kg filled, 600 kg still held
    events = world.cancel(order_id, "B")
    (voided,) = [e for e in events if type(e) is HoldChanged]
    assert (voided.action, voided.amount, voided.held_after) == ("voided", 180_000, 0)
    assert world.reg.cash("B") == (880_000, 0)
    assert world.reg.hold(order_id) is None


def test_cancelled_sell_returns_exactly_the_lots_it_locked(world):
    world.enterprise("S")
    world.issue("S", 300)
    world.issue("S", 500)
    lots_before = world.reg.available_lots("S", SYMBOL)
    order_id, _ = world.place("S", SELL, 300_000, 600)
    world.cancel(order_id, "S")
    assert world.reg.available_lots("S", SYMBOL) == lots_before
    assert world.reg.allowances("S", SYMBOL) == (800, 0, 0)


def test_ioc_and_fok_remainders_are_released(world):
    seller_with(world)
    world.enterprise("B", cash_fen=1_000_000)
    world.place("S", SELL, 300_000, 100)
    world.place("B", BUY, 300_000, 500, IOC)
    assert world.reg.cash("B") == (1_000_000 - 30_000, 0)
    world.place("B", BUY, 300_000, 500, FOK)
    assert world.reg.cash("B") == (1_000_000 - 30_000, 0)
    world.place("S", SELL, 300_000, 200, IOC)
    assert world.reg.allowances("S", SYMBOL) == (9_900, 0, 0)


def test_reduce_releases_the_difference_and_keeps_the_rest_locked(world):
    seller_with(world)
    world.enterprise("B", cash_fen=1_000_000)
    buy_id, _ = world.place("B", BUY, 300_000, 1_000)
    sell_id, _ = world.place("S", SELL, 310_000, 1_000)
    world.amend(buy_id, "B", quantity_kg=400)
    world.amend(sell_id, "S", quantity_kg=250)
    assert world.reg.cash("B") == (880_000, 120_000)
    assert world.reg.allowances("S", SYMBOL) == (9_750, 250, 0)


def test_replace_to_a_higher_price_or_quantity_locks_the_extra_from_available(world):
    seller_with(world)
    world.enterprise("B", cash_fen=1_000_000)
    buy_id, _ = world.place("B", BUY, 300_000, 1_000)
    world.amend(buy_id, "B", price_fen=310_000, quantity_kg=2_000)
    assert world.reg.cash("B") == (380_000, 620_000)
    sell_id, _ = world.place("S", SELL, 320_000, 1_000)
    world.amend(sell_id, "S", quantity_kg=3_000)
    assert world.reg.allowances("S", SYMBOL) == (7_000, 3_000, 0)


def test_replace_to_a_lower_price_releases_and_may_trade_at_once(world):
    seller_with(world)
    world.enterprise("B", cash_fen=1_000_000)
    world.place("B", BUY, 290_000, 1_000)
    sell_id, _ = world.place("S", SELL, 310_000, 1_000)
    world.amend(sell_id, "S", price_fen=290_000)
    assert len(world.of(TradeSettled)) == 1
    assert world.reg.cash("S") == (290_000, 0)
    assert world.reg.cash("B") == (710_000, 0)


def test_amendment_needing_more_than_is_available_is_refused(world):
    seller_with(world, kg=1_000)
    world.enterprise("B", cash_fen=600_000)
    buy_id, _ = world.place("B", BUY, 300_000, 1_000)
    sell_id, _ = world.place("S", SELL, 310_000, 1_000)
    with pytest.raises(SettlementError) as err:
        world.reg.check_amend(buy_id, 310_000, 2_000)
    assert err.value.code == "insufficient_cash"
    world.reg.check_amend(buy_id, None, 2_000)  # exactly 600 000
    with pytest.raises(SettlementError) as err:
        world.reg.check_amend(sell_id, None, 1_001)
    assert err.value.code == "insufficient_allowances"
    with pytest.raises(SettlementError) as err:
        world.reg.check_amend(999_999, None, 1)
    assert err.value.code == "order_not_open"


def test_market_buy_locks_at_the_band_top_and_releases_what_it_did_not_spend(world):
    seller_with(world)
    world.enterprise("B", cash_fen=1_000_000)
    world.place("S", SELL, 300_000, 1_000)
    band_top = world.engine.instrument(SYMBOL).band()[1]
    _, events = world.place("B", BUY, 0, 2_000, IOC, MARKET)
    placed = next(e for e in events if type(e) is HoldChanged)
    assert placed.amount == band_top * 2 + rounding_reserve_fen(1)  # one sell to meet
    assert world.reg.cash("B") == (700_000, 0)


def test_day_orders_expiring_at_the_close_release_their_holds(world):
    seller_with(world)
    world.enterprise("B", cash_fen=1_000_000)
    world.place("B", BUY, 300_000, 1_000, DAY)
    world.place("S", SELL, 310_000, 1_000, DAY)
    world.close_session()
    assert world.reg.cash("B") == (1_000_000, 0)
    assert world.reg.allowances("S", SYMBOL) == (10_000, 0, 0)


def test_halt_that_cancels_orders_releases_their_holds(world):
    seller_with(world)
    world.enterprise("B", cash_fen=1_000_000)
    world.place("B", BUY, 300_000, 1_000)
    world.halt(cancel_orders=True)
    assert world.reg.cash("B") == (1_000_000, 0)


def test_self_trade_prevented_releases_the_cancelled_order(world):
    seller_with(world, account_id="A")
    world.cmd(commands.Deposit, "A", 1_000_000)
    world.place("A", SELL, 300_000, 1_000)
    world.place("A", BUY, 300_000, 1_000)
    assert world.of(TradeSettled) == []
    assert world.reg.cash("A") == (1_000_000, 0)
    assert world.reg.allowances("A", SYMBOL) == (9_000, 1_000, 0)


def test_delivery_moves_lots_first_in_first_out_with_their_provenance(world):
    world.enterprise("S")
    old = world.issue("S", 300, "coal_boiler_phaseout")
    new = world.issue("S", 500, "self_initiated")
    world.enterprise("B", cash_fen=10_000_000)
    world.place("S", SELL, 300_000, 800)
    world.place("B", BUY, 300_000, 400)
    assert world.reg.available_lots("B", SYMBOL) == [(old, 300), (new, 100)]
    (settled,) = world.of(TradeSettled)
    assert settled.lots == ((old, 300), (new, 100))
    assert world.reg.lot(old).source_kind == "coal_boiler_phaseout"
    assert world.reg.lot(old).origin_account_id == "S"


def test_trade_across_cities_moves_quota_between_their_ledger_rows(world):
    seller_with(world, city=GZ)
    world.enterprise("B", SZ, cash_fen=1_000_000)
    world.place("S", SELL, 300_000, 1_000)
    world.place("B", BUY, 300_000, 1_000)
    moves = [(m.city_code, m.kind, m.quantity_kg, m.counterparty) for m in world.of(LedgerMoved)]
    assert moves[-2:] == [(GZ, "transferred_out", 1_000, SZ), (SZ, "transferred_in", 1_000, GZ)]
    assert world.reg.ledger_row(GZ, SYMBOL).remaining == 9_000
    assert world.reg.ledger_row(SZ, SYMBOL).remaining == 1_000


def test_trade_within_one_city_records_no_transfer(world):
    seller_with(world, city=FS)
    world.enterprise("B", FS, cash_fen=1_000_000)
    world.place("S", SELL, 300_000, 1_000)
    world.place("B", BUY, 300_000, 1_000)
    assert [m.kind for m in world.of(LedgerMoved)] == ["added"]


def test_the_reserve_trades_like_an_enterprise_and_its_quota_leaves_the_city(world):
    seller_with(world)
    world.cmd(commands.Deposit, "RESERVE", 1_000_000)
    world.place("S", SELL, 300_000, 1_000)
    world.place("RESERVE", BUY, 300_000, 1_000)
    assert world.reg.allowances("RESERVE", SYMBOL) == (1_000, 0, 0)
    assert world.reg.ledger_row(GZ, SYMBOL).transferred_out == 1_000
    assert world.of(LedgerMoved)[-1].counterparty == "reserve"


def test_every_cash_change_of_a_trade_is_a_posting_with_balances(make_world):
    world = make_world(fee_bps=10)
    seller_with(world)
    world.enterprise("B", cash_fen=1_000_000)
    world.place("S", SELL, 300_000, 1_000)
    world.place("B", BUY, 300_000, 1_000)
    for p in world.of(CashPosted):
        moved = (p.available_after_fen - p.available_before_fen) + (
            p.locked_after_fen - p.locked_before_fen
        )
        assert moved in (p.amount_fen, -p.amount_fen, 0)
    replayed: dict[str, int] = {}
    for p in world.of(CashPosted):
        replayed[p.account_id] = p.available_after_fen + p.locked_after_fen
    for account, total in replayed.items():
        assert sum(world.reg.cash(account)) == total


def test_engine_events_that_move_nothing_are_ignored(world):
    seller_with(world)
    world.enterprise("B", cash_fen=1_000_000)
    before = world.reg.snapshot()
    # A rejected order, a halt and a resume: book and market news, nothing to settle.
    world.reg.check_order("B", SYMBOL, BUY, 1, 1)
    assert world.place("B", BUY, 1, 1)[1] == []  # outside the band: OrderRejected
    assert world.halt(cancel_orders=False) == []
    assert world.reg.snapshot() == before


def test_an_engine_event_the_registry_cannot_cover_is_asserted_not_absorbed(world):
    seller_with(world)
    before = world.reg.state_hash()
    # A trade for orders the registry never saw accepted is a bug upstream.
    with pytest.raises(AssertionError):
        world.reg.apply_engine_events(
            [Trade(99, 0, SYMBOL, 1, 300_000, 1, BUY, 7, "S", 0, 8, "B", 0)]
        )
    assert world.reg.state_hash() == before
    # So is an accepted sell the pre-trade check would have refused.
    with pytest.raises(AssertionError):
        world.reg.apply_engine_events(
            [OrderAccepted(99, 0, SYMBOL, 99, "S", SELL, LIMIT, 300_000, 10**9, IOC)]
        )


def test_pre_trade_check_of_a_quantity_off_the_lot_asks_its_exact_amount(make_world):
    world = make_world(lot_kg=100)
    world.enterprise("B", cash_fen=30_000)  # one 100 kg lot at 300000 fen/t
    world.reg.check_order("B", SYMBOL, BUY, 300_000, 100)
    with pytest.raises(SettlementError) as err:
        # 30300 fen for 101 kg (the engine refuses the quantity anyway)
        world.reg.check_order("B", SYMBOL, BUY, 300_000, 101)
    assert err.value.code == "insufficient_cash"


def test_a_fee_rate_outside_0_to_10000_bps_is_refused():
    from settlement.registry import Registry

    for bps in (-1, 10_001):
        with pytest.raises(SettlementError) as err:
            Registry(fee_bps=bps)
        assert err.value.code == "invalid_amount"
    assert Registry(fee_bps=10_000).fee_bps == 10_000
