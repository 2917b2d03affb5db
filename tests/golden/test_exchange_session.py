"""Golden acceptance: a fixed, readable command file through the whole core must
give exactly these trades, balances, ledger rows and provenance (checked by
hand: e.g. 0.845 t at 3225.50 = 2725.5475 CNY -> 2725.55, fee 30 bps -> 8.18);
then a reset and replay must reach the same state hash."""

import json
from pathlib import Path

from settlement.events import TradeSettled
from tests.core_driver import SYMBOL, CoreDriver

HERE = Path(__file__).parent
COMMANDS = [json.loads(line) for line in (HERE / "exchange_session.jsonl").read_text().splitlines()]
EXPECTED = json.loads((HERE / "exchange_session.expected.json").read_text())


def run() -> tuple[CoreDriver, list[TradeSettled], dict]:
    d = CoreDriver(fee_bps=EXPECTED["fee_bps"])
    trades, statuses = [], {}
    for command in COMMANDS:
        out = d.apply(command)
        assert out.error is None, (command, out.error)
        trades += [e for e in out.settlement_events if type(e) is TradeSettled]
        statuses.update({str(r.id): r.status for r in out.orders})
    return d, trades, statuses


def test_the_session_produces_exactly_the_golden_trades():
    _, trades, _ = run()
    got = [
        {
            "trade_id": t.trade_id,
            "price_fen": t.price_fen,
            "quantity_kg": t.quantity_kg,
            "seller": t.seller_account_id,
            "buyer": t.buyer_account_id,
            "cash_fen": t.cash_fen,
            "fee_fen_each_side": t.buyer_fee_fen,
            "lots": [list(lot) for lot in t.lots],
        }
        for t in trades
    ]
    assert got == EXPECTED["trades"]
    assert all(t.buyer_fee_fen == t.seller_fee_fen for t in trades)


def test_the_session_leaves_exactly_the_golden_balances_ledger_and_provenance():
    d, _, statuses = run()
    reg = d.core.registry
    assert {a: list(reg.cash(a)) for a in EXPECTED["cash_fen"]} == EXPECTED["cash_fen"]
    assert {a: list(reg.allowances(a, SYMBOL)) for a in EXPECTED["allowances_kg"]} == EXPECTED[
        "allowances_kg"
    ]
    ledger = {
        r.city_code: {
            "added": r.added,
            "used": r.used,
            "transferred_in": r.transferred_in,
            "transferred_out": r.transferred_out,
            "remaining": r.remaining,
        }
        for r in reg.ledger_rows(SYMBOL)
        if r.added or r.used or r.transferred_in or r.transferred_out
    }
    assert ledger == EXPECTED["ledger"]
    assert [list(s) for s in reg.project_sources("PRJ-20")] == EXPECTED["project_sources"]
    assert (
        d.core.engine.instrument(SYMBOL).reference_price_fen
        == EXPECTED["reference_price_fen_after_close"]
    )
    assert statuses == EXPECTED["order_status"]


def test_reset_and_replay_reach_the_same_state():
    first, _, _ = run()
    second, _, _ = run()
    assert first.core.state_hash() == second.core.state_hash()
    assert first.replay().state_hash() == first.core.state_hash()


# The core's state hash after the session, computed before orders carried post-only
# and their own self-trade mode (commit 53f4713): journals written then must replay
# to the state they recorded.
HASH_BEFORE_ORDER_OPTIONS = "e4d03765160810633abaacd23ddef668556f7aec02c3d18502d90849b832d7f1"


def test_the_session_keeps_the_state_hash_it_had_before_order_options():
    d, _, _ = run()
    assert d.core.state_hash() == HASH_BEFORE_ORDER_OPTIONS
