"""What must hold after every command and every engine event, checked from the
registry's own state. Each failure names the row that broke the rule."""

from __future__ import annotations

from typing import TYPE_CHECKING

from settlement.accounts import RESERVE_ACCOUNT
from settlement.auctions import RESERVE_AUCTION, AuctionStatus, BidStatus
from settlement.block_trades import BlockTradeStatus
from settlement.defects import SettlementDefect
from settlement.reductions import ClaimStatus

if TYPE_CHECKING:
    from settlement.registry import Registry


def check(reg: Registry) -> None:
    _cash(reg)
    _holds(reg)
    _lots_and_allowances(reg)
    _projects(reg)
    _ledger(reg)


def _cash(reg: Registry) -> None:
    total = 0
    for account_id, b in reg._cash.balances.items():
        if not (b.available_fen >= 0 and b.locked_fen >= 0):
            raise SettlementDefect(f"cash of {account_id} negative: {b}")
        total += b.available_fen + b.locked_fen
    expected = reg._cash.deposited_fen - reg._cash.withdrawn_fen
    if not (total == expected):
        raise SettlementDefect(
            f"cash not conserved: balances (fees included) {total} fen, "
            f"deposits - withdrawals {expected} fen"
        )


def _holds(reg: Registry) -> None:
    locked_fen: dict[str, int] = {}
    locked_kg: dict[tuple[str, str], int] = {}
    for order_id, h in reg._holds.items():
        if not (h.order_id == order_id and h.remaining_kg > 0):
            raise SettlementDefect(f"hold {order_id}: {h}")
        if h.is_buy:
            need = h.requirement_fen(reg.fee_bps)
            if not (h.held_fen == need):
                raise SettlementDefect(f"buy hold {order_id} holds {h.held_fen} fen, needs {need}")
            locked_fen[h.account_id] = locked_fen.get(h.account_id, 0) + h.held_fen
        else:
            if not (h.lots.total() == h.remaining_kg):
                raise SettlementDefect(
                    f"sell hold {order_id} holds {h.lots.total()} kg for {h.remaining_kg} remaining"
                )
            key = (h.account_id, h.symbol)
            locked_kg[key] = locked_kg.get(key, 0) + h.remaining_kg
    for bid in reg._bids.values():
        if not (bid.held_fen >= 0 and (bid.held_fen == 0 or bid.status == BidStatus.OPEN)):
            raise SettlementDefect(f"bid {bid}")
        locked_fen[bid.account_id] = locked_fen.get(bid.account_id, 0) + bid.held_fen
    for auction in reg._auctions.values():
        open_auction = auction.status == AuctionStatus.OPEN
        if not (open_auction or auction.lots.total() == 0):
            raise SettlementDefect(f"auction {auction}")
        if not (not open_auction or auction.lots.total() == auction.quantity_kg):
            raise SettlementDefect(
                f"open auction {auction.auction_id} locks {auction.lots.total()} kg of "
                f"{auction.quantity_kg}"
            )
        if not (auction.sold_kg <= auction.quantity_kg):
            raise SettlementDefect("auction.sold_kg <= auction.quantity_kg")
        key = (RESERVE_ACCOUNT, auction.symbol)
        locked_kg[key] = locked_kg.get(key, 0) + auction.lots.total()
    for block in reg._blocks.values():
        pending_block = block.status == BlockTradeStatus.PENDING
        if not (pending_block or block.lots.total() == 0):
            raise SettlementDefect(f"block trade {block}")
        if not (not pending_block or block.lots.total() == block.quantity_kg):
            raise SettlementDefect(
                f"pending block trade {block.block_id} locks {block.lots.total()} kg of "
                f"{block.quantity_kg}"
            )
        key = (block.seller_account_id, block.symbol)
        locked_kg[key] = locked_kg.get(key, 0) + block.lots.total()
    for account_id, b in reg._cash.balances.items():
        if not (b.locked_fen == locked_fen.get(account_id, 0)):
            raise SettlementDefect(
                f"{account_id} has {b.locked_fen} fen locked, its holds add up to "
                f"{locked_fen.get(account_id, 0)}"
            )
    for key, holding in reg._holdings.holdings.items():
        if not (holding.locked_kg == locked_kg.get(key, 0)):
            raise SettlementDefect(
                f"{key} has {holding.locked_kg} kg locked, "
                f"its holds add up to {locked_kg.get(key, 0)}"
            )
    for key in locked_kg:
        if key not in reg._holdings.holdings:
            raise SettlementDefect(f"{key} has sell holds but no holding")


def _lots_and_allowances(reg: Registry) -> None:
    """Per symbol issued = available + locked + used over all accounts, and per lot the
    pieces found in holdings, holds and project bindings add up to the lot."""
    per_lot: dict[str, int] = {}
    held: dict[str, int] = {}
    for (account_id, symbol), h in reg._holdings.holdings.items():
        avail, locked, used = h.totals()
        if not (min(avail, locked, used) >= 0):
            raise SettlementDefect(f"{account_id} {symbol} negative: {h}")
        held[symbol] = held.get(symbol, 0) + avail + locked + used
        for _, lot_id, kg in h.available.portions():
            if not (kg > 0 and reg._lots[lot_id].symbol == symbol):
                raise SettlementDefect("kg > 0 and reg._lots[lot_id].symbol == symbol")
            per_lot[lot_id] = per_lot.get(lot_id, 0) + kg
    for h in reg._holds.values():
        for _, lot_id, kg in h.lots.portions():
            per_lot[lot_id] = per_lot.get(lot_id, 0) + kg
    for p in reg._projects.values():
        for lot_id, _account, kg in p.bindings:
            per_lot[lot_id] = per_lot.get(lot_id, 0) + kg
    for bag in [a.lots for a in reg._auctions.values()] + [b.lots for b in reg._blocks.values()]:
        for _, lot_id, kg in bag.portions():
            per_lot[lot_id] = per_lot.get(lot_id, 0) + kg
    for symbol in set(held) | set(reg._issued_kg):
        if not (held.get(symbol, 0) == reg._issued_kg.get(symbol, 0)):
            raise SettlementDefect(
                f"{symbol} not conserved: issued {reg._issued_kg.get(symbol, 0)} kg, "
                f"held + locked + used {held.get(symbol, 0)} kg"
            )
    for lot_id, lot in reg._lots.items():
        found = per_lot.get(lot_id, 0) + reg._retired_kg.get(lot_id, 0)
        if not (found == lot.quantity_kg):
            raise SettlementDefect(
                f"lot {lot_id} of {lot.quantity_kg} kg found as {found} kg (retired included)"
            )
        if lot.source_kind == RESERVE_AUCTION:
            if not (lot_id not in reg._retired_kg and lot.city_code == "reserve"):
                raise SettlementDefect(lot)
            continue
        claim = reg._claims[lot.claim_id]
        if not (claim.status == ClaimStatus.APPROVED and claim.lot_id == lot_id):
            raise SettlementDefect(f"lot {lot_id}: {claim}")
        if not (claim.approved_kg == lot.quantity_kg <= claim.quantity_kg):
            raise SettlementDefect("claim.approved_kg == lot.quantity_kg <= claim.quantity_kg")
    if not (set(per_lot) <= set(reg._lots)):
        raise SettlementDefect(f"unknown lots {set(per_lot) - set(reg._lots)}")
    for symbol in reg._listings:
        reissued = sum(
            lot.quantity_kg
            for lot in reg._lots.values()
            if lot.symbol == symbol and lot.source_kind == RESERVE_AUCTION
        )
        retired = sum(
            kg for lot_id, kg in reg._retired_kg.items() if reg._lots[lot_id].symbol == symbol
        )
        if not (reissued == retired):
            raise SettlementDefect(f"{symbol}: re-issued {reissued} kg, retired {retired} kg")


def _projects(reg: Registry) -> None:
    """Every used kilogram is bound to a project, from a verified lot."""
    used: dict[tuple[str, str], int] = {}
    for p in reg._projects.values():
        if not (0 <= p.allocated_kg <= p.required_kg):
            raise SettlementDefect(f"project {p.project_id}: {p}")
        for lot_id, account_id, kg in p.bindings:
            if not (kg > 0 and reg._lots[lot_id].symbol == p.symbol):
                raise SettlementDefect("kg > 0 and reg._lots[lot_id].symbol == p.symbol")
            used[(account_id, p.symbol)] = used.get((account_id, p.symbol), 0) + kg
    for key, h in reg._holdings.holdings.items():
        if not (h.used_kg == used.get(key, 0)):
            raise SettlementDefect(
                f"{key} has {h.used_kg} kg used, projects bind {used.get(key, 0)} kg of it"
            )


def _ledger(reg: Registry) -> None:
    """Each city row balances, equals what the city's accounts hold, and its added
    and used match the lots issued there and the projects there."""
    holds_in: dict[tuple[str, str], int] = {}
    reserve: dict[str, int] = {}
    for (account_id, symbol), h in reg._holdings.holdings.items():
        amount = h.available.total() + h.locked_kg
        if account_id == RESERVE_ACCOUNT:
            reserve[symbol] = reserve.get(symbol, 0) + amount
            continue
        city = reg._accounts[account_id].ledger_city
        if not (city is not None or amount == 0):
            raise SettlementDefect(f"{account_id} holds {symbol} outside any city")
        if city is not None:
            holds_in[(city, symbol)] = holds_in.get((city, symbol), 0) + amount
    added: dict[tuple[str, str], int] = {}
    for lot in reg._lots.values():
        added[(lot.city_code, lot.symbol)] = (
            added.get((lot.city_code, lot.symbol), 0) + lot.quantity_kg
        )
    used: dict[tuple[str, str], int] = {}
    for p in reg._projects.values():
        used[(p.city_code, p.symbol)] = used.get((p.city_code, p.symbol), 0) + p.allocated_kg
    for symbol in reg._listings:
        remaining_total = 0
        for row in reg._ledger.rows_for(symbol):
            key = (row.city_code, symbol)
            if not (min(row.added, row.used, row.transferred_in, row.transferred_out) >= 0):
                raise SettlementDefect(
                    "min(row.added, row.used, row.transferred_in, row.transferred_out) >= 0"
                )
            if not (row.remaining >= 0):
                raise SettlementDefect(f"ledger row {key} negative: {row}")
            if not (row.remaining == holds_in.get(key, 0)):
                raise SettlementDefect(
                    f"ledger row {key} says {row.remaining} kg remain, "
                    f"the city's accounts hold {holds_in.get(key, 0)} kg"
                )
            if not (row.added == added.get(key, 0)):
                raise SettlementDefect(f"ledger row {key} added {row.added}")
            if not (row.used == used.get(key, 0)):
                raise SettlementDefect(f"ledger row {key} used {row.used}")
            remaining_total += row.remaining
        issued = reg._issued_kg.get(symbol, 0)
        used_total = sum(v for (_, s), v in used.items() if s == symbol)
        if not (remaining_total + reserve.get(symbol, 0) == issued - used_total):
            raise SettlementDefect(
                f"{symbol}: cities {remaining_total} + reserve {reserve.get(symbol, 0)} kg "
                f"!= issued {issued} - used {used_total}"
            )
