"""Lots of allowances and the ordered bags of them that holdings and holds keep."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from settlement.defects import SettlementDefect


@dataclass(frozen=True, slots=True)
class Lot:
    """The allowances one verified reduction created, and where they came from.

    `ordinal` counts lots in issue order; bags keep lots in that order, so
    "first in, first out" means the oldest lot goes first, whoever holds it.
    """

    lot_id: str
    ordinal: int
    symbol: str
    pollutant: str
    vintage: int
    quantity_kg: int
    claim_id: str
    source_kind: str
    city_code: str
    origin_account_id: str
    claimant_account_id: str
    verifier_account_id: str
    method: str
    issued_seq: int
    issued_ts_us: int


Portion = tuple[int, str, int]
"""(lot ordinal, lot id, kg): part of one lot."""


class LotBag:
    """Kilograms per lot, oldest lot first. Selecting never mutates; only add and
    remove do, so callers can validate a whole command before changing anything."""

    __slots__ = ("_entries", "_total")

    def __init__(self, entries: list[list] | None = None) -> None:
        self._entries: list[list] = entries if entries is not None else []
        # kept with every add and remove: totals are read on every posting, and a
        # bag that has received many lots would otherwise be summed each time
        self._total = sum(e[2] for e in self._entries)

    def total(self) -> int:
        return self._total

    def portions(self) -> list[Portion]:
        return [(o, lot_id, kg) for o, lot_id, kg in self._entries]

    def kg_of(self, lot_id: str) -> int:
        return next((e[2] for e in self._entries if e[1] == lot_id), 0)

    def select_oldest(self, kg: int) -> list[Portion]:
        return _select(self._entries, kg)

    def select_newest(self, kg: int) -> list[Portion]:
        return _select(list(reversed(self._entries)), kg)

    # Entries are [ordinal, lot_id, kg] with unique ordinals, so the one-element list
    # [ordinal] sorts just before its own entry and after every smaller ordinal's:
    # bisecting for it finds the entry with list comparisons alone, no key function
    # called per probe (these run on every posting).
    def add(self, ordinal: int, lot_id: str, kg: int) -> None:
        if not (kg > 0):
            raise SettlementDefect("kg > 0")
        entries = self._entries
        i = bisect_left(entries, [ordinal])
        if i < len(entries) and entries[i][0] == ordinal:
            entries[i][2] += kg
        else:
            entries.insert(i, [ordinal, lot_id, kg])
        self._total += kg

    def remove(self, ordinal: int, lot_id: str, kg: int) -> None:
        entries = self._entries
        i = bisect_left(entries, [ordinal])
        if not (i < len(entries) and entries[i][0] == ordinal):
            raise SettlementDefect(f"{lot_id} not in bag")
        entry = entries[i]
        if not (0 < kg <= entry[2]):
            raise SettlementDefect(f"removing {kg} kg of {lot_id}, bag has {entry[2]}")
        entry[2] -= kg
        self._total -= kg
        if entry[2] == 0:
            del entries[i]

    def to_json(self) -> list[list]:
        return [list(e) for e in self._entries]

    @classmethod
    def from_json(cls, data: list[list]) -> LotBag:
        return cls([[int(o), str(lot_id), int(kg)] for o, lot_id, kg in data])


def _select(entries: list[list], kg: int) -> list[Portion]:
    if not (kg >= 0):
        raise SettlementDefect("kg >= 0")
    out: list[Portion] = []
    left = kg
    for ordinal, lot_id, have in entries:
        if left == 0:
            break
        take = min(have, left)
        out.append((ordinal, lot_id, take))
        left -= take
    if not (left == 0):
        raise SettlementDefect(f"bag holds less than {kg} kg")
    return out
