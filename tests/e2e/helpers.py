"""Helpers for the end-to-end suites: a thin HTTP client and builders that give each
test its own accounts, instruments and allowances on the shared server."""

from __future__ import annotations

import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
from websockets.sync.client import ClientConnection, connect

API = "/api/v1"
_counter = itertools.count(1)

GUANGZHOU, SHAOGUAN, SHENZHEN, ZHUHAI, FOSHAN = "440100", "440200", "440300", "440400", "440600"


def unique(prefix: str = "u") -> str:
    return f"{prefix}{next(_counter)}-{secrets.token_hex(4)}"


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """The response is the one error shape API.md promises, with this status (and code)."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"], body
    assert isinstance(body["error"]["message"], str), body
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def ok(response: httpx.Response, status: int | tuple[int, ...] = (200, 201)) -> dict:
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.text)
    return response.json()


@dataclass
class Party:
    """A logged-in account."""

    client: httpx.Client
    token: str
    account_id: str
    role: str
    city_code: str | None
    username: str
    name: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        return self.client.request(method, API + path, headers=self.headers, **kwargs)

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: dict | None = None, **kwargs) -> httpx.Response:
        return self.request("POST", path, json=body, **kwargs)

    def patch(self, path: str, body: dict, **kwargs) -> httpx.Response:
        return self.request("PATCH", path, json=body, **kwargs)

    def put(self, path: str, body: dict, **kwargs) -> httpx.Response:
        return self.request("PUT", path, json=body, **kwargs)

    def delete(self, path: str, **kwargs) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def me(self) -> dict:
        return ok(self.get("/accounts/me"), 200)

    def order(
        self,
        symbol: str,
        side: str,
        quantity: str,
        price: str | None = None,
        *,
        type: str = "limit",
        tif: str | None = None,
        client_order_id: str | None = None,
    ) -> httpx.Response:
        body: dict = {
            "client_order_id": client_order_id or unique("c"),
            "symbol": symbol,
            "side": side,
            "type": type,
            "quantity": quantity,
        }
        if price is not None:
            body["price"] = price
        if tif is not None:
            body["time_in_force"] = tif
        return self.post("/orders", body)

    def place(self, *args, **kwargs) -> dict:
        return ok(self.order(*args, **kwargs), 201)

    def cash_total(self) -> Decimal:
        cash = self.me()["cash"]
        return Decimal(cash["available"]) + Decimal(cash["locked"])


@dataclass
class Exchange:
    """The running server of one backend, with its operator and province logged in."""

    base_url: str
    backend: str
    operator_password: str
    province_password: str
    fee_bps: int
    log_path: Path | None = None
    client: httpx.Client = field(init=False)
    operator: Party = field(init=False)
    province: Party = field(init=False)
    _bureaus: dict[str, Party] = field(default_factory=dict, init=False)

    def __enter__(self) -> Exchange:
        self.client = httpx.Client(base_url=self.base_url, timeout=30)
        self.operator = self.login("operator", self.operator_password)
        self.province = self.login("province", self.province_password)
        return self

    def __exit__(self, *exc) -> None:
        self.client.close()

    @property
    def ws_base(self) -> str:
        return "ws" + self.base_url.removeprefix("http")

    # --- sessions and accounts -----------------------------------------------------------
    def login(self, username: str, password: str) -> Party:
        r = self.client.post(API + "/session", json={"username": username, "password": password})
        body = ok(r, 200)
        me = self.client.get(
            API + "/accounts/me", headers={"Authorization": f"Bearer {body['token']}"}
        ).json()
        return Party(
            self.client,
            body["token"],
            body["account_id"],
            body["role"],
            body["city_code"],
            username,
            me["name"],
        )

    def new_account(self, role: str, city_code: str | None = None, name: str = "") -> Party:
        username = unique(role[:3])
        password = "pw-" + secrets.token_hex(8)
        body = {
            "username": username,
            "password": password,
            "name": name or f"{role} {username}",
            "role": role,
            "city_code": city_code,
        }
        ok(self.operator.post("/accounts", body), 201)
        return self.login(username, password)

    def new_enterprise(self, city_code: str = GUANGZHOU, cash: str | None = "100000.00") -> Party:
        party = self.new_account("enterprise", city_code)
        if cash:
            self.deposit(party, cash)
        return party

    def new_bureau(self, city_code: str) -> Party:
        return self.new_account("city_bureau", city_code)

    def bureau(self, city_code: str) -> Party:
        """One bureau per city, shared by the tests that only need it to verify claims."""
        if city_code not in self._bureaus:
            self._bureaus[city_code] = self.new_bureau(city_code)
        return self._bureaus[city_code]

    def deposit(self, party: Party, amount: str) -> dict:
        return ok(self.operator.post(f"/accounts/{party.account_id}/deposits", {"amount": amount}))

    # --- instruments and allowances --------------------------------------------------------
    def new_instrument(
        self,
        reference_price: str = "100.00",
        *,
        band: str = "10",
        tick: str = "0.01",
        lot: str = "0.001",
        pollutant: str = "NOx",
    ) -> str:
        symbol = f"T{secrets.token_hex(3).upper()}-2025"
        body = {
            "symbol": symbol,
            "pollutant": pollutant,
            "vintage": 2025,
            "tick_size": tick,
            "lot_size": lot,
            "reference_price": reference_price,
            "price_band_pct": band,
        }
        ok(self.province.post("/instruments", body), 201)
        return symbol

    def claim(self, party: Party, symbol: str, quantity: str, kind: str = "deep_treatment") -> dict:
        body = {
            "symbol": symbol,
            "quantity": quantity,
            "source_kind": kind,
            "description": "SCR retrofit on boiler 2",
            "evidence": "CEMS export 2025-03",
        }
        return ok(party.post("/reductions", body), 201)

    def approve(self, verifier: Party, claim_id: str, quantity: str) -> dict:
        body = {
            "decision": "approve",
            "approved_quantity": quantity,
            "method": "online_monitoring",
            "note": "checked against CEMS",
        }
        return ok(verifier.post(f"/reductions/{claim_id}/verify", body), 200)

    def give_allowances(self, party: Party, symbol: str, quantity: str) -> dict:
        """A reduction claim by `party`, approved in full by its city's bureau."""
        claim = self.claim(party, symbol, quantity)
        return self.approve(self.bureau(party.city_code), claim["id"], quantity)

    def seller(self, symbol: str, quantity: str = "100.000", city_code: str = GUANGZHOU) -> Party:
        party = self.new_enterprise(city_code)
        self.give_allowances(party, symbol, quantity)
        return party

    def fees_total(self) -> Decimal:
        cash = ok(self.operator.get("/accounts/fees"), 200)["cash"]
        return Decimal(cash["available"]) + Decimal(cash["locked"])

    def book(self, symbol: str, depth: int = 20) -> dict:
        return ok(self.client.get(f"{API}/market/{symbol}/book", params={"depth": depth}), 200)

    def instrument(self, symbol: str) -> dict:
        items = ok(self.client.get(API + "/instruments"), 200)["items"]
        return next(i for i in items if i["symbol"] == symbol)

    # --- WebSocket ---------------------------------------------------------------------------
    def ws(self, path: str) -> ClientConnection:
        return connect(self.ws_base + path, open_timeout=10, close_timeout=2)


def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def recv_until(ws: ClientConnection, predicate, timeout: float = 5.0) -> list[dict]:
    """Messages up to and including the first that matches `predicate`."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching message within {timeout} s; got {seen}")
        msg = recv_json(ws, left)
        seen.append(msg)
        if predicate(msg):
            return seen


def drain(ws: ClientConnection, quiet: float = 0.5) -> list[dict]:
    """Every message that arrives until the feed is quiet for `quiet` seconds."""
    seen: list[dict] = []
    while True:
        try:
            seen.append(recv_json(ws, quiet))
        except TimeoutError:
            return seen


def authenticate(ws: ClientConnection, token: str) -> dict:
    ws.send(json.dumps({"type": "auth", "token": token}))
    return recv_json(ws)
