"""Events the registry emits. Every state change comes out as one of these, so the
service can project them into tables; each carries the `seq` of the command (or
engine event) that caused it, which makes projections idempotent by sequence.

Postings follow pgledger: each one names the account, what moved and the balances
before and after, plus a per-account `version` that counts that account's postings.
Holds follow TigerBeetle's pending transfers: placed, then posted by fills and
released or voided by amendments and cancels.
"""

from __future__ import annotations

from typing import NamedTuple


class InstrumentListed(NamedTuple):
    seq: int
    ts_us: int
    symbol: str
    pollutant: str
    vintage: int
    lot_kg: int


class AccountOpened(NamedTuple):
    seq: int
    ts_us: int
    account_id: str
    name: str
    role: str
    city_code: str


class CashPosted(NamedTuple):
    """kind: deposit, withdrawal, hold, release, pay, receive, fee, fee_income."""

    seq: int
    ts_us: int
    account_id: str
    kind: str
    amount_fen: int
    available_before_fen: int
    locked_before_fen: int
    available_after_fen: int
    locked_after_fen: int
    version: int
    reference: str


class AllowancePosted(NamedTuple):
    """One lot's kilograms moving in one account.

    kind: issue, hold, release, deliver, receive, use, transfer_out, transfer_in, retire
    (reserve quota sold at auction and re-issued to the winner as a new lot).
    Balances are the account's totals for the symbol.
    """

    seq: int
    ts_us: int
    account_id: str
    symbol: str
    lot_id: str
    kind: str
    quantity_kg: int
    available_before_kg: int
    locked_before_kg: int
    used_before_kg: int
    available_after_kg: int
    locked_after_kg: int
    used_after_kg: int
    version: int
    reference: str


class HoldChanged(NamedTuple):
    """An order's lock, keyed by the order id.

    asset: "cash" (buy, amounts in fen) or "allowances" (sell, amounts in kg).
    action: placed, increased, posted (taken by a fill), released (excess given
    back, the hold stays), voided (all that was left given back; the hold is gone).
    """

    seq: int
    ts_us: int
    order_id: int
    account_id: str
    symbol: str
    side: str
    asset: str
    action: str
    amount: int
    held_after: int
    remaining_kg: int


class TradeSettled(NamedTuple):
    """Delivery versus payment of one engine Trade, both legs and fees at once."""

    seq: int
    ts_us: int
    symbol: str
    trade_id: int
    price_fen: int
    quantity_kg: int
    buyer_account_id: str
    seller_account_id: str
    buyer_order_id: int
    seller_order_id: int
    buyer_city_code: str
    seller_city_code: str
    cash_fen: int
    buyer_fee_fen: int
    seller_fee_fen: int
    lots: tuple[tuple[str, int], ...]


class ReductionClaimed(NamedTuple):
    seq: int
    ts_us: int
    claim_id: str
    claimant_account_id: str
    holder_account_id: str
    city_code: str
    symbol: str
    quantity_kg: int
    source_kind: str
    description: str
    evidence: str


class ReductionVerified(NamedTuple):
    """approved is False for a rejection (approved_kg 0, lot_id empty)."""

    seq: int
    ts_us: int
    claim_id: str
    verifier_account_id: str
    approved: bool
    approved_kg: int
    method: str
    note: str
    lot_id: str


class LotIssued(NamedTuple):
    """A verified reduction becomes a lot; the lot keeps its provenance for good."""

    seq: int
    ts_us: int
    lot_id: str
    symbol: str
    pollutant: str
    vintage: int
    quantity_kg: int
    claim_id: str
    source_kind: str
    city_code: str
    origin_account_id: str
    claimant_account_id: str
    verifier_account_id: str
    method: str


class ProjectSource(NamedTuple):
    lot_id: str
    reduction_id: str
    source_kind: str
    origin_city_code: str
    origin_account_id: str
    quantity_kg: int


class ProjectRegistered(NamedTuple):
    seq: int
    ts_us: int
    project_id: str
    owner_account_id: str
    name: str
    city_code: str
    priority_category: str
    symbol: str
    required_kg: int
    eia_reference: str


class ProjectAllocated(NamedTuple):
    seq: int
    ts_us: int
    project_id: str
    account_id: str
    symbol: str
    quantity_kg: int
    allocated_after_kg: int
    required_kg: int
    sources: tuple[ProjectSource, ...]


class CityFloorSet(NamedTuple):
    seq: int
    ts_us: int
    city_code: str
    symbol: str
    quantity_kg: int


class ReallocationApplied(NamedTuple):
    seq: int
    ts_us: int
    application_id: str
    bureau_account_id: str
    city_code: str
    project_id: str
    symbol: str
    quantity_kg: int
    reason: str
    priority_category: str


class ReallocationDecided(NamedTuple):
    seq: int
    ts_us: int
    application_id: str
    decider_account_id: str
    approved: bool
    sources: tuple[tuple[str, int], ...]
    note: str


class ReserveReleased(NamedTuple):
    seq: int
    ts_us: int
    city_code: str
    symbol: str
    quantity_kg: int


class LedgerMoved(NamedTuple):
    """One change to a city's row of the provincial ledger.

    kind: added, used, transferred_in, transferred_out. counterparty: the other
    city's code, "reserve", or "" for added/used.
    """

    seq: int
    ts_us: int
    city_code: str
    symbol: str
    kind: str
    quantity_kg: int
    reference: str
    counterparty: str


RegistryEvent = (
    InstrumentListed
    | AccountOpened
    | CashPosted
    | AllowancePosted
    | HoldChanged
    | TradeSettled
    | ReductionClaimed
    | ReductionVerified
    | LotIssued
    | ProjectRegistered
    | ProjectAllocated
    | CityFloorSet
    | ReallocationApplied
    | ReallocationDecided
    | ReserveReleased
    | LedgerMoved
)


class AuctionChanged(NamedTuple):
    """An auction was opened, cleared or cancelled; its row is read from the registry."""

    seq: int
    ts_us: int
    auction_id: str


class BidChanged(NamedTuple):
    """A bid was placed, withdrawn, awarded or released; read from the registry."""

    seq: int
    ts_us: int
    bid_id: str


class AuctionCleared(NamedTuple):
    """The result of an auction. awards: (bid_id, account_id, awarded_kg, cash_fen, fee_fen)
    for each bid that won quota, in clearing order."""

    seq: int
    ts_us: int
    auction_id: str
    symbol: str
    clearing_price_fen: int
    sold_kg: int
    offered_kg: int
    awards: tuple[tuple[str, str, int, int, int], ...]


class BlockTradeChanged(NamedTuple):
    """A block trade was proposed, accepted, rejected, withdrawn or cancelled."""

    seq: int
    ts_us: int
    block_id: str


class BlockTradeSettled(NamedTuple):
    """Delivery versus payment of an accepted block trade."""

    seq: int
    ts_us: int
    block_id: str
    symbol: str
    price_fen: int
    quantity_kg: int
    buyer_account_id: str
    seller_account_id: str
    buyer_city_code: str
    seller_city_code: str
    cash_fen: int
    buyer_fee_fen: int
    seller_fee_fen: int
    lots: tuple[tuple[str, int], ...]


class InstrumentExpired(NamedTuple):
    seq: int
    ts_us: int
    symbol: str


class LotFromReserve(NamedTuple):
    """Quota the reserve sold at auction, re-issued to the winner as a lot of its own
    whose provenance is the reserve: the reserve's lots it came from are retired by as
    much, so nothing is issued twice."""

    seq: int
    ts_us: int
    lot_id: str
    symbol: str
    quantity_kg: int
    account_id: str
    auction_id: str
    retired: tuple[tuple[str, int], ...]
