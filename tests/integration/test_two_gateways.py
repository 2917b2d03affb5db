"""One core process and one gateway-only process on the same PostgreSQL and Redis:
feeds served by the gateway carry trades made through the core's port, and orders
placed through the gateway are sequenced by the one core."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from bench.service import PROVINCE_PASSWORD, ServiceProcess, service_env, setup_market

pytestmark = pytest.mark.integration
SYMBOL = "NOX-2025"
RECV_TIMEOUT_S = 10.0


async def _next_of_type(ws, wanted: str, last_seq: list[int]) -> dict:
    """The next message of type `wanted`, checking the per-connection seq stays gap-free."""
    async with asyncio.timeout(RECV_TIMEOUT_S):
        while True:
            msg = json.loads(await ws.recv())
            assert msg["seq"] == last_seq[0] + 1, (msg, last_seq)
            last_seq[0] = msg["seq"]
            if msg["type"] == wanted:
                return msg


def _order(cid: str, side: str, price: str, quantity: str) -> dict:
    return {
        "client_order_id": cid,
        "symbol": SYMBOL,
        "side": side,
        "type": "limit",
        "price": price,
        "quantity": quantity,
    }


@pytest.fixture
def core_and_gateway(postgres_url, redis_url, redis_prefix, tmp_path):
    env = service_env(postgres_url, redis_url, redis_prefix)
    core = ServiceProcess(env, log_dir=tmp_path).start()
    gateway = None
    try:
        # started after the core, so the schema is migrated once, by the core
        gateway = ServiceProcess(env, gateway=True, log_dir=tmp_path).start()
        yield core, gateway
    finally:
        if gateway is not None:
            gateway.stop()
        core.stop()


async def test_core_and_gateway_processes_share_one_core_and_its_feeds(core_and_gateway):
    # one pair of processes for both checks: starting them is most of this test's time
    core, gateway = core_and_gateway
    setup = await asyncio.to_thread(setup_market, core.base_url, 2)
    await _trade_through_core_port_reaches_feeds_on_the_gateway(core, gateway, setup)
    await _order_through_gateway_is_sequenced_by_the_one_core(core, gateway, setup)


async def _trade_through_core_port_reaches_feeds_on_the_gateway(core, gateway, setup):
    seller, buyer = setup.enterprises
    market_url = f"{gateway.ws_url}/ws/market?symbols={SYMBOL}"
    async with (
        websockets.connect(market_url, open_timeout=10) as market,
        websockets.connect(f"{gateway.ws_url}/ws/regulator", open_timeout=10) as regulator,
        httpx.AsyncClient(base_url=core.base_url, timeout=10.0) as a,
    ):
        market_seq, regulator_seq = [0], [0]
        snapshot = await _next_of_type(market, "book", market_seq)
        assert snapshot["data"]["snapshot"] is True
        await regulator.send(json.dumps({"type": "auth", "token": setup.province_token}))
        ok = json.loads(await asyncio.wait_for(regulator.recv(), RECV_TIMEOUT_S))
        assert ok["type"] == "auth_ok" and ok["data"]["role"] == "province"

        rest = await a.post(
            "/api/v1/orders", json=_order("s1", "sell", "101.00", "3.000"), headers=seller.headers
        )
        assert rest.status_code == 201, rest.text
        take = await a.post(
            "/api/v1/orders", json=_order("b1", "buy", "101.00", "2.000"), headers=buyer.headers
        )
        assert take.status_code == 201, take.text
        assert take.json()["status"] == "filled"

        trade = await _next_of_type(market, "trade", market_seq)
        assert trade["symbol"] == SYMBOL
        assert trade["data"]["price"] == "101.00"
        assert trade["data"]["quantity"] == "2.000"
        assert trade["data"]["taker_side"] == "buy"
        watched = await _next_of_type(regulator, "trade", regulator_seq)
        assert watched["data"]["id"] == trade["data"]["id"]
        assert watched["data"]["buyer"]["account_id"] == buyer.account_id
        assert watched["data"]["seller"]["account_id"] == seller.account_id


async def _order_through_gateway_is_sequenced_by_the_one_core(core, gateway, setup):
    seller, buyer = setup.enterprises
    async with (
        httpx.AsyncClient(base_url=core.base_url, timeout=10.0) as a,
        httpx.AsyncClient(base_url=gateway.base_url, timeout=10.0) as b,
    ):
        before = (await a.get("/api/v1/admin/state", headers=setup.province_headers)).json()
        placed = await b.post(
            "/api/v1/orders", json=_order("g1", "sell", "99.50", "4.000"), headers=seller.headers
        )
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert order["status"] == "open"

        # read back through the core's port: same order, and the core's seq moved by one
        seen = await a.get(f"/api/v1/orders/{order['id']}", headers=seller.headers)
        assert seen.status_code == 200
        assert seen.json() == order
        after = (await a.get("/api/v1/admin/state", headers=setup.province_headers)).json()
        assert after["seq"] == before["seq"] + 1 == int(order["id"])

        # a crossing order through the gateway trades against it
        crossed = await b.post(
            "/api/v1/orders", json=_order("g2", "buy", "99.50", "1.500"), headers=buyer.headers
        )
        assert crossed.status_code == 201, crossed.text
        assert crossed.json()["status"] == "filled"
        resting = (await a.get(f"/api/v1/orders/{order['id']}", headers=seller.headers)).json()
        assert resting["status"] == "partially_filled"
        assert resting["remaining_quantity"] == "2.500"

        # the gateway runs no core, and says so
        r = await b.get("/api/v1/admin/state", headers=setup.province_headers)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "core_not_in_this_process"


async def test_a_logout_on_one_gateway_ends_the_token_and_its_feeds_on_the_other(
    core_and_gateway,
):
    core, gateway = core_and_gateway
    setup = await asyncio.to_thread(setup_market, core.base_url, 1)
    async with (
        httpx.AsyncClient(base_url=core.base_url, timeout=10.0) as a,
        httpx.AsyncClient(base_url=gateway.base_url, timeout=10.0) as b,
        websockets.connect(f"{gateway.ws_url}/ws/regulator", open_timeout=10) as feed,
    ):
        login = await a.post(
            "/api/v1/session",
            json={"username": "province", "password": PROVINCE_PASSWORD},
        )
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        # the gateway now holds the token in its cache
        assert (await b.get("/api/v1/accounts/me", headers=headers)).status_code == 200
        await feed.send(json.dumps({"type": "auth", "token": login.json()["token"]}))
        ok = json.loads(await asyncio.wait_for(feed.recv(), RECV_TIMEOUT_S))
        assert ok["type"] == "auth_ok"

        assert (await a.delete("/api/v1/session", headers=headers)).status_code == 204
        assert (await a.get("/api/v1/accounts/me", headers=headers)).status_code == 401
        # the revocation crosses Redis in milliseconds; the gateway must not wait for its
        # cache entry to age out (30 s)
        async with asyncio.timeout(5):
            while (await b.get("/api/v1/accounts/me", headers=headers)).status_code != 401:
                await asyncio.sleep(0.05)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                while True:
                    await feed.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        # the province's other session is untouched
        assert (await b.get("/api/v1/accounts/me", headers=setup.province_headers)).is_success
