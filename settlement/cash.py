"""Cash balances per account, changed only through postings."""

from __future__ import annotations

from dataclasses import dataclass

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
        before = (b.available_fen, b.locked_fen)
        b.available_fen += d_available
        b.locked_fen += d_locked
        if not (b.available_fen >= 0 and b.locked_fen >= 0):
            raise SettlementDefect(
                f"{kind} of {amount_fen} fen would make {account_id} negative: {b}"
            )
        b.version += 1
        if kind == "deposit":
            self.deposited_fen += amount_fen
        elif kind == "withdrawal":
            self.withdrawn_fen += amount_fen
        return CashPosted(
            seq,
            ts_us,
            account_id,
            kind,
            amount_fen,
            before[0],
            before[1],
            b.available_fen,
            b.locked_fen,
            b.version,
            reference,
        )
