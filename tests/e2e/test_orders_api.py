"""Orders and their life, as a client sees it through the API."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.e2e.helpers import SHENZHEN, Exchange, assert_error, ok, unique

ORDER_FIELDS = {
    "id",
    "client_order_id",
    "symbol",
    "side",
    "type",
    "price",
    "quantity",
    "remaining_quantity",
    "filled_quantity",
    "average_price",
    "time_in_force",
    "status",
    "cancel_reason",
    "created_at",
}


def test_limit_order_rests_and_shows_every_field(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    order = buyer.place(symbol, "buy", "2.000", "99.50", client_order_id="mine-1")
    assert set(order) >= ORDER_FIELDS
    assert isinstance(order["id"], str)
    assert order["client_order_id"] == "mine-1"
    assert order["type"] == "limit" and order["side"] == "buy"
    assert order["time_in_force"] == "GTC"  # default for limit
    assert order["status"] == "open" and order["cancel_reason"] is None
    assert order["remaining_quantity"] == "2.000" and order["filled_quantity"] == "0.000"
    assert order["average_price"] is None
    assert ok(buyer.get(f"/orders/{order['id']}"), 200) | {"updated_at": None} == order | {
        "updated_at": None
    }
    assert exchange.book(symbol)["bids"] == [["99.50", "2.000"]]


def test_order_response_already_shows_its_fills_and_reads_follow(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.seller(symbol)
    buyer = exchange.new_enterprise()
    ask = seller.place(symbol, "sell", "3.000", "100.00")
    order = buyer.place(symbol, "buy", "2.000", "100.00")
    assert order["status"] == "filled"
    assert order["filled_quantity"] == "2.000" and order["remaining_quantity"] == "0.000"
    assert order["average_price"] == "100.00"
    # any read made after the response reflects it
    assert ok(buyer.get(f"/orders/{order['id']}"), 200)["status"] == "filled"
    assert ok(seller.get(f"/orders/{ask['id']}"), 200)["status"] == "partially_filled"
    trades = ok(buyer.get("/trades", params={"symbol": symbol}), 200)["items"]
    assert [(t["side"], t["quantity"], t["price"]) for t in trades] == [("buy", "2.000", "100.00")]
    assert exchange.book(symbol)["asks"] == [["100.00", "1.000"]]
    assert buyer.me()["allowances"][symbol]["available"] == "2.000"


def test_ioc_remainder_is_cancelled_with_reason_ioc_remainder(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.seller(symbol)
    buyer = exchange.new_enterprise()
    seller.place(symbol, "sell", "1.000", "100.00")
    order = buyer.place(symbol, "buy", "3.000", "100.00", tif="IOC")
    assert order["status"] == "cancelled"
    assert order["cancel_reason"] == "ioc_remainder"
    assert order["filled_quantity"] == "1.000"
    assert exchange.book(symbol)["bids"] == []
    assert buyer.me()["cash"]["locked"] == "0.00"


def test_fok_that_cannot_fill_completely_is_cancelled_without_fills(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.seller(symbol)
    buyer = exchange.new_enterprise()
    seller.place(symbol, "sell", "1.000", "100.00")
    before = buyer.me()
    order = buyer.place(symbol, "buy", "3.000", "100.00", tif="FOK")
    assert order["status"] == "cancelled"
    assert order["cancel_reason"] == "fok_not_fillable"
    assert order["filled_quantity"] == "0.000"
    assert ok(buyer.get("/trades", params={"symbol": symbol}), 200)["items"] == []
    assert exchange.book(symbol)["asks"] == [["100.00", "1.000"]]
    assert buyer.me()["cash"] == before["cash"]


def test_fok_that_can_fill_completely_fills(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.seller(symbol)
    buyer = exchange.new_enterprise()
    seller.place(symbol, "sell", "1.000", "100.00")
    seller.place(symbol, "sell", "2.000", "100.50")
    order = buyer.place(symbol, "buy", "3.000", "101.00", tif="FOK")
    assert order["status"] == "filled" and order["filled_quantity"] == "3.000"


def test_market_order_fills_what_it_can_and_cancels_the_remainder(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.seller(symbol)
    buyer = exchange.new_enterprise()
    seller.place(symbol, "sell", "1.000", "100.00")
    seller.place(symbol, "sell", "1.000", "101.00")
    order = buyer.place(symbol, "buy", "3.000", type="market")
    assert order["type"] == "market" and order["price"] is None
    assert order["time_in_force"] == "IOC"
    assert order["filled_quantity"] == "2.000"
    assert order["average_price"] == "100.50"
    assert order["status"] == "cancelled"
    assert order["cancel_reason"] == "market_order_remainder"
    assert buyer.me()["cash"]["locked"] == "0.00"


def test_market_order_with_a_price_is_422(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    assert_error(buyer.order(symbol, "buy", "1.000", "100.00", type="market"), 422)


@pytest.mark.parametrize("tif", ["GTC", "DAY"])
def test_market_order_may_not_rest(exchange: Exchange, tif):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    assert_error(buyer.order(symbol, "buy", "1.000", type="market", tif=tif), 422)


def test_limit_order_without_price_is_422(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    assert_error(buyer.order(symbol, "buy", "1.000"), 422)


def test_client_order_id_longer_than_64_is_422(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    r = buyer.order(symbol, "buy", "1.000", "100.00", client_order_id="x" * 65)
    assert_error(r, 422)
    assert buyer.place(symbol, "buy", "1.000", "100.00", client_order_id="y" * 64)


def test_average_price_is_rounded_half_up_to_the_fen(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.seller(symbol)
    buyer = exchange.new_enterprise()
    seller.place(symbol, "sell", "1.000", "100.02")
    seller.place(symbol, "sell", "1.000", "100.03")
    order = buyer.place(symbol, "buy", "2.000", "100.03")
    # mean 100.025: half-up gives 100.03 (half-even or truncation would give 100.02)
    assert order["average_price"] == "100.03"


def test_average_price_is_weighted_by_quantity(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.seller(symbol)
    buyer = exchange.new_enterprise()
    seller.place(symbol, "sell", "1.000", "100.00")
    seller.place(symbol, "sell", "2.000", "100.01")
    order = buyer.place(symbol, "buy", "3.000", "100.01")
    assert order["average_price"] == "100.01"  # (100.00 + 2 x 100.01) / 3 = 100.0067


def _two_resting_asks(exchange: Exchange):
    symbol = exchange.new_instrument()
    first, second = exchange.seller(symbol), exchange.seller(symbol)
    a = first.place(symbol, "sell", "2.000", "100.00")
    b = second.place(symbol, "sell", "2.000", "100.00")
    return symbol, first, a, second, b


def test_reducing_quantity_keeps_time_priority(exchange: Exchange):
    symbol, first, a, second, b = _two_resting_asks(exchange)
    amended = ok(first.patch(f"/orders/{a['id']}", {"quantity": "1.000"}), 200)
    assert amended["id"] == a["id"] and amended["remaining_quantity"] == "1.000"
    third = exchange.new_enterprise()
    third.place(symbol, "buy", "1.000", "100.00")
    assert ok(first.get(f"/orders/{a['id']}"), 200)["status"] == "filled"
    assert ok(second.get(f"/orders/{b['id']}"), 200)["status"] == "open"


def test_raising_quantity_loses_time_priority(exchange: Exchange):
    symbol, first, a, second, b = _two_resting_asks(exchange)
    amended = ok(first.patch(f"/orders/{a['id']}", {"quantity": "3.000"}), 200)
    assert amended["id"] == a["id"] and amended["remaining_quantity"] == "3.000"
    third = exchange.new_enterprise()
    third.place(symbol, "buy", "1.000", "100.00")
    assert ok(first.get(f"/orders/{a['id']}"), 200)["filled_quantity"] == "0.000"
    after_b = ok(second.get(f"/orders/{b['id']}"), 200)
    assert after_b["status"] == "partially_filled" and after_b["filled_quantity"] == "1.000"


def test_changing_price_keeps_the_id_and_moves_the_level(exchange: Exchange):
    symbol, first, a, _second, _b = _two_resting_asks(exchange)
    amended = ok(first.patch(f"/orders/{a['id']}", {"price": "100.50"}), 200)
    assert amended["id"] == a["id"] and amended["price"] == "100.50"
    assert exchange.book(symbol)["asks"] == [["100.00", "2.000"], ["100.50", "2.000"]]


def test_changing_price_back_loses_time_priority(exchange: Exchange):
    symbol, first, a, second, b = _two_resting_asks(exchange)
    ok(first.patch(f"/orders/{a['id']}", {"price": "100.50"}), 200)
    ok(first.patch(f"/orders/{a['id']}", {"price": "100.00"}), 200)
    exchange.new_enterprise().place(symbol, "buy", "1.000", "100.00")
    assert ok(second.get(f"/orders/{b['id']}"), 200)["filled_quantity"] == "1.000"
    assert ok(first.get(f"/orders/{a['id']}"), 200)["filled_quantity"] == "0.000"


def test_patch_without_quantity_or_price_is_422(exchange: Exchange):
    _symbol, first, a, *_ = _two_resting_asks(exchange)
    assert_error(first.patch(f"/orders/{a['id']}", {}), 422)


def test_cancel_then_cancel_again_is_409_order_not_open(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    order = buyer.place(symbol, "buy", "1.000", "100.00")
    cancelled = ok(buyer.delete(f"/orders/{order['id']}"), 200)
    assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == "user"
    assert cancelled["remaining_quantity"] == "0.000"
    assert buyer.me()["cash"] == {"available": "100000.00", "locked": "0.00"}
    assert_error(buyer.delete(f"/orders/{order['id']}"), 409, "order_not_open")
    assert_error(buyer.patch(f"/orders/{order['id']}", {"quantity": "0.5"}), 409, "order_not_open")


def test_unknown_order_is_404(exchange: Exchange):
    buyer = exchange.new_enterprise(cash=None)
    for path in ["/orders/999999999", "/orders/not-a-number"]:
        assert_error(buyer.get(path), 404)
        assert_error(buyer.delete(path), 404)
        assert_error(buyer.patch(path, {"quantity": "1.000"}), 404)


def test_same_client_order_id_and_body_returns_the_original_order(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    first = buyer.order(symbol, "buy", "1.000", "100.00", client_order_id="once")
    assert first.status_code == 201
    again = buyer.order(symbol, "buy", "1.000", "100.00", client_order_id="once")
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert len(ok(buyer.get("/orders", params={"symbol": symbol}), 200)["items"]) == 1


def test_same_client_order_id_with_another_body_is_409(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    buyer.place(symbol, "buy", "1.000", "100.00", client_order_id="once")
    r = buyer.order(symbol, "buy", "2.000", "100.00", client_order_id="once")
    assert_error(r, 409, "duplicate_client_order_id")
    assert len(ok(buyer.get("/orders", params={"symbol": symbol}), 200)["items"]) == 1


def test_client_order_ids_are_per_account(exchange: Exchange):
    symbol = exchange.new_instrument()
    one, two = exchange.new_enterprise(), exchange.new_enterprise()
    a = one.place(symbol, "buy", "1.000", "100.00", client_order_id="shared")
    b = two.place(symbol, "buy", "1.000", "100.00", client_order_id="shared")
    assert a["id"] != b["id"]


def test_insufficient_cash_is_409_and_creates_no_order(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise(cash="10.00")
    assert_error(buyer.order(symbol, "buy", "1.000", "100.00"), 409, "insufficient_cash")
    assert ok(buyer.get("/orders"), 200)["items"] == []
    assert buyer.me()["cash"] == {"available": "10.00", "locked": "0.00"}
    assert exchange.book(symbol)["bids"] == []


def test_insufficient_allowances_is_409_and_creates_no_order(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.seller(symbol, "1.000")
    assert_error(seller.order(symbol, "sell", "1.001", "100.00"), 409, "insufficient_allowances")
    assert ok(seller.get("/orders"), 200)["items"] == []
    assert exchange.book(symbol)["asks"] == []


@pytest.mark.parametrize("side, price", [("buy", "110.01"), ("sell", "89.99")])
def test_price_outside_band_is_409_and_raises_an_alert(exchange: Exchange, side, price):
    symbol = exchange.new_instrument("100.00", band="10")
    party = exchange.seller(symbol)
    assert_error(party.order(symbol, side, "1.000", price), 409, "price_outside_band")
    assert ok(party.get("/orders"), 200)["items"] == []
    alerts = ok(exchange.province.get("/surveillance/alerts"), 200)["items"]
    assert any(
        a["kind"] == "price_band_rejection"
        and a["symbol"] == symbol
        and a["account_id"] == party.account_id
        for a in alerts
    ), alerts


@pytest.mark.parametrize("side, price", [("buy", "110.00"), ("sell", "90.00")])
def test_price_on_the_band_edge_is_accepted(exchange: Exchange, side, price):
    symbol = exchange.new_instrument("100.00", band="10")
    party = exchange.seller(symbol)
    assert party.place(symbol, side, "1.000", price)["status"] == "open"


def test_halted_market_refuses_orders_and_amendments_but_allows_cancels(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.seller(symbol)
    buyer = exchange.new_enterprise()
    resting = seller.place(symbol, "sell", "2.000", "100.00")
    other = seller.place(symbol, "sell", "1.000", "101.00")
    halted = ok(exchange.province.post(f"/market/{symbol}/halt"), 200)
    assert halted["status"] == "halted"
    assert exchange.instrument(symbol)["status"] == "halted"
    assert_error(buyer.order(symbol, "buy", "1.000", "100.00"), 409, "market_halted")
    assert_error(buyer.order(symbol, "buy", "1.000", type="market"), 409, "market_halted")
    r = seller.patch(f"/orders/{resting['id']}", {"quantity": "1.000"})
    assert_error(r, 409, "market_halted")
    assert_error(seller.patch(f"/orders/{resting['id']}", {"price": "100.10"}), 409)
    assert ok(buyer.get("/orders"), 200)["items"] == []
    cancelled = ok(seller.delete(f"/orders/{other['id']}"), 200)
    assert cancelled["status"] == "cancelled"
    resumed = ok(exchange.province.post(f"/market/{symbol}/resume"), 200)
    assert resumed["status"] == "open"
    assert buyer.place(symbol, "buy", "1.000", "100.00")["status"] == "filled"


def test_close_session_expires_day_orders_and_moves_the_reference_price(exchange: Exchange):
    symbol = exchange.new_instrument("100.00", band="10")
    seller = exchange.seller(symbol)
    buyer = exchange.new_enterprise()
    day = buyer.place(symbol, "buy", "1.000", "95.00", tif="DAY")
    gtc = buyer.place(symbol, "buy", "1.000", "96.00", tif="GTC")
    seller.place(symbol, "sell", "1.000", "105.00")
    buyer.place(symbol, "buy", "1.000", "105.00")  # the session's last price
    assert_error(buyer.order(symbol, "buy", "1.000", "115.00"), 409, "price_outside_band")
    closed = ok(exchange.operator.post(f"/market/{symbol}/close-session"), 200)
    assert closed["reference_price"] == "105.00"
    assert exchange.instrument(symbol)["reference_price"] == "105.00"
    expired = ok(buyer.get(f"/orders/{day['id']}"), 200)
    assert expired["status"] == "cancelled" and expired["cancel_reason"] == "expired"
    assert ok(buyer.get(f"/orders/{gtc['id']}"), 200)["status"] == "open"
    # the band now centres on 105.00: 115.00 is inside it (94.50 .. 115.50)
    assert buyer.place(symbol, "buy", "1.000", "115.00")["status"] == "open"
    ok(exchange.province.post(f"/market/{symbol}/close-session"), 200)


def test_self_trade_is_prevented_by_cancelling_the_incoming_order(exchange: Exchange):
    symbol = exchange.new_instrument()
    trader = exchange.seller(symbol)
    ask = trader.place(symbol, "sell", "1.000", "100.00")
    bid = trader.place(symbol, "buy", "1.000", "100.00")
    assert bid["status"] == "cancelled" and bid["cancel_reason"] == "self_trade"
    assert bid["filled_quantity"] == "0.000"
    assert ok(trader.get(f"/orders/{ask['id']}"), 200)["status"] == "open"
    assert ok(trader.get("/trades", params={"symbol": symbol}), 200)["items"] == []
    alerts = ok(exchange.province.get("/surveillance/alerts"), 200)["items"]
    mine = [a for a in alerts if a["symbol"] == symbol and a["kind"] == "self_trade_blocked"]
    assert len(mine) == 1 and mine[0]["account_id"] == trader.account_id


def test_order_list_filters_by_status_and_symbol(exchange: Exchange):
    symbol, other = exchange.new_instrument(), exchange.new_instrument()
    buyer = exchange.new_enterprise()
    a = buyer.place(symbol, "buy", "1.000", "99.00")
    b = buyer.place(symbol, "buy", "1.000", "98.00")
    c = buyer.place(other, "buy", "1.000", "99.00")
    ok(buyer.delete(f"/orders/{b['id']}"), 200)
    by_symbol = ok(buyer.get("/orders", params={"symbol": symbol}), 200)["items"]
    assert {o["id"] for o in by_symbol} == {a["id"], b["id"]}
    open_ = ok(buyer.get("/orders", params={"status": "open"}), 200)["items"]
    assert {o["id"] for o in open_} == {a["id"], c["id"]}
    assert_error(buyer.get("/orders", params={"status": "bogus"}), 422)


def test_enterprise_sees_only_its_own_orders_and_province_sees_all(exchange: Exchange):
    symbol = exchange.new_instrument()
    one, two = exchange.new_enterprise(), exchange.new_enterprise()
    a = one.place(symbol, "buy", "1.000", "99.00")
    b = two.place(symbol, "buy", "1.000", "98.00")
    assert [o["id"] for o in ok(one.get("/orders"), 200)["items"]] == [a["id"]]
    everything = ok(exchange.province.get("/orders", params={"symbol": symbol}), 200)["items"]
    assert {o["id"] for o in everything} == {a["id"], b["id"]}
    assert ok(exchange.province.get(f"/orders/{b['id']}"), 200)["id"] == b["id"]


# --- trades and market data -----------------------------------------------------------------
def _one_trade(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.seller(symbol, city_code=SHENZHEN)
    buyer = exchange.new_enterprise()
    seller.place(symbol, "sell", "2.000", "100.00")
    buyer.place(symbol, "buy", "2.000", "100.00")
    return symbol, seller, buyer


def test_enterprise_sees_its_own_trades_with_side_and_fee(exchange: Exchange):
    symbol, seller, buyer = _one_trade(exchange)
    fee = str((Decimal("200.00") * exchange.fee_bps / 10_000).quantize(Decimal("0.01")))
    (bought,) = ok(buyer.get("/trades", params={"symbol": symbol}), 200)["items"]
    (sold,) = ok(seller.get("/trades", params={"symbol": symbol}), 200)["items"]
    assert bought["side"] == "buy" and sold["side"] == "sell"
    assert bought["fee"] == fee and sold["fee"] == fee
    assert bought["id"] == sold["id"]
    assert bought["price"] == "100.00" and bought["quantity"] == "2.000"
    for t in (bought, sold):
        assert "buyer" not in t and "seller" not in t
    assert ok(exchange.new_enterprise(cash=None).get("/trades"), 200)["items"] == []


def test_province_sees_trades_with_buyer_and_seller(exchange: Exchange):
    symbol, seller, buyer = _one_trade(exchange)
    items = ok(exchange.province.get("/trades", params={"symbol": symbol}), 200)["items"]
    (trade,) = items
    assert trade["buyer"] == {
        "account_id": buyer.account_id,
        "name": buyer.name,
        "city_code": buyer.city_code,
    }
    assert trade["seller"] == {
        "account_id": seller.account_id,
        "name": seller.name,
        "city_code": SHENZHEN,
    }


def test_public_market_trades_never_name_the_parties(exchange: Exchange):
    symbol, seller, buyer = _one_trade(exchange)
    r = exchange.client.get(f"/api/v1/market/{symbol}/trades")
    (trade,) = ok(r, 200)["items"]
    assert set(trade) == {"id", "price", "quantity", "taker_side", "time", "seq", "kind"}
    assert trade["taker_side"] == "buy" and trade["price"] == "100.00"
    assert trade["kind"] == "continuous"
    for secret in (seller.account_id, buyer.account_id, seller.name, buyer.name):
        assert secret not in r.text


def test_market_trades_are_newest_first(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller, buyer = exchange.seller(symbol), exchange.new_enterprise()
    for price in ("100.00", "101.00", "102.00"):
        seller.place(symbol, "sell", "1.000", price)
        buyer.place(symbol, "buy", "1.000", price)
    items = ok(exchange.client.get(f"/api/v1/market/{symbol}/trades"), 200)["items"]
    assert [t["price"] for t in items] == ["102.00", "101.00", "100.00"]


def test_book_aggregates_levels_best_first_and_honours_depth(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller, buyer = exchange.seller(symbol), exchange.new_enterprise()
    for price, qty in [("101.00", "1.000"), ("101.00", "0.5"), ("102.00", "2.000")]:
        seller.place(symbol, "sell", qty, price)
    for price in ("99.00", "98.00", "99.50"):
        buyer.place(symbol, "buy", "1.000", price)
    book = exchange.book(symbol)
    assert set(book) == {"symbol", "seq", "bids", "asks"}
    assert book["symbol"] == symbol and isinstance(book["seq"], int)
    assert book["asks"] == [["101.00", "1.500"], ["102.00", "2.000"]]
    assert book["bids"] == [["99.50", "1.000"], ["99.00", "1.000"], ["98.00", "1.000"]]
    assert exchange.book(symbol, depth=1) | {"seq": 0} == {
        "symbol": symbol,
        "seq": 0,
        "bids": [["99.50", "1.000"]],
        "asks": [["101.00", "1.500"]],
    }


def test_book_of_unknown_symbol_is_404(exchange: Exchange):
    assert_error(exchange.client.get("/api/v1/market/NOPE-2025/book"), 404)


def test_ticker_is_null_before_the_first_trade_then_describes_the_session(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    ticker = ok(exchange.client.get(f"/api/v1/market/{symbol}/ticker"), 200)
    for name in ("last", "open", "high", "low", "vwap", "change", "change_pct"):
        assert ticker[name] is None, ticker
    seller, buyer = exchange.seller(symbol), exchange.new_enterprise()
    for price, qty in [("101.00", "1.000"), ("103.00", "3.000"), ("102.00", "1.000")]:
        seller.place(symbol, "sell", qty, price)
        buyer.place(symbol, "buy", qty, price)
    ticker = ok(exchange.client.get(f"/api/v1/market/{symbol}/ticker"), 200)
    assert ticker["last"] == "102.00" and ticker["open"] == "101.00"
    assert ticker["high"] == "103.00" and ticker["low"] == "101.00"
    assert ticker["volume"] == "5.000"
    assert ticker["vwap"] == "102.40"  # (101 + 309 + 102) / 5
    assert ticker["change"] == "2.00" and ticker["change_pct"] == "2.00"


def test_candles_have_ohlcv_per_interval(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    seller, buyer = exchange.seller(symbol), exchange.new_enterprise()
    for price in ("100.00", "104.00", "99.00", "101.00"):
        seller.place(symbol, "sell", "1.000", price)
        buyer.place(symbol, "buy", "1.000", price)
    for interval in ("1m", "5m", "1h", "1d"):
        r = exchange.client.get(f"/api/v1/market/{symbol}/candles", params={"interval": interval})
        items = ok(r, 200)["items"]
        assert items, interval
        for c in items:
            assert set(c) == {"time", "open", "high", "low", "close", "volume"}
        last = items[-1]
        if len(items) == 1:
            assert (last["open"], last["high"], last["low"], last["close"]) == (
                "100.00",
                "104.00",
                "99.00",
                "101.00",
            )
            assert last["volume"] == "4.000"
    bad = exchange.client.get(f"/api/v1/market/{symbol}/candles", params={"interval": "2m"})
    assert_error(bad, 422)


def test_cash_and_allowances_are_conserved_across_a_sequence_of_trades(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    s1, s2 = exchange.seller(symbol, "50.000"), exchange.seller(symbol, "30.000", SHENZHEN)
    b1, b2 = exchange.new_enterprise(cash="20000.00"), exchange.new_enterprise(cash="15000.00")
    parties = [s1, s2, b1, b2]
    cash_before = sum(p.cash_total() for p in parties)
    fees_before = exchange.fees_total()

    s1.place(symbol, "sell", "5.000", "100.00")
    s2.place(symbol, "sell", "7.5", "100.37")
    s1.place(symbol, "sell", "3.333", "101.11")
    b1.place(symbol, "buy", "6.001", type="market")
    partial = b2.place(symbol, "buy", "10.000", "100.99")
    ok(b2.patch(f"/orders/{partial['id']}", {"quantity": "1.234"}), 200)
    b1.place(symbol, "buy", "2.222", "101.11", tif="IOC")
    resting = s2.place(symbol, "sell", "1.111", "99.01")
    ok(s2.delete(f"/orders/{resting['id']}"), (200, 409))
    b2.place(symbol, "buy", "0.777", "105.00")

    trades = ok(exchange.province.get("/trades", params={"symbol": symbol}), 200)["items"]
    assert len(trades) >= 5
    fees_paid = sum(Decimal(t["buyer_fee"]) + Decimal(t["seller_fee"]) for t in trades)
    assert fees_paid > 0
    assert exchange.fees_total() - fees_before == fees_paid
    assert sum(p.cash_total() for p in parties) + fees_paid == cash_before
    held = Decimal(0)
    for p in parties:
        a = p.me()["allowances"].get(symbol, {"available": "0", "locked": "0", "used": "0"})
        held += Decimal(a["available"]) + Decimal(a["locked"]) + Decimal(a["used"])
    assert held == Decimal("80.000")
    for p in parties:
        cash = p.me()["cash"]
        assert Decimal(cash["available"]) >= 0 and Decimal(cash["locked"]) >= 0


def test_unknown_client_field_is_422(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    body = {
        "client_order_id": unique("c"),
        "symbol": symbol,
        "side": "buy",
        "type": "limit",
        "price": "100.00",
        "quantity": "1.000",
        "account_id": "someone-else",
    }
    assert_error(buyer.post("/orders", body), 422)


def test_ticker_shows_a_fall_with_a_signed_change_and_resets_with_a_new_session(
    exchange: Exchange,
):
    symbol = exchange.new_instrument("100.00")
    seller, buyer = exchange.seller(symbol), exchange.new_enterprise()
    seller.place(symbol, "sell", "1.000", "97.50")
    buyer.place(symbol, "buy", "1.000", "97.50")
    ticker = ok(exchange.client.get(f"/api/v1/market/{symbol}/ticker"), 200)
    assert ticker["change"] == "-2.50" and ticker["change_pct"] == "-2.50"
    ok(exchange.province.post(f"/market/{symbol}/close-session"), 200)
    ticker = ok(exchange.client.get(f"/api/v1/market/{symbol}/ticker"), 200)
    for name in ("last", "open", "high", "low", "vwap", "change", "change_pct"):
        assert ticker[name] is None, ticker


def test_one_minute_candles_start_on_the_minute(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    seller, buyer = exchange.seller(symbol), exchange.new_enterprise()
    seller.place(symbol, "sell", "1.000", "100.00")
    buyer.place(symbol, "buy", "1.000", "100.00")
    r = exchange.client.get(f"/api/v1/market/{symbol}/candles", params={"interval": "1m"})
    (candle,) = ok(r, 200)["items"]
    stamp = datetime.fromisoformat(candle["time"].replace("Z", "+00:00"))
    assert (stamp.second, stamp.microsecond) == (0, 0)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 180


def test_order_list_pages_with_next_cursor(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    placed = [buyer.place(symbol, "buy", "1.000", f"9{i}.00")["id"] for i in range(3)]
    first = ok(buyer.get("/orders", params={"limit": 2}), 200)
    assert [o["id"] for o in first["items"]] == placed[::-1][:2]
    assert first["next_cursor"]
    rest = ok(buyer.get("/orders", params={"limit": 2, "cursor": first["next_cursor"]}), 200)
    assert [o["id"] for o in rest["items"]] == [placed[0]]
    assert rest["next_cursor"] is None
