"""The provincial reserve trades on the market like an enterprise, run by the province."""

from tests.e2e.helpers import Exchange, assert_error, ok, unique


def _fen(cny: str) -> int:
    whole, frac = cny.split(".")
    return int(whole) * 100 + int(frac)


def _reserve_order(exchange: Exchange, symbol: str, side: str, quantity: str, price: str):
    body = {
        "client_order_id": unique("r"),
        "symbol": symbol,
        "side": side,
        "type": "limit",
        "price": price,
        "quantity": quantity,
    }
    return exchange.province.post("/reserve/orders", body)


def test_the_province_buys_for_the_reserve_and_the_quota_lands_in_it(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    seller = exchange.seller(symbol, "5.000")
    before = ok(exchange.province.get("/reserve"))
    ok(exchange.operator.post("/accounts/RESERVE/deposits", {"amount": "1000.00"}))
    seller.place(symbol, "sell", "2.000", "100.00")
    order = ok(_reserve_order(exchange, symbol, "buy", "2.000", "100.00"), 201)
    assert order["status"] == "filled" and order["average_price"] == "100.00"
    after = ok(exchange.province.get("/reserve"))
    assert after["id"] == "RESERVE"
    assert after["allowances"][symbol]["available"] == "2.000"
    # 2 t at 100.00 = 200.00 CNY, plus the buyer's fee rounded half up
    fee_fen = (2 * 20_000 * exchange.fee_bps + 10_000) // 20_000
    expected_fen = _fen(before["cash"]["available"]) + 100_000 - 20_000 - fee_fen
    assert _fen(after["cash"]["available"]) == expected_fen
    assert after["cash"]["locked"] == "0.00"


def test_a_resting_reserve_order_can_be_cancelled_by_the_province_only(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    ok(exchange.operator.post("/accounts/RESERVE/deposits", {"amount": "500.00"}))
    order = ok(_reserve_order(exchange, symbol, "buy", "1.000", "95.00"), 201)
    assert order["status"] == "open"
    enterprise = exchange.new_enterprise()
    assert_error(enterprise.delete(f"/reserve/orders/{order['id']}"), 403, "forbidden")
    assert_error(enterprise.delete(f"/orders/{order['id']}"), 404)
    cancelled = ok(exchange.province.delete(f"/reserve/orders/{order['id']}"))
    assert cancelled["status"] == "cancelled" and cancelled["cancel_reason"] == "user"
    assert_error(exchange.province.delete(f"/reserve/orders/{order['id']}"), 409, "order_not_open")


def test_only_the_province_runs_the_reserve(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    for party in (exchange.new_enterprise(), exchange.operator, exchange.new_bureau("440300")):
        assert_error(party.get("/reserve"), 403, "forbidden")
        assert_error(
            party.post(
                "/reserve/orders",
                {
                    "client_order_id": unique("r"),
                    "symbol": symbol,
                    "side": "buy",
                    "price": "100.00",
                    "quantity": "1",
                },
            ),
            403,
            "forbidden",
        )
    assert_error(exchange.client.get("/api/v1/reserve"), 401, "unauthorized")
