"""The sequencer: one writer that stamps, applies, journals and acknowledges.

Each batch: stamp every command with the next `seq` and a non-decreasing
`ts_us`, apply it to the in-memory core, collect the batch's read-model rows
from the core, then write the journal entries in ONE database transaction (group
commit: one multi-row insert). Only after that commit are clients answered and
events published, so an acknowledged command is durable. The read models are
written behind the commit by exchange.infra.projection.ProjectionWorker, in seq order;
readers wait at a fence until they show every acknowledged seq (read-your-writes).
The core is applied before the commit on purpose: nothing escapes until the commit
succeeds, and if it fails the core is rebuilt from the durable journal.

A core that raised (a defect, not a refusal) may be half-changed: nothing is
committed, snapshotted or cached from it. The core is rebuilt from the journal,
the commands before the failing one are applied again to the rebuilt core, and
only then committed; the failing command alone gets `internal_error`.

Commits (and recoveries) run on one thread owned by the sequencer, so work on
the default thread pool (password hashing, reads) can never delay them. A
snapshot due after a commit is written by a forked child (exchange.infra.snapshotter):
the sequencer never waits for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from exchange.core.command_codec import to_payload
from exchange.core.commands import Command, MalformedCommand
from exchange.core.feeds import messages_for
from exchange.core.state import Core, Outcome
from exchange.core.views import order_view, record_row
from exchange.infra.bus import malformed_reply
from exchange.infra.db.engine import for_writing
from exchange.infra.journal import Journal
from exchange.infra.projection import FENCE_TIMEOUT_S, SQLITE_LINGER_S, ProjectionWorker
from exchange.infra.projector import collect
from exchange.infra.snapshotter import Snapshotter

log = logging.getLogger(__name__)

FREEZE_EVERY = 10_000
"""Commands between two freezes when no snapshot is taken (the default snapshot interval)."""


def wall_clock_us() -> int:
    return time.time_ns() // 1_000


@dataclass(slots=True)
class Reply:
    seq: int
    result: dict
    error: dict | None
    orders: list[dict]

    def to_dict(self) -> dict:
        return {"seq": self.seq, "result": self.result, "error": self.error, "orders": self.orders}


_Finish = Callable[[], Awaitable[None]]


def reply_for(out: Outcome) -> Reply:
    error = None if out.error is None else {"code": out.error[0], "message": out.error[1]}
    orders = [order_view(record_row(rec)) for rec in out.orders]
    return Reply(out.seq, out.result, error, orders)


class Sequencer:
    def __init__(
        self,
        core: Core,
        db: Engine,
        bus,
        queue,
        *,
        recover: Callable[[], Core],
        batch_max: int = 512,
        snapshot_every: int = 10_000,
        snapshots_keep: int | None = None,
        clock: Callable[[], int] = wall_clock_us,
        background_snapshots: bool | None = None,
        metrics=None,
        journal: Journal | None = None,
        projection: ProjectionWorker | None = None,
    ) -> None:
        self.core = core
        self.db = db
        # SQLite: take the write lock at BEGIN, so a login's token insert in between
        # makes the commit wait its turn instead of failing with SQLITE_BUSY
        self._db_write = for_writing(db)
        self.bus = bus
        self.queue = queue
        self.journal = journal or Journal(db)
        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps
        # in steps of up to 100 ms (its busy handler): the journal commit and the
        # projector take turns on this lock instead, which hands over at once
        sqlite = getattr(getattr(db, "dialect", None), "name", "") == "sqlite"
        self._write_turn = threading.Lock() if sqlite else contextlib.nullcontext()
        # the read models, written behind the commit; on SQLite several batches to a
        # transaction (every reader is in this process and wakes the worker at the fence;
        # a gateway's fence elsewhere polls the database and could not)
        self.projection = projection or ProjectionWorker(
            db, write_turn=self._write_turn, linger_s=SQLITE_LINGER_S if sqlite else 0.0
        )
        self.batch_max = batch_max
        self.snapshot_every = snapshot_every
        self.snapshots_keep = snapshots_keep
        # None: in a forked child wherever the child can reach the database
        self.snapshotter = Snapshotter(db, background=background_snapshots)
        # exchange.edge.metrics.Metrics, or None (not counted)
        self.metrics = metrics
        self.clock = clock
        self._recover = recover
        # (seq, hash) of the journal's last committed entry, so a batch's append needs no
        # query for it; None: unknown (at start, after a recovery or a failed commit), the
        # next append reads it from the database
        self._tail: tuple[int, str] | None = None
        # the commit thread's own connection, held between batches: taking one from the
        # pool would cost a pre-ping round trip per batch. Dropped on any failure; one
        # found dead before COMMIT is replaced (a checkout, pinged) within the batch.
        self._writer: Connection | None = None
        self._last_ts_us = 0
        # the newest seq whose journal entry is committed (and so may be acknowledged)
        self.committed_seq = core.last_seq
        self._since_snapshot = 0
        self._stopping = False
        # False once the core may differ from the journal (a failed commit or a failed
        # recovery): the next batch recovers first
        self._core_sound = True
        # why the last commit or recovery failed; None once one succeeds (for /healthz)
        self.failure: str | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emx-sequencer")
        # the last batch's event publication, while `run` publishes behind the loop
        self._publishing: asyncio.Task | None = None
        self._publish_behind = False
        # the recovered core is long-lived: out of the collector's walks from the start
        _freeze_long_lived()
        self._since_freeze = 0

    @property
    def sound(self) -> bool:
        """False while the core may differ from the journal and could not be rebuilt."""
        return self._core_sound

    async def run(self) -> None:
        # What is left of the last committed batch (its replies and feed messages, made
        # already): done once the next batch's commit has started, so the acks are
        # written while that commit waits for its fsync, or at once if nothing waits.
        # Its events go out behind it, chained in seq order: over Redis their round trip
        # no longer delays the next batch. `process` alone (tests, tools) publishes before
        # it returns.
        finish: _Finish | None = None
        ready = getattr(self.queue, "ready", None)
        self._publish_behind = True
        try:
            while not self._stopping:
                if finish is not None and (ready is None or not ready()):
                    await finish()
                    finish = None
                batch = await self.queue.next_batch(self.batch_max)
                if batch:
                    finish = await self._process(batch, finish)
                    # (a batch that did not start a commit has run the previous finish)
        finally:
            try:
                if finish is not None:
                    await finish()
            finally:
                self._publish_behind = False
                if self._publishing is not None:
                    await asyncio.wait({self._publishing}, timeout=10)

    async def _publish(self, previous: asyncio.Task | None, msgs: list) -> None:
        if previous is not None:
            await previous  # events in seq order; it never raises
        try:
            await self.bus.publish_many(msgs)
        except Exception:
            # feeds are best effort; clients re-sync from snapshots on a seq gap
            log.exception("publishing to the bus failed")

    def stop(self) -> None:
        self._stopping = True

    def close(self) -> None:
        """Let the commit in progress finish, then end the sequencer's thread, write
        the read models still queued and wait for a snapshot being written."""
        with contextlib.suppress(RuntimeError):  # closed already
            self._thread.submit(self._drop_writer, False).result()
        self._thread.shutdown(wait=True)
        if not self.projection.close():
            log.warning("read models left behind the journal; projected on the next start")
        self.snapshotter.settle()

    def _stamp(self) -> int:
        # never backwards, even if the wall clock is stepped back
        self._last_ts_us = max(self._last_ts_us, self.clock())
        return self._last_ts_us

    async def _on_own_thread(self, fn: Callable, *args):
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def _rebuild(self) -> bool:
        """Replace the core by one recovered from the journal, and drop every cache
        that was filled from the old one. False if that failed (the core stays unsound)."""
        self._core_sound = False
        self._tail = None
        try:
            self.core = await self._on_own_thread(self._recover)
        except Exception as exc:
            log.exception("recovering the core from the journal failed")
            self.failure = f"recovery failed: {exc}"
            return False
        self._core_sound = True
        return True

    async def process(self, batch: list[tuple[object, Command]]) -> None:
        """Apply, commit and answer one batch; returns once it is answered and published."""
        finish = await self._process(batch, None)
        if finish is not None:
            await finish()

    async def _process(
        self, batch: list[tuple[object, Command]], previous: _Finish | None
    ) -> _Finish | None:
        """Apply and commit `batch`; what is left to do once it is committed (answer
        and publish) is returned, not done. `previous` (the last batch's) is done as
        soon as this batch's commit has started, or first on any other path."""
        if previous is not None and not self._pipelines(batch):
            await previous()
            previous = None
        malformed = [(h, c) for h, c in batch if not isinstance(c, Command)]
        if malformed:
            # the queues decode what they carry; anything else is refused, not applied
            batch = [(h, c) for h, c in batch if isinstance(c, Command)]
            await self.queue.reply_many(
                [
                    (h, malformed_reply(MalformedCommand(f"not a command: {c!r:.200}")))
                    for h, c in malformed
                ]
            )
            if not batch:
                return None
        if not self._core_sound and not await self._rebuild():
            await self.queue.reply_many([(handle, _unavailable()) for handle, _ in batch])
            return None
        stamped = [(self.core.last_seq + 1 + i, self._stamp()) for i in range(len(batch))]
        outcomes, failed_at = self._apply(batch, stamped)
        if failed_at is not None and previous is not None:
            await previous()
            previous = None
        if failed_at is not None:
            # The core may be half-changed by the failing command: rebuild it and
            # re-apply the good prefix (same seq and time, so the same outcomes).
            if not await self._rebuild():
                await self.queue.reply_many([(handle, _unavailable()) for handle, _ in batch])
                return None
            outcomes, again = self._apply(batch[:failed_at], stamped[:failed_at])
            if again is not None:
                await self._rebuild()
                await self.queue.reply_many([(handle, _unavailable()) for handle, _ in batch])
                return None
        good = batch[: len(outcomes)]
        replies: list = []
        messages: list = []
        if outcomes:
            entries = [
                (out.seq, out.ts_us, command.kind, to_payload(command))
                for out, (_h, command) in zip(outcomes, good, strict=True)
            ]
            applied = [(out, command) for out, (_h, command) in zip(outcomes, good, strict=True)]
            started = time.perf_counter()
            commit = asyncio.get_running_loop().run_in_executor(
                self._thread, self._commit, entries, applied
            )
            if previous is not None:
                # the core is not changed until this commit is awaited: the commit
                # thread reads it (the read-model rows, a snapshot's fork) meanwhile
                await previous()
            try:
                await commit
            except Exception as exc:
                log.exception("group commit failed; rebuilding the core from the journal")
                self.failure = f"journal commit failed: {exc}"
                await self._rebuild()
                await self.queue.reply_many([(handle, _unavailable()) for handle, _ in batch])
                return None
            self.failure = None
            if self.metrics is not None:
                self.metrics.committed(
                    outcomes, [c for _h, c in good], time.perf_counter() - started
                )
            if any(out.alerts for out in outcomes):
                # an alert's feed message names it by the id its read-model row gets:
                # the messages wait for that row (the core is not changed meanwhile)
                await self.projection.wait_async(outcomes[-1].seq, FENCE_TIMEOUT_S)
            # made now, from the core as this batch left it: the next batch may be
            # applied (changing these orders' records) before they are sent
            replies = [
                (h, reply_for(out).to_dict()) for (h, _c), out in zip(good, outcomes, strict=True)
            ]
            try:
                messages = messages_for(self.core, outcomes)
            except Exception:
                # feeds are best effort; clients re-sync from snapshots on a seq gap
                log.exception("making the feed messages failed")

        async def finish() -> None:
            if replies:
                await self.queue.reply_many(replies)
            if failed_at is not None:
                await self.queue.reply(batch[failed_at][0], _internal_error())
            if messages:
                sending = self._publish(self._publishing, messages)
                if self._publish_behind:
                    self._publishing = asyncio.create_task(sending)
                else:
                    await sending

        if failed_at is not None:
            await finish()
            # the rest of the batch was never applied: put it through again
            rest = batch[failed_at + 1 :]
            if rest:
                await self.process(rest)
            return None
        return finish

    def _pipelines(self, batch: list[tuple[object, Command]]) -> bool:
        """Whether the last batch's answers may wait until this batch's commit has
        started: only on the plain path (a sound core, commands only)."""
        return self._core_sound and all(isinstance(c, Command) for _h, c in batch)

    def _apply(
        self, batch: list[tuple[object, Command]], stamped: list[tuple[int, int]]
    ) -> tuple[list[Outcome], int | None]:
        """Outcomes of the batch's commands in order, and the index of the first one
        the core raised on (None if none did); nothing after it is applied."""
        outcomes: list[Outcome] = []
        for i, ((_handle, command), (seq, ts_us)) in enumerate(zip(batch, stamped, strict=True)):
            try:
                outcomes.append(self.core.apply(seq, ts_us, command))
            except Exception:
                log.exception("core failed on %s at seq %d", command.kind, seq)
                return outcomes, i
        return outcomes, None

    def _commit(self, entries: list, applied: list[tuple[Outcome, Command]]) -> None:
        last_seq, last_ts_us = entries[-1][0], entries[-1][1]
        if self.core.last_seq != last_seq:
            raise RuntimeError(f"core at seq {self.core.last_seq}, batch ends at {last_seq}")
        snapshot_due = self._since_snapshot + len(entries) >= self.snapshot_every
        inline = snapshot_due and not self.snapshotter.background
        # before the commit: rows that cannot be collected fail the batch like a failed
        # commit, rather than leave a committed batch the read models would never show
        rows = collect(self.core, applied)
        with self._write_turn:
            for attempt in (1, 2):
                committing = False
                try:
                    conn = self._writer or self._db_write.connect()
                    self._writer = conn
                    with conn.begin():
                        tail = self.journal.append(conn, entries, tail=self._tail)
                        if inline:
                            self.snapshotter.take_inline(
                                conn, self.core, last_seq, last_ts_us, self.snapshots_keep
                            )
                        committing = True
                    break
                except BaseException as exc:
                    # whatever failed (the connection, the chain check, the commit): the
                    # tail is read again, on a new connection
                    self._tail = None
                    self._drop_writer()
                    # the held connection was found dead before COMMIT was sent, so
                    # nothing was written: once more on a new one (what the pool's
                    # pre-ping did on every batch)
                    dead = isinstance(exc, DBAPIError) and exc.connection_invalidated
                    if attempt == 2 or committing or not dead:
                        raise
                    log.warning("the sequencer's database connection was lost; reconnecting")
        self._tail = tail
        self.committed_seq = last_seq
        self.projection.submit(rows)
        taken = inline
        if snapshot_due and not inline:
            # the batch is committed: a failure from here on must not fail it
            try:
                taken = self.snapshotter.start(self.core, last_seq, last_ts_us, self.snapshots_keep)
            except OSError:
                log.exception("could not start a background snapshot; the next commit retries")
        self._since_freeze += len(entries)
        if taken or self._since_freeze >= FREEZE_EVERY:
            # on a count of its own too: with snapshots rare, off or busy, full
            # collections of 0.2-0.56 s came back (the freeze waited for a snapshot)
            _freeze_long_lived()
            self._since_freeze = 0
        if taken and self.metrics is not None:
            self.metrics.snapshots.inc()
        self._since_snapshot = 0 if taken else self._since_snapshot + len(entries)

    def _drop_writer(self, failed: bool = True) -> None:
        conn, self._writer = self._writer, None
        if conn is None:
            return
        try:
            if failed:
                # not back to the pool: after a failure its state is unknown
                conn.invalidate()
            conn.close()
        except Exception:
            log.exception("closing the sequencer's database connection failed")


def _freeze_long_lived() -> None:
    """Move every object alive now out of the cyclic collector's reach (gc.freeze).

    The core's state is a few hundred thousand long-lived objects; a full collection
    walked them all (about 0.2 s at 80,000 resting orders), stopping every client, each
    time the heap had grown by a quarter. Run after each snapshot (so the forked child,
    already running, is not touched), the collections that remain only walk what was
    made since. The price: an object alive at a freeze that later dies inside a reference
    cycle is never freed; orders leave the book without cycles (cancelling 10,000 frozen
    orders left no cyclic garbage), so the book's churn is not kept."""
    gc.freeze()


def _unavailable() -> dict:
    return {
        "seq": None,
        "result": {},
        "error": {"code": "unavailable", "message": "the journal could not be written"},
        "orders": [],
    }


def _internal_error() -> dict:
    return {
        "seq": None,
        "result": {},
        "error": {"code": "internal_error", "message": "the command could not be applied"},
        "orders": [],
    }
