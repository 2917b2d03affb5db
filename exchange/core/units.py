"""Decimal strings on the wire, integers inside.

Quantities travel as tonnes with up to 3 decimals (integer kilograms inside),
prices and cash as CNY with up to 2 decimals (integer fen inside). Parsing is
strict: ASCII digits only, one optional point, no sign, no exponent, no NaN, nothing
after (the regex `\\d` takes any script's digits and `$` a final newline: "١٢" was 12).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
_DECIMAL = re.compile(r"([0-9]{1,15})(?:\.([0-9]*))?")


class UnitError(ValueError):
    pass


SHANGHAI = timezone(timedelta(hours=8))


def end_of_day_us(day: date) -> int:
    """The first microsecond after `day` in Asia/Shanghai (no daylight saving): an
    instrument valid until `day` is expired from then on."""
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    return int(end.timestamp()) * 1_000_000


def shanghai_today(now_us: int) -> date:
    return datetime.fromtimestamp(now_us / 1_000_000, SHANGHAI).date()


def _parse(text: str, scale: int, what: str) -> int:
    if not isinstance(text, str):
        raise UnitError(f"{what} must be a decimal string")
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise UnitError(f"{what} must be a plain decimal string like '12.5', got {text!r}")
    whole, frac = match.group(1), match.group(2) or ""
    if len(frac) > scale:
        raise UnitError(f"{what} has more than {scale} decimals: {text!r}")
    return int(whole) * 10**scale + int(frac.ljust(scale, "0") or 0)


def parse_tonnes(text: str, what: str = "quantity") -> int:
    """'12.5' -> 12500 kg."""
    return _parse(text, 3, what)


def parse_cny(text: str, what: str = "price") -> int:
    """'3456.7' -> 345670 fen."""
    return _parse(text, 2, what)


def _format(value: int, scale: int) -> str:
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**scale)
    return f"{sign}{whole}.{frac:0{scale}d}"


def tonnes(kg: int | None) -> str | None:
    return None if kg is None else _format(kg, 3)


def cny(fen: int | None) -> str | None:
    return None if fen is None else _format(fen, 2)


def iso_time(ts_us: int | None) -> str | None:
    if ts_us is None:
        return None
    stamp = _EPOCH + timedelta(microseconds=ts_us)
    return stamp.isoformat(timespec="microseconds").replace("+00:00", "Z")


def shanghai_time(ts_us: int) -> str:
    """ISO-8601 in Asia/Shanghai with its offset, to the second: '2025-03-01T17:00:00+08:00'."""
    stamp = (_EPOCH + timedelta(microseconds=ts_us)).astimezone(_SHANGHAI)
    return stamp.isoformat(timespec="seconds")


def round_half_up_div(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)
