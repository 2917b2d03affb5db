"""Reductions, projects and provenance, the provincial ledger, floors, reallocations and
surveillance alerts over real HTTP."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.e2e.helpers import (
    GUANGZHOU,
    SHAOGUAN,
    SHENZHEN,
    ZHUHAI,
    Exchange,
    assert_error,
    ok,
)

SHANGHAI = timezone(timedelta(hours=8))


def this_month() -> str:
    return datetime.now(SHANGHAI).strftime("%Y-%m")


def _verify(party, claim_id: str, **body) -> object:
    return party.post(f"/reductions/{claim_id}/verify", body)


# --- reductions ------------------------------------------------------------------------------
def test_enterprise_claim_is_pending_then_its_bureau_approves_and_a_lot_is_issued(
    exchange: Exchange,
):
    symbol = exchange.new_instrument()
    ent = exchange.new_enterprise(SHENZHEN, cash=None)
    claim = exchange.claim(ent, symbol, "12.5", kind="self_initiated")
    assert claim["status"] == "pending"
    assert claim["account_id"] == ent.account_id and claim["city_code"] == SHENZHEN
    assert claim["quantity"] == "12.500" and claim["source_kind"] == "self_initiated"
    assert symbol not in ent.me()["allowances"]
    bureau = exchange.bureau(SHENZHEN)
    decided = ok(
        _verify(
            bureau,
            claim["id"],
            decision="approve",
            approved_quantity="10",
            method="on_site_inspection",
            note="boiler 2 inspected",
        ),
        200,
    )
    assert decided["status"] == "approved"
    assert decided["approved_quantity"] == "10.000"
    assert decided["method"] == "on_site_inspection"
    assert decided["verifier_account_id"] == bureau.account_id
    assert decided["lot_id"]
    assert ent.me()["allowances"][symbol] == {
        "available": "10.000",
        "locked": "0.000",
        "used": "0.000",
    }


def test_bureau_claim_goes_into_its_city_pool_and_province_may_verify(exchange: Exchange):
    symbol = exchange.new_instrument()
    bureau = exchange.new_bureau(ZHUHAI)
    claim = exchange.claim(bureau, symbol, "4.000", kind="clean_energy_substitution")
    assert claim["city_code"] == ZHUHAI
    exchange.approve(exchange.province, claim["id"], "4.000")
    assert bureau.me()["city_pool"]["allowances"][symbol]["available"] == "4.000"
    assert symbol not in bureau.me()["allowances"]


def test_another_citys_bureau_cannot_verify_a_claim(exchange: Exchange):
    symbol = exchange.new_instrument()
    ent = exchange.new_enterprise(GUANGZHOU, cash=None)
    claim = exchange.claim(ent, symbol, "1.000")
    r = _verify(
        exchange.bureau(SHENZHEN),
        claim["id"],
        decision="approve",
        approved_quantity="1.000",
        method="online_monitoring",
    )
    assert_error(r, 404)
    assert ok(ent.get(f"/reductions/{claim['id']}"), 200)["status"] == "pending"


def test_approving_more_than_claimed_is_422(exchange: Exchange):
    symbol = exchange.new_instrument()
    ent = exchange.new_enterprise(cash=None)
    claim = exchange.claim(ent, symbol, "1.000")
    r = _verify(
        exchange.bureau(GUANGZHOU),
        claim["id"],
        decision="approve",
        approved_quantity="1.001",
        method="periodic_check",
    )
    assert_error(r, 422, "approved_exceeds_claim")
    assert symbol not in ent.me()["allowances"]


def test_second_decision_is_409_already_verified(exchange: Exchange):
    symbol = exchange.new_instrument()
    ent = exchange.new_enterprise(cash=None)
    claim = exchange.claim(ent, symbol, "2.000")
    exchange.approve(exchange.bureau(GUANGZHOU), claim["id"], "2.000")
    again = _verify(
        exchange.province,
        claim["id"],
        decision="approve",
        approved_quantity="2.000",
        method="online_monitoring",
    )
    assert_error(again, 409, "already_verified")
    reject = _verify(exchange.province, claim["id"], decision="reject", note="changed my mind")
    assert_error(reject, 409, "already_verified")
    assert ent.me()["allowances"][symbol]["available"] == "2.000"


def test_rejected_claim_issues_nothing(exchange: Exchange):
    symbol = exchange.new_instrument()
    ent = exchange.new_enterprise(cash=None)
    claim = exchange.claim(ent, symbol, "2.000")
    decided = ok(
        _verify(exchange.bureau(GUANGZHOU), claim["id"], decision="reject", note="no evidence"),
        200,
    )
    assert decided["status"] == "rejected" and decided["lot_id"] is None
    assert symbol not in ent.me()["allowances"]


@pytest.mark.parametrize(
    "body",
    [
        {"decision": "approve", "method": "online_monitoring"},
        {"decision": "approve", "approved_quantity": "1.000"},
        {"decision": "approve", "approved_quantity": "1.000", "method": "guesswork"},
        {"decision": "maybe"},
    ],
    ids=["no_quantity", "no_method", "bad_method", "bad_decision"],
)
def test_incomplete_verification_is_422(exchange: Exchange, body):
    symbol = exchange.new_instrument()
    ent = exchange.new_enterprise(cash=None)
    claim = exchange.claim(ent, symbol, "1.000")
    assert_error(_verify(exchange.province, claim["id"], **body), 422)


@pytest.mark.parametrize("field, value", [("source_kind", "wishful"), ("symbol", "NOPE-2025")])
def test_bad_claim_is_422(exchange: Exchange, field, value):
    symbol = exchange.new_instrument()
    ent = exchange.new_enterprise(cash=None)
    body = {"symbol": symbol, "quantity": "1.000", "source_kind": "deep_treatment", field: value}
    assert_error(ent.post("/reductions", body), 422)


def test_reduction_lists_are_scoped_by_role(exchange: Exchange):
    symbol = exchange.new_instrument()
    gz, sz = exchange.new_enterprise(GUANGZHOU, None), exchange.new_enterprise(SHENZHEN, None)
    a, b = exchange.claim(gz, symbol, "1.000"), exchange.claim(sz, symbol, "1.000")
    assert [c["id"] for c in ok(gz.get("/reductions"), 200)["items"]] == [a["id"]]
    in_sz = {c["id"] for c in ok(exchange.bureau(SHENZHEN).get("/reductions"), 200)["items"]}
    assert b["id"] in in_sz and a["id"] not in in_sz
    everything = {c["id"] for c in ok(exchange.province.get("/reductions"), 200)["items"]}
    assert {a["id"], b["id"]} <= everything


# --- projects and provenance ----------------------------------------------------------------
def _project(party, symbol: str, required: str, city: str | None = None) -> dict:
    body = {
        "name": "Huangpu power plant unit 3",
        "priority_category": "key_construction",
        "symbol": symbol,
        "required_quantity": required,
        "eia_reference": "EIA-2025-0042",
    }
    if city:
        body["city_code"] = city
    return ok(party.post("/projects", body), 201)


def test_allocation_binds_allowances_and_not_beyond_the_requirement(exchange: Exchange):
    symbol = exchange.new_instrument()
    ent = exchange.new_enterprise(GUANGZHOU, None)
    approved = exchange.give_allowances(ent, symbol, "10.000")
    project = _project(ent, symbol, "6.000")
    assert project["city_code"] == GUANGZHOU and project["required_quantity"] == "6.000"
    after = ok(
        ent.post(f"/projects/{project['id']}/allocations", {"symbol": symbol, "quantity": "4"})
    )
    assert after["allocated_quantity"] == "4.000" and after["outstanding_quantity"] == "2.000"
    assert ent.me()["allowances"][symbol] == {
        "available": "6.000",
        "locked": "0.000",
        "used": "4.000",
    }
    r = ent.post(f"/projects/{project['id']}/allocations", {"symbol": symbol, "quantity": "3"})
    assert_error(r, 409, "exceeds_project_requirement")
    assert ent.me()["allowances"][symbol]["used"] == "4.000"
    (source,) = ok(ent.get(f"/projects/{project['id']}/sources"), 200)["items"]
    assert source == {
        "lot_id": approved["lot_id"],
        "reduction_id": approved["id"],
        "source_kind": "deep_treatment",
        "origin_city_code": GUANGZHOU,
        "origin_account_id": ent.account_id,
        "quantity": "4.000",
    }


def test_project_in_unknown_city_is_422(exchange: Exchange):
    symbol = exchange.new_instrument()
    ent = exchange.new_enterprise(GUANGZHOU, None)
    body = {
        "name": "x",
        "priority_category": "ordinary",
        "symbol": symbol,
        "required_quantity": "1.000",
        "city_code": "999999",
    }
    assert_error(ent.post("/projects", body), 422, "unknown_city")


def test_allocation_without_enough_allowances_is_409(exchange: Exchange):
    symbol = exchange.new_instrument()
    ent = exchange.new_enterprise(GUANGZHOU, None)
    exchange.give_allowances(ent, symbol, "1.000")
    project = _project(ent, symbol, "6.000")
    r = ent.post(f"/projects/{project['id']}/allocations", {"symbol": symbol, "quantity": "2"})
    assert_error(r, 409, "insufficient_allowances")


def test_bought_allowances_trace_back_to_the_sellers_reduction(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.new_enterprise(SHENZHEN, None)
    claim = exchange.claim(seller, symbol, "5.000", kind="structure_upgrade")
    exchange.approve(exchange.bureau(SHENZHEN), claim["id"], "5.000")
    buyer = exchange.new_enterprise(GUANGZHOU)
    seller.place(symbol, "sell", "3.000", "100.00")
    buyer.place(symbol, "buy", "3.000", "100.00")
    project = _project(buyer, symbol, "3.000")
    ok(buyer.post(f"/projects/{project['id']}/allocations", {"symbol": symbol, "quantity": "3"}))
    for viewer in (buyer, exchange.bureau(GUANGZHOU), exchange.province):
        (source,) = ok(viewer.get(f"/projects/{project['id']}/sources"), 200)["items"]
        assert source["reduction_id"] == claim["id"]
        assert source["source_kind"] == "structure_upgrade"
        assert source["origin_city_code"] == SHENZHEN
        assert source["origin_account_id"] == seller.account_id
        assert source["quantity"] == "3.000"
    # the cross-city trade and the use show in the provincial ledger
    rows = {
        r["city_code"]: r
        for r in ok(exchange.province.get("/ledger/cities", params={"symbol": symbol}))["items"]
    }
    assert rows[SHENZHEN]["added"] == "5.000" and rows[SHENZHEN]["transferred_out"] == "3.000"
    assert rows[GUANGZHOU]["transferred_in"] == "3.000" and rows[GUANGZHOU]["used"] == "3.000"
    assert rows[SHENZHEN]["remaining"] == "2.000" and rows[GUANGZHOU]["remaining"] == "0.000"


# --- the provincial ledger -----------------------------------------------------------------
def test_province_sees_all_21_cities_and_every_row_balances(exchange: Exchange):
    symbol = exchange.new_instrument()
    exchange.seller(symbol, "3.000", SHAOGUAN)
    items = ok(exchange.province.get("/ledger/cities", params={"symbol": symbol}), 200)["items"]
    assert len(items) == 21 and len({i["city_code"] for i in items}) == 21
    for row in items:
        assert set(row) >= {
            "city_code",
            "name",
            "added",
            "used",
            "transferred_in",
            "transferred_out",
            "remaining",
        }
        added, used = Decimal(row["added"]), Decimal(row["used"])
        t_in, t_out = Decimal(row["transferred_in"]), Decimal(row["transferred_out"])
        assert Decimal(row["remaining"]) == added + t_in - t_out - used
    sg = next(i for i in items if i["city_code"] == SHAOGUAN)
    assert sg["added"] == "3.000" and sg["name"] == "Shaoguan"


def test_bureau_sees_its_own_city_only_in_the_ledger(exchange: Exchange):
    symbol = exchange.new_instrument()
    items = ok(exchange.bureau(SHENZHEN).get("/ledger/cities", params={"symbol": symbol}))["items"]
    assert [i["city_code"] for i in items] == [SHENZHEN]


def test_enterprise_may_not_read_the_ledger(exchange: Exchange):
    symbol = exchange.new_instrument()
    ent = exchange.new_enterprise(cash=None)
    assert_error(ent.get("/ledger/cities", params={"symbol": symbol}), 403)


def test_monthly_report_json_and_csv_agree(exchange: Exchange):
    symbol = exchange.new_instrument()
    exchange.seller(symbol, "3.000", SHAOGUAN)
    exchange.seller(symbol, "1.500", SHAOGUAN)
    bureau = exchange.bureau(SHAOGUAN)
    path = f"/ledger/cities/{SHAOGUAN}/monthly"
    params = {"month": this_month(), "symbol": symbol}
    for viewer in (bureau, exchange.province):
        report = ok(viewer.get(path, params=params), 200)
        assert report["city_code"] == SHAOGUAN and report["month"] == this_month()
        assert report["opening_remaining"] == "0.000"
        assert report["added"] == "4.500" and report["used"] == "0.000"
        assert report["transferred_in"] == "0.000" and report["transferred_out"] == "0.000"
        assert report["closing_remaining"] == "4.500"
        assert [m["quantity"] for m in report["movements"]] == ["3.000", "1.500"]
    r = bureau.get(path, params={**params, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header = [name.split(" ")[-1] for name in rows[0]]
    assert "kind" in header and "city_code" in header and "类别 kind" in rows[0]
    assert all(len(row) == len(header) for row in rows)
    movements = [row for row in rows if row[0] == "movement"]
    assert [row[header.index("quantity_t")] for row in movements] == ["3.000", "1.500"]
    assert all(row[header.index("time")].endswith("+08:00") for row in movements)
    closing = next(row for row in rows if row[0] == "closing")
    assert closing[header.index("remaining_t")] == "4.500"


def test_monthly_report_of_an_earlier_month_has_no_movements(exchange: Exchange):
    symbol = exchange.new_instrument()
    exchange.seller(symbol, "3.000", SHAOGUAN)
    report = ok(
        exchange.province.get(
            f"/ledger/cities/{SHAOGUAN}/monthly", params={"month": "2024-08", "symbol": symbol}
        ),
        200,
    )
    assert report["movements"] == [] and report["closing_remaining"] == "0.000"


@pytest.mark.parametrize("month", ["2025-13", "2025-1", "25-01", "", "2025-01-01"])
def test_monthly_report_needs_a_real_month(exchange: Exchange, month):
    r = exchange.province.get(f"/ledger/cities/{SHAOGUAN}/monthly", params={"month": month})
    assert_error(r, 422)


def test_monthly_report_of_unknown_city_is_404(exchange: Exchange):
    r = exchange.province.get("/ledger/cities/999999/monthly", params={"month": this_month()})
    assert_error(r, 404)


def test_province_sets_a_city_floor(exchange: Exchange):
    symbol = exchange.new_instrument()
    r = exchange.province.put(f"/ledger/cities/{ZHUHAI}/floor", {"symbol": symbol, "quantity": "5"})
    assert ok(r, 200) == {"city_code": ZHUHAI, "symbol": symbol, "quantity": "5.000"}
    rows = ok(exchange.province.get("/ledger/cities", params={"symbol": symbol}))["items"]
    assert next(i for i in rows if i["city_code"] == ZHUHAI)["floor"] == "5.000"
    bad = exchange.province.put(
        f"/ledger/cities/{ZHUHAI}/floor", {"symbol": symbol, "quantity": "-1"}
    )
    assert_error(bad, 422)


# --- reallocations ---------------------------------------------------------------------------
def _reallocation_setup(exchange: Exchange, pool: str = "20.000"):
    """Shaoguan's pool holds `pool`; a Guangzhou key project applies for 8 t."""
    symbol = exchange.new_instrument()
    giver = exchange.new_bureau(SHAOGUAN)
    claim = exchange.claim(giver, symbol, pool, kind="coal_boiler_phaseout")
    exchange.approve(exchange.province, claim["id"], pool)
    ent = exchange.new_enterprise(GUANGZHOU, None)
    project = _project(ent, symbol, "10.000")
    applicant = exchange.new_bureau(GUANGZHOU)
    application = ok(
        applicant.post(
            "/reallocations",
            {
                "project_id": project["id"],
                "symbol": symbol,
                "quantity": "8",
                "reason": "provincial key project short of quota",
                "priority_category": "key_construction",
            },
        ),
        201,
    )
    assert application["status"] == "pending" and application["quantity"] == "8.000"
    assert application["city_code"] == GUANGZHOU
    return symbol, giver, applicant, application


def _decide(exchange: Exchange, application_id: str, sources: list, decision="approve", note=""):
    body = {"decision": decision, "sources": sources, "note": note or "decided"}
    return exchange.province.post(f"/reallocations/{application_id}/decide", body)


def test_reallocation_sources_that_do_not_add_up_are_422(exchange: Exchange):
    _symbol, _giver, _applicant, application = _reallocation_setup(exchange)
    r = _decide(exchange, application["id"], [{"from": SHAOGUAN, "quantity": "5.000"}])
    assert_error(r, 422)
    r = _decide(
        exchange,
        application["id"],
        [{"from": SHAOGUAN, "quantity": "5.000"}, {"from": SHAOGUAN, "quantity": "4.000"}],
    )
    assert_error(r, 422)
    assert_error(_decide(exchange, application["id"], [{"from": "999999", "quantity": "8"}]), 422)


def test_reallocation_below_a_source_citys_floor_is_409(exchange: Exchange):
    symbol, giver, _applicant, application = _reallocation_setup(exchange)
    ok(
        exchange.province.put(
            f"/ledger/cities/{SHAOGUAN}/floor", {"symbol": symbol, "quantity": "15"}
        )
    )
    r = _decide(exchange, application["id"], [{"from": SHAOGUAN, "quantity": "8.000"}])
    assert_error(r, 409, "below_city_floor")
    assert giver.me()["city_pool"]["allowances"][symbol]["available"] == "20.000"


def test_approved_reallocation_moves_quota_between_city_pools(exchange: Exchange):
    symbol, giver, applicant, application = _reallocation_setup(exchange)
    ok(
        exchange.province.put(
            f"/ledger/cities/{SHAOGUAN}/floor", {"symbol": symbol, "quantity": "12"}
        )
    )
    decided = ok(
        _decide(exchange, application["id"], [{"from": SHAOGUAN, "quantity": "8.000"}]), 200
    )
    assert decided["status"] == "approved"
    assert decided["sources"] == [{"from": SHAOGUAN, "quantity": "8.000"}]
    assert giver.me()["city_pool"]["allowances"][symbol]["available"] == "12.000"
    assert applicant.me()["city_pool"]["allowances"][symbol]["available"] == "8.000"
    rows = {
        r["city_code"]: r
        for r in ok(exchange.province.get("/ledger/cities", params={"symbol": symbol}))["items"]
    }
    assert rows[SHAOGUAN]["transferred_out"] == "8.000" and rows[SHAOGUAN]["remaining"] == "12.000"
    assert rows[GUANGZHOU]["transferred_in"] == "8.000" and rows[GUANGZHOU]["remaining"] == "8.000"
    again = _decide(exchange, application["id"], [{"from": SHAOGUAN, "quantity": "8.000"}])
    assert_error(again, 409)


def test_rejected_reallocation_moves_nothing(exchange: Exchange):
    symbol, giver, applicant, application = _reallocation_setup(exchange)
    decided = ok(_decide(exchange, application["id"], [], "reject", "no surplus this year"), 200)
    assert decided["status"] == "rejected"
    assert giver.me()["city_pool"]["allowances"][symbol]["available"] == "20.000"
    assert symbol not in applicant.me()["city_pool"]["allowances"]


def test_bureau_cannot_apply_for_another_citys_project(exchange: Exchange):
    symbol = exchange.new_instrument()
    ent = exchange.new_enterprise(GUANGZHOU, None)
    project = _project(ent, symbol, "1.000")
    body = {
        "project_id": project["id"],
        "symbol": symbol,
        "quantity": "1",
        "reason": "x",
        "priority_category": "ordinary",
    }
    assert_error(exchange.bureau(SHENZHEN).post("/reallocations", body), 404)


# --- surveillance ----------------------------------------------------------------------------
def test_surveillance_alerts_have_the_documented_shape(exchange: Exchange):
    symbol = exchange.new_instrument()
    trader = exchange.seller(symbol)
    trader.place(symbol, "sell", "1.000", "100.00")
    trader.place(symbol, "buy", "1.000", "100.00")
    items = ok(exchange.province.get("/surveillance/alerts"), 200)["items"]
    alert = next(a for a in items if a["symbol"] == symbol)
    assert set(alert) >= {"id", "kind", "symbol", "account_id", "detail", "time"}
    assert isinstance(alert["id"], str) and isinstance(alert["detail"], dict)
    assert alert["kind"] == "self_trade_blocked" and alert["account_id"] == trader.account_id
