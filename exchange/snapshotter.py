"""Snapshots taken beside the sequencer, as Redis' background save does.

Serializing the whole core takes time that grows with the books and the registry
(about a second with tens of thousands of resting orders); done inside the group
commit it stalled every client. Instead the sequencer forks right after a commit:
the child holds a copy-on-write image of the core exactly at the committed seq,
serializes it, writes the snapshot row on a connection of its own and exits. The
sequencer only pays for the fork and never waits for the child.

The child touches none of the parent's connections, pools or locks: it opens a
bare DBAPI connection from the engine's URL and leaves with `os._exit`, so no
finalizer of an inherited object (a pooled connection, the event loop) runs in it.
A database the child cannot reach (in-memory SQLite) or a platform without fork
gets the snapshot written inline, in the commit's transaction, as before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import sys
import traceback

from sqlalchemy import Connection, Engine

from exchange import snapshots
from exchange.core.state import Core

log = logging.getLogger(__name__)


def can_fork_for(db: Engine) -> bool:
    """A forked child can reach the same database with a connection of its own."""
    if not hasattr(os, "fork"):
        return False
    if db.dialect.name == "sqlite":
        database = db.url.database
        return database not in (None, "", ":memory:") and db.url.query.get("mode") != "memory"
    return db.dialect.name == "postgresql"


class Snapshotter:
    """At most one child at a time; a snapshot due while one runs waits for the next commit."""

    def __init__(self, db: Engine, *, background: bool | None = None) -> None:
        self.db = db
        self.background = can_fork_for(db) if background is None else background
        self._pid: int | None = None
        # seqs of the snapshots the children failed to write (for the log and tests)
        self.failed: list[int] = []
        self._child_seq = 0

    @property
    def busy(self) -> bool:
        self.reap()
        return self._pid is not None

    def take_inline(
        self, conn: Connection, core: Core, seq: int, ts_us: int, keep: int | None
    ) -> None:
        data = core.snapshot()
        snapshots.save(conn, seq, ts_us, hashlib.sha256(data).hexdigest(), data, keep=keep)

    def start(self, core: Core, seq: int, ts_us: int, keep: int | None) -> bool:
        """Fork a child that saves `core` (which must be at `seq`, committed) as the
        snapshot at `seq`. False if the previous child is still writing."""
        if self.busy:
            return False
        connect_args = self.db.dialect.create_connect_args(self.db.url)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which leaves by os._exit
            status = 1
            try:
                _reset_signals()
                _save_in_child(self.db, connect_args, core, seq, ts_us, keep)
                status = 0
            except BaseException:
                traceback.print_exc(file=sys.stderr)
            finally:
                os._exit(status)
        self._pid = pid
        self._child_seq = seq
        return True

    def reap(self, *, wait: bool = False) -> None:
        """Collect a finished child (with `wait`, wait for it) and log a failure."""
        if self._pid is None:
            return
        try:
            pid, status = os.waitpid(self._pid, 0 if wait else os.WNOHANG)
        except ChildProcessError:
            # someone else reaped it: its result is unknown, the next snapshot will tell
            self._pid = None
            return
        if pid == 0:
            return
        self._pid = None
        if os.waitstatus_to_exitcode(status) != 0:
            self.failed.append(self._child_seq)
            log.error(
                "the background snapshot at seq %d failed (exit %d); the next one retries",
                self._child_seq,
                os.waitstatus_to_exitcode(status),
            )

    def settle(self) -> None:
        """Wait until no snapshot is being written."""
        self.reap(wait=True)


def _reset_signals() -> None:
    # The parent's handlers (uvicorn's) would write to the parent's wakeup pipe.
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def _save_in_child(
    db: Engine, connect_args, core: Core, seq: int, ts_us: int, keep: int | None
) -> None:
    data = core.snapshot()
    state_hash = hashlib.sha256(data).hexdigest()
    # serialized and compressed before the write lock is taken
    stored = snapshots.encode(data)
    cargs, ckwargs = connect_args
    sqlite = db.dialect.name == "sqlite"
    raw = db.dialect.loaded_dbapi.connect(*cargs, **ckwargs)
    p = "?" if sqlite else "%s"
    try:
        if sqlite:
            raw.isolation_level = None
            raw.execute("PRAGMA synchronous=FULL")
            raw.execute("PRAGMA busy_timeout=10000")
            raw.execute("BEGIN IMMEDIATE")
        cur = raw.cursor()
        # the same rows snapshots.save writes: replace this seq, keep the newest `keep`
        cur.execute(f"DELETE FROM snapshots WHERE seq = {p}", (seq,))
        cur.execute(
            f"INSERT INTO snapshots (seq, ts_us, state_hash, data) VALUES ({p}, {p}, {p}, {p})",
            (seq, ts_us, state_hash, stored),
        )
        if keep is not None:
            cur.execute(
                "DELETE FROM snapshots WHERE seq < (SELECT seq FROM snapshots "
                f"ORDER BY seq DESC LIMIT 1 OFFSET {p})",
                (keep - 1,),
            )
        if sqlite:
            raw.execute("COMMIT")
        else:
            raw.commit()
    finally:
        raw.close()
