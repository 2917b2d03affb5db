"""The read models behind the journal: a crash between a journal commit and its
projection is caught up on start; a failed projection write is retried with the same
rows; readers wait at the fence until the tables show every acknowledged command.

Runs on SQLite and PostgreSQL (`db_engine`), with the real sequencer and journal.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event, func, select

from exchange.infra.db import models
from exchange.infra.db.market import BookLevel
from exchange.infra.projection import (
    DatabaseFence,
    FencedEngine,
    LocalFence,
    ReadModelsBehind,
    catch_up,
)
from exchange.infra.projector import load_progress
from exchange.infra.runtime import new_core
from tests.integration.test_sequencer_faults import (
    account,
    order,
    settings,  # noqa: F401 - a fixture
    started,
    stocked_market,
    submit,
)


def _progress(db_engine) -> int:
    with db_engine.connect() as conn:
        return load_progress(conn)


def _tables(db_engine) -> dict:
    """What a reader sees of accounts, orders, trades, holdings and the book."""
    with db_engine.connect() as conn:
        return {
            "cash": sorted(
                conn.execute(
                    select(
                        models.Account.id,
                        models.Account.cash_available_fen,
                        models.Account.cash_locked_fen,
                    )
                ).all()
            ),
            "orders": sorted(
                conn.execute(
                    select(models.Order.id, models.Order.status, models.Order.filled_kg)
                ).all()
            ),
            "traded_kg": conn.execute(select(func.sum(models.Trade.quantity_kg))).scalar() or 0,
            "holdings": sorted(
                conn.execute(
                    select(
                        models.Holding.account_id,
                        models.Holding.available_kg,
                        models.Holding.locked_kg,
                    )
                ).all()
            ),
            "levels": sorted(
                conn.execute(
                    select(BookLevel.side, BookLevel.price_fen, BookLevel.quantity_kg)
                ).all()
            ),
        }


async def test_catch_up_projects_what_a_crash_left_unprojected(db_engine, settings):  # noqa: F811
    seqr = await started(db_engine, settings, new_core(settings), snapshot_every=5)
    seller, buyer = await stocked_market(seqr)
    clean = _tables(db_engine)
    projected_before = _progress(db_engine)
    assert projected_before == seqr.committed_seq
    # the crash: the projector stops for good; the journal goes on being committed
    seqr.projection.close()
    for n in range(6):
        await seqr.process(
            [
                (f"s{n}", _typed(order(seller, "sell", 1_000, f"s{n}"))),
                (f"b{n}", _typed(order(buyer, "buy", 400, f"b{n}"))),
            ]
        )
    seqr.snapshotter.settle()
    tail = seqr.committed_seq
    assert tail == projected_before + 12
    assert _progress(db_engine) == projected_before
    assert _tables(db_engine) == clean  # nothing of the 12 orders shows yet

    assert catch_up(db_engine, settings, tail, batch=5) == 12
    assert _progress(db_engine) == tail
    caught_up = _tables(db_engine)
    # every buy (6 x 400 kg) met a resting sell
    assert caught_up["traded_kg"] == 2_400
    assert len(caught_up["orders"]) == 12
    # the six buys and the first two sells (2,400 kg against 1,000 kg each)
    assert [status for _id, status, _filled in caught_up["orders"]].count("filled") == 8
    core = seqr.core
    for account_id, available, locked in caught_up["cash"]:
        assert core.registry.cash(account_id) == (available, locked), account_id
    # idempotent: nothing left to project, nothing written twice
    assert catch_up(db_engine, settings, tail) == 0
    assert _tables(db_engine) == caught_up


def _typed(payload: dict):
    from exchange.core.command_codec import from_payload

    return from_payload(payload)


class FailingCommits:
    def __init__(self, engine, failures: int) -> None:
        self.left = failures
        self.engine = engine
        event.listen(engine, "commit", self._commit)

    def _commit(self, _conn) -> None:
        if self.left and threading.current_thread().name == "emx-projector":
            self.left -= 1
            raise OSError("injected projection commit failure")

    def remove(self) -> None:
        event.remove(self.engine, "commit", self._commit)


async def test_a_failed_projection_write_is_retried_with_the_same_rows(db_engine, settings):  # noqa: F811
    seqr = await started(db_engine, settings, new_core(settings))
    seller, buyer = await stocked_market(seqr)
    # the worker's own engine on SQLite (its commits do not fsync), the same elsewhere
    faults = FailingCommits(seqr.projection.engine, failures=3)
    try:
        replies = await submit(
            seqr, order(seller, "sell", 1_000, "s"), order(buyer, "buy", 1_000, "b")
        )
    finally:
        faults.remove()
    assert faults.left == 0
    assert [r["error"] for r in replies] == [None, None]
    assert seqr.projection.failure is None
    with db_engine.connect() as conn:
        candles = conn.execute(select(models.Candle.interval, models.Candle.volume_kg)).all()
        trades = conn.execute(select(models.Trade.quantity_kg)).scalars().all()
    assert trades == [1_000]
    assert candles and all(volume == 1_000 for _interval, volume in candles), candles
    assert _progress(db_engine) == seqr.committed_seq


async def test_a_reader_waits_at_the_fence_until_the_tables_show_what_was_acknowledged(
    db_engine,
    settings,  # noqa: F811
):
    seqr = await started(db_engine, settings, new_core(settings))
    fence = LocalFence(lambda: seqr.committed_seq, seqr.projection)
    readers = FencedEngine(db_engine, fence)
    gate = threading.Event()
    write = seqr.projection._write

    def held_write(batches):
        gate.wait(30)
        write(batches)

    seqr.projection._write = held_write
    await seqr.process([("h", _typed(account("dongguan")))])
    acked = seqr.queue.replies["h"]
    assert acked["error"] is None and acked["seq"] == seqr.committed_seq

    seen = {}

    def read() -> None:
        started_at = time.monotonic()
        with readers.connect() as conn:
            seen["row"] = conn.execute(
                select(models.Credential.username).where(models.Credential.username == "dongguan")
            ).scalar()
        seen["waited"] = time.monotonic() - started_at

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.2)
    assert reader.is_alive(), "the reader did not wait for the projection"
    gate.set()
    reader.join(10)
    assert seen["row"] == "dongguan"
    assert seen["waited"] >= 0.2


async def test_the_fence_gives_up_with_read_models_behind(db_engine, settings):  # noqa: F811
    seqr = await started(db_engine, settings, new_core(settings))
    seqr.projection.close()
    await seqr.process([("h", _typed(account("huizhou")))])
    fence = LocalFence(lambda: seqr.committed_seq, seqr.projection)
    with pytest.raises(ReadModelsBehind):
        fence.wait(timeout_s=0.1)
    # a gateway's fence reads both seqs from the database and gives up the same way
    with pytest.raises(ReadModelsBehind):
        DatabaseFence(db_engine).wait(timeout_s=0.1)
    catch_up(db_engine, settings, seqr.committed_seq)
    DatabaseFence(db_engine).wait(timeout_s=0.1)


async def test_the_worker_gathers_batches_until_a_reader_waits_at_the_fence(
    db_engine,
    settings,  # noqa: F811
):
    seqr = await started(db_engine, settings, new_core(settings))
    worker = seqr.projection
    assert worker.wait(seqr.committed_seq, 10)
    worker.linger_s = 60.0  # far longer than this test: only a reader can end it
    transactions = worker.transactions
    for city in ("shantou", "foshan", "jiangmen"):
        await seqr.process([(city, _typed(account(city)))])
    time.sleep(0.2)
    assert worker.projected < seqr.committed_seq, "the worker did not wait for more batches"
    started_at = time.monotonic()
    LocalFence(lambda: seqr.committed_seq, worker).wait(timeout_s=10)
    assert time.monotonic() - started_at < 5, "the reader waited out the linger"
    # the three batches in one transaction
    assert worker.transactions == transactions + 1
    with db_engine.connect() as conn:
        names = conn.execute(select(models.Credential.username)).scalars().all()
    assert {"shantou", "foshan", "jiangmen"} <= set(names)
    # an alert's feed message waits on the event loop the same way
    await seqr.process([("zhuhai", _typed(account("zhuhai")))])
    started_at = time.monotonic()
    assert await worker.wait_async(seqr.committed_seq, 10)
    assert time.monotonic() - started_at < 5
    assert worker.transactions == transactions + 2
