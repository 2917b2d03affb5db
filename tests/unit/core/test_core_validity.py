"""Validity through the core: an instrument valid through a day (Asia/Shanghai) trades
until the last microsecond of it, and the first command stamped after it expires the
instrument, whatever that command is."""

from __future__ import annotations

from datetime import date

from exchange.core.state import Core
from exchange.core.units import end_of_day_us
from tests.core_driver import SYMBOL, CoreDriver

END_US = end_of_day_us(date(2026, 1, 1))


def test_the_day_ends_at_midnight_in_shanghai():
    assert END_US == 1_767_283_200_000_000  # 2026-01-01T16:00:00Z = 2026-01-02T00:00+08:00


def world() -> tuple[CoreDriver, str]:
    d = CoreDriver(fee_bps=0)
    d.ok(
        {
            "kind": "list_instrument",
            "symbol": SYMBOL,
            "pollutant": "NOx",
            "vintage": 2025,
            "tick_fen": 1,
            "lot_kg": 1,
            "reference_price_fen": 300_000,
            "band_bps": 1_000,
            "valid_until": "2026-01-01",
            "valid_until_end_us": END_US,
        }
    )
    bureau = d.account("bureau", "city_bureau")
    seller = d.account("seller")
    d.issue(seller, bureau, 5_000)
    return d, seller


def place_at(d: CoreDriver, account: str, ts_us: int):
    return d.apply(
        {
            "kind": "place_order",
            "account_id": account,
            "client_order_id": f"c{ts_us}",
            "request_hash": "h",
            "symbol": SYMBOL,
            "side": "sell",
            "type": "limit",
            "price_fen": 300_000,
            "quantity_kg": 1_000,
            "time_in_force": "GTC",
        },
        ts_us,
    )


def test_the_last_microsecond_of_the_day_still_trades():
    d, seller = world()
    out = place_at(d, seller, END_US - 1)
    assert out.error is None and out.expired == []
    assert d.core.status(SYMBOL) == "open"


def test_the_first_command_after_the_day_cancels_resting_orders_and_refuses_new_ones():
    d, seller = world()
    resting = place_at(d, seller, END_US - 1).result["order_id"]
    assert d.core.registry.allowances(seller, SYMBOL) == (4_000, 1_000, 0)
    out = place_at(d, seller, END_US)
    assert out.error == ("instrument_expired", f"{SYMBOL} has expired")
    assert out.expired == [SYMBOL]
    (record,) = out.orders
    assert (record.id, record.status, record.cancel_reason) == (resting, "cancelled", "expired")
    assert d.core.registry.allowances(seller, SYMBOL) == (5_000, 0, 0)  # holdings stay
    assert d.core.status(SYMBOL) == "expired"
    # only once: later commands find nothing more to expire
    assert place_at(d, seller, END_US + 5).expired == []


def test_a_restored_core_expires_at_the_same_point():
    d, seller = world()
    place_at(d, seller, END_US - 1)
    restored = CoreDriver(core=Core.restore(d.core.snapshot()))
    for driver in (d, restored):
        place_at(driver, seller, END_US + 1)
    assert restored.core.state_hash() == d.core.state_hash()
    assert restored.core.status(SYMBOL) == "expired"
