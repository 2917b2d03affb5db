"""GET /metrics on the real server: Prometheus text that counts what the core did.

The e2e client connects over loopback, so it reads without a token; access from
other addresses is tested in tests/integration/test_metrics_access.py.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.helpers import authenticate, ok


def scrape(exchange) -> dict:
    r = exchange.client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_orders_trades_rejects_and_commits(exchange):
    symbol = exchange.new_instrument("100.00")
    seller = exchange.seller(symbol, "10.000")
    buyer = exchange.new_enterprise(cash="100000.00")
    broke = exchange.new_enterprise(cash=None)
    before = scrape(exchange)

    seller.place(symbol, "sell", "1.000", "100.00")
    buyer.place(symbol, "buy", "1.000", "100.00")
    refused = broke.order(symbol, "buy", "1.000", "100.00")
    assert refused.status_code in (409, 422), refused.text
    code = refused.json()["error"]["code"]

    after = scrape(exchange)
    assert value(after, "emx_orders_total") - value(before, "emx_orders_total") == 2
    assert value(after, "emx_trades_total") - value(before, "emx_trades_total") == 1
    assert (
        value(after, "emx_rejects_total", code=code) - value(before, "emx_rejects_total", code=code)
        == 1
    )
    assert value(after, "emx_commit_seconds_count") >= value(before, "emx_commit_seconds_count") + 3
    assert value(after, "emx_commit_seconds_bucket", le="+Inf") == value(
        after, "emx_commit_seconds_count"
    )
    assert value(after, "emx_queue_depth") >= 0
    assert ("emx_feed_clients", ()) in after
    assert ("emx_feed_backlog_messages", ()) in after
    ok(exchange.client.get("/healthz"), 200)


def test_metrics_see_an_open_feed_client(exchange):
    party = exchange.new_enterprise(cash=None)
    with exchange.ws("/ws/private") as ws:
        assert authenticate(ws, party.token)["type"] == "auth_ok"
        # other tests' sockets may still be closing on the shared server: at least this one
        assert value(scrape(exchange), "emx_feed_clients") >= 1
