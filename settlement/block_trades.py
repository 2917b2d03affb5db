"""Block trades (协议转让): a seller proposes a price and quantity to one named buyer.

Proposing locks the seller's lots, oldest first, as a sell order would. The buyer's
acceptance settles at once, delivery versus payment with the same fees as a trade on
the book; the buyer's cash is not locked in advance, so an acceptance it cannot pay
for is refused and leaves the proposal pending. Rejection, withdrawal and the
instrument's expiry release the seller's lots. The price band and the minimum size
depend on the reference price and configuration, so the core checks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from settlement.accounts import Role
from settlement.commands import DecideBlockTrade, ProposeBlockTrade
from settlement.errors import ErrorCode, SettlementError
from settlement.events import BlockTradeChanged, BlockTradeSettled
from settlement.lots import LotBag
from settlement.settle import deliver_versus_payment, trade_amounts
from settlement.validation import require_new_id, require_positive, require_role

if TYPE_CHECKING:
    from settlement.registry import Registry


class BlockTradeStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


ACTIONS = {
    "accept": BlockTradeStatus.ACCEPTED,
    "reject": BlockTradeStatus.REJECTED,
    "withdraw": BlockTradeStatus.WITHDRAWN,
}


@dataclass(slots=True)
class BlockTrade:
    block_id: str
    symbol: str
    seller_account_id: str
    buyer_account_id: str
    price_fen: int
    quantity_kg: int
    note: str
    status: str
    proposed_seq: int
    proposed_us: int
    decided_us: int = 0
    cash_fen: int = 0
    buyer_fee_fen: int = 0
    seller_fee_fen: int = 0
    lots: LotBag = field(default_factory=LotBag)
    """The seller's locked lots while pending."""


def propose(reg: Registry, cmd: ProposeBlockTrade) -> list:
    require_new_id(cmd.block_id, reg._blocks, "block trade")
    seller = reg.require_account(cmd.seller_account_id)
    require_role(seller, (Role.ENTERPRISE,), "sell in a block trade")
    listing = reg.require_listing(cmd.symbol)
    reg.require_not_expired(cmd.symbol)
    buyer = reg.require_account(cmd.buyer_account_id)
    if buyer.role is not Role.ENTERPRISE or buyer.account_id == seller.account_id:
        raise SettlementError(
            ErrorCode.INVALID_COUNTERPARTY, f"{cmd.buyer_account_id} cannot buy in this block trade"
        )
    require_positive(cmd.price_fen, "price_fen")
    kg = require_positive(cmd.quantity_kg, "quantity_kg")
    if kg % listing.lot_kg:
        raise SettlementError(
            ErrorCode.QUANTITY_OFF_LOT, f"{kg} kg is not a multiple of the {listing.lot_kg} kg lot"
        )
    bag = reg._holdings.peek(seller.account_id, cmd.symbol).available
    if kg > bag.total():
        raise SettlementError(
            ErrorCode.INSUFFICIENT_ALLOWANCES,
            f"{seller.account_id} sells {kg} kg of {cmd.symbol}, has {bag.total()} available",
        )
    block = BlockTrade(
        cmd.block_id,
        cmd.symbol,
        seller.account_id,
        buyer.account_id,
        cmd.price_fen,
        kg,
        cmd.note,
        BlockTradeStatus.PENDING,
        cmd.seq,
        cmd.ts_us,
    )
    out = reg._holdings.hold_oldest(
        cmd.seq,
        cmd.ts_us,
        seller.account_id,
        cmd.symbol,
        kg,
        f"block:{cmd.block_id}",
        block.lots,
    )
    reg._blocks[cmd.block_id] = block
    out.append(BlockTradeChanged(cmd.seq, cmd.ts_us, cmd.block_id))
    return out


def decide(reg: Registry, cmd: DecideBlockTrade) -> list:
    block = reg._blocks.get(cmd.block_id) if isinstance(cmd.block_id, str) else None
    parties = (block.seller_account_id, block.buyer_account_id) if block else ()
    if block is None or cmd.account_id not in parties:
        raise SettlementError(ErrorCode.UNKNOWN_BLOCK_TRADE, f"no block trade {cmd.block_id!r}")
    status = ACTIONS.get(cmd.action)
    if status is None:
        raise SettlementError(ErrorCode.INVALID_ID, "action must be accept, reject or withdraw")
    # only the buyer accepts or rejects, only the seller withdraws
    party = (
        block.seller_account_id if status == BlockTradeStatus.WITHDRAWN else block.buyer_account_id
    )
    if cmd.account_id != party:
        raise SettlementError(
            ErrorCode.NOT_YOUR_BLOCK_TRADE,
            f"{cmd.account_id} cannot {cmd.action} block trade {block.block_id}",
        )
    if block.status != BlockTradeStatus.PENDING:
        raise SettlementError(
            ErrorCode.BLOCK_TRADE_NOT_PENDING, f"block trade {block.block_id} is {block.status}"
        )
    if status == BlockTradeStatus.ACCEPTED:
        reg.require_not_expired(block.symbol)
        out = _settle(reg, cmd.seq, cmd.ts_us, block)
    else:
        out = _release(reg, cmd.seq, cmd.ts_us, block)
    block.status = status
    block.decided_us = cmd.ts_us
    out.append(BlockTradeChanged(cmd.seq, cmd.ts_us, block.block_id))
    return out


def cancel_pending(reg: Registry, seq: int, ts_us: int, symbol: str) -> list:
    out: list = []
    for block in reg._blocks.values():
        if block.symbol == symbol and block.status == BlockTradeStatus.PENDING:
            out += _release(reg, seq, ts_us, block)
            block.status = BlockTradeStatus.CANCELLED
            block.decided_us = ts_us
            out.append(BlockTradeChanged(seq, ts_us, block.block_id))
    return out


def _settle(reg: Registry, seq: int, ts_us: int, block: BlockTrade) -> list:
    buyer, seller, symbol = block.buyer_account_id, block.seller_account_id, block.symbol
    cash, buyer_fee, seller_fee = trade_amounts(block.price_fen, block.quantity_kg, reg.fee_bps)
    have = reg._cash.balance(buyer).available_fen
    if cash + buyer_fee > have:
        raise SettlementError(
            ErrorCode.INSUFFICIENT_CASH,
            f"{buyer} needs {cash + buyer_fee} fen, has {have} available",
        )
    reference = f"block:{block.block_id}"
    portions = block.lots.portions()
    out: list = [
        BlockTradeSettled(
            seq,
            ts_us,
            block.block_id,
            symbol,
            block.price_fen,
            block.quantity_kg,
            buyer,
            seller,
            reg._accounts[buyer].city_code,
            reg._accounts[seller].city_code,
            cash,
            buyer_fee,
            seller_fee,
            tuple((lot_id, kg) for _, lot_id, kg in portions),
        )
    ]
    # the buyer's cash is not locked in advance: it is locked for the instant of
    # settlement, so payment and fee come out of a lock exactly as for a trade on the book
    out += deliver_versus_payment(
        reg,
        seq,
        ts_us,
        symbol,
        block.lots,
        portions,
        seller,
        buyer,
        cash,
        buyer_fee,
        seller_fee,
        reference,
        lock_cash=True,
    )
    block.cash_fen, block.buyer_fee_fen, block.seller_fee_fen = cash, buyer_fee, seller_fee
    return out


def _release(reg: Registry, seq: int, ts_us: int, block: BlockTrade) -> list:
    out: list = []
    reference = f"block:{block.block_id}"
    for p in block.lots.portions():
        block.lots.remove(*p)
        out.append(
            reg._holdings.post(
                seq,
                ts_us,
                block.seller_account_id,
                block.symbol,
                p,
                "release",
                p[2],
                -p[2],
                0,
                reference,
            )
        )
    return out
