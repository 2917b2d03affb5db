"""Kill the real service with SIGKILL in the middle of a stream of orders, restart it on
the same database, and check that nothing acknowledged was lost or doubled.

Runs once on SQLite (in-process bus) and once on PostgreSQL with Redis. Snapshots are
taken every 50 commands, so the restart goes through snapshot + journal.
"""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import func, select

from bench.service import ServiceProcess, service_env, setup_market
from exchange.infra.db import models
from exchange.infra.db.engine import make_engine

ENTERPRISES = 6
CASH = "1000000.00"
ALLOWANCES = "5000.000"
ACKS_BEFORE_KILL = 160  # past several snapshots (EMX_SNAPSHOT_EVERY=50)
MAX_ORDERS_PER_CLIENT = 400  # bounds the stream if the kill never came
RANK = {"open": 0, "partially_filled": 1, "filled": 2, "cancelled": 2}
SYMBOL = "NOX-2025"


@pytest.fixture(params=["sqlite", pytest.param("postgresql+redis", marks=pytest.mark.integration)])
def backend(request, tmp_path) -> dict:
    if request.param == "sqlite":
        return {"database_url": f"sqlite:///{tmp_path / 'emx.db'}"}
    return {
        "database_url": request.getfixturevalue("postgres_url"),
        "redis_url": request.getfixturevalue("redis_url"),
        "redis_prefix": request.getfixturevalue("redis_prefix"),
    }


def _fen(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def _kg(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 1000 + int((frac + "000")[:3])


def _balances(c: httpx.Client, setup) -> dict:
    """Cash (available + locked) of every enterprise and of FEES; allowances held."""
    cash = {}
    tonnes = {}
    for ent in setup.enterprises:
        me = c.get("/api/v1/accounts/me", headers=ent.headers).json()
        cash[ent.account_id] = _fen(me["cash"]["available"]) + _fen(me["cash"]["locked"])
        held = me["allowances"].get(SYMBOL, {"available": "0", "locked": "0", "used": "0"})
        tonnes[ent.account_id] = sum(_kg(held[x]) for x in ("available", "locked", "used"))
    fees = c.get("/api/v1/accounts/fees", headers=setup.province_headers).json()
    cash["FEES"] = _fen(fees["cash"]["available"]) + _fen(fees["cash"]["locked"])
    return {"cash": cash, "allowances": tonnes}


def _paged(c: httpx.Client, path: str, headers: dict, cursor_key: str = "cursor") -> list[dict]:
    items: list[dict] = []
    cursor = None
    for _ in range(1000):
        params = {"limit": 1000, **({cursor_key: cursor} if cursor else {})}
        page = c.get(path, headers=headers, params=params).json()
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items
    raise AssertionError(f"{path} did not end")


async def _stream_then_kill(server: ServiceProcess, setup) -> dict[str, dict]:
    """Several clients place crossing and resting orders (and cancel some) until
    ACKS_BEFORE_KILL acks have come back, then the server is SIGKILLed mid-stream."""
    acked: dict[str, dict] = {}
    killed = asyncio.Event()

    async def client(n: int, ent) -> None:
        rng = random.Random(n)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30.0) as http:
            for i in range(MAX_ORDERS_PER_CLIENT):
                if killed.is_set():
                    return
                side = rng.choice(("buy", "sell"))
                crossing = rng.random() < 0.4
                ticks = rng.randint(1, 20) * (1 if crossing else -1)
                price_fen = 10_000 + (ticks if side == "buy" else -ticks) * 10
                body = {
                    "client_order_id": f"c{n}-{i}",
                    "symbol": SYMBOL,
                    "side": side,
                    "type": "limit",
                    "price": f"{price_fen // 100}.{price_fen % 100:02d}",
                    "quantity": f"{rng.randint(1, 9)}.{rng.randint(0, 999):03d}",
                }
                try:
                    r = await http.post("/api/v1/orders", json=body, headers=ent.headers)
                except httpx.HTTPError:
                    return  # the server is gone: this order may or may not have been applied
                if r.status_code in (200, 201):
                    order = r.json()
                    acked[order["id"]] = {**order, "owner": ent.account_id}
                    if len(acked) >= ACKS_BEFORE_KILL and not killed.is_set():
                        killed.set()
                        server.kill()
                        return
                    if order["status"] in ("open", "partially_filled") and rng.random() < 0.15:
                        try:
                            d = await http.delete(
                                f"/api/v1/orders/{order['id']}", headers=ent.headers
                            )
                        except httpx.HTTPError:
                            return
                        if d.status_code == 200:
                            acked[order["id"]] = {**d.json(), "owner": ent.account_id}
                else:
                    assert r.status_code in (409, 503), r.text  # refusals are fine, 5xx are not

    await asyncio.wait_for(
        asyncio.gather(*(client(n, e) for n, e in enumerate(setup.enterprises))), timeout=120
    )
    assert killed.is_set(), "the stream ended before the kill"
    return acked


def _replay_hash(env: dict, *extra: str) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-m", "exchange.cli", "replay", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    state_hash = re.search(r"state hash\s+([0-9a-f]{64})", out.stdout)
    entries = re.search(r"entries\s+(\d+)", out.stdout)
    assert state_hash and entries, out.stdout
    return state_hash.group(1), int(entries.group(1))


def test_sigkill_mid_stream_loses_and_duplicates_nothing(backend, tmp_path):
    env = service_env(
        backend["database_url"],
        backend.get("redis_url"),
        backend.get("redis_prefix"),
        EMX_SNAPSHOT_EVERY="50",
        EMX_FEE_BPS="25",
    )
    server = ServiceProcess(env, log_dir=tmp_path).start()
    try:
        setup = setup_market(server.base_url, ENTERPRISES, cash=CASH, allowances=ALLOWANCES)
        with httpx.Client(base_url=server.base_url, timeout=10.0) as c:
            before = _balances(c, setup)
        acked = asyncio.run(_stream_then_kill(server, setup))
    finally:
        server.kill()
    assert server.proc.returncode == -9

    server = ServiceProcess(env, port=server.port, log_dir=tmp_path).start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=10.0) as c:
            # 1. every acknowledged order survived, under its id, at least as far along
            orders = {}
            for ent in setup.enterprises:
                for o in _paged(c, "/api/v1/orders", ent.headers):
                    orders[o["id"]] = {**o, "owner": ent.account_id}
            for order_id, ack in acked.items():
                now = orders.get(order_id)
                assert now is not None, f"acknowledged order {order_id} is gone"
                assert now["owner"] == ack["owner"]
                assert now["client_order_id"] == ack["client_order_id"]
                assert RANK[now["status"]] >= RANK[ack["status"]], (ack, now)
                if ack["status"] in ("filled", "cancelled"):
                    assert now["status"] == ack["status"], (ack, now)
                assert _kg(now["filled_quantity"]) >= _kg(ack["filled_quantity"]), (ack, now)

            # 2. no trade twice; each order's fills add up to its filled quantity
            trades = _paged(c, "/api/v1/trades", setup.province_headers)
            ids = [t["id"] for t in trades]
            assert len(ids) == len(set(ids)), "a trade id appears twice"
            assert trades, "the stream produced no trades: the test would prove little"
            filled_by_trades: dict[str, int] = {}
            sides = 0
            for ent in setup.enterprises:
                mine = _paged(c, "/api/v1/trades", ent.headers)
                sides += len(mine)
                for t in mine:
                    filled_by_trades[t["order_id"]] = filled_by_trades.get(t["order_id"], 0) + _kg(
                        t["quantity"]
                    )
            assert sides == 2 * len(trades), "each trade has exactly one buyer and one seller"
            for order_id, o in orders.items():
                assert filled_by_trades.get(order_id, 0) == _kg(o["filled_quantity"]), o
                assert _kg(o["filled_quantity"]) + _kg(o["remaining_quantity"]) <= _kg(
                    o["quantity"]
                )

            # 3. cash and allowances conserved (fees moved to FEES, nothing created)
            after = _balances(c, setup)
            assert sum(after["cash"].values()) == sum(before["cash"].values())
            assert sum(after["allowances"].values()) == sum(before["allowances"].values())
            total_fees = sum(_fen(t["buyer_fee"]) + _fen(t["seller_fee"]) for t in trades)
            assert after["cash"]["FEES"] - before["cash"]["FEES"] == total_fees
            assert total_fees > 0

            # 4. the restarted core (snapshot + journal) equals a replay from genesis
            assert c.get("/api/v1/admin/state").status_code == 401
            r = c.get("/api/v1/admin/state", headers=setup.enterprises[0].headers)
            assert r.status_code == 403
            state = c.get("/api/v1/admin/state", headers=setup.province_headers)
            assert state.status_code == 200, state.text
            live = state.json()
            assert live["seq"] == live["journal_seq"] >= len(acked)
    finally:
        server.stop()

    db = make_engine(backend["database_url"])
    try:
        with db.connect() as conn:
            snapshots = conn.execute(select(func.count()).select_from(models.Snapshot)).scalar_one()
    finally:
        db.dispose()
    assert snapshots >= 2, "snapshots were not exercised"
    replayed_hash, entries = _replay_hash(env)
    assert entries == live["seq"]
    assert replayed_hash == live["state_hash"]
    from_snapshot_hash, _ = _replay_hash(env, "--use-snapshot")
    assert from_snapshot_hash == live["state_hash"]
