"""Commands the registry applies, each stamped by the sequencer with `seq` and `ts_us`.

Ids are assigned by the caller, so a replay of the same commands is exact.
Quantities are integer kilograms, money integer fen.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ListInstrument:
    seq: int
    ts_us: int
    symbol: str
    pollutant: str
    vintage: int
    lot_kg: int


@dataclass(frozen=True, slots=True)
class OpenAccount:
    """role: enterprise | city_bureau | province | operator. city_code is required for
    enterprises and bureaus, and may be empty for the province and the operator."""

    seq: int
    ts_us: int
    account_id: str
    name: str
    role: str
    city_code: str


@dataclass(frozen=True, slots=True)
class Deposit:
    seq: int
    ts_us: int
    account_id: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class Withdraw:
    seq: int
    ts_us: int
    account_id: str
    amount_fen: int


@dataclass(frozen=True, slots=True)
class ClaimReduction:
    """An enterprise claims into its own account, a city bureau into its city's pool."""

    seq: int
    ts_us: int
    claim_id: str
    claimant_account_id: str
    symbol: str
    quantity_kg: int
    source_kind: str
    description: str
    evidence: str


@dataclass(frozen=True, slots=True)
class VerifyReduction:
    """Approve (issuing lot `lot_id` of `approved_kg`) or reject with a note."""

    seq: int
    ts_us: int
    claim_id: str
    verifier_account_id: str
    approve: bool
    approved_kg: int
    method: str
    note: str
    lot_id: str


@dataclass(frozen=True, slots=True)
class RegisterProject:
    """A construction project under EIA; an empty city_code means the owner's city."""

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


@dataclass(frozen=True, slots=True)
class AllocateToProject:
    """Binds allowances of `account_id` (the project's owner, or the pool of the
    project's city) to the project, first-in first-out; they become used."""

    seq: int
    ts_us: int
    project_id: str
    account_id: str
    quantity_kg: int


@dataclass(frozen=True, slots=True)
class SetCityFloor:
    """Quota the city must keep for the provincial reduction targets (0 clears it)."""

    seq: int
    ts_us: int
    city_code: str
    symbol: str
    quantity_kg: int


@dataclass(frozen=True, slots=True)
class ApplyReallocation:
    seq: int
    ts_us: int
    application_id: str
    bureau_account_id: str
    project_id: str
    symbol: str
    quantity_kg: int
    reason: str
    priority_category: str


@dataclass(frozen=True, slots=True)
class DecideReallocation:
    """sources: (city code or "reserve", quantity_kg) pairs; ignored on rejection."""

    seq: int
    ts_us: int
    application_id: str
    decider_account_id: str
    approve: bool
    sources: tuple[tuple[str, int], ...]
    note: str


@dataclass(frozen=True, slots=True)
class ReleaseReserve:
    """The province moves reserve quota into a city's pool."""

    seq: int
    ts_us: int
    city_code: str
    symbol: str
    quantity_kg: int


@dataclass(frozen=True, slots=True)
class OpenAuction:
    """The province offers `quantity_kg` of the reserve's quota; no bidder may win more
    than `bidder_cap_pct` percent of it."""

    seq: int
    ts_us: int
    auction_id: str
    symbol: str
    quantity_kg: int
    reserve_price_fen: int
    bidder_cap_pct: int
    note: str


@dataclass(frozen=True, slots=True)
class PlaceBid:
    seq: int
    ts_us: int
    bid_id: str
    auction_id: str
    account_id: str
    price_fen: int
    quantity_kg: int


@dataclass(frozen=True, slots=True)
class WithdrawBid:
    seq: int
    ts_us: int
    bid_id: str
    account_id: str


@dataclass(frozen=True, slots=True)
class CloseAuction:
    seq: int
    ts_us: int
    auction_id: str


@dataclass(frozen=True, slots=True)
class ProposeBlockTrade:
    """The seller offers `quantity_kg` to a named buyer at `price_fen` per tonne."""

    seq: int
    ts_us: int
    block_id: str
    seller_account_id: str
    buyer_account_id: str
    symbol: str
    price_fen: int
    quantity_kg: int
    note: str


@dataclass(frozen=True, slots=True)
class DecideBlockTrade:
    """accept | reject by the buyer, withdraw by the seller."""

    seq: int
    ts_us: int
    block_id: str
    account_id: str
    action: str


@dataclass(frozen=True, slots=True)
class ExpireInstrument:
    """The instrument's term has ended: its open auctions and pending block trades are
    cancelled and nothing of it is allocated any more; holdings stay."""

    seq: int
    ts_us: int
    symbol: str


RegistryCommand = (
    ListInstrument
    | OpenAccount
    | Deposit
    | Withdraw
    | ClaimReduction
    | VerifyReduction
    | RegisterProject
    | AllocateToProject
    | SetCityFloor
    | ApplyReallocation
    | DecideReallocation
    | ReleaseReserve
    | OpenAuction
    | PlaceBid
    | WithdrawBid
    | CloseAuction
    | ProposeBlockTrade
    | DecideBlockTrade
    | ExpireInstrument
)
