"""The matching engine: one book per instrument and the rules they share.

The engine checks every command against its instrument before a book sees it,
in this order, and the first failure is the reason given:

    place   unknown_symbol, market_halted, invalid_time_in_force (market orders
            must be IOC or FOK; a post-only order must be a GTC or DAY limit),
            invalid_self_trade_prevention, invalid_price, price_off_tick,
            price_outside_band (limit orders), invalid_quantity,
            quantity_off_lot, duplicate_order_id (an order with this id rests),
            post_only_would_cross (its price reaches the opposite best price,
            the owner's own orders included)
    cancel  unknown_symbol, order_not_open, not_order_owner (allowed while halted)
    cancel_all
            unknown_symbol (when a symbol is named; allowed while halted)
    amend   unknown_symbol, market_halted, order_not_open, not_order_owner,
            invalid_quantity, quantity_off_lot, invalid_price, price_off_tick,
            price_outside_band, no_change, post_only_would_cross (a post-only
            order moved to a price that reaches the opposite best price)
"""

from __future__ import annotations

import hashlib
import json
from operator import attrgetter, itemgetter
from typing import Any

from matching_engine.book import FastBook, OrderBook
from matching_engine.commands import (
    AddInstrument,
    AmendOrder,
    CancelAll,
    CancelOrder,
    CloseSession,
    HaltMarket,
    PlaceOrder,
    ResumeMarket,
    SetReferencePrice,
)
from matching_engine.errors import RejectReason
from matching_engine.events import (
    InstrumentAdded,
    MarketHalted,
    MarketResumed,
    OrderAccepted,
    OrderRejected,
    ReferencePriceSet,
    SessionClosed,
    new_event,
)
from matching_engine.types import (
    BPS_DENOMINATOR,
    BUY,
    DAY,
    FOK,
    GTC,
    IOC,
    SELL,
    CancelReason,
    Instrument,
    MarketStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

SNAPSHOT_FORMAT = 1

_new = new_event
# Commands may carry plain strings ("buy") where enums are expected; the books
# compare members by identity, so every value is mapped to its member first.
_SIDES = {s: s for s in Side}
_TYPES = {t: t for t in OrderType}
_TIFS = {t: t for t in TimeInForce}
_STPS = {m: m for m in SelfTradePrevention}
_MARKET = OrderType.MARKET
_LIMIT = OrderType.LIMIT

_UNKNOWN_SYMBOL = RejectReason.UNKNOWN_SYMBOL
_MARKET_HALTED = RejectReason.MARKET_HALTED
_INVALID_PRICE = RejectReason.INVALID_PRICE
_PRICE_OFF_TICK = RejectReason.PRICE_OFF_TICK
_PRICE_OUTSIDE_BAND = RejectReason.PRICE_OUTSIDE_BAND
_INVALID_QUANTITY = RejectReason.INVALID_QUANTITY
_QUANTITY_OFF_LOT = RejectReason.QUANTITY_OFF_LOT
_INVALID_TIF = RejectReason.INVALID_TIME_IN_FORCE
_DUPLICATE_ORDER_ID = RejectReason.DUPLICATE_ORDER_ID
_ORDER_NOT_OPEN = RejectReason.ORDER_NOT_OPEN
_NOT_ORDER_OWNER = RejectReason.NOT_ORDER_OWNER
_INVALID_STP = RejectReason.INVALID_SELF_TRADE_PREVENTION
_POST_ONLY_WOULD_CROSS = RejectReason.POST_ONLY_WOULD_CROSS
_USER = CancelReason.USER
_first = itemgetter(0)
# Every field of the two commands of nearly every stream, read at once: the C
# reader (setup.py builds it) reads the slots directly, which saves a generic
# attribute lookup per field; attrgetter gives the same tuple without it.
try:
    from matching_engine._slots import reader as _reader
except ImportError:  # built without the optional C module

    def _reader(cls: type, names: tuple[str, ...]) -> Any:
        return attrgetter(*names)


_place_fields = _reader(PlaceOrder, ("seq", "ts_us", "symbol", "order_id", "owner", "side",
                                     "type", "price_fen", "quantity_kg", "tif", "post_only",
                                     "stp"))  # fmt: skip
_cancel_fields = _reader(CancelOrder, ("seq", "ts_us", "symbol", "order_id", "owner", "reason"))
_DEFAULT_BOOK: type[OrderBook] = FastBook


class _Market:
    """An instrument, its book and its band, cached so checks need no arithmetic."""

    __slots__ = ("band_high", "band_low", "book", "halted", "instrument", "lot_kg", "tick_fen")

    def __init__(self, instrument: Instrument, book: OrderBook) -> None:
        self.instrument = instrument
        self.book = book
        self.tick_fen = instrument.tick_fen
        self.lot_kg = instrument.lot_kg
        self.halted = instrument.status is MarketStatus.HALTED
        self.band_low, self.band_high = instrument.band()

    def set_reference(self, price_fen: int) -> None:
        self.instrument.reference_price_fen = price_fen
        self.band_low, self.band_high = self.instrument.band()

    def set_halted(self, halted: bool) -> None:
        self.halted = halted
        self.instrument.status = MarketStatus.HALTED if halted else MarketStatus.OPEN


def _rejected(cmd: Any, action: str, reason: RejectReason) -> list[Any]:
    return [
        _new(
            OrderRejected,
            (cmd.seq, cmd.ts_us, cmd.symbol, getattr(cmd, "order_id", 0),
             getattr(cmd, "owner", ""), action, reason),
        )
    ]  # fmt: skip


def _price_problem(market: _Market, price_fen: int) -> RejectReason | None:
    if price_fen <= 0:
        return _INVALID_PRICE
    if price_fen % market.tick_fen:
        return _PRICE_OFF_TICK
    if price_fen < market.band_low or price_fen > market.band_high:
        return _PRICE_OUTSIDE_BAND
    return None


def _crosses(book: OrderBook, side: Side, price_fen: int) -> bool:
    """Whether a `side` order limited at `price_fen` reaches the opposite best price."""
    if side is BUY:
        best = book.best_ask()
        return best is not None and best <= price_fen
    best = book.best_bid()
    return best is not None and best >= price_fen


def _quantity_problem(market: _Market, quantity_kg: int) -> RejectReason | None:
    if quantity_kg <= 0:
        return _INVALID_QUANTITY
    if quantity_kg % market.lot_kg:
        return _QUANTITY_OFF_LOT
    return None


class MatchingEngine:
    def __init__(
        self,
        book_class: type[OrderBook] | None = None,
        stp: SelfTradePrevention = SelfTradePrevention.CANCEL_INCOMING,
    ) -> None:
        # None: FastBook, compiled when it was built; PyMatchingEngine: the pure one
        self.book_class = _DEFAULT_BOOK if book_class is None else book_class
        self.stp = SelfTradePrevention(stp)
        self._markets: dict[str, _Market] = {}
        self._handlers = {
            AddInstrument: self._add_instrument,
            CancelAll: self._cancel_all,
            AmendOrder: self._amend,
            HaltMarket: self._halt,
            ResumeMarket: self._resume,
            SetReferencePrice: self._set_reference,
            CloseSession: self._close_session,
        }

    def process(self, c: Any) -> list[Any]:
        """Apply one command and return the events it caused, in order."""
        # Placing and cancelling an order are handled here rather than in
        # methods of their own: one Python call less on the two commands of
        # nearly every stream.
        cls = type(c)
        if cls is not PlaceOrder:
            if cls is CancelOrder:
                seq, ts_us, symbol, order_id, owner, reason = _cancel_fields(c)
                m = self._markets.get(symbol)
                if m is None:
                    return _rejected(c, "cancel", _UNKNOWN_SYMBOL)
                book = m.book
                order = book.orders.get(order_id)
                if order is None:
                    return _rejected(c, "cancel", _ORDER_NOT_OPEN)
                if order.owner != owner:
                    return _rejected(c, "cancel", _NOT_ORDER_OWNER)
                if reason.__class__ is not CancelReason:
                    reason = CancelReason(reason)
                out: list[Any] = []
                if book.__class__ is FastBook:
                    # The same call; compiled (see _engine_c.pxd) it is a direct C
                    # call into the compiled book instead of a method lookup.
                    fast = book
                    fast.cancel(seq, ts_us, order_id, reason, out)
                else:
                    book.cancel(seq, ts_us, order_id, reason, out)
                return out
            handler = self._handlers.get(cls)
            if handler is None:
                raise TypeError(f"not an engine command: {cls.__name__}")
            return handler(c)
        (seq, ts_us, symbol, order_id, owner, side, order_type, price, quantity, tif,
         post_only, stp) = _place_fields(c)  # fmt: skip
        m = self._markets.get(symbol)
        if m is None:
            return _rejected(c, "place", _UNKNOWN_SYMBOL)
        if m.halted:
            return _rejected(c, "place", _MARKET_HALTED)
        if side is not BUY and side is not SELL:
            side = _SIDES[side]
        if order_type is not _LIMIT and order_type is not _MARKET:
            order_type = _TYPES[order_type]
        if tif.__class__ is not TimeInForce:
            tif = _TIFS.get(tif)
            if tif is None:
                return _rejected(c, "place", _INVALID_TIF)
        if stp is None:
            stp = self.stp
        elif stp.__class__ is not SelfTradePrevention:
            stp = _STPS.get(stp)
            if stp is None:
                return _rejected(c, "place", _INVALID_STP)
        if order_type is _MARKET:
            if (tif is not IOC and tif is not FOK) or post_only:
                return _rejected(c, "place", _INVALID_TIF)
            price = m.band_high if side is BUY else m.band_low
        else:
            if post_only and tif is not GTC and tif is not DAY:
                return _rejected(c, "place", _INVALID_TIF)
            if price <= 0:
                return _rejected(c, "place", _INVALID_PRICE)
            if price % m.tick_fen:
                return _rejected(c, "place", _PRICE_OFF_TICK)
            if price < m.band_low or price > m.band_high:
                return _rejected(c, "place", _PRICE_OUTSIDE_BAND)
        if quantity <= 0:
            return _rejected(c, "place", _INVALID_QUANTITY)
        if quantity % m.lot_kg:
            return _rejected(c, "place", _QUANTITY_OFF_LOT)
        book = m.book
        if order_id in book.orders:
            return _rejected(c, "place", _DUPLICATE_ORDER_ID)
        if post_only and _crosses(book, side, price):
            return _rejected(c, "place", _POST_ONLY_WOULD_CROSS)
        out = [
            _new(
                OrderAccepted,
                (seq, ts_us, symbol, order_id, owner, side, order_type, price, quantity, tif),
            )
        ]
        if book.__class__ is FastBook:
            fast = book  # a direct C call when compiled, as for cancels above
            fast.place(seq, ts_us, order_id, owner, side, price, quantity, tif,
                       order_type is _MARKET, stp, post_only, out)  # fmt: skip
        else:
            book.place(seq, ts_us, order_id, owner, side, price, quantity, tif,
                       order_type is _MARKET, stp, post_only, out)  # fmt: skip
        return out

    # --------------------------------------------------------------- reads

    def book(self, symbol: str) -> OrderBook:
        return self._markets[symbol].book

    def instrument(self, symbol: str) -> Instrument:
        return self._markets[symbol].instrument

    def symbols(self) -> list[str]:
        return sorted(self._markets)

    def crossable_orders(self, symbol: str, side: Side | str, limit_fen: int, cap: int) -> int:
        """How many resting orders of the opposite side an incoming `side` order
        limited at `limit_fen` could meet (asks at or below it for a buy, bids at or
        above it for a sell), counted best first and at most `cap`. Its owner's own
        orders count too, so it bounds the fills from above. Changes nothing.
        Raises KeyError for an unknown symbol, like `book`."""
        book = self._markets[symbol].book
        return book.crossable_orders(_SIDES[side], limit_fen, cap)

    # -------------------------------------------------------------- orders

    def _cancel_all(self, c: CancelAll) -> list[Any]:
        if c.symbol is None:
            # sorted by symbol, not by insertion: a restored engine lists them so
            markets = [self._markets[s] for s in sorted(self._markets)]
        else:
            m = self._markets.get(c.symbol)
            if m is None:
                return _rejected(c, "cancel_all", _UNKNOWN_SYMBOL)
            markets = [m]
        owner = c.owner
        found = sorted(
            ((order_id, m.book) for m in markets for order_id in m.book.order_ids_of(owner)),
            key=_first,
        )
        out: list[Any] = []
        for order_id, book in found:
            book.cancel(c.seq, c.ts_us, order_id, _USER, out)
        return out

    def _amend(self, c: AmendOrder) -> list[Any]:
        m = self._markets.get(c.symbol)
        if m is None:
            return _rejected(c, "amend", _UNKNOWN_SYMBOL)
        if m.halted:
            return _rejected(c, "amend", _MARKET_HALTED)
        order = m.book.orders.get(c.order_id)
        if order is None:
            return _rejected(c, "amend", _ORDER_NOT_OPEN)
        if order.owner != c.owner:
            return _rejected(c, "amend", _NOT_ORDER_OWNER)
        quantity, price = order.remaining_kg, order.price_fen
        if c.quantity_kg is not None:
            quantity = c.quantity_kg
            problem = _quantity_problem(m, quantity)
            if problem is not None:
                return _rejected(c, "amend", problem)
        if c.price_fen is not None:
            price = c.price_fen
            problem = _price_problem(m, price)
            if problem is not None:
                return _rejected(c, "amend", problem)
        if quantity == order.remaining_kg and price == order.price_fen:
            return _rejected(c, "amend", RejectReason.NO_CHANGE)
        if order.post_only and price != order.price_fen and _crosses(m.book, order.side, price):
            return _rejected(c, "amend", _POST_ONLY_WOULD_CROSS)
        out: list[Any] = []
        m.book.amend(c.seq, c.ts_us, c.order_id, quantity, price, out)
        return out

    # ------------------------------------------------------ administration

    def _add_instrument(self, c: AddInstrument) -> list[Any]:
        if c.symbol in self._markets:
            return _rejected(c, "add_instrument", RejectReason.INSTRUMENT_EXISTS)
        valid = (
            c.tick_fen > 0
            and c.lot_kg > 0
            and c.reference_price_fen > 0
            and c.reference_price_fen % c.tick_fen == 0
            and 0 < c.band_bps <= BPS_DENOMINATOR
        )
        if not valid:
            return _rejected(c, "add_instrument", RejectReason.INVALID_INSTRUMENT)
        instrument = Instrument(
            c.symbol,
            c.pollutant,
            c.vintage,
            c.tick_fen,
            c.lot_kg,
            c.reference_price_fen,
            c.band_bps,
        )
        self._markets[c.symbol] = _Market(instrument, self.book_class(c.symbol, self.stp))
        return [
            InstrumentAdded(
                c.seq, c.ts_us, c.symbol, c.pollutant, c.vintage, c.tick_fen, c.lot_kg,
                c.reference_price_fen, c.band_bps,
            )
        ]  # fmt: skip

    def _halt(self, c: HaltMarket) -> list[Any]:
        m = self._markets.get(c.symbol)
        if m is None:
            return _rejected(c, "halt_market", _UNKNOWN_SYMBOL)
        m.set_halted(True)
        out: list[Any] = [MarketHalted(c.seq, c.ts_us, c.symbol)]
        if c.cancel_orders:
            m.book.cancel_all(c.seq, c.ts_us, CancelReason.HALT, out)
        return out

    def _resume(self, c: ResumeMarket) -> list[Any]:
        m = self._markets.get(c.symbol)
        if m is None:
            return _rejected(c, "resume_market", _UNKNOWN_SYMBOL)
        m.set_halted(False)
        return [MarketResumed(c.seq, c.ts_us, c.symbol)]

    def _set_reference(self, c: SetReferencePrice) -> list[Any]:
        m = self._markets.get(c.symbol)
        if m is None:
            return _rejected(c, "set_reference_price", _UNKNOWN_SYMBOL)
        if c.price_fen <= 0:
            return _rejected(c, "set_reference_price", _INVALID_PRICE)
        if c.price_fen % m.tick_fen:
            return _rejected(c, "set_reference_price", _PRICE_OFF_TICK)
        m.set_reference(c.price_fen)
        return [ReferencePriceSet(c.seq, c.ts_us, c.symbol, c.price_fen)]

    def _close_session(self, c: CloseSession) -> list[Any]:
        m = self._markets.get(c.symbol)
        if m is None:
            return _rejected(c, "close_session", _UNKNOWN_SYMBOL)
        out: list[Any] = []
        book = m.book
        expired = book.expire_day_orders(c.seq, c.ts_us, out)
        if book.session_last_price_fen:
            m.set_reference(book.session_last_price_fen)
            book.session_last_price_fen = 0
        reference = m.instrument.reference_price_fen
        out.append(SessionClosed(c.seq, c.ts_us, c.symbol, reference, expired))
        return out

    # ----------------------------------------------- state, hash, restore

    def snapshot(self) -> bytes:
        """Canonical bytes of the whole state: equal states give equal bytes,
        whichever book implementation holds them."""
        markets = []
        for symbol in sorted(self._markets):
            m = self._markets[symbol]
            i = m.instrument
            markets.append(
                {
                    "symbol": i.symbol,
                    "pollutant": i.pollutant,
                    "vintage": i.vintage,
                    "tick_fen": i.tick_fen,
                    "lot_kg": i.lot_kg,
                    "reference_price_fen": i.reference_price_fen,
                    "band_bps": i.band_bps,
                    "status": str(i.status),
                    "book": m.book.snapshot_state(),
                }
            )
        state = {"format": SNAPSHOT_FORMAT, "stp": str(self.stp), "markets": markets}
        return json.dumps(state, sort_keys=True, separators=(",", ":")).encode()

    def state_hash(self) -> str:
        return hashlib.sha256(self.snapshot()).hexdigest()

    @classmethod
    def restore(cls, data: bytes, book_class: type[OrderBook] | None = None) -> MatchingEngine:
        state = json.loads(data)
        if state.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unsupported snapshot format {state.get('format')!r}")
        engine = cls(book_class, SelfTradePrevention(state["stp"]))
        book_class = engine.book_class
        for s in state["markets"]:
            instrument = Instrument(
                s["symbol"], s["pollutant"], s["vintage"], s["tick_fen"], s["lot_kg"],
                s["reference_price_fen"], s["band_bps"], MarketStatus(s["status"]),
            )  # fmt: skip
            book = book_class(instrument.symbol, engine.stp)
            book.restore_state(s["book"])
            engine._markets[instrument.symbol] = _Market(instrument, book)
        return engine

    def check_invariants(self) -> None:
        for symbol, m in self._markets.items():
            if m.book.symbol != symbol or m.instrument.symbol != symbol:
                raise AssertionError(f"market {symbol} holds another symbol's book")
            if (m.band_low, m.band_high) != m.instrument.band():
                raise AssertionError(f"market {symbol} band cache is stale")
            m.book.check_invariants()


PyMatchingEngine = MatchingEngine
"""The pure-Python engine, always (its default book is the pure-Python book too);
`MatchingEngine` is its compiled twin when that was built."""
IMPLEMENTATION = "pure"
"""Which implementation `MatchingEngine` (with its default book) is: "compiled" or "pure"."""

if __name__ == "matching_engine.engine":
    # setup.py compiles this very file with Cython as matching_engine._engine_c
    # (declarations in _engine_c.pxd), as it compiles book.py: see there.
    from matching_engine.book import PyFastBook

    _DEFAULT_BOOK = PyFastBook
    try:
        from matching_engine._engine_c import MatchingEngine
    except ImportError:
        pass
    else:
        if FastBook is not PyFastBook:
            IMPLEMENTATION = "compiled"
