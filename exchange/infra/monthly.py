"""A city's monthly report read from the ledger movements, and its table for export.

Used both to show a month and, inside the commit of a submission, to freeze the
version's figures and the SHA-256 of this very CSV: so a bureau can download the
month later and check it against the hash it submitted.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, select

from exchange.core.regulation import month_bounds_us
from exchange.core.tables import Column, csv_bytes, local_time
from exchange.core.units import tonnes
from exchange.infra.db import models
from settlement.events import LedgerMoved
from settlement.ledger import ADDED, SIGN, TRANSFERRED_IN, TRANSFERRED_OUT, USED
from settlement.reports import MonthlyReport, monthly_city_report

_mov = models.LedgerMovement.__table__

COLUMNS = [
    Column("行", "row"),
    Column("城市代码", "city_code"),
    Column("品种", "symbol"),
    Column("序号", "seq", "int"),
    Column("时间", "time"),
    Column("类别", "kind"),
    Column("数量(吨)", "quantity_t", "tonnes"),
    Column("凭证", "reference"),
    Column("对方", "counterparty"),
    Column("结余(吨)", "remaining_t", "tonnes"),
]


def load_report(conn: Connection, city_code: str, symbol: str, month: str) -> MonthlyReport:
    start_us, end_us = month_bounds_us(month)
    rows = conn.execute(
        select(_mov)
        .where(_mov.c.city_code == city_code, _mov.c.symbol == symbol, _mov.c.ts_us < end_us)
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
    return monthly_city_report(movements, city_code, symbol, start_us, end_us)


def monthly_table(report: MonthlyReport) -> list[list]:
    """The opening, each movement with the remaining after it, the month's totals per
    kind, and the closing."""
    city, sym = report.city_code, report.symbol
    rows: list[list] = [
        [
            "opening",
            city,
            sym,
            None,
            local_time(report.start_us),
            None,
            None,
            None,
            None,
            tonnes(report.opening_remaining_kg),
        ]
    ]
    remaining = report.opening_remaining_kg
    for mv in report.movements:
        remaining += SIGN[mv.kind] * mv.quantity_kg
        rows.append(
            [
                "movement",
                city,
                sym,
                mv.seq,
                local_time(mv.ts_us),
                mv.kind,
                tonnes(mv.quantity_kg),
                mv.reference,
                mv.counterparty or None,
                tonnes(remaining),
            ]
        )
    for kind, kg in (
        (ADDED, report.added_kg),
        (USED, report.used_kg),
        (TRANSFERRED_IN, report.transferred_in_kg),
        (TRANSFERRED_OUT, report.transferred_out_kg),
    ):
        rows.append(["total", city, sym, None, None, kind, tonnes(kg), None, None, None])
    rows.append(
        [
            "closing",
            city,
            sym,
            None,
            local_time(report.end_us),
            None,
            None,
            None,
            None,
            tonnes(report.closing_remaining_kg),
        ]
    )
    return rows


def report_csv(report: MonthlyReport) -> bytes:
    return csv_bytes(COLUMNS, monthly_table(report))


def figures(report: MonthlyReport) -> dict:
    """What a submitted version freezes, besides who and when."""
    return {
        "opening_remaining_kg": report.opening_remaining_kg,
        "added_kg": report.added_kg,
        "used_kg": report.used_kg,
        "transferred_in_kg": report.transferred_in_kg,
        "transferred_out_kg": report.transferred_out_kg,
        "closing_remaining_kg": report.closing_remaining_kg,
        "movements": len(report.movements),
        "csv_sha256": hashlib.sha256(report_csv(report)).hexdigest(),
    }
