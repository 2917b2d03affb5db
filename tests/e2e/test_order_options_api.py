"""Post-only orders, self-trade prevention per order and cancel-all, over HTTP."""

from __future__ import annotations

from tests.e2e.helpers import GUANGZHOU, Exchange, Party, assert_error, ok, unique


def order_body(symbol: str, side: str, quantity: str, price: str | None, **extra) -> dict:
    body = {
        "client_order_id": unique("c"),
        "symbol": symbol,
        "side": side,
        "type": "limit" if price is not None else "market",
        "quantity": quantity,
        **extra,
    }
    if price is not None:
        body["price"] = price
    return body


def place(party: Party, *args, **extra) -> dict:
    return ok(party.post("/orders", order_body(*args, **extra)), 201)


def own_orders(party: Party, symbol: str) -> list[dict]:
    return ok(party.get("/orders", params={"symbol": symbol}), 200)["items"]


# ------------------------------------------------------------------ post-only


def test_post_only_order_rests_and_shows_both_new_fields(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()

    order = place(buyer, symbol, "buy", "1.000", "99.00", post_only=True)

    assert order["status"] == "open"
    assert order["post_only"] is True
    assert order["self_trade_prevention"] == "cancel_incoming"
    assert ok(buyer.get(f"/orders/{order['id']}"), 200)["post_only"] is True
    assert exchange.book(symbol)["bids"] == [["99.00", "1.000"]]


def test_an_ordinary_order_shows_the_defaults(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()

    order = buyer.place(symbol, "buy", "1.000", "99.00")

    assert order["post_only"] is False
    assert order["self_trade_prevention"] == "cancel_incoming"


def test_post_only_that_would_trade_is_409_and_creates_nothing(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.seller(symbol)
    buyer = exchange.new_enterprise()
    seller.place(symbol, "sell", "1.000", "100.00")
    cash_before = buyer.me()["cash"]

    r = buyer.post("/orders", order_body(symbol, "buy", "1.000", "100.50", post_only=True))

    assert_error(r, 409, "post_only_would_cross")
    assert own_orders(buyer, symbol) == []
    assert buyer.me()["cash"] == cash_before
    assert exchange.book(symbol)["asks"] == [["100.00", "1.000"]]
    assert exchange.book(symbol)["bids"] == []


def test_post_only_ioc_fok_or_market_is_invalid_time_in_force(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    for tif in ("IOC", "FOK"):
        body = order_body(symbol, "buy", "1.000", "99.00", post_only=True, time_in_force=tif)
        assert_error(buyer.post("/orders", body), 422, "invalid_time_in_force")
    body = order_body(symbol, "buy", "1.000", None, post_only=True)
    assert_error(buyer.post("/orders", body), 422, "invalid_time_in_force")
    assert own_orders(buyer, symbol) == []


def test_post_only_and_the_mode_must_be_well_formed(exchange: Exchange):
    symbol = exchange.new_instrument()
    buyer = exchange.new_enterprise()
    for extra in ({"post_only": "yes"}, {"self_trade_prevention": "cancel_nobody"}):
        body = order_body(symbol, "buy", "1.000", "99.00", **extra)
        assert_error(buyer.post("/orders", body), 422)
    assert own_orders(buyer, symbol) == []


# ------------------------------------------------- self-trade prevention per order


def test_cancel_both_cancels_the_own_resting_order_and_the_incoming_one(exchange: Exchange):
    symbol = exchange.new_instrument()
    trader = exchange.seller(symbol, "10.000")
    before = trader.me()
    resting = trader.place(symbol, "sell", "2.000", "100.00")

    incoming = place(trader, symbol, "buy", "1.000", "100.00",
                     self_trade_prevention="cancel_both")  # fmt: skip

    assert incoming["status"] == "cancelled" and incoming["cancel_reason"] == "self_trade"
    assert incoming["self_trade_prevention"] == "cancel_both"
    assert incoming["filled_quantity"] == "0.000"
    rest = ok(trader.get(f"/orders/{resting['id']}"), 200)
    assert rest["status"] == "cancelled" and rest["cancel_reason"] == "self_trade"
    # every lock is released: the buy's cash and the sell's allowances
    me = trader.me()
    assert me["cash"] == before["cash"]
    assert me["allowances"][symbol] == before["allowances"][symbol]
    assert exchange.book(symbol)["asks"] == [] and exchange.book(symbol)["bids"] == []


def test_cancel_resting_per_order_keeps_matching_past_the_own_order(exchange: Exchange):
    symbol = exchange.new_instrument()
    trader = exchange.seller(symbol, "10.000")
    other = exchange.seller(symbol, "10.000")
    own = trader.place(symbol, "sell", "1.000", "100.00")
    theirs = other.place(symbol, "sell", "1.000", "100.00")

    incoming = place(trader, symbol, "buy", "1.000", "100.00",
                     self_trade_prevention="cancel_resting")  # fmt: skip

    assert incoming["status"] == "filled"
    assert ok(trader.get(f"/orders/{own['id']}"), 200)["cancel_reason"] == "self_trade"
    assert ok(other.get(f"/orders/{theirs['id']}"), 200)["status"] == "filled"


def test_without_a_mode_the_incoming_order_is_cancelled(exchange: Exchange):
    symbol = exchange.new_instrument()
    trader = exchange.seller(symbol, "10.000")
    own = trader.place(symbol, "sell", "1.000", "100.00")

    incoming = trader.place(symbol, "buy", "1.000", "100.00")

    assert incoming["status"] == "cancelled" and incoming["cancel_reason"] == "self_trade"
    assert ok(trader.get(f"/orders/{own['id']}"), 200)["status"] == "open"


# ---------------------------------------------------------------- cancel-all


def test_cancel_all_cancels_every_open_order_of_the_caller_only(exchange: Exchange):
    first, second = exchange.new_instrument(), exchange.new_instrument()
    me = exchange.seller(first, "10.000")
    exchange.give_allowances(me, second, "10.000")
    other = exchange.seller(first, "10.000")
    mine = [
        me.place(first, "buy", "1.000", "90.00"),
        me.place(first, "sell", "1.000", "109.00"),
        me.place(second, "buy", "2.000", "95.00"),
    ]
    filled = me.place(first, "sell", "1.000", "105.00")
    other.place(first, "buy", "1.000", "105.00")  # fills `filled`
    theirs = other.place(first, "sell", "1.000", "108.00")

    assert ok(me.post("/orders/cancel-all", {}), 200) == {"cancelled": 3}

    for order in mine:
        after = ok(me.get(f"/orders/{order['id']}"), 200)
        assert after["status"] == "cancelled" and after["cancel_reason"] == "user"
    assert ok(me.get(f"/orders/{filled['id']}"), 200)["status"] == "filled"
    assert ok(other.get(f"/orders/{theirs['id']}"), 200)["status"] == "open"
    account = me.me()
    assert account["cash"]["locked"] == "0.00"
    assert account["allowances"][first]["locked"] == "0.000"
    assert exchange.book(first)["asks"] == [["108.00", "1.000"]]
    assert exchange.book(second)["bids"] == []
    assert ok(me.post("/orders/cancel-all", {}), 200) == {"cancelled": 0}


def test_cancel_all_of_one_symbol_leaves_the_others(exchange: Exchange):
    first, second = exchange.new_instrument(), exchange.new_instrument()
    me = exchange.new_enterprise()
    a = me.place(first, "buy", "1.000", "90.00")
    b = me.place(second, "buy", "1.000", "90.00")

    assert ok(me.post("/orders/cancel-all", {"symbol": second}), 200) == {"cancelled": 1}

    assert ok(me.get(f"/orders/{a['id']}"), 200)["status"] == "open"
    assert ok(me.get(f"/orders/{b['id']}"), 200)["status"] == "cancelled"


def test_cancel_all_takes_no_body_too(exchange: Exchange):
    symbol = exchange.new_instrument()
    me = exchange.new_enterprise()
    me.place(symbol, "buy", "1.000", "90.00")

    assert ok(me.post("/orders/cancel-all"), 200) == {"cancelled": 1}


def test_cancel_all_refuses_bad_input_and_changes_nothing(exchange: Exchange):
    symbol = exchange.new_instrument()
    me = exchange.new_enterprise()
    order = me.place(symbol, "buy", "1.000", "90.00")

    assert_error(me.post("/orders/cancel-all", {"symbol": "NOPE-2025"}), 422, "unknown_symbol")
    assert_error(me.post("/orders/cancel-all", {"symbol": 7}), 422)
    assert_error(me.post("/orders/cancel-all", {"account_id": "someone"}), 422)

    assert ok(me.get(f"/orders/{order['id']}"), 200)["status"] == "open"


def test_cancel_all_is_for_enterprises_only(exchange: Exchange):
    symbol = exchange.new_instrument()
    me = exchange.new_enterprise()
    order = me.place(symbol, "buy", "1.000", "90.00")

    for party in (exchange.province, exchange.operator, exchange.new_bureau(GUANGZHOU)):
        assert_error(party.post("/orders/cancel-all", {"symbol": symbol}), 403)

    assert ok(me.get(f"/orders/{order['id']}"), 200)["status"] == "open"


def test_openapi_documents_the_new_fields_and_cancel_all(exchange: Exchange):
    doc = ok(exchange.client.get("/openapi.json"), 200)
    assert "post" in doc["paths"]["/api/v1/orders/cancel-all"]
    order_in = doc["components"]["schemas"]["OrderIn"]["properties"]
    assert {"post_only", "self_trade_prevention"} <= set(order_in)
