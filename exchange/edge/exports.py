"""Downloads regulators take away over HTTP: the period a request asks for, the row
limit, and the table (exchange.core.tables) as a CSV or .xlsx attachment."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import Query
from fastapi.responses import Response

from exchange.core.regulation import FIRST_YEAR, LAST_YEAR, SHANGHAI
from exchange.core.tables import EPOCH, Column, csv_bytes, xlsx_bytes
from exchange.core.units import cny, tonnes
from exchange.edge.api.errors import ApiError

Format = Literal["json", "csv", "xlsx"]
# the period query parameters of every list that can be exported
From = Annotated[str | None, Query(alias="from", description="YYYY-MM-DD, Asia/Shanghai")]
To = Annotated[str | None, Query(description="YYYY-MM-DD, Asia/Shanghai, inclusive")]
MAX_ROWS = 100_000
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def parse_day(text: str, what: str) -> date:
    if not _DATE.fullmatch(text):
        raise ApiError("invalid_input", f"{what} must be a date YYYY-MM-DD")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ApiError("invalid_input", f"{what} {text} is not a date") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ApiError("invalid_input", f"{what} must be in {FIRST_YEAR}..{LAST_YEAR}")
    return day


def day_start_us(day: date) -> int:
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return (start - EPOCH) // timedelta(microseconds=1)


def period_us(from_: str | None, to: str | None) -> tuple[int | None, int | None]:
    """[start of `from`, end of `to`) in epoch microseconds, days in Asia/Shanghai;
    None where a bound is not given."""
    start = parse_day(from_, "from") if from_ is not None else None
    end = parse_day(to, "to") if to is not None else None
    if start is not None and end is not None and end < start:
        raise ApiError("invalid_input", "to is before from")
    return (
        day_start_us(start) if start is not None else None,
        day_start_us(end + timedelta(days=1)) if end is not None else None,
    )


def within_period(query, column, from_: str | None, to: str | None):
    """`query` limited to the rows whose `column` (epoch microseconds) falls on the days
    `from_` to `to` (Asia/Shanghai, inclusive); a bound not given does not limit."""
    start_us, end_us = period_us(from_, to)
    if start_us is not None:
        query = query.where(column >= start_us)
    if end_us is not None:
        query = query.where(column < end_us)
    return query


def export_rows(conn, query, *order_by, mappings: bool = False) -> list:
    """Every row an export takes, in this order; more than MAX_ROWS is refused
    (export_too_large) rather than cut short."""
    result = conn.execute(query.order_by(*order_by).limit(MAX_ROWS + 1))
    rows = (result.mappings() if mappings else result).all()
    too_many(len(rows))
    return rows


def period_label(from_: str | None, to: str | None) -> str:
    """For a file name; call after `period_us` validated both."""
    return f"{from_ or 'start'}_{to or 'now'}"


def too_many(count: int) -> None:
    if count > MAX_ROWS:
        raise ApiError(
            "export_too_large",
            f"more than {MAX_ROWS} rows; choose a shorter period with from/to",
        )


def download(fmt: Format, stem: str, columns: list[Column], rows: list[list]) -> Response:
    # only characters every header and file system take: a file name is never a way to
    # smuggle a quote or a line break into the response
    stem = _UNSAFE_NAME.sub("_", stem)
    if fmt == "xlsx":
        body, media, ext = xlsx_bytes(stem, columns, rows), XLSX_TYPE, "xlsx"
    else:
        body, media, ext = csv_bytes(columns, rows), "text/csv; charset=utf-8", "csv"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{stem}.{ext}"'},
    )


def readable_detail(detail: dict) -> str:
    """An alert's detail with fen and kg shown as CNY and tonnes: `price=3500.00`."""
    parts = []
    for key in sorted(detail):
        value = detail[key]
        if key.endswith("_fen") and isinstance(value, int):
            key, value = key[: -len("_fen")], cny(value)
        elif key.endswith("_kg") and isinstance(value, int):
            key, value = key[: -len("_kg")], tonnes(value)
        parts.append(f"{key}={value}")
    return "; ".join(parts)
