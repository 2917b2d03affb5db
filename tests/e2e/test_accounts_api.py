"""Sessions, accounts, cash and the fee account over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.helpers import (
    API,
    GUANGZHOU,
    SHENZHEN,
    Exchange,
    assert_error,
    authenticate,
    ok,
    recv_json,
    unique,
)


# --- session ---------------------------------------------------------------------------------
def test_login_returns_token_role_account_and_city(exchange: Exchange):
    r = exchange.client.post(
        API + "/session", json={"username": "operator", "password": exchange.operator_password}
    )
    body = ok(r, 200)
    assert set(body) == {"token", "role", "account_id", "city_code", "expires_at"}
    assert body["role"] == "operator"
    assert body["city_code"] is None
    assert isinstance(body["account_id"], str) and body["account_id"]
    assert len(body["token"]) >= 32


def test_enterprise_login_carries_its_city(exchange: Exchange):
    ent = exchange.new_enterprise(SHENZHEN, cash=None)
    assert ent.role == "enterprise"
    assert ent.city_code == SHENZHEN


@pytest.mark.parametrize(
    "username, password",
    [("operator", "wrong-password"), ("nobody-" + unique(), "whatever-password")],
    ids=["bad_password", "unknown_user"],
)
def test_bad_credentials_are_401_with_error_body(exchange: Exchange, username, password):
    r = exchange.client.post(API + "/session", json={"username": username, "password": password})
    assert_error(r, 401)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-real-token"}, {"Authorization": "Basic b3A6cHc="}],
    ids=["no_token", "invalid_token", "wrong_scheme"],
)
def test_missing_or_invalid_token_is_401(exchange: Exchange, headers):
    assert_error(exchange.client.get(API + "/accounts/me", headers=headers), 401)


# --- accounts --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "role, city",
    [
        ("enterprise", GUANGZHOU),
        ("city_bureau", SHENZHEN),
        ("province", None),
        ("operator", None),
    ],
)
def test_operator_creates_accounts_of_every_role_and_they_can_log_in(exchange, role, city):
    party = exchange.new_account(role, city)
    assert party.role == role
    assert party.city_code == city
    me = party.me()
    assert me["id"] == party.account_id and me["role"] == role and me["city_code"] == city


def test_create_account_response_is_the_account(exchange: Exchange):
    username = unique("ent")
    body = {
        "username": username,
        "password": "long-enough-pw",
        "name": "Foshan Ceramics",
        "role": "enterprise",
        "city_code": "440600",
    }
    created = ok(exchange.operator.post("/accounts", body), 201)
    assert created["id"]
    assert created["role"] == "enterprise" and created["city_code"] == "440600"
    assert "password" not in created


@pytest.mark.parametrize(
    "role, city",
    [
        ("enterprise", None),
        ("enterprise", "999999"),
        ("city_bureau", None),
        ("city_bureau", "110000"),
    ],
)
def test_enterprise_and_bureau_need_a_guangdong_city(exchange: Exchange, role, city):
    body = {
        "username": unique("x"),
        "password": "long-enough-pw",
        "name": "Nowhere Ltd",
        "role": role,
        "city_code": city,
    }
    assert_error(exchange.operator.post("/accounts", body), 422, "unknown_city")


def test_taken_username_is_409(exchange: Exchange):
    party = exchange.new_enterprise(cash=None)
    body = {
        "username": party.username,
        "password": "long-enough-pw",
        "name": "Again",
        "role": "enterprise",
        "city_code": GUANGZHOU,
    }
    assert_error(exchange.operator.post("/accounts", body), 409, "username_taken")


def test_a_city_may_have_several_bureau_accounts(exchange: Exchange):
    first = exchange.new_bureau("441900")
    second = exchange.new_bureau("441900")
    assert first.account_id != second.account_id


def test_deposit_and_withdrawal_move_available_cash(exchange: Exchange):
    ent = exchange.new_enterprise(cash=None)
    after = ok(exchange.operator.post(f"/accounts/{ent.account_id}/deposits", {"amount": "1000.5"}))
    assert after["cash"] == {"available": "1000.50", "locked": "0.00"}
    after = ok(
        exchange.operator.post(f"/accounts/{ent.account_id}/withdrawals", {"amount": "0.50"})
    )
    assert after["cash"] == {"available": "1000.00", "locked": "0.00"}
    assert ent.me()["cash"] == {"available": "1000.00", "locked": "0.00"}


def test_deposit_into_unknown_account_is_404(exchange: Exchange):
    r = exchange.operator.post("/accounts/NO-SUCH-ACCOUNT/deposits", {"amount": "1.00"})
    assert_error(r, 404)


def test_withdrawal_never_touches_locked_cash(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    ent = exchange.new_enterprise(cash="1000.00")
    ent.place(symbol, "buy", "5.000", "100.00")
    cash = ent.me()["cash"]
    available, locked = Decimal(cash["available"]), Decimal(cash["locked"])
    assert locked >= Decimal("500.00") and available + locked == Decimal("1000.00")
    # total cash would cover one fen more than what is available, but only by locked cash
    too_much = str(available + Decimal("0.01"))
    r = exchange.operator.post(f"/accounts/{ent.account_id}/withdrawals", {"amount": too_much})
    assert_error(r, 409, "insufficient_cash")
    assert ent.me()["cash"] == cash
    ok(
        exchange.operator.post(
            f"/accounts/{ent.account_id}/withdrawals", {"amount": str(available)}
        )
    )
    assert ent.me()["cash"] == {"available": "0.00", "locked": cash["locked"]}


def test_buy_locks_price_times_quantity_plus_fee(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    ent = exchange.new_enterprise(cash="1000.00")
    ent.place(symbol, "buy", "5.000", "100.00")
    fee = Decimal("500.00") * exchange.fee_bps / 10_000
    locked = Decimal("500.00") + fee.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert ent.me()["cash"] == {
        "available": str(Decimal("1000.00") - locked),
        "locked": str(locked),
    }


def test_enterprise_me_shape_shows_cash_and_allowances_per_symbol(exchange: Exchange):
    symbol = exchange.new_instrument()
    ent = exchange.new_enterprise(cash="250.00")
    exchange.give_allowances(ent, symbol, "12.5")
    me = ent.me()
    assert set(me) >= {"id", "name", "role", "city_code", "cash", "allowances"}
    assert me["cash"] == {"available": "250.00", "locked": "0.00"}
    assert me["allowances"][symbol] == {"available": "12.500", "locked": "0.000", "used": "0.000"}


def test_bureau_me_includes_its_city_pool(exchange: Exchange):
    symbol = exchange.new_instrument()
    bureau = exchange.new_bureau("441300")
    claim = exchange.claim(bureau, symbol, "7.000", kind="coal_boiler_phaseout")
    exchange.approve(exchange.province, claim["id"], "7.000")
    me = bureau.me()
    assert me["role"] == "city_bureau" and me["city_code"] == "441300"
    assert me["city_pool"]["allowances"][symbol] == {
        "available": "7.000",
        "locked": "0.000",
        "used": "0.000",
    }
    # the pool belongs to the city: another bureau of the same city sees the same pool
    other = exchange.new_bureau("441300")
    assert other.me()["city_pool"]["allowances"][symbol]["available"] == "7.000"


@pytest.mark.parametrize("who", ["operator", "province"])
def test_fee_account_is_visible_to_operator_and_province(exchange: Exchange, who):
    party = getattr(exchange, who)
    body = ok(party.get("/accounts/fees"), 200)
    assert set(body["cash"]) == {"available", "locked"}
    assert body["cash"]["available"].count(".") == 1
    assert len(body["cash"]["available"].split(".")[1]) == 2


@pytest.mark.parametrize("role", ["enterprise", "city_bureau"])
def test_fee_account_is_hidden_from_enterprises_and_bureaus(exchange: Exchange, role):
    party = exchange.new_account(role, GUANGZHOU)
    assert_error(party.get("/accounts/fees"), 403)


def test_login_says_when_the_session_expires(exchange: Exchange):
    before = datetime.now().astimezone()
    r = exchange.client.post(
        API + "/session", json={"username": "operator", "password": exchange.operator_password}
    )
    expires_at = datetime.fromisoformat(ok(r, 200)["expires_at"])
    assert expires_at.utcoffset() == timedelta(hours=8)
    assert abs(expires_at - before - timedelta(hours=8)) < timedelta(seconds=5)


def test_logout_ends_the_session_at_once_and_closes_its_feeds(exchange: Exchange):
    ent = exchange.new_enterprise(cash=None)
    assert ent.get("/accounts/me").status_code == 200  # cached from here on
    with exchange.ws("/ws/private") as feed:
        assert authenticate(feed, ent.token)["type"] == "auth_ok"
        assert ent.delete("/session").status_code == 204
        with pytest.raises(ConnectionClosed) as closed:
            recv_json(feed)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert_error(ent.get("/accounts/me"), 401, "unauthorized")


def test_logout_needs_a_token(exchange: Exchange):
    assert_error(exchange.client.delete(API + "/session"), 401, "unauthorized")
