"""Events the engine emits. Every event carries the sequence number of the
command that caused it, so downstream projections are idempotent by `seq`.

Events are NamedTuples: immutable, cheap to build on the hot path (a trade
event costs one tuple), with named fields for readers. Two NamedTuples of
different classes with equal fields compare equal as tuples, so compare
`(type(e).__name__, e)` when comparing streams.

Order of events for one PlaceOrder:
    OrderAccepted
    for each price level the order matches into, best first:
        Trade ... (one per resting order filled, FIFO)
        [SelfTradePrevented, OrderCancelled(resting)]   (cancel_resting mode)
        BookLevelChanged(that level's new total)         (once, on leaving it)
    then one of:
        BookLevelChanged(own side)                       (remainder rests)
        [SelfTradePrevented,] OrderCancelled(reason)     (remainder cancelled)
        nothing                                          (filled)
"""

from __future__ import annotations

from typing import NamedTuple

from matching_engine.errors import RejectReason
from matching_engine.types import CancelReason, OrderType, Side, TimeInForce


class InstrumentAdded(NamedTuple):
    seq: int
    ts_us: int
    symbol: str
    pollutant: str
    vintage: int
    tick_fen: int
    lot_kg: int
    reference_price_fen: int
    band_bps: int


class OrderAccepted(NamedTuple):
    """Passed every check and is about to match. For a market order
    `price_fen` is the band edge it may trade up (buy) or down (sell) to."""

    seq: int
    ts_us: int
    symbol: str
    order_id: int
    owner: str
    side: Side
    type: OrderType
    price_fen: int
    quantity_kg: int
    tif: TimeInForce


class OrderRejected(NamedTuple):
    """A place, cancel or amend that changed nothing. `action` names which."""

    seq: int
    ts_us: int
    symbol: str
    order_id: int
    owner: str
    action: str
    reason: RejectReason


class Trade(NamedTuple):
    """A fill at the resting (maker) order's price. `trade_id` counts per symbol."""

    seq: int
    ts_us: int
    symbol: str
    trade_id: int
    price_fen: int
    quantity_kg: int
    taker_side: Side
    maker_order_id: int
    maker_owner: str
    maker_remaining_kg: int
    taker_order_id: int
    taker_owner: str
    taker_remaining_kg: int


class OrderCancelled(NamedTuple):
    """What remained of the order left the book; `price_fen` is its limit."""

    seq: int
    ts_us: int
    symbol: str
    order_id: int
    owner: str
    side: Side
    price_fen: int
    cancelled_kg: int
    reason: CancelReason


class OrderReduced(NamedTuple):
    """Remaining quantity lowered in place; time priority kept."""

    seq: int
    ts_us: int
    symbol: str
    order_id: int
    owner: str
    side: Side
    price_fen: int
    old_remaining_kg: int
    new_remaining_kg: int


class OrderReplaced(NamedTuple):
    """New price and/or a higher quantity; the order lost time priority and,
    at a new price, matches again as if it had just arrived."""

    seq: int
    ts_us: int
    symbol: str
    order_id: int
    owner: str
    side: Side
    old_price_fen: int
    new_price_fen: int
    old_remaining_kg: int
    new_remaining_kg: int


class SelfTradePrevented(NamedTuple):
    """An order met its owner's resting order; `cancelled` is which one went:
    "incoming" or "resting". The regulator sees these."""

    seq: int
    ts_us: int
    symbol: str
    taker_order_id: int
    maker_order_id: int
    owner: str
    cancelled: str


class BookLevelChanged(NamedTuple):
    """The new total resting quantity at one price level; 0 means it is gone."""

    seq: int
    symbol: str
    side: Side
    price_fen: int
    quantity_kg: int


class MarketHalted(NamedTuple):
    seq: int
    ts_us: int
    symbol: str


class MarketResumed(NamedTuple):
    seq: int
    ts_us: int
    symbol: str


class ReferencePriceSet(NamedTuple):
    seq: int
    ts_us: int
    symbol: str
    price_fen: int


class SessionClosed(NamedTuple):
    """DAY orders were expired; `reference_price_fen` is the new reference
    (the session's last trade price, or the old reference if none traded)."""

    seq: int
    ts_us: int
    symbol: str
    reference_price_fen: int
    expired_orders: int


EngineEvent = (
    InstrumentAdded
    | OrderAccepted
    | OrderRejected
    | Trade
    | OrderCancelled
    | OrderReduced
    | OrderReplaced
    | SelfTradePrevented
    | BookLevelChanged
    | MarketHalted
    | MarketResumed
    | ReferencePriceSet
    | SessionClosed
)
