"""Order entry over /ws/trade on the real server: acks mean journaled (REST sees the
order at once), client_order_id makes a place idempotent, errors carry the REST
codes, other roles get 4403, and cancel_on_disconnect cancels what was left open."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

import pytest

from tests.e2e.helpers import Exchange, ok, recv_json, unique
from tests.e2e.test_ws_feeds import closed_with


@contextmanager
def open_trade(exchange: Exchange, token: str, **options):
    with exchange.ws("/ws/trade") as ws:
        ws.send(json.dumps({"type": "auth", "token": token, **options}))
        assert recv_json(ws)["type"] == "auth_ok"
        yield ws


def ask(ws, type_: str, data: dict, request_id: str | None = None) -> dict:
    request_id = request_id or unique("r")
    ws.send(json.dumps({"type": type_, "request_id": request_id, "data": data}))
    reply = recv_json(ws)
    assert reply["data"]["request_id"] == request_id, reply
    return reply


def place_body(symbol: str, side: str = "buy", price: str = "99.00", coid: str | None = None):
    return {
        "client_order_id": coid or unique("c"),
        "symbol": symbol,
        "side": side,
        "type": "limit",
        "price": price,
        "quantity": "1.000",
    }


def test_place_amend_cancel_and_cancel_all_are_acked_and_journaled(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    buyer = exchange.new_enterprise()
    with open_trade(exchange, buyer.token) as ws:
        placed = ask(ws, "place", place_body(symbol))
        assert placed["type"] == "ack", placed
        order = placed["data"]["order"]
        assert order["status"] == "open" and order["price"] == "99.00"
        # ack = journaled: the read model has it when the ack arrives
        assert ok(buyer.get(f"/orders/{order['id']}"), 200)["status"] == "open"

        amended = ask(ws, "amend", {"order_id": order["id"], "price": "98.50"})
        assert amended["type"] == "ack" and amended["data"]["order"]["price"] == "98.50"

        cancelled = ask(ws, "cancel", {"order_id": order["id"]})
        assert cancelled["type"] == "ack"
        assert cancelled["data"]["order"]["status"] == "cancelled"

        for _ in range(2):
            assert ask(ws, "place", place_body(symbol))["type"] == "ack"
        swept = ask(ws, "cancel_all", {"symbol": symbol})
        assert swept == {
            "type": "ack",
            "data": {"request_id": swept["data"]["request_id"], "cancelled": 2},
        }
    open_orders = ok(buyer.get("/orders", params={"status": "open", "symbol": symbol}), 200)
    assert open_orders["items"] == []


def test_a_repeated_client_order_id_is_acked_with_the_same_order(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    buyer = exchange.new_enterprise()
    body = place_body(symbol, coid=unique("same"))
    with open_trade(exchange, buyer.token) as ws:
        first = ask(ws, "place", body)
        again = ask(ws, "place", body)
        assert first["type"] == again["type"] == "ack"
        assert again["data"]["order"]["id"] == first["data"]["order"]["id"]
        other = ask(ws, "place", {**body, "price": "98.00"})
        assert other["type"] == "error"
        assert other["data"]["error"]["code"] == "duplicate_client_order_id"
    items = ok(buyer.get("/orders", params={"symbol": symbol}), 200)["items"]
    assert len(items) == 1


def test_errors_carry_the_rest_codes_and_change_nothing(exchange: Exchange):
    symbol = exchange.new_instrument("100.00", tick="0.05")
    buyer, other = exchange.new_enterprise(), exchange.new_enterprise()
    theirs = other.place(symbol, "buy", "1.000", "99.00")
    with open_trade(exchange, buyer.token) as ws:
        off_tick = ask(ws, "place", place_body(symbol, price="99.01"))
        assert off_tick["type"] == "error"
        assert off_tick["data"]["error"]["code"] == "price_off_tick"
        bad = ask(ws, "place", {"symbol": symbol})
        assert bad["data"]["error"]["code"] == "invalid_input"
        not_mine = ask(ws, "cancel", {"order_id": theirs["id"]})
        assert not_mine["data"]["error"]["code"] == "not_found"
        unknown = ask(ws, "explode", {})
        assert unknown["type"] == "error"
        assert unknown["data"]["error"]["code"] == "invalid_input"
        ws.send("not json")
        garbage = recv_json(ws)
        assert garbage["type"] == "error" and garbage["data"]["request_id"] is None
        broke = exchange.new_enterprise(cash=None)
    with open_trade(exchange, broke.token) as ws:
        refused = ask(ws, "place", place_body(symbol))
        assert refused["type"] == "error"
        assert refused["data"]["error"]["code"] == "insufficient_cash"
    assert ok(other.get(f"/orders/{theirs['id']}"), 200)["status"] == "open"
    assert ok(buyer.get("/orders", params={"symbol": symbol}), 200)["items"] == []


@pytest.mark.parametrize("role", ["province", "operator", "city_bureau"])
def test_other_roles_are_refused_with_4403(exchange: Exchange, role):
    party = {"province": exchange.province, "operator": exchange.operator}.get(role)
    party = party or exchange.new_bureau("440300")
    with exchange.ws("/ws/trade") as ws:
        ws.send(json.dumps({"type": "auth", "token": party.token}))
        assert closed_with(ws, timeout=3) == 4403


def test_cancel_on_disconnect_cancels_the_open_orders(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    buyer = exchange.new_enterprise()
    with open_trade(exchange, buyer.token, cancel_on_disconnect=True) as ws:
        ids = [ask(ws, "place", place_body(symbol))["data"]["order"]["id"] for _ in range(3)]
    deadline = time.monotonic() + 10
    statuses = []
    while time.monotonic() < deadline:
        statuses = [ok(buyer.get(f"/orders/{i}"), 200)["status"] for i in ids]
        if statuses == ["cancelled"] * 3:
            break
        time.sleep(0.05)
    assert statuses == ["cancelled"] * 3
