"""`emx`: serve the exchange, run the core, replay the journal, benchmark, migrate."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

app = typer.Typer(help="Guangdong emissions exchange", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print figures")
app.add_typer(bench_app, name="bench")
console = Console()
SOURCE_ROOT = Path(__file__).resolve().parent.parent
# middle-generation collections between two full ones (Python's default: 10)
FULL_COLLECTION_EVERY = 100


@bench_app.callback()
def _bench_from_the_checkout() -> None:
    """The harness lives in the source checkout (`bench/`), not in the installed package:
    a wheel carries the service, not its measuring tools."""
    if not (SOURCE_ROOT / "bench" / "__init__.py").is_file():
        console.print("emx bench runs from a source checkout: bench/ is not installed")
        raise typer.Exit(2)
    if str(SOURCE_ROOT) not in sys.path:
        sys.path.insert(0, str(SOURCE_ROOT))


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="interface to listen on"),
    port: int = typer.Option(8000, help="TCP port"),
    demo: bool = typer.Option(False, "--demo", help="load the demo market and simulated traders"),
    gateway: bool = typer.Option(
        False, "--gateway", help="serve the API only; the core runs elsewhere (needs EMX_REDIS_URL)"
    ),
    log_level: str = typer.Option("info"),
) -> None:
    """Serve the API, the feeds and the pages (and the core, unless --gateway)."""
    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from exchange.bootstrap import create_app
    from exchange.config import ConfigError, Settings, require_bootstrap_passwords
    from exchange.edge.transport import guarded_protocol
    from exchange.infra.runtime import DatabaseMissing, check_database_location

    settings = Settings()
    if gateway and not settings.redis_url:
        raise typer.BadParameter("--gateway needs EMX_REDIS_URL: the core is in another process")
    try:
        check_database_location(settings.database_url)
    except DatabaseMissing as exc:
        _refuse(str(exc), 1)
    if not gateway and not demo:
        try:
            _needs_bootstrap(settings) and require_bootstrap_passwords(False, settings)
        except ConfigError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        except SQLAlchemyError as exc:
            _refuse_unusable(exc)
    # The core verifies its journal before anything is served (and before logging is
    # set up, so a refusal is the one line); a gateway owns no journal.
    core_start = None if gateway else _start_core(settings)
    logging.basicConfig(level=log_level.upper())
    app_ = create_app(settings, demo=demo, run_core=not gateway, core_start=core_start)
    _settle_collector()
    uvicorn.run(
        app_,
        host=host,
        port=port,
        log_level=log_level,
        ws_ping_interval=20,
        # feed messages are a few hundred bytes: compressing each one again for every
        # subscriber cost more CPU than sending it (a browser offers permessage-deflate)
        ws_per_message_deflate=False,
        # a feed client sends one small auth message; 16 MiB (uvicorn's default) is no use
        ws_max_size=64 * 1024,
        # headers and body trickled in are cut off (uvicorn alone waits for ever)
        http=guarded_protocol(settings.request_timeout_s),
        timeout_keep_alive=5,
    )


def _settle_collector() -> None:
    """What start-up made (the libraries, the recovered core) lives as long as the
    process: frozen, a full collection no longer walks it. Without this, each full
    collection stopped every client for 0.3-0.9 s under load (the p99 of /ws/trade).

    A full collection still walks everything the run keeps (resting orders, the ids
    remembered for a day), and with the long-lived set small after the freeze Python's
    "only once it grew by a quarter" rule hardly holds them back: 8 of 47-220 ms each
    in 20,000 orders over /ws/trade on a loaded machine. One after every 100 passes of
    the middle generation instead of 10; cyclic garbage waits longer for it."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*gc.get_threshold()[:2], FULL_COLLECTION_EVERY)


EXIT_JOURNAL_CORRUPTED = 3


def _refuse(message: str, status: int) -> NoReturn:
    """One line on stderr, no traceback: the operator needs the reason, not the stack."""
    typer.echo(f"emx: refusing to start: {message}", err=True)
    raise typer.Exit(status)


def _start_core(settings):
    from sqlalchemy.exc import SQLAlchemyError

    from exchange.infra.db import migrate as mig
    from exchange.infra.db.engine import make_engine
    from exchange.infra.journal import JournalCorrupted
    from exchange.infra.runtime import (
        CoreAlreadyRunning,
        DatabaseMissing,
        SnapshotCorrupted,
        start_core,
    )

    db = make_engine(settings.database_url)
    try:
        mig.upgrade(db)
        return start_core(db, settings)
    except (JournalCorrupted, SnapshotCorrupted) as exc:
        _refuse(str(exc), EXIT_JOURNAL_CORRUPTED)
    except (CoreAlreadyRunning, DatabaseMissing) as exc:
        _refuse(str(exc), 1)
    except SQLAlchemyError as exc:
        _refuse_unusable(exc)


def _refuse_unusable(exc: Exception) -> NoReturn:
    cause = getattr(exc, "orig", None) or exc
    _refuse(f"the database cannot be used: {str(cause).splitlines()[0]}", 1)


def _needs_bootstrap(settings) -> bool:
    from sqlalchemy import inspect, select

    from exchange.infra.db import models
    from exchange.infra.db.engine import make_engine

    db = make_engine(settings.database_url)
    try:
        if not inspect(db).has_table("credentials"):
            return True
        with db.connect() as conn:
            return (
                conn.execute(select(models.Credential.__table__.c.username).limit(1)).first()
                is None
            )
    finally:
        db.dispose()


@app.command()
def migrate() -> None:
    """Bring the database schema to the newest Alembic revision."""
    from exchange.config import Settings
    from exchange.infra.db import migrate as mig

    settings = Settings()
    mig.upgrade(settings.database_url)
    console.print(f"schema at {mig.current_revision(settings.database_url)}")


@app.command()
def replay(
    database_url: str = typer.Option(None, help="defaults to EMX_DATABASE_URL"),
    use_snapshot: bool = typer.Option(False, help="start from the newest snapshot"),
) -> None:
    """Verify the journal's hash chain, re-run it from genesis and print the state hash."""
    from exchange.config import Settings
    from exchange.infra.db.engine import make_engine
    from exchange.infra.journal import Journal, JournalCorrupted
    from exchange.infra.runtime import replay as replay_core
    from exchange.infra.snapshots import latest

    settings = Settings(**({"database_url": database_url} if database_url else {}))
    db = make_engine(settings.database_url)
    journal = Journal(db)
    last_seq, last_hash = journal.last()
    try:
        with _progress() as progress:
            task = progress.add_task("verifying the chain", total=last_seq)
            started = time.perf_counter()
            journal.verify_chain()
            progress.update(task, completed=last_seq)
            verify_s = time.perf_counter() - started
            task = progress.add_task("replaying", total=last_seq)
            started = time.perf_counter()
            core = replay_core(
                db,
                settings,
                use_snapshot=use_snapshot,
                progress=lambda n: progress.update(task, completed=n),
            )
            progress.update(task, completed=last_seq)
            replay_s = time.perf_counter() - started
    except JournalCorrupted as exc:
        console.print(f"[red]journal corrupted: {exc}[/red]")
        raise typer.Exit(1) from None
    state_hash = core.state_hash()
    console.print(f"entries     {last_seq}")
    console.print(f"chain head  {last_hash}")
    console.print(f"verify      {verify_s:.2f} s")
    console.print(
        f"replay      {replay_s:.2f} s ({last_seq / max(replay_s, 1e-9):,.0f} commands/s)"
    )
    console.print(f"state hash  {state_hash}")
    snap = latest(db, at_or_before=last_seq)
    if snap is not None and snap.seq == last_seq:
        same = snap.state_hash == state_hash
        console.print(f"snapshot at seq {snap.seq}: {'matches' if same else '[red]DIFFERS[/red]'}")
        if not same:
            raise typer.Exit(1)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, transient=False,
    )  # fmt: skip


@bench_app.command("engine")
def bench_engine(
    commands: int = typer.Option(1_000_000, help="commands in the workload"),
    seed: int = typer.Option(42),
) -> None:
    """Matching engine throughput, latency and memory on the standard workload."""
    from bench.engine import main as run

    run(commands=commands, seed=seed)


@bench_app.command("peers")
def bench_peers(
    ops: int = typer.Option(200_000, help="operations in the stream"),
    seed: int = typer.Option(42),
    rounds: int = typer.Option(3, help="interleaved rounds; each engine's best counts"),
    venv: Path = typer.Option(None, help="peers' virtualenv [~/.cache/emx-bench-peers]"),
) -> None:
    """This engine beside limit-order-book and matching-engine on one seeded stream."""
    from bench.peers import DEFAULT_VENV
    from bench.peers import main as run

    report = run(ops=ops, seed=seed, rounds=rounds, venv=venv or DEFAULT_VENV)
    if report["problems"]:
        raise typer.Exit(1)


@bench_app.command("ws-trade")
def bench_ws_trade(
    connections: int = typer.Option(4, help="/ws/trade sockets, one enterprise each"),
    orders: int = typer.Option(10_000, help="orders per socket"),
    window: int = typer.Option(16, help="requests in flight per socket"),
) -> None:
    """Orders/s and ack latency over /ws/trade, beside the same server's /healthz."""
    from bench.ws_trade import main as run

    result = run(connections=connections, orders=orders, window=window)
    if result["acked"] != result["orders"] or result["journaled_by_metrics"] != result["acked"]:
        raise typer.Exit(1)


@bench_app.command("feed")
def bench_feed(
    subscribers: int = typer.Option(1_000, help="/ws/market subscribers"),
    processes: int = typer.Option(2, help="worker processes the subscribers are spread over"),
    trades: int = typer.Option(50, help="trades to make"),
    rate: float = typer.Option(2.0, help="trades per second"),
    postgres: bool = typer.Option(False, "--postgres", help="PostgreSQL and Redis, not SQLite"),
) -> None:
    """Trade → market-feed latency, the subscribers in other processes."""
    from bench.feed import main as run

    result = run(subscribers, processes, trades, rate, postgres)
    if result["deliveries"] != result["deliveries_expected"] or result["gaps"]:
        raise typer.Exit(1)


@bench_app.command("memory")
def bench_memory(
    accounts: int = typer.Option(2_000, help="accounts to open"),
    orders: int = typer.Option(20_000, help="resting orders per round"),
    cycles: int = typer.Option(5, help="rounds of placing then cancelling them"),
) -> None:
    """Bytes per account and per resting order in the service process, and RSS over churn."""
    from bench.memory import main as run

    result = run(accounts=accounts, orders=orders, cycles=cycles)
    if result["acked"] != result["placed"] or any(result["left_open_after_each_cycle"]):
        raise typer.Exit(1)


@bench_app.command("snapshots")
def bench_snapshots(
    resting: int = typer.Option(50_000, help="resting orders in the book"),
    orders: int = typer.Option(3_000, help="single-order batches timed"),
    snapshot_every: int = typer.Option(1_000, help="commands between snapshots"),
) -> None:
    """Batch latency with the snapshot inside the commit vs in a forked child."""
    from bench.snapshot_stall import main as run

    run(resting=resting, orders=orders, snapshot_every=snapshot_every)


@bench_app.command("service")
def bench_service(
    orders: int = typer.Option(20_000, help="orders to send"),
    clients: int = typer.Option(64, help="concurrent HTTP clients"),
    subscribers: int = typer.Option(1_000, help="WebSocket subscribers to the market feed"),
    replay_commands: int = typer.Option(1_000_000, help="journal size for the replay figure"),
) -> None:
    """The service against PostgreSQL and Redis: orders/s, ack and feed latency, replay."""
    from bench.service import main as run

    run(orders=orders, clients=clients, subscribers=subscribers, replay_commands=replay_commands)


@bench_app.command("http")
def bench_http(
    seconds: int = typer.Option(30, help="seconds of each measured run"),
    resting: int = typer.Option(50_000, help="resting orders seeded before the measured runs"),
    connections: str = typer.Option("8,64", help="wrk connection counts, comma-separated"),
    snapshot_every: int = typer.Option(None, help="EMX_SNAPSHOT_EVERY of the server [10,000]"),
    backend: str = typer.Option(
        "sqlite",
        help="sqlite: `emx serve --demo`, one process; postgresql: a core and two gateways "
        "on PostgreSQL and Redis (EMX_BENCH_PG_ADMIN, EMX_BENCH_REDIS_URL), wrk on one gateway",
    ),
) -> None:
    """Orders over HTTP (wrk) beside the bare /livez ceiling of the same server."""
    from bench.http import main as run

    report = run(
        connections=tuple(int(n) for n in connections.split(",")),
        seconds=seconds,
        resting=resting,
        snapshot_every=snapshot_every,
        backend=backend,
    )
    if report["lost"]:
        raise typer.Exit(1)


@bench_app.command("logins")
def bench_logins(
    orders: int = typer.Option(300, help="orders in each stream"),
    flood_clients: int = typer.Option(16, help="threads logging in meanwhile"),
) -> None:
    """Order latency alone and beside a flood of logins (production Argon2 cost)."""
    from bench.logins import main as run

    run(orders=orders, flood_clients=flood_clients)


@bench_app.command("startup")
def bench_startup(
    commands: int = typer.Option(1_000_000, help="journal entries to verify"),
    backend: str = typer.Option("sqlite", help="sqlite or postgresql"),
    path: str = typer.Option(
        None, help="folder for the SQLite file (a journal already there is reused)"
    ),
) -> None:
    """How long start-up takes to verify the journal chain and its snapshot."""
    from bench.startup import main as run

    run(commands=commands, backend=backend, path=path)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
