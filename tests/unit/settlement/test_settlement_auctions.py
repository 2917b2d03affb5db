"""The uniform-price clearing rule by hand-worked cases, and auctions run through the
registry: locks, awards, payment at the clearing price, what stays in the reserve."""

from __future__ import annotations

import pickle

import pytest
from settlement_world import SYMBOL, World

from matching_engine.types import BUY, SELL
from settlement import commands
from settlement.accounts import FEES_ACCOUNT, RESERVE_ACCOUNT
from settlement.auctions import BidInput, cap_kg_for, clear
from settlement.errors import SettlementError
from settlement.events import AuctionCleared
from settlement.pricing import buy_hold_fen

# ------------------------------------------------------------------ the rule, by hand


def bid(bid_id: str, account: str, price: int, kg: int, seq: int) -> BidInput:
    return BidInput(bid_id, account, price, kg, seq)


def test_highest_price_first_and_everyone_pays_the_lowest_accepted_price():
    bids = [
        bid("b1", "A", 3000, 40, 1),
        bid("b2", "B", 3500, 50, 2),
        bid("b3", "C", 3200, 30, 3),
    ]
    # 100 kg offered: B 50 @3500, C 30 @3200, A 20 of 40 @3000; clearing 3000
    result = clear(100, 2500, 100, bids)
    assert result.awards == (("b2", 50), ("b3", 30), ("b1", 20))
    assert result.clearing_price_fen == 3000
    assert result.sold_kg == 100


def test_ties_at_one_price_go_to_the_earliest_bid():
    bids = [bid("late", "A", 3000, 60, 9), bid("early", "B", 3000, 60, 4)]
    result = clear(100, 2000, 100, bids)
    assert result.awards == (("early", 60), ("late", 40))
    assert result.clearing_price_fen == 3000


def test_the_cap_limits_each_bidder_over_all_its_bids_and_the_rest_goes_on():
    bids = [
        bid("a1", "A", 5000, 30, 1),
        bid("a2", "A", 4900, 30, 2),  # A already has 30 of its 40 cap: gets 10
        bid("b1", "B", 4000, 100, 3),  # capped at 40
        bid("c1", "C", 3000, 100, 4),  # the last 20
    ]
    result = clear(100, 1000, 40, bids)
    assert result.awards == (("a1", 30), ("a2", 10), ("b1", 40), ("c1", 20))
    assert result.clearing_price_fen == 3000


def test_a_bidder_already_at_its_cap_gets_nothing_more_and_does_not_set_the_price():
    bids = [bid("a1", "A", 5000, 50, 1), bid("a2", "A", 1000, 50, 2)]
    result = clear(100, 1000, 50, bids)
    assert result.awards == (("a1", 50),)
    assert result.clearing_price_fen == 5000
    assert result.sold_kg == 50  # the other 50 stay unsold


def test_the_last_accepted_bid_is_filled_in_part():
    result = clear(70, 100, 70, [bid("x", "A", 300, 50, 1), bid("y", "B", 200, 50, 2)])
    assert result.awards == (("x", 50), ("y", 20))
    assert result.clearing_price_fen == 200


def test_no_bids_sells_nothing():
    result = clear(100, 100, 50, [])
    assert result.awards == () and result.sold_kg == 0 and result.clearing_price_fen == 0


def test_bids_below_the_reserve_price_are_never_accepted():
    result = clear(100, 3000, 100, [bid("x", "A", 2999, 50, 1), bid("y", "B", 1000, 50, 2)])
    assert result.awards == () and result.clearing_price_fen == 0


def test_a_bid_exactly_at_the_reserve_price_is_accepted():
    result = clear(100, 3000, 100, [bid("x", "A", 3000, 50, 1), bid("y", "B", 2999, 50, 2)])
    assert result.awards == (("x", 50),) and result.clearing_price_fen == 3000


def test_the_cap_is_rounded_down_to_whole_lots():
    assert cap_kg_for(1000, 25, 1) == 250
    assert cap_kg_for(1000, 33, 100) == 300
    assert cap_kg_for(1000, 5, 100) == 0


# ------------------------------------------------------------------ through the registry

PRICE = 300_000  # 3000.00 CNY/t, the world's reference price


def reserve_with(world: World, kg: int) -> None:
    """The reserve buys `kg` on the market from an enterprise that reduced them."""
    world.enterprise("MAKER", cash_fen=0)
    world.issue("MAKER", kg)
    world.cmd(commands.Deposit, RESERVE_ACCOUNT, buy_hold_fen(PRICE, kg, world.reg.fee_bps) + 10)
    world.place("MAKER", SELL, PRICE, kg)
    world.place(RESERVE_ACCOUNT, BUY, PRICE, kg)
    assert world.reg.allowances(RESERVE_ACCOUNT, SYMBOL)[0] == kg


def test_an_auction_locks_the_reserve_and_bids_lock_cash_like_buy_orders():
    world = World(fee_bps=30)
    reserve_with(world, 1000)
    world.enterprise("A", cash_fen=10_000_000)
    world.cmd(commands.OpenAuction, "AUC-1", SYMBOL, 600, 250_000, 50, "first sale")
    assert world.reg.allowances(RESERVE_ACCOUNT, SYMBOL) == (400, 600, 0)
    world.cmd(commands.PlaceBid, "BID-1", "AUC-1", "A", 260_000, 300)
    held = buy_hold_fen(260_000, 300, 30)
    assert world.reg.cash("A") == (10_000_000 - held, held)
    world.cmd(commands.WithdrawBid, "BID-1", "A")
    assert world.reg.cash("A") == (10_000_000, 0)


def test_closing_awards_at_the_uniform_price_and_releases_the_rest():
    world = World(fee_bps=30)
    reserve_with(world, 1000)
    reserve_cash = world.reg.cash(RESERVE_ACCOUNT)[0]
    fees_before = world.reg.cash(FEES_ACCOUNT)[0]
    for name in ("A", "B", "C"):
        world.enterprise(name, cash_fen=100_000_000)
    world.cmd(commands.OpenAuction, "AUC-1", SYMBOL, 500, 250_000, 40, "")
    world.cmd(commands.PlaceBid, "BA", "AUC-1", "A", 310_000, 300)  # capped at 200
    world.cmd(commands.PlaceBid, "BB", "AUC-1", "B", 280_000, 250)  # capped at 200
    world.cmd(commands.PlaceBid, "BC", "AUC-1", "C", 260_000, 150)  # the last 100 of its 150
    world.cmd(commands.PlaceBid, "BD", "AUC-1", "C", 255_000, 100)  # nothing left for it: loses
    [cleared] = [e for e in world.cmd(commands.CloseAuction, "AUC-1") if type(e) is AuctionCleared]
    assert cleared.clearing_price_fen == 260_000 and cleared.sold_kg == 500
    assert [(a[0], a[2]) for a in cleared.awards] == [("BA", 200), ("BB", 200), ("BC", 100)]
    for name, kg in (("A", 200), ("B", 200), ("C", 100)):
        cash = 260_000 * kg // 1000
        fee = (cash * 30 + 5_000) // 10_000
        assert world.reg.cash(name) == (100_000_000 - cash - fee, 0)
        assert world.reg.allowances(name, SYMBOL) == (kg, 0, 0)
    assert world.reg.allowances(RESERVE_ACCOUNT, SYMBOL) == (500, 0, 0)
    assert world.reg.cash(RESERVE_ACCOUNT)[0] == reserve_cash + 260_000 * 500 // 1000
    assert world.reg.cash(FEES_ACCOUNT)[0] > fees_before
    assert world.reg.bid("BD").status == "lost" and world.reg.bid("BD").awarded_kg == 0
    assert world.reg.auction("AUC-1").status == "cleared"


def test_an_auction_with_no_acceptable_bid_leaves_all_quota_in_the_reserve():
    world = World()
    reserve_with(world, 300)
    world.enterprise("A", cash_fen=100_000_000)
    world.cmd(commands.OpenAuction, "AUC-1", SYMBOL, 300, 250_000, 100, "")
    world.cmd(commands.CloseAuction, "AUC-1")
    assert world.reg.allowances(RESERVE_ACCOUNT, SYMBOL) == (300, 0, 0)
    assert world.reg.auction("AUC-1").sold_kg == 0


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("AUC-1", "A", 249_999, 100), "bid_below_reserve"),
        (("AUC-1", "A", 250_000, 1_000), "invalid_amount"),
        (("AUC-1", "RICH", 900_000, 300), "insufficient_cash"),
        (("AUC-9", "A", 250_000, 100), "auction_not_found"),
        (("AUC-1", "PROV", 250_000, 100), "not_allowed"),
    ],
)
def test_bids_that_cannot_stand_are_refused_and_change_nothing(args, code):
    world = World()
    reserve_with(world, 300)
    world.enterprise("A", cash_fen=100_000_000)
    world.enterprise("RICH", cash_fen=1_000)
    world.cmd(commands.OpenAuction, "AUC-1", SYMBOL, 300, 250_000, 100, "")
    before = world.reg.state_hash()
    with pytest.raises(SettlementError) as refused:
        world.cmd(commands.PlaceBid, "BID-X", *args)
    assert refused.value.code == code
    assert world.reg.state_hash() == before


def test_a_closed_auction_takes_no_bids_and_cannot_close_twice():
    world = World()
    reserve_with(world, 300)
    world.enterprise("A", cash_fen=100_000_000)
    world.cmd(commands.OpenAuction, "AUC-1", SYMBOL, 300, 250_000, 100, "")
    world.cmd(commands.PlaceBid, "B1", "AUC-1", "A", 250_000, 100)
    world.cmd(commands.CloseAuction, "AUC-1")
    for cmd in (
        (commands.PlaceBid, "B2", "AUC-1", "A", 250_000, 100),
        (commands.WithdrawBid, "B1", "A"),
        (commands.CloseAuction, "AUC-1"),
    ):
        with pytest.raises(SettlementError) as refused:
            world.cmd(*cmd)
        assert refused.value.code == "auction_closed"


def test_another_bidder_cannot_withdraw_a_bid():
    world = World()
    reserve_with(world, 300)
    world.enterprise("A", cash_fen=100_000_000)
    world.enterprise("B", cash_fen=100_000_000)
    world.cmd(commands.OpenAuction, "AUC-1", SYMBOL, 300, 250_000, 100, "")
    world.cmd(commands.PlaceBid, "B1", "AUC-1", "A", 250_000, 100)
    with pytest.raises(SettlementError) as refused:
        world.cmd(commands.WithdrawBid, "B1", "B")
    assert refused.value.code == "bid_not_found"


def test_an_auction_cannot_offer_more_than_the_reserve_holds():
    world = World()
    reserve_with(world, 300)
    with pytest.raises(SettlementError) as refused:
        world.cmd(commands.OpenAuction, "AUC-1", SYMBOL, 301, 250_000, 100, "")
    assert refused.value.code == "insufficient_allowances"


def test_expiry_cancels_open_auctions_and_releases_every_lock():
    world = World()
    reserve_with(world, 300)
    world.enterprise("A", cash_fen=100_000_000)
    world.cmd(commands.OpenAuction, "AUC-1", SYMBOL, 300, 250_000, 100, "")
    world.cmd(commands.PlaceBid, "B1", "AUC-1", "A", 250_000, 100)
    world.cmd(commands.ExpireInstrument, SYMBOL)
    assert world.reg.auction("AUC-1").status == "cancelled"
    assert world.reg.cash("A") == (100_000_000, 0)
    assert world.reg.allowances(RESERVE_ACCOUNT, SYMBOL) == (300, 0, 0)
    with pytest.raises(SettlementError) as refused:
        world.cmd(commands.OpenAuction, "AUC-2", SYMBOL, 100, 250_000, 100, "")
    assert refused.value.code == "instrument_expired"


def test_a_snapshot_with_auctions_restores_to_the_same_hash():
    world = World(fee_bps=10)
    reserve_with(world, 300)
    world.enterprise("A", cash_fen=100_000_000)
    world.cmd(commands.OpenAuction, "AUC-1", SYMBOL, 300, 250_000, 100, "")
    world.cmd(commands.PlaceBid, "B1", "AUC-1", "A", 250_000, 100)
    restored = type(world.reg).restore(world.reg.snapshot())
    assert restored.state_hash() == world.reg.state_hash()
    restored.check_invariants()
    plain = pickle.loads(pickle.dumps(world.reg.plain_state()))
    from_plain = type(world.reg).restore_plain(plain)
    assert from_plain.state_hash() == world.reg.state_hash()
    from_plain.check_invariants()


def test_awarded_quota_is_a_lot_from_the_reserve_and_a_project_shows_it():
    world = World()
    reserve_with(world, 500)
    world.enterprise("A", cash_fen=100_000_000)
    world.cmd(commands.OpenAuction, "AUC-1", SYMBOL, 500, 250_000, 100, "")
    world.cmd(commands.PlaceBid, "B1", "AUC-1", "A", 260_000, 300)
    world.cmd(commands.CloseAuction, "AUC-1")
    assert world.reg.available_lots("A", SYMBOL) == [("AUC-1-B1", 300)]
    world.cmd(commands.RegisterProject, "PRJ-1", "A", "Kiln", "", "ordinary", SYMBOL, 300, "EIA-1")
    world.cmd(commands.AllocateToProject, "PRJ-1", "A", 300)
    assert world.reg.project_sources("PRJ-1") == [
        ("AUC-1-B1", "", "reserve_auction", "reserve", RESERVE_ACCOUNT, 300)
    ]
    # the ledger sees the quota arrive in A's city from the reserve, not added twice
    row = world.reg.ledger_row("440100", SYMBOL)
    assert (row.transferred_in, row.used) == (300, 300)
    assert world.reg.issued_kg(SYMBOL) == 500
