"""The monthly city report (每月報送): built from the ledger's movement events alone,
so a report a bureau files can be checked against the provincial ledger.

The service computes the month's bounds in Asia/Shanghai and passes them as
microseconds; this module knows no calendar and no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from settlement.defects import SettlementDefect
from settlement.events import LedgerMoved
from settlement.ledger import ADDED, SIGN, TRANSFERRED_IN, TRANSFERRED_OUT, USED


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    city_code: str
    symbol: str
    start_us: int
    end_us: int
    opening_remaining_kg: int
    added_kg: int
    used_kg: int
    transferred_in_kg: int
    transferred_out_kg: int
    closing_remaining_kg: int
    movements: tuple[LedgerMoved, ...]
    """The month's movements of this city and symbol, in sequence order."""


def monthly_city_report(
    movements: Iterable[LedgerMoved], city_code: str, symbol: str, start_us: int, end_us: int
) -> MonthlyReport:
    """Movements of [start_us, end_us); everything before start makes the opening."""
    if not (start_us < end_us):
        raise SettlementDefect("start_us < end_us")
    mine = [m for m in movements if m.city_code == city_code and m.symbol == symbol]
    # Stable on seq, so the several movements of one command keep their order.
    mine.sort(key=lambda m: m.seq)
    opening = 0
    totals = dict.fromkeys(SIGN, 0)
    month: list[LedgerMoved] = []
    for m in mine:
        if m.ts_us < start_us:
            opening += SIGN[m.kind] * m.quantity_kg
        elif m.ts_us < end_us:
            totals[m.kind] += m.quantity_kg
            month.append(m)
    closing = opening + sum(SIGN[k] * v for k, v in totals.items())
    return MonthlyReport(
        city_code,
        symbol,
        start_us,
        end_us,
        opening,
        totals[ADDED],
        totals[USED],
        totals[TRANSFERRED_IN],
        totals[TRANSFERRED_OUT],
        closing,
        tuple(month),
    )
