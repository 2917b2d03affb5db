"""WebSocket feeds over real sockets: /ws/market, /ws/private, /ws/regulator."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.helpers import (
    SHENZHEN,
    Exchange,
    authenticate,
    drain,
    recv_json,
    recv_until,
)


def closed_with(ws, timeout: float = 5.0) -> int:
    """The close code the server sends, waiting at most `timeout`."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=timeout)
    assert closed.value.rcvd is not None, "the server closed without a close frame"
    return closed.value.rcvd.code


def assert_gap_free(messages: list[dict], first: int = 1) -> None:
    assert [m["seq"] for m in messages] == list(range(first, first + len(messages))), [
        (m["seq"], m["type"]) for m in messages
    ]


# --- /ws/market ------------------------------------------------------------------------------
def test_market_feed_starts_with_a_snapshot_equal_to_the_rest_book(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller, buyer = exchange.seller(symbol), exchange.new_enterprise()
    seller.place(symbol, "sell", "2.000", "101.00")
    buyer.place(symbol, "buy", "1.000", "99.00")
    rest = exchange.book(symbol)
    with exchange.ws(f"/ws/market?symbols={symbol}") as ws:
        snap = recv_json(ws)
        assert snap["type"] == "book" and snap["seq"] == 1 and snap["symbol"] == symbol
        assert snap["data"]["snapshot"] is True
        assert snap["data"]["book_seq"] == rest["seq"]
        assert snap["data"]["bids"] == rest["bids"] == [["99.00", "1.000"]]
        assert snap["data"]["asks"] == rest["asks"] == [["101.00", "2.000"]]


def test_market_feed_sends_gap_free_deltas_and_anonymous_trades(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.seller(symbol, city_code=SHENZHEN)
    buyer = exchange.new_enterprise()
    with exchange.ws(f"/ws/market?symbols={symbol}") as ws:
        snap = recv_json(ws)
        assert snap["data"]["bids"] == [] and snap["data"]["asks"] == []
        seller.place(symbol, "sell", "2.000", "101.00")
        (delta,) = recv_until(ws, lambda m: m["type"] == "book")
        assert delta["seq"] == 2 and delta["data"]["snapshot"] is False
        assert delta["data"]["asks"] == [["101.00", "2.000"]]
        assert delta["data"]["book_seq"] == exchange.book(symbol)["seq"]
        buyer.place(symbol, "buy", "2.000", "101.00")
        later = drain(ws, quiet=1.0)
        messages = [snap, delta, *later]
        assert_gap_free(messages)
        trades = [m for m in later if m["type"] == "trade"]
        assert len(trades) == 1
        trade = trades[0]
        assert trade["symbol"] == symbol
        assert {"id", "price", "quantity", "taker_side", "time"} <= set(trade["data"])
        assert trade["data"]["price"] == "101.00" and trade["data"]["quantity"] == "2.000"
        assert trade["data"]["taker_side"] == "buy"
        raw = json.dumps(later)
        for secret in (seller.account_id, buyer.account_id, seller.name, buyer.name):
            assert secret not in raw
        assert not {"buyer", "seller", "account_id"} & set(trade["data"])
        gone = [m for m in later if m["type"] == "book"]
        assert gone and gone[-1]["data"]["asks"] == [["101.00", "0.000"]]
        assert any(m["type"] == "ticker" and m["data"]["last"] == "101.00" for m in later)
        public = exchange.client.get(f"/api/v1/market/{symbol}/trades").json()["items"]
        assert public[0]["id"] == trade["data"]["id"]


def test_market_feed_only_carries_the_symbols_asked_for(exchange: Exchange):
    watched, other = exchange.new_instrument(), exchange.new_instrument()
    seller = exchange.seller(other)
    with exchange.ws(f"/ws/market?symbols={watched}") as ws:
        recv_json(ws)
        seller.place(other, "sell", "1.000", "101.00")
        assert drain(ws, quiet=0.7) == []


def test_market_feed_without_symbols_or_with_an_unknown_one_is_closed(exchange: Exchange):
    with exchange.ws("/ws/market") as ws:
        assert closed_with(ws) == 4400
    with exchange.ws("/ws/market?symbols=NOPE-2025") as ws:
        assert closed_with(ws) == 4404


# --- /ws/private -----------------------------------------------------------------------------
def test_private_feed_with_a_bad_token_closes_4401(exchange: Exchange):
    with exchange.ws("/ws/private") as ws:
        ws.send(json.dumps({"type": "auth", "token": "not-a-token"}))
        assert closed_with(ws, timeout=3) == 4401


def test_private_feed_whose_first_message_is_not_auth_closes_4401(exchange: Exchange):
    ent = exchange.new_enterprise(cash=None)
    with exchange.ws("/ws/private") as ws:
        ws.send(json.dumps({"type": "subscribe", "token": ent.token}))
        assert closed_with(ws, timeout=3) == 4401
    with exchange.ws("/ws/private") as ws:
        ws.send("not json")
        assert closed_with(ws, timeout=3) == 4401


def test_private_feed_without_auth_closes_4401_after_five_seconds(exchange: Exchange):
    with exchange.ws("/ws/private") as ws:
        assert closed_with(ws, timeout=8) == 4401


@pytest.mark.parametrize("role", ["city_bureau", "province", "operator"])
def test_private_feed_refuses_other_roles_with_4403(exchange: Exchange, role):
    party = {"province": exchange.province, "operator": exchange.operator}.get(role)
    party = party or exchange.new_bureau(SHENZHEN)
    with exchange.ws("/ws/private") as ws:
        ws.send(json.dumps({"type": "auth", "token": party.token}))
        assert closed_with(ws, timeout=3) == 4403


def test_private_feed_carries_own_orders_and_fills_only(exchange: Exchange):
    symbol = exchange.new_instrument()
    me = exchange.seller(symbol)
    buyer, bystander = exchange.new_enterprise(), exchange.new_enterprise()
    with exchange.ws("/ws/private") as ws:
        ok_msg = authenticate(ws, me.token)
        assert ok_msg == {
            "type": "auth_ok",
            "seq": 0,
            "data": {"account_id": me.account_id, "role": "enterprise"},
        }
        bystander.place(symbol, "buy", "1.000", "95.00")
        bid = buyer.place(symbol, "buy", "1.500", "100.00")
        ask = me.place(symbol, "sell", "1.000", "100.00")
        messages = drain(ws, quiet=1.0)
    assert_gap_free(messages)
    assert {m["type"] for m in messages} == {"order", "fill"}
    orders = [m for m in messages if m["type"] == "order"]
    fills = [m for m in messages if m["type"] == "fill"]
    assert {m["data"]["id"] for m in orders} == {ask["id"]}
    assert orders[-1]["data"]["status"] == "filled"
    assert orders[-1]["data"] == ask | {"updated_at": orders[-1]["data"]["updated_at"]}
    (fill,) = fills
    assert fill["data"]["order_id"] == ask["id"] and fill["data"]["side"] == "sell"
    assert fill["data"]["price"] == "100.00" and fill["data"]["quantity"] == "1.000"
    raw = json.dumps(messages)
    assert bid["id"] not in {m["data"].get("id") for m in orders}
    assert buyer.account_id not in raw and bystander.account_id not in raw


# --- /ws/regulator ---------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["enterprise", "operator"])
def test_regulator_feed_refuses_other_roles_with_4403(exchange: Exchange, role):
    party = exchange.operator if role == "operator" else exchange.new_account(role, SHENZHEN)
    with exchange.ws("/ws/regulator") as ws:
        ws.send(json.dumps({"type": "auth", "token": party.token}))
        assert closed_with(ws, timeout=3) == 4403


def test_regulator_feed_carries_trades_with_parties_and_alerts(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    seller = exchange.seller(symbol, city_code=SHENZHEN)
    buyer = exchange.new_enterprise()
    with exchange.ws("/ws/regulator") as ws:
        assert authenticate(ws, exchange.province.token)["type"] == "auth_ok"
        seller.place(symbol, "sell", "2.000", "100.00")
        buyer.place(symbol, "buy", "1.000", "100.00")
        seller.place(symbol, "buy", "1.000", "100.00")  # would trade with itself
        r = buyer.order(symbol, "buy", "1.000", "150.00")  # outside the band
        assert r.status_code == 409
        messages = drain(ws, quiet=1.0)
    assert_gap_free(messages)
    mine = [m for m in messages if m.get("symbol") == symbol]
    (trade,) = [m for m in mine if m["type"] == "trade"]
    assert trade["data"]["buyer"] == {
        "account_id": buyer.account_id,
        "name": buyer.name,
        "city_code": buyer.city_code,
    }
    assert trade["data"]["seller"] == {
        "account_id": seller.account_id,
        "name": seller.name,
        "city_code": SHENZHEN,
    }
    assert trade["data"]["price"] == "100.00" and trade["data"]["quantity"] == "1.000"
    kinds = {(m["data"]["kind"], m["data"]["account_id"]) for m in mine if m["type"] == "alert"}
    assert ("self_trade_blocked", seller.account_id) in kinds
    assert ("price_band_rejection", buyer.account_id) in kinds
