"""Random command streams through the fast and the reference book side by side.

The fast book runs twice: compiled (the engine's default when setup.py built it)
and pure Python (PyMatchingEngine with PyFastBook). All three must emit the same
events and reach the same state hash after every command; every book's invariants
hold after every step; every kilogram an order was accepted for is traded,
cancelled or still resting; a replay of the stream is identical, and so is a
restore from a snapshot taken part way through.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from matching_engine.book import FastBook, PyFastBook
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
from matching_engine.engine import MatchingEngine, PyMatchingEngine
from matching_engine.events import (
    OrderAccepted,
    OrderCancelled,
    OrderReduced,
    OrderRejected,
    OrderReplaced,
    Trade,
)
from matching_engine.reference_book import ReferenceBook
from matching_engine.types import (
    BUY,
    SELL,
    OrderType,
    SelfTradePrevention,
    TimeInForce,
)

SYMBOL = "NOX-2025"
# tick 10, lot 100, reference 10000, band ±5%: 9500..10500
PRICES = [9_950, 9_960, 9_970, 9_980, 9_990, 10_000, 10_010, 10_020, 10_030, 10_040, 10_050]
ODD_PRICES = [0, 9_985, 9_490, 10_510, 10_500, 9_500]  # rejects and the band edges
QUANTITIES = [100, 200, 300, 500, 800]
ODD_QUANTITIES = [0, -100, 150]
OWNERS = ["a", "b", "c"]

prices = st.one_of(st.sampled_from(PRICES), st.sampled_from(PRICES), st.sampled_from(ODD_PRICES))
quantities = st.one_of(st.sampled_from(QUANTITIES), st.sampled_from(ODD_QUANTITIES))


def tagged(events: list[Any]) -> list[tuple[str, Any]]:
    """NamedTuples of different classes compare equal as tuples; the name keeps them apart."""
    return [(type(e).__name__, e) for e in events]


class TwoBooks(RuleBasedStateMachine):
    stp = SelfTradePrevention.CANCEL_INCOMING
    order_ids = Bundle("order_ids")

    def __init__(self) -> None:
        super().__init__()
        self.fast = MatchingEngine(FastBook, self.stp)
        self.reference = MatchingEngine(ReferenceBook, self.stp)
        # the same book's pure-Python source, in the pure-Python engine
        self.pure = PyMatchingEngine(PyFastBook, self.stp)
        self.seq = 0
        self.next_order_id = 1
        self.owners: dict[int, str] = {}
        self.history: list[tuple[Any, list[tuple[str, Any]]]] = []
        self.snapshot_at: tuple[int, bytes] | None = None
        # set while a command is in flight, so teardown does not bury a failed step
        self.step_failed = False
        # per order: kilograms committed (accepted, then amended) and what became of them
        self.committed_kg: dict[int, int] = defaultdict(int)
        self.traded_kg: dict[int, int] = defaultdict(int)
        self.cancelled_kg: dict[int, int] = defaultdict(int)

    def send(self, cmd_class: type, **fields: Any) -> list[Any]:
        self.seq += 1
        self.step_failed = True
        fields.setdefault("symbol", SYMBOL)
        cmd = cmd_class(seq=self.seq, ts_us=self.seq * 1_000, **fields)
        fast_events = self.fast.process(cmd)
        reference_events = self.reference.process(cmd)
        pure_events = self.pure.process(cmd)
        assert tagged(fast_events) == tagged(reference_events), cmd
        assert tagged(fast_events) == tagged(pure_events), cmd
        self.fast.check_invariants()
        self.reference.check_invariants()
        self.pure.check_invariants()
        assert self.fast.state_hash() == self.reference.state_hash(), cmd
        assert self.fast.state_hash() == self.pure.state_hash(), cmd
        self.history.append((cmd, tagged(fast_events)))
        self.account(fast_events)
        self.step_failed = False
        return fast_events

    def account(self, events: list[Any]) -> None:
        for e in events:
            if isinstance(e, OrderAccepted):
                self.committed_kg[e.order_id] += e.quantity_kg
            elif isinstance(e, (OrderReduced, OrderReplaced)):
                self.committed_kg[e.order_id] += e.new_remaining_kg - e.old_remaining_kg
            elif isinstance(e, Trade):
                self.traded_kg[e.maker_order_id] += e.quantity_kg
                self.traded_kg[e.taker_order_id] += e.quantity_kg
            elif isinstance(e, OrderCancelled):
                self.cancelled_kg[e.order_id] += e.cancelled_kg

    @initialize()
    def add_instrument(self) -> None:
        events = self.send(
            AddInstrument, pollutant="NOx", vintage=2025, tick_fen=10, lot_kg=100,
            reference_price_fen=10_000, band_bps=500,
        )  # fmt: skip
        assert type(events[0]).__name__ == "InstrumentAdded"

    @rule(
        target=order_ids,
        owner=st.sampled_from(OWNERS),
        side=st.sampled_from([BUY, SELL]),
        order_type=st.sampled_from([OrderType.LIMIT] * 4 + [OrderType.MARKET]),
        price=prices,
        quantity=quantities,
        tif=st.sampled_from(list(TimeInForce)),
        stp=st.sampled_from([None, *SelfTradePrevention]),
        post_only=st.sampled_from([False, False, False, True]),
    )
    def place(self, owner, side, order_type, price, quantity, tif, stp, post_only):
        order_id = self.next_order_id
        self.next_order_id += 1
        self.owners[order_id] = owner
        limit = price
        if order_type is OrderType.MARKET:
            low, high = self.fast.instrument(SYMBOL).band()
            limit = high if side is BUY else low
        could_meet = self.fast.crossable_orders(SYMBOL, side, limit, 10**6)
        events = self.send(
            PlaceOrder, order_id=order_id, owner=owner, side=side, type=order_type,
            price_fen=price, quantity_kg=quantity, tif=tif, stp=stp, post_only=post_only,
        )  # fmt: skip
        # The settlement's rounding reserve relies on it: no more fills than this.
        assert sum(1 for e in events if isinstance(e, Trade)) <= could_meet
        if post_only:
            # a post-only order never takes: refused, or it rests whole
            assert not any(isinstance(e, (Trade, OrderCancelled)) for e in events), events
            if not isinstance(events[0], OrderRejected):
                assert self.fast.book(SYMBOL).orders[order_id].remaining_kg == quantity
        return order_id

    @rule(order_id=order_ids, side=st.sampled_from([BUY, SELL]))
    def place_with_a_live_id(self, order_id, side):
        if order_id not in self.fast.book(SYMBOL).orders:
            return
        events = self.send(
            PlaceOrder, order_id=order_id, owner="z", side=side, type=OrderType.LIMIT,
            price_fen=10_000, quantity_kg=100, tif=TimeInForce.GTC,
        )  # fmt: skip
        assert isinstance(events[0], OrderRejected)

    @rule(order_id=order_ids, as_owner=st.booleans())
    def cancel(self, order_id, as_owner):
        owner = self.owners[order_id] if as_owner else "z"
        events = self.send(CancelOrder, order_id=order_id, owner=owner)
        if not as_owner:
            assert isinstance(events[0], OrderRejected)

    @rule(owner=st.sampled_from([*OWNERS, "z"]), everywhere=st.booleans())
    def cancel_all(self, owner, everywhere):
        book = self.fast.book(SYMBOL)
        theirs = sorted(oid for oid, o in book.orders.items() if o.owner == owner)
        others = {oid for oid, o in book.orders.items() if o.owner != owner}
        events = self.send(CancelAll, owner=owner, symbol=None if everywhere else SYMBOL)
        assert [e.order_id for e in events if isinstance(e, OrderCancelled)] == theirs
        assert set(book.orders) == others

    @rule(
        order_id=order_ids,
        quantity=st.one_of(st.none(), quantities),
        price=st.one_of(st.none(), prices),
    )
    def amend(self, order_id, quantity, price):
        view = self.fast.book(SYMBOL).get_order(order_id)
        could_meet = 0
        if view is not None and price is not None:
            could_meet = self.fast.crossable_orders(SYMBOL, view.side, price, 10**6)
        events = self.send(
            AmendOrder, order_id=order_id, owner=self.owners[order_id],
            quantity_kg=quantity, price_fen=price,
        )  # fmt: skip
        # Only a new price can trade at once, and no more than it could meet.
        assert sum(1 for e in events if isinstance(e, Trade)) <= could_meet

    @rule(cancel_orders=st.booleans())
    def halt(self, cancel_orders):
        self.send(HaltMarket, cancel_orders=cancel_orders)

    @rule()
    def resume(self):
        self.send(ResumeMarket)

    @rule()
    def close_session(self):
        self.send(CloseSession)

    @rule(price=st.sampled_from([9_900, 10_000, 10_100, 10_005]))
    def set_reference(self, price):
        self.send(SetReferencePrice, price_fen=price)

    @precondition(lambda self: self.snapshot_at is None)
    @rule()
    def take_snapshot(self):
        self.snapshot_at = (len(self.history), self.fast.snapshot())

    @invariant()
    def both_books_count_the_same_crossable_orders(self):
        for side in (BUY, SELL):
            for limit in (9_000, 9_990, 10_000, 10_010, 11_000):
                for cap in (1, 2, 10**6):
                    fast = self.fast.crossable_orders(SYMBOL, side, limit, cap)
                    assert fast == self.reference.crossable_orders(SYMBOL, side, limit, cap)
                    assert fast == self.pure.crossable_orders(SYMBOL, side, limit, cap)

    @invariant()
    def every_committed_kilogram_is_traded_cancelled_or_resting(self):
        book = self.fast.book(SYMBOL)
        for order_id, committed in self.committed_kg.items():
            order = book.orders.get(order_id)
            resting = 0 if order is None else order.remaining_kg
            accounted = self.traded_kg[order_id] + self.cancelled_kg[order_id] + resting
            assert committed == accounted, (order_id, committed, accounted)

    def teardown(self) -> None:
        if not self.history or self.step_failed:
            return
        replay = MatchingEngine(FastBook, self.stp)
        for cmd, expected in self.history:
            assert tagged(replay.process(cmd)) == expected, cmd
        assert replay.state_hash() == self.fast.state_hash()
        if self.snapshot_at is not None:
            index, snapshot = self.snapshot_at
            # the compiled book's snapshot into the reference book and the pure one
            for restored in (MatchingEngine.restore(snapshot, ReferenceBook),
                             PyMatchingEngine.restore(snapshot, PyFastBook)):  # fmt: skip
                for cmd, expected in self.history[index:]:
                    assert tagged(restored.process(cmd)) == expected, cmd
                assert restored.state_hash() == self.fast.state_hash()


class TwoBooksCancellingResting(TwoBooks):
    stp = SelfTradePrevention.CANCEL_RESTING


class TwoBooksCancellingBoth(TwoBooks):
    stp = SelfTradePrevention.CANCEL_BOTH


SETTINGS = settings(max_examples=150, stateful_step_count=50, deadline=None)
TestTwoBooksCancelIncoming = TwoBooks.TestCase
TestTwoBooksCancelIncoming.settings = SETTINGS
TestTwoBooksCancelResting = TwoBooksCancellingResting.TestCase
TestTwoBooksCancelResting.settings = SETTINGS
TestTwoBooksCancelBoth = TwoBooksCancellingBoth.TestCase
TestTwoBooksCancelBoth.settings = SETTINGS
