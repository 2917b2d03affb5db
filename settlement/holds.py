"""An order's lock, modelled as a pending transfer keyed by the order id: placed
when the engine accepts the order, posted piece by piece by its fills, and
released or voided by amendments, cancels and expiry."""

from __future__ import annotations

from dataclasses import dataclass, field

from settlement.lots import LotBag
from settlement.pricing import buy_hold_fen


@dataclass(slots=True)
class Hold:
    order_id: int
    account_id: str
    symbol: str
    side: str
    price_fen: int
    """The limit, or for a market buy the band top it may trade up to."""
    lot_kg: int
    remaining_kg: int
    held_fen: int = 0
    """Buy holds: cash locked, exactly `requirement_fen` between commands; within one,
    it may also carry the rounding reserve of an order that trades at once."""
    lots: LotBag = field(default_factory=LotBag)
    """Sell holds: the locked lots, oldest first, totalling `remaining_kg`."""

    @property
    def is_buy(self) -> bool:
        return self.side == "buy"

    def requirement_fen(self, fee_bps: int) -> int:
        return buy_hold_fen(self.price_fen, self.remaining_kg, fee_bps)
