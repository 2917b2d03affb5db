from exchange.core.views import order_view, ticker_view


def _order(**over):
    row = {
        "id": 7,
        "client_order_id": "c",
        "symbol": "NOX-2025",
        "side": "buy",
        "type": "limit",
        "price_fen": 320_000,
        "quantity_kg": 3_000,
        "remaining_kg": 0,
        "filled_kg": 3_000,
        "filled_value_fen": 0,
        "time_in_force": "GTC",
        "post_only": False,
        "self_trade_prevention": "cancel_incoming",
        "status": "filled",
        "cancel_reason": None,
        "created_us": 0,
        "updated_us": 0,
    }
    row.update(over)
    return row


def test_average_price_is_the_quantity_weighted_mean_rounded_half_up():
    # 1 t at 100.00 and 2 t at 100.01: (10000*1000 + 10001*2000) / 3000 = 10000.666.. -> 10001
    view = order_view(_order(filled_value_fen=10_000 * 1_000 + 10_001 * 2_000))
    assert view["average_price"] == "100.01"
    assert view["id"] == "7"
    assert view["quantity"] == "3.000"


def test_average_price_is_null_without_fills():
    assert order_view(_order(filled_kg=0, remaining_kg=3_000))["average_price"] is None


def _session(**over):
    s = {
        "prev_close_fen": 320_000,
        "open_fen": 321_000,
        "high_fen": 330_000,
        "low_fen": 310_000,
        "last_fen": 316_800,
        "volume_kg": 4_000,
        "value": 321_000 * 1_000 + 316_800 * 3_000,
        "trade_count": 2,
    }
    s.update(over)
    return s


def test_ticker_change_is_measured_from_the_previous_close():
    t = ticker_view(_session())
    assert t["last"] == "3168.00"
    assert t["change"] == "-32.00"
    assert t["change_pct"] == "-1.00"
    assert t["volume"] == "4.000"
    # (3210.00*1 + 3168.00*3) / 4 = 3178.50
    assert t["vwap"] == "3178.50"


def test_ticker_is_null_before_the_first_trade():
    t = ticker_view(_session(last_fen=None, open_fen=None, high_fen=None, low_fen=None))
    assert t["last"] is None and t["vwap"] is None and t["change"] is None
