"""The provincial ledger per city, monthly reports, floors, reallocations, the
reserve, and surveillance alerts."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from exchange.core import commands, regulation
from exchange.core.tables import Column, local_time
from exchange.core.units import iso_time, tonnes
from exchange.edge.api import responses
from exchange.edge.api.deps import Bureau, Conn, NoNul, Province, Regulator, read, submit
from exchange.edge.api.errors import ApiError
from exchange.edge.api.lookups import (
    instrument_or_422,
    outside_bureau_city,
    row_by_id,
    submit_and_view,
    view_of,
)
from exchange.edge.api.schemas import MAX_ID, AsciiInt, DecideIn, FloorIn, ReallocationIn
from exchange.edge.api.vocabulary import ALERT_STATUS
from exchange.edge.exports import (
    Format,
    From,
    To,
    download,
    export_rows,
    period_label,
    period_us,
    readable_detail,
    within_period,
)
from exchange.infra.db import models
from exchange.infra.monthly import COLUMNS as MONTHLY_COLUMNS
from exchange.infra.monthly import load_report, monthly_table
from settlement import ledger
from settlement.accounts import RESERVE_SOURCE, Role
from settlement.cities import CITIES, CITIES_BY_CODE, CITY_CODES

router = APIRouter(prefix="/api/v1", tags=["ledger"], dependencies=[NoNul])
_rows = models.LedgerRow.__table__
_mov = models.LedgerMovement.__table__
_floor = models.CityFloor.__table__
_ral = models.Reallocation.__table__
_alerts = models.Alert.__table__
_accounts = models.Account.__table__


def _city_allowed(caller, code: str) -> None:
    if code not in CITY_CODES:
        raise ApiError("not_found", f"no city {code}")
    if outside_bureau_city(caller, code):
        raise ApiError("not_found", f"no city {code} in your view")


_LEDGER_COLUMNS = [
    Column("城市代码", "city_code"),
    Column("城市", "city"),
    Column("品种", "symbol"),
    Column("期初结余(吨)", "opening_remaining_t", "tonnes"),
    Column("新增(吨)", "added_t", "tonnes"),
    Column("使用(吨)", "used_t", "tonnes"),
    Column("调入(吨)", "transferred_in_t", "tonnes"),
    Column("调出(吨)", "transferred_out_t", "tonnes"),
    Column("结余(吨)", "remaining_t", "tonnes"),
    Column("底线(吨)", "floor_t", "tonnes"),
]
_KIND_INDEX = {kind: i for i, kind in enumerate(ledger.KINDS)}


def _period_totals(conn, symbol: str, start_us: int | None, end_us: int | None) -> dict:
    """city -> ([added, used, in, out] within the period, remaining before it)."""
    query = select(_mov.c.city_code, _mov.c.kind, _mov.c.ts_us, _mov.c.quantity_kg).where(
        _mov.c.symbol == symbol
    )
    if end_us is not None:
        query = query.where(_mov.c.ts_us < end_us)
    totals: dict[str, tuple[list[int], list[int]]] = {}
    for r in conn.execute(query):
        within, before = totals.setdefault(r.city_code, ([0] * 4, [0]))
        if start_us is not None and r.ts_us < start_us:
            before[0] += ledger.SIGN[r.kind] * r.quantity_kg
        else:
            within[_KIND_INDEX[r.kind]] += r.quantity_kg
    return {city: (within, before[0]) for city, (within, before) in totals.items()}


@router.get("/ledger/cities", **responses.doc(responses.CityLedgers, download=True))
def ledger_cities(
    caller: Regulator,
    conn: Conn,
    symbol: str = "NOX-2025",
    from_: From = None,
    to: To = None,
    format: Format = "json",
):
    """Each city's totals; with from/to, the movements of that period and the
    remaining before (opening) and after it."""
    instrument_or_422(conn, symbol)
    start_us, end_us = period_us(from_, to)
    period = from_ is not None or to is not None
    if period:
        sums = _period_totals(conn, symbol, start_us, end_us)
    else:
        sums = {
            r.city_code: ([r.added_kg, r.used_kg, r.transferred_in_kg, r.transferred_out_kg], 0)
            for r in conn.execute(select(_rows).where(_rows.c.symbol == symbol))
        }
    floors = {
        r.city_code: r.quantity_kg
        for r in conn.execute(select(_floor).where(_floor.c.symbol == symbol))
    }
    items, table = [], []
    for city in CITIES:
        if outside_bureau_city(caller, city.code):
            continue
        (added, used, t_in, t_out), opening = sums.get(city.code, ([0] * 4, 0))
        remaining = opening + added + t_in - t_out - used
        item = {
            "city_code": city.code,
            "name": city.name_en,
            "name_zh": city.name_zh,
            "symbol": symbol,
            "added": tonnes(added),
            "used": tonnes(used),
            "transferred_in": tonnes(t_in),
            "transferred_out": tonnes(t_out),
            "remaining": tonnes(remaining),
            "floor": tonnes(floors.get(city.code, 0)),
        }
        if period:
            item["opening_remaining"] = tonnes(opening)
        items.append(item)
        table.append(
            [
                city.code,
                city.name_zh,
                symbol,
                tonnes(opening),
                item["added"],
                item["used"],
                item["transferred_in"],
                item["transferred_out"],
                item["remaining"],
                item["floor"],
            ]
        )
    if format != "json":
        stem = f"ledger-cities-{symbol}_{period_label(from_, to)}"
        return download(format, stem, _LEDGER_COLUMNS, table)
    return {"items": items}


def month_bounds_us(month: str) -> tuple[int, int]:
    """[start, end) of a calendar month in Asia/Shanghai, in epoch microseconds."""
    try:
        return regulation.month_bounds_us(month)
    except regulation.BadMonth as bad:
        raise ApiError("invalid_input", str(bad)) from None


@router.get(
    "/ledger/cities/{code}/monthly", **responses.doc(responses.MonthlyReport, download=True)
)
def monthly(
    code: str,
    caller: Regulator,
    conn: Conn,
    month: str = Query(..., description="YYYY-MM, Asia/Shanghai"),
    symbol: str = "NOX-2025",
    format: Format = "json",
):
    _city_allowed(caller, code)
    instrument_or_422(conn, symbol)
    month_bounds_us(month)
    report = load_report(conn, code, symbol, month)
    if format != "json":
        return download(
            format, f"ledger-{code}-{symbol}-{month}", MONTHLY_COLUMNS, monthly_table(report)
        )
    city = CITIES_BY_CODE[code]
    return {
        "city_code": code,
        "name": city.name_en,
        "name_zh": city.name_zh,
        "symbol": symbol,
        "month": month,
        "opening_remaining": tonnes(report.opening_remaining_kg),
        "added": tonnes(report.added_kg),
        "used": tonnes(report.used_kg),
        "transferred_in": tonnes(report.transferred_in_kg),
        "transferred_out": tonnes(report.transferred_out_kg),
        "closing_remaining": tonnes(report.closing_remaining_kg),
        "movements": [
            {
                "seq": mv.seq,
                "time": iso_time(mv.ts_us),
                "kind": mv.kind,
                "quantity": tonnes(mv.quantity_kg),
                "reference": mv.reference,
                "counterparty": mv.counterparty or None,
            }
            for mv in report.movements
        ],
    }


@router.put("/ledger/cities/{code}/floor", **responses.doc(responses.Floor))
async def set_floor(code: str, body: FloorIn, caller: Province, request: Request) -> dict:
    if code not in CITY_CODES:
        raise ApiError("not_found", f"no city {code}")
    await read(request, instrument_or_422, body.symbol)
    await submit(
        request,
        commands.SetFloor(
            city_code=code,
            symbol=body.symbol,
            quantity_kg=body.quantity,
        ),
    )
    return {"city_code": code, "symbol": body.symbol, "quantity": tonnes(body.quantity)}


def reallocation_view(r) -> dict:
    sources = json.loads(r.sources) if r.sources else []
    return {
        "id": r.id,
        "bureau_account_id": r.bureau_account_id,
        "city_code": r.city_code,
        "project_id": r.project_id,
        "symbol": r.symbol,
        "quantity": tonnes(r.quantity_kg),
        "reason": r.reason,
        "priority_category": r.priority_category,
        "status": r.status,
        "sources": [{"from": s["from"], "quantity": tonnes(s["quantity_kg"])} for s in sources],
        "note": r.note,
        "decided_by": r.decided_by,
        "created_at": iso_time(r.created_us),
        "decided_at": iso_time(r.decided_us),
    }


@router.post("/reallocations", status_code=201, **responses.doc(responses.Reallocation, 201))
async def apply_reallocation(body: ReallocationIn, caller: Bureau, request: Request) -> dict:

    def check(conn):
        instrument_or_422(conn, body.symbol)
        p = models.Project.__table__
        return conn.execute(select(p).where(p.c.id == body.project_id)).first()

    project = await read(request, check)
    if project is None or project.city_code != caller.city_code:
        raise ApiError("not_found", f"no project {body.project_id} in your city")
    command = commands.ApplyReallocation(
        account_id=caller.account_id,
        project_id=body.project_id,
        symbol=body.symbol,
        quantity_kg=body.quantity,
        reason=body.reason,
        priority_category=body.priority_category,
    )
    return await submit_and_view(request, command, "application_id", _ral, reallocation_view)


@router.get("/reallocations", **responses.doc(responses.Reallocations))
def list_reallocations(caller: Regulator, conn: Conn, status: str | None = None) -> dict:
    query = select(_ral)
    if caller.role == Role.CITY_BUREAU:
        query = query.where(_ral.c.city_code == caller.city_code)
    if status:
        query = query.where(_ral.c.status == status)
    rows = conn.execute(query.order_by(_ral.c.created_us.desc(), _ral.c.id.desc()).limit(1000))
    return {"items": [reallocation_view(r) for r in rows]}


@router.post("/reallocations/{application_id}/decide", **responses.doc(responses.Reallocation))
async def decide_reallocation(
    application_id: str, body: DecideIn, caller: Province, request: Request
) -> dict:
    app_row = await read(request, row_by_id, _ral, application_id)
    if app_row is None:
        raise ApiError("not_found", f"no reallocation application {application_id}")
    if body.decision == "approve":
        for s in body.sources:
            if s.from_ != RESERVE_SOURCE and s.from_ not in CITY_CODES:
                raise ApiError(
                    "unknown_city", f"{s.from_!r} is not a city code or {RESERVE_SOURCE!r}"
                )
        if sum(s.quantity for s in body.sources) != app_row.quantity_kg:
            raise ApiError(
                "reallocation_sources_mismatch",
                f"sources must add up to the {tonnes(app_row.quantity_kg)} t applied for",
            )
    await submit(
        request,
        commands.DecideReallocation(
            account_id=caller.account_id,
            application_id=application_id,
            decision=body.decision,
            sources=tuple((s.from_, s.quantity) for s in body.sources),
            note=body.note,
        ),
    )
    return await view_of(request, _ral, application_id, reallocation_view)


def alert_view(r) -> dict:
    return {
        "id": str(r.id),
        "kind": r.kind,
        "symbol": r.symbol,
        "account_id": r.account_id,
        "city_code": r.city_code,
        "detail": json.loads(r.detail),
        "time": iso_time(r.ts_us),
        "seq": r.seq,
        "ordinal": r.ordinal,
        "status": r.status,
        "acknowledged_by": r.acknowledged_by,
        "acknowledged_at": iso_time(r.acknowledged_us),
        "note": r.ack_note,
    }


_ALERT_COLUMNS = [
    Column("编号", "id", "int"),
    Column("时间", "time"),
    Column("类型", "kind"),
    Column("品种", "symbol"),
    Column("账户", "account_id"),
    Column("城市代码", "city_code"),
    Column("详情", "detail"),
    Column("状态", "status"),
    Column("处理人", "acknowledged_by"),
    Column("处理时间", "acknowledged_at"),
    Column("处理意见", "note"),
]


@router.get("/surveillance/alerts", **responses.doc(responses.Alerts, download=True))
def alerts(
    caller: Regulator,
    conn: Conn,
    kind: str | None = None,
    status: ALERT_STATUS | None = None,
    from_: From = None,
    to: To = None,
    limit: Annotated[AsciiInt, Query(ge=1, le=1000)] = 100,
    cursor: AsciiInt | None = Query(None, ge=1, le=MAX_ID),
    format: Format = "json",
):
    query = select(_alerts, _accounts.c.city_code).outerjoin(
        _accounts, _accounts.c.id == _alerts.c.account_id
    )
    query = within_period(query, _alerts.c.ts_us, from_, to)
    if caller.role == Role.CITY_BUREAU:
        query = query.where(_accounts.c.city_code == caller.city_code)
    if kind:
        query = query.where(_alerts.c.kind == kind)
    if status:
        query = query.where(_alerts.c.status == status)
    if format != "json":
        rows = export_rows(conn, query, _alerts.c.id)
        table = [
            [
                r.id,
                local_time(r.ts_us),
                r.kind,
                r.symbol,
                r.account_id,
                r.city_code,
                readable_detail(json.loads(r.detail)),
                r.status,
                r.acknowledged_by,
                local_time(r.acknowledged_us),
                r.ack_note,
            ]
            for r in rows
        ]
        return download(format, f"alerts_{period_label(from_, to)}", _ALERT_COLUMNS, table)
    if cursor:
        query = query.where(_alerts.c.id < cursor)
    rows = conn.execute(query.order_by(_alerts.c.id.desc()).limit(limit)).all()
    return {
        "items": [alert_view(r) for r in rows],
        "next_cursor": str(rows[-1].id) if len(rows) == limit else None,
    }
