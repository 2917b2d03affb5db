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

Details of the above:
    - Within a level, Trades and cancel_resting pairs interleave in the FIFO
      order of the resting orders they concern.
    - The incoming order's own mode decides (PlaceOrder.stp, or the engine's
      default when it names none); an amended order matches with its own.
    - cancel_incoming mode: matching stops at the first resting order of the
      same owner. If the level it sits on had fills, that level's
      BookLevelChanged comes first; then SelfTradePrevented("incoming") and
      OrderCancelled(incoming, self_trade) for what remains.
    - cancel_both mode: matching stops at the first resting order of the same
      owner: SelfTradePrevented("both"), OrderCancelled(resting, self_trade),
      BookLevelChanged(that level's new total, fills before it included),
      OrderCancelled(incoming, self_trade) for what remains.
    - FOK is checked before any fill, counting only what the order could
      really take (cancel_incoming and cancel_both: up to the first own
      resting order; cancel_resting: every other owner's order). Not
      fillable: OrderAccepted, OrderCancelled(fok_not_fillable) and nothing
      else, even when an own order is the reason.
    - A post-only order that would trade is refused (OrderRejected
      post_only_would_cross) before OrderAccepted; one that is accepted only
      ever rests.
    - Remainder reasons: limit IOC `ioc_remainder`, market IOC
      `market_order_remainder`, FOK (limit or market) `fok_not_fillable`.
    - A market order's OrderCancelled.price_fen is its band-edge limit.

Other commands:
    CancelOrder        OrderCancelled(user), BookLevelChanged
    CancelAll          for each of the owner's resting orders in order-id order
                       (across instruments when no symbol is named):
                       OrderCancelled(user), BookLevelChanged; nothing at all
                       when the owner has none
    AmendOrder, same price, lower quantity:
                       OrderReduced, BookLevelChanged
    AmendOrder, same price, higher quantity (moves to the back of its level):
                       OrderReplaced, BookLevelChanged
    AmendOrder, new price:
                       OrderReplaced, BookLevelChanged(old level), then the
                       PlaceOrder sequence after OrderAccepted; the order
                       keeps its id and time in force, so what is left rests
                       (unless self-trade prevention cancels it)
    HaltMarket         MarketHalted, then with cancel_orders for each resting
                       order in order-id order: OrderCancelled(halt),
                       BookLevelChanged
    ResumeMarket       MarketResumed
    SetReferencePrice  ReferencePriceSet
    CloseSession       for each resting DAY order in order-id order:
                       OrderCancelled(expired), BookLevelChanged; then
                       SessionClosed
    AddInstrument      InstrumentAdded

A refused command emits exactly one OrderRejected and changes nothing. Its
`action` is "place", "cancel", "cancel_all", "amend", "add_instrument",
"halt_market", "resume_market", "set_reference_price" or "close_session";
"cancel_all" carries order_id 0 and its owner, the last five order_id 0 and
owner "".
"""

from __future__ import annotations

from typing import NamedTuple

from matching_engine.errors import RejectReason
from matching_engine.types import CancelReason, OrderType, Side, TimeInForce

# The hot paths build events with new_event(EventClass, (field, ...)): it skips
# the Python-level NamedTuple.__new__ and so halves the cost of an event. The C
# version (setup.py builds it when a compiler is there) gives the same objects
# as tuple.__new__ and saves a further ≈60 ns per event.
try:
    from matching_engine._tuplenew import new as new_event
except ImportError:  # built without the optional C module
    new_event = tuple.__new__


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
    """An order met its owner's resting order; `cancelled` is which went:
    "incoming", "resting" or "both". The regulator sees these."""

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
