from exchange.core.surveillance import Surveillance, Thresholds
from matching_engine.events import OrderAccepted, OrderCancelled, SessionClosed, Trade
from matching_engine.types import CancelReason, OrderType, Side, TimeInForce

SYM = "NOX-2025"


def trade(seq, price, kg, maker="m", taker="t"):
    return Trade(seq, seq, SYM, seq, price, kg, Side.BUY, 1, maker, 0, 2, taker, 0)


def accepted(seq, owner):
    return OrderAccepted(
        seq, seq, SYM, seq, owner, Side.BUY, OrderType.LIMIT, 100, 1, TimeInForce.GTC
    )


def cancelled(seq, owner, reason=CancelReason.USER):
    return OrderCancelled(seq, seq, SYM, seq, owner, Side.BUY, 100, 1, reason)


def test_a_trade_moving_the_price_more_than_the_threshold_raises_an_alert():
    s = Surveillance(Thresholds(price_move_bps=500))
    assert s.observe([trade(1, 100_000, 1)]) == []
    assert s.observe([trade(2, 104_999, 1)]) == []  # 4.999 % from 100000
    alerts = s.observe([trade(3, 99_000, 1)])  # -5.71 % from 104999
    assert [a["kind"] for a in alerts] == ["large_price_move"]
    assert alerts[0]["detail"]["previous_price_fen"] == 104_999


def test_one_account_taking_most_of_the_volume_is_raised_once_per_session():
    s = Surveillance(Thresholds(concentration_bps=5_000, concentration_min_volume_kg=1_000))
    alerts = s.observe([trade(1, 100, 600, maker="a", taker="b"), trade(2, 100, 600, "a", "c")])
    # after trade 2: a has 1200 of 1200 kg; b and c each 600 (50 %, not above)
    assert [(a["kind"], a["account_id"]) for a in alerts] == [("concentration", "a")]
    assert s.observe([trade(3, 100, 600, "a", "d")]) == []
    s.observe([SessionClosed(4, 4, SYM, 100, 0)])
    again = s.observe([trade(5, 100, 1_000, "a", "e")])
    assert ("concentration", "a") in {(a["kind"], a["account_id"]) for a in again}


def test_small_volumes_do_not_count_as_concentration():
    s = Surveillance(Thresholds(concentration_min_volume_kg=50_000))
    assert s.observe([trade(1, 100, 1_000, "a", "b")]) == []


def test_a_high_order_to_cancel_ratio_raises_an_alert():
    s = Surveillance(Thresholds(cancel_ratio_pct=90, cancel_ratio_min_orders=10))
    s.observe([accepted(i, "spoofer") for i in range(10)])
    alerts = []
    for i in range(9):
        alerts += s.observe([cancelled(100 + i, "spoofer")])
    assert [a["kind"] for a in alerts] == ["order_to_cancel_ratio"]
    assert alerts[0]["detail"] == {"orders": 10, "cancels": 9}


def test_cancels_the_exchange_made_do_not_count_towards_the_ratio():
    s = Surveillance(Thresholds(cancel_ratio_pct=50, cancel_ratio_min_orders=2))
    s.observe([accepted(1, "x"), accepted(2, "x")])
    assert s.observe([cancelled(3, "x", CancelReason.IOC_REMAINDER)]) == []
    assert s.observe([cancelled(4, "x", CancelReason.EXPIRED)]) == []


def test_surveillance_state_survives_a_snapshot():
    s = Surveillance()
    s.observe([trade(1, 100_000, 5, "a", "b"), accepted(2, "a")])
    t = Surveillance()
    t.restore(s.snapshot())
    assert t.snapshot() == s.snapshot()
