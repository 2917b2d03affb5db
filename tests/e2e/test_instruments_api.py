"""Instruments, and the decimal conventions of API.md, over real HTTP."""

from __future__ import annotations

import secrets

import pytest

from tests.e2e.helpers import API, Exchange, assert_error, ok, unique


def _instrument_body(symbol: str, **overrides) -> dict:
    body = {
        "symbol": symbol,
        "pollutant": "NOx",
        "vintage": 2025,
        "tick_size": "0.01",
        "lot_size": "0.001",
        "reference_price": "3456.7",
        "price_band_pct": "10",
    }
    body.update(overrides)
    return body


def test_instrument_list_is_public_and_full_scale(exchange: Exchange):
    symbol = exchange.new_instrument("3456.7", tick="0.1", lot="0.5")
    r = exchange.client.get(API + "/instruments")  # no token
    items = ok(r, 200)["items"]
    mine = next(i for i in items if i["symbol"] == symbol)
    assert set(mine) >= {
        "symbol",
        "pollutant",
        "vintage",
        "tick_size",
        "lot_size",
        "reference_price",
        "price_band_pct",
        "status",
    }
    assert mine["pollutant"] == "NOx" and mine["vintage"] == 2025
    assert mine["tick_size"] == "0.10"
    assert mine["lot_size"] == "0.500"
    assert mine["reference_price"] == "3456.70"
    assert mine["status"] == "open"


def test_province_creates_instrument_and_gets_it_back(exchange: Exchange):
    symbol = f"V{secrets.token_hex(3).upper()}-2026"
    body = _instrument_body(symbol, pollutant="VOCs", vintage=2026)
    created = ok(exchange.province.post("/instruments", body), 201)
    assert created["symbol"] == symbol and created["pollutant"] == "VOCs"
    assert created["reference_price"] == "3456.70"


@pytest.mark.parametrize(
    "symbol", ["nox-2025", "N-2025", "NOX2025", "NOXNOXNOX-2025", "NOX-25", "NOX_-2025", ""]
)
def test_instrument_symbol_must_match_the_pattern(exchange: Exchange, symbol):
    assert_error(exchange.province.post("/instruments", _instrument_body(symbol)), 422)


@pytest.mark.parametrize("pollutant", ["CO2", "nox", "PM2.5", ""])
def test_instrument_pollutant_must_be_one_of_the_enum(exchange: Exchange, pollutant):
    body = _instrument_body("PX-2030", pollutant=pollutant)
    assert_error(exchange.province.post("/instruments", body), 422)


def test_every_pollutant_in_the_enum_is_accepted(exchange: Exchange):
    for pollutant in ["NOx", "SO2", "VOCs", "COD", "NH3-N"]:
        exchange.new_instrument(pollutant=pollutant)


def test_duplicate_instrument_is_409(exchange: Exchange):
    symbol = exchange.new_instrument()
    r = exchange.province.post("/instruments", _instrument_body(symbol))
    assert_error(r, 409, "instrument_exists")


# --- decimals --------------------------------------------------------------------------------
@pytest.mark.parametrize("quantity", ["12.5", "12.500", "12.50"])
def test_quantity_with_up_to_three_decimals_is_accepted_and_printed_full_scale(
    exchange: Exchange, quantity
):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    order = buyer.place(symbol, "buy", quantity, "100.5")
    assert order["quantity"] == "12.500"
    assert order["remaining_quantity"] == "12.500"
    assert order["filled_quantity"] == "0.000"
    assert order["price"] == "100.50"


BAD_DECIMALS = [
    "12.5001",  # too many decimals for a quantity
    "-1",
    "-0.001",
    "0",
    "0.000",
    "NaN",
    "nan",
    "Infinity",
    "1e3",
    "1E3",
    "1.5e0",
    "",
    " 12.5",
    "12,5",
    "0x10",
    "+5",
]


@pytest.mark.parametrize("quantity", BAD_DECIMALS)
def test_bad_quantity_is_422_and_creates_no_order(exchange: Exchange, quantity):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    assert_error(buyer.order(symbol, "buy", quantity, "100.00"), 422)
    assert ok(buyer.get("/orders"), 200)["items"] == []


@pytest.mark.parametrize("price", ["100.001", "-100.00", "0", "0.00", "NaN", "1e2", "Inf"])
def test_bad_price_is_422(exchange: Exchange, price):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    assert_error(buyer.order(symbol, "buy", "1.000", price), 422)
    assert ok(buyer.get("/orders"), 200)["items"] == []


@pytest.mark.parametrize("field, value", [("quantity", 12.5), ("quantity", 12), ("price", 100)])
def test_json_number_where_a_string_is_required_is_422(exchange: Exchange, field, value):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    body = {
        "client_order_id": unique("c"),
        "symbol": symbol,
        "side": "buy",
        "type": "limit",
        "price": "100.00",
        "quantity": "1.000",
        field: value,
    }
    assert_error(buyer.post("/orders", body), 422)


@pytest.mark.parametrize("amount", ["100.001", "-5.00", "0", "0.00", "NaN", "1e3", 100, "1,000"])
def test_bad_cash_amount_is_422(exchange: Exchange, amount):
    ent = exchange.new_enterprise(cash=None)
    r = exchange.operator.post(f"/accounts/{ent.account_id}/deposits", {"amount": amount})
    assert_error(r, 422)
    assert ent.me()["cash"] == {"available": "0.00", "locked": "0.00"}


def test_price_off_the_tick_is_422(exchange: Exchange):
    symbol = exchange.new_instrument("100.00", tick="0.05")
    buyer = exchange.new_enterprise()
    assert_error(buyer.order(symbol, "buy", "1.000", "100.03"), 422, "price_off_tick")
    assert buyer.place(symbol, "buy", "1.000", "100.05")["price"] == "100.05"


def test_quantity_off_the_lot_is_422(exchange: Exchange):
    symbol = exchange.new_instrument("100.00", lot="0.1")
    buyer = exchange.new_enterprise()
    assert_error(buyer.order(symbol, "buy", "1.05", "100.00"), 422, "quantity_off_lot")
    assert buyer.place(symbol, "buy", "1.1", "100.00")["quantity"] == "1.100"


def test_malformed_json_is_422_not_5xx(exchange: Exchange):
    buyer = exchange.new_enterprise(cash=None)
    r = exchange.client.post(
        API + "/orders",
        content=b'{"client_order_id": "x", "quantity": ',
        headers={**buyer.headers, "Content-Type": "application/json"},
    )
    assert_error(r, 422)


def test_unknown_symbol_in_an_order_body_is_422_unknown_symbol(exchange: Exchange):
    buyer = exchange.new_enterprise()
    assert_error(buyer.order("NOPE-2025", "buy", "1.000", "100.00"), 422, "unknown_symbol")
