"""Order entry over /ws/trade: sustained orders/s and ack latency, on the embedded default.

`emx serve` (SQLite file, in-process bus) in a child process; `connections`
enterprises each open one /ws/trade socket and keep `window` place requests in
flight (a new one goes out as each ack comes back). Orders are resting limit buys
of 0.001 t a few ticks under the reference price. Latency runs from sending a
request to receiving its ack (an ack means journaled). The load generator is
Python (websockets), in this process, on the same machine as the server.

Nothing lost: every request must be answered by an ack, and the service's
`emx_orders_total` (GET /metrics) must have grown by exactly the acks.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from bench.service import ServiceProcess, percentile, service_env, setup_market


async def _connection(ws_url: str, token: str, prefix: str, orders: int, window: int) -> dict:
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    errors: dict[str, int] = {}
    slots = asyncio.Semaphore(window)
    async with connect(ws_url + "/ws/trade", max_size=2**20) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(await ws.recv())["type"] == "auth_ok"

        async def receive() -> None:
            for _ in range(orders):
                msg = json.loads(await ws.recv())
                now = time.perf_counter()
                rid = msg["data"]["request_id"]
                latencies.append((now - sent_at.pop(rid)) * 1000)
                if msg["type"] != "ack":
                    code = msg["data"]["error"]["code"]
                    errors[code] = errors.get(code, 0) + 1
                slots.release()

        receiver = asyncio.create_task(receive())
        for n in range(orders):
            await slots.acquire()
            rid = f"{prefix}-{n}"
            body = {
                "client_order_id": rid,
                "symbol": "NOX-2025",
                "side": "buy",
                "type": "limit",
                "price": f"{95 + (n % 400) / 100:.2f}",
                "quantity": "0.001",
            }
            sent_at[rid] = time.perf_counter()
            await ws.send(json.dumps({"type": "place", "request_id": rid, "data": body}))
        await receiver
    return {"latencies": latencies, "errors": errors}


async def _healthz_ceiling(base_url: str, clients: int = 8, seconds: float = 3.0) -> float:
    """Requests/s of the bare GET /healthz from `clients` keep-alive connections: the
    reference the order figures are divided by (same server, same run)."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as c:
            while time.perf_counter() < deadline:
                (await c.get("/healthz")).raise_for_status()
                done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return done / (time.perf_counter() - started)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of the server process so far (its own threads; the
    snapshotter's forked children are not counted)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _orders_total(base_url: str) -> float:
    text = httpx.get(base_url + "/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("emx_orders_total "):
            return float(line.split()[1])
    raise RuntimeError("emx_orders_total missing from /metrics")


def _slow_commits(base_url: str) -> dict[str, float]:
    """Group commits by duration (cumulative buckets of emx_commit_seconds), to tell
    a slow commit from a slow edge when the ack latency has a tail."""
    text = httpx.get(base_url + "/metrics", timeout=10).text
    out = {}
    for line in text.splitlines():
        if line.startswith("emx_commit_seconds_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out[le] = float(line.rsplit(" ", 1)[1])
    return out


async def _drive(ws_url: str, tokens: list[str], orders: int, window: int) -> dict:
    started = time.perf_counter()
    results = await asyncio.gather(
        *(_connection(ws_url, t, f"c{i}", orders, window) for i, t in enumerate(tokens))
    )
    elapsed = time.perf_counter() - started
    latencies = [x for r in results for x in r["latencies"]]
    errors: dict[str, int] = {}
    for r in results:
        for code, n in r["errors"].items():
            errors[code] = errors.get(code, 0) + n
    return {"elapsed_s": elapsed, "latencies": latencies, "errors": errors}


def main(connections: int = 4, orders: int = 5_000, window: int = 64) -> dict:
    with tempfile.TemporaryDirectory(prefix="emx-wstrade-") as tmp:
        env = service_env(f"sqlite:///{Path(tmp) / 'emx.db'}")
        with ServiceProcess(env, log_dir=tmp).start() as service:
            setup = setup_market(service.base_url, connections)
            ceiling = asyncio.run(_healthz_ceiling(service.base_url))
            before = _orders_total(service.base_url)
            cpu_before = _cpu_s(service.proc.pid)
            run = asyncio.run(
                _drive(service.ws_url, [e.token for e in setup.enterprises], orders, window)
            )
            cpu_s = _cpu_s(service.proc.pid) - cpu_before
            grown = _orders_total(service.base_url) - before
            commits = _slow_commits(service.base_url)
    total = connections * orders
    acked = total - sum(run["errors"].values())
    lat = sorted(run["latencies"])
    result = {
        "connections": connections,
        "window": window,
        "orders": total,
        "acked": acked,
        "errors": run["errors"],
        "journaled_by_metrics": int(grown),
        "orders_per_s": total / run["elapsed_s"],
        "server_cpu_us_per_order": cpu_s / total * 1e6,
        "healthz_per_s": ceiling,
        "commits_by_le_s": commits,
        "ratio": total / run["elapsed_s"] / ceiling,
        "p50_ms": percentile(lat, 0.50),
        "p99_ms": percentile(lat, 0.99),
        "p999_ms": percentile(lat, 0.999),
    }
    print(
        f"/ws/trade  {connections} connections x window {window}: {total} orders in "
        f"{run['elapsed_s']:.1f} s = {result['orders_per_s']:.0f}/s; ack p50 "
        f"{result['p50_ms']:.1f} ms p99 {result['p99_ms']:.1f} ms p99.9 {result['p999_ms']:.1f} ms;"
        f" acked {acked}, journaled (metrics) {int(grown)}, errors {run['errors']}; "
        f"/healthz ceiling {ceiling:.0f}/s, ratio {result['ratio']:.2f}; server CPU "
        f"{result['server_cpu_us_per_order']:.0f} µs per order\n"
        f"group commits at or under (s): {commits}"
    )
    return result


if __name__ == "__main__":
    import sys

    main(*(int(a) for a in sys.argv[1:]))
