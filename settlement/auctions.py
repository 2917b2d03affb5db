"""Uniform-price sealed-bid auctions of quota from the provincial reserve.

Opening an auction locks the offered quota in the reserve (its lots, oldest first);
a bid locks its price times its quantity plus the fee, exactly like a buy order
(`pricing.buy_hold_fen`). Closing clears by `clear`: bids at or above the reserve
price, highest price first and then earliest; no bidder gets more than the cap; the
last bid reached may be filled in part; everyone pays the lowest accepted price.
Each winner pays cash and its fee out of its lock and the rest is released: one fill
of q <= Q kg at p <= P costs at most `buy_hold_fen(P, Q)` (the proof is in
`pricing.buy_hold_fen`), so every award fits its lock. What is not sold is released
back to the reserve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from settlement.accounts import RESERVE_ACCOUNT, RESERVE_SOURCE, Role
from settlement.commands import CloseAuction, OpenAuction, PlaceBid, WithdrawBid
from settlement.defects import SettlementDefect
from settlement.errors import ErrorCode, SettlementError
from settlement.events import AuctionChanged, AuctionCleared, BidChanged, LotFromReserve
from settlement.lots import Lot, LotBag
from settlement.pricing import buy_hold_fen, fee_fen, trade_cash_fen
from settlement.settle import pay_from_lock
from settlement.validation import is_int, require_new_id, require_positive, require_role

if TYPE_CHECKING:
    from settlement.registry import Registry


class AuctionStatus(StrEnum):
    OPEN = "open"
    CLEARED = "cleared"
    CANCELLED = "cancelled"


class BidStatus(StrEnum):
    OPEN = "open"
    WITHDRAWN = "withdrawn"
    WON = "won"
    LOST = "lost"
    CANCELLED = "cancelled"


RESERVE_AUCTION = "reserve_auction"
"""The source kind of a lot re-issued to an auction's winner."""


@dataclass(slots=True)
class Auction:
    auction_id: str
    symbol: str
    quantity_kg: int
    reserve_price_fen: int
    bidder_cap_pct: int
    bidder_cap_kg: int
    note: str
    status: str
    opened_seq: int
    opened_us: int
    clearing_price_fen: int = 0
    sold_kg: int = 0
    closed_us: int = 0
    bid_ids: list[str] = field(default_factory=list)
    lots: LotBag = field(default_factory=LotBag)
    """The reserve's locked lots while the auction is open."""


@dataclass(slots=True)
class Bid:
    bid_id: str
    auction_id: str
    account_id: str
    price_fen: int
    quantity_kg: int
    seq: int
    placed_us: int
    status: str
    held_fen: int
    awarded_kg: int = 0
    paid_fen: int = 0
    fee_fen: int = 0


class BidInput(NamedTuple):
    """What clearing needs of a bid; `seq` orders bids of the same price (earliest first)."""

    bid_id: str
    account_id: str
    price_fen: int
    quantity_kg: int
    seq: int


class Clearing(NamedTuple):
    clearing_price_fen: int
    """0 when nothing is sold."""
    awards: tuple[tuple[str, int], ...]
    """(bid_id, awarded_kg) for each bid that won quota, in clearing order."""

    @property
    def sold_kg(self) -> int:
        return sum(kg for _, kg in self.awards)


def clear(
    offered_kg: int, reserve_price_fen: int, cap_kg: int, bids: Sequence[BidInput]
) -> Clearing:
    """The uniform-price rule. Quantities are whole lots, so every award is one too
    (a minimum of multiples of the lot is a multiple of the lot)."""
    eligible = sorted(
        (b for b in bids if b.price_fen >= reserve_price_fen), key=lambda b: (-b.price_fen, b.seq)
    )
    left = offered_kg
    won_by: dict[str, int] = {}
    awards: list[tuple[str, int]] = []
    lowest = 0
    for b in eligible:
        if left == 0:
            break
        take = min(b.quantity_kg, left, cap_kg - won_by.get(b.account_id, 0))
        if take <= 0:
            continue
        awards.append((b.bid_id, take))
        won_by[b.account_id] = won_by.get(b.account_id, 0) + take
        left -= take
        lowest = b.price_fen
    return Clearing(lowest, tuple(awards))


def cap_kg_for(quantity_kg: int, bidder_cap_pct: int, lot_kg: int) -> int:
    """The cap in whole lots, rounded down: a bidder never gets more than the percentage."""
    return quantity_kg * bidder_cap_pct // 100 // lot_kg * lot_kg


# ---------------------------------------------------------------------- handlers


def open_auction(reg: Registry, cmd: OpenAuction) -> list:
    require_new_id(cmd.auction_id, reg._auctions, "auction")
    listing = reg.require_listing(cmd.symbol)
    reg.require_not_expired(cmd.symbol)
    kg = require_positive(cmd.quantity_kg, "quantity_kg")
    require_positive(cmd.reserve_price_fen, "reserve_price_fen")
    _require_lots(kg, listing.lot_kg)
    pct = cmd.bidder_cap_pct
    if not is_int(pct) or not 1 <= pct <= 100:
        raise SettlementError(
            ErrorCode.INVALID_AMOUNT, f"bidder_cap_pct must be 1..100, got {pct!r}"
        )
    cap = cap_kg_for(kg, pct, listing.lot_kg)
    if cap == 0:
        raise SettlementError(
            ErrorCode.INVALID_AMOUNT,
            f"a cap of {pct}% of {kg} kg is less than one lot of {cmd.symbol}",
        )
    bag = reg._holdings.peek(RESERVE_ACCOUNT, cmd.symbol).available
    if kg > bag.total():
        raise SettlementError(
            ErrorCode.INSUFFICIENT_ALLOWANCES,
            f"the reserve holds {bag.total()} kg of {cmd.symbol} available, auction offers {kg}",
        )
    auction = Auction(
        cmd.auction_id,
        cmd.symbol,
        kg,
        cmd.reserve_price_fen,
        pct,
        cap,
        cmd.note,
        AuctionStatus.OPEN,
        cmd.seq,
        cmd.ts_us,
    )
    out = reg._holdings.hold_oldest(
        cmd.seq,
        cmd.ts_us,
        RESERVE_ACCOUNT,
        cmd.symbol,
        kg,
        f"auction:{cmd.auction_id}",
        auction.lots,
    )
    reg._auctions[cmd.auction_id] = auction
    out.append(AuctionChanged(cmd.seq, cmd.ts_us, cmd.auction_id))
    return out


def place_bid(reg: Registry, cmd: PlaceBid) -> list:
    require_new_id(cmd.bid_id, reg._bids, "bid")
    auction = reg.auction(cmd.auction_id)
    account = reg.require_account(cmd.account_id)
    require_role(account, (Role.ENTERPRISE,), "bid in an auction")
    _require_open(auction)
    reg.require_not_expired(auction.symbol)
    price = require_positive(cmd.price_fen, "price_fen")
    kg = require_positive(cmd.quantity_kg, "quantity_kg")
    _require_lots(kg, reg.require_listing(auction.symbol).lot_kg)
    if price < auction.reserve_price_fen:
        raise SettlementError(
            ErrorCode.BID_BELOW_RESERVE,
            f"bid {price} fen/t is below the reserve price {auction.reserve_price_fen} fen/t",
        )
    if kg > auction.quantity_kg:
        raise SettlementError(
            ErrorCode.INVALID_AMOUNT, f"bid of {kg} kg exceeds the {auction.quantity_kg} kg offered"
        )
    need = buy_hold_fen(price, kg, reg.fee_bps)
    have = reg._cash.balance(cmd.account_id).available_fen
    if need > have:
        raise SettlementError(
            ErrorCode.INSUFFICIENT_CASH, f"{cmd.account_id} needs {need} fen, has {have} available"
        )
    bid = Bid(
        cmd.bid_id,
        auction.auction_id,
        cmd.account_id,
        price,
        kg,
        cmd.seq,
        cmd.ts_us,
        BidStatus.OPEN,
        0,
    )
    out = [
        reg._cash.post(
            cmd.seq, cmd.ts_us, cmd.account_id, "hold", need, -need, need, f"bid:{cmd.bid_id}"
        )
    ]
    bid.held_fen = need
    reg._bids[cmd.bid_id] = bid
    auction.bid_ids.append(cmd.bid_id)
    out.append(BidChanged(cmd.seq, cmd.ts_us, cmd.bid_id))
    return out


def withdraw_bid(reg: Registry, cmd: WithdrawBid) -> list:
    bid = reg._bids.get(cmd.bid_id) if isinstance(cmd.bid_id, str) else None
    if bid is None or bid.account_id != cmd.account_id:
        raise SettlementError(ErrorCode.UNKNOWN_BID, f"no bid {cmd.bid_id!r}")
    _require_open(reg._auctions[bid.auction_id])
    if bid.status != BidStatus.OPEN:
        raise SettlementError(ErrorCode.AUCTION_CLOSED, f"bid {bid.bid_id} is {bid.status}")
    out = _release_bid(reg, cmd.seq, cmd.ts_us, bid)
    bid.status = BidStatus.WITHDRAWN
    out.append(BidChanged(cmd.seq, cmd.ts_us, bid.bid_id))
    return out


def close_auction(reg: Registry, cmd: CloseAuction) -> list:
    auction = reg.auction(cmd.auction_id)
    _require_open(auction)
    seq, ts_us, symbol = cmd.seq, cmd.ts_us, auction.symbol
    live = [reg._bids[b] for b in auction.bid_ids if reg._bids[b].status == BidStatus.OPEN]
    result = clear(
        auction.quantity_kg,
        auction.reserve_price_fen,
        auction.bidder_cap_kg,
        [BidInput(b.bid_id, b.account_id, b.price_fen, b.quantity_kg, b.seq) for b in live],
    )
    price = result.clearing_price_fen
    awarded = dict(result.awards)
    reference = f"auction:{auction.auction_id}"
    out: list = []
    awards: list[tuple[str, str, int, int, int]] = []
    for bid_id, kg in result.awards:
        bid = reg._bids[bid_id]
        buyer = bid.account_id
        cash = trade_cash_fen(price, kg)
        fee = fee_fen(cash, reg.fee_bps)
        if not (cash + fee <= bid.held_fen):
            raise SettlementDefect(f"award of bid {bid_id} exceeds its lock")
        out += _reissue(reg, seq, ts_us, auction, bid, kg)
        # the reserve sells without a fee
        out += pay_from_lock(reg, seq, ts_us, buyer, RESERVE_ACCOUNT, cash, fee, 0, reference)
        bid.held_fen -= cash + fee
        bid.awarded_kg, bid.paid_fen, bid.fee_fen = kg, cash, fee
        awards.append((bid_id, buyer, kg, cash, fee))
    for bid in live:
        out += _release_bid(reg, seq, ts_us, bid)
        bid.status = BidStatus.WON if bid.bid_id in awarded else BidStatus.LOST
        out.append(BidChanged(seq, ts_us, bid.bid_id))
    out += _release_lots(reg, seq, ts_us, auction)
    auction.status = AuctionStatus.CLEARED
    auction.clearing_price_fen = price
    auction.sold_kg = result.sold_kg
    auction.closed_us = ts_us
    out.append(AuctionChanged(seq, ts_us, auction.auction_id))
    out.append(
        AuctionCleared(
            seq,
            ts_us,
            auction.auction_id,
            symbol,
            price,
            result.sold_kg,
            auction.quantity_kg,
            tuple(awards),
        )
    )
    return out


def _reissue(reg: Registry, seq: int, ts_us: int, auction: Auction, bid: Bid, kg: int) -> list:
    """The winner's quota becomes a new lot whose provenance is the reserve (so a
    project that binds it shows where it came from); the reserve's locked lots it
    replaces are retired by as much. The ledger sees a transfer from the reserve into
    the winner's city."""
    reference = f"auction:{auction.auction_id}"
    listing = reg.require_listing(auction.symbol)
    out: list = []
    retired: list[tuple[str, int]] = []
    for p in auction.lots.select_oldest(kg):
        auction.lots.remove(*p)
        out.append(
            reg._holdings.post(
                seq, ts_us, RESERVE_ACCOUNT, auction.symbol, p, "retire", 0, -p[2], 0, reference
            )
        )
        reg._retired_kg[p[1]] = reg._retired_kg.get(p[1], 0) + p[2]
        retired.append((p[1], p[2]))
    lot = Lot(
        lot_id=f"{auction.auction_id}-{bid.bid_id}",
        ordinal=len(reg._lots) + 1,
        symbol=auction.symbol,
        pollutant=listing.pollutant,
        vintage=listing.vintage,
        quantity_kg=kg,
        claim_id="",
        source_kind=RESERVE_AUCTION,
        city_code=RESERVE_SOURCE,
        origin_account_id=RESERVE_ACCOUNT,
        claimant_account_id=bid.account_id,
        verifier_account_id="",
        method=auction.auction_id,
        issued_seq=seq,
        issued_ts_us=ts_us,
    )
    reg._lots[lot.lot_id] = lot
    out.append(
        LotFromReserve(
            seq,
            ts_us,
            lot.lot_id,
            lot.symbol,
            kg,
            bid.account_id,
            auction.auction_id,
            tuple(retired),
        )
    )
    out.append(
        reg._holdings.post(
            seq,
            ts_us,
            bid.account_id,
            lot.symbol,
            (lot.ordinal, lot.lot_id, kg),
            "receive",
            kg,
            0,
            0,
            reference,
        )
    )
    buyer_city = reg._accounts[bid.account_id].ledger_city
    out += reg._ledger_transfer(seq, ts_us, lot.symbol, None, buyer_city, kg, reference)
    return out


def cancel_open(reg: Registry, seq: int, ts_us: int, symbol: str) -> list:
    """Cancels every open auction of `symbol`: the bids' locks and the reserve's
    quota are released, nothing is sold."""
    out: list = []
    for auction in reg._auctions.values():
        if auction.symbol != symbol or auction.status != AuctionStatus.OPEN:
            continue
        for bid_id in auction.bid_ids:
            bid = reg._bids[bid_id]
            if bid.status == BidStatus.OPEN:
                out += _release_bid(reg, seq, ts_us, bid)
                bid.status = BidStatus.CANCELLED
                out.append(BidChanged(seq, ts_us, bid_id))
        out += _release_lots(reg, seq, ts_us, auction)
        auction.status = AuctionStatus.CANCELLED
        auction.closed_us = ts_us
        out.append(AuctionChanged(seq, ts_us, auction.auction_id))
    return out


def _release_bid(reg: Registry, seq: int, ts_us: int, bid: Bid) -> list:
    amount, bid.held_fen = bid.held_fen, 0
    if not amount:
        return []
    return [
        reg._cash.post(
            seq, ts_us, bid.account_id, "release", amount, amount, -amount, f"bid:{bid.bid_id}"
        )
    ]


def _release_lots(reg: Registry, seq: int, ts_us: int, auction: Auction) -> list:
    out: list = []
    reference = f"auction:{auction.auction_id}"
    for p in auction.lots.portions():
        auction.lots.remove(*p)
        out.append(
            reg._holdings.post(
                seq, ts_us, RESERVE_ACCOUNT, auction.symbol, p, "release", p[2], -p[2], 0, reference
            )
        )
    return out


def _require_open(auction: Auction) -> None:
    if auction.status != AuctionStatus.OPEN:
        raise SettlementError(
            ErrorCode.AUCTION_CLOSED, f"auction {auction.auction_id} is {auction.status}"
        )


def _require_lots(kg: int, lot_kg: int) -> None:
    if kg % lot_kg:
        raise SettlementError(
            ErrorCode.QUANTITY_OFF_LOT, f"{kg} kg is not a multiple of the {lot_kg} kg lot"
        )
