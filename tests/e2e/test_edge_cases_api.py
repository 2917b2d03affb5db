"""Edges of the contract: locks and releases, idempotency under concurrency, amending a
partly filled order, and malformed requests that must never get a 5xx."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest

from tests.e2e.helpers import API, Exchange, assert_error, ok


def test_fill_at_a_better_price_releases_the_difference(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    seller, buyer = exchange.seller(symbol), exchange.new_enterprise(cash="1000.00")
    seller.place(symbol, "sell", "1.000", "100.00")
    order = buyer.place(symbol, "buy", "1.000", "105.00")
    assert order["status"] == "filled" and order["average_price"] == "100.00"
    fee = Decimal("100.00") * exchange.fee_bps / 10_000
    assert buyer.me()["cash"] == {"available": str(Decimal("900.00") - fee), "locked": "0.00"}


def test_market_buy_needs_cash_for_the_top_of_the_band(exchange: Exchange):
    symbol = exchange.new_instrument("100.00", band="10")
    seller = exchange.seller(symbol)
    seller.place(symbol, "sell", "1.000", "100.00")
    poor = exchange.new_enterprise(cash="105.00")  # enough at 100.00, not at 110.00
    assert_error(poor.order(symbol, "buy", "1.000", type="market"), 409, "insufficient_cash")
    assert ok(poor.get("/orders"), 200)["items"] == []
    rich = exchange.new_enterprise(cash="200.00")
    order = rich.place(symbol, "buy", "1.000", type="market")
    assert order["status"] == "filled"
    fee = Decimal("100.00") * exchange.fee_bps / 10_000
    assert rich.me()["cash"] == {"available": str(Decimal("100.00") - fee), "locked": "0.00"}


def test_market_sell_fills_against_the_best_bids(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    buyer, seller = exchange.new_enterprise(), exchange.seller(symbol, "5.000")
    buyer.place(symbol, "buy", "1.000", "99.00")
    buyer.place(symbol, "buy", "1.000", "100.00")
    order = seller.place(symbol, "sell", "1.500", type="market")
    assert order["status"] == "filled" and order["average_price"] == "99.67"
    assert seller.me()["allowances"][symbol]["available"] == "3.500"
    assert seller.me()["allowances"][symbol]["locked"] == "0.000"


def test_amending_a_partly_filled_order_sets_the_new_remaining_quantity(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller, buyer = exchange.seller(symbol), exchange.new_enterprise()
    ask = seller.place(symbol, "sell", "3.000", "100.00")
    buyer.place(symbol, "buy", "1.000", "100.00")
    amended = ok(seller.patch(f"/orders/{ask['id']}", {"quantity": "0.5"}), 200)
    assert amended["status"] == "partially_filled"
    assert amended["remaining_quantity"] == "0.500" and amended["filled_quantity"] == "1.000"
    assert amended["quantity"] == "1.500"
    assert exchange.book(symbol)["asks"] == [["100.00", "0.500"]]
    assert seller.me()["allowances"][symbol]["locked"] == "0.500"


def test_raising_a_buy_needs_the_cash_for_it(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    buyer = exchange.new_enterprise(cash="150.00")
    bid = buyer.place(symbol, "buy", "1.000", "100.00")
    r = buyer.patch(f"/orders/{bid['id']}", {"quantity": "2.000"})
    assert_error(r, 409, "insufficient_cash")
    assert ok(buyer.get(f"/orders/{bid['id']}"), 200)["remaining_quantity"] == "1.000"


def test_amend_price_outside_the_band_is_409(exchange: Exchange):
    symbol = exchange.new_instrument("100.00", band="10")
    buyer = exchange.new_enterprise()
    bid = buyer.place(symbol, "buy", "1.000", "100.00")
    assert_error(
        buyer.patch(f"/orders/{bid['id']}", {"price": "120.00"}), 409, "price_outside_band"
    )
    assert_error(buyer.patch(f"/orders/{bid['id']}", {"price": "100.001"}), 422)


def test_refused_order_does_not_use_up_its_client_order_id(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise(cash="10.00")
    r = buyer.order(symbol, "buy", "1.000", "100.00", client_order_id="retry-me")
    assert_error(r, 409, "insufficient_cash")
    exchange.deposit(buyer, "1000.00")
    r = buyer.order(symbol, "buy", "1.000", "100.00", client_order_id="retry-me")
    assert r.status_code == 201, r.text


def test_equivalent_decimals_are_the_same_body_for_idempotency(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    first = buyer.place(symbol, "buy", "12.5", "100.5", client_order_id="same")
    again = buyer.order(symbol, "buy", "12.500", "100.50", client_order_id="same")
    assert again.status_code == 200 and again.json()["id"] == first["id"]


def test_concurrent_retries_of_one_order_create_it_once(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    body = {
        "client_order_id": "burst",
        "symbol": symbol,
        "side": "buy",
        "type": "limit",
        "price": "100.00",
        "quantity": "1.000",
    }

    def send(_):
        with httpx.Client(base_url=exchange.base_url, timeout=30) as c:
            return c.post(API + "/orders", json=body, headers=buyer.headers)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(send, range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 7 + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(ok(buyer.get("/orders", params={"symbol": symbol}))["items"]) == 1
    assert exchange.book(symbol)["bids"] == [["100.00", "1.000"]]


@pytest.mark.parametrize(
    "field, value",
    [
        ("price_band_pct", "1e1"),
        ("price_band_pct", " 10"),
        ("price_band_pct", "10.001"),
        ("price_band_pct", "100.01"),
        ("price_band_pct", "NaN"),
        ("price_band_pct", "0"),
        ("price_band_pct", "-5"),
        ("price_band_pct", 10),
        ("tick_size", "0.001"),
        ("tick_size", "0"),
        ("lot_size", "0.0001"),
        ("reference_price", "100.005"),
        ("reference_price", "100.01"),  # off a 0.05 tick
        ("vintage", "2025"),
        ("vintage", 1850),
    ],
)
def test_bad_instrument_fields_are_422(exchange: Exchange, field, value):
    body = {
        "symbol": f"B{secrets.token_hex(3).upper()}-2025",
        "pollutant": "NOx",
        "vintage": 2025,
        "tick_size": "0.05",
        "lot_size": "0.001",
        "reference_price": "100.00",
        "price_band_pct": "10",
        field: value,
    }
    assert_error(exchange.province.post("/instruments", body), 422)


MALFORMED = [
    ("POST", "/orders", b"[]"),
    ("POST", "/orders", b'"order"'),
    ("POST", "/orders", b"null"),
    ("POST", "/orders", b""),
    ("POST", "/orders", b"\xff\xfe"),
    ("POST", "/orders", b'{"client_order_id": {"a": 1}}'),
    ("PATCH", "/orders/1", b'{"quantity": []}'),
    ("PATCH", "/orders/-1", b'{"quantity": "1.000"}'),
    ("PATCH", "/orders/99999999999999999999999", b'{"quantity": "1.000"}'),
    ("GET", "/orders/99999999999999999999999", None),
    ("GET", "/orders?limit=0", None),
    ("GET", "/orders?limit=1001", None),
    ("GET", "/orders?cursor=abc", None),
    ("GET", "/orders?cursor=99999999999999999999999", None),
    ("GET", "/orders/%C2%B2", None),
    ("DELETE", "/orders/%D9%A3", None),
    ("DELETE", "/orders/99999999999999999999999", None),
    ("GET", "/trades?cursor=-5", None),
    ("GET", "/trades?limit=abc", None),
    ("POST", "/reductions", b'{"symbol": "X", "quantity": "1e400", "source_kind": "x"}'),
    ("POST", "/projects/%00/allocations", b'{"symbol": "X", "quantity": "1"}'),
    ("GET", "/projects/..%2F..%2Fetc/sources", None),
    ("POST", "/session", b'{"username": 1, "password": 2}'),
    ("POST", "/session", b'{"username": "' + b"a" * 5000 + b'", "password": "x"}'),
]


@pytest.mark.parametrize("method, path, body", MALFORMED, ids=lambda v: str(v)[:40])
def test_malformed_requests_never_get_a_5xx(exchange: Exchange, method, path, body):
    ent = exchange.new_enterprise(cash=None)
    r = exchange.client.request(
        method,
        API + path,
        content=body,
        headers={**ent.headers, "Content-Type": "application/json"},
    )
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert set(r.json()) == {"error"}


@pytest.mark.parametrize(
    "path",
    [
        "/market/{symbol}/book?depth=0",
        "/market/{symbol}/book?depth=abc",
        "/market/{symbol}/trades?limit=0",
        "/market/{symbol}/trades?before_seq=-1",
        "/market/{symbol}/trades?before_seq=99999999999999999999999",
        "/market/{symbol}/candles?limit=100000",
        "/market/NOPE-2025/ticker",
        "/market/NOPE-2025/trades",
        "/market/NOPE-2025/candles",
    ],
)
def test_bad_market_data_queries_are_4xx(exchange: Exchange, path):
    symbol = exchange.new_instrument()
    r = exchange.client.get(API + path.format(symbol=symbol))
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert set(r.json()) == {"error"}


def test_alert_cursor_beyond_64_bits_is_422(exchange: Exchange):
    r = exchange.province.get("/surveillance/alerts", params={"cursor": "9" * 23})
    assert_error(r, 422)


@pytest.mark.parametrize(
    "path, body",
    [
        (
            "/reductions",
            {"quantity": "1.000", "source_kind": "other_lawful", "description": "a\0b"},
        ),
        ("/orders", {"client_order_id": "x\0y", "side": "buy", "price": "99.00", "quantity": "1"}),
        ("/projects", {"name": "\0", "priority_category": "ordinary", "required_quantity": "1"}),
    ],
    ids=["reduction_description", "client_order_id", "project_name"],
)
def test_nul_character_in_a_body_is_422_and_harms_no_one(exchange: Exchange, path, body):
    symbol = exchange.new_instrument()
    ent = exchange.new_enterprise()
    assert_error(ent.post(path, {"symbol": symbol, **body}), 422)
    assert ent.place(symbol, "buy", "1.000", "99.00")["status"] == "open"
    assert ok(exchange.client.get("/healthz"), 200)


def test_nul_character_in_login_or_account_is_422(exchange: Exchange):
    r = exchange.client.post(API + "/session", json={"username": "operator\0", "password": "x"})
    assert_error(r, 422)
    body = {
        "username": "nul-user",
        "password": "long-enough-pw",
        "name": "a\0b",
        "role": "province",
    }
    assert_error(exchange.operator.post("/accounts", body), 422)


@pytest.mark.parametrize(
    "path",
    [
        "/market/A%00/book",
        "/market/NOX-2025%00/ticker",
        "/orders?symbol=%00",
        "/trades?symbol=NOX%00",
        "/reductions/%00",
        "/projects/%00/sources",
        "/ledger/cities?symbol=%00",
        "/ledger/cities/440100/monthly?month=2025-01&symbol=%00",
    ],
)
def test_nul_character_in_path_or_query_is_4xx(exchange: Exchange, path):
    party = exchange.province
    r = exchange.client.get(API + path, headers=party.headers)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert set(r.json()) == {"error"}


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/projects/%00/allocations", {"symbol": "X-2025", "quantity": "1"}),
        ("POST", "/reductions/%00/verify", {"decision": "reject", "note": "n"}),
        ("POST", "/reallocations/%00/decide", {"decision": "reject", "note": "n"}),
    ],
)
def test_nul_character_in_a_write_path_is_4xx(exchange: Exchange, method, path, body):
    for party in (exchange.new_enterprise(cash=None), exchange.province):
        r = party.request(method, path, json=body)
        assert 400 <= r.status_code < 500, (r.status_code, r.text)
