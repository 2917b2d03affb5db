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
)
