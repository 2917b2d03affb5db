"""Start-up verification benchmark: how long the core's checks of the whole
journal chain and of its starting snapshot take before it serves anything.

A journal of `commands` valid commands is written (through a Core, as the
service benchmark does), the final state is saved as a snapshot, and then
`Journal.verify_chain` and `runtime.check_snapshot` are timed on their own:
that is what every start adds on top of replaying the entries after the snapshot.
"""

from __future__ import annotations

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
    finally:
        if pg_name is not None:
            drop_pg_database(pg_name)
    rate = figures["entries"] / max(figures["chain_s"], 1e-9)
    console.print(f"backend          {backend}")
    console.print(f"entries          {figures['entries']:,}")
    console.print(f"chain verified   {figures['chain_s']:.2f} s ({rate:,.0f} entries/s)")
    console.print(f"snapshot checked {figures['snapshot_s'] * 1000:.1f} ms")
    return figures
