"""The sequencer: one writer that stamps, applies, journals and acknowledges.

Each batch: stamp every command with the next `seq` and a non-decreasing
`ts_us`, apply it to the in-memory core, then write the journal entries and
the read models in ONE database transaction (group commit). Only after that
commit are clients answered and events published, so an acknowledged command
is durable and every read made after the answer sees it. The core is applied
before the commit on purpose: nothing escapes until the commit succeeds, and if
it fails the core is rebuilt from the durable journal.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from exchange import snapshots
from exchange.bus import malformed_reply
from exchange.command_codec import to_payload
from exchange.commands import Command, MalformedCommand
from exchange.core.state import Core, Outcome
from exchange.db.engine import for_writing
from exchange.feeds import messages_for
from exchange.journal import Journal
from exchange.projector import Projector
from exchange.views import order_view, record_row

log = logging.getLogger(__name__)


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
        clock: Callable[[], int] = wall_clock_us,
    ) -> None:
        self.core = core
        self.db = db
        # SQLite: take the write lock at BEGIN, so a login's token insert in between
        # makes the commit wait its turn instead of failing with SQLITE_BUSY
        self._db_write = for_writing(db)
        self.bus = bus
        self.queue = queue
        self.journal = Journal(db)
        self.projector = Projector()
        self.batch_max = batch_max
        self.snapshot_every = snapshot_every
        self.clock = clock
        self._recover = recover
        self._last_ts_us = 0
        self._since_snapshot = 0
        self._stopping = False

    async def run(self) -> None:
        while not self._stopping:
            batch = await self.queue.next_batch(self.batch_max)
            if batch:
                await self.process(batch)

    def stop(self) -> None:
        self._stopping = True

    def _stamp(self) -> int:
        # never backwards, even if the wall clock is stepped back
        self._last_ts_us = max(self._last_ts_us, self.clock())
        return self._last_ts_us

    async def process(self, batch: list[tuple[object, Command]]) -> None:
        outcomes: list[Outcome] = []
        entries = []
        applied: list[tuple[Outcome, Command]] = []
        handles = []
        failed: list[tuple[object, str]] = []
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
        for handle, command in batch:
            seq = self.core.last_seq + 1
            ts_us = self._stamp()
            try:
                out = self.core.apply(seq, ts_us, command)
            except Exception:
                # A defect, not a refusal: the core may be half-changed, so rebuild it
                # from what is durable after committing what came before.
                log.exception("core failed on %s; rebuilding from the journal", command.kind)
                failed.append((handle, command.kind))
                break
            outcomes.append(out)
            entries.append((seq, ts_us, command.kind, to_payload(command)))
            applied.append((out, command))
            handles.append(handle)
        if entries:
            try:
                await asyncio.to_thread(self._commit, entries, applied)
            except Exception:
                log.exception("group commit failed; rebuilding the core from the journal")
                self.core = self._recover()
                for handle in handles:
                    await self.queue.reply(handle, _unavailable())
                for handle, _ in failed:
                    await self.queue.reply(handle, _unavailable())
                return
        await self.queue.reply_many(
            [(h, reply_for(out).to_dict()) for h, out in zip(handles, outcomes, strict=True)]
        )
        if failed:
            self.core = self._recover()
            for handle, _ in failed:
                await self.queue.reply(handle, _internal_error())
            # the rest of the batch was never applied: put it through again
            rest = batch[len(handles) + 1 :]
            if rest:
                await self.process(rest)
        if outcomes:
            try:
                await self.bus.publish_many(messages_for(self.core, outcomes))
            except Exception:
                # feeds are best effort; clients re-sync from snapshots on a seq gap
                log.exception("publishing to the bus failed")

    def _commit(self, entries: list, applied: list[tuple[Outcome, Command]]) -> None:
        with self._db_write.begin() as conn:
            self.journal.append(conn, entries)
            self.projector.project(conn, self.core, applied)
            self._since_snapshot += len(entries)
            if self._since_snapshot >= self.snapshot_every:
                self._since_snapshot = 0
                data = self.core.snapshot()
                snapshots.save(
                    conn, self.core.last_seq, entries[-1][1], hashlib.sha256(data).hexdigest(), data
                )


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
