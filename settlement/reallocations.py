"""A city bureau's written application for quota (書面申請) and the province's decision."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from settlement.accounts import RESERVE_ACCOUNT, RESERVE_SOURCE, Role
from settlement.cities import pool_account_id
from settlement.commands import ApplyReallocation, DecideReallocation
from settlement.errors import ErrorCode, SettlementError
from settlement.events import ReallocationApplied, ReallocationDecided
from settlement.projects import PRIORITY_CATEGORIES
from settlement.validation import require_new_id, require_note, require_positive, require_role

if TYPE_CHECKING:
    from settlement.registry import Registry


class ApplicationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(slots=True)
class Application:
    application_id: str
    bureau_account_id: str
    city_code: str
    project_id: str
    symbol: str
    quantity_kg: int
    reason: str
    priority_category: str
    applied_seq: int
    applied_ts_us: int
    status: str = ApplicationStatus.PENDING
    decider_account_id: str = ""
    sources: tuple[tuple[str, int], ...] = ()
    note: str = ""
    decided_seq: int = 0
    decided_ts_us: int = 0


def apply(reg: Registry, cmd: ApplyReallocation) -> list:
    require_new_id(cmd.application_id, reg._applications, "application")
    bureau = reg.require_account(cmd.bureau_account_id)
    require_role(bureau, (Role.CITY_BUREAU,), "apply for a reallocation")
    project = reg.project(cmd.project_id)
    if project.city_code != bureau.city_code:
        raise SettlementError(
            ErrorCode.NOT_YOUR_CITY,
            f"{bureau.account_id} is {bureau.city_code}'s bureau; "
            f"{project.project_id} is in {project.city_code}",
        )
    reg.require_listing(cmd.symbol)
    if cmd.symbol != project.symbol:
        raise SettlementError(
            ErrorCode.SYMBOL_MISMATCH,
            f"{project.project_id} needs {project.symbol}, not {cmd.symbol}",
        )
    kg = require_positive(cmd.quantity_kg, "quantity_kg")
    if kg > project.outstanding_kg:
        raise SettlementError(
            ErrorCode.EXCEEDS_PROJECT_REQUIREMENT,
            f"{project.project_id} still requires {project.outstanding_kg} kg, not {kg}",
        )
    if cmd.priority_category not in PRIORITY_CATEGORIES:
        raise SettlementError(
            ErrorCode.INVALID_PRIORITY_CATEGORY,
            f"unknown priority category {cmd.priority_category!r}",
        )
    reg._applications[cmd.application_id] = Application(
        cmd.application_id,
        bureau.account_id,
        bureau.city_code,
        project.project_id,
        cmd.symbol,
        kg,
        cmd.reason,
        cmd.priority_category,
        cmd.seq,
        cmd.ts_us,
    )
    return [
        ReallocationApplied(
            cmd.seq,
            cmd.ts_us,
            cmd.application_id,
            bureau.account_id,
            bureau.city_code,
            project.project_id,
            cmd.symbol,
            kg,
            cmd.reason,
            cmd.priority_category,
        )
    ]


def decide(reg: Registry, cmd: DecideReallocation) -> list:
    app = reg.application(cmd.application_id)
    decider = reg.require_account(cmd.decider_account_id)
    require_role(decider, (Role.PROVINCE,), "decide reallocations")
    if app.status != ApplicationStatus.PENDING:
        raise SettlementError(
            ErrorCode.ALREADY_DECIDED, f"application {app.application_id} is {app.status}"
        )
    if not cmd.approve:
        require_note(cmd.note, "a rejection")
        _decided(app, cmd, ApplicationStatus.REJECTED, ())
        return [
            ReallocationDecided(
                cmd.seq, cmd.ts_us, app.application_id, decider.account_id, False, (), cmd.note
            )
        ]

    sources = _validated_sources(reg, app, cmd.sources)
    symbol, target = app.symbol, pool_account_id(app.city_code)
    reference = f"reallocation:{app.application_id}"
    out: list = [
        ReallocationDecided(
            cmd.seq, cmd.ts_us, app.application_id, decider.account_id, True, sources, cmd.note
        )
    ]
    for source, kg in sources:
        from_id = RESERVE_ACCOUNT if source == RESERVE_SOURCE else pool_account_id(source)
        portions = reg._holdings.peek(from_id, symbol).available.select_oldest(kg)
        out += reg._transfer(
            cmd.seq,
            cmd.ts_us,
            symbol,
            portions,
            from_id,
            target,
            "transfer_out",
            "transfer_in",
            reference,
        )
    _decided(app, cmd, ApplicationStatus.APPROVED, sources)
    return out


def _validated_sources(reg: Registry, app: Application, raw: object) -> tuple[tuple[str, int], ...]:
    """Sources merged per city (in first-named order), each checked against its floor
    and its pool; refuses the lot unless they add up to exactly what was applied for."""
    try:
        pairs = [(s, q) for s, q in raw]  # type: ignore[union-attr]
    except (TypeError, ValueError) as err:
        raise SettlementError(
            ErrorCode.INVALID_SOURCE, "sources must be (city or reserve, kg) pairs"
        ) from err
    merged: dict[str, int] = {}
    for source, kg in pairs:
        if source != RESERVE_SOURCE:
            reg.require_city(source)
        if source == app.city_code:
            raise SettlementError(ErrorCode.INVALID_SOURCE, f"{source} cannot give quota to itself")
        require_positive(kg, "source quantity_kg")
        merged[source] = merged.get(source, 0) + kg
    total = sum(merged.values())
    if total != app.quantity_kg:
        raise SettlementError(
            ErrorCode.REALLOCATION_SOURCES_MISMATCH,
            f"sources add up to {total} kg, the application is for {app.quantity_kg} kg",
        )
    for source, kg in merged.items():
        if source == RESERVE_SOURCE:
            have = reg._holdings.peek(RESERVE_ACCOUNT, app.symbol).available.total()
        else:
            remaining = reg._ledger.remaining(source, app.symbol)
            floor = reg._ledger.floor(source, app.symbol)
            if remaining - kg < floor:
                raise SettlementError(
                    ErrorCode.BELOW_CITY_FLOOR,
                    f"{source} keeps {remaining} kg with a floor of {floor}; cannot give {kg}",
                )
            have = reg._holdings.peek(pool_account_id(source), app.symbol).available.total()
        if kg > have:
            raise SettlementError(
                ErrorCode.INSUFFICIENT_ALLOWANCES,
                f"{source} has {have} kg of {app.symbol} available in its pool, not {kg}",
            )
    return tuple(merged.items())


def _decided(
    app: Application, cmd: DecideReallocation, status: str, sources: tuple[tuple[str, int], ...]
) -> None:
    app.status = status
    app.decider_account_id = cmd.decider_account_id
    app.sources = sources
    app.note = cmd.note
    app.decided_seq, app.decided_ts_us = cmd.seq, cmd.ts_us
