"""One process of market-feed subscribers for the feed benchmark (bench.feed).

`python -m bench.feed_worker WS_URL SYMBOL SUBSCRIBERS TRADES` opens SUBSCRIBERS
sockets on /ws/market, prints `ready` once each has its book snapshot, then reads until
every socket has seen TRADES trades (or the parent closes stdin, or a time limit), and
prints one JSON line: trade latencies (ms, from the trade's `time`, stamped by the
server's sequencer on this machine's clock, to its receipt here), messages received,
per-connection seq gaps, and this process's CPU seconds while it read, so the bench
can tell a slow server from a saturated client.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from datetime import datetime

from websockets.asyncio.client import connect

READ_LIMIT_S = 120.0


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _epoch_s(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


async def _run(ws_url: str, symbol: str, subscribers: int, trades: int) -> dict:
    latencies: list[float] = []
    messages = [0] * subscribers
    trade_counts = [0] * subscribers
    gaps = [0] * subscribers
    ready = asyncio.Event()
    go = asyncio.Event()
    connected = 0
    done = asyncio.Event()
    finished = 0

    async def subscriber(i: int) -> None:
        nonlocal connected, finished
        # offers permessage-deflate, as browsers do: the server decides whether to use it
        async with connect(
            f"{ws_url}/ws/market?symbols={symbol}", open_timeout=60, max_queue=None
        ) as ws:
            last = json.loads(await ws.recv())["seq"]  # the book snapshot
            connected += 1
            if connected == subscribers:
                ready.set()
            await go.wait()
            try:
                while trade_counts[i] < trades:
                    raw = await ws.recv()
                    now = time.time()
                    msg = json.loads(raw)
                    messages[i] += 1
                    if msg["seq"] != last + 1:
                        gaps[i] += 1
                    last = msg["seq"]
                    if msg["type"] == "trade":
                        latencies.append((now - _epoch_s(msg["data"]["time"])) * 1000)
                        trade_counts[i] += 1
            finally:
                finished += 1
                if finished == subscribers:
                    done.set()

    tasks = []
    for i in range(subscribers):
        tasks.append(asyncio.create_task(subscriber(i)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # do not stampede the accept queue
    waiting = asyncio.create_task(ready.wait())
    await asyncio.wait([waiting, *tasks], timeout=READ_LIMIT_S, return_when="FIRST_COMPLETED")
    failed = [t for t in tasks if t.done() and t.exception() is not None]
    if not ready.is_set():
        raise SystemExit(f"only {connected}/{subscribers} subscribers connected: {failed[:1]}")
    print("ready", flush=True)
    # the parent says go (one line on stdin) once every worker is ready
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    cpu0, t0 = _cpu_s(), time.perf_counter()
    go.set()
    await asyncio.wait([asyncio.create_task(done.wait())], timeout=READ_LIMIT_S)
    cpu, elapsed = _cpu_s() - cpu0, time.perf_counter() - t0
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "subscribers": subscribers,
        "latencies_ms": latencies,
        "messages": sum(messages),
        "trades_received": sum(trade_counts),
        "gaps": sum(gaps),
        "cpu_s": cpu,
        "elapsed_s": elapsed,
    }


def main() -> None:
    ws_url, symbol, subscribers, trades = (
        sys.argv[1],
        sys.argv[2],
        int(sys.argv[3]),
        int(sys.argv[4]),
    )
    result = asyncio.run(_run(ws_url, symbol, subscribers, trades))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
