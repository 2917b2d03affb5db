"""The sequencer and the projector on their own, with fakes for the database, the
journal, the projection worker and the bus (the core is the real, pure one): their
failure paths, where they live."""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import pytest
from sqlalchemy import make_url

from exchange.core import commands
from exchange.core.commands import Command
from exchange.core.state import Core
from exchange.infra.projector import _SETTLEMENT_HANDLERS, BatchRows, Projector, collect
from exchange.infra.sequencer import Sequencer
from settlement import events as settlement_events

T0_US = 1_767_225_600_000_000


class FakeDb:
    """What the sequencer asks of an engine: write transactions, counted."""

    # an in-memory SQLite URL: snapshots (none are due here) would go in rows
    url = make_url("sqlite://")

    def __init__(self) -> None:
        self.transactions = 0

    def execution_options(self, **_options):
        return self

    def connect(self) -> FakeConn:
        return FakeConn(self)


class FakeConn:
    """The sequencer's own connection: its transactions are counted on the FakeDb."""

    def __init__(self, db: FakeDb) -> None:
        self.db = db

    @contextlib.contextmanager
    def begin(self):
        self.db.transactions += 1
        yield self

    def invalidate(self) -> None:
        pass

    def close(self) -> None:
        pass


class FakeJournal:
    def __init__(self) -> None:
        self.entries: list[tuple] = []
        self.fail_next = 0

    def append(self, _conn, entries, tail=None) -> tuple[int, str]:
        if self.fail_next:
            self.fail_next -= 1
            raise OSError("injected: the disk is full")
        self.entries.extend(entries)
        return entries[-1][0], f"hash-{entries[-1][0]}"


class FakeProjection:
    def __init__(self) -> None:
        self.rows: list[BatchRows] = []
        self.projected = 0

    def submit(self, rows: BatchRows) -> None:
        self.rows.append(rows)
        self.projected = rows.last_seq

    async def wait_async(self, seq: int, _timeout_s: float) -> bool:
        return self.projected >= seq

    def close(self) -> bool:
        return True


class FakeQueue:
    def __init__(self) -> None:
        self.replies: dict = {}

    async def reply_many(self, replies) -> None:
        for handle, reply in replies:
            assert handle not in self.replies, f"{handle} answered twice"
            self.replies[handle] = reply

    async def reply(self, handle, reply) -> None:
        await self.reply_many([(handle, reply)])


class FakeBus:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.published: list = []

    async def publish_many(self, messages) -> None:
        if self.fail:
            raise ConnectionError("injected: the bus is down")
        self.published.extend(messages)


class FaultyCore(Core):
    """A defect: a deposit of 666 fen raises after the registry has credited it."""

    def apply(self, seq, ts_us, command):
        out = super().apply(seq, ts_us, command)
        if getattr(command, "amount_fen", None) == 666:
            raise RuntimeError("injected core defect")
        return out


def journal_core(journal: FakeJournal, core_class=Core) -> Core:
    """A core rebuilt from the fake journal, as recovery rebuilds it from the real one."""
    from exchange.core.command_codec import from_payload

    core = core_class()
    for seq, ts_us, _kind, payload in journal.entries:
        core.apply(seq, ts_us, from_payload(payload))
    return core


def make(core: Core | None = None, bus: FakeBus | None = None) -> Sequencer:
    journal = FakeJournal()
    clock = itertools.count(T0_US, 1_000)
    core = core or Core()
    recoveries = []

    def recover():
        recoveries.append(1)
        return journal_core(journal, type(core))

    seqr = Sequencer(
        core,
        FakeDb(),
        bus or FakeBus(),
        FakeQueue(),
        recover=recover,
        snapshot_every=10**9,
        background_snapshots=False,
        clock=lambda: next(clock),
        journal=journal,
        projection=FakeProjection(),
    )
    seqr.recoveries = recoveries
    return seqr


_handles = itertools.count()


def run(seqr: Sequencer, *batch: Command | object) -> list[dict]:
    handles = [f"h{next(_handles)}" for _ in batch]
    asyncio.run(seqr.process(list(zip(handles, batch, strict=True))))
    return [seqr.queue.replies[h] for h in handles]


def account(name: str) -> commands.OpenAccount:
    return commands.OpenAccount(
        username=name, password_hash="x", name=name, role="enterprise", city_code="440100"
    )


def opened(seqr: Sequencer, name: str) -> str:
    (reply,) = run(seqr, account(name))
    assert reply["error"] is None, reply
    return reply["result"]["account_id"]


# --- the sequencer ---------------------------------------------------------------------------


def test_a_committed_batch_is_acknowledged_and_handed_to_the_projection_in_order():
    seqr = make()
    first, second = run(seqr, account("a"), account("b"))
    assert (first["seq"], second["seq"]) == (1, 2)
    assert [e[0] for e in seqr.journal.entries] == [1, 2]
    assert seqr.committed_seq == 2
    (rows,) = seqr.projection.rows
    assert rows.last_seq == 2
    assert [c["username"] for c in rows.credentials] == ["a", "b"]


def test_something_not_a_command_is_refused_and_the_rest_of_the_batch_goes_on():
    seqr = make()
    bad, good = run(seqr, {"kind": "open_account"}, account("c"))
    assert bad["error"]["code"] == "invalid_command"
    assert good["error"] is None and good["seq"] == 1
    assert len(seqr.journal.entries) == 1


def test_a_failed_journal_commit_acknowledges_nothing_and_rebuilds_the_core():
    seqr = make()
    opened(seqr, "d")
    seqr.journal.fail_next = 1
    replies = run(seqr, account("e"), account("f"))
    assert [r["error"]["code"] for r in replies] == ["unavailable", "unavailable"]
    assert "disk is full" in seqr.failure
    assert seqr.recoveries == [1]
    # nothing of the failed batch reaches the read models or the core
    assert [r.last_seq for r in seqr.projection.rows] == [1]
    assert seqr.committed_seq == 1 and seqr.core.last_seq == 1
    # the next batch is stamped where the journal ends
    (again,) = run(seqr, account("e"))
    assert again["seq"] == 2 and seqr.failure is None


def test_a_core_defect_fails_its_command_alone():
    seqr = make(FaultyCore())
    acct = opened(seqr, "g")
    replies = run(
        seqr,
        commands.Deposit(account_id=acct, amount_fen=100),
        commands.Deposit(account_id=acct, amount_fen=666),
        commands.Deposit(account_id=acct, amount_fen=5),
    )
    assert replies[0]["seq"] == 2 and replies[0]["error"] is None
    assert replies[1]["error"]["code"] == "internal_error" and replies[1]["seq"] is None
    assert replies[2]["seq"] == 3 and replies[2]["error"] is None
    assert seqr.recoveries == [1]
    assert seqr.core.registry.cash(acct)[0] == 105
    assert [e[0] for e in seqr.journal.entries] == [1, 2, 3]
    # the rows handed on are the rebuilt core's: the defect's credit is not among them
    cash_rows = [r.account_cash[acct]["cash_available_fen"] for r in seqr.projection.rows[1:]]
    assert cash_rows == [100, 105]


def test_a_failed_recovery_answers_unavailable_until_one_succeeds():
    seqr = make(FaultyCore())
    acct = opened(seqr, "h")
    real = seqr._recover
    attempts = []

    def failing_once():
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("injected: the database is unreachable")
        return real()

    seqr._recover = failing_once
    (faulty,) = run(seqr, commands.Deposit(account_id=acct, amount_fen=666))
    assert faulty["error"]["code"] == "unavailable"
    assert not seqr.sound and "unreachable" in seqr.failure
    (after,) = run(seqr, commands.Deposit(account_id=acct, amount_fen=7))
    assert after["seq"] == 2 and seqr.sound
    assert len(attempts) == 2


def test_rows_that_cannot_be_collected_fail_the_batch_before_it_is_journaled(monkeypatch):
    seqr = make()
    opened(seqr, "i")

    def broken(_core, _batch):
        raise KeyError("injected projector defect")

    monkeypatch.setattr("exchange.infra.sequencer.collect", broken)
    (reply,) = run(seqr, account("j"))
    assert reply["error"]["code"] == "unavailable"
    assert len(seqr.journal.entries) == 1 and seqr.committed_seq == 1


def test_a_bus_that_is_down_loses_no_acknowledgement():
    bus = FakeBus(fail=True)
    seqr = make(bus=bus)
    (reply,) = run(seqr, account("k"))
    assert reply["error"] is None and reply["seq"] == 1
    assert bus.published == []


def test_the_journal_commit_is_one_transaction_per_batch():
    seqr = make()
    run(seqr, *(account(f"m{n}") for n in range(10)))
    assert seqr.db.transactions == 1
    assert len(seqr.journal.entries) == 10


def test_long_lived_objects_are_frozen_every_so_many_commands_without_a_snapshot(monkeypatch):
    from exchange.infra import sequencer as sequencer_module

    freezes = []
    monkeypatch.setattr(sequencer_module, "_freeze_long_lived", lambda: freezes.append(1))
    monkeypatch.setattr(sequencer_module, "FREEZE_EVERY", 5)
    seqr = make()  # snapshots never due
    assert freezes == [1]  # the recovered core, at start
    run(seqr, *(account(f"f{n}") for n in range(3)))
    assert freezes == [1]
    run(seqr, *(account(f"g{n}") for n in range(2)))
    assert freezes == [1, 1]  # 5 commands since the last freeze
    run(seqr, *(account(f"h{n}") for n in range(4)))
    assert freezes == [1, 1]
    run(seqr, account("i"))
    assert freezes == [1, 1, 1]


# --- the projector ---------------------------------------------------------------------------


class RecordingConn:
    """Records the tables each statement writes; the dialect is SQLite's."""

    class dialect:
        name = "sqlite"

    def __init__(self, fail_on: str | None = None) -> None:
        self.tables: list[str] = []
        self.fail_on = fail_on

    def execute(self, statement, params=None):
        table = statement.table.name
        if table == self.fail_on:
            raise OSError(f"injected: {table} cannot be written")
        self.tables.append(table)
        return _NoRows()


class _NoRows:
    def scalars(self):
        return iter(())

    def mappings(self):
        return self

    def first(self):
        return None


def _batch(core: Core, *commands_: Command):
    out = []
    for command in commands_:
        out.append((core.apply(core.last_seq + 1, T0_US + core.last_seq, command), command))
    return out


def test_every_settlement_event_kind_has_a_handler_or_is_known_to_write_no_row():
    kinds = {
        cls
        for cls in vars(settlement_events).values()
        if isinstance(cls, type) and cls.__module__ == settlement_events.__name__
    }
    # their effects reach the tables through other events (postings, whole rows read
    # from the core) or a part of another event (ProjectSource)
    no_row = {
        "AuctionCleared",
        "HoldChanged",
        "InstrumentListed",
        "ProjectSource",
        "ReserveReleased",
    }
    assert {cls.__name__ for cls in kinds - set(_SETTLEMENT_HANDLERS)} == no_row


def test_collect_reads_the_core_once_and_write_never_changes_the_rows():
    core = Core()
    batch = _batch(core, account("n"), account("o"))
    rows = collect(core, batch)
    assert rows.last_seq == 2
    before = repr(vars(rows))
    conn = RecordingConn()
    Projector().write(conn, rows)
    assert "credentials" in conn.tables and "accounts" in conn.tables
    # written again (a retry after a failed transaction): the same statements
    again = RecordingConn()
    Projector().write(again, rows)
    assert again.tables == conn.tables
    assert repr(vars(rows)) == before


def test_a_failed_write_raises_and_the_projector_forgets_its_cached_candles():
    core = Core()
    batch = _batch(core, account("p"))
    rows = collect(core, batch)
    projector = Projector()
    projector._candles[("NOX-2025", "1m", 0)] = {"volume_kg": 1}
    with pytest.raises(OSError, match="credentials cannot be written"):
        projector.write(RecordingConn(fail_on="credentials"), rows)
    projector.reset()
    assert projector._candles == {}


def test_a_refused_command_writes_only_its_alerts():
    core = Core()
    batch = _batch(core, commands.Deposit(account_id="nobody", amount_fen=1))
    assert batch[0][0].error is not None
    rows = collect(core, batch)
    conn = RecordingConn()
    Projector().write(conn, rows)
    assert conn.tables == []


def test_merged_batches_keep_appended_rows_in_order_and_the_newest_whole_row():
    core = Core()
    acct_batch = _batch(core, account("q"))
    acct = acct_batch[0][0].result["account_id"]
    first = collect(
        core, acct_batch + _batch(core, commands.Deposit(account_id=acct, amount_fen=10))
    )
    second = collect(core, _batch(core, commands.Deposit(account_id=acct, amount_fen=5)))
    before = (repr(vars(first)), repr(vars(second)))
    merged = BatchRows.merged([first, second])
    assert merged.last_seq == second.last_seq == 3
    assert [p["amount_fen"] for p in merged.cash_postings] == [10, 5]
    assert merged.account_cash[acct]["cash_available_fen"] == 15
    assert [c["username"] for c in merged.credentials] == ["q"]
    assert (repr(vars(first)), repr(vars(second))) == before
    # written at once, the merged rows make the same statements as one batch would
    conn = RecordingConn()
    Projector().write(conn, merged)
    assert conn.tables.count("cash_postings") == 1 and conn.tables.count("accounts") == 2


# --- the next batch's commit starts before the last batch is answered -------------------------


class ScriptedQueue(FakeQueue):
    """Hands out the given batches one by one; `ready` says whether another waits."""

    def __init__(self, batches: list[list], log: list) -> None:
        super().__init__()
        self.batches = batches
        self.log = log
        self.seqr: Sequencer | None = None

    def ready(self) -> bool:
        return bool(self.batches)

    async def next_batch(self, _max_n: int, timeout: float | None = 1.0) -> list:
        if not self.batches:
            self.seqr.stop()
            return []
        return self.batches.pop(0)

    async def reply_many(self, replies) -> None:
        await super().reply_many(replies)
        self.log.extend(f"reply {handle}" for handle, _ in replies)


class GatedJournal(FakeJournal):
    """The second commit says it has started, then holds (on the commit thread) until
    the first batch is answered, or gives up after a few seconds."""

    def __init__(self, log: list, started, first_answered) -> None:
        super().__init__()
        self.log = log
        self.started = started
        self.first_answered = first_answered
        self.commits = 0

    def append(self, conn, entries, tail=None):
        self.commits += 1
        if self.commits == 2:
            self.started.set()
            self.first_answered.wait(5)
        self.log.append(f"commit {self.commits}")
        return super().append(conn, entries, tail)


def test_the_last_batch_is_answered_while_the_next_one_commits():
    import threading

    from tests.core_driver import SYMBOL, CoreDriver

    d = CoreDriver()
    d.list_nox()
    bureau = d.account("bureau-gz", "city_bureau", "440100")
    buyer, seller = d.account("buyer"), d.account("seller")
    d.issue(seller, bureau, 10_000)
    d.deposit(buyer, 100_000_000)

    def place(account_id: str, side: str) -> Command:
        from exchange.core.command_codec import from_payload

        return from_payload(
            {
                "kind": "place_order",
                "account_id": account_id,
                "client_order_id": f"{side}-1",
                "request_hash": side,
                "symbol": SYMBOL,
                "side": side,
                "type": "limit",
                "price_fen": 320_000,
                "quantity_kg": 1_000,
                "time_in_force": "GTC",
            }
        )

    log: list = []
    started, first_answered = threading.Event(), threading.Event()
    seqr = make(core=d.core)
    seqr.journal = GatedJournal(log, started, first_answered)
    # the buy rests in the first batch; the sell of the second fills it
    seqr.queue = ScriptedQueue(
        [[("buy", place(buyer, "buy"))], [("sell", place(seller, "sell"))]], log
    )
    seqr.queue.seqr = seqr
    real_reply_many = seqr.queue.reply_many

    async def reply_many(replies) -> None:
        if any(handle == "buy" for handle, _ in replies):
            for _ in range(5_000):  # until the second commit has started, or 5 s
                if started.is_set():
                    break
                await asyncio.sleep(0.001)
            log.append(f"second commit {'started' if started.is_set() else 'not started'}")
        await real_reply_many(replies)
        if any(handle == "buy" for handle, _ in replies):
            first_answered.set()

    seqr.queue.reply_many = reply_many
    asyncio.run(seqr.run())
    assert log == ["commit 1", "second commit started", "reply buy", "commit 2", "reply sell"]
    # the buy's answer shows it as the first batch left it: resting, not filled
    (order,) = seqr.queue.replies["buy"]["orders"]
    assert (order["status"], order["filled_quantity"]) == ("open", "0.000")
    (sold,) = [o for o in seqr.queue.replies["sell"]["orders"] if o["side"] == "sell"]
    assert sold["status"] == "filled"
    # and the feed messages of the first batch were made from that state too
    first = [m for _ch, m in seqr.bus.published if m["core_seq"] == seqr.core.last_seq - 1]
    assert [m["data"]["status"] for m in first if m["type"] == "order"] == ["open"]


def test_the_loop_takes_the_next_batch_while_the_last_ones_events_go_out_in_order(monkeypatch):
    """In `run`, publishing a batch's events does not hold up the next batch (over Redis
    it is a round trip), and the events still go out in seq order, all before `run` ends."""

    class SlowBus(FakeBus):
        def __init__(self) -> None:
            super().__init__()
            self.release = asyncio.Event()

        async def publish_many(self, messages) -> None:
            await self.release.wait()
            await super().publish_many(messages)

    class Batches(FakeQueue):
        def __init__(self, batches) -> None:
            super().__init__()
            self.batches = list(batches)
            self.taken = 0

        async def next_batch(self, _max_n, timeout=1.0):
            if not self.batches:
                seqr.stop()
                bus.release.set()  # only once every batch was taken
                return []
            self.taken += 1
            return self.batches.pop(0)

    monkeypatch.setattr(
        "exchange.infra.sequencer.messages_for",
        lambda _core, outcomes: [("c", {"seq": out.seq}) for out in outcomes],
    )
    bus = SlowBus()
    seqr = make(bus=bus)
    seqr.queue = Batches([[(f"b{i}", account(f"loop{i}"))] for i in range(3)])

    async def go():
        await asyncio.wait_for(seqr.run(), 10)

    asyncio.run(go())
    assert seqr.queue.taken == 3
    assert sorted(seqr.queue.replies) == ["b0", "b1", "b2"]
    seqs = [m["seq"] for _c, m in bus.published]
    assert seqs == [1, 2, 3]
