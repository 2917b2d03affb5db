"""Tables regulators take away: CSV that Excel on Chinese Windows opens (UTF-8 with a
byte-order mark), or .xlsx; tonnes and CNY as decimals, times in Asia/Shanghai.

Each column has a bilingual header ("成交时间 time") and a kind, so the .xlsx gets
real numbers where the CSV has decimal strings. Pure rendering: the monthly report a
city submits is frozen (hashed) in this form by the projector, and served by the edge.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from openpyxl import Workbook

from exchange.core.regulation import SHANGHAI

BOM = "\ufeff"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Column:
    zh: str
    en: str
    kind: Literal["text", "int", "tonnes", "cny"] = "text"

    @property
    def header(self) -> str:
        return f"{self.zh} {self.en}"


def local_time(ts_us: int | None) -> str | None:
    """ISO 8601 in Asia/Shanghai, e.g. 2026-11-30T23:59:59.123456+08:00."""
    if ts_us is None:
        return None
    moment = (EPOCH + timedelta(microseconds=ts_us)).astimezone(SHANGHAI)
    return moment.isoformat(timespec="microseconds")


def csv_bytes(columns: list[Column], rows: list[list]) -> bytes:
    buf = io.StringIO()
    # CRLF rows, as Excel writes them
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return (BOM + buf.getvalue()).encode("utf-8")


def xlsx_bytes(title: str, columns: list[Column], rows: list[list]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    sheet.append([c.header for c in columns])
    for row in rows:
        sheet.append([_cell(c, v) for c, v in zip(columns, row, strict=True)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(column: Column, value):
    if value is None or value == "":
        return None
    if column.kind in ("tonnes", "cny"):
        return Decimal(value)
    return value
