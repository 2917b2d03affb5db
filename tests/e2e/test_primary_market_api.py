"""Auctions of reserve quota, block trades and instrument validity over real HTTP and
the feeds: who may do what, what each party sees, and what it costs."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from tests.e2e.helpers import (
    Exchange,
    assert_error,
    authenticate,
    drain,
    ok,
    recv_json,
    unique,
)

SHANGHAI = timezone(timedelta(hours=8))


def _fee(cash: Decimal, bps: int) -> Decimal:
    fen = int(cash * 100)
    return Decimal((2 * fen * bps + 10_000) // 20_000) / 100


def _stock_reserve(exchange: Exchange, symbol: str, quantity: str, price: str = "100.00") -> None:
    """The reserve buys `quantity` on the market, as the province does through /reserve."""
    seller = exchange.seller(symbol, quantity)
    ok(exchange.operator.post("/accounts/RESERVE/deposits", {"amount": "100000.00"}))
    seller.place(symbol, "sell", quantity, price)
    body = {
        "client_order_id": unique("r"),
        "symbol": symbol,
        "side": "buy",
        "price": price,
        "quantity": quantity,
    }
    assert ok(exchange.province.post("/reserve/orders", body), 201)["status"] == "filled"


def _open(exchange: Exchange, symbol: str, quantity: str, reserve: str, cap: int) -> dict:
    body = {
        "symbol": symbol,
        "quantity": quantity,
        "reserve_price": reserve,
        "bidder_cap_pct": cap,
        "note": "2025 年度储备拍卖",
    }
    return ok(exchange.province.post("/auctions", body), 201)


# --- auctions -----------------------------------------------------------------------------


def test_an_auction_clears_at_one_price_within_the_cap_and_the_bids_stay_sealed(
    exchange: Exchange,
):
    symbol = exchange.new_instrument("100.00")
    _stock_reserve(exchange, symbol, "10.000")
    auction = _open(exchange, symbol, "10.000", "90.00", 50)
    assert auction["status"] == "open" and auction["bids"] == []
    a, b = exchange.new_enterprise(), exchange.new_enterprise("440300")
    bid_a = ok(a.post(f"/auctions/{auction['id']}/bids", {"price": "95.00", "quantity": "6.000"}))
    # price x quantity plus the fee is locked, as for a buy order
    locked = Decimal("570.00") + _fee(Decimal("570.00"), exchange.fee_bps)
    assert Decimal(a.me()["cash"]["locked"]) == locked
    ok(b.post(f"/auctions/{auction['id']}/bids", {"price": "92.00", "quantity": "6.000"}))
    assert_error(
        b.post(f"/auctions/{auction['id']}/bids", {"price": "89.99", "quantity": "1.000"}),
        409,
        "bid_below_reserve",
    )
    seen_by_a = ok(a.get(f"/auctions/{auction['id']}"))
    assert [x["id"] for x in seen_by_a["bids"]] == [bid_a["id"]]
    assert len(ok(exchange.province.get(f"/auctions/{auction['id']}"))["bids"]) == 2

    with exchange.ws("/ws/regulator") as ws:
        assert authenticate(ws, exchange.province.token)["type"] == "auth_ok"
        cleared = ok(exchange.province.post(f"/auctions/{auction['id']}/close"))
        messages = drain(ws, quiet=1.0)
    assert cleared["status"] == "cleared"
    assert cleared["clearing_price"] == "92.00" and cleared["sold_quantity"] == "10.000"
    assert {x["account_id"]: x["awarded_quantity"] for x in cleared["bids"]} == {
        a.account_id: "5.000",
        b.account_id: "5.000",
    }
    (result,) = [m for m in messages if m["type"] == "auction"]
    assert result["data"]["clearing_price"] == "92.00"
    assert {w["bidder"]["account_id"] for w in result["data"]["awards"]} == {
        a.account_id,
        b.account_id,
    }
    for party in (a, b):
        me = party.me()
        assert me["allowances"][symbol]["available"] == "5.000"
        paid = Decimal("460.00") + _fee(Decimal("460.00"), exchange.fee_bps)
        assert Decimal(me["cash"]["available"]) == Decimal("100000.00") - paid
        assert me["cash"]["locked"] == "0.00"
    assert ok(exchange.province.get("/reserve"))["allowances"][symbol]["available"] == "0.000"
    # the quota won is a lot from the reserve: a project that binds it shows so
    body = {
        "name": "二号机组扩建",
        "priority_category": "ordinary",
        "symbol": symbol,
        "required_quantity": "5.000",
        "eia_reference": "EIA-2026-0001",
    }
    project = ok(a.post("/projects", body), 201)
    ok(a.post(f"/projects/{project['id']}/allocations", {"symbol": symbol, "quantity": "5"}))
    (source,) = ok(a.get(f"/projects/{project['id']}/sources"))["items"]
    assert source == {
        "lot_id": f"{auction['id']}-{bid_a['id']}",
        "reduction_id": None,
        "source_kind": "reserve_auction",
        "origin_city_code": "reserve",
        "origin_account_id": "RESERVE",
        "quantity": "5.000",
    }


def test_unsold_quota_stays_in_the_reserve(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    _stock_reserve(exchange, symbol, "4.000")
    auction = _open(exchange, symbol, "4.000", "95.00", 100)
    a = exchange.new_enterprise()
    ok(a.post(f"/auctions/{auction['id']}/bids", {"price": "96.00", "quantity": "1.500"}))
    cleared = ok(exchange.province.post(f"/auctions/{auction['id']}/close"))
    assert cleared["sold_quantity"] == "1.500" and cleared["clearing_price"] == "96.00"
    reserve = ok(exchange.province.get("/reserve"))["allowances"][symbol]
    assert reserve == {**reserve, "available": "2.500", "locked": "0.000"}


def test_auction_roles_and_ownership(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    _stock_reserve(exchange, symbol, "2.000")
    a, other = exchange.new_enterprise(), exchange.new_enterprise()
    body = {"symbol": symbol, "quantity": "1.000", "reserve_price": "90.00", "bidder_cap_pct": 50}
    assert_error(a.post("/auctions", body), 403, "forbidden")
    auction = _open(exchange, symbol, "2.000", "90.00", 50)
    path = f"/auctions/{auction['id']}"
    for party in (exchange.operator, exchange.new_bureau("440300")):
        assert_error(party.get("/auctions"), 403, "forbidden")
    assert_error(exchange.province.post(f"{path}/bids", {"price": "91.00", "quantity": "1"}), 403)
    assert_error(a.post(f"{path}/close"), 403, "forbidden")
    bid = ok(a.post(f"{path}/bids", {"price": "91.00", "quantity": "1.000"}))
    assert_error(other.delete(f"{path}/bids/{bid['id']}"), 404, "bid_not_found")
    assert_error(a.get("/auctions/AUC-999999999"), 404, "auction_not_found")
    withdrawn = ok(a.delete(f"{path}/bids/{bid['id']}"))
    assert withdrawn["status"] == "withdrawn" and a.me()["cash"]["locked"] == "0.00"
    ok(exchange.province.post(f"{path}/close"))
    assert_error(exchange.province.post(f"{path}/close"), 409, "auction_closed")
    assert_error(a.post(f"{path}/bids", {"price": "91.00", "quantity": "1.000"}), 409)
    assert_error(
        exchange.province.post("/auctions", {**body, "quantity": "9.000", "bidder_cap_pct": 50}),
        409,
        "insufficient_allowances",
    )


# --- block trades -------------------------------------------------------------------------


def _propose(seller, buyer, symbol: str, price: str = "110.00", quantity: str = "12.000"):
    body = {
        "symbol": symbol,
        "buyer_account_id": buyer.account_id,
        "price": price,
        "quantity": quantity,
        "note": "长期供货协议",
    }
    return seller.post("/block-trades", body)


def test_a_block_trade_settles_on_acceptance_and_prints_as_block_without_moving_the_ticker(
    exchange: Exchange,
):
    symbol = exchange.new_instrument("100.00")
    seller = exchange.seller(symbol, "20.000")
    buyer = exchange.new_enterprise("440300")
    proposal = ok(_propose(seller, buyer, symbol), 201)
    assert proposal["status"] == "pending"
    assert seller.me()["allowances"][symbol]["locked"] == "12.000"
    ticker_before = ok(exchange.client.get(f"/api/v1/market/{symbol}/ticker"))
    with exchange.ws(f"/ws/market?symbols={symbol}") as ws:
        recv_json(ws)  # the book snapshot
        accepted = ok(buyer.post(f"/block-trades/{proposal['id']}/accept"))
        messages = drain(ws, quiet=1.0)
    assert accepted["status"] == "accepted" and accepted["cash"] == "1320.00"
    (trade,) = [m for m in messages if m["type"] == "trade"]
    assert trade["data"]["kind"] == "block" and trade["data"]["price"] == "110.00"
    assert not [m for m in messages if m["type"] == "ticker"]
    tape = ok(exchange.client.get(f"/api/v1/market/{symbol}/trades"))["items"]
    assert [(t["id"], t["kind"]) for t in tape] == [(proposal["id"], "block")]
    assert ok(exchange.client.get(f"/api/v1/market/{symbol}/ticker")) == ticker_before
    assert exchange.instrument(symbol)["reference_price"] == "100.00"
    fee = _fee(Decimal("1320.00"), exchange.fee_bps)
    assert Decimal(buyer.me()["cash"]["available"]) == Decimal("100000.00") - 1320 - fee
    assert buyer.me()["allowances"][symbol]["available"] == "12.000"
    assert Decimal(seller.me()["cash"]["available"]) == Decimal("100000.00") + 1320 - fee


def test_continuous_trades_are_marked_continuous(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    seller, buyer = exchange.seller(symbol, "1.000"), exchange.new_enterprise()
    seller.place(symbol, "sell", "1.000", "100.00")
    buyer.place(symbol, "buy", "1.000", "100.00")
    (trade,) = ok(exchange.client.get(f"/api/v1/market/{symbol}/trades"))["items"]
    assert trade["kind"] == "continuous"


def test_block_trade_refusals_and_who_may_decide(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    seller = exchange.seller(symbol, "50.000")
    buyer, stranger = exchange.new_enterprise(), exchange.new_enterprise()
    poor = exchange.new_enterprise(cash="10.00")
    assert_error(_propose(seller, buyer, symbol, quantity="9.999"), 422, "block_below_minimum")
    assert_error(_propose(seller, buyer, symbol, price="130.01"), 409, "price_outside_band")
    assert_error(_propose(seller, buyer, symbol, price="69.99"), 409, "price_outside_band")
    assert_error(_propose(seller, buyer, symbol, quantity="50.001"), 409, "insufficient_allowances")
    assert_error(_propose(seller, seller, symbol), 422, "invalid_counterparty")
    assert_error(_propose(exchange.province, buyer, symbol), 403, "forbidden")
    ok(_propose(seller, buyer, symbol, price="130.00"), 201)  # the edge of the band
    proposal = ok(_propose(seller, buyer, symbol, price="70.00"), 201)
    path = f"/block-trades/{proposal['id']}"
    assert_error(stranger.get(path), 404, "block_trade_not_found")
    assert_error(stranger.post(f"{path}/accept"), 404, "block_trade_not_found")
    assert_error(exchange.new_bureau("440300").get("/block-trades"), 403, "forbidden")
    assert_error(seller.post(f"{path}/accept"), 403, "not_your_block_trade")
    assert_error(buyer.delete(path), 403, "not_your_block_trade")
    assert {t["id"] for t in ok(stranger.get("/block-trades"))["items"]} == set()
    assert proposal["id"] in {t["id"] for t in ok(buyer.get("/block-trades"))["items"]}
    assert proposal["id"] in {t["id"] for t in ok(exchange.province.get("/block-trades"))["items"]}
    rejected = ok(buyer.post(f"{path}/reject"))
    assert rejected["status"] == "rejected"
    assert_error(buyer.post(f"{path}/accept"), 409, "block_trade_not_pending")
    to_poor = ok(_propose(seller, poor, symbol), 201)
    assert_error(poor.post(f"/block-trades/{to_poor['id']}/accept"), 409, "insufficient_cash")
    assert ok(poor.get(f"/block-trades/{to_poor['id']}"))["status"] == "pending"
    withdrawn = ok(seller.delete(f"/block-trades/{to_poor['id']}"))
    assert withdrawn["status"] == "withdrawn"
    # 12 t of the 130.00 proposal still locked, the rest released
    assert seller.me()["allowances"][symbol]["locked"] == "12.000"


# --- validity -----------------------------------------------------------------------------


def test_an_instrument_past_its_term_is_expired_and_nothing_of_it_trades(exchange: Exchange):
    yesterday = (datetime.now(SHANGHAI) - timedelta(days=1)).date().isoformat()
    symbol = f"X{secrets.token_hex(3).upper()}-2024"
    body = {
        "symbol": symbol,
        "pollutant": "NOx",
        "vintage": 2024,
        "reference_price": "100.00",
        "valid_until": yesterday,
    }
    listed = ok(exchange.province.post("/instruments", body), 201)
    assert listed["valid_until"] == yesterday
    holder = exchange.seller(symbol, "20.000")  # the next commands end its term
    assert exchange.instrument(symbol)["status"] == "expired"
    assert_error(holder.order(symbol, "sell", "1.000", "100.00"), 409, "instrument_expired")
    buyer = exchange.new_enterprise()
    assert_error(_propose(holder, buyer, symbol), 409, "instrument_expired")
    body = {"symbol": symbol, "quantity": "1.000", "reserve_price": "90.00", "bidder_cap_pct": 50}
    assert_error(exchange.province.post("/auctions", body), 409, "instrument_expired")
    assert holder.me()["allowances"][symbol]["available"] == "20.000"  # holdings stay


def test_an_invalid_valid_until_is_422(exchange: Exchange):
    body = {
        "symbol": "XBAD01-2024",
        "pollutant": "NOx",
        "vintage": 2024,
        "reference_price": "100.00",
        "valid_until": "2024-02-30",
    }
    assert_error(exchange.province.post("/instruments", body), 422, "invalid_date")


def test_a_refused_command_that_arrives_after_the_term_still_expires_the_instrument(
    exchange: Exchange,
):
    """The expiry happens in whichever command first arrives after the day's end, even
    one that is itself refused: here the order on the expired instrument."""
    today = datetime.now(SHANGHAI).date()
    symbol = f"X{secrets.token_hex(3).upper()}-2024"
    body = {
        "symbol": symbol,
        "pollutant": "SO2",
        "vintage": 2024,
        "reference_price": "100.00",
        "valid_until": (today - timedelta(days=1)).isoformat(),
    }
    ok(exchange.province.post("/instruments", body), 201)
    assert exchange.instrument(symbol)["status"] == "open"  # no command since the listing
    response = exchange.province.post(
        "/reserve/orders",
        {
            "client_order_id": unique("r"),
            "symbol": symbol,
            "side": "buy",
            "price": "100.00",
            "quantity": "1.000",
        },
    )
    assert_error(response, 409, "instrument_expired")
    assert exchange.instrument(symbol)["status"] == "expired"


def test_expired_holdings_stay_in_the_ledger_and_the_monthly_report(exchange: Exchange):
    today = datetime.now(SHANGHAI).date()
    symbol = f"X{secrets.token_hex(3).upper()}-2024"
    body = {
        "symbol": symbol,
        "pollutant": "NOx",
        "vintage": 2024,
        "reference_price": "100.00",
        "valid_until": (today - timedelta(days=1)).isoformat(),
    }
    ok(exchange.province.post("/instruments", body), 201)
    holder = exchange.seller(symbol, "7.500", city_code="440300")
    assert exchange.instrument(symbol)["status"] == "expired"
    rows = ok(exchange.province.get("/ledger/cities", params={"symbol": symbol}))["items"]
    (shenzhen,) = [r for r in rows if r["city_code"] == "440300"]
    assert shenzhen["added"] == "7.500" and shenzhen["remaining"] == "7.500"
    month = today.strftime("%Y-%m")
    report = ok(
        exchange.province.get(
            "/ledger/cities/440300/monthly", params={"month": month, "symbol": symbol}
        )
    )
    assert report["added"] == "7.500"
    assert holder.me()["allowances"][symbol]["available"] == "7.500"


def test_the_private_feeds_follow_bids_and_block_trades(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    _stock_reserve(exchange, symbol, "3.000")
    seller = exchange.seller(symbol, "20.000")
    buyer = exchange.new_enterprise()
    auction = _open(exchange, symbol, "3.000", "90.00", 100)
    with exchange.ws("/ws/private") as ws:
        assert authenticate(ws, buyer.token)["type"] == "auth_ok"
        bid = ok(buyer.post(f"/auctions/{auction['id']}/bids", {"price": "95.00", "quantity": "2"}))
        ok(exchange.province.post(f"/auctions/{auction['id']}/close"))
        proposal = ok(_propose(seller, buyer, symbol), 201)
        ok(buyer.post(f"/block-trades/{proposal['id']}/accept"))
        messages = drain(ws, quiet=1.0)
    bids = [m["data"] for m in messages if m["type"] == "bid"]
    assert [(b["id"], b["status"], b["awarded_quantity"]) for b in bids] == [
        (bid["id"], "open", None),
        (bid["id"], "won", "2.000"),
    ]
    blocks = [m["data"] for m in messages if m["type"] == "block_trade"]
    assert [(b["id"], b["status"]) for b in blocks] == [
        (proposal["id"], "pending"),
        (proposal["id"], "accepted"),
    ]
