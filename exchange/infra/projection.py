"""Read models behind the journal: the projection worker, the read fence, catching up.

The sequencer acknowledges a batch once its journal entries are committed; the read
models (exchange.infra.projector) are written after that by `ProjectionWorker`, on a thread
of its own, in seq order. Each of its transactions writes the rows of one or more
batches and the seq they end at (`projection_progress`), so the tables always show a
prefix of the journal, and after a crash `catch_up` projects the rest before the core
serves again.

Reads stay read-your-writes through a fence: before a reader touches the tables it
waits until the projection has reached every seq acknowledged so far (which includes
the caller's own), at most `FENCE_TIMEOUT_S`, then gives up with `503
read_models_behind`. `LocalFence` knows both seqs from memory (the core is in this
process); `DatabaseFence` (a gateway whose core is elsewhere) reads the journal's tail
and the progress from the database. `FencedEngine` puts the fence in front of every
connection a reader opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy import Engine, event, text

from exchange.config import Settings
from exchange.core.command_codec import from_payload
from exchange.core.state import Core
from exchange.infra import snapshots
from exchange.infra.db.engine import for_writing, make_engine
from exchange.infra.journal import Journal
from exchange.infra.projector import BatchRows, Projector, load_progress, save_progress
from exchange.infra.runtime import (
    SnapshotCorrupted,
    new_core,
    restore_snapshot,
    sqlite_path,
)

log = logging.getLogger(__name__)

FENCE_TIMEOUT_S = 5.0
# a failed projection write is tried again after this, doubling up to the maximum
RETRY_FIRST_S = 0.01
RETRY_MAX_S = 1.0
# On SQLite the worker waits this long after rows arrive before it writes them, unless a
# reader waits at the fence: one transaction then carries several small batches. Each
# transaction has a fixed cost (BEGIN IMMEDIATE, the progress row, COMMIT, statements
# through SQLAlchemy, and a wait for the GIL after every SQLite call), which at 8
# connections was paid per batch of about four orders, and it holds the write turn the
# journal commit waits for.
SQLITE_LINGER_S = 0.02
# nor more batches than this in one transaction
LINGER_MAX_BATCHES = 16


class ReadModelsBehind(RuntimeError):
    """The read models did not reach the acknowledged seq in time."""

    def __init__(self, projected: int, target: int) -> None:
        super().__init__(f"the read models show seq {projected}, acknowledged is {target}")
        self.projected = projected
        self.target = target


class ProjectionWorker:
    """Writes batches of read-model rows behind the journal commit, in order.

    `submit` (the sequencer, after a journal commit) queues a batch's rows; the
    worker's thread takes everything queued, writes it in one transaction with the
    progress, and only then drops it: a failed write (a full disk, a lost connection)
    is retried with the same rows until it succeeds, so no committed batch is skipped.

    With `linger_s` the worker waits up to that long for more batches before writing
    (fewer, larger transactions), but never while anyone waits at the fence (`wait`,
    `wait_async`): a reader wakes it at once, so it sees no more delay than before.
    """

    def __init__(
        self,
        db: Engine,
        projector: Projector | None = None,
        *,
        write_turn: contextlib.AbstractContextManager | None = None,
        linger_s: float = 0.0,
    ) -> None:
        self.db = db
        # taken around each transaction (the sequencer's lock on SQLite: see there)
        self._write_turn = write_turn or contextlib.nullcontext()
        self._own_engine = _lazy_commit_engine(db)
        # the engine the rows are written through
        self.engine = self._own_engine or db
        self._db_write = for_writing(self.engine)
        self.projector = projector or Projector()
        with db.connect() as conn:
            # the newest seq the tables show; read by other threads without the lock
            self.projected = load_progress(conn)
        # why the last write failed; None once one succeeds
        self.failure: str | None = None
        self.batches_written = 0
        self.transactions = 0
        self._pending: deque[BatchRows] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._waiters: list[tuple[int, asyncio.Future]] = []
        self.linger_s = linger_s
        # threads blocked in `wait`: the worker does not linger while there are any
        self._readers = 0
        self._thread = threading.Thread(target=self._run, name="emx-projector", daemon=True)
        self._thread.start()

    def submit(self, rows: BatchRows) -> None:
        with self._cond:
            self._pending.append(rows)
            self._cond.notify_all()

    def wait(self, seq: int, timeout_s: float) -> bool:
        """Block until the tables show `seq`; False if they do not within `timeout_s`."""
        if self.projected >= seq:
            return True
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._readers += 1
            self._cond.notify_all()  # a lingering worker writes now
            try:
                while self.projected < seq:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(left)
            finally:
                self._readers -= 1
        return True

    async def wait_async(self, seq: int, timeout_s: float) -> bool:
        """`wait` for the event loop: a future the worker resolves, no thread blocked."""
        if self.projected >= seq:
            return True
        future = asyncio.get_running_loop().create_future()
        with self._cond:
            if self.projected >= seq:
                return True
            self._waiters.append((seq, future))
            self._cond.notify_all()  # a lingering worker writes now
        try:
            await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return False
        return True

    def close(self, timeout_s: float = 30.0) -> bool:
        """Write what is queued (for at most `timeout_s`), then end the thread. False
        if rows were left unwritten (they are projected again from the journal on the
        next start)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        if self._own_engine is not None and not self._thread.is_alive():
            self._own_engine.dispose()
        return not self._pending

    def _run(self) -> None:
        delay = RETRY_FIRST_S
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending:
                    return
                self._linger()
                batches = list(self._pending)
            try:
                self._write(batches)
            except Exception as exc:
                log.exception("projecting the read models failed; retrying")
                self.failure = str(exc)
                # the cached candles may hold what was rolled back
                self.projector.reset()
                if self._stopping and delay >= RETRY_MAX_S:
                    return
                time.sleep(delay)
                delay = min(2 * delay, RETRY_MAX_S)
                continue
            delay = RETRY_FIRST_S
            self.failure = None
            with self._cond:
                for _ in batches:
                    self._pending.popleft()
                self.projected = batches[-1].last_seq
                self._cond.notify_all()
                ready = [(s, f) for s, f in self._waiters if s <= self.projected]
                self._waiters = [(s, f) for s, f in self._waiters if s > self.projected]
            for _seq, future in ready:
                # the loop may have closed meanwhile (shutdown): nobody waits any more
                with contextlib.suppress(RuntimeError):
                    future.get_loop().call_soon_threadsafe(_resolve, future)

    def _linger(self) -> None:
        """(Under the lock, rows pending.) Wait for more batches, up to `linger_s`."""
        deadline = time.monotonic() + self.linger_s
        while (
            not self._stopping
            and not self._readers
            and not self._waiters
            and len(self._pending) < LINGER_MAX_BATCHES
        ):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._cond.wait(left)

    def _write(self, batches: list[BatchRows]) -> None:
        merged = BatchRows.merged(batches)
        with self._write_turn, self._db_write.begin() as conn:
            if conn.dialect.name == "postgresql":
                # the journal is durable, and these rows are projected again from it if a
                # crash loses them: their commit need not wait for the WAL flush
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            self.projector.write(conn, merged)
            save_progress(conn, batches[-1].last_seq)
        self.batches_written += len(batches)
        self.transactions += 1


def _lazy_commit_engine(db: Engine) -> Engine | None:
    """SQLite: an engine of the worker's own on the same file whose commits do not
    fsync (synchronous=NORMAL; WAL mode keeps them atomic). The journal's commits
    fsync, and whatever a crash takes of the read models is projected again from it
    (the progress commits with the rows). None elsewhere, and for an in-memory
    database (another engine would open another, empty, database)."""
    if db.dialect.name != "sqlite" or sqlite_path(db.url.render_as_string()) is None:
        return None
    engine = make_engine(db.url.render_as_string(hide_password=False))

    @event.listens_for(engine, "connect")
    def _no_fsync(dbapi_conn, _record) -> None:
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")

    return engine


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


# ------------------------------------------------------------------------------ fences


class LocalFence:
    """The core is in this process: both seqs are in memory."""

    def __init__(self, committed: Callable[[], int], worker: ProjectionWorker) -> None:
        self._committed = committed
        self._worker = worker

    def wait(self, timeout_s: float = FENCE_TIMEOUT_S) -> None:
        target = self._committed()
        if self._worker.projected < target and not self._worker.wait(target, timeout_s):
            raise ReadModelsBehind(self._worker.projected, target)


_BEHIND = text(
    "SELECT (SELECT COALESCE(MAX(seq), 0) FROM journal), "
    "(SELECT COALESCE(MAX(seq), 0) FROM projection_progress)"
)
_PROGRESS = text("SELECT COALESCE(MAX(seq), 0) FROM projection_progress")


class DatabaseFence:
    """A gateway: the core is in another process, and every acknowledged command is in
    the journal before its answer leaves the core, so the journal's tail bounds what
    any caller (through any gateway) was acknowledged."""

    def __init__(self, db: Engine, poll_s: float = 0.002) -> None:
        self.db = db
        self.poll_s = poll_s

    def wait(self, timeout_s: float = FENCE_TIMEOUT_S) -> None:
        with self.db.connect() as conn:
            target, projected = conn.execute(_BEHIND).one()
        if projected >= target:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            time.sleep(self.poll_s)
            with self.db.connect() as conn:
                projected = conn.execute(_PROGRESS).scalar_one()
            if projected >= target:
                return
        raise ReadModelsBehind(projected, target)


class FencedEngine:
    """The database as readers see it: each `connect()`/`begin()` first waits at the
    fence. Everything else is the engine's (so `for_writing(db)` and `db.dialect` are
    unchanged, and the health probe does not wait)."""

    def __init__(self, engine: Engine, fence) -> None:
        self.engine = engine
        self.fence = fence

    def connect(self):
        self.fence.wait()
        return self.engine.connect()

    def begin(self):
        self.fence.wait()
        return self.engine.begin()

    def __getattr__(self, name: str):
        return getattr(self.engine, name)


# ------------------------------------------------------------------------------ catching up


def catch_up(db: Engine, settings: Settings, tail: int, batch: int = 1_000) -> int:
    """Project journal entries after the stored progress up to `tail` (a crash came
    between a journal commit and its projection); returns how many. A core is rebuilt
    at the progress seq (from the newest snapshot not after it, else from genesis),
    then the missing entries are applied to it and projected, `batch` at a time, each
    transaction storing its progress."""
    with db.connect() as conn:
        progress = load_progress(conn)
    if progress >= tail:
        return 0
    log.warning("read models at seq %d, journal at %d: projecting the rest", progress, tail)
    core = _core_at(db, settings, progress)
    projector = Projector()
    writer = for_writing(db)
    pending: list = []
    done = 0

    def flush() -> None:
        with writer.begin() as conn:
            projector.project(conn, core, pending)
            save_progress(conn, core.last_seq)
        pending.clear()

    for entry in Journal(db).read(after_seq=progress):
        if entry.seq > tail:
            break
        command = from_payload(entry.payload)
        pending.append((core.apply(entry.seq, entry.ts_us, command), command))
        done += 1
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return done


def _core_at(db: Engine, settings: Settings, seq: int) -> Core:
    snap = snapshots.latest(db, at_or_before=seq)
    if snap is None:
        core = new_core(settings)
    else:
        try:
            verified = snapshots.verify(snap, snapshots.directory_for(db))
        except snapshots.SnapshotDamaged as damaged:
            raise SnapshotCorrupted(snap.seq, str(damaged)) from None
        core = restore_snapshot(verified, settings)
    for entry in Journal(db).read(after_seq=core.last_seq):
        if entry.seq > seq:
            break
        core.apply(entry.seq, entry.ts_us, from_payload(entry.payload))
    return core
