"""Orders over HTTP, against the bare HTTP ceiling of the same run.

`emx serve --demo` (a fresh SQLite file, in-process bus, the demo's simulated traders
running) in a child process; `wrk -t2` posts resting limit buys of 0.001 t (a Lua script
adds the bearer token and a fresh `client_order_id` to each request) from one demo
enterprise. The phases, all against the same server:

1. the ceiling: `GET /livez` (no I/O) at each connection count;
2. seeding: orders at the largest connection count until `resting` orders rest in the book;
3. the measured runs: orders at each connection count for `seconds` each, with the
   snapshots started during each run (`emx_snapshots_started_total`) reported beside it,
   so a run that crosses none is visible as such.

Latency figures are wrk's (from sending a request to its answer, per connection). Beside
the wall-clock ratio (orders/s over the ceiling's requests/s at the same connection
count) the CPU ratio divides the server's CPU time per /livez answer by its CPU time per
order: on a machine shared with other work, the wall-clock figures move with the load,
the CPU time per answer far less.
Nothing lost: every answered order is counted, and the service's `emx_orders_total` must
have grown by at least the 201 answers (the demo's traders add their own orders).

`backend="postgresql"` is the production layout instead: one core process (`emx serve`)
and two gateway processes (`emx serve --gateway`) on a fresh PostgreSQL database and a
fresh Redis prefix, no demo traders, one enterprise set up through the API
(`bench.service.setup_market`). wrk posts the orders to ONE gateway, and the ceiling is
that gateway's `/livez`; a last run splits the largest connection count over both
gateways (two wrk processes at once; its latencies are the worse of the two). The
server CPU is that of all three processes (PostgreSQL's and Redis' own is not counted).
Nothing lost: the core's `emx_orders_total` must have grown by at least the 201
answers, and once the projection has caught up with the journal, the `orders` table
must hold at least as many of the measured runs' orders (by their client_order_id
prefixes) as were answered 201.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.service import (
    REDIS_URL,
    ServiceProcess,
    create_pg_database,
    drop_pg_database,
    drop_redis_prefix,
    login,
    service_env,
    setup_market,
)

ENTERPRISE = "ent-440100-1"
DEMO_PASSWORD = "demo-pass"
SYMBOL = "NOX-2025"
# 2,900.00–2,903.99 CNY/t: inside the demo's 10 % band under its 3,200.00 reference, far
# enough below the simulated traders' prices that the buys rest
PRICE_BASE_FEN = 290_000
PRICE_LEVELS = 400
# the production mode's market (bench.service.setup_market): reference 100.00, band 10 %,
# no sellers, so buys at 91.00–94.99 rest
PG_PRICE_BASE_FEN = 9_100

_LUA = """
local counter = 0
unexpected_answers = 0  -- global: done() reads it from each thread
local prefix = "w"
local headers = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", tostring(#threads))
end

function init(args)
  -- args[2]: a prefix fresh for each run, so that no client_order_id repeats one of an
  -- earlier run (a repeat is answered 200 with the original order, not placed again)
  prefix = args[2] .. "-" .. tid .. "-"
  headers["Authorization"] = "Bearer " .. args[1]
  headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local fen = %(base)d + (counter %% %(levels)d)
  local body = string.format(
    '{"client_order_id":"%%s%%d","symbol":"%(symbol)s","side":"buy","type":"limit",'
    .. '"price":"%%d.%%02d","quantity":"0.001"}',
    prefix, counter, math.floor(fen / 100), fen %% 100)
  return wrk.format("POST", "/api/v1/orders", headers, body)
end
"""

_GET_LUA = """
unexpected_answers = 0  -- global: done() reads it from each thread
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end
"""

# every answer but the expected status (201 for orders, 200 for GETs) counts as failed
_DONE = """
function response(status, headers, body)
  if status ~= %(expected)d then
    unexpected_answers = unexpected_answers + 1
  end
end

function done(summary, latency, requests)
  local unexpected = 0
  for _, thread in ipairs(threads) do
    unexpected = unexpected + thread:get("unexpected_answers")
  end
  io.write(string.format(
    'EMX_RESULT {"requests":%%d,"duration_us":%%d,"unexpected":%%d,"connect":%%d,"read":%%d,'
    .. '"write":%%d,"timeout":%%d,"p50_us":%%d,"p99_us":%%d,"p999_us":%%d,"max_us":%%d}\\n',
    summary.requests, summary.duration, unexpected, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
"""


@dataclass
class Run:
    what: str
    connections: int
    requests: int
    seconds: float
    failed: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    snapshots: float = 0.0
    resting_after: int = 0
    # CPU seconds the server process (and its reaped snapshot children) spent in the run
    cpu_s: float = 0.0
    # the same, process by process (in production: core, gateway 1, gateway 2)
    cpu_each: tuple[float, ...] = ()

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(
            "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) or "
            "`brew install wrk`, then run this again"
        )
    return found


def _wrk(url: str, connections: int, seconds: int, script: Path, *args: str) -> dict:
    out = subprocess.run(
        [
            wrk_path(),
            f"-t{min(2, connections)}",  # wrk needs a connection per thread
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
            *(["--", *args] if args else []),
        ],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout}\n{out.stderr}")
    for line in out.stdout.splitlines():
        if line.startswith("EMX_RESULT "):
            return json.loads(line.removeprefix("EMX_RESULT "))
    raise RuntimeError(f"wrk printed no result: {out.stdout}\n{out.stderr}")


def _cpu_s(pids: list[int]) -> tuple[float, ...]:
    """utime + stime + cutime + cstime of each process, in seconds."""
    each = []
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        each.append(sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK"))
    return tuple(each)


# the server's processes, whose CPU time each run reports (none where /proc is missing)
_server_pids: list[int] = []


def _run(what: str, url: str, connections: int, seconds: int, script: Path, *args: str) -> Run:
    return _run_many(what, [(url, args)], connections, seconds, script)


def _run_many(
    what: str,
    targets: list[tuple[str, tuple[str, ...]]],
    connections: int,
    seconds: int,
    script: Path,
) -> Run:
    """`connections` split evenly over the targets (a URL and its script arguments), one
    wrk process per target, all at once."""
    cpu_before = _cpu_s(_server_pids)
    share = connections // len(targets)
    with ThreadPoolExecutor(len(targets)) as pool:
        results = list(pool.map(lambda t: _wrk(t[0], share, seconds, script, *t[1]), targets))
    cpu_each = tuple(a - b for a, b in zip(_cpu_s(_server_pids), cpu_before, strict=True))
    failed = sum(
        r["unexpected"] + r["connect"] + r["read"] + r["write"] + r["timeout"] for r in results
    )
    return Run(
        what,
        connections,
        sum(r["requests"] for r in results),
        max(r["duration_us"] for r in results) / 1e6,
        failed,
        max(r["p50_us"] for r in results) / 1000,
        max(r["p99_us"] for r in results) / 1000,
        max(r["p999_us"] for r in results) / 1000,
        max(r["max_us"] for r in results) / 1000,
        cpu_s=sum(cpu_each),
        cpu_each=cpu_each,
    )


def _fresh() -> str:
    return "w" + secrets.token_hex(4)


def _metric(base_url: str, name: str) -> float:
    text = httpx.get(base_url + "/metrics", timeout=30).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise RuntimeError(f"{name} missing from /metrics")


def main(
    connections: tuple[int, ...] = (8, 64),
    seconds: int = 30,
    resting: int = 50_000,
    ceiling_seconds: int = 10,
    snapshot_every: int | None = None,
    backend: str = "sqlite",
) -> dict:
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"backend is sqlite or postgresql, not {backend!r}")
    wrk_path()
    workdir = Path(tempfile.mkdtemp(prefix="emx-bench-http-"))
    pg_name = redis_prefix = None
    if backend == "sqlite":
        env = service_env(f"sqlite:///{workdir / 'emx.db'}")
    else:
        pg_name, pg_url = create_pg_database()
        redis_prefix = f"emx-bench-http-{secrets.token_hex(6)}"
        env = service_env(pg_url, REDIS_URL, redis_prefix)
    if snapshot_every is not None:
        env["EMX_SNAPSHOT_EVERY"] = str(snapshot_every)
    orders_lua = workdir / "orders.lua"
    base = PRICE_BASE_FEN if backend == "sqlite" else PG_PRICE_BASE_FEN
    orders_lua.write_text(
        _LUA % {"base": base, "levels": PRICE_LEVELS, "symbol": SYMBOL} + _DONE % {"expected": 201}
    )
    get_lua = workdir / "get.lua"
    get_lua.write_text(_GET_LUA + _DONE % {"expected": 200})
    servers: list[ServiceProcess] = []
    try:
        if backend == "sqlite":
            servers.append(ServiceProcess(env, demo=True, log_dir=workdir).start(timeout_s=180))
        else:
            # the gateways start after the core, so the schema is migrated once, by the core
            servers.append(ServiceProcess(env, log_dir=workdir).start(timeout_s=180))
            for _ in range(2):
                servers.append(
                    ServiceProcess(env, gateway=True, log_dir=workdir).start(timeout_s=180)
                )
        _server_pids[:] = [s.proc.pid for s in servers] if Path("/proc/self/stat").exists() else []
        report = _measure(
            backend,
            servers,
            env,
            connections,
            seconds,
            resting,
            ceiling_seconds,
            orders_lua,
            get_lua,
            pg_url if pg_name else None,
        )
    finally:
        for server in reversed(servers):
            server.stop()
        _server_pids.clear()
        if pg_name is not None:
            drop_pg_database(pg_name)
            drop_redis_prefix(REDIS_URL, redis_prefix)
    shutil.rmtree(workdir, ignore_errors=True)
    return report


def _measure(
    backend,
    servers,
    env,
    connections,
    seconds,
    resting,
    ceiling_seconds,
    orders_lua,
    get_lua,
    pg_url,
) -> dict:
    core = servers[0]
    # wrk's target: the one server in the embedded default, the first gateway in production
    edge = servers[0] if backend == "sqlite" else servers[1]
    with httpx.Client(base_url=core.base_url, timeout=30) as c:
        if backend == "sqlite":
            operator = {
                "Authorization": f"Bearer {login(c, 'operator', env['EMX_OPERATOR_PASSWORD'])}"
            }
            token = login(c, ENTERPRISE, DEMO_PASSWORD)
            mine = {"Authorization": f"Bearer {token}"}
            me = c.get("/api/v1/accounts/me", headers=mine).json()
            account_id = me["id"]
            # enough cash for every buy the run can place (≈ 2.9 CNY each)
            c.post(
                f"/api/v1/accounts/{account_id}/deposits",
                headers=operator,
                json={"amount": "100000000.00"},
            ).raise_for_status()
        else:
            ent = setup_market(core.base_url, 1).enterprises[0]
            token, account_id = ent.token, ent.account_id
    runs: list[Run] = []
    orders_url = edge.base_url + "/api/v1/orders"
    livez_url = edge.base_url + "/livez"
    for n in connections:
        runs.append(_run("ceiling /livez", livez_url, n, ceiling_seconds, get_lua))
    seeded = 0
    while seeded < resting:
        r = _run("seeding", orders_url, max(connections), 20, orders_lua, token, _fresh())
        if r.failed:
            raise RuntimeError(f"seeding: {r.failed} orders failed; {edge.log()}")
        # every answered order is a buy far under any sell: it rests
        seeded += r.requests - r.failed
        print(f"seeding: {seeded:,} resting orders")
    accepted_before = _metric(core.base_url, "emx_orders_total")
    answered = 0
    prefixes: list[str] = []
    for n in connections:
        snaps = _metric(core.base_url, "emx_snapshots_started_total")
        prefixes.append(_fresh())
        r = _run("orders", orders_url, n, seconds, orders_lua, token, prefixes[-1])
        r.snapshots = _metric(core.base_url, "emx_snapshots_started_total") - snaps
        answered += r.requests - r.failed
        r.resting_after = seeded + answered
        runs.append(r)
    if backend == "postgresql":
        n = max(connections)
        snaps = _metric(core.base_url, "emx_snapshots_started_total")
        targets = []
        for gateway in servers[1:]:
            prefixes.append(_fresh())
            targets.append((gateway.base_url + "/api/v1/orders", (token, prefixes[-1])))
        r = _run_many("orders 2 gw", targets, n, seconds, orders_lua)
        r.snapshots = _metric(core.base_url, "emx_snapshots_started_total") - snaps
        answered += r.requests - r.failed
        r.resting_after = seeded + answered
        runs.append(r)
    for n in connections:
        runs.append(_run("ceiling /livez", livez_url, n, ceiling_seconds, get_lua))
    accepted = _metric(core.base_url, "emx_orders_total") - accepted_before
    visible = None if pg_url is None else _visible(pg_url, account_id, prefixes)
    return _report(runs, answered, accepted, visible)


def _visible(pg_url: str, account_id: str, prefixes: list[str], timeout_s: float = 60) -> int:
    """The measured runs' orders in the `orders` read model, once the projection has
    caught up with the journal."""
    import psycopg

    url = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + timeout_s
        while True:
            (tail,) = conn.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()
            (done,) = conn.execute(
                "SELECT coalesce(max(seq), 0) FROM projection_progress"
            ).fetchone()
            if done >= tail:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the projection is at {done}, the journal at {tail}")
            time.sleep(0.2)
        (count,) = conn.execute(
            "SELECT count(*) FROM orders WHERE account_id = %s AND ("
            + " OR ".join(["client_order_id LIKE %s"] * len(prefixes))
            + ")",
            [account_id, *(f"{p}-%" for p in prefixes)],
        ).fetchone()
    return count


def _report(runs: list[Run], answered: int, accepted: float, visible: int | None) -> dict:
    ceilings: dict[int, float] = {}
    # the server's CPU time per answer: a ratio the other work on a shared machine
    # disturbs far less than the wall-clock one
    ceiling_cpu: dict[int, float] = {}
    for r in runs:
        if r.what.startswith("ceiling"):
            ceilings[r.connections] = max(ceilings.get(r.connections, 0.0), r.per_s)
            per = r.cpu_s / r.requests if r.requests else float("inf")
            ceiling_cpu[r.connections] = min(ceiling_cpu.get(r.connections, per), per)
    print(f"cores: {os.cpu_count()}, load: {Path('/proc/loadavg').read_text().split()[:3]}")
    print(
        f"{'run':<16}{'conns':>6}{'req/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'p99.9 ms':>10}{'max ms':>9}{'failed':>8}{'snaps':>7}{'resting':>9}"
        f"{'CPU ms/req':>11}{'CPU ratio':>10}"
    )
    rows = []
    for r in runs:
        ordered = r.what.startswith("orders")
        ratio = r.per_s / ceilings[r.connections] if ordered else None
        cpu_per = r.cpu_s / r.requests * 1000 if r.requests else float("nan")
        cpu_ratio = ceiling_cpu[r.connections] * 1000 / cpu_per if ordered and cpu_per > 0 else None
        print(
            f"{r.what:<16}{r.connections:>6}{r.per_s:>10,.0f}"
            f"{'' if ratio is None else f'{ratio:.2f}':>8}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
            f"{r.p999_ms:>10.2f}{r.max_ms:>9.1f}{r.failed:>8}"
            f"{'' if not ordered else f'{r.snapshots:.0f}':>7}"
            f"{'' if not ordered else f'{r.resting_after:,}':>9}"
            f"{cpu_per:>11.3f}{'' if cpu_ratio is None else f'{cpu_ratio:.2f}':>10}"
        )
        rows.append(
            {
                **r.__dict__,
                "per_s": r.per_s,
                "ratio": ratio,
                "cpu_ms_per_request": cpu_per,
                "cpu_ratio": cpu_ratio,
            }
        )
    if any(len(r.cpu_each) > 1 for r in runs):
        print("server CPU ms per answer, by process (core, gateway under wrk, other gateway):")
        for r in (r for r in runs if r.requests):
            each = " ".join(f"{c / r.requests * 1000:.3f}" for c in r.cpu_each)
            print(f"  {r.what:<16}{r.connections:>6}  {each}")
    lost = answered > accepted or (visible is not None and answered > visible)
    print(
        f"answered 201 in the measured runs: {answered:,}; journaled meanwhile "
        f"(emx_orders_total{', demo traders included' if visible is None else ''}): "
        f"{accepted:,.0f}"
        + ("" if visible is None else f"; in the orders table afterwards: {visible:,}")
        + (" — ORDERS LOST" if lost else "")
    )
    return {
        "runs": rows,
        "answered": answered,
        "journaled": accepted,
        "visible": visible,
        "lost": lost,
    }


if __name__ == "__main__":
    main()
