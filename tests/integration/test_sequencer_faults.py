"""A defect in the core or a failed commit must not wedge the sequencer or leave
anything behind from the attempt: no snapshot of a half-applied core, no entry
missing from the journal, no cache (candles) counting a trade twice.

Runs on SQLite and PostgreSQL (`db_engine`), with a fault-injecting core (raises
on a chosen command after it has changed the registry) and a fault-injecting
database (the commit of a chosen batch fails).
"""

from __future__ import annotations

import itertools
import os
import select as select_fds
import threading
import time

import pytest
from sqlalchemy import event, select, text

from exchange.config import Settings
from exchange.core.command_codec import from_payload
from exchange.core.commands import Command
from exchange.core.state import Core
from exchange.infra import snapshots
from exchange.infra.bus import InProcessBus
from exchange.infra.db import models
from exchange.infra.db.engine import make_engine
from exchange.infra.db.market import MarketSession
from exchange.infra.db.migrate import upgrade
from exchange.infra.journal import Journal
from exchange.infra.runtime import (
    ensure_system_accounts,
    genesis_command,
    new_core,
    recover,
    replay,
    restore_snapshot,
    thresholds,
)
from exchange.infra.sequencer import Sequencer

SYMBOL = "NOX-2025"
T0_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
FAULT_FEN = 666


class RecordingQueue:
    """The sequencer's side of a command queue: keeps every reply by its handle."""

    def __init__(self) -> None:
        self.replies: dict[object, dict] = {}

    async def reply_many(self, replies) -> None:
        for handle, result in replies:
            assert handle not in self.replies, f"{handle} answered twice"
            self.replies[handle] = result

    async def reply(self, handle, result) -> None:
        await self.reply_many([(handle, result)])


class FaultyCore(Core):
    """A defect: a deposit of FAULT_FEN raises after the registry has credited it."""

    def apply(self, seq, ts_us, command):
        out = super().apply(seq, ts_us, command)
        if getattr(command, "amount_fen", None) == FAULT_FEN:
            raise RuntimeError("injected core defect")
        return out


class HeldSnapshotCore(Core):
    """Serializing this core waits (up to 30 s) until a byte arrives on `release`:
    whoever serializes it, parent or forked child, is held until the test lets go."""

    release: int = -1

    def snapshot_forms(self) -> tuple[bytes, dict]:
        select_fds.select([self.release], [], [], 30.0)
        return super().snapshot_forms()


class FailingCommits:
    """Makes the database refuse commits while `failing` is set (a full disk, a lost
    connection at COMMIT): whatever the transaction wrote is rolled back."""

    def __init__(self, engine) -> None:
        self.failing = threading.Event()
        self.engine = engine
        event.listen(engine, "commit", self._commit)

    def _commit(self, _conn) -> None:
        if self.failing.is_set():
            raise OSError("injected commit failure")

    def remove(self) -> None:
        event.remove(self.engine, "commit", self._commit)


@pytest.fixture
def settings(db_engine) -> Settings:
    return Settings(database_url=str(db_engine.url.render_as_string(hide_password=False)))


def make_sequencer(db_engine, settings, core: Core, snapshot_every: int = 1000) -> Sequencer:
    clock = itertools.count(T0_US, 1_000_000)
    return Sequencer(
        core,
        db_engine,
        InProcessBus(),
        RecordingQueue(),
        recover=lambda: recover(db_engine, settings),
        snapshot_every=snapshot_every,
        snapshots_keep=10,
        clock=lambda: next(clock),
    )


_handles = itertools.count(1)


async def submit(seqr: Sequencer, *commands: dict | Command) -> list[dict]:
    """Put `commands` (journal payloads are decoded, as the command queue decodes them)
    through the sequencer as ONE batch; their replies, in order."""
    handles = [f"h{next(_handles)}" for _ in commands]
    typed = [c if isinstance(c, Command) else from_payload(c) for c in commands]
    await seqr.process(list(zip(handles, typed, strict=True)))
    # the read models are written behind the commit: this test reads them next, as a
    # reader at the fence would, once they show every acknowledged command
    assert seqr.projection.wait(seqr.committed_seq, 30)
    return [seqr.queue.replies[h] for h in handles]


async def ok(seqr: Sequencer, command: dict | Command) -> dict:
    (reply,) = await submit(seqr, command)
    assert reply["error"] is None, reply
    return reply["result"]


def account(username: str) -> dict:
    return {
        "kind": "open_account",
        "username": username,
        "password_hash": "x",
        "name": username.title(),
        "role": "enterprise",
        "city_code": "440100",
    }


def deposit(account_id: str, fen: int) -> dict:
    return {"kind": "deposit", "account_id": account_id, "amount_fen": fen}


def order(account_id: str, side: str, kg: int, coid: str) -> dict:
    return {
        "kind": "place_order",
        "account_id": account_id,
        "client_order_id": coid,
        "request_hash": coid,
        "symbol": SYMBOL,
        "side": side,
        "type": "limit",
        "price_fen": 320_000,
        "quantity_kg": kg,
        "time_in_force": "GTC",
    }


LIST_NOX = {
    "kind": "list_instrument",
    "symbol": SYMBOL,
    "pollutant": "NOx",
    "vintage": 2025,
    "tick_fen": 1,
    "lot_kg": 1,
    "reference_price_fen": 320_000,
    "band_bps": 1_000,
}


async def stocked_market(seqr: Sequencer) -> tuple[str, str]:
    """A province, a seller holding 50 t of verified reductions and a buyer with cash."""
    province = (await ok(seqr, {**account("province"), "role": "province", "city_code": None}))[
        "account_id"
    ]
    seller = (await ok(seqr, account("seller")))["account_id"]
    buyer = (await ok(seqr, account("buyer")))["account_id"]
    await ok(seqr, deposit(buyer, 10_000_000_00))
    claim = await ok(
        seqr,
        {
            "kind": "claim_reduction",
            "account_id": seller,
            "symbol": SYMBOL,
            "quantity_kg": 50_000,
            "source_kind": "deep_treatment",
            "description": "SCR retrofit",
            "evidence": "CEMS",
        },
    )
    await ok(
        seqr,
        {
            "kind": "verify_reduction",
            "account_id": province,
            "claim_id": claim["claim_id"],
            "decision": "approve",
            "approved_kg": 50_000,
            "method": "online_monitoring",
            "note": "",
        },
    )
    return seller, buyer


async def started(db_engine, settings, core: Core, snapshot_every: int = 1000) -> Sequencer:
    ensure_system_accounts(db_engine, core)
    seqr = make_sequencer(db_engine, settings, core, snapshot_every)
    await ok(seqr, genesis_command(settings))
    await ok(seqr, LIST_NOX)
    return seqr


def assert_state_is_the_journals(db_engine, settings, seqr: Sequencer) -> int:
    """The live core is exactly the journal replayed from genesis, the chain holds,
    and every snapshot is the state at a seq that is in the journal."""
    seqr.snapshotter.settle()
    tail, _ = Journal(db_engine).verify_chain()
    assert seqr.core.last_seq == tail
    assert seqr.core.state_hash() == replay(db_engine, settings, use_snapshot=False).state_hash()
    with db_engine.connect() as conn:
        snaps = conn.execute(select(models.Snapshot.__table__)).all()
    for snap in snaps:
        assert snap.seq <= tail, f"snapshot at seq {snap.seq}, journal ends at {tail}"
        at_seq = new_core(settings)
        for entry in Journal(db_engine).read():
            if entry.seq > snap.seq:
                break
            at_seq.apply(entry.seq, entry.ts_us, from_payload(entry.payload))
        assert at_seq.state_hash() == snap.state_hash, f"snapshot at seq {snap.seq}"
        # and what it stores is that state
        record = snapshots.SnapshotRecord(snap.seq, snap.ts_us, snap.state_hash, bytes(snap.data))
        checked = snapshots.verify(record, snapshots.directory_for(db_engine))
        assert restore_snapshot(checked, settings).state_hash() == snap.state_hash
    return tail


def cash_fen(db_engine, account_id: str) -> int:
    with db_engine.connect() as conn:
        row = conn.execute(
            select(models.Account.cash_available_fen).where(models.Account.id == account_id)
        ).one()
    return row[0]


async def test_a_core_defect_fails_only_its_command_and_snapshots_nothing_half_applied(
    db_engine, settings
):
    # genesis, listing and the account are seqs 1-3; committing the deposit before the
    # faulty one makes a snapshot due
    seqr = await started(db_engine, settings, FaultyCore(), snapshot_every=4)
    acct = (await ok(seqr, account("foshan")))["account_id"]

    before, faulty, after = await submit(
        seqr, deposit(acct, 1_000), deposit(acct, FAULT_FEN), deposit(acct, 7)
    )

    assert before["error"] is None and before["seq"] == 4
    assert faulty["error"]["code"] == "internal_error"
    assert faulty["seq"] is None
    assert after["error"] is None and after["seq"] == 5
    assert seqr.core.registry.cash(acct)[0] == 1_007
    assert cash_fen(db_engine, acct) == 1_007
    assert assert_state_is_the_journals(db_engine, settings, seqr) == 5
    # the service goes on: the next command is applied and journaled, not refused
    assert (await submit(seqr, deposit(acct, 1)))[0]["seq"] == 6
    assert cash_fen(db_engine, acct) == 1_008
    assert seqr.failure is None


async def test_a_defect_on_the_first_command_of_a_batch_commits_the_rest(db_engine, settings):
    seqr = await started(db_engine, settings, FaultyCore(), snapshot_every=3)
    acct = (await ok(seqr, account("zhuhai")))["account_id"]

    faulty, after = await submit(seqr, deposit(acct, FAULT_FEN), deposit(acct, 50))

    assert faulty["error"]["code"] == "internal_error"
    assert after["error"] is None and after["seq"] == 4
    assert cash_fen(db_engine, acct) == 50
    assert assert_state_is_the_journals(db_engine, settings, seqr) == 4


async def test_a_failed_commit_leaves_no_trace_in_the_candles_or_the_core(db_engine, settings):
    seqr = await started(db_engine, settings, new_core(settings))
    seller, buyer = await stocked_market(seqr)
    faults = FailingCommits(db_engine)
    try:
        faults.failing.set()
        for attempt in range(3):  # a client retrying while the journal cannot be written
            replies = await submit(
                seqr,
                order(seller, "sell", 1_000, f"s{attempt}"),
                order(buyer, "buy", 1_000, f"b{attempt}"),
            )
            assert [r["error"]["code"] for r in replies] == ["unavailable", "unavailable"]
            assert seqr.failure is not None
        faults.failing.clear()
        replies = await submit(
            seqr, order(seller, "sell", 1_000, "s-ok"), order(buyer, "buy", 1_000, "b-ok")
        )
    finally:
        faults.remove()

    assert [r["error"] for r in replies] == [None, None]
    assert replies[1]["orders"][0]["status"] == "filled"
    assert seqr.failure is None
    with db_engine.connect() as conn:
        candles = conn.execute(select(models.Candle.interval, models.Candle.volume_kg)).all()
        session = conn.execute(select(MarketSession.volume_kg)).scalar_one()
        trades = conn.execute(select(models.Trade.quantity_kg)).scalars().all()
    assert candles and all(volume == 1_000 for _interval, volume in candles), candles
    assert session == 1_000
    assert trades == [1_000]
    assert_state_is_the_journals(db_engine, settings, seqr)


async def test_the_sequencer_commits_on_a_thread_of_its_own(db_engine, settings):
    seen = []
    seqr = await started(db_engine, settings, new_core(settings))
    commit = seqr._commit

    def spy(*args):
        seen.append(threading.current_thread().name)
        return commit(*args)

    seqr._commit = spy
    await ok(seqr, account("jiangmen"))
    await ok(seqr, account("zhaoqing"))
    assert len(seen) == 2
    assert all(name.startswith("emx-sequencer") for name in seen), seen
    seqr.close()


async def test_snapshots_beyond_the_newest_few_are_pruned(db_engine, settings):
    seqr = await started(db_engine, settings, new_core(settings), snapshot_every=1)
    seqr.snapshots_keep = 3
    for n in range(6):
        await ok(seqr, account(f"user{n}"))
        # one background snapshot at a time: let each finish so none is deferred
        seqr.snapshotter.settle()
    with db_engine.connect() as conn:
        seqs = sorted(conn.execute(select(models.Snapshot.seq)).scalars())
    assert seqs == [6, 7, 8]
    assert snapshots.latest(db_engine).seq == 8
    directory = snapshots.directory_for(db_engine)
    if directory is not None:  # SQLite: the files of pruned rows are gone too
        assert sorted(os.listdir(directory)) == [snapshots.file_name(s) for s in seqs]
    assert_state_is_the_journals(db_engine, settings, seqr)


async def test_a_failed_recovery_is_retried_by_the_next_batch(db_engine, settings):
    seqr = await started(db_engine, settings, FaultyCore())
    acct = (await ok(seqr, account("shantou")))["account_id"]
    recover_for_real = seqr._recover
    attempts = []

    def recover_once_failing():
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("injected: the database is unreachable")
        return recover_for_real()

    seqr._recover = recover_once_failing
    (faulty,) = await submit(seqr, deposit(acct, FAULT_FEN))
    assert faulty["error"]["code"] == "unavailable"
    assert not seqr.sound and "unreachable" in seqr.failure

    (after,) = await submit(seqr, deposit(acct, 25))
    assert after["error"] is None and after["seq"] == 4
    assert seqr.sound and len(attempts) == 2
    assert cash_fen(db_engine, acct) == 25
    assert_state_is_the_journals(db_engine, settings, seqr)


async def test_a_snapshot_being_written_holds_up_no_command(db_engine, settings):
    core = HeldSnapshotCore(
        fee_bps=settings.fee_bps, stp=settings.stp_mode, thresholds=thresholds(settings)
    )
    release_r, release_w = os.pipe()
    core.release = release_r
    try:
        seqr = await started(db_engine, settings, core, snapshot_every=3)
        # genesis, listing and held0 (seqs 1-3) make a snapshot due: it is being
        # serialized, and held there
        replies = [await ok(seqr, account(f"held{n}")) for n in range(5)]
        # every command was acknowledged while the snapshot could not have been written
        assert len(replies) == 5 and seqr.core.last_seq == 7
        with db_engine.connect() as conn:
            assert conn.execute(select(models.Snapshot.seq)).scalars().all() == []
        os.write(release_w, b"x")
        seqr.snapshotter.settle()
        assert seqr.snapshotter.failed == []
        assert snapshots.latest(db_engine).seq == 3
        assert_state_is_the_journals(db_engine, settings, seqr)
    finally:
        os.close(release_r)
        os.close(release_w)


@pytest.mark.parametrize("wrong", ["other_hash", "ahead", "behind"])
async def test_a_wrong_tail_in_memory_fails_its_batch_and_is_read_again(db_engine, settings, wrong):
    """The tail the sequencer keeps (so a batch needs no query for it) is checked as the
    entries are written: a wrong one writes nothing, and the next batch reads it again."""
    seqr = await started(db_engine, settings, new_core(settings))
    acct = (await ok(seqr, account("firm")))["account_id"]
    seq, digest = Journal(db_engine).last()
    assert seqr._tail == (seq, digest)
    (before,) = [e.hash for e in Journal(db_engine).read(after_seq=seq - 2) if e.seq == seq - 1]
    seqr._tail = {
        "other_hash": (seq, "f" * 64),
        "ahead": (seq + 1, digest),
        "behind": (seq - 1, before),
    }[wrong]
    (failed,) = await submit(seqr, deposit(acct, 70))
    assert failed["error"]["code"] == "unavailable"
    assert Journal(db_engine).verify_chain() == (seq, digest)
    (again,) = await submit(seqr, deposit(acct, 70))
    assert again["error"] is None and again["seq"] == seq + 1
    assert cash_fen(db_engine, acct) == 70
    assert assert_state_is_the_journals(db_engine, settings, seqr) == seq + 1


async def test_on_postgresql_a_batch_is_one_statement_and_a_lost_connection_is_replaced(
    postgres_url,
):
    """No pool checkout (so no pre-ping) and no tail query: the sequencer's thread
    sends one statement per batch, the INSERT (psycopg adds BEGIN, then COMMIT). A
    connection that died between two batches fails nothing: it is found dead before
    COMMIT and replaced."""
    engine = make_engine(postgres_url)
    upgrade(engine)
    settings = Settings(database_url=postgres_url)
    seen: list[str] = []

    def on_checkout(*_args) -> None:
        if threading.current_thread().name.startswith("emx-sequencer"):
            seen.append("checkout")

    def on_execute(_conn, _cursor, statement, *_args) -> None:
        if threading.current_thread().name.startswith("emx-sequencer"):
            seen.append(statement.split()[0])

    try:
        seqr = await started(engine, settings, new_core(settings))
        acct = (await ok(seqr, account("firm")))["account_id"]
        event.listen(engine.pool, "checkout", on_checkout)
        event.listen(engine, "before_cursor_execute", on_execute)
        for _ in range(3):
            await ok(seqr, deposit(acct, 10))
        assert seen == ["INSERT", "INSERT", "INSERT"]

        pid = seqr._writer.connection.dbapi_connection.info.backend_pid
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            for _ in range(100):
                gone = conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                ).scalar()
                if not gone:
                    break
                time.sleep(0.05)
            conn.rollback()
        seen.clear()
        (reply,) = await submit(seqr, deposit(acct, 10))
        assert reply["error"] is None, reply
        assert seqr._writer.connection.dbapi_connection.info.backend_pid != pid
        # the dead connection's INSERT, then a new connection, which reads the tail
        # (unknown after a failure) and writes by COPY (on the driver's cursor, unseen here)
        assert seen == ["INSERT", "checkout", "SELECT"]
        seen.clear()
        await ok(seqr, deposit(acct, 10))
        assert seen == ["INSERT"]  # the tail is known again
        assert cash_fen(engine, acct) == 50
        assert_state_is_the_journals(engine, settings, seqr)
        seqr.close()
        assert seqr._writer is None
    finally:
        engine.dispose()
