"""The core sizes the rounding reserve of a buy that can trade at once, and shrinks or
cancels a resting buy that a fill left short of its lock, in the same command."""

from __future__ import annotations

from exchange.core.state import Core
from matching_engine.events import OrderCancelled, OrderReduced
from settlement.pricing import buy_hold_fen, rounding_reserve_fen
from tests.core_driver import SYMBOL, CoreDriver

# 3205.00 CNY/t in 1 kg lots: every odd kilogram is half a fen, rounded up.
PRICE = 320_500


def market(fee_bps: int = 0) -> tuple[CoreDriver, str, str]:
    d = CoreDriver(fee_bps=fee_bps)
    d.list_nox()  # reference 320000, band 10%, tick 1 fen, lot 1 kg
    bureau = d.account("bureau-gz", "city_bureau", "440100")
    seller = d.account("seller", city="440100")
    buyer = d.account("buyer", city="440300")
    d.issue(seller, bureau, 10_000)
    return d, seller, buyer


def test_a_buyer_with_exactly_the_api_md_amount_can_rest_a_buy():
    d, _, buyer = market(fee_bps=10)
    # 5 t at 3204.20 CNY/t, 10 bps: 1602100 fen + ceil(1602.1) = 1603 fen of fee
    assert buy_hold_fen(320_420, 5_000, 10) == 1_602_100 + 1_603
    d.deposit(buyer, 1_603_702)
    assert d.order(buyer, "buy", 320_420, 5_000).error[0] == "insufficient_cash"
    d.deposit(buyer, 1)
    assert d.order(buyer, "buy", 320_420, 5_000).error is None
    assert d.core.registry.cash(buyer) == (0, 1_603_703)


def test_a_buy_that_meets_resting_sells_needs_its_reserve_and_gives_it_back():
    d, seller, buyer = market(fee_bps=25)
    for _ in range(5):
        d.order(seller, "sell", PRICE, 1)
    need = buy_hold_fen(PRICE, 8, 25) + rounding_reserve_fen(5)
    d.deposit(buyer, need - 1)
    assert d.order(buyer, "buy", PRICE, 8).error[0] == "insufficient_cash"
    d.deposit(buyer, 1)
    out = d.order(buyer, "buy", PRICE, 8)
    assert out.error is None
    order_id = out.result["order_id"]
    (rec,) = [r for r in out.orders if r.id == order_id]
    assert (rec.filled_kg, rec.remaining_kg) == (5, 3)
    # 5 fills of rhu(320.5) = 321 fen plus rhu(321 * 0.0025) = 1 fen of fee each
    left = buy_hold_fen(PRICE, 3, 25)
    assert d.core.registry.hold(order_id).held_fen == left
    assert d.core.registry.cash(buyer) == (need - 5 * 322 - left, left)


def test_the_reserve_counts_at_most_one_resting_order_per_lot_of_the_buy():
    d, seller, _ = market()
    for _ in range(5):
        d.order(seller, "sell", PRICE, 1)
    inst = d.core.engine.instrument(SYMBOL)
    assert d.core._rounding_reserve(inst, PRICE, 2) == rounding_reserve_fen(2)
    assert d.core._rounding_reserve(inst, PRICE, 50) == rounding_reserve_fen(5)
    assert d.core._rounding_reserve(inst, PRICE - 1, 50) == 0


def test_a_re_priced_buy_that_can_trade_needs_its_reserve_too():
    d, seller, buyer = market()
    d.order(seller, "sell", PRICE, 1)
    d.order(seller, "sell", PRICE, 1)
    hold = buy_hold_fen(PRICE - 500, 4, 0)
    d.deposit(buyer, hold)
    order_id = d.order(buyer, "buy", PRICE - 500, 4).result["order_id"]
    amend = {"kind": "amend_order", "account_id": buyer, "order_id": order_id}
    top_up = buy_hold_fen(PRICE, 4, 0) - hold
    d.deposit(buyer, top_up + rounding_reserve_fen(2) - 1)
    assert d.apply({**amend, "price_fen": PRICE}).error[0] == "insufficient_cash"
    d.deposit(buyer, 1)
    out = d.apply({**amend, "price_fen": PRICE})
    assert out.error is None and d.core.open_orders[order_id].remaining_kg == 2
    assert d.core.registry.hold(order_id).held_fen == buy_hold_fen(PRICE, 2, 0)


def test_a_resting_buy_left_short_with_no_cash_available_is_reduced_in_the_same_command():
    d, seller, buyer = market()
    d.deposit(buyer, buy_hold_fen(PRICE, 4, 0))  # 1282: nothing left available
    bid = d.order(buyer, "buy", PRICE, 4).result["order_id"]
    out = d.order(seller, "sell", PRICE, 1)
    # The fill costs rhu(320.5) = 321; the 961 left do not cover ceil(961.5) = 962 for
    # 3 kg, but cover 641 for 2 kg: the bid is reduced to 2 kg (keeping its priority).
    assert out.error is None
    reduced = [e for e in out.engine_events if type(e) is OrderReduced]
    assert [(e.order_id, e.old_remaining_kg, e.new_remaining_kg, e.seq) for e in reduced] == [
        (bid, 3, 2, out.seq)
    ]
    rec = d.core.open_orders[bid]
    assert (rec.status, rec.filled_kg, rec.remaining_kg, rec.quantity_kg) == (
        "partially_filled",
        1,
        2,
        3,
    )
    assert [r.id for r in out.orders].count(bid) == 1  # reported once, as it ends
    assert d.core.engine.book(SYMBOL).get_order(bid).remaining_kg == 2
    assert d.core.registry.hold(bid).held_fen == buy_hold_fen(PRICE, 2, 0) == 641
    assert d.core.registry.cash(buyer) == (1_282 - 321 - 641, 641)
    d.core.registry.check_invariants()
    assert d.replay().state_hash() == d.core.state_hash()
    assert Core.restore(d.core.snapshot()).state_hash() == d.core.state_hash()


def test_a_resting_buy_whose_hold_covers_no_lot_is_cancelled_for_insufficient_funds():
    d, seller, buyer = market()
    d.deposit(buyer, buy_hold_fen(PRICE, 2, 0))  # 641
    bid = d.order(buyer, "buy", PRICE, 2).result["order_id"]
    out = d.order(seller, "sell", PRICE, 1)
    cancels = [e for e in out.engine_events if type(e) is OrderCancelled]
    assert [(e.order_id, e.cancelled_kg, e.reason) for e in cancels] == [
        (bid, 1, "insufficient_funds")
    ]
    (rec,) = [r for r in out.orders if r.id == bid]
    assert (rec.status, rec.cancel_reason, rec.filled_kg) == ("cancelled", "insufficient_funds", 1)
    assert bid not in d.core.open_orders
    assert d.core.registry.hold(bid) is None
    assert d.core.registry.cash(buyer) == (641 - 321, 0)
    assert d.replay().state_hash() == d.core.state_hash()


def test_a_resting_buy_left_short_is_topped_up_when_its_owner_has_cash():
    d, seller, buyer = market()
    d.deposit(buyer, buy_hold_fen(PRICE, 4, 0) + 5)
    bid = d.order(buyer, "buy", PRICE, 4).result["order_id"]
    out = d.order(seller, "sell", PRICE, 1)
    assert not [e for e in out.engine_events if type(e) in (OrderReduced, OrderCancelled)]
    assert d.core.open_orders[bid].remaining_kg == 3
    assert d.core.registry.hold(bid).held_fen == 962
    assert d.core.registry.cash(buyer) == (1_287 - 321 - 962, 962)
