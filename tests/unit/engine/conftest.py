"""A small driver for the engine, run against both books: every step is
stamped, processed and followed by check_invariants()."""

from __future__ import annotations

from typing import Any

import pytest

from matching_engine.book import FastBook, PyFastBook
from matching_engine.commands import (
    AddInstrument,
    AmendOrder,
    CancelOrder,
    CloseSession,
    HaltMarket,
    PlaceOrder,
    ResumeMarket,
    SetReferencePrice,
)
from matching_engine.engine import MatchingEngine, PyMatchingEngine
from matching_engine.events import OrderRejected, Trade
from matching_engine.reference_book import ReferenceBook
from matching_engine.types import BUY, GTC, IOC, LIMIT, MARKET, SELL, SelfTradePrevention

SYMBOL = "NOX-2025"
# tick 10 fen, lot 100 kg, reference 3000.00 CNY/t, band ±10%: 270000..330000
TICK_FEN, LOT_KG, REFERENCE_FEN, BAND_BPS = 10, 100, 300_000, 1000


class Market:
    def __init__(self, book_class: type, stp: SelfTradePrevention) -> None:
        self.book_class = book_class
        # the pure-Python book runs in the pure-Python engine: that path whole
        engine_class = PyMatchingEngine if book_class is PyFastBook else MatchingEngine
        self.engine = engine_class(book_class, stp)
        self.seq = 0
        self.add_instrument(SYMBOL)

    def send(self, cmd_class: type, **fields: Any) -> list[Any]:
        self.seq += 1
        fields.setdefault("symbol", SYMBOL)
        events = self.engine.process(cmd_class(seq=self.seq, ts_us=self.seq * 1_000, **fields))
        self.engine.check_invariants()
        return events

    def add_instrument(self, symbol: str, **overrides: Any) -> list[Any]:
        fields = dict(
            pollutant="NOx", vintage=2025, tick_fen=TICK_FEN, lot_kg=LOT_KG,
            reference_price_fen=REFERENCE_FEN, band_bps=BAND_BPS,
        )  # fmt: skip
        fields.update(overrides)
        return self.send(AddInstrument, symbol=symbol, **fields)

    def place(self, order_id, owner, side, price_fen, quantity_kg, tif=GTC, type=LIMIT, **kw):
        return self.send(
            PlaceOrder, order_id=order_id, owner=owner, side=side, type=type,
            price_fen=price_fen, quantity_kg=quantity_kg, tif=tif, **kw,
        )  # fmt: skip

    def buy(self, order_id, owner, price_fen, quantity_kg, tif=GTC, **kw):
        return self.place(order_id, owner, BUY, price_fen, quantity_kg, tif, **kw)

    def sell(self, order_id, owner, price_fen, quantity_kg, tif=GTC, **kw):
        return self.place(order_id, owner, SELL, price_fen, quantity_kg, tif, **kw)

    def market(self, order_id, owner, side, quantity_kg, tif=IOC):
        return self.place(order_id, owner, side, 0, quantity_kg, tif, type=MARKET)

    def cancel(self, order_id, owner, **kw):
        return self.send(CancelOrder, order_id=order_id, owner=owner, **kw)

    def amend(self, order_id, owner, quantity_kg=None, price_fen=None, **kw):
        return self.send(
            AmendOrder, order_id=order_id, owner=owner, quantity_kg=quantity_kg,
            price_fen=price_fen, **kw,
        )  # fmt: skip

    def halt(self, cancel_orders=False, **kw):
        return self.send(HaltMarket, cancel_orders=cancel_orders, **kw)

    def resume(self, **kw):
        return self.send(ResumeMarket, **kw)

    def close(self, **kw):
        return self.send(CloseSession, **kw)

    def set_reference(self, price_fen, **kw):
        return self.send(SetReferencePrice, price_fen=price_fen, **kw)

    @property
    def book(self):
        return self.engine.book(SYMBOL)

    def depth(self, n: int = 10):
        return self.book.depth(n)

    def remaining(self, order_id: int) -> int | None:
        view = self.book.get_order(order_id)
        return None if view is None else view.remaining_kg

    def instrument_status(self) -> str:
        return self.engine.instrument(SYMBOL).status

    @staticmethod
    def kinds(events: list[Any]) -> list[str]:
        return [type(e).__name__ for e in events]

    @staticmethod
    def fills(events: list[Any]) -> list[tuple[int, int, int, int]]:
        """(price, quantity, maker order, taker order) of each trade."""
        return [
            (e.price_fen, e.quantity_kg, e.maker_order_id, e.taker_order_id)
            for e in events
            if isinstance(e, Trade)
        ]

    @staticmethod
    def rejection(events: list[Any]) -> str:
        assert len(events) == 1 and isinstance(events[0], OrderRejected), events
        return events[0].reason


# "fast" is the compiled book where setup.py built it (see test_engine_compiled.py),
# "pure" its pure-Python source; without the compiled module the two are one class.
BOOKS = {"fast": FastBook, "pure": PyFastBook, "reference": ReferenceBook}
if PyFastBook is FastBook:
    del BOOKS["pure"]


@pytest.fixture(params=list(BOOKS.values()), ids=list(BOOKS))
def book_class(request: pytest.FixtureRequest) -> type:
    return request.param


@pytest.fixture
def market(book_class: type) -> Market:
    return Market(book_class, SelfTradePrevention.CANCEL_INCOMING)


@pytest.fixture
def cancel_resting_market(book_class: type) -> Market:
    return Market(book_class, SelfTradePrevention.CANCEL_RESTING)
