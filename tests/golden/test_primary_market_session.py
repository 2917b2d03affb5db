"""Golden acceptance for the primary market: a fixed command file with a reserve
auction, two block trades and an instrument whose term ends, through the whole core.

Checked by hand (fee 30 bps, each side rounded half up):
- the auction offers 15 t, cap 60 % = 9 t: BOB's 3300.00 bid is capped at 9 t, CAROL's
  3100.00 bid gets the other 6 t, so everyone pays 3100.00: BOB 27,900.00 + 83.70,
  CAROL 18,600.00 + 55.80; BOB's 3050.00 bid and the withdrawn 3010.00 win nothing;
- ALICE -> BOB 12 t at 3600.00 = 43,200.00, 129.60 fee each side; 12.5 % above the last
  price 3200.00, so surveillance raises it; ALICE -> CAROL is rejected;
- NOX-2024 is valid through 2026-01-01 (Asia/Shanghai): the first command stamped after
  it expires the instrument and cancels CAROL's resting sell with reason `expired`.
A reset and replay must reach the same, fixed, state hash.
"""

import json
from pathlib import Path

from settlement.events import AuctionCleared, BlockTradeSettled
from tests.core_driver import T0_US, CoreDriver

HERE = Path(__file__).parent
LINES = [json.loads(x) for x in (HERE / "primary_market_session.jsonl").read_text().splitlines()]
STATE_HASH = "36a1a253e4ef374fb9a5d27c821f18df4efc4c7e7b44e2166f226fe9b69c3554"


def run() -> tuple[CoreDriver, list]:
    d = CoreDriver(fee_bps=30)
    outcomes = []
    for line in LINES:
        command = dict(line)
        at_s = command.pop("at_s", None)
        out = d.apply(command, None if at_s is None else T0_US + at_s * 1_000_000)
        assert out.error is None, (command, out.error)
        outcomes.append(out)
    d.core.registry.check_invariants()
    return d, outcomes


def test_the_auction_clears_exactly_as_worked_by_hand():
    _, outcomes = run()
    (cleared,) = [e for o in outcomes for e in o.settlement_events if type(e) is AuctionCleared]
    assert cleared.clearing_price_fen == 310_000 and cleared.sold_kg == 15_000
    assert cleared.awards == (
        ("BID-19", "BOB", 9_000, 2_790_000, 8_370),
        ("BID-20", "CAROL", 6_000, 1_860_000, 5_580),
    )


def test_the_block_trade_settles_and_is_raised_as_off_market():
    _, outcomes = run()
    (block,) = [e for o in outcomes for e in o.settlement_events if type(e) is BlockTradeSettled]
    assert (block.block_id, block.seller_account_id, block.buyer_account_id) == (
        "BLK-25",
        "ALICE",
        "BOB",
    )
    assert (block.cash_fen, block.buyer_fee_fen, block.seller_fee_fen) == (
        4_320_000,
        12_960,
        12_960,
    )
    alerts = [a for o in outcomes for a in o.alerts]
    assert [(a["kind"], a["detail"]["block_trade_id"]) for a in alerts] == [
        ("block_trade_off_market", "BLK-25")
    ]


def test_the_session_leaves_exactly_the_golden_balances():
    d, outcomes = run()
    reg = d.core.registry
    assert {a: reg.cash(a) for a in ("ALICE", "BOB", "CAROL", "RESERVE", "FEES")} == {
        "ALICE": (10_687_840, 0),
        "BOB": (92_868_670, 0),
        "CAROL": (58_134_520, 0),
        "RESERVE": (68_230_800, 0),
        "FEES": (78_270, 0),
    }
    assert {a: reg.allowances(a, "NOX-2025") for a in ("ALICE", "BOB", "CAROL", "RESERVE")} == {
        "ALICE": (18_000, 0, 0),
        "BOB": (21_000, 0, 0),
        "CAROL": (6_000, 0, 0),
        "RESERVE": (5_000, 0, 0),
    }
    # what the auction sold is re-issued as lots whose provenance is the reserve
    assert reg.available_lots("BOB", "NOX-2025") == [("LOT-13", 12_000), ("AUC-18-BID-19", 9_000)]
    assert reg.available_lots("CAROL", "NOX-2025") == [("AUC-18-BID-20", 6_000)]
    assert reg.lot("AUC-18-BID-19").origin_account_id == "RESERVE"
    # the expired vintage stays on record
    assert reg.allowances("CAROL", "NOX-2024") == (3_000, 0, 0)
    assert outcomes[-1].expired == ["NOX-2024"]
    (order,) = outcomes[-1].orders
    assert (order.id, order.status, order.cancel_reason) == (29, "cancelled", "expired")
    assert d.core.status("NOX-2024") == "expired" and d.core.status("NOX-2025") == "open"


def test_reset_and_replay_reach_the_fixed_state_hash():
    first, _ = run()
    assert first.core.state_hash() == STATE_HASH
    assert first.replay().state_hash() == STATE_HASH


def test_a_snapshot_taken_mid_session_restores_auctions_blocks_and_validity():
    d = CoreDriver(fee_bps=30)
    for line in LINES[:22]:  # the auction open with its bids, NOX-2024 not yet expired
        d.apply(dict(line))
    restored = CoreDriver(core=type(d.core).restore(d.core.snapshot()))
    assert restored.core.state_hash() == d.core.state_hash()
    for line in LINES[22:]:
        command = dict(line)
        at_s = command.pop("at_s", None)
        restored.apply(command, None if at_s is None else T0_US + at_s * 1_000_000)
    assert restored.core.state_hash() == STATE_HASH


def test_a_journal_from_before_these_commands_keeps_its_state_hash():
    """The hash of the older golden session, computed on the commit before auctions, block
    trades and validity existed: their state is only snapshotted once used."""
    old = [json.loads(x) for x in (HERE / "exchange_session.jsonl").read_text().splitlines()]
    d = CoreDriver(fee_bps=30)
    for command in old:
        d.apply(command)
    assert d.core.state_hash() == (
        "e4d03765160810633abaacd23ddef668556f7aec02c3d18502d90849b832d7f1"
    )
