"""The idempotency map keeps each client order id compactly (the request hash as its
32 bytes) without changing what the core answers, its state hash or its snapshots."""

from __future__ import annotations

import hashlib
import sys
import tracemalloc

from exchange.config import Settings
from exchange.core.client_orders import ClientOrderIds, pack, unpack
from exchange.core.state import Core
from exchange.infra.runtime import genesis_command
from tests.core_driver import T0_US, CoreDriver, through_plain_snapshot
from tests.unit.core.test_client_order_window import WINDOW_US, buy, market, old_genesis


def hex_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def order(account_id: str, client_order_id: str, request_hash: str, kg: int = 1) -> dict:
    return {**buy(account_id, client_order_id, kg), "request_hash": request_hash}


def test_a_hex_request_hash_is_packed_into_48_bytes_and_read_back_exactly():
    h = hex_hash("body")
    packed = pack(12_345, T0_US, h)
    assert type(packed) is bytes and len(packed) == 48
    assert unpack(packed) == (12_345, T0_US, h)


def test_anything_else_is_kept_as_it_came():
    for odd in ("h", "demo", hex_hash("x").upper(), " " + hex_hash("x")[1:], "é" * 64):
        assert pack(7, T0_US, odd) == (7, T0_US, odd)
        assert unpack(pack(7, T0_US, odd)) == (7, T0_US, odd)
    assert pack(2**63, T0_US, hex_hash("x")) == (2**63, T0_US, hex_hash("x"))


def test_a_repeat_answers_the_original_and_another_body_is_a_duplicate_id():
    d, buyer = market(genesis_command(Settings()))
    first = d.apply(order(buyer, "a-1", hex_hash("one")))
    again = d.apply(order(buyer, "a-1", hex_hash("one")))
    other = d.apply(order(buyer, "a-1", hex_hash("two")))
    assert again.result == {"order_id": first.result["order_id"], "duplicate": True}
    assert other.error[0] == "duplicate_client_order_id"
    assert d.core.client_orders.get(buyer, "a-1") == (first.result["order_id"], hex_hash("one"))


def test_ids_expire_after_the_window_in_the_order_they_were_placed():
    d, buyer = market(genesis_command(Settings()))
    seller = d.account("seller")
    d.deposit(seller, 10_000_000_000)
    for n, (who, ts) in enumerate([(buyer, 1), (seller, 2), (buyer, 3), (seller, 3)]):
        d.apply(order(who, f"c{n}", hex_hash(str(n))), ts_us=T0_US + ts)
    d.apply(order(buyer, "late", hex_hash("late")), ts_us=T0_US + 3 + WINDOW_US)
    assert set(d.core.client_orders) == {(buyer, "c2"), (seller, "c3"), (buyer, "late")}
    assert len(d.core.client_orders) == 3


def _old_layout(plain: dict, core: Core) -> dict:
    """A plain state as format 1 wrote it: a map keyed by (account, id) tuples."""
    old = {k: v for k, v in plain.items() if k != "client_order_ids"}
    rows = core.client_orders.rows()
    expires = core.client_orders.expires
    old["format"] = 1
    old["client_order_window_us"] = core.client_orders.window_us
    old["client_orders"] = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    old["client_order_ts"] = {(r[0], r[1]): r[4] for r in rows} if expires else {}
    old["client_order_expiry"] = sorted((r[4], (r[0], r[1])) for r in rows) if expires else []
    return old


def test_a_snapshot_of_the_old_format_still_restores_the_same_core():
    for genesis in (genesis_command(Settings()), old_genesis()):
        d, buyer = market(genesis)
        for n in range(20):
            d.apply(order(buyer, f"c{n}", hex_hash(str(n)) if n % 3 else "demo"))
        _canonical, plain = d.core.snapshot_forms()
        restored = Core.restore_plain(_old_layout(plain, d.core))
        assert restored.state_hash() == d.core.state_hash()
        # and it goes on as the original does: the same answers, the same state
        for core in (restored, d.core):
            seq = core.last_seq + 1
            out = core.apply(seq, T0_US + 10**9, _command(order(buyer, "c4", hex_hash("4"))))
            assert out.result["duplicate"] is True
        assert restored.state_hash() == d.core.state_hash()


def test_the_plain_snapshot_and_the_json_one_keep_the_packed_ids():
    d, buyer = market(genesis_command(Settings()))
    for n in range(10):
        d.apply(order(buyer, f"c{n}", hex_hash(str(n))))
    for restored in (through_plain_snapshot(d.core), Core.restore(d.core.snapshot())):
        assert restored.state_hash() == d.core.state_hash()
        assert restored.client_orders.get(buyer, "c3")[1] == hex_hash("3")
        assert restored.client_orders.placed_at() == d.core.client_orders.placed_at()


def _command(payload: dict):
    from exchange.core.command_codec import from_payload

    return from_payload(payload)


def test_a_remembered_id_costs_under_260_bytes():
    """Measured the same way, the tuple-keyed map took 303 traced bytes per id plus
    the 113-byte hex string it kept alive after the order left the book (two tuples,
    a second map of times, an expiry entry); this one about 130, the id's own string
    excluded (the order record holds it while the order rests)."""
    n = 20_000
    accounts = [f"ACC-{i}" for i in range(100)]
    ids = [f"bot-{i:08d}" for i in range(n)]  # made before: the order record holds them
    hashes = [hex_hash(str(i)) for i in range(n)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    memory = ClientOrderIds(WINDOW_US)
    for i in range(n):
        memory.add(accounts[i % 100], ids[i], i + 1, hashes[i], T0_US + i)
    per_id = (tracemalloc.get_traced_memory()[0] - before) / n
    tracemalloc.stop()
    assert per_id < 260 - sys.getsizeof(ids[0]), per_id


def test_a_driver_core_and_a_restored_one_agree_on_an_account_whose_ids_all_expired():
    d, buyer = market(genesis_command(Settings()))
    d.apply(order(buyer, "gone", hex_hash("gone")), ts_us=T0_US + 1)
    other = d.account("other")
    d.deposit(other, 10_000_000_000)
    assert d.apply(order(other, "x", hex_hash("x")), ts_us=T0_US + 2 + WINDOW_US).error is None
    assert (buyer, "gone") not in d.core.client_orders
    assert through_plain_snapshot(d.core).state_hash() == d.core.state_hash()
    again = CoreDriver(core=through_plain_snapshot(d.core)).apply(
        order(buyer, "gone", hex_hash("new")), ts_us=T0_US + 3 + WINDOW_US
    )
    assert again.error is None and "duplicate" not in again.result
