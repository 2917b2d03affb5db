"""Trade → market-feed latency with the subscribers in other processes.

`emx serve` runs in a child process (the embedded default: SQLite and the in-process
bus; or, with `postgres=True`, PostgreSQL and Redis as the service bench uses);
`subscribers` /ws/market clients are spread over `processes` worker processes
(bench.feed_worker). This process then places `trades` pairs of orders (a
resting sell, a crossing buy) at `rate_per_s`, so each pair makes one trade and four
market messages (two book deltas, the trade, the ticker) for every subscriber.

Latency runs from the trade's `time` (stamped by the sequencer before the group
commit, wall clock) to its receipt by a subscriber (wall clock, same machine), so it
includes the commit, the fan-out and the client's own reading. Each worker also reports
its CPU seconds: a worker near one CPU second per second is itself the limit.

Nothing lost: every subscriber must receive every trade, with no gap in its `seq`.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.service import (
    REDIS_URL,
    SYMBOL,
    ServiceProcess,
    create_pg_database,
    drop_pg_database,
    drop_redis_prefix,
    percentile,
    service_env,
    setup_market,
)


def _proc_cpu_s(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime in clock ticks: fields 14 and 15 of stat, 12 and 13 after the name
    return int(fields[11]) / 100, int(fields[12]) / 100


def _start_workers(ws_urls: list[str], subscribers: int, processes: int, trades: int) -> list:
    """Worker processes, the i-th on the i-th server's port (round robin)."""
    workers = []
    for i in range(processes):
        n = subscribers // processes + (i < subscribers % processes)
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.feed_worker",
                    ws_urls[i % len(ws_urls)],
                    SYMBOL,
                    str(n),
                    str(trades),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                # the harness is in the source checkout, not installed: run from its root
                cwd=Path(__file__).resolve().parent.parent,
            )
        )
    for w in workers:
        line = w.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"a feed worker did not get ready: {line!r}")
    return workers


def _place_pairs(base_url: str, setup, trades: int, rate_per_s: float) -> None:
    maker, taker = setup.enterprises[0], setup.enterprises[1]
    with httpx.Client(base_url=base_url, timeout=30.0) as http:
        for n in range(trades):
            started = time.perf_counter()
            rest = {
                "client_order_id": f"fm-{n}",
                "symbol": SYMBOL,
                "side": "sell",
                "type": "limit",
                "price": "99.00",
                "quantity": "1.000",
            }
            cross = dict(rest, client_order_id=f"ft-{n}", side="buy")
            for ent, body in ((maker, rest), (taker, cross)):
                r = http.post("/api/v1/orders", json=body, headers=ent.headers)
                if r.status_code != 201:
                    raise RuntimeError(f"order refused: {r.status_code} {r.text}")
            time.sleep(max(0.0, 1 / rate_per_s - (time.perf_counter() - started)))


def measure(
    service: ServiceProcess, subscribers: int, processes: int, trades: int, rate_per_s: float
) -> dict:
    setup = setup_market(service.base_url, 2)
    return measure_on(
        service.base_url,
        [service.ws_url],
        [service.proc.pid],
        setup,
        subscribers,
        processes,
        trades,
        rate_per_s,
    )


def measure_on(
    base_url: str,
    ws_urls: list[str],
    server_pids: list[int],
    setup,
    subscribers: int,
    processes: int,
    trades: int,
    rate_per_s: float,
) -> dict:
    """The feed figures against running servers: orders go to `base_url` (from the first
    two of `setup.enterprises`), the subscribers to `ws_urls`; `server_pids` are the
    processes whose CPU counts as the server's."""
    workers = _start_workers(ws_urls, subscribers, processes, trades)
    try:
        cpu0 = [_proc_cpu_s(pid) for pid in server_pids]
        started = time.perf_counter()
        for w in workers:
            w.stdin.write("go\n")
            w.stdin.flush()
        _place_pairs(base_url, setup, trades, rate_per_s)
        parts = [json.loads(w.stdout.readline()) for w in workers]
        elapsed = time.perf_counter() - started
        cpu1 = [_proc_cpu_s(pid) for pid in server_pids]
    finally:
        for w in workers:
            with contextlib.suppress(Exception):
                w.stdin.close()
            w.wait(timeout=30)
    user = sum(b[0] - a[0] for a, b in zip(cpu0, cpu1, strict=True))
    system = sum(b[1] - a[1] for a, b in zip(cpu0, cpu1, strict=True))
    latencies = [x for p in parts for x in p["latencies_ms"]]
    messages = sum(p["messages"] for p in parts)
    return {
        "subscribers": subscribers,
        "processes": processes,
        "trades": trades,
        "rate_per_s": rate_per_s,
        "deliveries_expected": trades * subscribers,
        "deliveries": sum(p["trades_received"] for p in parts),
        "messages": messages,
        "gaps": sum(p["gaps"] for p in parts),
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies, default=float("nan")),
        "elapsed_s": elapsed,
        "server_cpu_s": user + system,
        "server_system_cpu_s": system,
        "server_us_per_message": (user + system) / messages * 1e6 if messages else float("nan"),
        # each worker's CPU seconds per wall second while it read: near 1.0 = saturated
        "client_busy": [round(p["cpu_s"] / p["elapsed_s"], 2) for p in parts],
        "client_us_per_message": [
            round(p["cpu_s"] / p["messages"] * 1e6, 1) if p["messages"] else None for p in parts
        ],
    }


def main(
    subscribers: int = 1_000,
    processes: int = 2,
    trades: int = 50,
    rate_per_s: float = 2.0,
    postgres: bool = False,
) -> dict:
    with tempfile.TemporaryDirectory(prefix="emx-feed-") as tmp:
        db_name = prefix = None
        if postgres:
            db_name, db_url = create_pg_database()
            prefix = f"emx-bench-{secrets.token_hex(5)}"
            env = service_env(db_url, REDIS_URL, prefix)
        else:
            env = service_env(f"sqlite:///{Path(tmp) / 'emx.db'}")
        try:
            with ServiceProcess(env, log_dir=tmp).start() as service:
                result = measure(service, subscribers, processes, trades, rate_per_s)
        finally:
            if db_name is not None:
                drop_pg_database(db_name)
                drop_redis_prefix(REDIS_URL, prefix)
    result["backend"] = "postgres+redis" if postgres else "sqlite, in-process bus"
    print(
        f"trade → {subscribers} market subscribers in {processes} processes "
        f"({result['backend']}), {trades} trades at {rate_per_s:g}/s: p50 "
        f"{result['p50_ms']:.1f} ms p99 {result['p99_ms']:.1f} ms max {result['max_ms']:.1f} ms; "
        f"{result['deliveries']}/{result['deliveries_expected']} trades delivered, "
        f"{result['messages']} messages, {result['gaps']} seq gaps; server "
        f"{result['server_us_per_message']:.1f} µs CPU per message sent; clients busy "
        f"{result['client_busy']} CPU s/s, {result['client_us_per_message']} µs per message"
    )
    return result


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
