"""Applies the matching engine's events: holds for accepted orders, delivery versus
payment for trades, and the release of what cancels, reductions and replacements
no longer need.

A buy hold is exactly `pricing.buy_hold_fen` of what the order has left at its limit
between commands. Within one command:

- An incoming buy (placed, or re-priced by an amendment) locks its hold plus the
  rounding reserve the caller passes for it (`pricing.rounding_reserve_fen` of the
  resting sells it could meet). The pre-trade checks (`Registry.check_order`,
  `check_amend`) made sure the account had both available.
- Each trade takes its cash and the buyer's fee out of the buy hold, and nothing
  goes back per trade: giving back the excess mid-sweep would give back the reserve
  that the later fills of the same sweep may need. That every fill fits is asserted,
  never refused, because it is proved:
    * the incoming buy: `pricing.rounding_reserve_fen` shows any n fills cost at
      most hold + reserve, and still leave H(remaining) for what rests;
    * a resting (maker) buy holds H(R) and meets a single taker per fill: a fill
      of q <= R kg at its own limit P costs rhu(P q/1000) <= ceil(P R/1000) = C and
      a fee rhu(cash b) <= ceil(C b), so cash + fee <= H(R) (`buy_hold_fen`).
- At the end of the batch every buy hold the events touched is trued to exactly its
  requirement: the excess (price improvement, the unused reserve) is released; a
  hold that is short -- a maker after a partial fill can be, by a few fen of
  rounding -- is topped up from the owner's available cash, and if that is not
  enough it is recorded as a shortfall for the core to shrink or cancel the order
  (`Registry.take_shortfalls`), never refused.

An assertion here is a bug upstream.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from matching_engine.events import (
    InstrumentAdded,
    OrderAccepted,
    OrderCancelled,
    OrderReduced,
    OrderReplaced,
    Trade,
    new_event,
)
from settlement.accounts import FEES_ACCOUNT, TRADING_ROLES
from settlement.defects import SettlementDefect
from settlement.events import HoldChanged, TradeSettled
from settlement.holds import Hold
from settlement.lots import LotBag, Portion
from settlement.pricing import buy_hold_fen, fee_fen, trade_cash_fen

if TYPE_CHECKING:
    from settlement.registry import Registry


class _Batch:
    """One call's bookkeeping: the reserves to lock and the buy holds to true."""

    __slots__ = ("reserves", "touched")

    def __init__(self, reserves: Mapping[int, int]) -> None:
        self.reserves = reserves
        self.touched: dict[int, tuple[int, int]] = {}
        """Buy order id -> (seq, ts_us) of the last event that touched it, first touch first."""

    def touch(self, hold: Hold, seq: int, ts_us: int) -> None:
        if hold.is_buy:
            self.touched[hold.order_id] = (seq, ts_us)


def apply_engine_events(reg: Registry, events: Iterable, reserves: Mapping[int, int]) -> list:
    out: list = []
    batch = _Batch(reserves)
    reg._shortfalls = []
    for event in events:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            out += handler(reg, event, batch)
            reg.last_seq = max(reg.last_seq, event.seq)
    for order_id, (seq, ts_us) in batch.touched.items():
        out += _true_up(reg, seq, ts_us, order_id)
    return out


def _true_up(reg: Registry, seq: int, ts_us: int, order_id: int) -> list:
    """Brings a buy hold to exactly its requirement, or reports it short."""
    hold = reg._holds.get(order_id)
    if hold is None:  # filled or cancelled: nothing left held
        return []
    need = hold.requirement_fen(reg.fee_bps)
    if hold.held_fen >= need:
        return _release(reg, seq, ts_us, hold, hold.held_fen - need, "released")
    short = need - hold.held_fen
    have = reg._cash.balance(hold.account_id).available_fen
    out = _lock_cash(reg, seq, ts_us, hold, min(short, have), "increased") if have else []
    if have < short:
        reg._shortfalls.append((order_id, _affordable_kg(reg, hold)))
    return out


def _affordable_kg(reg: Registry, hold: Hold) -> int:
    """The largest remaining quantity, a whole number of lots, whose requirement the
    hold covers (binary search: the requirement grows with the quantity)."""
    low, high = 0, hold.remaining_kg // hold.lot_kg  # low lots always fit (0 needs 0)
    while low < high:
        mid = (low + high + 1) // 2
        if buy_hold_fen(hold.price_fen, mid * hold.lot_kg, reg.fee_bps) <= hold.held_fen:
            low = mid
        else:
            high = mid - 1
    return low * hold.lot_kg


def trade_amounts(price_fen: int, quantity_kg: int, fee_bps: int) -> tuple[int, int, int]:
    """(cash, the buyer's fee, the seller's fee) of a trade: each side pays the fee on
    the cash."""
    cash = trade_cash_fen(price_fen, quantity_kg)
    fee = fee_fen(cash, fee_bps)
    return cash, fee, fee


def deliver_versus_payment(
    reg: Registry,
    seq: int,
    ts_us: int,
    symbol: str,
    lots: LotBag,
    portions: list[Portion],
    seller: str,
    buyer: str,
    cash: int,
    buyer_fee: int,
    seller_fee: int,
    reference: str,
    *,
    lock_cash: bool = False,
) -> list:
    """Delivery versus payment, for a trade on the book and a block trade alike.

    Delivery: the seller's locked `portions` leave `lots` (the order's or the block
    trade's lock) and reach the buyer with their provenance, through the city ledger
    when they cross a city line. Payment: out of the buyer's locked cash (`pay_from_lock`).
    `lock_cash`: the buyer's cash was not locked in advance (a block trade), so it is
    locked for the instant of settlement first."""
    for p in portions:
        lots.remove(*p)
    out = reg._transfer(
        seq, ts_us, symbol, portions, seller, buyer, "deliver", "receive", reference, True
    )
    total = cash + buyer_fee
    if lock_cash and total:
        out.append(reg._cash.post(seq, ts_us, buyer, "hold", total, -total, total, reference))
    out += pay_from_lock(reg, seq, ts_us, buyer, seller, cash, buyer_fee, seller_fee, reference)
    return out


def pay_from_lock(
    reg: Registry,
    seq: int,
    ts_us: int,
    buyer: str,
    seller: str,
    cash: int,
    buyer_fee: int,
    seller_fee: int,
    reference: str,
) -> list:
    """The buyer's locked cash pays the seller and the buyer's fee; the seller's fee
    comes out of the cash it just received (the fee never exceeds it). Both fees go to
    the exchange's fee account."""
    post = reg._cash.post
    out: list = []
    if cash:
        out.append(post(seq, ts_us, buyer, "pay", cash, 0, -cash, reference))
        out.append(post(seq, ts_us, seller, "receive", cash, cash, 0, reference))
    if buyer_fee:
        out.append(post(seq, ts_us, buyer, "fee", buyer_fee, 0, -buyer_fee, reference))
        out.append(post(seq, ts_us, FEES_ACCOUNT, "fee_income", buyer_fee, buyer_fee, 0, reference))
    if seller_fee:
        out.append(post(seq, ts_us, seller, "fee", seller_fee, -seller_fee, 0, reference))
        out.append(
            post(seq, ts_us, FEES_ACCOUNT, "fee_income", seller_fee, seller_fee, 0, reference)
        )
    return out


def _instrument_added(reg: Registry, e: InstrumentAdded, batch: _Batch) -> list:
    """Listing is the registry's own command (ListInstrument); an engine instrument it
    already knows must agree on the lot size, or every buy hold would be wrong."""
    known = reg._listings.get(e.symbol)
    if not (known is None or known.lot_kg == e.lot_kg):
        raise SettlementDefect(
            f"{e.symbol}: engine lot {e.lot_kg} kg, registry lot {known.lot_kg} kg"
        )
    return []


def _order_accepted(reg: Registry, e: OrderAccepted, batch: _Batch) -> list:
    listing = reg._listings.get(e.symbol)
    if not (listing is not None):
        raise SettlementDefect(f"order {e.order_id} on unlisted {e.symbol}")
    account = reg._accounts.get(e.owner)
    if not (account is not None and account.role in TRADING_ROLES):
        raise SettlementDefect(f"{e.owner} may not trade")
    if not (e.order_id not in reg._holds):
        raise SettlementDefect(f"order {e.order_id} already holds")
    if not (e.quantity_kg > 0 and e.quantity_kg % listing.lot_kg == 0):
        raise SettlementDefect("e.quantity_kg > 0 and e.quantity_kg % listing.lot_kg == 0")
    hold = Hold(
        e.order_id, e.owner, e.symbol, str(e.side), e.price_fen, listing.lot_kg, e.quantity_kg
    )
    reg._holds[e.order_id] = hold
    batch.touch(hold, e.seq, e.ts_us)
    return _increase(reg, e.seq, e.ts_us, hold, "placed", batch.reserves.get(e.order_id, 0))


def _trade(reg: Registry, t: Trade, batch: _Batch) -> list:
    if t.taker_side == "buy":
        buy_id, sell_id = t.taker_order_id, t.maker_order_id
        buy_left, sell_left = t.taker_remaining_kg, t.maker_remaining_kg
    else:
        buy_id, sell_id = t.maker_order_id, t.taker_order_id
        buy_left, sell_left = t.maker_remaining_kg, t.taker_remaining_kg
    bh, sh = reg._holds.get(buy_id), reg._holds.get(sell_id)
    if not (bh is not None and bh.is_buy):
        raise SettlementDefect(f"trade {t.trade_id}: buy order {buy_id} holds nothing")
    if not (sh is not None and not sh.is_buy):
        raise SettlementDefect(f"trade {t.trade_id}: sell {sell_id} holds nothing")
    qty, seq, ts_us, symbol = t.quantity_kg, t.seq, t.ts_us, t.symbol
    if not (qty > 0 and qty <= bh.remaining_kg and qty <= sh.remaining_kg):
        raise SettlementDefect("qty > 0 and qty <= bh.remaining_kg and qty <= sh.remaining_kg")
    if not (t.price_fen <= bh.price_fen):
        raise SettlementDefect(f"trade {t.trade_id} above the buyer's limit")
    cash, buyer_fee, seller_fee = trade_amounts(t.price_fen, qty, reg.fee_bps)
    if not (cash + buyer_fee <= bh.held_fen):
        raise SettlementDefect(
            f"trade {t.trade_id}: {cash}+{buyer_fee} fen exceeds hold {bh.held_fen} of {buy_id}"
        )
    buyer, seller = bh.account_id, sh.account_id
    portions = sh.lots.select_oldest(qty)
    reference = f"trade:{symbol}:{t.trade_id}"

    out: list = [
        new_event(
            TradeSettled,
            (
                seq,
                ts_us,
                symbol,
                t.trade_id,
                t.price_fen,
                qty,
                buyer,
                seller,
                buy_id,
                sell_id,
                reg._accounts[buyer].city_code,
                reg._accounts[seller].city_code,
                cash,
                buyer_fee,
                seller_fee,
                tuple([(lot_id, kg) for _, lot_id, kg in portions]),
            ),
        )
    ]
    # the seller's lots, oldest first, out of its hold
    out += deliver_versus_payment(
        reg,
        seq,
        ts_us,
        symbol,
        sh.lots,
        portions,
        seller,
        buyer,
        cash,
        buyer_fee,
        seller_fee,
        reference,
    )
    bh.held_fen -= cash + buyer_fee
    bh.remaining_kg -= qty
    sh.remaining_kg -= qty
    if not (bh.remaining_kg == buy_left and sh.remaining_kg == sell_left):
        raise SettlementDefect(
            f"trade {t.trade_id}: remaining {bh.remaining_kg}/{sh.remaining_kg}, "
            f"engine says {buy_left}/{sell_left}"
        )
    out.append(_hold_event(seq, ts_us, bh, "posted", cash + buyer_fee))
    out.append(_hold_event(seq, ts_us, sh, "posted", qty))
    # What a fill below the limit or a rounding in the buyer's favour leaves over
    # stays in the hold until the batch ends (it may be the reserve a later fill of
    # this sweep needs); a filled order has no later fill and gives it all back now.
    if bh.remaining_kg == 0:
        out += _release(reg, seq, ts_us, bh, bh.held_fen, "released")
    else:
        batch.touch(bh, seq, ts_us)
    for h in (bh, sh):
        if h.remaining_kg == 0:
            if not (h.held_fen == 0 and h.lots.total() == 0):
                raise SettlementDefect("h.held_fen == 0 and h.lots.total() == 0")
            del reg._holds[h.order_id]
    return out


def _order_cancelled(reg: Registry, e: OrderCancelled, batch: _Batch) -> list:
    hold = reg._holds.get(e.order_id)
    if not (hold is not None):
        raise SettlementDefect(f"cancel of order {e.order_id}, which holds nothing")
    if not (hold.remaining_kg == e.cancelled_kg):
        raise SettlementDefect(
            f"order {e.order_id}: cancelling {e.cancelled_kg} kg, hold has {hold.remaining_kg}"
        )
    hold.remaining_kg = 0
    amount = hold.held_fen if hold.is_buy else hold.lots.total()
    out = _release(reg, e.seq, e.ts_us, hold, amount, "voided")
    del reg._holds[e.order_id]
    return out


def _order_reduced(reg: Registry, e: OrderReduced, batch: _Batch) -> list:
    hold = reg._holds.get(e.order_id)
    if not (hold is not None and hold.remaining_kg == e.old_remaining_kg):
        raise SettlementDefect(f"reduce of order {e.order_id}: hold {hold}")
    if not (0 < e.new_remaining_kg <= e.old_remaining_kg):
        raise SettlementDefect("0 < e.new_remaining_kg <= e.old_remaining_kg")
    hold.remaining_kg = e.new_remaining_kg
    if hold.is_buy:
        excess = hold.held_fen - hold.requirement_fen(reg.fee_bps)
    else:
        excess = e.old_remaining_kg - e.new_remaining_kg
    return _release(reg, e.seq, e.ts_us, hold, excess, "released")


def _order_replaced(reg: Registry, e: OrderReplaced, batch: _Batch) -> list:
    hold = reg._holds.get(e.order_id)
    if not (hold is not None and hold.remaining_kg == e.old_remaining_kg):
        raise SettlementDefect(f"replace of order {e.order_id}: hold {hold}")
    if not (e.new_remaining_kg > 0 and e.new_remaining_kg % hold.lot_kg == 0):
        raise SettlementDefect("e.new_remaining_kg > 0 and e.new_remaining_kg % hold.lot_kg == 0")
    hold.price_fen = e.new_price_fen
    hold.remaining_kg = e.new_remaining_kg
    reserve = batch.reserves.get(e.order_id, 0)
    if hold.is_buy:
        batch.touch(hold, e.seq, e.ts_us)
        change = hold.requirement_fen(reg.fee_bps) + reserve - hold.held_fen
    else:
        change = e.new_remaining_kg - e.old_remaining_kg
    if change > 0:
        return _increase(reg, e.seq, e.ts_us, hold, "increased", reserve)
    return _release(reg, e.seq, e.ts_us, hold, -change, "released")


def _increase(
    reg: Registry, seq: int, ts_us: int, hold: Hold, action: str, reserve_fen: int = 0
) -> list:
    """Locks what the hold lacks for its remaining quantity at its price (and, for a
    buy that may trade at once, its rounding reserve)."""
    if hold.is_buy:
        amount = hold.requirement_fen(reg.fee_bps) + reserve_fen - hold.held_fen
        have = reg._cash.balance(hold.account_id).available_fen
        if not (amount <= have):
            raise SettlementDefect(f"order {hold.order_id} locks {amount} fen, {have} available")
        return _lock_cash(reg, seq, ts_us, hold, amount, action)
    amount = hold.remaining_kg - hold.lots.total()
    bag = reg._holdings.get(hold.account_id, hold.symbol).available
    if not (amount <= bag.total()):
        raise SettlementDefect(f"order {hold.order_id} locks {amount} kg, {bag.total()} available")
    out = reg._holdings.hold_oldest(
        seq, ts_us, hold.account_id, hold.symbol, amount, f"order:{hold.order_id}", hold.lots
    )
    out.append(_hold_event(seq, ts_us, hold, action, amount))
    return out


def _lock_cash(reg: Registry, seq: int, ts_us: int, hold: Hold, amount: int, action: str) -> list:
    if not (amount >= 0):
        raise SettlementDefect("amount >= 0")
    out: list = []
    if amount:
        out.append(
            reg._cash.post(
                seq,
                ts_us,
                hold.account_id,
                "hold",
                amount,
                -amount,
                amount,
                f"order:{hold.order_id}",
            )
        )
    hold.held_fen += amount
    out.append(_hold_event(seq, ts_us, hold, action, amount))
    return out


def _release(reg: Registry, seq: int, ts_us: int, hold: Hold, amount: int, action: str) -> list:
    """Gives `amount` back to available: fen for a buy, kg (newest lots first, so the
    hold keeps the oldest for delivery) for a sell."""
    if not (amount >= 0):
        raise SettlementDefect("amount >= 0")
    if amount == 0 and action == "released":
        return []
    reference = f"order:{hold.order_id}"
    out: list = []
    if hold.is_buy:
        if amount:
            out.append(
                reg._cash.post(
                    seq, ts_us, hold.account_id, "release", amount, amount, -amount, reference
                )
            )
        hold.held_fen -= amount
    else:
        for p in hold.lots.select_newest(amount):
            hold.lots.remove(*p)
            out.append(
                reg._holdings.post(
                    seq,
                    ts_us,
                    hold.account_id,
                    hold.symbol,
                    p,
                    "release",
                    p[2],
                    -p[2],
                    0,
                    reference,
                )
            )
    out.append(_hold_event(seq, ts_us, hold, action, amount))
    return out


def _hold_event(seq: int, ts_us: int, hold: Hold, action: str, amount: int) -> HoldChanged:
    if hold.side == "buy":
        asset, held = "cash", hold.held_fen
    else:
        asset, held = "allowances", hold.lots._total
    return new_event(
        HoldChanged,
        (
            seq,
            ts_us,
            hold.order_id,
            hold.account_id,
            hold.symbol,
            hold.side,
            asset,
            action,
            amount,
            held,
            hold.remaining_kg,
        ),
    )


_HANDLERS = {
    InstrumentAdded: _instrument_added,
    OrderAccepted: _order_accepted,
    Trade: _trade,
    OrderCancelled: _order_cancelled,
    OrderReduced: _order_reduced,
    OrderReplaced: _order_replaced,
}
