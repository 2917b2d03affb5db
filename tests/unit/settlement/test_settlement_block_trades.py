"""Block trades through the registry: the seller's lock, delivery versus payment on
acceptance with the fees of any trade, and every way a proposal ends."""

from __future__ import annotations

import pytest
from settlement_world import FS, SYMBOL, World

from settlement import commands
from settlement.accounts import FEES_ACCOUNT
from settlement.errors import SettlementError
from settlement.events import BlockTradeSettled, LedgerMoved

PRICE = 310_000


def world_with_parties(fee_bps: int = 25) -> World:
    world = World(fee_bps=fee_bps)
    world.enterprise("SELLER")
    world.issue("SELLER", 50_000)
    world.enterprise("BUYER", city=FS, cash_fen=100_000_000)
    world.enterprise("OTHER", cash_fen=100_000_000)
    return world


def test_proposing_locks_the_sellers_allowances():
    world = world_with_parties()
    world.cmd(commands.ProposeBlockTrade, "BLK-1", "SELLER", "BUYER", SYMBOL, PRICE, 20_000, "note")
    assert world.reg.allowances("SELLER", SYMBOL) == (30_000, 20_000, 0)


def test_acceptance_settles_at_once_with_fees_on_both_sides_and_crosses_the_ledger():
    world = world_with_parties(fee_bps=25)
    world.cmd(commands.ProposeBlockTrade, "BLK-1", "SELLER", "BUYER", SYMBOL, PRICE, 20_000, "")
    events = world.cmd(commands.DecideBlockTrade, "BLK-1", "BUYER", "accept")
    cash = PRICE * 20_000 // 1000  # 6,200,000 fen
    fee = cash * 25 // 10_000  # 15,500 fen
    [settled] = [e for e in events if type(e) is BlockTradeSettled]
    assert (settled.cash_fen, settled.buyer_fee_fen, settled.seller_fee_fen) == (cash, fee, fee)
    assert world.reg.cash("BUYER") == (100_000_000 - cash - fee, 0)
    assert world.reg.cash("SELLER") == (cash - fee, 0)
    assert world.reg.cash(FEES_ACCOUNT) == (2 * fee, 0)
    assert world.reg.allowances("BUYER", SYMBOL) == (20_000, 0, 0)
    assert world.reg.allowances("SELLER", SYMBOL) == (30_000, 0, 0)
    assert {(e.city_code, e.kind) for e in events if type(e) is LedgerMoved} == {
        ("440100", "transferred_out"),
        (FS, "transferred_in"),
    }
    assert world.reg.block_trade("BLK-1").status == "accepted"


def test_an_acceptance_the_buyer_cannot_pay_for_leaves_the_proposal_pending():
    world = world_with_parties()
    world.enterprise("POOR", cash_fen=1_000)
    world.cmd(commands.ProposeBlockTrade, "BLK-1", "SELLER", "POOR", SYMBOL, PRICE, 20_000, "")
    before = world.reg.state_hash()
    with pytest.raises(SettlementError) as refused:
        world.cmd(commands.DecideBlockTrade, "BLK-1", "POOR", "accept")
    assert refused.value.code == "insufficient_cash"
    assert world.reg.state_hash() == before
    assert world.reg.block_trade("BLK-1").status == "pending"


@pytest.mark.parametrize(("who", "action"), [("BUYER", "reject"), ("SELLER", "withdraw")])
def test_rejection_and_withdrawal_release_the_lock(who, action):
    world = world_with_parties()
    world.cmd(commands.ProposeBlockTrade, "BLK-1", "SELLER", "BUYER", SYMBOL, PRICE, 20_000, "")
    world.cmd(commands.DecideBlockTrade, "BLK-1", who, action)
    assert world.reg.allowances("SELLER", SYMBOL) == (50_000, 0, 0)
    assert world.reg.block_trade("BLK-1").status == {"reject": "rejected"}.get(action, "withdrawn")


@pytest.mark.parametrize(
    ("who", "action", "code"),
    [
        ("SELLER", "accept", "not_your_block_trade"),
        ("SELLER", "reject", "not_your_block_trade"),
        ("BUYER", "withdraw", "not_your_block_trade"),
        ("OTHER", "accept", "block_trade_not_found"),
        ("OTHER", "withdraw", "block_trade_not_found"),
    ],
)
def test_only_the_right_party_may_decide(who, action, code):
    world = world_with_parties()
    world.cmd(commands.ProposeBlockTrade, "BLK-1", "SELLER", "BUYER", SYMBOL, PRICE, 20_000, "")
    with pytest.raises(SettlementError) as refused:
        world.cmd(commands.DecideBlockTrade, "BLK-1", who, action)
    assert refused.value.code == code


def test_a_decided_block_trade_cannot_be_decided_again():
    world = world_with_parties()
    world.cmd(commands.ProposeBlockTrade, "BLK-1", "SELLER", "BUYER", SYMBOL, PRICE, 20_000, "")
    world.cmd(commands.DecideBlockTrade, "BLK-1", "BUYER", "reject")
    with pytest.raises(SettlementError) as refused:
        world.cmd(commands.DecideBlockTrade, "BLK-1", "BUYER", "accept")
    assert refused.value.code == "block_trade_not_pending"


@pytest.mark.parametrize(
    ("buyer", "kg", "code"),
    [
        ("SELLER", 20_000, "invalid_counterparty"),
        ("PROV", 20_000, "invalid_counterparty"),
        ("NOBODY", 20_000, "unknown_account"),
        ("BUYER", 50_001, "insufficient_allowances"),
    ],
)
def test_proposals_that_cannot_stand_are_refused(buyer, kg, code):
    world = world_with_parties()
    before = world.reg.state_hash()
    with pytest.raises(SettlementError) as refused:
        world.cmd(commands.ProposeBlockTrade, "BLK-1", "SELLER", buyer, SYMBOL, PRICE, kg, "")
    assert refused.value.code == code
    assert world.reg.state_hash() == before


def test_expiry_cancels_pending_block_trades_and_holdings_stay():
    world = world_with_parties()
    world.cmd(commands.ProposeBlockTrade, "BLK-1", "SELLER", "BUYER", SYMBOL, PRICE, 20_000, "")
    world.cmd(commands.ExpireInstrument, SYMBOL)
    assert world.reg.block_trade("BLK-1").status == "cancelled"
    assert world.reg.allowances("SELLER", SYMBOL) == (50_000, 0, 0)
    with pytest.raises(SettlementError) as refused:
        world.cmd(commands.ProposeBlockTrade, "BLK-2", "SELLER", "BUYER", SYMBOL, PRICE, 20_000, "")
    assert refused.value.code == "instrument_expired"


def test_an_expired_instrument_cannot_be_allocated_to_a_project():
    world = world_with_parties()
    world.cmd(
        commands.RegisterProject, "PRJ-1", "SELLER", "Kiln", "", "ordinary", SYMBOL, 10_000, "EIA-1"
    )
    world.cmd(commands.ExpireInstrument, SYMBOL)
    with pytest.raises(SettlementError) as refused:
        world.cmd(commands.AllocateToProject, "PRJ-1", "SELLER", 10_000)
    assert refused.value.code == "instrument_expired"
