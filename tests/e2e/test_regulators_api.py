"""The regulators' workflows over real HTTP, on both backends: monthly submissions with
versions and the province's overview, alerts acknowledged by whom may, and the refusals
that change nothing."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.helpers import (
    FOSHAN,
    GUANGZHOU,
    SHENZHEN,
    Exchange,
    assert_error,
    ok,
)

SHANGHAI = timezone(timedelta(hours=8))


def month_before(months: int) -> str:
    now = datetime.now(SHANGHAI)
    index = now.year * 12 + now.month - 1 - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def submit_path(city: str, month: str) -> str:
    return f"/ledger/cities/{city}/monthly/{month}/submit"


def overview(party, month: str, symbol: str) -> dict:
    return ok(party.get("/ledger/submissions", params={"month": month, "symbol": symbol}), 200)


def test_a_bureau_submits_a_finished_month_then_corrects_it(exchange: Exchange):
    symbol = exchange.new_instrument()
    bureau = exchange.new_bureau(GUANGZHOU)
    last = month_before(1)
    first = ok(bureau.post(submit_path(GUANGZHOU, last), {"symbol": symbol}), 201)
    assert (first["city_code"], first["symbol"], first["month"]) == (GUANGZHOU, symbol, last)
    assert first["version"] == 1 and first["submitted_by"] == bureau.account_id
    assert first["correction_reason"] is None
    assert first["figures"]["closing_remaining"] == "0.000"
    report = bureau.get(
        f"/ledger/cities/{GUANGZHOU}/monthly",
        params={"month": last, "symbol": symbol, "format": "csv"},
    )
    assert first["csv_sha256"] == hashlib.sha256(report.content).hexdigest()

    assert_error(
        bureau.post(submit_path(GUANGZHOU, last), {"symbol": symbol}), 409, "already_submitted"
    )
    # quota and a trade this month change neither the month nor its version
    exchange.seller(symbol, "4.000", GUANGZHOU).place(symbol, "sell", "1.000", "100.00")
    exchange.new_enterprise(SHENZHEN).place(symbol, "buy", "1.000", "100.00")
    body = {"symbol": symbol, "correction_reason": "重新核对了台账 recounted"}
    second = ok(bureau.post(submit_path(GUANGZHOU, last), body), 201)
    assert second["version"] == 2 and second["correction_reason"] == body["correction_reason"]
    assert second["csv_sha256"] == first["csv_sha256"]

    mine = overview(bureau, last, symbol)
    (row,) = mine["items"]
    assert row["city_code"] == GUANGZHOU and row["status"] == "submitted" and row["late"] is None
    assert row["versions"] == [
        {k: first[k] for k in row["versions"][0]},
        {k: second[k] for k in row["versions"][1]},
    ]


def test_the_province_sees_every_city_submitted_late_or_missing(exchange: Exchange):
    symbol = exchange.new_instrument()
    last, older = month_before(1), month_before(2)
    ok(exchange.new_bureau(GUANGZHOU).post(submit_path(GUANGZHOU, last), {"symbol": symbol}), 201)
    ok(exchange.new_bureau(SHENZHEN).post(submit_path(SHENZHEN, older), {"symbol": symbol}), 201)

    now = overview(exchange.province, last, symbol)
    assert len(now["items"]) == 21
    by_city = {i["city_code"]: i for i in now["items"]}
    assert by_city[GUANGZHOU]["status"] == "submitted"
    overdue = datetime.now(SHANGHAI) >= datetime.fromisoformat(now["due_at"])
    unsent = "late" if overdue else "missing"
    assert {i["status"] for c, i in by_city.items() if c != GUANGZHOU} == {unsent}
    assert by_city[FOSHAN]["late"] == ("not_submitted" if overdue else None)
    assert by_city[FOSHAN]["versions"] == []

    # the month before last is overdue whatever today is
    before = {i["city_code"]: i for i in overview(exchange.province, older, symbol)["items"]}
    assert (before[SHENZHEN]["status"], before[SHENZHEN]["late"]) == ("late", "submitted_after_due")
    assert len(before[SHENZHEN]["versions"]) == 1
    assert (before[FOSHAN]["status"], before[FOSHAN]["late"]) == ("late", "not_submitted")


@pytest.mark.parametrize(
    "month, status, code",
    [
        (month_before(0), 409, "month_not_ended"),
        (month_before(-1), 422, "future_month"),
        ("2026-13", 422, None),
        ("2026-1", 422, None),
        ("０２６-01", 422, None),
    ],
)
def test_a_month_not_ended_future_or_malformed_is_refused(exchange: Exchange, month, status, code):
    symbol = exchange.new_instrument()
    bureau = exchange.new_bureau(GUANGZHOU)
    assert_error(bureau.post(submit_path(GUANGZHOU, month), {"symbol": symbol}), status, code)
    if status == 409 or code == "future_month":
        item = overview(exchange.province, month, symbol)["items"][0]
        assert item["city_code"] == GUANGZHOU and item["versions"] == []


def test_only_the_citys_own_bureau_submits_and_corrections_need_a_first_version(
    exchange: Exchange,
):
    symbol = exchange.new_instrument()
    last = month_before(1)
    path = submit_path(GUANGZHOU, last)
    assert_error(exchange.new_bureau(SHENZHEN).post(path, {"symbol": symbol}), 404)
    assert_error(exchange.province.post(path, {"symbol": symbol}), 403)
    assert_error(exchange.new_enterprise(GUANGZHOU).post(path, {"symbol": symbol}), 403)
    bureau = exchange.new_bureau(GUANGZHOU)
    assert_error(bureau.post(submit_path("999999", last), {"symbol": symbol}), 404)
    body = {"symbol": symbol, "correction_reason": "why not"}
    assert_error(bureau.post(path, body), 409, "nothing_to_correct")
    assert_error(bureau.post(path, {"symbol": symbol, "correction_reason": ""}), 422)
    assert_error(bureau.post(path, {"symbol": "NOPE-2025"}), 422)
    assert overview(exchange.province, last, symbol)["items"][0]["versions"] == []
    assert_error(exchange.province.get("/ledger/submissions", params={"month": "2026-00"}), 422)


# --- alerts ------------------------------------------------------------------------------------
def band_alert(exchange: Exchange, symbol: str, city: str):
    """An enterprise of `city` orders outside the band: an alert about it."""
    party = exchange.new_enterprise(city)
    assert_error(party.order(symbol, "buy", "1.000", "150.00"), 409, "price_outside_band")
    items = ok(
        exchange.province.get("/surveillance/alerts", params={"kind": "price_band_rejection"}),
        200,
    )["items"]
    (alert,) = [a for a in items if a["account_id"] == party.account_id]
    return party, alert


def test_a_bureau_acknowledges_its_citys_alerts_only_and_only_once(exchange: Exchange):
    symbol = exchange.new_instrument()
    _, alert = band_alert(exchange, symbol, GUANGZHOU)
    assert alert["status"] == "open" and alert["city_code"] == GUANGZHOU
    assert alert["acknowledged_by"] is None
    home, away = exchange.new_bureau(GUANGZHOU), exchange.new_bureau(SHENZHEN)
    path = f"/surveillance/alerts/{alert['id']}/acknowledge"
    assert alert["id"] not in {a["id"] for a in ok(away.get("/surveillance/alerts"))["items"]}
    assert alert["id"] in {a["id"] for a in ok(home.get("/surveillance/alerts"))["items"]}

    assert_error(away.post(path, {"note": "not mine"}), 404, "alert_not_found")
    assert_error(exchange.new_enterprise(GUANGZHOU).post(path, {"note": "x"}), 403)
    done = ok(home.post(path, {"note": "已电话核实 called them"}), 200)
    assert done["status"] == "acknowledged" and done["acknowledged_by"] == home.account_id
    assert done["note"] == "已电话核实 called them" and done["acknowledged_at"]
    assert_error(home.post(path, {"note": "again"}), 409, "already_acknowledged")
    assert_error(exchange.province.post(path, {"note": "again"}), 409, "already_acknowledged")
    still = [a for a in ok(home.get("/surveillance/alerts"))["items"] if a["id"] == alert["id"]]
    assert still == [done]
    assert_error(exchange.province.post("/surveillance/alerts/999999999/acknowledge", {}), 404)
    assert_error(exchange.province.post("/surveillance/alerts/abc/acknowledge", {}), 404)


def test_the_province_acknowledges_any_alert_and_filters_them(exchange: Exchange):
    symbol = exchange.new_instrument()
    _, alert = band_alert(exchange, symbol, SHENZHEN)
    ok(exchange.province.post(f"/surveillance/alerts/{alert['id']}/acknowledge", {}), 200)
    today = datetime.now(SHANGHAI).date()

    def ids(**params) -> set[str]:
        page = ok(exchange.province.get("/surveillance/alerts", params=params), 200)
        return {a["id"] for a in page["items"]}

    assert alert["id"] in ids(status="acknowledged", kind="price_band_rejection")
    assert alert["id"] not in ids(status="open")
    assert alert["id"] not in ids(kind="concentration")
    window = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}
    assert alert["id"] in ids(**window)
    assert alert["id"] not in ids(to=str(today - timedelta(days=2)))
    assert alert["id"] not in ids(**{"from": str(today + timedelta(days=2))})
    for bad in (
        {"status": "closed"},
        {"from": "2026-02-30"},
        {"to": "yesterday"},
        {"from": "2026-02-02", "to": "2026-02-01"},
    ):
        assert_error(exchange.province.get("/surveillance/alerts", params=bad), 422)


# --- exports ------------------------------------------------------------------------------------
def parse_csv(r) -> tuple[list[str], list[dict]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode()), r.content[:10]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header = rows[0]
    english = [h.split(" ")[-1] for h in header]
    return header, [dict(zip(english, row, strict=True)) for row in rows[1:]]


def in_shanghai(text: str, iso_utc: str) -> bool:
    moment = datetime.fromisoformat(text)
    return moment.utcoffset() == timedelta(hours=8) and moment == datetime.fromisoformat(
        iso_utc.replace("Z", "+00:00")
    )


def test_trades_and_orders_export_as_csv_in_tonnes_cny_and_shanghai_time(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.seller(symbol, "5.000", GUANGZHOU)
    buyer = exchange.new_enterprise(SHENZHEN)
    seller.place(symbol, "sell", "1.250", "100.00")
    buyer.place(symbol, "buy", "1.250", "100.00")
    today = datetime.now(SHANGHAI).date()
    window = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}

    (trade,) = ok(buyer.get("/trades", params={"symbol": symbol}))["items"]
    r = buyer.get("/trades", params={"symbol": symbol, "format": "csv", **window})
    header, rows = parse_csv(r)
    assert "成交时间 time" in header and "数量(吨) quantity_t" in header
    assert r.headers["content-disposition"] == (
        f'attachment; filename="trades_{window["from"]}_{window["to"]}.csv"'
    )
    (row,) = rows
    assert (row["id"], row["side"], row["quantity_t"], row["price_cny_per_t"]) == (
        trade["id"],
        "buy",
        "1.250",
        "100.00",
    )
    assert row["cash_cny"] == "125.00" and row["fee_cny"] == trade["fee"]
    assert in_shanghai(row["time"], trade["time"])
    _, none = parse_csv(
        buyer.get("/trades", params={"format": "csv", "to": str(today - timedelta(days=2))})
    )
    assert none == []

    _, everyone = parse_csv(
        exchange.province.get("/trades", params={"symbol": symbol, "format": "csv"})
    )
    (row,) = everyone
    assert (row["buyer_city_code"], row["seller_city_code"]) == (SHENZHEN, GUANGZHOU)
    assert row["buyer_account_id"] == buyer.account_id

    _, orders = parse_csv(seller.get("/orders", params={"symbol": symbol, "format": "csv"}))
    (order,) = orders
    assert (order["quantity_t"], order["filled_t"], order["status"]) == ("1.250", "1.250", "filled")
    assert order["price_cny_per_t"] == "100.00" and order["created_at"].endswith("+08:00")
    assert "account_id" not in order
    _, all_orders = parse_csv(
        exchange.province.get("/orders", params={"symbol": symbol, "format": "csv"})
    )
    assert {o["account_id"] for o in all_orders} == {seller.account_id, buyer.account_id}


def test_alerts_and_the_city_ledger_export_and_a_bureau_sees_its_own(exchange: Exchange):
    symbol = exchange.new_instrument()
    _, alert = band_alert(exchange, symbol, FOSHAN)
    exchange.give_allowances(exchange.new_enterprise(FOSHAN), symbol, "2.500")
    bureau = exchange.new_bureau(FOSHAN)
    _, alerts = parse_csv(bureau.get("/surveillance/alerts", params={"format": "csv"}))
    (mine,) = [a for a in alerts if a["id"] == alert["id"]]
    assert {a["city_code"] for a in alerts} == {FOSHAN}
    assert "price=150.00" in mine["detail"] and "_fen" not in mine["detail"]
    assert in_shanghai(mine["time"], alert["time"]) and mine["status"] == "open"

    header, cities = parse_csv(
        exchange.province.get("/ledger/cities", params={"symbol": symbol, "format": "csv"})
    )
    assert len(cities) == 21 and "结余(吨) remaining_t" in header
    foshan = next(c for c in cities if c["city_code"] == FOSHAN)
    assert (foshan["added_t"], foshan["remaining_t"], foshan["city"]) == ("2.500", "2.500", "佛山")
    _, own = parse_csv(bureau.get("/ledger/cities", params={"symbol": symbol, "format": "csv"}))
    assert [c["city_code"] for c in own] == [FOSHAN]
    today = datetime.now(SHANGHAI).date()
    earlier = {"symbol": symbol, "to": str(today - timedelta(days=2))}
    period = ok(bureau.get("/ledger/cities", params=earlier))["items"]
    assert (period[0]["added"], period[0]["opening_remaining"]) == ("0.000", "0.000")
    later = {"symbol": symbol, "from": str(today + timedelta(days=1))}
    (after,) = ok(bureau.get("/ledger/cities", params=later))["items"]
    assert (after["opening_remaining"], after["added"], after["remaining"]) == (
        "2.500",
        "0.000",
        "2.500",
    )


def test_exports_come_as_xlsx_too(exchange: Exchange):
    from openpyxl import load_workbook

    symbol = exchange.new_instrument()
    exchange.give_allowances(exchange.new_enterprise(SHENZHEN), symbol, "1.500")
    r = exchange.province.get("/ledger/cities", params={"symbol": symbol, "format": "xlsx"})
    assert r.status_code == 200
    assert r.headers["content-disposition"].endswith('.xlsx"')
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    header = [h.split(" ")[-1] for h in rows[0]]
    shenzhen = next(dict(zip(header, row, strict=True)) for row in rows[1:] if row[0] == SHENZHEN)
    assert float(shenzhen["added_t"]) == 1.5
    assert_error(exchange.province.get("/trades", params={"format": "pdf"}), 422)
