"""Hostile input over HTTP: digits of other scripts, trailing newlines, months outside
the calendar, user text in headers."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import API, GUANGZHOU, Exchange, assert_error, unique


@pytest.mark.parametrize("amount", ["１２", "١٢", "12\n", "12.00\n"])
def test_a_deposit_in_other_digits_or_with_a_newline_is_422_and_credits_nothing(
    exchange: Exchange, amount
):
    ent = exchange.new_enterprise(cash=None)
    r = exchange.operator.post(f"/accounts/{ent.account_id}/deposits", {"amount": amount})
    assert_error(r, 422, "invalid_decimal")
    assert ent.me()["cash"] == {"available": "0.00", "locked": "0.00"}


@pytest.mark.parametrize(
    "month",
    ["0000-01", "9999-12", "1999-12", "2101-01", "２０２５-01", "2025-０１", "2025-01\n", "2025-1"],
)
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_a_month_outside_the_range_or_in_other_digits_is_422(exchange: Exchange, month, fmt):
    symbol = exchange.new_instrument()
    r = exchange.province.get(
        f"/ledger/cities/{GUANGZHOU}/monthly",
        params={"month": month, "format": fmt, "symbol": symbol},
    )
    assert_error(r, 422, "invalid_input")


def test_a_good_month_still_gives_a_csv_with_a_plain_file_name(exchange: Exchange):
    symbol = exchange.new_instrument()
    r = exchange.province.get(
        f"/ledger/cities/{GUANGZHOU}/monthly",
        params={"month": "2025-03", "format": "csv", "symbol": symbol},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == (
        f'attachment; filename="ledger-{GUANGZHOU}-{symbol}-2025-03.csv"'
    )


@pytest.mark.parametrize("value", ["12\n", " 12", "1_2", "+12", "１２"])
@pytest.mark.parametrize(
    "path, param",
    [("/orders", "cursor"), ("/orders", "limit"), ("/surveillance/alerts", "cursor")],
)
def test_integer_query_parameters_take_plain_ascii_digits_only(
    exchange: Exchange, path, param, value
):
    party = exchange.new_enterprise(cash=None) if path == "/orders" else exchange.province
    assert_error(party.get(path, params={param: value}), 422)


@pytest.mark.parametrize("password", ["password", "12345678", "qwerty123456", "a"])
def test_a_new_account_with_a_weak_password_is_422_and_not_created(exchange: Exchange, password):
    username = unique("weak")
    body = {
        "username": username,
        "password": password,
        "name": "Weak Password Co",
        "role": "enterprise",
        "city_code": GUANGZHOU,
    }
    assert_error(exchange.operator.post("/accounts", body), 422, "weak_password")
    r = exchange.client.post(API + "/session", json={"username": username, "password": password})
    assert_error(r, 401, "invalid_credentials")
