"""The optional C slot reader against operator.attrgetter, which it replaces.

`matching_engine._slots.reader(cls, names)` must give exactly what
attrgetter(*names) gives (the same values, the same errors), and an engine
reading commands with it must emit the same streams and reach the same state
as one reading them with attrgetter. Skipped where the module was not built
(no compiler at install time), except under CI=true, where it fails.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching_engine import engine as engine_module
from matching_engine.commands import AddInstrument, CancelOrder, PlaceOrder
from matching_engine.engine import MatchingEngine, PyMatchingEngine
from matching_engine.types import BUY, SELL, OrderType, SelfTradePrevention, TimeInForce

try:
    from matching_engine._slots import reader
except ImportError:
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip("matching_engine._slots was not built", allow_module_level=True)

PLACE = ("seq", "ts_us", "symbol", "order_id", "owner", "side", "type", "price_fen",
         "quantity_kg", "tif", "post_only", "stp")  # fmt: skip
CANCEL = ("seq", "ts_us", "symbol", "order_id", "owner", "reason")


def test_the_engine_reads_commands_with_it_when_it_is_built() -> None:
    assert type(engine_module._place_fields) is type(reader(PlaceOrder, PLACE))


values = st.one_of(st.integers(), st.text(max_size=3), st.none(), st.booleans(),
                   st.sampled_from([BUY, SELL, *TimeInForce, *SelfTradePrevention]))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(values, min_size=12, max_size=12), st.permutations(PLACE))
def test_it_reads_what_attrgetter_reads(fields: list[Any], names: list[str]) -> None:
    cmd = PlaceOrder(*fields)
    names_tuple = tuple(names)
    assert reader(PlaceOrder, names_tuple)(cmd) == attrgetter(*names_tuple)(cmd)
    got = reader(PlaceOrder, names_tuple)(cmd)
    assert all(a is b for a, b in zip(got, attrgetter(*names_tuple)(cmd), strict=True))


@dataclass(slots=True)
class _Sub(PlaceOrder):
    extra: int = 0


class _Plain:
    def __init__(self) -> None:
        self.seq, self.ts_us, self.symbol = 1, 2, "X"


@pytest.mark.parametrize(
    "obj",
    [
        _Sub(1, 2, "X", 3, "o", BUY, OrderType.LIMIT, 10, 100, TimeInForce.GTC),  # a subclass
        CancelOrder(1, 2, "X", 3, "o"),  # another class: no such fields past the first five
        _Plain(),
    ],
)
def test_other_objects_get_what_attrgetter_gives(obj: Any) -> None:
    read = reader(PlaceOrder, PLACE[:3])
    assert read(obj) == attrgetter(*PLACE[:3])(obj)
    full = reader(PlaceOrder, PLACE)
    try:
        expected = attrgetter(*PLACE)(obj)
    except AttributeError as e:
        with pytest.raises(AttributeError) as got:
            full(obj)
        assert str(got.value) == str(e)
    else:
        assert full(obj) == expected


def test_an_unset_slot_raises_what_getattr_raises() -> None:
    cmd = PlaceOrder(1, 2, "X", 3, "o", BUY, OrderType.LIMIT, 10, 100, TimeInForce.GTC)
    del cmd.owner
    with pytest.raises(AttributeError) as pure:
        attrgetter(*PLACE)(cmd)
    with pytest.raises(AttributeError) as fast:
        reader(PlaceOrder, PLACE)(cmd)
    assert str(fast.value) == str(pure.value)


@pytest.mark.parametrize(
    "args",
    [(PlaceOrder, ("nope",)), (PlaceOrder, ("__init__",)), (PlaceOrder, (1,)), (1, ("seq",)),
     (PlaceOrder, ["seq"]), (PlaceOrder,)],
)  # fmt: skip
def test_it_refuses_what_is_not_a_slot_of_the_class(args: tuple[Any, ...]) -> None:
    with pytest.raises(TypeError):
        reader(*args)


def test_a_reader_takes_one_positional_argument() -> None:
    read = reader(CancelOrder, CANCEL)
    with pytest.raises(TypeError):
        read()
    with pytest.raises(TypeError):
        read(CancelOrder(1, 2, "X", 3, "o"), CancelOrder(1, 2, "X", 3, "o"))
    with pytest.raises(TypeError):
        read(obj=CancelOrder(1, 2, "X", 3, "o"))


place = st.tuples(
    st.just("place"),
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from([BUY, SELL, "buy"]),
    st.sampled_from([OrderType.LIMIT, OrderType.LIMIT, OrderType.MARKET]),
    st.sampled_from([9_970, 9_980, 9_990, 10_000, 10_010, 10_020, 9_985]),
    st.sampled_from([100, 200, 500, 0]),
    st.sampled_from([*TimeInForce, "GTC", "XYZ"]),
    st.sampled_from([None, *SelfTradePrevention, "bogus"]),
    st.booleans(),
)
cancel = st.tuples(st.just("cancel"), st.integers(1, 60), st.sampled_from(["a", "b", "c"]))


def run(engine: Any, stream: list[tuple[Any, ...]]) -> tuple[list[Any], str]:
    out = engine.process(AddInstrument(1, 0, "NOX-2025", "NOx", 2025, 10, 100, 10_000, 500))
    for n, step in enumerate(stream, start=2):
        if step[0] == "place":
            _, owner, side, kind, price, quantity, tif, stp, post_only = step
            cmd: Any = PlaceOrder(n, n, "NOX-2025", n, owner, side, kind, price, quantity, tif,
                                  post_only, stp)  # fmt: skip
        else:
            cmd = CancelOrder(n, n, "NOX-2025", step[1], step[2])
        out += engine.process(cmd)
    return [(type(e).__name__, e) for e in out], engine.state_hash()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(place, place, cancel), max_size=60))
def test_an_engine_reading_with_attrgetter_emits_what_one_reading_slots_emits(
    stream: list[tuple[Any, ...]],
) -> None:
    fast = run(MatchingEngine(), stream)
    with pytest.MonkeyPatch.context() as mp:
        # the pure engine looks the readers up at every command; the compiled one
        # bound the C reader at import
        mp.setattr(engine_module, "_place_fields", attrgetter(*PLACE))
        mp.setattr(engine_module, "_cancel_fields", attrgetter(*CANCEL))
        pure = run(PyMatchingEngine(), stream)
    assert fast == pure
