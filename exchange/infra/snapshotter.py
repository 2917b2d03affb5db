"""Snapshots taken beside the sequencer, as Redis' background save does.

Serializing the whole core takes time that grows with the books and the registry
(about a second with tens of thousands of resting orders); done inside the group
commit it stalled every client. Instead the sequencer forks right after a commit:
the child holds a copy-on-write image of the core exactly at the committed seq,
serializes it (the canonical JSON for its state hash, the plain form to store,
exchange.infra.snapshots), writes it and exits. Beside a SQLite database the child
writes the snapshot file itself (temporary name, fsync, rename) and sends up a
pipe only its hash and name; elsewhere it sends the whole blob. A thread of the
parent reads the pipe and writes the row, a few hundred bytes for a file, on a
connection of its own, then removes the files of pruned rows. The sequencer
only pays for the fork and never waits for any of it.

The child touches no database: a SQLite library carried across fork keeps the
parent's lock bookkeeping, which a connection opened in the child would trust
(sqlite.org/howtocorrupt.html, 2.6). It leaves by `os._exit`, so no finalizer of
an inherited object (a pooled connection, the event loop) runs in it. A platform
without fork, or an in-memory database, gets the snapshot written inline, in the
commit's transaction, as before.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import signal
import sys
import threading
import traceback

from sqlalchemy import Connection, Engine

from exchange.core.state import Core
from exchange.infra import snapshots
from exchange.infra.db.engine import for_writing

log = logging.getLogger(__name__)
_HASH_CHARS = 64


def can_fork_for(db: Engine) -> bool:
    """Forking helps only where the snapshot row can be written beside the commits."""
    if not hasattr(os, "fork"):
        return False
    if db.dialect.name == "sqlite":
        database = db.url.database
        return database not in (None, "", ":memory:") and db.url.query.get("mode") != "memory"
    return db.dialect.name == "postgresql"


class Snapshotter:
    """At most one snapshot in the making; one due meanwhile waits for the next commit."""

    def __init__(self, db: Engine, *, background: bool | None = None) -> None:
        self.db = db
        self.background = can_fork_for(db) if background is None else background
        # snapshot files beside a SQLite database file; None: the blob goes in the row
        self.directory = snapshots.directory_for(db)
        self._writer: threading.Thread | None = None
        # seqs of the snapshots that could not be made (for the log and tests)
        self.failed: list[int] = []

    @property
    def busy(self) -> bool:
        return self._writer is not None and self._writer.is_alive()

    def take_inline(
        self, conn: Connection, core: Core, seq: int, ts_us: int, keep: int | None
    ) -> None:
        """The snapshot at `seq` written now, its row in the caller's transaction."""
        if self.directory is not None:
            # the rows earlier commits pruned: their files can go
            snapshots.prune_files(self.db, self.directory)
        state_hash, stored = _serialize(core, seq, self.directory)
        snapshots.save_stored(conn, seq, ts_us, state_hash, stored, keep=keep)

    def start(self, core: Core, seq: int, ts_us: int, keep: int | None) -> bool:
        """Fork a child that serializes `core` (which must be at `seq`, committed);
        a thread saves it as the snapshot at `seq`. False if one is still being made."""
        if self.busy:
            return False
        read_fd, write_fd = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            raise
        if pid == 0:  # pragma: no cover - runs in the child, which leaves by os._exit
            status = 1
            try:
                os.close(read_fd)
                # the collector's passes would write to every object's header and
                # so copy the parent's whole heap page by page
                gc.disable()
                _reset_signals()
                _serialize_into(write_fd, core, seq, self.directory)
                status = 0
            except BaseException:
                traceback.print_exc(file=sys.stderr)
            finally:
                os._exit(status)
        os.close(write_fd)
        self._writer = threading.Thread(
            target=self._save_from_child,
            args=(pid, read_fd, seq, ts_us, keep),
            name=f"emx-snapshot-{seq}",
            daemon=True,
        )
        self._writer.start()
        return True

    def _save_from_child(self, pid: int, read_fd: int, seq: int, ts_us: int, keep) -> None:
        try:
            with os.fdopen(read_fd, "rb") as pipe:
                received = pipe.read()
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            if code != 0 or len(received) <= _HASH_CHARS:
                raise RuntimeError(f"the snapshot child exited with {code}")
            state_hash = received[:_HASH_CHARS].decode("ascii")
            with for_writing(self.db).begin() as conn:
                snapshots.save_stored(
                    conn, seq, ts_us, state_hash, received[_HASH_CHARS:], keep=keep
                )
            if self.directory is not None:
                snapshots.prune_files(self.db, self.directory)
        except Exception:
            self.failed.append(seq)
            log.exception("the background snapshot at seq %d failed; the next one retries", seq)

    def settle(self) -> None:
        """Wait until no snapshot is being made."""
        if self._writer is not None:
            self._writer.join()


def _reset_signals() -> None:
    # The parent's handlers (uvicorn's) would write to the parent's wakeup pipe.
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def _serialize(core: Core, seq: int, directory) -> tuple[str, bytes]:
    """(state hash, what the row stores): the blob, or a pointer to the file written."""
    canonical, plain = core.snapshot_forms()
    state_hash = hashlib.sha256(canonical).hexdigest()
    del canonical
    blob = snapshots.encode_state(seq, state_hash, plain)
    if directory is None:
        return state_hash, blob
    name, digest = snapshots.write_file(directory, seq, blob)
    return state_hash, snapshots.file_pointer(name, digest)


def _serialize_into(fd: int, core: Core, seq: int, directory) -> None:
    state_hash, stored = _serialize(core, seq, directory)
    with os.fdopen(fd, "wb") as pipe:
        pipe.write(state_hash.encode("ascii"))
        pipe.write(stored)
