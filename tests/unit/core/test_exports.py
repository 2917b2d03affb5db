"""Exports: CSV with a byte-order mark and bilingual headers, decimals in tonnes and
CNY, times in Asia/Shanghai; the monthly report's table; .xlsx with real numbers."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from exchange.core.regulation import month_bounds_us
from exchange.core.tables import Column, csv_bytes, local_time, xlsx_bytes
from exchange.edge.api.errors import ApiError
from exchange.edge.exports import period_us, readable_detail
from exchange.infra.monthly import COLUMNS, figures, monthly_table, report_csv
from settlement.events import LedgerMoved
from settlement.reports import monthly_city_report

GZ, SZ, SYMBOL = "440100", "440300", "NOX-2025"


def parse(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_times_are_shown_in_shanghai_with_their_offset():
    start, _ = month_bounds_us("2026-01")
    assert local_time(start) == "2026-01-01T00:00:00.000000+08:00"
    assert datetime.fromisoformat(local_time(start + 1)).utcoffset().total_seconds() == 8 * 3600


def test_a_period_runs_from_the_start_of_from_to_the_end_of_to_in_shanghai():
    start, end = period_us("2026-01-01", "2026-01-31")
    assert (start, end) == month_bounds_us("2026-01")
    assert period_us(None, None) == (None, None)


@pytest.mark.parametrize(
    "bad",
    [
        ("2026-02-30", None),
        ("２０２６-01-01", None),
        ("2026-1-1", None),
        ("0999-01-01", None),
        ("2026-02-02", "2026-02-01"),
    ],
)
def test_bad_periods_are_invalid_input(bad):
    with pytest.raises(ApiError) as refused:
        period_us(*bad)
    assert refused.value.code == "invalid_input" and refused.value.status == 422


def test_csv_has_a_bom_a_bilingual_header_and_empty_cells_for_none():
    body = csv_bytes(
        [Column("成交时间", "time"), Column("数量(吨)", "quantity_t", "tonnes")],
        [["2026-01-01T08:00:00.000000+08:00", "1.500"], [None, "0.000"]],
    )
    assert parse(body) == [
        ["成交时间 time", "数量(吨) quantity_t"],
        ["2026-01-01T08:00:00.000000+08:00", "1.500"],
        ["", "0.000"],
    ]


def test_xlsx_has_the_header_and_numbers_for_tonnes_and_cny():
    columns = [
        Column("品种", "symbol"),
        Column("数量(吨)", "q", "tonnes"),
        Column("价", "p", "cny"),
    ]
    book = load_workbook(
        io.BytesIO(xlsx_bytes("trades", columns, [["NOX-2025", "1.500", "3200.05"]]))
    )
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0] == ("品种 symbol", "数量(吨) q", "价 p")
    assert rows[1][0] == "NOX-2025"
    assert Decimal(str(rows[1][1])) == Decimal("1.5") and Decimal(str(rows[1][2])) == Decimal(
        "3200.05"
    )


def test_alert_details_show_cny_and_tonnes_not_fen_and_kg():
    text = readable_detail({"price_fen": 350_000, "account_volume_kg": 1_500, "cancels": 3})
    assert text == "account_volume=1.500; cancels=3; price=3500.00"


def test_the_monthly_csv_runs_the_remaining_in_tonnes_with_shanghai_times():
    start, end = month_bounds_us("2026-01")
    moves = [
        LedgerMoved(1, start - 1, GZ, SYMBOL, "added", 5_000, "LOT-1", ""),
        LedgerMoved(2, start, GZ, SYMBOL, "transferred_out", 1_500, "NOX-2025-1", SZ),
        LedgerMoved(3, start + 5, GZ, SYMBOL, "used", 400, "PRJ-3", ""),
        LedgerMoved(4, end, GZ, SYMBOL, "added", 300, "LOT-4", ""),
    ]
    report = monthly_city_report(moves, GZ, SYMBOL, start, end)
    body = report_csv(report)
    rows = parse(body)
    assert rows[0] == [c.header for c in COLUMNS]
    header = [c.en for c in COLUMNS]
    col = {name: header.index(name) for name in header}
    opening, first, second, *totals, closing = rows[1:]
    assert opening[col["row"]] == "opening" and opening[col["remaining_t"]] == "5.000"
    assert opening[col["time"]] == "2026-01-01T00:00:00.000000+08:00"
    assert first[col["kind"]] == "transferred_out" and first[col["quantity_t"]] == "1.500"
    assert first[col["counterparty"]] == SZ and first[col["remaining_t"]] == "3.500"
    assert second[col["remaining_t"]] == "3.100"
    assert {t[col["kind"]]: t[col["quantity_t"]] for t in totals} == {
        "added": "0.000",
        "used": "0.400",
        "transferred_in": "0.000",
        "transferred_out": "1.500",
    }
    assert closing[col["time"]] == "2026-02-01T00:00:00.000000+08:00"
    assert closing[col["remaining_t"]] == "3.100"
    assert len(monthly_table(report)) == len(rows) - 1
    frozen = figures(report)
    assert frozen["csv_sha256"] == hashlib.sha256(body).hexdigest()
    assert (frozen["opening_remaining_kg"], frozen["closing_remaining_kg"]) == (5_000, 3_100)
    assert frozen["movements"] == 2
