"""Claims of verified emission reductions (減排核定) and their verification, which
issues lots: the only way allowances come into existence."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from settlement.accounts import Role
from settlement.cities import pool_account_id
from settlement.commands import ClaimReduction, VerifyReduction
from settlement.errors import ErrorCode, SettlementError
from settlement.events import LotIssued, ReductionClaimed, ReductionVerified
from settlement.ledger import ADDED
from settlement.limits import BALANCE_LIMIT
from settlement.lots import Lot
from settlement.validation import require_new_id, require_note, require_positive

if TYPE_CHECKING:
    from settlement.registry import Registry


class SourceKind(StrEnum):
    """Where a claimed reduction comes from (減排來源)."""

    STRUCTURE_UPGRADE = "structure_upgrade"
    DEEP_TREATMENT = "deep_treatment"
    COAL_BOILER_PHASEOUT = "coal_boiler_phaseout"
    CLEAN_ENERGY_SUBSTITUTION = "clean_energy_substitution"
    SELF_INITIATED = "self_initiated"
    EIA_APPROVED_UNBUILT = "eia_approved_unbuilt"
    OTHER_LAWFUL = "other_lawful"


class VerificationMethod(StrEnum):
    """How a bureau verified a claim (核定方式)."""

    ONLINE_MONITORING = "online_monitoring"
    ON_SITE_INSPECTION = "on_site_inspection"
    PERIODIC_CHECK = "periodic_check"
    ENFORCEMENT_INSPECTION = "enforcement_inspection"


class ClaimStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


# Membership by value: `"x" in SourceKind` raises TypeError before Python 3.12.
_SOURCE_KINDS = frozenset(SourceKind)
_METHODS = frozenset(VerificationMethod)


@dataclass(slots=True)
class Claim:
    claim_id: str
    claimant_account_id: str
    holder_account_id: str
    """Where an approval issues the lot: the enterprise itself, or the city's pool."""
    city_code: str
    symbol: str
    quantity_kg: int
    source_kind: str
    description: str
    evidence: str
    claimed_seq: int
    claimed_ts_us: int
    status: str = ClaimStatus.PENDING
    verifier_account_id: str = ""
    approved_kg: int = 0
    method: str = ""
    note: str = ""
    lot_id: str = ""
    decided_seq: int = 0
    decided_ts_us: int = 0


def claim(reg: Registry, cmd: ClaimReduction) -> list:
    require_new_id(cmd.claim_id, reg._claims, "claim")
    claimant = reg.require_account(cmd.claimant_account_id)
    if claimant.role == Role.ENTERPRISE:
        holder = claimant.account_id
    elif claimant.role == Role.CITY_BUREAU:
        holder = pool_account_id(claimant.city_code)
    else:
        raise SettlementError(
            ErrorCode.NOT_ALLOWED,
            f"{claimant.account_id} ({claimant.role}) may not claim reductions",
        )
    reg.require_listing(cmd.symbol)
    require_positive(cmd.quantity_kg, "quantity_kg")
    if cmd.source_kind not in _SOURCE_KINDS:
        raise SettlementError(
            ErrorCode.INVALID_SOURCE_KIND, f"unknown source kind {cmd.source_kind!r}"
        )
    reg._claims[cmd.claim_id] = Claim(
        cmd.claim_id,
        claimant.account_id,
        holder,
        claimant.city_code,
        cmd.symbol,
        cmd.quantity_kg,
        cmd.source_kind,
        cmd.description,
        cmd.evidence,
        cmd.seq,
        cmd.ts_us,
    )
    return [
        ReductionClaimed(
            cmd.seq,
            cmd.ts_us,
            cmd.claim_id,
            claimant.account_id,
            holder,
            claimant.city_code,
            cmd.symbol,
            cmd.quantity_kg,
            cmd.source_kind,
            cmd.description,
            cmd.evidence,
        )
    ]


def verify(reg: Registry, cmd: VerifyReduction) -> list:
    cl = reg.claim(cmd.claim_id)
    verifier = reg.require_account(cmd.verifier_account_id)
    _check_verifier(cl, verifier)
    if cl.status != ClaimStatus.PENDING:
        raise SettlementError(ErrorCode.ALREADY_VERIFIED, f"claim {cl.claim_id} is {cl.status}")
    if cmd.approve:
        _check_approval(reg, cl, cmd)
    else:
        require_note(cmd.note, "a rejection")
        if cmd.method and cmd.method not in _METHODS:
            raise SettlementError(
                ErrorCode.INVALID_METHOD, f"unknown verification method {cmd.method!r}"
            )

    cl.verifier_account_id = verifier.account_id
    cl.method = cmd.method
    cl.note = cmd.note
    cl.decided_seq, cl.decided_ts_us = cmd.seq, cmd.ts_us
    if not cmd.approve:
        cl.status = ClaimStatus.REJECTED
        return [
            ReductionVerified(
                cmd.seq,
                cmd.ts_us,
                cl.claim_id,
                verifier.account_id,
                False,
                0,
                cmd.method,
                cmd.note,
                "",
            )
        ]
    return _issue(reg, cl, verifier, cmd)


def _check_verifier(cl: Claim, verifier) -> None:
    if verifier.role == Role.CITY_BUREAU:
        if verifier.city_code != cl.city_code:
            raise SettlementError(
                ErrorCode.NOT_YOUR_CITY,
                f"{verifier.account_id} is {verifier.city_code}'s bureau; "
                f"claim {cl.claim_id} is in {cl.city_code}",
            )
    elif verifier.role != Role.PROVINCE:
        raise SettlementError(
            ErrorCode.NOT_ALLOWED,
            f"{verifier.account_id} ({verifier.role}) may not verify reductions",
        )


def _check_approval(reg: Registry, cl: Claim, cmd: VerifyReduction) -> None:
    if cmd.method not in _METHODS:
        raise SettlementError(
            ErrorCode.INVALID_METHOD, f"unknown verification method {cmd.method!r}"
        )
    require_positive(cmd.approved_kg, "approved_kg")
    if cmd.approved_kg > cl.quantity_kg:
        raise SettlementError(
            ErrorCode.APPROVED_EXCEEDS_CLAIM,
            f"approved {cmd.approved_kg} kg of a {cl.quantity_kg} kg claim",
        )
    require_new_id(cmd.lot_id, reg._lots, "lot")
    issued = reg._issued_kg.get(cl.symbol, 0)
    if issued + cmd.approved_kg > BALANCE_LIMIT:
        raise SettlementError(
            ErrorCode.BALANCE_LIMIT,
            f"{issued} kg of {cl.symbol} are issued; {cmd.approved_kg} kg more would pass "
            f"the limit of {BALANCE_LIMIT} kg any holding can reach",
        )


def _issue(reg: Registry, cl: Claim, verifier, cmd: VerifyReduction) -> list:
    cl.status = ClaimStatus.APPROVED
    cl.approved_kg = cmd.approved_kg
    cl.lot_id = cmd.lot_id
    listing = reg.require_listing(cl.symbol)
    lot = Lot(
        lot_id=cmd.lot_id,
        ordinal=len(reg._lots) + 1,
        symbol=cl.symbol,
        pollutant=listing.pollutant,
        vintage=listing.vintage,
        quantity_kg=cmd.approved_kg,
        claim_id=cl.claim_id,
        source_kind=cl.source_kind,
        city_code=cl.city_code,
        origin_account_id=cl.holder_account_id,
        claimant_account_id=cl.claimant_account_id,
        verifier_account_id=verifier.account_id,
        method=cmd.method,
        issued_seq=cmd.seq,
        issued_ts_us=cmd.ts_us,
    )
    reg._lots[lot.lot_id] = lot
    reg._issued_kg[lot.symbol] = reg._issued_kg.get(lot.symbol, 0) + lot.quantity_kg
    reference = f"claim:{cl.claim_id}"
    portion = (lot.ordinal, lot.lot_id, lot.quantity_kg)
    return [
        ReductionVerified(
            cmd.seq,
            cmd.ts_us,
            cl.claim_id,
            verifier.account_id,
            True,
            cmd.approved_kg,
            cmd.method,
            cmd.note,
            cmd.lot_id,
        ),
        LotIssued(
            cmd.seq,
            cmd.ts_us,
            lot.lot_id,
            lot.symbol,
            lot.pollutant,
            lot.vintage,
            lot.quantity_kg,
            lot.claim_id,
            lot.source_kind,
            lot.city_code,
            lot.origin_account_id,
            lot.claimant_account_id,
            lot.verifier_account_id,
            lot.method,
        ),
        reg._holdings.post(
            cmd.seq,
            cmd.ts_us,
            cl.holder_account_id,
            lot.symbol,
            portion,
            "issue",
            lot.quantity_kg,
            0,
            0,
            reference,
        ),
        reg._ledger.record(
            cmd.seq, cmd.ts_us, lot.city_code, lot.symbol, ADDED, lot.quantity_kg, reference
        ),
    ]
