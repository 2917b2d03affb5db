"""The provincial ledger ("one ledger", 一本賬): per city and symbol, what was
added, used, transferred in and out, and the floors reallocations must respect."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from settlement.cities import CITY_CODES
from settlement.defects import SettlementDefect
from settlement.events import LedgerMoved


class MovementKind(StrEnum):
    ADDED = "added"
    USED = "used"
    TRANSFERRED_IN = "transferred_in"
    TRANSFERRED_OUT = "transferred_out"


# The ledger's rows and events hold plain strings, as a restored snapshot does.
ADDED = MovementKind.ADDED.value
USED = MovementKind.USED.value
TRANSFERRED_IN = MovementKind.TRANSFERRED_IN.value
TRANSFERRED_OUT = MovementKind.TRANSFERRED_OUT.value
KINDS = (ADDED, USED, TRANSFERRED_IN, TRANSFERRED_OUT)
SIGN = {ADDED: 1, TRANSFERRED_IN: 1, TRANSFERRED_OUT: -1, USED: -1}
"""How a movement of each kind changes what a city has remaining."""


class LedgerRow(NamedTuple):
    city_code: str
    symbol: str
    added: int
    used: int
    transferred_in: int
    transferred_out: int
    remaining: int


class CityLedger:
    __slots__ = ("floors", "rows")

    def __init__(self) -> None:
        # (city, symbol) -> {kind: kg}
        self.rows: dict[tuple[str, str], dict[str, int]] = {}
        self.floors: dict[tuple[str, str], int] = {}

    def row(self, city_code: str, symbol: str) -> LedgerRow:
        r = self.rows.get((city_code, symbol), {})
        added, used = r.get(ADDED, 0), r.get(USED, 0)
        tin, tout = r.get(TRANSFERRED_IN, 0), r.get(TRANSFERRED_OUT, 0)
        return LedgerRow(city_code, symbol, added, used, tin, tout, added + tin - tout - used)

    def rows_for(self, symbol: str) -> list[LedgerRow]:
        return [self.row(code, symbol) for code in CITY_CODES]

    def remaining(self, city_code: str, symbol: str) -> int:
        return self.row(city_code, symbol).remaining

    def floor(self, city_code: str, symbol: str) -> int:
        return self.floors.get((city_code, symbol), 0)

    def record(
        self,
        seq: int,
        ts_us: int,
        city_code: str,
        symbol: str,
        kind: str,
        quantity_kg: int,
        reference: str,
        counterparty: str = "",
    ) -> LedgerMoved:
        if not (kind in KINDS and quantity_kg > 0):
            raise SettlementDefect("kind in KINDS and quantity_kg > 0")
        r = self.rows.setdefault((city_code, symbol), {})
        r[kind] = r.get(kind, 0) + quantity_kg
        return LedgerMoved(
            seq, ts_us, city_code, symbol, kind, quantity_kg, reference, counterparty
        )
