"""The order-book interface and the fast book behind it.

The engine validates every command against the instrument's rules before it
calls a book, so book methods trust their arguments. Both books append their
events to the caller's list `out` and must produce identical streams; the
event order is written down in events.py.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, NamedTuple, Protocol

from matching_engine.errors import InvariantViolation
from matching_engine.events import (
    BookLevelChanged,
    OrderCancelled,
    OrderReduced,
    OrderReplaced,
    SelfTradePrevented,
    Trade,
    new_event,
)
from matching_engine.types import (
    BUY,
    DAY,
    FOK,
    GTC,
    SELL,
    CancelReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)


class OrderView(NamedTuple):
    """A read-only copy of one resting order."""

    order_id: int
    owner: str
    side: Side
    price_fen: int
    remaining_kg: int
    tif: TimeInForce


class RestingOrder(Protocol):
    """What every book's resting-order records have in common (read-only)."""

    order_id: int
    owner: str
    side: Side
    price_fen: int
    remaining_kg: int
    tif: TimeInForce
    stp: SelfTradePrevention
    post_only: bool


class OrderBook(Protocol):
    symbol: str
    orders: Mapping[int, RestingOrder]
    """Resting orders by id. Read it, never write it: the book owns it."""
    trade_count: int
    """Trades so far in this book; the next trade's id is trade_count + 1."""
    session_last_price_fen: int
    """Price of the last trade since the engine last reset it to 0 (session close)."""

    def __init__(
        self, symbol: str, stp: SelfTradePrevention = SelfTradePrevention.CANCEL_INCOMING
    ) -> None: ...

    def place(
        self,
        seq: int,
        ts_us: int,
        order_id: int,
        owner: str,
        side: Side,
        price_fen: int,
        quantity_kg: int,
        tif: TimeInForce,
        is_market: bool,
        stp: SelfTradePrevention,
        post_only: bool,
        out: list[Any],
    ) -> None:
        """Match an accepted order; rest what remains if GTC/DAY. A market
        order arrives with its band-edge limit in `price_fen`. `stp` is the
        order's own self-trade prevention (the engine has resolved the default);
        a post-only order arrives only when it does not cross."""

    def cancel(
        self, seq: int, ts_us: int, order_id: int, reason: CancelReason, out: list[Any]
    ) -> None: ...

    def amend(
        self, seq: int, ts_us: int, order_id: int, quantity_kg: int, price_fen: int, out: list[Any]
    ) -> None:
        """New remaining quantity and price, at least one of them different."""

    def expire_day_orders(self, seq: int, ts_us: int, out: list[Any]) -> int: ...

    def cancel_all(self, seq: int, ts_us: int, reason: CancelReason, out: list[Any]) -> int: ...

    def order_ids_of(self, owner: str) -> list[int]:
        """Ids of the owner's resting orders, ascending."""

    def owner_of(self, order_id: int) -> str | None: ...

    def get_order(self, order_id: int) -> OrderView | None: ...

    def best_bid(self) -> int | None: ...

    def best_ask(self) -> int | None: ...

    def crossable_orders(self, side: Side, limit_fen: int, cap: int) -> int:
        """Resting orders of the other side an incoming `side` order limited at
        `limit_fen` could meet, best first, at most `cap`. Read-only."""

    def depth(self, n: int = 10) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]: ...

    def snapshot_state(self) -> dict[str, Any]:
        """Canonical plain data: the same for both books given the same state."""

    def restore_state(self, state: dict[str, Any]) -> None: ...

    def check_invariants(self) -> None: ...


def require(condition: object, message: str) -> None:
    if not condition:
        raise InvariantViolation(message)


_new = new_event
_SELF_TRADE = CancelReason.SELF_TRADE
_FOK_NOT_FILLABLE = CancelReason.FOK_NOT_FILLABLE
_IOC_REMAINDER = CancelReason.IOC_REMAINDER
_MARKET_REMAINDER = CancelReason.MARKET_ORDER_REMAINDER
_EXPIRED = CancelReason.EXPIRED
_CANCEL_RESTING = SelfTradePrevention.CANCEL_RESTING
_CANCEL_BOTH = SelfTradePrevention.CANCEL_BOTH


def order_extras(o: Any, default_stp: SelfTradePrevention) -> dict[str, Any] | None:
    """A resting order's snapshot fields that differ from the defaults, or None.
    Snapshots list them only then, so state written before orders had their own
    self-trade mode and post-only flag keeps its bytes and its hash."""
    extras: dict[str, Any] = {}
    if o.post_only:
        extras["post_only"] = True
    if o.stp is not default_stp:
        extras["stp"] = str(o.stp)
    return extras or None


class _Order:
    """A resting order, linked into its level's FIFO queue."""

    order_id: int
    owner: str
    side: Side
    price_fen: int
    remaining_kg: int
    tif: TimeInForce
    stp: SelfTradePrevention
    post_only: bool
    arrival: int
    level: _Level
    prev: _Order | None
    next: _Order | None

    __slots__ = (
        "arrival",
        "level",
        "next",
        "order_id",
        "owner",
        "post_only",
        "prev",
        "price_fen",
        "remaining_kg",
        "side",
        "stp",
        "tif",
    )


class _Level:
    """One price on one side: a doubly linked FIFO of orders and their total."""

    __slots__ = ("head", "key", "price_fen", "tail", "total_kg")

    def __init__(self, price_fen: int, key: int) -> None:
        self.price_fen = price_fen
        self.key = key
        self.total_kg = 0
        self.head: _Order | None = None
        self.tail: _Order | None = None


class FastBook:
    """Price levels in dicts keyed by a sort key, plus a sorted key list per side.

    The key is the price for bids and minus the price for asks, so on both
    sides the best level is the largest key, sits at the end of the list and
    leaves it with an O(1) pop. New levels mostly appear near the best price,
    so insort moves few elements.
    """

    __slots__ = (
        "_arrivals",
        "_ask_keys",
        "_asks",
        "_bid_keys",
        "_bids",
        "orders",
        "session_last_price_fen",
        "stp",
        "symbol",
        "trade_count",
    )

    def __init__(
        self, symbol: str, stp: SelfTradePrevention = SelfTradePrevention.CANCEL_INCOMING
    ) -> None:
        self.symbol = symbol
        self.stp = SelfTradePrevention(stp)
        self.trade_count = 0
        self.session_last_price_fen = 0
        self.orders: dict[int, _Order] = {}
        self._bids: dict[int, _Level] = {}
        self._asks: dict[int, _Level] = {}
        self._bid_keys: list[int] = []
        self._ask_keys: list[int] = []
        self._arrivals = 0

    # ----------------------------------------------------------- commands

    def place(self, seq, ts_us, order_id, owner, side, price_fen, quantity_kg, tif, is_market,
              stp, post_only, out):  # fmt: skip
        if side is BUY:
            keys = self._ask_keys
            crosses = keys and -keys[-1] <= price_fen
        else:
            keys = self._bid_keys
            crosses = keys and keys[-1] >= price_fen
        remaining = quantity_kg
        if crosses:
            if tif is FOK and not self._fillable(owner, side, price_fen, quantity_kg, stp):
                out.append(
                    _new(
                        OrderCancelled,
                        (seq, ts_us, self.symbol, order_id, owner, side, price_fen,
                         quantity_kg, _FOK_NOT_FILLABLE),
                    )
                )  # fmt: skip
                return
            remaining = self._match(
                seq, ts_us, order_id, owner, side, price_fen, remaining, stp, out
            )
            if remaining <= 0:
                return
        if tif is GTC or tif is DAY:
            # _rest, inlined: this is the path of every passive order.
            if side is BUY:
                levels, keys, key = self._bids, self._bid_keys, price_fen
            else:
                levels, keys, key = self._asks, self._ask_keys, -price_fen
            self._arrivals = arrival = self._arrivals + 1
            # slot stores after __new__: half the cost of an __init__ call (and,
            # compiled, a direct call of the C type's allocator)
            o = _Order.__new__(_Order)
            o.order_id = order_id
            o.owner = owner
            o.side = side
            o.price_fen = price_fen
            o.remaining_kg = remaining
            o.tif = tif
            o.stp = stp
            o.post_only = post_only
            o.arrival = arrival
            o.next = None
            level = levels.get(key)
            if level is None:
                level = levels[key] = _Level(price_fen, key)
                level.head = level.tail = o
                o.prev = None
                level.total_kg = total = remaining
                if not keys or key > keys[-1]:
                    keys.append(key)
                else:
                    insort(keys, key)
            else:
                o.prev = tail = level.tail
                tail.next = level.tail = o
                level.total_kg = total = level.total_kg + remaining
            o.level = level
            self.orders[order_id] = o
            out.append(_new(BookLevelChanged, (seq, self.symbol, side, price_fen, total)))
            return
        if tif is FOK:
            reason = _FOK_NOT_FILLABLE
        else:
            reason = _MARKET_REMAINDER if is_market else _IOC_REMAINDER
        out.append(
            _new(
                OrderCancelled,
                (seq, ts_us, self.symbol, order_id, owner, side, price_fen, remaining, reason),
            )
        )

    def cancel(self, seq, ts_us, order_id, reason, out):
        o = self.orders.pop(order_id)
        side, price, remaining = o.side, o.price_fen, o.remaining_kg
        symbol = self.symbol
        out.append(
            _new(
                OrderCancelled,
                (seq, ts_us, symbol, order_id, o.owner, side, price, remaining, reason),
            )
        )
        # _remove, inlined: every cancel passes here.
        level = o.level
        prev, nxt = o.prev, o.next
        if prev is None:
            level.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            level.tail = prev
        else:
            nxt.prev = prev
        level.total_kg = total = level.total_kg - remaining
        if level.head is None:
            keys = self._bid_keys if side is BUY else self._ask_keys
            key = level.key
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
            del (self._bids if side is BUY else self._asks)[key]
        out.append(_new(BookLevelChanged, (seq, symbol, side, price, total)))

    def amend(self, seq, ts_us, order_id, quantity_kg, price_fen, out):
        o = self.orders[order_id]
        old_remaining = o.remaining_kg
        old_price = o.price_fen
        symbol = self.symbol
        if price_fen == old_price:
            level = o.level
            if quantity_kg < old_remaining:
                out.append(
                    _new(
                        OrderReduced,
                        (seq, ts_us, symbol, order_id, o.owner, o.side, old_price,
                         old_remaining, quantity_kg),
                    )
                )  # fmt: skip
            else:
                out.append(
                    _new(
                        OrderReplaced,
                        (seq, ts_us, symbol, order_id, o.owner, o.side, old_price, old_price,
                         old_remaining, quantity_kg),
                    )
                )  # fmt: skip
                self._move_to_back(o)
            o.remaining_kg = quantity_kg
            level.total_kg += quantity_kg - old_remaining
            out.append(_new(BookLevelChanged, (seq, symbol, o.side, old_price, level.total_kg)))
            return
        owner, side, tif, stp = o.owner, o.side, o.tif, o.stp
        out.append(
            _new(
                OrderReplaced,
                (seq, ts_us, symbol, order_id, owner, side, old_price, price_fen,
                 old_remaining, quantity_kg),
            )
        )  # fmt: skip
        self._remove(seq, o, out)
        remaining = quantity_kg
        if side is BUY:
            keys = self._ask_keys
            crosses = keys and -keys[-1] <= price_fen
        else:
            keys = self._bid_keys
            crosses = keys and keys[-1] >= price_fen
        if crosses:
            remaining = self._match(
                seq, ts_us, order_id, owner, side, price_fen, remaining, stp, out
            )
        if remaining > 0:
            self._rest(seq, order_id, owner, side, price_fen, remaining, tif, stp, o.post_only, out)

    def expire_day_orders(self, seq, ts_us, out):
        day_ids = sorted(oid for oid, o in self.orders.items() if o.tif is DAY)
        for oid in day_ids:
            self.cancel(seq, ts_us, oid, _EXPIRED, out)
        return len(day_ids)

    def cancel_all(self, seq, ts_us, reason, out):
        ids = sorted(self.orders)
        for oid in ids:
            self.cancel(seq, ts_us, oid, reason, out)
        return len(ids)

    def order_ids_of(self, owner):
        # A scan rather than a per-owner index: cancel-all is rare, and an index
        # would cost every place, fill and cancel.
        return sorted(oid for oid, o in self.orders.items() if o.owner == owner)

    # ----------------------------------------------------------- matching

    def _fillable(self, owner, side, limit_fen, quantity_kg, stp) -> bool:
        if side is BUY:
            levels, keys, limit_key = self._asks, self._ask_keys, -limit_fen
        else:
            levels, keys, limit_key = self._bids, self._bid_keys, limit_fen
        available = 0
        for key in reversed(keys):
            if key < limit_key:
                return False
            o = levels[key].head
            while o is not None:
                if o.owner == owner:
                    if stp is not _CANCEL_RESTING:
                        return False
                else:
                    available += o.remaining_kg
                    if available >= quantity_kg:
                        return True
                o = o.next
        return False

    def _match(self, seq, ts_us, order_id, owner, side, limit_fen, remaining, stp, out) -> int:
        """Trade against the opposite side; return what is left of the incoming
        order, or -1 when self-trade prevention cancelled it."""
        if side is BUY:
            levels, keys, limit_key, maker_side = self._asks, self._ask_keys, -limit_fen, SELL
        else:
            levels, keys, limit_key, maker_side = self._bids, self._bid_keys, limit_fen, BUY
        symbol = self.symbol
        orders = self.orders
        cancel_resting = stp is _CANCEL_RESTING
        append = out.append
        trade_count = self.trade_count
        traded_price = 0
        # Makers are always consumed from the head of a level, so the loop only
        # walks forward and relinks the head once when it leaves the level.
        # Each removed maker drops its forward link (and an emptied level its
        # tail) so that no reference cycle outlives it: refcounting frees it
        # at once instead of leaving work for the cyclic collector.
        while keys and remaining and keys[-1] >= limit_key:
            level = levels[keys[-1]]
            price = level.price_fen
            total = level.total_kg
            maker = level.head
            while maker is not None:
                maker_owner = maker.owner
                if maker_owner == owner:
                    if not cancel_resting:
                        self.trade_count = trade_count
                        if traded_price:
                            self.session_last_price_fen = traded_price
                        if stp is _CANCEL_BOTH:
                            maker_remaining = maker.remaining_kg
                            total -= maker_remaining
                            del orders[maker.order_id]
                            append(
                                _new(
                                    SelfTradePrevented,
                                    (seq, ts_us, symbol, order_id, maker.order_id, owner, "both"),
                                )
                            )
                            append(
                                _new(
                                    OrderCancelled,
                                    (seq, ts_us, symbol, maker.order_id, maker_owner, maker_side,
                                     price, maker_remaining, _SELF_TRADE),
                                )
                            )  # fmt: skip
                            maker.next, maker = None, maker.next
                            level.total_kg = total
                            if maker is None:
                                level.tail = None
                                del levels[keys.pop()]
                            else:
                                level.head = maker
                                maker.prev = None
                            append(_new(BookLevelChanged, (seq, symbol, maker_side, price, total)))
                        else:
                            if total != level.total_kg:
                                level.total_kg = total
                                level.head = maker
                                maker.prev = None
                                append(
                                    _new(BookLevelChanged, (seq, symbol, maker_side, price, total))
                                )
                            append(
                                _new(
                                    SelfTradePrevented,
                                    (seq, ts_us, symbol, order_id, maker.order_id, owner,
                                     "incoming"),
                                )
                            )  # fmt: skip
                        append(
                            _new(
                                OrderCancelled,
                                (seq, ts_us, symbol, order_id, owner, side, limit_fen,
                                 remaining, _SELF_TRADE),
                            )
                        )  # fmt: skip
                        return -1
                    maker_remaining = maker.remaining_kg
                    total -= maker_remaining
                    del orders[maker.order_id]
                    append(
                        _new(
                            SelfTradePrevented,
                            (seq, ts_us, symbol, order_id, maker.order_id, owner, "resting"),
                        )
                    )
                    append(
                        _new(
                            OrderCancelled,
                            (seq, ts_us, symbol, maker.order_id, maker_owner, maker_side,
                             price, maker_remaining, _SELF_TRADE),
                        )
                    )  # fmt: skip
                    maker.next, maker = None, maker.next
                    continue
                maker_remaining = maker.remaining_kg
                trade_count += 1
                traded_price = price
                if maker_remaining <= remaining:
                    remaining -= maker_remaining
                    total -= maker_remaining
                    del orders[maker.order_id]
                    append(
                        _new(
                            Trade,
                            (seq, ts_us, symbol, trade_count, price, maker_remaining, side,
                             maker.order_id, maker_owner, 0, order_id, owner, remaining),
                        )
                    )  # fmt: skip
                    maker.next, maker = None, maker.next
                    if not remaining:
                        break
                else:
                    maker_remaining -= remaining
                    maker.remaining_kg = maker_remaining
                    total -= remaining
                    append(
                        _new(
                            Trade,
                            (seq, ts_us, symbol, trade_count, price, remaining, side,
                             maker.order_id, maker_owner, maker_remaining, order_id, owner, 0),
                        )
                    )  # fmt: skip
                    remaining = 0
                    break
            level.total_kg = total
            if maker is None:
                level.tail = None
                del levels[keys.pop()]
            else:
                level.head = maker
                maker.prev = None
            append(_new(BookLevelChanged, (seq, symbol, maker_side, price, total)))
        self.trade_count = trade_count
        if traded_price:
            self.session_last_price_fen = traded_price
        return remaining

    # ------------------------------------------------------ book plumbing

    def _rest(self, seq, order_id, owner, side, price_fen, remaining, tif, stp, post_only, out):
        if side is BUY:
            levels, keys, key = self._bids, self._bid_keys, price_fen
        else:
            levels, keys, key = self._asks, self._ask_keys, -price_fen
        self._arrivals = arrival = self._arrivals + 1
        o = _Order.__new__(_Order)
        o.order_id = order_id
        o.owner = owner
        o.side = side
        o.price_fen = price_fen
        o.remaining_kg = remaining
        o.tif = tif
        o.stp = stp
        o.post_only = post_only
        o.arrival = arrival
        o.next = None
        level = levels.get(key)
        if level is None:
            level = levels[key] = _Level(price_fen, key)
            level.head = level.tail = o
            o.prev = None
            level.total_kg = total = remaining
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        else:
            o.prev = tail = level.tail
            tail.next = level.tail = o
            level.total_kg = total = level.total_kg + remaining
        o.level = level
        self.orders[order_id] = o
        out.append(_new(BookLevelChanged, (seq, self.symbol, side, price_fen, total)))

    def _remove(self, seq, o: _Order, out) -> None:
        """Unlink a resting order and report its level's new total."""
        del self.orders[o.order_id]
        level = o.level
        prev, nxt = o.prev, o.next
        if prev is None:
            level.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            level.tail = prev
        else:
            nxt.prev = prev
        level.total_kg -= o.remaining_kg
        if level.head is None:
            if o.side is BUY:
                levels, keys = self._bids, self._bid_keys
            else:
                levels, keys = self._asks, self._ask_keys
            key = level.key
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
            del levels[key]
        out.append(_new(BookLevelChanged, (seq, self.symbol, o.side, o.price_fen, level.total_kg)))

    def _move_to_back(self, o: _Order) -> None:
        self._arrivals += 1
        o.arrival = self._arrivals
        level = o.level
        if o is level.tail:
            return
        prev, nxt = o.prev, o.next
        if prev is None:
            level.head = nxt
        else:
            prev.next = nxt
        nxt.prev = prev
        tail = level.tail
        tail.next = o
        o.prev = tail
        o.next = None
        level.tail = o

    # ------------------------------------------------------------ queries

    def owner_of(self, order_id: int) -> str | None:
        o = self.orders.get(order_id)
        return None if o is None else o.owner

    def get_order(self, order_id: int) -> OrderView | None:
        o = self.orders.get(order_id)
        if o is None:
            return None
        return OrderView(o.order_id, o.owner, o.side, o.price_fen, o.remaining_kg, o.tif)

    def crossable_orders(self, side, limit_fen, cap) -> int:
        # Levels keep no order count (it would cost every place and fill), so the
        # walk follows each crossing level's queue, and stops as soon as it has `cap`.
        if side is BUY:
            levels, keys, limit_key = self._asks, self._ask_keys, -limit_fen
        else:
            levels, keys, limit_key = self._bids, self._bid_keys, limit_fen
        n = 0
        for key in reversed(keys):
            if key < limit_key or n >= cap:
                break
            o = levels[key].head
            while o is not None and n < cap:
                n += 1
                o = o.next
        return n

    def best_bid(self) -> int | None:
        return self._bid_keys[-1] if self._bid_keys else None

    def best_ask(self) -> int | None:
        return -self._ask_keys[-1] if self._ask_keys else None

    def depth(self, n: int = 10) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return self._depth(self._bids, self._bid_keys, n), self._depth(
            self._asks, self._ask_keys, n
        )

    @staticmethod
    def _depth(levels, keys, n):
        best_first = reversed(keys[-n:]) if n > 0 else ()
        return [(levels[k].price_fen, levels[k].total_kg) for k in best_first]

    def _queue(self, level: _Level) -> list[_Order]:
        queue = []
        o = level.head
        while o is not None:
            queue.append(o)
            o = o.next
        return queue

    # ------------------------------------------------- snapshot, invariants

    def snapshot_state(self) -> dict[str, Any]:
        default_stp = self.stp

        def entry(o):
            row = [o.order_id, o.owner, o.remaining_kg, str(o.tif)]
            extras = order_extras(o, default_stp)
            if extras is not None:
                row.append(extras)
            return row

        def side_state(levels, keys):
            return [
                [levels[k].price_fen, [entry(o) for o in self._queue(levels[k])]]
                for k in reversed(keys)
            ]

        return {
            "symbol": self.symbol,
            "trade_count": self.trade_count,
            "session_last_price_fen": self.session_last_price_fen,
            "bids": side_state(self._bids, self._bid_keys),
            "asks": side_state(self._asks, self._ask_keys),
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        require(not self.orders, "restore_state needs an empty book")
        self.trade_count = state["trade_count"]
        self.session_last_price_fen = state["session_last_price_fen"]
        discard: list[Any] = []
        for side, levels in ((BUY, state["bids"]), (SELL, state["asks"])):
            for price_fen, queue in levels:
                for order_id, owner, remaining_kg, tif, *more in queue:
                    extras = more[0] if more else {}
                    stp = SelfTradePrevention(extras.get("stp", self.stp))
                    self._rest(0, order_id, owner, side, price_fen, remaining_kg,
                               TimeInForce(tif), stp, extras.get("post_only", False),
                               discard)  # fmt: skip

    def check_invariants(self) -> None:
        seen = 0
        for side, levels, keys, sign in (
            (BUY, self._bids, self._bid_keys, 1),
            (SELL, self._asks, self._ask_keys, -1),
        ):
            require(keys == sorted(set(keys)), f"{side} keys not strictly sorted")
            require(set(keys) == set(levels), f"{side} key list and level map differ")
            for key, level in levels.items():
                require(
                    level.key == key and level.price_fen == sign * key, f"level {key} keyed wrong"
                )
                require(level.price_fen > 0, f"level {key} has a non-positive price")
                queue = self._queue(level)
                require(queue, f"empty level {level.price_fen} left in the book")
                require(level.tail is queue[-1], f"level {level.price_fen} tail is not last")
                prev = None
                for o in queue:
                    require(o.prev is prev, f"order {o.order_id} prev link broken")
                    require(o.level is level, f"order {o.order_id} points at another level")
                    require(o.side is side and o.price_fen == level.price_fen,
                            f"order {o.order_id} on the wrong level")  # fmt: skip
                    require(o.remaining_kg > 0, f"order {o.order_id} rests with nothing left")
                    require(o.tif is GTC or o.tif is DAY, f"order {o.order_id} rests as {o.tif}")
                    require(o.stp.__class__ is SelfTradePrevention,
                            f"order {o.order_id} has no self-trade mode")  # fmt: skip
                    require(self.orders.get(o.order_id) is o, f"order {o.order_id} not indexed")
                    require(prev is None or prev.arrival < o.arrival,
                            f"level {level.price_fen} not FIFO at order {o.order_id}")  # fmt: skip
                    prev = o
                require(level.total_kg == sum(o.remaining_kg for o in queue),
                        f"level {level.price_fen} total does not add up")  # fmt: skip
                seen += len(queue)
        require(seen == len(self.orders), "index holds orders that are not in any level")
        bid, ask = self.best_bid(), self.best_ask()
        require(bid is None or ask is None or bid < ask, f"book crossed: bid {bid} >= ask {ask}")
        require(self.trade_count >= 0 and self.session_last_price_fen >= 0, "negative counters")


PyFastBook = FastBook
"""The pure-Python book, always; `FastBook` is its compiled twin when that was built."""

if __name__ == "matching_engine.book":
    # setup.py compiles this very file with Cython as matching_engine._book_c (C
    # fields and typed locals from _book_c.pxd, nothing else changed). When that
    # module was built, FastBook names it; without a compiler the pure class runs.
    # tests/unit/engine and tests/property/engine run both and compare them.
    with suppress(ImportError):
        from matching_engine._book_c import FastBook
