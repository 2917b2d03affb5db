"""Start-up benchmark: how long the core's checks of the whole journal chain and
of its starting snapshot take before it serves anything, and how long restoring
that snapshot takes in the older JSON form and in the plain form written now.

A journal of `commands` valid commands is written (through a Core, as the
service benchmark does), the final state is saved as a snapshot, and then
`Journal.verify_chain` and `runtime.check_snapshot` are timed on their own:
that is what every start adds on top of replaying the entries after the snapshot.
Then the same state is restored from each form in turn (twice each, alternating),
the plain form is left as the database's snapshot (a file beside a SQLite
database), and the whole `runtime.recover` is timed.
"""

from __future__ import annotations

import gc
import hashlib
import time

from bench.service import build_journal, create_pg_database, drop_pg_database


def _snapshot_the_tail(database_url: str) -> int:
    from exchange.config import Settings
    from exchange.infra import snapshots
    from exchange.infra.db.engine import make_engine
    from exchange.infra.journal import Journal
    from exchange.infra.runtime import replay

    db = make_engine(database_url)
    try:
        core = replay(db, Settings(database_url=database_url), use_snapshot=False)
        data = core.snapshot()
        with db.begin() as conn:
            snapshots.save(
                conn,
                core.last_seq,
                Journal(db).entry_ts_us(core.last_seq),
                hashlib.sha256(data).hexdigest(),
                data,
            )
        return core.last_seq
    finally:
        db.dispose()


def time_verification(database_url: str) -> dict:
    from exchange.infra.db.engine import make_engine
    from exchange.infra.journal import Journal
    from exchange.infra.runtime import check_snapshot

    db = make_engine(database_url)
    try:
        started = time.perf_counter()
        tail, _ = Journal(db).verify_chain()
        chain_s = time.perf_counter() - started
        started = time.perf_counter()
        check_snapshot(db, tail)
        snapshot_s = time.perf_counter() - started
    finally:
        db.dispose()
    return {"entries": tail, "chain_s": chain_s, "snapshot_s": snapshot_s}


def time_restore(database_url: str, rounds: int = 2) -> dict:
    from exchange.config import Settings
    from exchange.core.state import Core
    from exchange.infra import snapshots
    from exchange.infra.db.engine import make_engine
    from exchange.infra.runtime import recover, restore_snapshot, thresholds

    settings = Settings(database_url=database_url)
    db = make_engine(database_url)
    try:
        directory = snapshots.directory_for(db)
        snap = snapshots.latest(db)
        core = restore_snapshot(snapshots.verify(snap, directory), settings)
        started = time.perf_counter()
        canonical = core.snapshot()
        legacy_row = snapshots.encode(canonical)
        json_write_s = time.perf_counter() - started
        started = time.perf_counter()
        canonical, plain = core.snapshot_forms()
        state_hash = hashlib.sha256(canonical).hexdigest()
        blob = snapshots.encode_state(snap.seq, state_hash, plain)
        plain_write_s = time.perf_counter() - started
        del core, plain
        if directory is not None:
            name, digest = snapshots.write_file(directory, snap.seq, blob)
            stored = snapshots.file_pointer(name, digest)
        else:
            stored = blob
        with db.begin() as conn:
            snapshots.save_stored(conn, snap.seq, snap.ts_us, state_hash, stored)
        legacy = snapshots.SnapshotRecord(snap.seq, snap.ts_us, state_hash, legacy_row)
        # (wall s, CPU s) per restore: CPU time is steadier on a shared machine
        times: dict[str, list[tuple[float, float]]] = {"json": [], "plain": []}
        for _ in range(rounds):
            # the JSON form as the start-up before this change read it (collector on)
            started, cpu = time.perf_counter(), time.process_time()
            data = snapshots.verify(legacy, None).state()
            Core.restore(data, stp=settings.stp_mode, thresholds=thresholds(settings))
            times["json"].append((time.perf_counter() - started, time.process_time() - cpu))
            del data
            gc.collect()
            started, cpu = time.perf_counter(), time.process_time()
            restore_snapshot(snapshots.verify(snapshots.latest(db), directory), settings)
            times["plain"].append((time.perf_counter() - started, time.process_time() - cpu))
            gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        recovered = recover(db, settings)
        recover_s = (time.perf_counter() - started, time.process_time() - cpu)
        if recovered.state_hash() != state_hash:
            raise AssertionError("the state restored from the plain form differs")
    finally:
        db.dispose()
    return {
        "json_bytes": len(legacy_row),
        "plain_bytes": len(blob),
        "json_write_s": json_write_s,
        "plain_write_s": plain_write_s,
        "json_restore_s": times["json"],
        "plain_restore_s": times["plain"],
        "recover_s": recover_s,
    }


def main(commands: int = 1_000_000, backend: str = "sqlite", path: str | None = None) -> dict:
    import tempfile
    from pathlib import Path

    from rich.console import Console

    console = Console()
    pg_name = None
    folder = None
    if backend == "postgresql":
        pg_name, url = create_pg_database()
    else:
        folder = Path(path or tempfile.mkdtemp(prefix="emx-startup-"))
        url = f"sqlite:///{folder / 'journal.db'}"
    # a journal left by an earlier run in the same folder is verified as it is
    reuse = folder is not None and path is not None and (folder / "journal.db").exists()
    try:
        if reuse:
            console.print(f"verifying the journal already in {url}")
        else:
            console.print(f"writing a journal of {commands:,} commands to {url}")
            built = build_journal(url, commands)
            _snapshot_the_tail(url)
            console.print(f"built in {built['build_s']:.1f} s; verifying")
        figures = time_verification(url)
        restore = time_restore(url)
    finally:
        if pg_name is not None:
            drop_pg_database(pg_name)
    rate = figures["entries"] / max(figures["chain_s"], 1e-9)
    console.print(f"backend          {backend}")
    console.print(f"entries          {figures['entries']:,}")
    console.print(f"chain verified   {figures['chain_s']:.2f} s ({rate:,.0f} entries/s)")
    console.print(f"snapshot checked {figures['snapshot_s'] * 1000:.1f} ms")
    mb = 1 / 1_000_000
    for form in ("json", "plain"):
        runs = ", ".join(f"{w:.2f} s ({c:.2f} s CPU)" for w, c in restore[f"{form}_restore_s"])
        console.print(
            f"{form:5} snapshot {restore[f'{form}_bytes'] * mb:6.1f} MB stored, "
            f"written in {restore[f'{form}_write_s']:.2f} s, restored in {runs}"
        )
    wall, cpu = restore["recover_s"]
    console.print(f"whole recovery   {wall:.2f} s ({cpu:.2f} s CPU in this process)")
    figures.update(restore)
    return figures
