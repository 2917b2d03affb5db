"""Per-symbol session statistics behind the ticker and the book's sequence."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

EXPIRED = "expired"
"""An instrument's status past its last trading day, whatever its book's status
(matching_engine.types.MarketStatus): clients see open, halted or expired."""


class TradeKind(StrEnum):
    """How a trade on the tape came about: matched on the book, or a negotiated block
    trade (settled off the book: no order ids, never in the candles or the ticker)."""

    CONTINUOUS = "continuous"
    BLOCK = "block"


class CandleInterval(StrEnum):
    M1 = "1m"
    M5 = "5m"
    H1 = "1h"
    D1 = "1d"


CANDLE_WIDTH_US: dict[str, int] = {
    CandleInterval.M1.value: 60_000_000,
    CandleInterval.M5.value: 300_000_000,
    CandleInterval.H1.value: 3_600_000_000,
    CandleInterval.D1.value: 86_400_000_000,
}
"""Each candle interval's width, keyed by the plain string the candle rows hold."""


@dataclass(slots=True)
class SessionStats:
    symbol: str
    # the reference price when the session opened: "change" is measured from it
    prev_close_fen: int
    session_start_seq: int = 0
    # seq of the last command that changed this symbol's book (REST book `seq`)
    book_seq: int = 0
    open_fen: int | None = None
    high_fen: int | None = None
    low_fen: int | None = None
    last_fen: int | None = None
    volume_kg: int = 0
    # Σ price_fen × qty_kg: the exact numerator of the VWAP
    value: int = 0
    trade_count: int = 0

    def on_trade(self, price_fen: int, quantity_kg: int) -> None:
        if self.open_fen is None:
            self.open_fen = self.high_fen = self.low_fen = price_fen
        else:
            self.high_fen = max(self.high_fen, price_fen)
            self.low_fen = min(self.low_fen, price_fen)
        self.last_fen = price_fen
        self.volume_kg += quantity_kg
        self.value += price_fen * quantity_kg
        self.trade_count += 1

    def new_session(self, seq: int, reference_price_fen: int) -> None:
        self.prev_close_fen = reference_price_fen
        self.session_start_seq = seq
        self.open_fen = self.high_fen = self.low_fen = self.last_fen = None
        self.volume_kg = self.value = self.trade_count = 0

    def to_dict(self) -> dict:
        # dataclasses.asdict deep-copies every field; these are flat, so a plain
        # dict of the slots is the same and several times faster on the hot path
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict) -> SessionStats:
        return cls(**data)
