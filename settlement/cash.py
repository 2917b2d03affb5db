"""Cash balances per account, changed only through postings."""

from __future__ import annotations

from dataclasses import dataclass

from matching_engine.events import new_event
from settlement.defects import SettlementDefect
from settlement.events import CashPosted


@dataclass(slots=True)
class CashBalance:
    available_fen: int = 0
    locked_fen: int = 0
    version: int = 0


class CashBook:
    __slots__ = ("balances", "deposited_fen", "withdrawn_fen")

    def __init__(self) -> None:
        self.balances: dict[str, CashBalance] = {}
        self.deposited_fen = 0
        self.withdrawn_fen = 0

    def open(self, account_id: str) -> None:
        self.balances.setdefault(account_id, CashBalance())

    def balance(self, account_id: str) -> CashBalance:
        return self.balances[account_id]

    def post(
        self,
        seq: int,
        ts_us: int,
        account_id: str,
        kind: str,
        amount_fen: int,
        d_available: int,
        d_locked: int,
        reference: str,
    ) -> CashPosted:
        if not (amount_fen > 0):
            raise SettlementDefect(f"{kind} posting of {amount_fen} fen on {account_id}")
        b = self.balances[account_id]
        available_before, locked_before = b.available_fen, b.locked_fen
        available = b.available_fen = available_before + d_available
        locked = b.locked_fen = locked_before + d_locked
        if not (available >= 0 and locked >= 0):
            raise SettlementDefect(
                f"{kind} of {amount_fen} fen would make {account_id} negative: {b}"
            )
        version = b.version = b.version + 1
        if kind == "deposit":
            self.deposited_fen += amount_fen
        elif kind == "withdrawal":
            self.withdrawn_fen += amount_fen
        return new_event(
            CashPosted,
            (
                seq,
                ts_us,
                account_id,
                kind,
                amount_fen,
                available_before,
                locked_before,
                available,
                locked,
                version,
                reference,
            ),
        )
