"""Service benchmark: the real `emx serve` process against PostgreSQL and Redis.

Four figures in three phases, each run on its own so that one does not distort another:

1. throughput and ack latency: `clients` concurrent HTTP clients (httpx, keep-alive),
   one enterprise each, place `orders` limit orders (about a third cross the spread),
   no WebSocket subscribers attached;
2. trade-to-WebSocket latency: `subscribers` clients on `/ws/market` in worker
   processes of their own (bench.feed), while crossing orders arrive at a
   steady, modest pace; latency runs from the trade's own timestamp (stamped by the
   sequencer before the journal commit) to its receipt by each subscriber, so it
   includes the group commit, Redis, the fan-out and the subscriber's own reading;
3. replay: a journal of `replay_commands` commands, generated through the Core and
   appended with `Journal.append` in large batches, then timed through
   `exchange.infra.runtime.replay` from genesis.

With EMX_BENCH_GATEWAYS=n, n gateway processes run beside the core and the HTTP
clients and subscribers are spread over all of them. httpx (a test dependency) is
needed: install with `pip install -e '.[test]'`.

The process helpers (`ServiceProcess`, `setup_market`, ...) are also used by the
integration tests that kill and restart the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SYMBOL = "NOX-2025"
REFERENCE_PRICE = "100.00"
REFERENCE_FEN = 10_000
OPERATOR_PASSWORD = "bench-operator-pw"
PROVINCE_PASSWORD = "bench-province-pw"
CITY = "440100"
ENTERPRISE_PASSWORD = "enterprise-pw-1"
PG_ADMIN = os.environ.get("EMX_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("EMX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


# --- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_env(
    database_url: str,
    redis_url: str | None = None,
    redis_prefix: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of an `emx serve` child: cheap Argon2, bootstrap passwords."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMX_")}
    env.update(
        {
            "EMX_DATABASE_URL": database_url,
            "EMX_OPERATOR_PASSWORD": OPERATOR_PASSWORD,
            "EMX_PROVINCE_PASSWORD": PROVINCE_PASSWORD,
            "EMX_ARGON2_TIME_COST": "1",
            "EMX_ARGON2_MEMORY_KIB": "1024",
            "EMX_ARGON2_PARALLELISM": "1",
            # the benchmark measures the core: each simulated firm sends far more than
            # the per-token limit a person at a screen needs
            "EMX_RATE_LIMIT": "100000",
            "COLUMNS": "200",
        }
    )
    if redis_url:
        env["EMX_REDIS_URL"] = redis_url
        env["EMX_REDIS_PREFIX"] = redis_prefix or f"emx-bench-{secrets.token_hex(6)}"
    env.update(extra)
    return env


class ServiceProcess:
    """`emx serve` in a child process on a loopback port, in its own process group."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        gateway: bool = False,
        port: int | None = None,
        log_dir=None,
        demo: bool = False,
    ) -> None:
        self.env = env
        self.gateway = gateway
        self.demo = demo
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        log_dir = Path(log_dir or tempfile.gettempdir())
        self.log_path = log_dir / f"emx-{'gateway' if gateway else 'core'}-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout_s: float = 30.0) -> ServiceProcess:
        args = [
            sys.executable,
            "-m",
            "exchange.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        if self.gateway:
            args.append("--gateway")
        if self.demo:
            args.append("--demo")
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()/kill()
        self.proc = subprocess.Popen(
            args, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.wait_healthy(timeout_s)
        return self

    def wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"emx serve exited ({self.proc.returncode}): {self.log()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.base_url + "/healthz").status_code == 200:
                        return
                time.sleep(0.1)
        raise TimeoutError(f"emx serve did not become healthy in {timeout_s} s: {self.log()}")

    def log(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush, like a power cut to the process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._close_log()

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# --- market set-up through the API ------------------------------------------------------------


@dataclass
class Enterprise:
    account_id: str
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class MarketSetup:
    operator_token: str
    province_token: str
    enterprises: list[Enterprise] = field(default_factory=list)

    @property
    def province_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.province_token}"}

    @property
    def operator_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.operator_token}"}


def _ok(response: httpx.Response) -> dict:
    if response.status_code >= 300:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: "
            f"{response.status_code} {response.text}"
        )
    return response.json()


def login(client: httpx.Client, username: str, password: str) -> str:
    body = {"username": username, "password": password}
    return _ok(client.post("/api/v1/session", json=body))["token"]


def setup_market(
    base_url: str,
    enterprises: int,
    *,
    cash: str = "100000000.00",
    allowances: str = "1000000.000",
    prefix: str = "ent",
) -> MarketSetup:
    """List NOX-2025 (reference 100.00, band 10 %), open `enterprises` enterprise accounts,
    each with `cash` deposited and `allowances` tonnes from a verified reduction."""
    with httpx.Client(base_url=base_url, timeout=30.0) as c:
        setup = MarketSetup(
            login(c, "operator", OPERATOR_PASSWORD), login(c, "province", PROVINCE_PASSWORD)
        )
        listed = c.post(
            "/api/v1/instruments",
            headers=setup.province_headers,
            json={
                "symbol": SYMBOL,
                "pollutant": "NOx",
                "vintage": 2025,
                "reference_price": REFERENCE_PRICE,
                "price_band_pct": "10",
            },
        )
        if listed.status_code != 409:  # already listed is fine
            _ok(listed)
        for n in range(enterprises):
            username = f"{prefix}{n:03d}"
            account = _ok(
                c.post(
                    "/api/v1/accounts",
                    headers=setup.operator_headers,
                    json={
                        "username": username,
                        "password": ENTERPRISE_PASSWORD,
                        "name": f"Enterprise {n}",
                        "role": "enterprise",
                        "city_code": CITY,
                    },
                )
            )
            _ok(
                c.post(
                    f"/api/v1/accounts/{account['id']}/deposits",
                    headers=setup.operator_headers,
                    json={"amount": cash},
                )
            )
            ent = Enterprise(account["id"], username, login(c, username, ENTERPRISE_PASSWORD))
            claim = _ok(
                c.post(
                    "/api/v1/reductions",
                    headers=ent.headers,
                    json={
                        "symbol": SYMBOL,
                        "quantity": allowances,
                        "source_kind": "deep_treatment",
                        "description": "bench",
                    },
                )
            )
            _ok(
                c.post(
                    f"/api/v1/reductions/{claim['id']}/verify",
                    headers=setup.province_headers,
                    json={
                        "decision": "approve",
                        "approved_quantity": allowances,
                        "method": "online_monitoring",
                    },
                )
            )
            setup.enterprises.append(ent)
    return setup


def random_order(rng: random.Random, client_order_id: str, cross_fraction: float = 0.33) -> dict:
    """A limit order near the reference price: resting a few ticks off, or crossing."""
    side = rng.choice(("buy", "sell"))
    if rng.random() < cross_fraction:
        ticks = rng.randint(1, 30)  # through the touch
        offset = ticks if side == "buy" else -ticks
    else:
        ticks = rng.randint(1, 60)
        offset = -ticks if side == "buy" else ticks
    price_fen = REFERENCE_FEN + offset * 10
    return {
        "client_order_id": client_order_id,
        "symbol": SYMBOL,
        "side": side,
        "type": "limit",
        "price": f"{price_fen // 100}.{price_fen % 100:02d}",
        "quantity": f"{rng.randint(1, 20)}.000",
        "time_in_force": "GTC",
    }


# --- databases ----------------------------------------------------------------------------------


def create_pg_database(prefix: str = "emx_bench") -> tuple[str, str]:
    """A fresh database; returns (its name, its SQLAlchemy URL)."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(5)}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return name, f"{base}/{name}"


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_redis_prefix(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


# --- measurements -------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def drive_orders(
    base_url: str,
    enterprises: list[Enterprise],
    orders: int,
    clients: int,
    seed: int = 7,
    id_prefix: str = "b",
) -> dict:
    """`clients` workers share one keep-alive pool and place `orders` orders in all."""
    rng = random.Random(seed)
    plan = [random_order(rng, f"{id_prefix}-{n}") for n in range(orders)]
    next_index = 0
    latencies_ms: list[float] = []
    failures: dict[str, int] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits) as http:

        async def worker(ent: Enterprise) -> None:
            nonlocal next_index
            headers = ent.headers
            while next_index < len(plan):
                body = plan[next_index]
                next_index += 1
                t0 = time.perf_counter()
                try:
                    r = await http.post("/api/v1/orders", json=body, headers=headers)
                    code = r.status_code
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                if code == 201:
                    latencies_ms.append((time.perf_counter() - t0) * 1000)
                else:
                    failures[str(code)] = failures.get(str(code), 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(enterprises[i % len(enterprises)]) for i in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "orders": orders,
        "acked": len(latencies_ms),
        "failures": failures,
        "elapsed_s": elapsed,
        "orders_per_s": len(latencies_ms) / elapsed,
        "ack_ms_p50": percentile(latencies_ms, 0.50),
        "ack_ms_p99": percentile(latencies_ms, 0.99),
        "ack_ms_max": max(latencies_ms, default=float("nan")),
        "latencies_ms": latencies_ms,
    }


def build_journal(database_url: str, commands: int, seed: int = 11, batch: int = 20_000) -> dict:
    """Write a journal of `commands` valid commands (accounts, funding, then a realistic
    order flow with cancels) by running them through a Core and appending in batches."""
    from exchange.config import Settings
    from exchange.core import commands as service_commands
    from exchange.core.command_codec import to_payload
    from exchange.infra.db.engine import make_engine
    from exchange.infra.db.migrate import upgrade
    from exchange.infra.journal import Journal
    from exchange.infra.runtime import new_core

    settings = Settings(database_url=database_url)
    db = make_engine(database_url)
    upgrade(db)
    core = new_core(settings)
    journal = Journal(db)
    rng = random.Random(seed)
    owners: list[str] = []
    pending: list[tuple[int, int, str, dict]] = []
    seq = 0
    ts_us = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
    started = time.perf_counter()

    def emit(command: service_commands.Command) -> object:
        nonlocal seq, ts_us
        seq += 1
        ts_us += 50
        out = core.apply(seq, ts_us, command)
        pending.append((seq, ts_us, command.kind, to_payload(command)))
        if len(pending) >= batch:
            flush()
        return out

    def flush() -> None:
        if pending:
            with db.begin() as conn:
                journal.append(conn, pending)
            pending.clear()

    emit(
        service_commands.ListInstrument(
            symbol=SYMBOL,
            pollutant="NOx",
            vintage=2025,
            tick_fen=1,
            lot_kg=1,
            reference_price_fen=REFERENCE_FEN,
            band_bps=1000,
        )
    )
    province = emit(
        service_commands.OpenAccount(
            username="province",
            password_hash="x",
            name="Province",
            role="province",
            city_code=None,
        )
    ).result
    for n in range(200):
        acc = emit(
            service_commands.OpenAccount(
                username=f"e{n}",
                password_hash="x",
                name=f"E{n}",
                role="enterprise",
                city_code=CITY,
            )
        ).result
        account_id = acc["account_id"]
        owners.append(account_id)
        emit(service_commands.Deposit(account_id=account_id, amount_fen=10**13))
        claim = emit(
            service_commands.ClaimReduction(
                account_id=account_id,
                symbol=SYMBOL,
                quantity_kg=10**10,
                source_kind="deep_treatment",
                description="",
                evidence="",
            )
        ).result
        emit(
            service_commands.VerifyReduction(
                account_id=province["account_id"],
                claim_id=claim["claim_id"],
                decision="approve",
                approved_kg=10**10,
                method="online_monitoring",
                note="",
            )
        )
    live: list[tuple[str, int]] = []
    n = 0
    while seq < commands:
        roll = rng.random()
        if roll < 0.3 and len(live) > 500:
            i = rng.randrange(len(live))
            account_id, order_id = live[i]
            live[i] = live[-1]
            live.pop()
            if order_id in core.open_orders:
                emit(service_commands.CancelOrder(account_id=account_id, order_id=order_id))
                continue
        n += 1
        account_id = rng.choice(owners)
        body = random_order(rng, f"r-{n}", cross_fraction=0.2 if len(live) < 5000 else 0.45)
        price_fen = int(body["price"].replace(".", ""))
        out = emit(
            service_commands.PlaceOrder(
                account_id=account_id,
                client_order_id=body["client_order_id"],
                request_hash="h",
                symbol=SYMBOL,
                side=body["side"],
                type="limit",
                price_fen=price_fen,
                quantity_kg=int(body["quantity"][:-4]) * 1000,
                time_in_force="GTC",
            )
        )
        order_id = out.result.get("order_id")
        if order_id in core.open_orders:
            live.append((account_id, order_id))
    flush()
    built_s = time.perf_counter() - started
    db.dispose()
    return {"commands": seq, "build_s": built_s, "state_hash": core.state_hash()}


def time_replay(database_url: str) -> dict:
    from exchange.config import Settings
    from exchange.infra.db.engine import make_engine
    from exchange.infra.runtime import replay

    settings = Settings(database_url=database_url)
    db = make_engine(database_url)
    started = time.perf_counter()
    core = replay(db, settings, use_snapshot=False)
    elapsed = time.perf_counter() - started
    db.dispose()
    return {"replay_s": elapsed, "seq": core.last_seq, "state_hash": core.state_hash()}


# --- the benchmark ------------------------------------------------------------------------------


def main(
    orders: int = 20_000,
    clients: int = 64,
    subscribers: int = 1_000,
    replay_commands: int = 1_000_000,
    gateways: int | None = None,
    feed_trades: int = 50,
    feed_rate_per_s: float = 10.0,
    feed_processes: int = 2,
) -> dict:
    from rich.console import Console

    console = Console()
    if gateways is None:  # `emx bench service` takes no option for it
        gateways = int(os.environ.get("EMX_BENCH_GATEWAYS", "0"))
    results: dict = {}
    db_name, db_url = create_pg_database()
    prefix = f"emx-bench-{secrets.token_hex(5)}"
    env = service_env(db_url, REDIS_URL, prefix)
    procs: list[ServiceProcess] = []
    try:
        core = ServiceProcess(env).start()
        procs.append(core)
        for _ in range(gateways):
            procs.append(ServiceProcess(env, gateway=True).start())
        urls = [p.base_url for p in procs]
        console.print(
            f"service: core at {core.base_url}, {gateways} gateway(s); PostgreSQL {db_name}, "
            f"Redis prefix {prefix}"
        )
        n_ent = max(2, min(clients, 64))
        setup = setup_market(core.base_url, n_ent)
        console.print(
            f"set up {n_ent} enterprises; placing {orders:,} orders with {clients} "
            "clients (no feed subscribers)"
        )
        if len(urls) == 1:
            r = asyncio.run(drive_orders(urls[0], setup.enterprises, orders, clients))
        else:
            r = asyncio.run(_drive_many(urls, setup.enterprises, orders, clients))
        results["orders"] = r
        console.print(
            f"orders/s sustained   {r['orders_per_s']:,.0f}  ({r['acked']:,} acked of "
            f"{r['orders']:,} in {r['elapsed_s']:.2f} s; failures {r['failures'] or 'none'})"
        )
        console.print(f"ack latency p50      {r['ack_ms_p50']:.1f} ms")
        console.print(f"ack latency p99      {r['ack_ms_p99']:.1f} ms  (max {r['ack_ms_max']:.1f})")
        if subscribers:
            from bench.feed import measure_on

            # the subscribers run in worker processes of their own (bench.feed),
            # spread over the servers' ports, so this process's own load is not theirs
            f = measure_on(
                core.base_url,
                [p.ws_url for p in procs],
                [p.proc.pid for p in procs],
                setup,
                subscribers,
                feed_processes,
                feed_trades,
                feed_rate_per_s,
            )
            results["feed"] = f
            console.print(
                f"trade→WebSocket p99  {f['p99_ms']:.1f} ms  (p50 {f['p50_ms']:.1f}, "
                f"max {f['max_ms']:.1f}; {f['subscribers']} subscribers in "
                f"{f['processes']} processes, {f['trades']} trades at {feed_rate_per_s:g}/s, "
                f"{f['deliveries']:,}/{f['deliveries_expected']:,} deliveries, {f['gaps']} gaps; "
                f"server {f['server_us_per_message']:.1f} µs CPU per message, clients "
                f"{f['client_us_per_message']} µs)"
            )
    finally:
        for p in procs:
            p.stop()
        drop_pg_database(db_name)
        drop_redis_prefix(REDIS_URL, prefix)
    if replay_commands:
        name, url = create_pg_database("emx_bench_replay")
        try:
            console.print(f"building a journal of {replay_commands:,} commands ...")
            b = build_journal(url, replay_commands)
            console.print(f"  built in {b['build_s']:.1f} s")
            t = time_replay(url)
            results["replay"] = {**b, **t}
            console.print(
                f"replay               {t['replay_s']:.2f} s for {t['seq']:,} commands "
                f"({t['seq'] / t['replay_s']:,.0f} commands/s); state hash "
                f"{'matches' if t['state_hash'] == b['state_hash'] else 'DIFFERS'}"
            )
        finally:
            drop_pg_database(name)
    return results


async def _drive_many(urls: list[str], enterprises, orders: int, clients: int) -> dict:
    """Spread the clients over several processes' ports (core and gateways)."""
    share = [orders // len(urls) + (i < orders % len(urls)) for i in range(len(urls))]
    per = max(1, clients // len(urls))
    started = time.perf_counter()
    parts = await asyncio.gather(
        *(
            drive_orders(u, enterprises, n, per, seed=i, id_prefix=f"b{i}")
            for i, (u, n) in enumerate(zip(urls, share, strict=True))
        )
    )
    elapsed = time.perf_counter() - started
    latencies = [x for p in parts for x in p["latencies_ms"]]
    acked = len(latencies)
    failures: dict[str, int] = {}
    for p in parts:
        for key, v in p["failures"].items():
            failures[key] = failures.get(key, 0) + v
    return {
        "orders": orders,
        "acked": acked,
        "failures": failures,
        "elapsed_s": elapsed,
        "orders_per_s": acked / elapsed,
        "ack_ms_p50": percentile(latencies, 0.50),
        "ack_ms_p99": percentile(latencies, 0.99),
        "ack_ms_max": max(latencies, default=float("nan")),
    }


if __name__ == "__main__":
    main()
