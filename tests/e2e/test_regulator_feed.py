"""/ws/regulator for the province and the city bureaus, on both backends (in-process bus;
Redis): the isolation matrix. Each bureau receives exactly the trades where the buyer or
the seller is of its city, the alerts and acknowledgements about its city's accounts, and
nothing of any other city; the province receives everything.

No waiting on quiet periods: the last act is one out-of-band order per city (an alert on
every city's channel, in order), and a feed preserves publication order, so once a feed has
its city's last alert it has everything that was meant for it."""

from __future__ import annotations

from contextlib import ExitStack

from tests.e2e.helpers import (
    FOSHAN,
    GUANGZHOU,
    SHENZHEN,
    ZHUHAI,
    Exchange,
    assert_error,
    authenticate,
    ok,
    recv_until,
)

CITIES = (GUANGZHOU, SHENZHEN, ZHUHAI, FOSHAN)


def out_of_band(exchange: Exchange, party, symbol: str) -> dict:
    assert_error(party.order(symbol, "buy", "1.000", "150.00"), 409, "price_outside_band")
    items = ok(
        exchange.province.get("/surveillance/alerts", params={"kind": "price_band_rejection"})
    )["items"]
    (alert,) = [a for a in items if a["account_id"] == party.account_id]
    return alert


def identity(msg: dict) -> tuple:
    d = msg["data"]
    if msg["type"] == "trade":
        return ("trade", d["id"], d["buyer"]["city_code"], d["seller"]["city_code"])
    if msg["type"] == "alert":
        return ("alert", d["account_id"], d["kind"], d["status"])
    return (msg["type"], d["account_id"], d["status"], d["id"])


def test_each_bureau_receives_its_citys_trades_and_alerts_and_nothing_else(exchange: Exchange):
    symbol = exchange.new_instrument("100.00")
    gz_seller = exchange.seller(symbol, "5.000", GUANGZHOU)
    sz_buyer = exchange.new_enterprise(SHENZHEN)
    fs_seller = exchange.seller(symbol, "5.000", FOSHAN)
    fs_buyer = exchange.new_enterprise(FOSHAN)
    gz_alerted, fs_alerted = exchange.new_enterprise(GUANGZHOU), exchange.new_enterprise(FOSHAN)
    last_word = {city: exchange.new_enterprise(city) for city in CITIES}
    bureaus = {city: exchange.new_bureau(city) for city in CITIES}

    with ExitStack() as stack:
        feeds = {
            name: stack.enter_context(exchange.ws("/ws/regulator"))
            for name in ("province", *CITIES)
        }
        assert authenticate(feeds["province"], exchange.province.token)["type"] == "auth_ok"
        for city in CITIES:
            welcome = authenticate(feeds[city], bureaus[city].token)
            assert welcome["type"] == "auth_ok"
            assert welcome["data"] == {
                "account_id": bureaus[city].account_id,
                "role": "city_bureau",
            }

        gz_seller.place(symbol, "sell", "1.000", "100.00")
        sz_buyer.place(symbol, "buy", "1.000", "100.00")  # Guangzhou sells to Shenzhen
        fs_seller.place(symbol, "sell", "2.000", "100.00")
        fs_buyer.place(symbol, "buy", "2.000", "100.00")  # within Foshan
        gz_alert = out_of_band(exchange, gz_alerted, symbol)
        out_of_band(exchange, fs_alerted, symbol)
        ok(exchange.province.post(f"/surveillance/alerts/{gz_alert['id']}/acknowledge", {}))
        for city in CITIES:
            out_of_band(exchange, last_word[city], symbol)

        def until_last_word(feed, city) -> list[dict]:
            return recv_until(
                feeds[feed],
                lambda m: (
                    m["type"] == "alert" and m["data"]["account_id"] == last_word[city].account_id
                ),
                timeout=15,
            )

        got = {city: until_last_word(city, city) for city in CITIES}
        got["province"] = until_last_word("province", FOSHAN)

    trades = {
        t["id"]: (t["buyer"]["city_code"], t["seller"]["city_code"])
        for t in ok(exchange.province.get("/trades", params={"symbol": symbol}))["items"]
    }
    (cross,) = [i for i, cities in trades.items() if cities == (SHENZHEN, GUANGZHOU)]
    (local,) = [i for i, cities in trades.items() if cities == (FOSHAN, FOSHAN)]
    band = "price_band_rejection"
    expected = {
        GUANGZHOU: [
            ("trade", cross, SHENZHEN, GUANGZHOU),
            ("alert", gz_alerted.account_id, band, "open"),
            ("alert_ack", gz_alerted.account_id, "acknowledged", gz_alert["id"]),
            ("alert", last_word[GUANGZHOU].account_id, band, "open"),
        ],
        SHENZHEN: [
            ("trade", cross, SHENZHEN, GUANGZHOU),
            ("alert", last_word[SHENZHEN].account_id, band, "open"),
        ],
        ZHUHAI: [("alert", last_word[ZHUHAI].account_id, band, "open")],
        FOSHAN: [
            ("trade", local, FOSHAN, FOSHAN),
            ("alert", fs_alerted.account_id, band, "open"),
            ("alert", last_word[FOSHAN].account_id, band, "open"),
        ],
        "province": [
            ("trade", cross, SHENZHEN, GUANGZHOU),
            ("trade", local, FOSHAN, FOSHAN),
            ("alert", gz_alerted.account_id, band, "open"),
            ("alert", fs_alerted.account_id, band, "open"),
            ("alert_ack", gz_alerted.account_id, "acknowledged", gz_alert["id"]),
            *[("alert", last_word[c].account_id, band, "open") for c in CITIES],
        ],
    }
    for feed, messages in got.items():
        assert [identity(m) for m in messages] == expected[feed], feed
        assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1)), feed
    # a live alert carries the id it is acknowledged by
    (live_gz_alert,) = [
        m
        for m in got[GUANGZHOU]
        if m["type"] == "alert" and m["data"]["account_id"] == gz_alerted.account_id
    ]
    assert live_gz_alert["data"]["id"] == gz_alert["id"]
    assert live_gz_alert["data"]["seq"] == gz_alert["seq"]
    assert live_gz_alert["data"]["ordinal"] == gz_alert["ordinal"] == 0
    # a trade reaches a bureau with both parties, as the province sees it
    (cross_for_shenzhen,) = [m for m in got[SHENZHEN] if m["type"] == "trade"]
    (cross_for_province,) = [
        m for m in got["province"] if m["type"] == "trade" and m["data"]["id"] == cross
    ]
    assert cross_for_shenzhen["data"] == cross_for_province["data"]
    assert cross_for_shenzhen["data"]["seller"]["account_id"] == gz_seller.account_id
