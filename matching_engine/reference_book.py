"""The reference book: one plain list of resting orders, sorted again on every
look. Written to be obviously right, not fast; the fast book must produce the
same events and the same snapshot for every command stream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from matching_engine.book import OrderView, order_extras, require
from matching_engine.events import (
    BookLevelChanged,
    OrderCancelled,
    OrderReduced,
    OrderReplaced,
    SelfTradePrevented,
    Trade,
)
from matching_engine.types import (
    BUY,
    DAY,
    FOK,
    GTC,
    IOC,
    SELL,
    CancelReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)


@dataclass
class _Order:
    order_id: int
    owner: str
    side: Side
    price_fen: int
    remaining_kg: int
    tif: TimeInForce
    stp: SelfTradePrevention = SelfTradePrevention.CANCEL_INCOMING
    post_only: bool = False
    arrival: int = 0


class ReferenceBook:
    def __init__(
        self, symbol: str, stp: SelfTradePrevention = SelfTradePrevention.CANCEL_INCOMING
    ) -> None:
        self.symbol = symbol
        self.stp = SelfTradePrevention(stp)
        self.trade_count = 0
        self.session_last_price_fen = 0
        self.resting: list[_Order] = []
        self._arrivals = 0

    # ------------------------------------------------------------ helpers

    def _queue(self, side: Side) -> list[_Order]:
        """Resting orders of one side in priority order: best price, then arrival."""
        mine = [o for o in self.resting if o.side is side]
        if side is BUY:
            return sorted(mine, key=lambda o: (-o.price_fen, o.arrival))
        return sorted(mine, key=lambda o: (o.price_fen, o.arrival))

    def _level_total(self, side: Side, price_fen: int) -> int:
        return sum(
            o.remaining_kg for o in self.resting if o.side is side and o.price_fen == price_fen
        )

    @property
    def orders(self) -> dict[int, _Order]:
        return {o.order_id: o for o in self.resting}

    def _find(self, order_id: int) -> _Order | None:
        for o in self.resting:
            if o.order_id == order_id:
                return o
        return None

    def _rest(self, order: _Order) -> None:
        self._arrivals += 1
        order.arrival = self._arrivals
        self.resting.append(order)

    def _level_event(self, seq: int, side: Side, price_fen: int) -> BookLevelChanged:
        return BookLevelChanged(
            seq, self.symbol, side, price_fen, self._level_total(side, price_fen)
        )

    @staticmethod
    def _crosses(taker: _Order, maker_price_fen: int) -> bool:
        if taker.side is BUY:
            return maker_price_fen <= taker.price_fen
        return maker_price_fen >= taker.price_fen

    def _cancelled(self, seq: int, ts_us: int, o: _Order, reason: CancelReason) -> OrderCancelled:
        return OrderCancelled(
            seq,
            ts_us,
            self.symbol,
            o.order_id,
            o.owner,
            o.side,
            o.price_fen,
            o.remaining_kg,
            reason,
        )

    # ----------------------------------------------------------- matching

    def _fillable(self, taker: _Order) -> bool:
        opposite = SELL if taker.side is BUY else BUY
        available = 0
        for maker in self._queue(opposite):
            if not self._crosses(taker, maker.price_fen):
                break
            if maker.owner == taker.owner:
                if taker.stp is not SelfTradePrevention.CANCEL_RESTING:
                    break
                continue
            available += maker.remaining_kg
        return available >= taker.remaining_kg

    def _match(self, seq: int, ts_us: int, taker: _Order, out: list[Any]) -> bool:
        """Trade `taker` against the book; True if self-trade prevention cancelled it."""
        opposite = SELL if taker.side is BUY else BUY
        while taker.remaining_kg > 0:
            queue = self._queue(opposite)
            if not queue or not self._crosses(taker, queue[0].price_fen):
                return False
            price = queue[0].price_fen
            had_fills = False
            for maker in [o for o in queue if o.price_fen == price]:
                if taker.remaining_kg == 0:
                    break
                if maker.owner == taker.owner:
                    if taker.stp is SelfTradePrevention.CANCEL_BOTH:
                        self.resting.remove(maker)
                        out.append(
                            SelfTradePrevented(
                                seq, ts_us, self.symbol, taker.order_id, maker.order_id,
                                taker.owner, "both",
                            )
                        )  # fmt: skip
                        out.append(self._cancelled(seq, ts_us, maker, CancelReason.SELF_TRADE))
                        out.append(self._level_event(seq, opposite, price))
                        out.append(self._cancelled(seq, ts_us, taker, CancelReason.SELF_TRADE))
                        return True
                    if taker.stp is SelfTradePrevention.CANCEL_INCOMING:
                        if had_fills:
                            out.append(self._level_event(seq, opposite, price))
                        out.append(
                            SelfTradePrevented(
                                seq, ts_us, self.symbol, taker.order_id, maker.order_id,
                                taker.owner, "incoming",
                            )
                        )  # fmt: skip
                        out.append(self._cancelled(seq, ts_us, taker, CancelReason.SELF_TRADE))
                        return True
                    self.resting.remove(maker)
                    out.append(
                        SelfTradePrevented(
                            seq, ts_us, self.symbol, taker.order_id, maker.order_id,
                            taker.owner, "resting",
                        )
                    )  # fmt: skip
                    out.append(self._cancelled(seq, ts_us, maker, CancelReason.SELF_TRADE))
                    continue
                quantity = min(maker.remaining_kg, taker.remaining_kg)
                maker.remaining_kg -= quantity
                taker.remaining_kg -= quantity
                had_fills = True
                self.trade_count += 1
                self.session_last_price_fen = price
                out.append(
                    Trade(
                        seq, ts_us, self.symbol, self.trade_count, price, quantity, taker.side,
                        maker.order_id, maker.owner, maker.remaining_kg,
                        taker.order_id, taker.owner, taker.remaining_kg,
                    )
                )  # fmt: skip
                if maker.remaining_kg == 0:
                    self.resting.remove(maker)
            out.append(self._level_event(seq, opposite, price))
        return False

    # ----------------------------------------------------------- commands

    def place(
        self, seq, ts_us, order_id, owner, side, price_fen, quantity_kg, tif, is_market,
        stp, post_only, out,
    ) -> None:  # fmt: skip
        taker = _Order(order_id, owner, side, price_fen, quantity_kg, tif, stp, post_only)
        if tif is FOK and not self._fillable(taker):
            out.append(self._cancelled(seq, ts_us, taker, CancelReason.FOK_NOT_FILLABLE))
            return
        if self._match(seq, ts_us, taker, out) or taker.remaining_kg == 0:
            return
        if tif is GTC or tif is DAY:
            self._rest(taker)
            out.append(self._level_event(seq, side, price_fen))
        elif tif is IOC:
            reason = (
                CancelReason.MARKET_ORDER_REMAINDER if is_market else CancelReason.IOC_REMAINDER
            )
            out.append(self._cancelled(seq, ts_us, taker, reason))
        else:
            out.append(self._cancelled(seq, ts_us, taker, CancelReason.FOK_NOT_FILLABLE))

    def cancel(self, seq, ts_us, order_id, reason, out) -> None:
        o = self._find(order_id)
        self.resting.remove(o)
        out.append(self._cancelled(seq, ts_us, o, reason))
        out.append(self._level_event(seq, o.side, o.price_fen))

    def amend(self, seq, ts_us, order_id, quantity_kg, price_fen, out) -> None:
        o = self._find(order_id)
        old_price, old_remaining = o.price_fen, o.remaining_kg
        if price_fen == old_price and quantity_kg < old_remaining:
            o.remaining_kg = quantity_kg
            out.append(
                OrderReduced(
                    seq, ts_us, self.symbol, order_id, o.owner, o.side, old_price,
                    old_remaining, quantity_kg,
                )
            )  # fmt: skip
            out.append(self._level_event(seq, o.side, old_price))
            return
        out.append(
            OrderReplaced(
                seq, ts_us, self.symbol, order_id, o.owner, o.side, old_price, price_fen,
                old_remaining, quantity_kg,
            )
        )  # fmt: skip
        self.resting.remove(o)
        o.remaining_kg = quantity_kg
        if price_fen == old_price:
            self._rest(o)
            out.append(self._level_event(seq, o.side, old_price))
            return
        out.append(self._level_event(seq, o.side, old_price))
        o.price_fen = price_fen
        if self._match(seq, ts_us, o, out) or o.remaining_kg == 0:
            return
        self._rest(o)
        out.append(self._level_event(seq, o.side, price_fen))

    def expire_day_orders(self, seq, ts_us, out) -> int:
        day_ids = sorted(o.order_id for o in self.resting if o.tif is DAY)
        for order_id in day_ids:
            self.cancel(seq, ts_us, order_id, CancelReason.EXPIRED, out)
        return len(day_ids)

    def cancel_all(self, seq, ts_us, reason, out) -> int:
        ids = sorted(o.order_id for o in self.resting)
        for order_id in ids:
            self.cancel(seq, ts_us, order_id, reason, out)
        return len(ids)

    def order_ids_of(self, owner: str) -> list[int]:
        return sorted(o.order_id for o in self.resting if o.owner == owner)

    # ------------------------------------------------------------ queries

    def owner_of(self, order_id: int) -> str | None:
        o = self._find(order_id)
        return None if o is None else o.owner

    def get_order(self, order_id: int) -> OrderView | None:
        o = self._find(order_id)
        if o is None:
            return None
        return OrderView(o.order_id, o.owner, o.side, o.price_fen, o.remaining_kg, o.tif)

    def crossable_orders(self, side: Side, limit_fen: int, cap: int) -> int:
        probe = _Order(0, "", side, limit_fen, 0, IOC)
        n = 0
        for maker in self._queue(SELL if side is BUY else BUY):
            if n >= cap or not self._crosses(probe, maker.price_fen):
                break
            n += 1
        return n

    def best_bid(self) -> int | None:
        queue = self._queue(BUY)
        return queue[0].price_fen if queue else None

    def best_ask(self) -> int | None:
        queue = self._queue(SELL)
        return queue[0].price_fen if queue else None

    def _levels(self, side: Side) -> list[tuple[int, list[_Order]]]:
        levels: list[tuple[int, list[_Order]]] = []
        for o in self._queue(side):
            if not levels or levels[-1][0] != o.price_fen:
                levels.append((o.price_fen, []))
            levels[-1][1].append(o)
        return levels

    def depth(self, n: int = 10) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        def side_depth(side: Side) -> list[tuple[int, int]]:
            levels = self._levels(side)[: max(n, 0)]
            return [(price, sum(o.remaining_kg for o in queue)) for price, queue in levels]

        return side_depth(BUY), side_depth(SELL)

    # ------------------------------------------------- snapshot, invariants

    def snapshot_state(self) -> dict[str, Any]:
        def entry(o: _Order) -> list[Any]:
            row: list[Any] = [o.order_id, o.owner, o.remaining_kg, str(o.tif)]
            extras = order_extras(o, self.stp)
            if extras is not None:
                row.append(extras)
            return row

        def side_state(side: Side) -> list[Any]:
            return [[price, [entry(o) for o in queue]] for price, queue in self._levels(side)]

        return {
            "symbol": self.symbol,
            "trade_count": self.trade_count,
            "session_last_price_fen": self.session_last_price_fen,
            "bids": side_state(BUY),
            "asks": side_state(SELL),
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        require(not self.resting, "restore_state needs an empty book")
        self.trade_count = state["trade_count"]
        self.session_last_price_fen = state["session_last_price_fen"]
        for side, levels in ((BUY, state["bids"]), (SELL, state["asks"])):
            for price_fen, queue in levels:
                for order_id, owner, remaining_kg, tif, *more in queue:
                    extras = more[0] if more else {}
                    self._rest(_Order(order_id, owner, side, price_fen, remaining_kg,
                                      TimeInForce(tif),
                                      SelfTradePrevention(extras.get("stp", self.stp)),
                                      extras.get("post_only", False)))  # fmt: skip

    def check_invariants(self) -> None:
        ids = [o.order_id for o in self.resting]
        require(len(ids) == len(set(ids)), "an order id rests twice")
        arrivals = [o.arrival for o in self.resting]
        require(len(arrivals) == len(set(arrivals)), "two orders share an arrival")
        for o in self.resting:
            require(o.remaining_kg > 0, f"order {o.order_id} rests with nothing left")
            require(o.price_fen > 0, f"order {o.order_id} rests at a non-positive price")
            require(o.tif is GTC or o.tif is DAY, f"order {o.order_id} rests as {o.tif}")
        bid, ask = self.best_bid(), self.best_ask()
        require(bid is None or ask is None or bid < ask, f"book crossed: bid {bid} >= ask {ask}")
        require(self.trade_count >= 0 and self.session_last_price_fen >= 0, "negative counters")
