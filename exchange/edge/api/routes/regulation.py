"""What regulators do with the record: monthly submissions (每月报送) and
acknowledging alerts. Both go through the sequencer like every other change."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from exchange.core import commands
from exchange.core.regulation import AlertStatus, Lateness, SubmissionStatus, due_us
from exchange.core.units import iso_time, tonnes
from exchange.edge.api import responses
from exchange.edge.api.deps import Bureau, Conn, NoNul, Regulator, submit
from exchange.edge.api.errors import ApiError
from exchange.edge.api.lookups import instrument_or_422, outside_bureau_city
from exchange.edge.api.routes.ledger import alert_view, month_bounds_us
from exchange.edge.api.schemas import MAX_ID, AcknowledgeIn, SubmitMonthIn
from exchange.infra.db import models
from settlement.accounts import Role
from settlement.cities import CITIES, CITY_CODES

router = APIRouter(prefix="/api/v1", tags=["regulation"], dependencies=[NoNul])
_subs = models.MonthlySubmission.__table__
_alerts = models.Alert.__table__
_accounts = models.Account.__table__


def version_view(r) -> dict:
    return {
        "version": r.version,
        "submitted_by": r.account_id,
        "submitted_at": iso_time(r.ts_us),
        "seq": r.seq,
        "correction_reason": r.correction_reason,
        "figures": {
            "opening_remaining": tonnes(r.opening_remaining_kg),
            "added": tonnes(r.added_kg),
            "used": tonnes(r.used_kg),
            "transferred_in": tonnes(r.transferred_in_kg),
            "transferred_out": tonnes(r.transferred_out_kg),
            "closing_remaining": tonnes(r.closing_remaining_kg),
            "movements": r.movements,
        },
        "csv_sha256": r.csv_sha256,
    }


@router.post(
    "/ledger/cities/{code}/monthly/{month}/submit",
    status_code=201,
    **responses.doc(responses.Submitted, 201),
)
async def submit_month(
    code: str, month: str, body: SubmitMonthIn, caller: Bureau, request: Request
) -> dict:
    if code not in CITY_CODES or code != caller.city_code:
        raise ApiError("not_found", f"no city {code} in your view")
    month_bounds_us(month)

    def check_symbol():
        with request.app.state.db.connect() as conn:
            instrument_or_422(conn, body.symbol)

    await asyncio.to_thread(check_symbol)
    reply = await submit(
        request,
        commands.SubmitMonthly(
            account_id=caller.account_id,
            city_code=code,
            symbol=body.symbol,
            month=month,
            correction_reason=body.correction_reason,
        ),
    )

    def frozen():
        with request.app.state.db.connect() as conn:
            return conn.execute(
                select(_subs).where(
                    _subs.c.city_code == code,
                    _subs.c.symbol == body.symbol,
                    _subs.c.month == month,
                    _subs.c.version == reply["result"]["version"],
                )
            ).one()

    row = await asyncio.to_thread(frozen)
    return {"city_code": code, "symbol": body.symbol, "month": month, **version_view(row)}


@router.get("/ledger/submissions", **responses.doc(responses.Submissions))
def submissions(
    caller: Regulator,
    conn: Conn,
    request: Request,
    month: str = Query(..., description="YYYY-MM, Asia/Shanghai"),
    symbol: str = "NOX-2025",
) -> dict:
    month_bounds_us(month)
    instrument_or_422(conn, symbol)
    due = due_us(month, request.app.state.settings.report_due_day)
    # A read, not a change: whether an unsubmitted month is overdue yet is a question
    # about now, so the wall clock is the right one here (the core never reads it).
    now_us = time.time_ns() // 1000
    query = select(_subs).where(_subs.c.month == month, _subs.c.symbol == symbol)
    if caller.role == Role.CITY_BUREAU:
        query = query.where(_subs.c.city_code == caller.city_code)
    versions: dict[str, list] = {}
    for r in conn.execute(query.order_by(_subs.c.city_code, _subs.c.version)):
        versions.setdefault(r.city_code, []).append(r)
    items = []
    for city in CITIES:
        if outside_bureau_city(caller, city.code):
            continue
        mine = versions.get(city.code, [])
        if mine:
            on_time = mine[0].ts_us < due
            if on_time:
                status, late = SubmissionStatus.SUBMITTED, None
            else:
                status, late = SubmissionStatus.LATE, Lateness.SUBMITTED_AFTER_DUE
        elif now_us >= due:
            status, late = SubmissionStatus.LATE, Lateness.NOT_SUBMITTED
        else:
            status, late = SubmissionStatus.MISSING, None
        items.append(
            {
                "city_code": city.code,
                "name": city.name_en,
                "name_zh": city.name_zh,
                "status": status,
                "late": late,
                "versions": [version_view(r) for r in mine],
            }
        )
    return {"month": month, "symbol": symbol, "due_at": iso_time(due), "items": items}


@router.post("/surveillance/alerts/{alert_id}/acknowledge", **responses.doc(responses.Alert))
async def acknowledge(
    alert_id: str, body: AcknowledgeIn, caller: Regulator, request: Request
) -> dict:
    if not (alert_id.isascii() and alert_id.isdigit()) or int(alert_id) > MAX_ID:
        raise ApiError("alert_not_found", f"no alert {alert_id}")

    def read():
        with request.app.state.db.connect() as conn:
            return conn.execute(
                select(_alerts, _accounts.c.city_code)
                .outerjoin(_accounts, _accounts.c.id == _alerts.c.account_id)
                .where(_alerts.c.id == int(alert_id))
            ).first()

    row = await asyncio.to_thread(read)
    if row is None or outside_bureau_city(caller, row.city_code):
        raise ApiError("alert_not_found", f"no alert {alert_id} in your view")
    if row.status == AlertStatus.ACKNOWLEDGED:
        raise ApiError("already_acknowledged", f"alert {alert_id} was already acknowledged")
    await submit(
        request,
        commands.AcknowledgeAlert(
            account_id=caller.account_id,
            alert_id=alert_id,
            alert_seq=row.seq,
            alert_ordinal=row.ordinal,
            alert_account_id=row.account_id,
            note=body.note,
        ),
    )
    return alert_view(await asyncio.to_thread(read))
