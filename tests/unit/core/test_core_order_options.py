"""Post-only, per-order self-trade prevention and cancel-all through the core:
records, locks, refusals that change nothing, replay and snapshots."""

import pytest

from exchange.core.state import Core
from tests.core_driver import SYMBOL, CoreDriver


@pytest.fixture
def market() -> tuple[CoreDriver, str, str]:
    d = CoreDriver(fee_bps=25)
    d.list_nox()
    bureau = d.account("bureau-gz", "city_bureau", "440100")
    trader = d.account("trader", city="440100")
    other = d.account("other", city="440100")
    for account in (trader, other):
        d.issue(account, bureau, 10_000)
        d.deposit(account, 100_000_000)
    return d, trader, other


def place(d: CoreDriver, account: str, side: str, price_fen: int, kg: int, **options):
    return d.apply(
        {
            "kind": "place_order",
            "account_id": account,
            "client_order_id": f"c{d.core.last_seq + 1}",
            "request_hash": "h",
            "symbol": SYMBOL,
            "side": side,
            "type": "limit",
            "price_fen": price_fen,
            "quantity_kg": kg,
            "time_in_force": "GTC",
            **options,
        }
    )


def test_records_carry_post_only_and_the_mode(market):
    d, trader, _ = market
    rec = place(d, trader, "buy", 310_000, 1_000, post_only=True,
                self_trade_prevention="cancel_both").orders[0]  # fmt: skip
    plain = place(d, trader, "buy", 309_000, 1_000).orders[0]

    assert (rec.post_only, rec.self_trade_prevention) == (True, "cancel_both")
    assert (plain.post_only, plain.self_trade_prevention) == (False, "cancel_incoming")


def test_a_crossing_post_only_order_is_refused_and_locks_nothing(market):
    d, trader, other = market
    place(d, other, "sell", 320_000, 1_000)
    cash_before = d.core.registry.cash(trader)

    out = place(d, trader, "buy", 320_000, 1_000, post_only=True)

    assert out.error[0] == "post_only_would_cross"
    assert out.orders == [] and d.core.registry.cash(trader) == cash_before


def test_cancel_both_releases_both_locks(market):
    d, trader, _ = market
    place(d, trader, "sell", 320_000, 2_000)
    cash, allowances = d.core.registry.cash(trader), d.core.registry.allowances(trader, SYMBOL)

    out = place(d, trader, "buy", 320_000, 1_000, self_trade_prevention="cancel_both")

    assert [(r.status, r.cancel_reason) for r in out.orders] == [("cancelled", "self_trade")] * 2
    assert d.core.registry.cash(trader)[1] == 0
    assert d.core.registry.allowances(trader, SYMBOL)[1] == 0
    assert d.core.registry.cash(trader)[0] == cash[0] + cash[1]
    assert d.core.registry.allowances(trader, SYMBOL)[0] == allowances[0] + allowances[1]
    assert d.core.open_orders == {}


def test_cancel_all_cancels_only_the_callers_orders_and_releases_their_locks(market):
    d, trader, other = market
    place(d, trader, "buy", 310_000, 1_000)
    place(d, trader, "sell", 330_000, 1_000)
    theirs = place(d, other, "buy", 311_000, 1_000).orders[0]

    out = d.apply({"kind": "cancel_all", "account_id": trader})

    assert out.result == {"cancelled": 2}
    assert {(r.account_id, r.status, r.cancel_reason) for r in out.orders} == {
        (trader, "cancelled", "user")
    }
    assert d.core.registry.cash(trader)[1] == 0
    assert d.core.registry.allowances(trader, SYMBOL)[1] == 0
    assert list(d.core.open_orders) == [theirs.id]


def test_cancel_all_of_an_unknown_symbol_is_refused(market):
    d, trader, _ = market
    place(d, trader, "buy", 310_000, 1_000)

    out = d.apply({"kind": "cancel_all", "account_id": trader, "symbol": "SO2-2025"})

    assert out.error[0] == "unknown_symbol"
    assert len(d.core.open_orders) == 1


def test_replay_and_restore_keep_the_order_options(market):
    d, trader, other = market
    place(d, trader, "buy", 310_000, 1_000, post_only=True, self_trade_prevention="cancel_both")
    place(d, other, "sell", 330_000, 1_000, self_trade_prevention="cancel_resting")
    place(d, trader, "sell", 331_000, 1_000)
    d.apply({"kind": "cancel_all", "account_id": trader, "symbol": SYMBOL})
    place(d, trader, "buy", 309_000, 1_000, self_trade_prevention="cancel_resting")

    assert d.replay().state_hash() == d.core.state_hash()
    restored = Core.restore(d.core.snapshot())
    assert restored.state_hash() == d.core.state_hash()
    modes = {r.id: (r.post_only, r.self_trade_prevention) for r in restored.open_orders.values()}
    assert sorted(modes.values()) == [(False, "cancel_resting"), (False, "cancel_resting")]
