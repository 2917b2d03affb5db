"""The role and ownership matrix: every endpoint of API.md refuses every wrong role (403),
refuses a missing token (401), and hides other parties' private resources (404)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.e2e.helpers import (
    API,
    GUANGZHOU,
    SHENZHEN,
    Exchange,
    Party,
    assert_error,
    ok,
    unique,
)
from tests.e2e.test_registry_api import this_month

ROLES = ("enterprise", "city_bureau", "province", "operator")


@dataclass
class World:
    symbol: str
    owner: Party  # an enterprise in Guangzhou with an order, a claim and a project
    other: Party  # an enterprise in Shenzhen
    home_bureau: Party
    away_bureau: Party
    order_id: str
    claim_id: str
    project_id: str
    application_id: str
    by_role: dict[str, Party]


@pytest.fixture(scope="module")
def world(exchange: Exchange) -> World:
    symbol = exchange.new_instrument()
    owner = exchange.new_enterprise(GUANGZHOU)
    exchange.give_allowances(owner, symbol, "10.000")
    other = exchange.new_enterprise(SHENZHEN)
    order = owner.place(symbol, "sell", "1.000", "101.00")
    claim = exchange.claim(owner, symbol, "1.000")
    project = ok(
        owner.post(
            "/projects",
            {
                "name": "Nansha terminal",
                "priority_category": "major_platform",
                "symbol": symbol,
                "required_quantity": "5.000",
            },
        ),
        201,
    )
    ok(owner.post(f"/projects/{project['id']}/allocations", {"symbol": symbol, "quantity": "1"}))
    home_bureau = exchange.new_bureau(GUANGZHOU)
    application = ok(
        home_bureau.post(
            "/reallocations",
            {
                "project_id": project["id"],
                "symbol": symbol,
                "quantity": "2",
                "reason": "short",
                "priority_category": "major_platform",
            },
        ),
        201,
    )
    return World(
        symbol=symbol,
        owner=owner,
        other=other,
        home_bureau=home_bureau,
        away_bureau=exchange.new_bureau(SHENZHEN),
        order_id=order["id"],
        claim_id=claim["id"],
        project_id=project["id"],
        application_id=application["id"],
        by_role={
            "enterprise": other,
            "city_bureau": exchange.new_bureau(SHENZHEN),
            "province": exchange.province,
            "operator": exchange.operator,
        },
    )


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # API.md's path, with {placeholders} filled from the world
    allowed: tuple[str, ...]
    body: dict | None = None

    def url(self, w: World) -> str:
        return self.path.format(
            symbol=w.symbol,
            account=w.owner.account_id,
            order=w.order_id,
            claim=w.claim_id,
            project=w.project_id,
            application=w.application_id,
            city=GUANGZHOU,
        )

    def payload(self, w: World) -> dict | None:
        if self.body is None:
            return None
        return {
            k: (v.format(symbol=w.symbol, project=w.project_id) if isinstance(v, str) else v)
            for k, v in self.body.items()
        }

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint(
        "POST",
        "/accounts",
        ("operator",),
        {
            "username": "never-made",
            "password": "long-enough-pw",
            "name": "n",
            "role": "enterprise",
            "city_code": GUANGZHOU,
        },
    ),
    Endpoint("GET", "/accounts/me", ROLES),
    Endpoint("POST", "/accounts/{account}/deposits", ("operator",), {"amount": "1.00"}),
    Endpoint("POST", "/accounts/{account}/withdrawals", ("operator",), {"amount": "1.00"}),
    Endpoint("GET", "/accounts/fees", ("operator", "province")),
    Endpoint(
        "POST",
        "/instruments",
        ("province",),
        {
            "symbol": "NEVER-2099",
            "pollutant": "NOx",
            "vintage": 2099,
            "tick_size": "0.01",
            "lot_size": "0.001",
            "reference_price": "100.00",
            "price_band_pct": "10",
        },
    ),
    Endpoint("POST", "/market/{symbol}/halt", ("province",)),
    Endpoint("POST", "/market/{symbol}/resume", ("province",)),
    Endpoint("POST", "/market/{symbol}/close-session", ("province", "operator")),
    Endpoint(
        "POST",
        "/orders",
        ("enterprise",),
        {
            "client_order_id": "never",
            "symbol": "{symbol}",
            "side": "buy",
            "type": "limit",
            "price": "99.00",
            "quantity": "1.000",
        },
    ),
    Endpoint("POST", "/orders/cancel-all", ("enterprise",), {"symbol": "{symbol}"}),
    Endpoint("GET", "/orders", ("enterprise", "province")),
    Endpoint("GET", "/orders/{order}", ("enterprise", "province")),
    Endpoint("DELETE", "/orders/{order}", ("enterprise",)),
    Endpoint("PATCH", "/orders/{order}", ("enterprise",), {"quantity": "0.5"}),
    Endpoint("GET", "/trades", ("enterprise", "province")),
    Endpoint(
        "POST",
        "/reductions",
        ("enterprise", "city_bureau"),
        {"symbol": "{symbol}", "quantity": "1.000", "source_kind": "other_lawful"},
    ),
    Endpoint(
        "POST",
        "/reductions/{claim}/verify",
        ("city_bureau", "province"),
        {"decision": "approve", "approved_quantity": "1.000", "method": "online_monitoring"},
    ),
    Endpoint("GET", "/reductions", ("enterprise", "city_bureau", "province")),
    Endpoint(
        "POST",
        "/projects",
        ("enterprise",),
        {
            "name": "p",
            "priority_category": "ordinary",
            "symbol": "{symbol}",
            "required_quantity": "1.000",
        },
    ),
    Endpoint(
        "POST",
        "/projects/{project}/allocations",
        ("enterprise",),
        {"symbol": "{symbol}", "quantity": "1.000"},
    ),
    Endpoint("GET", "/projects/{project}/sources", ("enterprise", "city_bureau", "province")),
    Endpoint("GET", "/ledger/cities?symbol={symbol}", ("city_bureau", "province")),
    Endpoint(
        "GET",
        "/ledger/cities/{city}/monthly?month=2025-01&symbol={symbol}",
        ("city_bureau", "province"),
    ),
    Endpoint(
        "PUT",
        "/ledger/cities/{city}/floor",
        ("province",),
        {"symbol": "{symbol}", "quantity": "0.000"},
    ),
    Endpoint(
        "POST",
        "/reallocations",
        ("city_bureau",),
        {
            "project_id": "{project}",
            "symbol": "{symbol}",
            "quantity": "1.000",
            "reason": "r",
            "priority_category": "ordinary",
        },
    ),
    Endpoint(
        "POST",
        "/reallocations/{application}/decide",
        ("province",),
        {"decision": "reject", "sources": [], "note": "n"},
    ),
    Endpoint("GET", "/surveillance/alerts", ("city_bureau", "province")),
    Endpoint("POST", "/surveillance/alerts/1/acknowledge", ("city_bureau", "province"), {}),
    Endpoint(
        "POST",
        "/ledger/cities/{city}/monthly/2025-01/submit",
        ("city_bureau",),
        {"symbol": "{symbol}"},
    ),
    Endpoint(
        "GET", "/ledger/submissions?month=2025-01&symbol={symbol}", ("city_bureau", "province")
    ),
    Endpoint("GET", "/admin/state", ("province",)),
]

WRONG_ROLE_CASES = [
    pytest.param(e, role, id=f"{e}-as-{role}")
    for e in ENDPOINTS
    for role in ROLES
    if role not in e.allowed
]


@pytest.mark.parametrize("endpoint, role", WRONG_ROLE_CASES)
def test_wrong_role_is_403(exchange: Exchange, world: World, endpoint: Endpoint, role: str):
    party = world.by_role[role]
    r = party.request(endpoint.method, endpoint.url(world), json=endpoint.payload(world))
    assert_error(r, 403)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_no_token_is_401(exchange: Exchange, world: World, endpoint: Endpoint):
    r = exchange.client.request(
        endpoint.method, API + endpoint.url(world), json=endpoint.payload(world)
    )
    assert_error(r, 401)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_invalid_token_is_401(exchange: Exchange, world: World, endpoint: Endpoint):
    r = exchange.client.request(
        endpoint.method,
        API + endpoint.url(world),
        json=endpoint.payload(world),
        headers={"Authorization": "Bearer " + unique("forged")},
    )
    assert_error(r, 401)


@pytest.mark.parametrize(
    "path",
    [
        "/instruments",
        "/market/{symbol}/book",
        "/market/{symbol}/trades",
        "/market/{symbol}/ticker",
        "/market/{symbol}/candles?interval=1m",
    ],
)
def test_market_data_is_public(exchange: Exchange, world: World, path: str):
    ok(exchange.client.get(API + path.format(symbol=world.symbol)), 200)


def test_wrong_role_refusals_changed_nothing(exchange: Exchange, world: World):
    """Runs after the matrix in this module: the world is as it was made."""
    assert exchange.instrument(world.symbol)["status"] == "open"
    order = ok(world.owner.get(f"/orders/{world.order_id}"), 200)
    assert order["status"] == "open" and order["remaining_quantity"] == "1.000"
    claim = ok(world.owner.get(f"/reductions/{world.claim_id}"), 200)
    assert claim["status"] == "pending"
    assert world.owner.me()["cash"]["available"] == "100000.00"


# --- ownership: someone else's private resources are 404 ------------------------------------
def test_another_enterprises_order_is_404_to_read_cancel_or_amend(world: World):
    path = f"/orders/{world.order_id}"
    assert_error(world.other.get(path), 404)
    assert_error(world.other.delete(path), 404)
    assert_error(world.other.patch(path, {"quantity": "0.5"}), 404)
    assert_error(world.other.patch(path, {"price": "100.50"}), 404)
    order = ok(world.owner.get(path), 200)
    assert order["status"] == "open" and order["remaining_quantity"] == "1.000"
    assert order["price"] == "101.00"
    assert world.order_id not in {o["id"] for o in ok(world.other.get("/orders"))["items"]}


def test_another_enterprises_project_is_404(world: World):
    path = f"/projects/{world.project_id}"
    assert_error(world.other.get(path + "/sources"), 404)
    r = world.other.post(path + "/allocations", {"symbol": world.symbol, "quantity": "1"})
    assert_error(r, 404)


def test_another_citys_bureau_cannot_see_a_projects_sources(world: World):
    assert_error(world.away_bureau.get(f"/projects/{world.project_id}/sources"), 404)
    assert ok(world.home_bureau.get(f"/projects/{world.project_id}/sources"), 200)["items"]


def test_another_citys_monthly_report_is_404_to_a_bureau(world: World):
    params = {"month": this_month(), "symbol": world.symbol}
    path = f"/ledger/cities/{GUANGZHOU}/monthly"
    assert_error(world.away_bureau.get(path, params=params), 404)
    assert_error(world.away_bureau.get(path, params={**params, "format": "csv"}), 404)
    ok(world.home_bureau.get(path, params=params), 200)


def test_another_enterprises_reduction_claim_is_404(world: World):
    assert_error(world.other.get(f"/reductions/{world.claim_id}"), 404)
    assert world.claim_id not in {c["id"] for c in ok(world.other.get("/reductions"))["items"]}
    assert world.claim_id not in {
        c["id"] for c in ok(world.away_bureau.get("/reductions"))["items"]
    }


def test_another_citys_bureau_cannot_verify_or_apply_for_its_project(world: World):
    r = world.away_bureau.post(
        f"/reductions/{world.claim_id}/verify",
        {"decision": "approve", "approved_quantity": "1.000", "method": "online_monitoring"},
    )
    assert_error(r, 404)
    body = {
        "project_id": world.project_id,
        "symbol": world.symbol,
        "quantity": "1.000",
        "reason": "r",
        "priority_category": "ordinary",
    }
    assert_error(world.away_bureau.post("/reallocations", body), 404)


def test_another_enterprises_trades_are_not_listed(exchange: Exchange, world: World):
    buyer = exchange.new_enterprise()
    buyer.place(world.symbol, "buy", "0.1", "101.00")
    mine = ok(buyer.get("/trades", params={"symbol": world.symbol}))["items"]
    assert len(mine) == 1
    assert ok(world.other.get("/trades", params={"symbol": world.symbol}))["items"] == []
