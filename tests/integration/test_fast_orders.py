"""`POST /api/v1/orders` below FastAPI (exchange.edge.api.fast_orders) answers exactly as
the FastAPI route does: two in-process apps on databases of their own, one with the fast
path and one without, set up by the same requests in the same order (so their ids and
journal seqs agree), then sent the same corpus. Status, headers (X-Emx-Seq and the
security headers included, in order) and bodies must be equal; only the timestamps of an
order may differ."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from exchange.bootstrap import SeqHeader, create_app
from exchange.config import Settings, get_settings
from exchange.edge import auth
from exchange.edge.api import fast_orders
from exchange.edge.api.guards import MAX_BODY_BYTES
from exchange.edge.api.routes import orders as orders_route
from exchange.edge.throttle import RateLimiter

API = "/api/v1"
OPERATOR_PASSWORD = "fast-orders-operator-pw"
PROVINCE_PASSWORD = "fast-orders-province-pw"
SYMBOL = "FAST-2025"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def _cheap_hashing():
    with pytest.MonkeyPatch.context() as mp:
        for name, value in (("TIME_COST", "1"), ("MEMORY_KIB", "1024"), ("PARALLELISM", "1")):
            mp.setenv(f"EMX_ARGON2_{name}", value)
        get_settings.cache_clear()
        auth._default_hasher.cache_clear()
        yield
    get_settings.cache_clear()
    auth._default_hasher.cache_clear()


class Side:
    """One app and the tokens of its parties (the same names on both apps)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def login(self, name: str, username: str, password: str) -> None:
        r = self.client.post(API + "/session", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        self.tokens[name] = r.json()["token"]

    def call(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {self.tokens[token]}"
        r = self.client.request(method, API + path, headers=headers, **kwargs)
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    def setup(self) -> None:
        self.login("operator", "operator", OPERATOR_PASSWORD)
        self.login("province", "province", PROVINCE_PASSWORD)
        for username, role in (
            ("ent-a", "enterprise"),
            ("ent-b", "enterprise"),
            ("ent-expired", "enterprise"),
            ("ent-revoked", "enterprise"),
            ("bureau", "city_bureau"),
        ):
            body = {
                "username": username,
                "password": f"{username}-password",
                "name": username,
                "role": role,
                "city_code": "440100",
            }
            self.call("POST", "/accounts", "operator", json=body)
            self.login(username, username, f"{username}-password")
        for name in ("ent-a", "ent-b"):
            account = self.call("GET", "/accounts/me", name)["id"]
            self.call(
                "POST", f"/accounts/{account}/deposits", "operator", json={"amount": "1000000.00"}
            )
        instrument = {
            "symbol": SYMBOL,
            "pollutant": "NOx",
            "vintage": 2025,
            "tick_size": "0.05",
            "lot_size": "0.010",
            "reference_price": "100.00",
            "price_band_pct": "10",
        }
        self.call("POST", "/instruments", "province", json=instrument)
        claim = {
            "symbol": SYMBOL,
            "quantity": "50.000",
            "source_kind": "deep_treatment",
            "description": "SCR retrofit",
            "evidence": "CEMS export",
        }
        claim_id = self.call("POST", "/reductions", "ent-a", json=claim)["id"]
        verdict = {
            "decision": "approve",
            "approved_quantity": "50.000",
            "method": "online_monitoring",
            "note": "ok",
        }
        self.call("POST", f"/reductions/{claim_id}/verify", "bureau", json=verdict)


@pytest.fixture
def placed(monkeypatch) -> list[dict]:
    """The bodies the fast path answered itself (not left to FastAPI)."""
    seen: list[dict] = []
    place = fast_orders.OrderFastPath._place

    async def counted(self, scope, receive, send, data, authorization):
        seen.append(data)
        await place(self, scope, receive, send, data, authorization)

    monkeypatch.setattr(fast_orders.OrderFastPath, "_place", counted)
    return seen


@pytest.fixture
def placed_or_cancelled(monkeypatch) -> list[str]:
    """The requests the fast path answered itself."""
    seen: list[str] = []
    answer = fast_orders._answer

    async def counted(scope, *args):
        seen.append(scope["path"])
        await answer(scope, *args)

    monkeypatch.setattr(fast_orders, "_answer", counted)
    return seen


@pytest.fixture(scope="module")
def sides(tmp_path_factory, _cheap_hashing) -> Iterator[tuple[Side, Side]]:
    """(fast path, FastAPI route only), set up alike; shared by this module's tests, which
    send every request to both, so the two stay alike."""
    tmp_path = tmp_path_factory.mktemp("fast-orders")
    with ExitStack() as stack:
        pair = []
        for name, fast in (("fast", True), ("plain", False)):
            settings = Settings(
                database_url=f"sqlite:///{tmp_path / name}.db",
                operator_password=OPERATOR_PASSWORD,
                province_password=PROVINCE_PASSWORD,
                rate_limit=100_000,
            )
            client = stack.enter_context(TestClient(create_app(settings, fast_orders=fast)))
            side = Side(client)
            side.setup()
            pair.append(side)
        yield pair[0], pair[1]


def _order(cid: str, **fields) -> dict:
    return {
        "client_order_id": cid,
        "symbol": SYMBOL,
        "side": "buy",
        "type": "limit",
        "price": "95.00",
        "quantity": "1.000",
        **fields,
    }


def _send(side: Side, method: str, path: str, token, content, headers, query: str = ""):
    headers = dict(headers)
    if token is not None:
        headers["Authorization"] = f"Bearer {side.tokens[token]}" if token in side.tokens else token
    return side.client.request(method, API + path + query, headers=headers, content=content)


_TIMES = ("created_at", "updated_at")


def _shown(response) -> tuple:
    """What a client sees, but the order's timestamps (each app made its own)."""
    try:
        body = response.json()
    except ValueError:
        body = response.content
    return response.status_code, _untimed(body), response.headers.raw


def _untimed(body):
    if isinstance(body, list):
        return [_untimed(b) for b in body]
    if isinstance(body, dict):
        if "created_at" in body:
            assert all(isinstance(body[k], str) and body[k].endswith("Z") for k in _TIMES), body
        return {k: _untimed(v) for k, v in body.items() if k not in _TIMES}
    return body


def _same(fast: Side, plain: Side, method, path, token, content=b"", headers=JSON, query=""):
    a = _send(fast, method, path, token, content, headers, query)
    b = _send(plain, method, path, token, content, headers, query)
    assert _shown(a) == _shown(b), (method, path, content[:200])
    return a


def _body(value) -> bytes:
    return json.dumps(value).encode()


# (what, token, body): posted as application/json by the enterprise unless said otherwise
CORPUS: list[tuple[str, str | None, bytes]] = [
    ("limit buy", "ent-a", _body(_order("c1"))),
    ("limit sell rests", "ent-a", _body(_order("c2", side="sell", price="105.00"))),
    ("repeat, same body: 200 and the original", "ent-a", _body(_order("c1"))),
    ("repeat, another body: 409", "ent-a", _body(_order("c1", price="96.00"))),
    ("post-only", "ent-a", _body(_order("c3", post_only=True))),
    ("post-only IOC", "ent-a", _body(_order("c4", post_only=True, time_in_force="IOC"))),
    ("post-only crossing", "ent-b", _body(_order("c5", price="105.00", post_only=True))),
    ("DAY", "ent-a", _body(_order("c6", time_in_force="DAY"))),
    ("FOK limit", "ent-b", _body(_order("c7", price="90.00", time_in_force="FOK"))),
    (
        "self-trade prevention",
        "ent-a",
        _body(_order("c8", price="105.00", self_trade_prevention="cancel_resting")),
    ),
    ("self-trade, default mode", "ent-a", _body(_order("c9", price="105.00"))),
    ("market buy", "ent-b", _body(_order("m1", type="market", price=None))),
    ("market FOK", "ent-b", _body(_order("m2", type="market", price=None, time_in_force="FOK"))),
    ("market with price", "ent-b", _body(_order("m3", type="market"))),
    ("market GTC", "ent-b", _body(_order("m4", type="market", price=None, time_in_force="GTC"))),
    ("limit without price", "ent-b", _body(_order("l1", price=None))),
    (
        "limit, price omitted",
        "ent-b",
        _body({k: v for k, v in _order("l2").items() if k != "price"}),
    ),
    ("bad time_in_force", "ent-b", _body(_order("l3", time_in_force="GTD"))),
    ("unknown symbol", "ent-b", _body(_order("l4", symbol="NOPE-2025"))),
    ("off tick", "ent-b", _body(_order("l5", price="95.01"))),
    ("off lot", "ent-b", _body(_order("l6", quantity="1.005"))),
    ("price as a number", "ent-b", _body(_order("l7", price=95))),
    ("quantity zero", "ent-b", _body(_order("l8", quantity="0"))),
    ("quantity not decimal", "ent-b", _body(_order("l9", quantity="lots"))),
    ("quantity too large", "ent-b", _body(_order("l10", quantity="99999999.000"))),
    ("price too precise", "ent-b", _body(_order("l11", price="95.001"))),
    ("side unknown", "ent-b", _body(_order("l12", side="hold"))),
    ("post_only as a string", "ent-b", _body(_order("l13", post_only="yes"))),
    ("extra field", "ent-b", _body(_order("l14", account_id="someone-else"))),
    ("a field named body", "ent-b", _body(_order("l15", body="x"))),
    ("client_order_id missing", "ent-b", _body({"symbol": SYMBOL, "side": "buy"})),
    ("client_order_id empty", "ent-b", _body(_order(""))),
    ("client_order_id too long", "ent-b", _body(_order("x" * 65))),
    ("client_order_id a number", "ent-b", _body(_order(7))),
    ("NUL in a string", "ent-b", _body(_order("nul\x00id"))),
    ("NUL in the symbol", "ent-b", _body(_order("l16", symbol="FAST\x00-2025"))),
    ("empty object", "ent-b", b"{}"),
    ("two errors", "ent-b", _body({"client_order_id": 1, "quantity": 2})),
    ("malformed JSON", "ent-b", b'{"client_order_id": '),
    ("not JSON at all", "ent-b", b"client_order_id=1"),
    ("not UTF-8", "ent-b", b'{"client_order_id": "\xff"}'),
    ("a JSON list", "ent-b", b"[1, 2]"),
    ("a JSON string", "ent-b", b'"order"'),
    ("JSON null", "ent-b", b"null"),
    ("NaN", "ent-b", b'{"client_order_id": NaN}'),
    ("deeply nested", "ent-b", b"[" * 60_000),
    (
        "duplicate keys: the last wins",
        "ent-b",
        _body(_order("d1"))[:-1] + b', "client_order_id": "d2"}',
    ),
    ("no token", None, _body(_order("t1"))),
    ("no token, wrong types", None, _body({"quantity": 1})),
    ("no token, malformed JSON", None, b"{"),
    ("not a bearer token", "Basic abc", _body(_order("t2"))),
    ("bearer without a token", "Bearer ", _body(_order("t3"))),
    ("unknown token", "Bearer not-a-token", _body(_order("t4"))),
    ("lower-case bearer", "bearer nope", _body(_order("t5"))),
    ("expired token", "ent-expired", _body(_order("t6"))),
    ("revoked token", "ent-revoked", _body(_order("t7"))),
    ("operator", "operator", _body(_order("r1"))),
    ("province", "province", _body(_order("r2"))),
    ("city bureau", "bureau", _body(_order("r3"))),
    ("regulator, wrong types", "province", _body({"quantity": 1})),
    ("a sell without allowances", "ent-b", _body(_order("s1", side="sell", price="105.00"))),
    ("a repeat of a refused order", "ent-b", _body(_order("l5", price="95.01"))),
    ("after all that, an order", "ent-b", _body(_order("z1"))),
]


def _end_sessions(side: Side) -> None:
    side.call("DELETE", "/session", "ent-revoked")
    db = side.client.app.state.db.engine
    token_hash = auth.token_hash(side.tokens["ent-expired"])
    with db.begin() as conn:
        conn.execute(
            text("UPDATE tokens SET expires_us = 1 WHERE token_hash = :h"), {"h": token_hash}
        )


def _layers(app) -> list[type]:
    found, layer = [], app.middleware_stack
    while layer is not None and len(found) < 20:
        found.append(type(layer))
        layer = getattr(layer, "app", None)
    return found


def test_the_fast_path_is_in_front_of_the_route_and_only_there(sides):
    fast, plain = sides
    assert fast_orders.OrderFastPath in _layers(fast.client.app)
    assert fast_orders.OrderFastPath not in _layers(plain.client.app)
    # in front of the project's own layers, behind Starlette's and FastAPI's outer ones
    assert _layers(fast.client.app).index(fast_orders.OrderFastPath) < _layers(
        fast.client.app
    ).index(SeqHeader)
    # the route stays documented
    a, b = fast.client.get("/openapi.json"), plain.client.get("/openapi.json")
    assert a.json() == b.json() and "post" in a.json()["paths"]["/api/v1/orders"]


def _parsed(content: bytes):
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


def test_every_request_of_the_corpus_is_answered_alike(sides, placed):
    fast, plain = sides
    for side in sides:
        _end_sessions(side)
    statuses = []
    for what, token, content in CORPUS:
        r = _same(fast, plain, "POST", "/orders", token, content)
        statuses.append((what, r.status_code))
    seen = dict(statuses)
    # the corpus reaches what it means to
    assert seen["limit buy"] == 201 and seen["post-only crossing"] == 409
    assert seen["duplicate keys: the last wins"] == 201 and seen["deeply nested"] == 400
    assert seen["market buy"] == 201 and seen["self-trade prevention"] == 201
    assert seen["repeat, same body: 200 and the original"] == 200
    assert seen["repeat, another body: 409"] == 409
    assert {seen[w] for w in ("no token", "unknown token", "expired token", "revoked token")} == {
        401
    }
    assert {seen[w] for w in ("operator", "province", "city bureau")} == {403}
    # every JSON object was answered by the fast path, everything else by FastAPI
    assert len(placed) == sum(1 for _, _, c in CORPUS if isinstance(_parsed(c), dict))
    assert seen["malformed JSON"] == 422 and seen["extra field"] == 422
    assert seen["not UTF-8"] == 400
    assert seen["unknown symbol"] == 422 and seen["off tick"] == 422


def test_the_answers_carry_the_edge_headers(sides):
    fast, plain = sides
    r = _same(fast, plain, "POST", "/orders", "ent-a", _body(_order("h1")))
    assert r.status_code == 201 and int(r.headers["x-emx-seq"]) > 0
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    r = _same(fast, plain, "POST", "/orders", None, _body(_order("h2")))
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "x-emx-seq" not in r.headers


@pytest.mark.parametrize(
    "method, query, headers, content",
    [
        ("GET", "", {}, b""),
        ("HEAD", "", {}, b""),
        ("PUT", "", JSON, _body(_order("p1"))),
        ("POST", "?x=1", JSON, _body(_order("q1"))),
        ("POST", "?x=%00", JSON, _body(_order("q2"))),
        ("POST", "", {"Content-Type": "application/json; charset=utf-8"}, _body(_order("ct1"))),
        ("POST", "", {"Content-Type": "application/vnd.emx+json"}, _body(_order("ct2"))),
        ("POST", "", {"Content-Type": "text/plain"}, _body(_order("ct3"))),
        ("POST", "", {"Content-Type": "application/x-www-form-urlencoded"}, b"a=1"),
        ("POST", "", {}, _body(_order("ct4"))),
        ("POST", "", JSON, b""),
        ("POST", "", JSON, b" " * (MAX_BODY_BYTES + 1)),
        ("POST", "", JSON, _body(_order("big", note="x" * MAX_BODY_BYTES))),
    ],
)
def test_what_the_fast_path_leaves_to_fastapi_is_answered_alike(
    sides, placed, method, query, headers, content
):
    fast, plain = sides
    r = _same(fast, plain, method, "/orders", "ent-a", content, headers, query)
    assert placed == []
    if method == "GET":
        assert r.status_code == 200  # the caller's orders
    if method in ("HEAD", "PUT"):
        assert r.status_code in (404, 405)
    if len(content) > MAX_BODY_BYTES:
        assert r.status_code == 413


def test_a_body_without_content_length_is_left_to_fastapi(sides):
    fast, plain = sides

    def chunks(size):
        def gen():
            yield b" " * size
            yield _body(_order(f"chunked-{size}"))

        return gen()

    for size in (10, MAX_BODY_BYTES + 1):
        a = _send(fast, "POST", "/orders", "ent-a", chunks(size), JSON)
        b = _send(plain, "POST", "/orders", "ent-a", chunks(size), JSON)
        assert _shown(a) == _shown(b)
    assert a.status_code == 413


def test_the_rate_limit_is_charged_once_per_order(sides):
    fast, plain = sides
    limiters = [side.client.app.state.rate_limiter for side in sides]
    for side in sides:
        # two requests' worth, refilled far slower than the test runs
        side.client.app.state.rate_limiter = RateLimiter(0.01, 2)
    try:
        answers = [
            _same(fast, plain, "POST", "/orders", "ent-b", content).status_code
            for content in (b"[1]", _body(_order("rl1")), _body(_order("rl2")))
        ]
    finally:
        for side, limiter in zip(sides, limiters, strict=True):
            side.client.app.state.rate_limiter = limiter
    # the list went to FastAPI (422 after charging the token once), the first order used
    # the second request's worth, the next is refused
    assert answers == [422, 201, 429]


def test_cancels_are_answered_alike(sides, placed_or_cancelled):
    fast, plain = sides
    mine = _same(fast, plain, "POST", "/orders", "ent-a", _body(_order("x1"))).json()["id"]
    theirs = _same(fast, plain, "POST", "/orders", "ent-b", _body(_order("x2"))).json()["id"]
    cases = [
        ("ent-a", f"/orders/{mine}", 200),
        ("ent-a", f"/orders/{mine}", 409),  # not open any more
        ("ent-a", f"/orders/{theirs}", 404),
        ("ent-a", "/orders/not-a-number", 404),
        ("ent-a", "/orders/99999999999999999999", 404),
        ("ent-a", "/orders/%E4%B8%AD", 404),
        (None, f"/orders/{theirs}", 401),
        ("Bearer nope", f"/orders/{theirs}", 401),
        ("ent-expired", f"/orders/{theirs}", 401),
        ("province", f"/orders/{theirs}", 403),
        ("operator", f"/orders/{theirs}", 403),
        ("ent-b", f"/orders/{theirs}", 200),
    ]
    for token, path, status in cases:
        r = _same(fast, plain, "DELETE", path, token, headers={})
        assert r.status_code == status, (path, r.text)
    ours = len(placed_or_cancelled)
    assert ours == len(cases) + 2
    # left to FastAPI: a body, a query, a NUL, a trailing slash, the collection
    left = [
        ("DELETE", f"/orders/{theirs}", b"{}", JSON, ""),
        ("DELETE", f"/orders/{theirs}", b"", {}, "?force=1"),
        ("DELETE", "/orders/1%00", b"", {}, ""),
        ("DELETE", f"/orders/{theirs}/", b"", {}, ""),
        ("DELETE", "/orders/", b"", {}, ""),
        ("DELETE", "/orders", b"", {}, ""),
        ("DELETE", f"/orders/{theirs}/x", b"", {}, ""),
        ("DELETE", f"/orders/{theirs}", b" " * (MAX_BODY_BYTES + 1), JSON, ""),
    ]
    for method, path, content, headers, query in left:
        _same(fast, plain, method, path, "ent-b", content, headers, query)
    assert len(placed_or_cancelled) == ours


def test_a_failure_inside_is_the_same_500(sides, monkeypatch):
    def broken(fields):
        raise RuntimeError("a bug")

    monkeypatch.setattr(orders_route, "_request_hash", broken)
    answers = []
    for side in sides:
        # a client of its own that answers 500 as a server would, not raise in the test
        client = TestClient(side.client.app, raise_server_exceptions=False)
        headers = {**JSON, "Authorization": f"Bearer {side.tokens['ent-a']}"}
        r = client.post(API + "/orders", content=_body(_order("boom")), headers=headers)
        answers.append((r.status_code, r.content, r.headers.raw))
    assert answers[0] == answers[1]
    assert answers[0][0] == 500 and answers[0][1] == b"Internal Server Error"
