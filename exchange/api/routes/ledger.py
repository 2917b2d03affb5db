"""The provincial ledger per city, monthly reports, floors, reallocations, the
reserve, and surveillance alerts."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import select

from exchange import commands as k
from exchange.api.deps import Bureau, Conn, NoNul, Province, Regulator, submit
from exchange.api.errors import ApiError
from exchange.api.lookups import instrument_or_422
from exchange.api.schemas import MAX_ID, AsciiInt, DecideIn, FloorIn, ReallocationIn
from exchange.db import models as m
from exchange.units import iso_time, tonnes
from settlement.cities import CITIES, CITIES_BY_CODE, CITY_CODES
from settlement.events import LedgerMoved
from settlement.reports import monthly_city_report, to_csv

router = APIRouter(prefix="/api/v1", tags=["ledger"], dependencies=[NoNul])
_rows = m.LedgerRow.__table__
_mov = m.LedgerMovement.__table__
_floor = m.CityFloor.__table__
_ral = m.Reallocation.__table__
_alerts = m.Alert.__table__
SHANGHAI = timezone(timedelta(hours=8))


def _city_allowed(caller, code: str) -> None:
    if code not in CITY_CODES:
        raise ApiError("not_found", f"no city {code}")
    if caller.role == "city_bureau" and caller.city_code != code:
        raise ApiError("not_found", f"no city {code} in your view")


@router.get("/ledger/cities")
def ledger_cities(caller: Regulator, conn: Conn, symbol: str = "NOX-2025") -> dict:
    instrument_or_422(conn, symbol)
    stored = {r.city_code: r for r in conn.execute(select(_rows).where(_rows.c.symbol == symbol))}
    floors = {
        r.city_code: r.quantity_kg
        for r in conn.execute(select(_floor).where(_floor.c.symbol == symbol))
    }
    items = []
    for city in CITIES:
        if caller.role == "city_bureau" and city.code != caller.city_code:
            continue
        r = stored.get(city.code)
        added, used, t_in, t_out = (
            (r.added_kg, r.used_kg, r.transferred_in_kg, r.transferred_out_kg) if r else (0,) * 4
        )
        items.append(
            {
                "city_code": city.code,
                "name": city.name_en,
                "name_zh": city.name_zh,
                "symbol": symbol,
                "added": tonnes(added),
                "used": tonnes(used),
                "transferred_in": tonnes(t_in),
                "transferred_out": tonnes(t_out),
                "remaining": tonnes(added + t_in - t_out - used),
                "floor": tonnes(floors.get(city.code, 0)),
            }
        )
    return {"items": items}


_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
# The registry has no movements before 2000; years past 2100 reach datetime's limits
# (month 9999-12 ends in year 10000, which was a 500).
YEARS = range(2000, 2101)


def month_bounds_us(month: str) -> tuple[int, int]:
    """[start, end) of a calendar month in Asia/Shanghai, in epoch microseconds."""
    match = _MONTH.fullmatch(month)
    if not match or int(match.group(1)) not in YEARS:
        raise ApiError("invalid_input", "month must be YYYY-MM with a year from 2000 to 2100")
    year, mon = int(match.group(1)), int(match.group(2))
    start = datetime(year, mon, 1, tzinfo=SHANGHAI)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=SHANGHAI)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return (start - epoch) // timedelta(microseconds=1), (end - epoch) // timedelta(microseconds=1)


def _attachment(filename: str) -> str:
    # only the characters a header and every file system take; the parts are validated
    # already, this keeps a future one from smuggling a quote or a line break
    return f'attachment; filename="{re.sub(r"[^A-Za-z0-9._-]", "_", filename)}"'


@router.get("/ledger/cities/{code}/monthly")
def monthly(
    code: str,
    caller: Regulator,
    conn: Conn,
    month: str = Query(..., description="YYYY-MM, Asia/Shanghai"),
    symbol: str = "NOX-2025",
    format: str = Query("json", pattern="^(json|csv)$"),
):
    _city_allowed(caller, code)
    instrument_or_422(conn, symbol)
    start_us, end_us = month_bounds_us(month)
    rows = conn.execute(
        select(_mov)
        .where(_mov.c.city_code == code, _mov.c.symbol == symbol, _mov.c.ts_us < end_us)
        .order_by(_mov.c.seq, _mov.c.id)
    )
    movements = [
        LedgerMoved(
            r.seq,
            r.ts_us,
            r.city_code,
            r.symbol,
            r.kind,
            r.quantity_kg,
            r.ref or "",
            r.counterparty or "",
        )
        for r in rows
    ]
    report = monthly_city_report(movements, code, symbol, start_us, end_us)
    if format == "csv":
        return PlainTextResponse(
            to_csv(report),
            media_type="text/csv",
            headers={
                "Content-Disposition": _attachment(f"ledger-{code}-{symbol}-{month}.csv")
            },
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


@router.put("/ledger/cities/{code}/floor")
async def set_floor(code: str, body: FloorIn, caller: Province, request: Request) -> dict:
    if code not in CITY_CODES:
        raise ApiError("not_found", f"no city {code}")
    with request.app.state.db.connect() as conn:
        instrument_or_422(conn, body.symbol)
    await submit(
        request,
        {
            "kind": k.SET_FLOOR,
            "city_code": code,
            "symbol": body.symbol,
            "quantity_kg": body.quantity,
        },
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


def _reallocation(conn, application_id: str):
    return conn.execute(select(_ral).where(_ral.c.id == application_id)).first()


@router.post("/reallocations", status_code=201)
async def apply_reallocation(body: ReallocationIn, caller: Bureau, request: Request) -> dict:
    with request.app.state.db.connect() as conn:
        instrument_or_422(conn, body.symbol)
        p = m.Project.__table__
        project = conn.execute(select(p).where(p.c.id == body.project_id)).first()
    if project is None or project.city_code != caller.city_code:
        raise ApiError("not_found", f"no project {body.project_id} in your city")
    reply = await submit(
        request,
        {
            "kind": k.APPLY_REALLOCATION,
            "account_id": caller.account_id,
            "project_id": body.project_id,
            "symbol": body.symbol,
            "quantity_kg": body.quantity,
            "reason": body.reason,
            "priority_category": body.priority_category,
        },
    )
    with request.app.state.db.connect() as conn:
        return reallocation_view(_reallocation(conn, reply["result"]["application_id"]))


@router.get("/reallocations")
def list_reallocations(caller: Regulator, conn: Conn, status: str | None = None) -> dict:
    query = select(_ral)
    if caller.role == "city_bureau":
        query = query.where(_ral.c.city_code == caller.city_code)
    if status:
        query = query.where(_ral.c.status == status)
    rows = conn.execute(query.order_by(_ral.c.created_us.desc(), _ral.c.id.desc()).limit(1000))
    return {"items": [reallocation_view(r) for r in rows]}


@router.post("/reallocations/{application_id}/decide")
async def decide_reallocation(
    application_id: str, body: DecideIn, caller: Province, request: Request
) -> dict:
    with request.app.state.db.connect() as conn:
        app_row = _reallocation(conn, application_id)
    if app_row is None:
        raise ApiError("not_found", f"no reallocation application {application_id}")
    if body.decision == "approve":
        for s in body.sources:
            if s.from_ != "reserve" and s.from_ not in CITY_CODES:
                raise ApiError("unknown_city", f"{s.from_!r} is not a city code or 'reserve'")
        if sum(s.quantity for s in body.sources) != app_row.quantity_kg:
            raise ApiError(
                "reallocation_sources_mismatch",
                f"sources must add up to the {tonnes(app_row.quantity_kg)} t applied for",
            )
    await submit(
        request,
        {
            "kind": k.DECIDE_REALLOCATION,
            "account_id": caller.account_id,
            "application_id": application_id,
            "decision": body.decision,
            "sources": [{"from": s.from_, "quantity_kg": s.quantity} for s in body.sources],
            "note": body.note,
        },
    )
    with request.app.state.db.connect() as conn:
        return reallocation_view(_reallocation(conn, application_id))


def alert_view(r) -> dict:
    return {
        "id": str(r.id),
        "kind": r.kind,
        "symbol": r.symbol,
        "account_id": r.account_id,
        "detail": json.loads(r.detail),
        "time": iso_time(r.ts_us),
        "seq": r.seq,
    }


@router.get("/surveillance/alerts")
def alerts(
    caller: Province,
    conn: Conn,
    kind: str | None = None,
    limit: Annotated[AsciiInt, Query(ge=1, le=1000)] = 100,
    cursor: AsciiInt | None = Query(None, ge=1, le=MAX_ID),
) -> dict:
    query = select(_alerts)
    if kind:
        query = query.where(_alerts.c.kind == kind)
    if cursor:
        query = query.where(_alerts.c.id < cursor)
    rows = conn.execute(query.order_by(_alerts.c.id.desc()).limit(limit)).all()
    return {
        "items": [alert_view(r) for r in rows],
        "next_cursor": str(rows[-1].id) if len(rows) == limit else None,
    }
