"""Allowances per account and symbol: available lots, and counts of the locked
(lots sit in the sell holds) and the used (lots sit in project bindings)."""

from __future__ import annotations

from dataclasses import dataclass, field

from matching_engine.events import new_event
from settlement.defects import SettlementDefect
from settlement.events import AllowancePosted
from settlement.lots import LotBag, Portion


@dataclass(slots=True)
class Holding:
    available: LotBag = field(default_factory=LotBag)
    locked_kg: int = 0
    used_kg: int = 0
    version: int = 0

    def totals(self) -> tuple[int, int, int]:
        return self.available.total(), self.locked_kg, self.used_kg


class HoldingBook:
    __slots__ = ("holdings",)

    def __init__(self) -> None:
        self.holdings: dict[tuple[str, str], Holding] = {}

    def get(self, account_id: str, symbol: str) -> Holding:
        key = (account_id, symbol)
        h = self.holdings.get(key)
        if h is None:
            h = self.holdings[key] = Holding()
        return h

    def peek(self, account_id: str, symbol: str) -> Holding:
        """Read without creating, so queries leave the snapshot unchanged."""
        return self.holdings.get((account_id, symbol)) or Holding()

    def hold_oldest(
        self,
        seq: int,
        ts_us: int,
        account_id: str,
        symbol: str,
        kg: int,
        reference: str,
        into: LotBag,
    ) -> list[AllowancePosted]:
        """Locks `kg` of the account's oldest available lots (for an order, an auction or a
        block trade), one posting per lot, and records the lots in `into`."""
        postings = []
        for p in self.get(account_id, symbol).available.select_oldest(kg):
            postings.append(
                self.post(seq, ts_us, account_id, symbol, p, "hold", -p[2], p[2], 0, reference)
            )
            into.add(*p)
        return postings

    def post(
        self,
        seq: int,
        ts_us: int,
        account_id: str,
        symbol: str,
        portion: Portion,
        kind: str,
        d_available: int,
        d_locked: int,
        d_used: int,
        reference: str,
    ) -> AllowancePosted:
        """Moves one lot's kilograms within the account; d_available is +kg, -kg or 0."""
        ordinal, lot_id, kg = portion
        if not (kg > 0):
            raise SettlementDefect("kg > 0")
        key = (account_id, symbol)
        h = self.holdings.get(key)
        if h is None:
            h = self.holdings[key] = Holding()
        bag = h.available
        available_before, locked_before, used_before = bag._total, h.locked_kg, h.used_kg
        if d_available > 0:
            bag.add(ordinal, lot_id, d_available)
        elif d_available < 0:
            bag.remove(ordinal, lot_id, -d_available)
        locked = h.locked_kg = locked_before + d_locked
        used = h.used_kg = used_before + d_used
        if not (locked >= 0 and used >= 0):
            raise SettlementDefect(f"{kind} on {account_id} {symbol}: {h}")
        version = h.version = h.version + 1
        return new_event(
            AllowancePosted,
            (
                seq,
                ts_us,
                account_id,
                symbol,
                lot_id,
                kind,
                kg,
                available_before,
                locked_before,
                used_before,
                bag._total,
                locked,
                used,
                version,
                reference,
            ),
        )
