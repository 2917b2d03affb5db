"""/openapi.json describes every answer: each operation has a 2xx schema (a file type
for downloads) and the one error shape for 4xx; and real answers of the running server,
gathered from a walk through every endpoint, validate against those schemas."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tests.e2e.helpers import API, GUANGZHOU, Exchange, ok, unique

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOWNLOADS = {
    "/orders",
    "/trades",
    "/ledger/cities",
    "/ledger/cities/{code}/monthly",
    "/surveillance/alerts",
}


@pytest.fixture(scope="module")
def doc(exchange: Exchange) -> dict:
    return ok(exchange.client.get("/openapi.json"), 200)


def _operations(doc: dict):
    for path, ops in doc["paths"].items():
        if path.startswith("/api/v1/") or path in ("/healthz", "/livez"):
            for method, op in ops.items():
                yield path, method, op


def test_every_operation_has_a_2xx_schema_that_is_not_empty(doc):
    bare = []
    for path, method, op in _operations(doc):
        answers = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        if list(answers) == ["204"]:
            assert "content" not in answers["204"], (method, path)
            continue
        for status, answer in answers.items():
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if not schema.get("$ref"):
                bare.append((method, path, status, schema))
    assert len(list(_operations(doc))) >= 60
    assert bare == []


def test_every_component_an_answer_refers_to_lists_its_fields(doc):
    schemas = doc["components"]["schemas"]
    for name in ("Account", "Order", "Trade", "Reduction", "Auction", "ErrorBody"):
        assert schemas[name]["properties"], name
        assert schemas[name]["additionalProperties"] is False, name


def test_every_api_operation_declares_the_error_shape(doc):
    for path, method, op in _operations(doc):
        if path in ("/healthz", "/livez"):
            continue
        for status in ("401", "403", "404", "409", "422"):
            schema = op["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)


def test_downloads_are_declared_as_files(doc):
    for path in DOWNLOADS:
        content = doc["paths"][API + path]["get"]["responses"]["200"]["content"]
        assert {"application/json", CSV, XLSX} <= set(content), path


# --- real answers against the schemas ------------------------------------------------------


def _previous_month() -> str:
    now = datetime.now(timezone(timedelta(hours=8)))
    return (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def _walk(ex: Exchange) -> None:
    """Every endpoint at least once, with some refusals; answers are checked afterwards."""
    client = ex.client
    ok(client.get("/healthz"))
    ok(client.get("/livez"))
    symbol = ex.new_instrument()
    seller = ex.seller(symbol, "200.000")
    buyer = ex.new_enterprise()
    bureau = ex.bureau(GUANGZHOU)
    for party in (seller, bureau, ex.operator):
        party.get("/accounts/me")
    ex.operator.get("/accounts")
    ex.operator.get("/accounts/fees")
    ex.operator.post(f"/accounts/{buyer.account_id}/withdrawals", {"amount": "1.00"})
    client.get(API + "/instruments")
    resting = seller.place(symbol, "sell", "20.000", "100.00")
    seller.patch(f"/orders/{resting['id']}", {"quantity": "19.000"})
    seller.get(f"/orders/{resting['id']}")
    buyer.place(symbol, "buy", "5.000", "100.00")
    seller.delete(f"/orders/{resting['id']}")
    seller.place(symbol, "sell", "1.000", "101.00")
    seller.post("/orders/cancel-all", {"symbol": symbol})
    for party in (seller, ex.province):
        party.get("/orders", params={"symbol": symbol})
        party.get("/trades", params={"symbol": symbol})
    for what in ("book", "trades", "ticker", "candles"):
        client.get(f"{API}/market/{symbol}/{what}")
    for action in ("halt", "resume", "close-session"):
        ex.province.post(f"/market/{symbol}/{action}")
    claim = ok(
        seller.post(
            "/reductions",
            {
                "symbol": symbol,
                "quantity": "3.000",
                "source_kind": "deep_treatment",
                "description": "SCR",
                "evidence": "CEMS",
            },
        )
    )
    bureau.post(f"/reductions/{claim['id']}/verify", {"decision": "reject", "note": "no"})
    seller.get(f"/reductions/{claim['id']}")
    seller.get("/reductions")
    body = {
        "name": "plant",
        "priority_category": "ordinary",
        "symbol": symbol,
        "required_quantity": "5.000",
        "eia_reference": "EIA-1",
    }
    project = ok(seller.post("/projects", body))
    seller.post(f"/projects/{project['id']}/allocations", {"symbol": symbol, "quantity": "1"})
    seller.get(f"/projects/{project['id']}")
    seller.get(f"/projects/{project['id']}/sources")
    seller.get("/projects")
    application = bureau.post(
        "/reallocations",
        {
            "project_id": project["id"],
            "symbol": symbol,
            "quantity": "1.000",
            "reason": "key project",
            "priority_category": "ordinary",
        },
    ).json()
    bureau.get("/reallocations")
    if "id" in application:
        ex.province.post(
            f"/reallocations/{application['id']}/decide", {"decision": "reject", "note": "no"}
        )
    ex.province.put(f"/ledger/cities/{GUANGZHOU}/floor", {"symbol": symbol, "quantity": "0"})
    month = _previous_month()
    ex.province.get("/ledger/cities", params={"symbol": symbol})
    ex.province.get("/ledger/cities", params={"symbol": symbol, "from": f"{month}-01"})
    bureau.get(f"/ledger/cities/{GUANGZHOU}/monthly", params={"symbol": symbol, "month": month})
    bureau.post(f"/ledger/cities/{GUANGZHOU}/monthly/{month}/submit", {"symbol": symbol})
    ex.province.get("/ledger/submissions", params={"symbol": symbol, "month": month})
    seller.order(symbol, "buy", "1.000", "150.00")  # outside the band: refused, and an alert
    alerts = ok(ex.province.get("/surveillance/alerts", params={"symbol": symbol}))["items"]
    mine = next(a for a in alerts if a["symbol"] == symbol and a["status"] != "acknowledged")
    ex.province.post(f"/surveillance/alerts/{mine['id']}/acknowledge", {"note": "seen"})
    # the reserve: stocked from the market, released, and auctioned
    ok(ex.operator.post("/accounts/RESERVE/deposits", {"amount": "100000.00"}))
    seller.place(symbol, "sell", "20.000", "100.00")
    reserve_buy = {
        "client_order_id": unique("r"),
        "symbol": symbol,
        "side": "buy",
        "price": "100.00",
        "quantity": "20.000",
    }
    ok(ex.province.post("/reserve/orders", reserve_buy))
    parked = {**reserve_buy, "client_order_id": unique("r"), "price": "95.00", "quantity": "1"}
    parked_order = ok(ex.province.post("/reserve/orders", parked))
    ex.province.delete(f"/reserve/orders/{parked_order['id']}")
    ex.province.get("/reserve")
    release = {"city_code": GUANGZHOU, "symbol": symbol, "quantity": "1.000"}
    ex.province.post("/reserve/releases", release)
    auction = ok(
        ex.province.post(
            "/auctions",
            {
                "symbol": symbol,
                "quantity": "10.000",
                "reserve_price": "90.00",
                "bidder_cap_pct": 50,
                "note": "n",
            },
        )
    )
    bid = ok(buyer.post(f"/auctions/{auction['id']}/bids", {"price": "95.00", "quantity": "2"}))
    buyer.delete(f"/auctions/{auction['id']}/bids/{bid['id']}")
    buyer.post(f"/auctions/{auction['id']}/bids", {"price": "96.00", "quantity": "3"})
    buyer.get(f"/auctions/{auction['id']}")
    buyer.get("/auctions")
    ex.province.post(f"/auctions/{auction['id']}/close")
    block = {
        "symbol": symbol,
        "buyer_account_id": buyer.account_id,
        "price": "100.00",
        "quantity": "10.000",
    }
    for decision in ("accept", "reject", "withdraw"):
        proposal = ok(seller.post("/block-trades", block))
        if decision == "withdraw":
            seller.delete(f"/block-trades/{proposal['id']}")
        else:
            buyer.post(f"/block-trades/{proposal['id']}/{decision}")
    seller.get(f"/block-trades/{proposal['id']}")
    seller.get("/block-trades")
    ex.province.get("/admin/state")
    # refusals: the error shape
    seller.get("/orders/999999999")
    seller.get("/reserve")
    client.get(API + "/accounts/me")
    seller.post("/orders", {"symbol": symbol})
    seller.delete(f"/orders/{resting['id']}")


def _validator(doc: dict, schema: dict) -> Draft202012Validator:
    registry = Registry().with_resource("urn:openapi", Resource.opaque(doc))
    ref_fixed = _rebase(schema)
    return Draft202012Validator(ref_fixed, registry=registry)


def _rebase(node):
    if isinstance(node, dict):
        return {
            k: ("urn:openapi" + v if k == "$ref" and v.startswith("#") else _rebase(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node


def _operation_for(doc: dict, method: str, path: str):
    """The operation a concrete path answers to; a literal segment beats a parameter
    (/orders/cancel-all before /orders/{order_id})."""
    for template in sorted(doc["paths"], key=lambda t: t.count("{")):
        pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method in doc["paths"][template]:
            return template, doc["paths"][template][method]
    return None, None


def test_the_check_sees_a_wrong_answer(doc: dict):
    schema = {"$ref": "#/components/schemas/Order"}
    errors = list(_validator(doc, schema).iter_errors({"id": "1", "price": 100}))
    assert errors
    assert _operation_for(doc, "post", API + "/orders/cancel-all")[0] == API + "/orders/cancel-all"
    assert _operation_for(doc, "get", API + "/orders/7")[0] == API + "/orders/{order_id}"


def test_real_answers_match_the_documented_schemas(exchange: Exchange, doc: dict):
    answers: list[httpx.Response] = []
    hooks = exchange.client.event_hooks
    saved = list(hooks["response"])
    hooks["response"] = [*saved, lambda response: answers.append(response)]
    try:
        _walk(exchange)
    finally:
        hooks["response"] = saved
    checked: set[tuple[str, str, str]] = set()
    wrong = []
    for response in answers:
        response.read()
        method = response.request.method.lower()
        path = response.request.url.path
        if path == "/openapi.json" or response.status_code == 204:
            continue
        template, op = _operation_for(doc, method, path)
        assert op is not None, (method, path)
        status = str(response.status_code)
        assert status in op["responses"], (method, template, status, response.text)
        schema = op["responses"][status]["content"]["application/json"]["schema"]
        errors = [e.message for e in _validator(doc, schema).iter_errors(response.json())]
        if errors:
            wrong.append((method, template, status, errors[:3]))
        checked.add((method, template, status))
    assert wrong == []
    operations = {(m, p) for p, m, _ in _operations(doc)}
    seen = {(m, p) for m, p, _ in checked}
    # every operation with a JSON answer was seen answering at least once
    assert operations - seen <= {("delete", API + "/session")}, sorted(operations - seen)
    assert {s for _, _, s in checked} >= {"200", "201", "401", "403", "404", "422"}
