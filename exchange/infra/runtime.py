"""Starting the core: migrate, recover (snapshot + journal), make sure the
system accounts have rows, and create the first logins."""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Engine, insert, select
from sqlalchemy.engine import make_url

from exchange.config import Settings
from exchange.core import commands
from exchange.core.command_codec import from_payload
from exchange.core.commands import MalformedCommand
from exchange.core.state import CLIENT_ORDER_WINDOW_S, Core
from exchange.core.surveillance import Thresholds
from exchange.infra import snapshots
from exchange.infra.db import models
from exchange.infra.journal import Journal, JournalCorrupted

log = logging.getLogger(__name__)


class StateMismatch(RuntimeError):
    pass


class SnapshotCorrupted(RuntimeError):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"snapshot corrupted at seq {seq}: {reason}")
        self.seq = seq
        self.reason = reason


class DatabaseMissing(RuntimeError):
    pass


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(
        price_move_bps=settings.price_move_alert_bps,
        concentration_bps=settings.concentration_alert_bps,
        cancel_ratio_min_orders=settings.cancel_ratio_min_orders,
    )


def genesis_command(settings: Settings) -> commands.Genesis:
    """The first journal entry: the parameters the state depends on."""
    return commands.Genesis(
        fee_bps=settings.fee_bps,
        stp=str(settings.stp_mode),
        thresholds=asdict(thresholds(settings)),
        client_order_window_s=CLIENT_ORDER_WINDOW_S,
    )


class ParametersChanged(RuntimeError):
    pass


def check_parameters(core: Core, settings: Settings) -> None:
    """A journal keeps the fee, self-trade mode and alert thresholds it started with;
    starting it with others would make replay disagree with what was acknowledged."""
    genesis = genesis_command(settings)
    want = {
        "fee_bps": genesis.fee_bps,
        "stp": genesis.stp,
        "thresholds": genesis.thresholds,
        "client_order_window_s": genesis.client_order_window_s,
    }
    have = core.parameters()
    # a parameter newer than the journal is absent from it: the journal keeps the
    # behaviour it was written with (e.g. client order ids remembered for ever)
    changed = ", ".join(sorted(k for k in want if k in have and want[k] != have[k]))
    if changed:
        raise ParametersChanged(
            f"this journal was started with other {changed} ({have}); start with the same "
            "settings (EMX_FEE_BPS, EMX_STP_MODE, alert thresholds) or a new database"
        )


def new_core(settings: Settings) -> Core:
    return Core(fee_bps=settings.fee_bps, stp=settings.stp_mode, thresholds=thresholds(settings))


def replay(
    db: Engine,
    settings: Settings,
    *,
    use_snapshot: bool = True,
    progress: Callable[[int], None] | None = None,
    snapshot: snapshots.Verified | None = None,
) -> Core:
    """The core as the durable journal leaves it: the newest snapshot (its hash
    checked, or `snapshot`, checked already) plus every entry after it, applied in order."""
    core = None
    if use_snapshot:
        if snapshot is None:
            snap = snapshots.latest(db)
            if snap is not None:
                try:
                    snapshot = snapshots.verify(snap, snapshots.directory_for(db))
                except snapshots.SnapshotDamaged as damaged:
                    raise StateMismatch(f"snapshot at seq {snap.seq}: {damaged}") from None
        if snapshot is not None:
            core = restore_snapshot(snapshot, settings)
    if core is None:
        core = new_core(settings)
    apply = core.apply
    loads = json.loads
    with _no_cyclic_gc():
        for n, (seq, ts_us, text) in enumerate(_entries_after(db, core.last_seq), start=1):
            try:
                command = from_payload(loads(text))
            except (MalformedCommand, ValueError) as bad:
                raise StateMismatch(f"journal entry {seq} holds no command: {bad}") from None
            apply(seq, ts_us, command)
            if progress is not None and n % 10_000 == 0:
                progress(n)
    return core


def _entries_after(db: Engine, after_seq: int, batch: int = 20_000) -> Iterator[tuple]:
    """(seq, ts_us, payload text) of every journal entry after `after_seq`, in order:
    plain driver tuples in keyset pages (SQLAlchemy's row objects cost about a
    microsecond an entry, a few per cent of a replay)."""
    mark = "?" if db.dialect.name == "sqlite" else "%s"
    sql = f"SELECT seq, ts_us, payload FROM journal WHERE seq > {mark} ORDER BY seq LIMIT {mark}"
    while True:
        with db.connect() as conn:
            cur = conn.connection.dbapi_connection.cursor()
            try:
                cur.execute(sql, (after_seq, batch))
                rows = cur.fetchall()
            finally:
                cur.close()
        yield from rows
        if len(rows) < batch:
            return
        after_seq = rows[-1][0]


def restore_snapshot(snapshot: snapshots.Verified, settings: Settings) -> Core:
    """The core a checked snapshot holds; SnapshotCorrupted if it cannot be read or is
    the state at another seq."""
    try:
        with _no_cyclic_gc():
            state = snapshot.state()
            if snapshot.kind == "json":
                core = Core.restore(state, stp=settings.stp_mode, thresholds=thresholds(settings))
            else:
                core = Core.restore_plain(
                    state, stp=settings.stp_mode, thresholds=thresholds(settings)
                )
    except snapshots.SnapshotDamaged as damaged:
        raise SnapshotCorrupted(snapshot.seq, str(damaged)) from None
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        raise SnapshotCorrupted(snapshot.seq, "its data cannot be read") from None
    if core.last_seq != snapshot.seq:
        raise SnapshotCorrupted(snapshot.seq, f"its data is the state at seq {core.last_seq}")
    return core


@contextlib.contextmanager
def _no_cyclic_gc():
    """Replay only adds long-lived objects to a growing heap, so the cyclic collector's
    passes over it find nothing and cost a fifth of the time; reference counting still
    frees what is dropped."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def check_snapshot(db: Engine, journal_tail: int) -> snapshots.Verified | None:
    """The snapshot recovery would start from must belong to the verified journal:
    its seq is a journal entry with the same time, its stored bytes (the file, for a
    snapshot kept beside a SQLite database) match the hashes its row records.
    Returns it checked, for `replay`; raises SnapshotCorrupted."""
    snap = snapshots.latest(db)
    if snap is None:
        return None
    if snap.seq > journal_tail:
        raise SnapshotCorrupted(snap.seq, f"the journal ends at seq {journal_tail}")
    try:
        verified = snapshots.verify(snap, snapshots.directory_for(db))
    except snapshots.SnapshotDamaged as damaged:
        raise SnapshotCorrupted(snap.seq, str(damaged)) from None
    if Journal(db).entry_ts_us(snap.seq) != snap.ts_us:
        raise SnapshotCorrupted(snap.seq, "its time differs from the journal entry's")
    # that the data is the state at snap.seq is checked by `replay` as it restores it
    # (reading a large snapshot twice would double this check's cost)
    return verified


def recover(db: Engine, settings: Settings) -> Core:
    """The core, from a journal whose whole chain and starting snapshot were checked:
    a tampered, reordered or missing entry raises JournalCorrupted, a bad snapshot
    SnapshotCorrupted, before anything is served from them.

    The chain is checked in another process while this one restores the snapshot and
    replays the entries after it: neither waits for the other, and nothing is
    returned (so nothing served) until both are done. If the chain is broken, that is
    the error raised, whatever the restore or the replay ran into meanwhile."""
    chain = ChainCheck(db)
    try:
        verified = check_snapshot(db, Journal(db).last()[0])
        core = replay(db, settings, snapshot=verified)
    except BaseException:
        chain.result()  # a broken chain explains the failure: it is the one reported
        raise
    tail, _ = chain.result()
    if core.last_seq != tail:
        # an entry appended after verification: only another writer could do that
        raise CoreAlreadyRunning(f"the journal grew during recovery: {tail} -> {core.last_seq}")
    return core


class ChainCheck:
    """`Journal.verify_chain` in a process of its own, started at once; `result()`
    waits for it and returns the tail or raises JournalCorrupted. The process is a
    fresh interpreter that imports only the journal (a SQLite library carried across
    fork would trust the parent's lock bookkeeping; multiprocessing's spawn would
    re-run the caller's main script). Where no process can be started, or none could
    see the database (in-memory SQLite), or it fails, the chain is checked here."""

    def __init__(self, db: Engine) -> None:
        self.db = db
        self._process: subprocess.Popen | None = None
        shared = db.dialect.name == "postgresql" or sqlite_path(str(db.url)) is not None
        if not shared:
            return
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _CHAIN_CHECK],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            # the URL (with its password) goes through the pipe, not the command line
            self._process.stdin.write(db.url.render_as_string(hide_password=False).encode())
            self._process.stdin.close()
            self._process.stdin = None  # written and closed: communicate() must not flush it
        except OSError:
            log.warning("could not start the chain check beside recovery; checking it inline")
            self._process = None

    def result(self) -> tuple[int, str]:
        process, self._process = self._process, None
        if process is None:
            return Journal(self.db).verify_chain()
        out, err = process.communicate()
        try:
            outcome = json.loads(out) if process.returncode == 0 else None
        except ValueError:
            outcome = None
        if outcome is not None and outcome[0] == "ok":
            return outcome[1], outcome[2]
        if outcome is not None and outcome[0] == "corrupted":
            raise JournalCorrupted(outcome[1], outcome[2])
        # the check itself failed (not the chain): check here rather than not at all
        log.warning(
            "the chain check beside recovery failed (exit %s: %s); checking it inline",
            process.returncode,
            err.decode(errors="replace").strip()[-500:],
        )
        return Journal(self.db).verify_chain()


_CHAIN_CHECK = """
import json, sys
from exchange.infra.db.engine import make_engine
from exchange.infra.journal import Journal, JournalCorrupted
db = make_engine(sys.stdin.read())
try:
    tail, head = Journal(db).verify_chain()
    outcome = ["ok", tail, head]
except JournalCorrupted as bad:
    outcome = ["corrupted", bad.seq, bad.reason]
db.dispose()
sys.stdout.write(json.dumps(outcome))
"""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, None for an in-memory database or another backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    database = parsed.database
    if parsed.query.get("uri") == "true":
        database = database.removeprefix("file:").split("?", 1)[0]
        if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
            return None
    return Path(database)


def check_database_location(url: str) -> None:
    """SQLite creates a missing file but not a missing directory: say which one."""
    path = sqlite_path(url)
    if path is not None and not path.absolute().parent.is_dir():
        raise DatabaseMissing(f"the database directory {path.absolute().parent} does not exist")


def ensure_system_accounts(db: Engine, core: Core) -> None:
    """FEES, RESERVE and the city pools exist from genesis in the registry; give
    them read-model rows so postings can refer to them."""
    a = models.Account.__table__
    with db.begin() as conn:
        have = {r.id for r in conn.execute(select(a.c.id))}
        rows = [
            {
                "id": acc.account_id,
                "name": acc.name,
                "role": models.SYSTEM_ROLE,
                "city_code": acc.city_code or None,
                "last_seq": 0,
            }
            for acc in core.registry.accounts()
            if models.account_role(acc.role) == models.SYSTEM_ROLE and acc.account_id not in have
        ]
        if rows:
            conn.execute(insert(a), rows)


def has_credentials(db: Engine) -> bool:
    c = models.Credential.__table__
    with db.connect() as conn:
        return conn.execute(select(c.c.username).limit(1)).first() is not None


class CoreStart(NamedTuple):
    """A core ready to run: the journal's lock held, the state recovered and verified."""

    lock: CoreLock
    core: Core


def start_core(db: Engine, settings: Settings) -> CoreStart:
    """Take the core lock, then recover (verifying the journal) under it."""
    lock = CoreLock(db)
    try:
        return CoreStart(lock, recover(db, settings))
    except BaseException:
        lock.release()
        raise


# Any constant; PostgreSQL advisory locks are per database.
_CORE_LOCK_KEY = 0x454D58_C0DE


class CoreAlreadyRunning(RuntimeError):
    pass


class CoreLock:
    """Only one core may write the journal. On PostgreSQL a session advisory lock,
    held on a connection of its own for the core's lifetime, makes a second core
    refuse to start instead of racing the first. On SQLite an exclusive lock on
    `<database>.lock` does the same; the kernel drops it if the process dies."""

    def __init__(self, db: Engine) -> None:
        self._conn = None
        self._fd: int | None = None
        if db.dialect.name == "sqlite":
            path = sqlite_path(str(db.url))
            if path is not None:
                self._lock_file(path)
            return
        if db.dialect.name != "postgresql":
            return
        conn = db.connect()
        got = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({_CORE_LOCK_KEY})").scalar()
        conn.commit()
        if not got:
            conn.close()
            raise CoreAlreadyRunning("another core process holds this database's journal")
        self._conn = conn

    def _lock_file(self, path: Path) -> None:
        lock_path = f"{path}.lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DatabaseMissing(f"cannot open {lock_path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CoreAlreadyRunning(f"another core process is using {path}") from None
        self._fd = fd

    def release(self) -> None:
        if self._conn is not None:
            self._conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_CORE_LOCK_KEY})")
            self._conn.close()
            self._conn = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
