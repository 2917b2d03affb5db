"""Orders over HTTP on the embedded default, against the bare HTTP ceiling of the same run.

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
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.service import ServiceProcess, login, service_env

ENTERPRISE = "ent-440100-1"
DEMO_PASSWORD = "demo-pass"
SYMBOL = "NOX-2025"
# 2,900.00–2,903.99 CNY/t: inside the demo's 10 % band under its 3,200.00 reference, far
# enough below the simulated traders' prices that the buys rest
PRICE_BASE_FEN = 290_000
PRICE_LEVELS = 400

_LUA = """
local counter = 0
non_201 = 0  -- global: done() reads it from each thread
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

function response(status, headers, body)
  if status ~= 201 then
    non_201 = non_201 + 1
  end
end
"""

# GET runs count every answer but 200 as failed
_GET_LUA = """
non_201 = 0  -- global: done() reads it from each thread
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status ~= 200 then
    non_201 = non_201 + 1
  end
end
"""

_DONE = """
function done(summary, latency, requests)
  local unexpected = 0
  for _, thread in ipairs(threads) do
    unexpected = unexpected + thread:get("non_201")
  end
  io.write(string.format(
    'EMX_RESULT {"requests":%d,"duration_us":%d,"unexpected":%d,"connect":%d,"read":%d,'
    .. '"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\\n',
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
            "-t2",
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


def _cpu_s(pid: int | None) -> float:
    """utime + stime + cutime + cstime of a process, in seconds."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


_server_pid: int | None = None


def _run(what: str, url: str, connections: int, seconds: int, script: Path, *args: str) -> Run:
    cpu_before = _cpu_s(_server_pid)
    r = _wrk(url, connections, seconds, script, *args)
    cpu_s = _cpu_s(_server_pid) - cpu_before
    failed = r["unexpected"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
    return Run(
        what,
        connections,
        r["requests"],
        r["duration_us"] / 1e6,
        failed,
        r["p50_us"] / 1000,
        r["p99_us"] / 1000,
        r["p999_us"] / 1000,
        r["max_us"] / 1000,
        cpu_s=cpu_s,
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
) -> dict:
    wrk_path()
    workdir = Path(tempfile.mkdtemp(prefix="emx-bench-http-"))
    env = service_env(f"sqlite:///{workdir / 'emx.db'}")
    if snapshot_every is not None:
        env["EMX_SNAPSHOT_EVERY"] = str(snapshot_every)
    orders_lua = workdir / "orders.lua"
    orders_lua.write_text(
        _LUA % {"base": PRICE_BASE_FEN, "levels": PRICE_LEVELS, "symbol": SYMBOL} + _DONE
    )
    get_lua = workdir / "get.lua"
    get_lua.write_text(_GET_LUA + _DONE)
    server = ServiceProcess(env, demo=True, log_dir=workdir)
    server.start(timeout_s=180)
    global _server_pid
    _server_pid = server.proc.pid if Path("/proc/self/stat").exists() else None
    runs: list[Run] = []
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as c:
            operator = {
                "Authorization": f"Bearer {login(c, 'operator', env['EMX_OPERATOR_PASSWORD'])}"
            }
            token = login(c, ENTERPRISE, DEMO_PASSWORD)
            mine = {"Authorization": f"Bearer {token}"}
            me = c.get("/api/v1/accounts/me", headers=mine).json()
            # enough cash for every buy the run can place (≈ 2.9 CNY each)
            c.post(
                f"/api/v1/accounts/{me['id']}/deposits",
                headers=operator,
                json={"amount": "100000000.00"},
            ).raise_for_status()
            orders_url = server.base_url + "/api/v1/orders"
            for n in connections:
                runs.append(
                    _run("ceiling /livez", server.base_url + "/livez", n, ceiling_seconds, get_lua)
                )
            seeded = 0
            while seeded < resting:
                r = _run("seeding", orders_url, max(connections), 20, orders_lua, token, _fresh())
                if r.failed:
                    raise RuntimeError(f"seeding: {r.failed} orders failed; {server.log()}")
                # every answered order is a buy far under the simulated traders' prices: it rests
                seeded += r.requests - r.failed
                print(f"seeding: {seeded:,} resting orders")
            accepted_before = _metric(server.base_url, "emx_orders_total")
            answered = 0
            for n in connections:
                snaps = _metric(server.base_url, "emx_snapshots_started_total")
                r = _run("orders", orders_url, n, seconds, orders_lua, token, _fresh())
                r.snapshots = _metric(server.base_url, "emx_snapshots_started_total") - snaps
                answered += r.requests - r.failed
                r.resting_after = seeded + answered
                runs.append(r)
            for n in connections:
                runs.append(
                    _run("ceiling /livez", server.base_url + "/livez", n, ceiling_seconds, get_lua)
                )
            accepted = _metric(server.base_url, "emx_orders_total") - accepted_before
    finally:
        server.stop()
    report = _report(runs, answered, accepted)
    shutil.rmtree(workdir, ignore_errors=True)
    return report


def _report(runs: list[Run], answered: int, accepted: float) -> dict:
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
        ratio = r.per_s / ceilings[r.connections] if r.what == "orders" else None
        cpu_per = r.cpu_s / r.requests * 1000 if r.requests else float("nan")
        cpu_ratio = (
            ceiling_cpu[r.connections] * 1000 / cpu_per
            if r.what == "orders" and cpu_per > 0
            else None
        )
        print(
            f"{r.what:<16}{r.connections:>6}{r.per_s:>10,.0f}"
            f"{'' if ratio is None else f'{ratio:.2f}':>8}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
            f"{r.p999_ms:>10.2f}{r.max_ms:>9.1f}{r.failed:>8}"
            f"{'' if r.what != 'orders' else f'{r.snapshots:.0f}':>7}"
            f"{'' if r.what != 'orders' else f'{r.resting_after:,}':>9}"
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
    lost = answered > accepted
    print(
        f"answered 201 in the measured runs: {answered:,}; journaled meanwhile "
        f"(emx_orders_total, demo traders included): {accepted:,.0f}"
        + (" — ORDERS LOST" if lost else "")
    )
    return {"runs": rows, "answered": answered, "journaled": accepted, "lost": lost}


if __name__ == "__main__":
    main()
