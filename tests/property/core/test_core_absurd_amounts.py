"""Absurd amounts never break the core nor anything it would store.

Random sequences of deposits, withdrawals, claims and approvals, orders and amendments,
with amounts from one unit up to far past 64 bits. After every command:

- `apply` returned (a refusal is an error code, never an exception);
- a refused command changed nothing (the state hash is the one before it, but for
  `last_seq`), so it cannot have disturbed anyone else's balances;
- every integer the read models store (balances, postings' totals, holdings, an
  order's filled value, a session's traded value) fits a 64-bit column, so the group
  commit that carries the command and its neighbours cannot fail on it.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settlement.limits import BALANCE_LIMIT
from tests.core_driver import SYMBOL, CoreDriver

BIGINT_MAX = 2**63 - 1
KNOWN_REFUSALS = {
    "amount_too_large",
    "balance_limit",
    "insufficient_cash",
    "insufficient_allowances",
    "price_outside_band",
    "order_not_open",
    "invalid_amount",
    "approved_exceeds_claim",
    "already_verified",
    "unknown_claim",
    "invalid_price",
    "invalid_quantity",
    "price_not_on_tick",
    "quantity_not_on_lot",
    "fok_not_fillable",
    "no_change",
    "market_order_no_liquidity",
}

amounts = st.one_of(
    st.integers(1, 10**6),
    st.integers(1, 10**15),
    st.integers(10**14, 2**62 + 10),
    st.sampled_from([2**62, 2**62 + 1, 2**63 - 1, 2**63, 2**64, 10**30]),
)
prices = st.one_of(
    st.integers(290_000, 350_000),
    st.integers(1, 10**12),
    st.sampled_from([10**9, 10**9 + 1, 2**62, 10**20]),
)


def _state_without_seq(driver: CoreDriver) -> str:
    core = driver.core
    seq = core.last_seq
    core.last_seq = 0
    try:
        return core.state_hash()
    finally:
        core.last_seq = seq


def _assert_everything_fits(driver: CoreDriver) -> None:
    core = driver.core
    reg = core.registry
    for account in reg.accounts():
        available, locked = reg.cash(account.account_id)
        assert 0 <= available <= BALANCE_LIMIT and 0 <= locked <= BALANCE_LIMIT
        assert available + locked <= BIGINT_MAX
        for symbol in reg.symbols():
            for kg in reg.allowances(account.account_id, symbol):
                assert 0 <= kg <= BALANCE_LIMIT
    for row in reg.ledger_rows(SYMBOL):
        for kg in (row.added, row.used, row.transferred_in, row.transferred_out):
            assert 0 <= kg <= BIGINT_MAX
    for rec in core.open_orders.values():
        for value in (rec.filled_value, rec.filled_kg, rec.quantity_kg, rec.remaining_kg):
            assert 0 <= value <= BIGINT_MAX, rec
        assert rec.price_fen is None or 0 < rec.price_fen <= BIGINT_MAX
    for stats in core.stats.values():
        assert 0 <= stats.value <= BIGINT_MAX and 0 <= stats.volume_kg <= BIGINT_MAX


commands = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.integers(0, 2), amounts),
        st.tuples(st.just("withdraw"), st.integers(0, 2), amounts),
        st.tuples(st.just("issue"), st.integers(0, 2), amounts),
        st.tuples(st.just("buy"), st.integers(0, 2), st.tuples(prices, amounts)),
        st.tuples(st.just("sell"), st.integers(0, 2), st.tuples(prices, amounts)),
        st.tuples(st.just("market_buy"), st.integers(0, 2), amounts),
        st.tuples(st.just("amend"), st.integers(0, 2), st.tuples(prices, amounts)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=commands)
def test_absurd_amounts_are_refused_whole_and_nothing_stored_overflows(steps):
    driver = CoreDriver(fee_bps=10)
    driver.list_nox(reference_fen=320_000, band_bps=10_000)
    bureau = driver.account("bureau", "city_bureau", "440100")
    firms = [driver.account(f"firm{i}") for i in range(3)]
    for kind, who, arg in steps:
        firm = firms[who]
        before = _state_without_seq(driver)
        if kind == "deposit":
            out = driver.apply({"kind": "deposit", "account_id": firm, "amount_fen": arg})
        elif kind == "withdraw":
            out = driver.apply({"kind": "withdraw", "account_id": firm, "amount_fen": arg})
        elif kind == "issue":
            claim = driver.apply(
                {
                    "kind": "claim_reduction",
                    "account_id": firm,
                    "symbol": SYMBOL,
                    "quantity_kg": arg,
                    "source_kind": "deep_treatment",
                    "description": "",
                    "evidence": "",
                }
            )
            if claim.error is not None:
                out = claim
            else:
                before = _state_without_seq(driver)
                out = driver.apply(
                    {
                        "kind": "verify_reduction",
                        "account_id": bureau,
                        "claim_id": claim.result["claim_id"],
                        "decision": "approve",
                        "approved_kg": arg,
                        "method": "online_monitoring",
                        "note": "",
                    }
                )
        elif kind in ("buy", "sell"):
            price, kg = arg
            out = driver.order(firm, kind, price, kg)
        elif kind == "market_buy":
            out = driver.order(firm, "buy", None, arg, tif="IOC", order_type="market")
        else:
            price, kg = arg
            mine = [r for r in driver.core.open_orders.values() if r.account_id == firm]
            if not mine:
                continue
            out = driver.apply(
                {
                    "kind": "amend_order",
                    "account_id": firm,
                    "order_id": mine[0].id,
                    "price_fen": price,
                    "quantity_kg": kg,
                }
            )
        if out.error is not None:
            assert out.error[0] in KNOWN_REFUSALS, out.error
            assert not out.settlement_events and not out.orders, out
            assert _state_without_seq(driver) == before, out.error
        driver.core.registry.check_invariants()
        _assert_everything_fits(driver)


def test_deposits_stop_at_the_balance_limit_with_balance_limit():
    driver = CoreDriver()
    firm = driver.account("firm")
    other = driver.account("other")
    driver.deposit(firm, BALANCE_LIMIT - 10)
    out = driver.apply({"kind": "deposit", "account_id": other, "amount_fen": 11})
    assert out.error is not None and out.error[0] == "balance_limit"
    driver.deposit(other, 10)
    assert driver.core.registry.cash(other) == (10, 0)


def test_approvals_stop_at_the_balance_limit_with_balance_limit():
    driver = CoreDriver()
    driver.list_nox()
    bureau = driver.account("bureau", "city_bureau", "440100")
    firm = driver.account("firm")
    driver.issue(firm, bureau, BALANCE_LIMIT - 5)
    claim = driver.ok(
        {
            "kind": "claim_reduction",
            "account_id": firm,
            "symbol": SYMBOL,
            "quantity_kg": 6,
            "source_kind": "deep_treatment",
            "description": "",
            "evidence": "",
        }
    )["claim_id"]
    out = driver.apply(
        {
            "kind": "verify_reduction",
            "account_id": bureau,
            "claim_id": claim,
            "decision": "approve",
            "approved_kg": 6,
            "method": "online_monitoring",
            "note": "",
        }
    )
    assert out.error is not None and out.error[0] == "balance_limit"
