"""Vocabulary shared by the books, the engine and everything downstream.

All prices are integer fen per tonne, all quantities integer kilograms, all
times integer microseconds since the Unix epoch stamped by the sequencer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "GTC"
    DAY = "DAY"
    IOC = "IOC"
    FOK = "FOK"


class MarketStatus(StrEnum):
    OPEN = "open"
    HALTED = "halted"


class CancelReason(StrEnum):
    USER = "user"
    IOC_REMAINDER = "ioc_remainder"
    FOK_NOT_FILLABLE = "fok_not_fillable"
    SELF_TRADE = "self_trade"
    EXPIRED = "expired"
    MARKET_ORDER_REMAINDER = "market_order_remainder"
    HALT = "halt"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    """A resting buy whose hold a fill left short and whose owner could not top it up
    (cancelled by the exchange core, never by the book itself)."""


class SelfTradePrevention(StrEnum):
    """Which side of a would-be wash trade is cancelled. The incoming order's own
    mode decides; the resting order's mode matters only when it is amended to a
    new price and so arrives again."""

    CANCEL_INCOMING = "cancel_incoming"
    CANCEL_RESTING = "cancel_resting"
    CANCEL_BOTH = "cancel_both"


BUY = Side.BUY
SELL = Side.SELL
LIMIT = OrderType.LIMIT
MARKET = OrderType.MARKET
GTC = TimeInForce.GTC
DAY = TimeInForce.DAY
IOC = TimeInForce.IOC
FOK = TimeInForce.FOK

BPS_DENOMINATOR = 10_000
KG_PER_TONNE = 1_000


@dataclass(slots=True)
class Instrument:
    """One pollutant and vintage traded in its own book.

    The band is a half-width in basis points of the reference price: with a
    reference of 300000 fen/t and 1000 bps, prices 270000..330000 are allowed.
    """

    symbol: str
    pollutant: str
    vintage: int
    tick_fen: int
    lot_kg: int
    reference_price_fen: int
    band_bps: int
    status: MarketStatus = MarketStatus.OPEN

    def band(self) -> tuple[int, int]:
        """Lowest and highest price on the tick that the band admits."""
        ref, tick = self.reference_price_fen, self.tick_fen
        low_exact_num = ref * (BPS_DENOMINATOR - self.band_bps)
        high_exact_num = ref * (BPS_DENOMINATOR + self.band_bps)
        # ceil(low / tick) * tick and floor(high / tick) * tick, in integers only
        low = -(-low_exact_num // (BPS_DENOMINATOR * tick)) * tick
        high = (high_exact_num // (BPS_DENOMINATOR * tick)) * tick
        return max(low, tick), high
