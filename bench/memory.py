"""Memory of the whole service process: bytes per account, per resting order, and
whether it stays flat when orders come and go.

`emx serve` (the embedded default: SQLite, in-process bus) in a child process; its
resident set (VmRSS, /proc) is read once the service is idle after each phase:

1. accounts: `accounts` enterprise accounts opened through POST /accounts;
   (RSS after - before) / accounts;
2. resting orders: `orders` limit buys that rest (below the best ask, none cross),
   placed over /ws/trade by `connections` sockets; (RSS after - before) / orders;
3. churn: `cycles` rounds of placing `orders` more and cancelling every open order
   (cancel_all), RSS after each round. Flat means the later rounds end where the
   first one did: memory freed by cancelled orders is reused, nothing accumulates.

RSS counts everything the process holds (Python objects, SQLite's page cache, the
allocator's free lists), so the per-item figures are upper bounds of what one more
account or order costs; a Python allocator seldom returns freed memory to the system,
so after a cancel the RSS stays where it was and the next round reuses it.

Nothing lost: every order is acked, the service's emx_orders_total grows by exactly
the acks, and after each cancel_all no order is open.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from bench.service import (
    CITY,
    ENTERPRISE_PASSWORD,
    ServiceProcess,
    _ok,
    service_env,
    setup_market,
)
from bench.ws_trade import _connection, _orders_total

SETTLE_S = 1.0


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc status")


def _settled_rss(pid: int) -> int:
    time.sleep(SETTLE_S)  # projections, acks and feed messages in flight are done
    return rss_bytes(pid)


def _open_accounts(base_url: str, operator_headers: dict, n: int, prefix: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30.0) as c:
        for i in range(n):
            _ok(
                c.post(
                    "/api/v1/accounts",
                    headers=operator_headers,
                    json={
                        "username": f"{prefix}{i:05d}",
                        "password": ENTERPRISE_PASSWORD,
                        "name": f"Memory {i}",
                        "role": "enterprise",
                        "city_code": CITY,
                    },
                )
            )


async def _place(ws_url: str, tokens: list[str], orders: int, round_: int, window: int) -> dict:
    per = [orders // len(tokens) + (i < orders % len(tokens)) for i in range(len(tokens))]
    results = await asyncio.gather(
        *(
            _connection(ws_url, token, f"r{round_}c{i}", n, window)
            for i, (token, n) in enumerate(zip(tokens, per, strict=True))
        )
    )
    errors: dict[str, int] = {}
    for r in results:
        for code, k in r["errors"].items():
            errors[code] = errors.get(code, 0) + k
    return {"acked": orders - sum(errors.values()), "errors": errors}


async def _cancel_all(ws_url: str, tokens: list[str]) -> int:
    cancelled = 0
    for token in tokens:
        async with connect(ws_url + "/ws/trade") as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            assert json.loads(await ws.recv())["type"] == "auth_ok"
            await ws.send(json.dumps({"type": "cancel_all", "request_id": "all", "data": {}}))
            reply = json.loads(await ws.recv())
            if reply["type"] != "ack":
                raise RuntimeError(f"cancel_all refused: {reply}")
            cancelled += reply["data"]["cancelled"]
    return cancelled


def _open_orders(base_url: str, setup) -> int:
    n = 0
    with httpx.Client(base_url=base_url, timeout=30.0) as c:
        for ent in setup.enterprises:
            page = _ok(
                c.get(
                    "/api/v1/orders", params={"status": "open", "limit": 1000}, headers=ent.headers
                )
            )
            n += len(page["items"])
    return n


def main(
    accounts: int = 2_000,
    orders: int = 20_000,
    cycles: int = 5,
    connections: int = 4,
    window: int = 16,
) -> dict:
    with tempfile.TemporaryDirectory(prefix="emx-memory-") as tmp:
        env = service_env(f"sqlite:///{Path(tmp) / 'emx.db'}")
        with ServiceProcess(env, log_dir=tmp).start() as service:
            pid = service.proc.pid
            setup = setup_market(service.base_url, connections)
            tokens = [e.token for e in setup.enterprises]
            # one warm-up round, so that caches filled once (compiled statements, the
            # first page of each table) do not count against the first account or order
            asyncio.run(_place(service.ws_url, tokens, 200, 0, window))
            asyncio.run(_cancel_all(service.ws_url, tokens))
            _open_accounts(service.base_url, setup.operator_headers, 20, "warm")
            started = _settled_rss(pid)

            _open_accounts(service.base_url, setup.operator_headers, accounts, "mem")
            after_accounts = _settled_rss(pid)

            journaled0 = _orders_total(service.base_url)
            placed = asyncio.run(_place(service.ws_url, tokens, orders, 1, window))
            after_orders = _settled_rss(pid)
            cancelled = asyncio.run(_cancel_all(service.ws_url, tokens))
            left_open = [_open_orders(service.base_url, setup)]
            churn = [_settled_rss(pid)]
            acked = placed["acked"]
            errors = dict(placed["errors"])
            for round_ in range(2, cycles + 1):
                r = asyncio.run(_place(service.ws_url, tokens, orders, round_, window))
                acked += r["acked"]
                for code, k in r["errors"].items():
                    errors[code] = errors.get(code, 0) + k
                cancelled += asyncio.run(_cancel_all(service.ws_url, tokens))
                left_open.append(_open_orders(service.base_url, setup))
                churn.append(_settled_rss(pid))
            journaled = _orders_total(service.base_url) - journaled0
    result = {
        "accounts": accounts,
        "orders": orders,
        "cycles": cycles,
        "rss_start": started,
        "bytes_per_account": (after_accounts - started) / accounts,
        "bytes_per_resting_order": (after_orders - after_accounts) / orders,
        "rss_after_orders": after_orders,
        "rss_after_each_cycle": churn,
        # growth from the end of the first round to the end of the last, per order placed
        "churn_growth_bytes": churn[-1] - churn[0],
        "placed": orders * cycles,
        "acked": acked,
        "errors": errors,
        "journaled_by_metrics": int(journaled),
        "cancelled": cancelled,
        "left_open_after_each_cycle": left_open,
    }
    mib = 1024 * 1024
    print(
        f"service RSS {started / mib:.1f} MiB after start-up and warm-up\n"
        f"accounts       {accounts:>7,}: {result['bytes_per_account']:,.0f} bytes each\n"
        f"resting orders {orders:>7,}: {result['bytes_per_resting_order']:,.0f} bytes each "
        f"(RSS {after_orders / mib:.1f} MiB)\n"
        f"churn: {cycles} rounds of {orders:,} placed then cancelled, RSS after each (MiB): "
        f"{', '.join(f'{x / mib:.1f}' for x in churn)}; last - first "
        f"{result['churn_growth_bytes'] / mib:+.1f} MiB\n"
        f"acked {acked:,} of {orders * cycles:,}, journaled (metrics) {int(journaled):,}, "
        f"cancelled {cancelled:,}, open after each round {left_open}, errors {errors or 'none'}"
    )
    return result


if __name__ == "__main__":
    import sys

    main(*(int(a) for a in sys.argv[1:]))
