"""Ceilings and the balance limit over HTTP: absurd amounts are refused whole, and no
request, however large, makes another client's request fail."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.helpers import Exchange, assert_error, ok

ABSURD_CNY = "999999999999999.99"  # 10^17 fen: 93 of these passed 64 bits and failed the batch


def test_absurd_deposits_and_claims_are_422_and_every_neighbour_order_succeeds(
    exchange: Exchange,
):
    symbol = exchange.new_instrument("100.00")
    target = exchange.new_enterprise(cash=None)
    seller = exchange.seller(symbol, "500.000")  # 50 sells of 1 t
    buyer = exchange.new_enterprise(cash="100000.00")

    def absurd_deposit(_):
        return exchange.operator.post(
            f"/accounts/{target.account_id}/deposits", {"amount": ABSURD_CNY}
        )

    def absurd_claim(_):
        body = {"symbol": symbol, "quantity": "99999999999.000", "source_kind": "deep_treatment"}
        return target.post("/reductions", body)

    def neighbour_order(n):
        party, side = (seller, "sell") if n % 2 else (buyer, "buy")
        return party.order(symbol, side, "1.000", "100.00")

    # interleaved, so the absurd requests and the orders share the core's batches
    tasks = []
    for n in range(100):
        tasks += [(absurd_deposit, n), (neighbour_order, n)]
        if n % 5 == 0:
            tasks.append((absurd_claim, n))
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda task: (task[0], task[0](task[1])), tasks))
    orders = [r for fn, r in results if fn is neighbour_order]
    deposits = [r for fn, r in results if fn is absurd_deposit]
    claims = [r for fn, r in results if fn is absurd_claim]
    # the neighbours first: before the ceilings, the deposits past 64 bits failed their
    # whole group commit, 503 for the orders sequenced beside them
    failed = [(r.status_code, r.text) for r in orders if r.status_code != 201]
    assert not failed, failed
    for r in (*deposits, *claims):
        assert_error(r, 422, "amount_too_large")
    assert target.me()["cash"] == {"available": "0.00", "locked": "0.00"}


@pytest.mark.parametrize(
    "path_role, body, limit_ok, over",
    [
        ("deposit", "amount", "1000000000000.00", "1000000000000.01"),
        ("order", "quantity", "1000000.000", "1000000.001"),
        ("claim", "quantity", "10000000.000", "10000000.001"),
        ("instrument", "reference_price", "10000000.00", "10000000.01"),
    ],
)
def test_each_ceiling_is_inclusive(exchange: Exchange, path_role, body, limit_ok, over):
    if path_role == "deposit":
        ent = exchange.new_enterprise(cash=None)

        def send(v):
            return exchange.operator.post(f"/accounts/{ent.account_id}/deposits", {body: v})

        ok(send(limit_ok), 201)
    elif path_role == "order":
        symbol = exchange.new_instrument("100.00")
        ent = exchange.new_enterprise(cash=None)

        def send(v):
            return ent.order(symbol, "buy", v, "100.00")

        # at the ceiling the order is judged on its merits (no cash here), not its size
        assert_error(send(limit_ok), 409, "insufficient_cash")
    elif path_role == "claim":
        symbol = exchange.new_instrument("100.00")
        ent = exchange.new_enterprise(cash=None)

        def send(v):
            return ent.post(
                "/reductions", {"symbol": symbol, body: v, "source_kind": "deep_treatment"}
            )

        ok(send(limit_ok), 201)
    else:

        def send(v):
            return exchange.province.post(
                "/instruments",
                {
                    "symbol": f"C{secrets.token_hex(3).upper()}-2025",
                    "pollutant": "NOx",
                    "vintage": 2025,
                    "reference_price": v,
                    "price_band_pct": "10",
                },
            )

        ok(send(limit_ok), 201)
    assert_error(send(over), 422, "amount_too_large")


def test_an_order_that_could_push_the_sessions_traded_value_past_64_bits_is_409(
    exchange: Exchange,
):
    # a session's traded value is Σ price × kg; four trades of 1,000,000 t at
    # 10,000,000.00 CNY/t bring it to 4 × 10^18, and one more could pass 2^62
    symbol = exchange.new_instrument("10000000.00")
    seller = exchange.seller(symbol, "5000000.000")
    buyer = exchange.new_enterprise(cash=None)
    for _ in range(41):
        exchange.deposit(buyer, "1000000000000.00")
    for _ in range(4):
        seller.place(symbol, "sell", "1000000.000", "10000000.00")
        assert buyer.place(symbol, "buy", "1000000.000", "10000000.00")["status"] == "filled"
    assert_error(seller.order(symbol, "sell", "1000000.000", "10000000.00"), 409, "balance_limit")
    # a smaller order still fits, and other instruments are not affected
    seller.place(symbol, "sell", "1.000", "10000000.00")
    other = exchange.new_instrument("100.00")
    exchange.seller(other).place(other, "sell", "1.000", "100.00")
