"""Client order ids are remembered for a window (24 h), so the idempotency map stays
bounded; journals written before the window existed replay exactly as they did."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.config import Settings
from exchange.core.command_codec import from_payload, to_payload
from exchange.core.commands import Genesis
from exchange.core.state import CLIENT_ORDER_WINDOW_S, Core
from exchange.infra.runtime import check_parameters, genesis_command
from tests.core_driver import T0_US, CoreDriver, through_plain_snapshot

HOUR_US = 3_600_000_000
WINDOW_US = CLIENT_ORDER_WINDOW_S * 1_000_000
# The state hash of the session in `old_journal`, computed by the core before the window
# existed: an old journal must keep replaying to exactly this.
OLD_JOURNAL_STATE_HASH = "51120df05ecdaf1e327affc8b21f70d2de0872896e9ffb00dfbf58a0bc92e623"


def buy(account_id: str, client_order_id: str, kg: int = 1_000) -> dict:
    return {
        "kind": "place_order",
        "account_id": account_id,
        "client_order_id": client_order_id,
        "request_hash": "h",
        "symbol": "NOX-2025",
        "side": "buy",
        "type": "limit",
        "price_fen": 320_000,
        "quantity_kg": kg,
        "time_in_force": "GTC",
    }


def market(genesis: dict | Genesis) -> tuple[CoreDriver, str]:
    d = CoreDriver()
    d.ok(genesis)
    d.list_nox()
    buyer = d.account("buyer")
    d.deposit(buyer, 10_000_000_000)
    return d, buyer


def old_genesis() -> dict:
    """Today's genesis as it was journaled before the window existed."""
    genesis = to_payload(genesis_command(Settings()))
    del genesis["client_order_window_s"]
    return genesis


def test_an_old_journal_remembers_ids_for_ever_and_keeps_its_state_hash():
    d, buyer = market(old_genesis())
    first = d.apply(buy(buyer, "same-id"), ts_us=T0_US + 10_000_000)
    later = d.apply(buy(buyer, "same-id"), ts_us=T0_US + 2 * 24 * HOUR_US)
    assert later.result == {"order_id": first.result["order_id"], "duplicate": True}
    assert d.core.state_hash() == OLD_JOURNAL_STATE_HASH
    assert b"client_order_window" not in d.core.snapshot()
    assert Core.restore(d.core.snapshot()).state_hash() == OLD_JOURNAL_STATE_HASH
    # and today's settings still accept it: the window is not a changed parameter
    check_parameters(d.core, Settings())


def test_a_new_journal_records_the_window_in_its_genesis():
    genesis = genesis_command(Settings())
    assert genesis.client_order_window_s == CLIENT_ORDER_WINDOW_S == 86_400
    assert to_payload(genesis)["client_order_window_s"] == 86_400
    d, _ = market(genesis)
    assert d.core.parameters()["client_order_window_s"] == 86_400
    check_parameters(d.core, Settings())


def test_a_repeat_within_the_window_is_the_same_order():
    d, buyer = market(genesis_command(Settings()))
    first = d.apply(buy(buyer, "retry-me"), ts_us=T0_US + HOUR_US)
    again = d.apply(buy(buyer, "retry-me"), ts_us=T0_US + HOUR_US + WINDOW_US - 1)
    assert again.result == {"order_id": first.result["order_id"], "duplicate": True}


def test_a_repeat_after_the_window_is_a_new_order():
    d, buyer = market(genesis_command(Settings()))
    first = d.apply(buy(buyer, "daily"), ts_us=T0_US + HOUR_US)
    again = d.apply(buy(buyer, "daily"), ts_us=T0_US + HOUR_US + WINDOW_US + 1)
    assert again.error is None
    assert "duplicate" not in again.result
    assert again.result["order_id"] != first.result["order_id"]


def test_the_map_holds_only_the_ids_of_the_last_window():
    d, buyer = market(genesis_command(Settings()))
    for hour in range(24 * 5):  # one order an hour for five days
        d.apply(buy(buyer, f"h{hour}", kg=1), ts_us=T0_US + (hour + 1) * HOUR_US)
    assert len(d.core.client_orders) == 25  # the last 24 h, both ends included
    assert set(d.core.client_orders) == {(buyer, f"h{h}") for h in range(95, 120)}


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 40 * HOUR_US)), min_size=1, max_size=40
    ),
    cut=st.integers(0, 40),
)
def test_restoring_a_snapshot_anywhere_then_going_on_gives_the_same_state(steps, cut):
    """Forgetting is a function of the commands' times, so a core restored from a
    snapshot at any point and then fed the rest ends where the uninterrupted one does,
    and no remembered id is older than the window."""
    d, buyer = market(genesis_command(Settings()))
    ts_us = T0_US + HOUR_US
    commands = []
    for coid, gap_us in steps:
        ts_us += gap_us
        commands.append((from_payload(buy(buyer, f"c{coid}", kg=1)), ts_us))
    cut = min(cut, len(commands))
    for command, ts in commands[:cut]:
        d.apply(command, ts_us=ts)
    resumed = Core.restore(d.core.snapshot())
    plain = through_plain_snapshot(d.core)
    assert resumed.state_hash() == plain.state_hash() == d.core.state_hash()
    for command, ts in commands[cut:]:
        seq = d.core.last_seq + 1
        d.apply(command, ts_us=ts)
        resumed.apply(seq, ts, command)
        plain.apply(seq, ts, command)
        assert resumed.state_hash() == plain.state_hash() == d.core.state_hash()
    placed_at = d.core.client_orders.placed_at()
    assert all(t >= ts_us - WINDOW_US for t in placed_at.values())
    assert set(placed_at) == set(d.core.client_orders)
