"""Properties of the uniform-price clearing, on the rule alone and through the registry:
never more awarded than offered, nor to one bidder more than the cap, nor to a bid more
than it asked; every winner at or above the reserve and the clearing price; no better
bid left unserved while quota or cap remained; cash and allowances conserved."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from settlement import commands
from settlement.accounts import FEES_ACCOUNT, RESERVE_ACCOUNT
from settlement.auctions import BidInput, cap_kg_for, clear
from settlement.errors import SettlementError
from settlement.pricing import buy_hold_fen

sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "settlement"))
from settlement_world import SYMBOL, World

LOT = 10
ACCOUNTS = ["A", "B", "C", "D"]

bid_lists = st.lists(
    st.tuples(
        st.sampled_from(ACCOUNTS),
        st.integers(min_value=1, max_value=40),  # price in ticks of 1000 fen
        st.integers(min_value=1, max_value=30),  # lots
    ),
    max_size=12,
)


@settings(max_examples=400, deadline=None)
@given(
    offered_lots=st.integers(min_value=1, max_value=60),
    reserve=st.integers(min_value=1, max_value=40),
    cap_pct=st.integers(min_value=1, max_value=100),
    raw=bid_lists,
)
def test_clearing_respects_offer_cap_bids_reserve_and_priority(offered_lots, reserve, cap_pct, raw):
    offered = offered_lots * LOT
    cap = cap_kg_for(offered, cap_pct, LOT)
    bids = [
        BidInput(f"b{i}", acct, price * 1000, lots * LOT, i)
        for i, (acct, price, lots) in enumerate(raw)
    ]
    result = clear(offered, reserve * 1000, cap, bids)
    by_id = {b.bid_id: b for b in bids}
    awarded = dict(result.awards)
    assert result.sold_kg <= offered
    per_account: dict[str, int] = {}
    for bid_id, kg in result.awards:
        b = by_id[bid_id]
        assert 0 < kg <= b.quantity_kg and kg % LOT == 0
        assert b.price_fen >= reserve * 1000 and b.price_fen >= result.clearing_price_fen
        per_account[b.account_id] = per_account.get(b.account_id, 0) + kg
    assert all(kg <= cap for kg in per_account.values())
    if result.awards:
        assert result.clearing_price_fen == min(by_id[i].price_fen for i in awarded)
    else:
        assert result.clearing_price_fen == 0
    # No eligible bid is left short while quota remained and its bidder was under the cap.
    for b in bids:
        short = b.quantity_kg - awarded.get(b.bid_id, 0)
        if b.price_fen >= reserve * 1000 and short > 0:
            assert result.sold_kg == offered or per_account.get(b.account_id, 0) == cap
    # A bid that won has no better-priced eligible bid of an uncapped bidder left short.
    if result.awards:
        lowest = result.clearing_price_fen
        for b in bids:
            if b.price_fen > lowest and awarded.get(b.bid_id, 0) < b.quantity_kg:
                assert per_account.get(b.account_id, 0) == cap


@settings(max_examples=60, deadline=None)
@given(
    offered_lots=st.integers(min_value=1, max_value=40),
    cap_pct=st.integers(min_value=10, max_value=100),
    fee_bps=st.integers(min_value=0, max_value=300),
    raw=bid_lists,
    withdraw=st.sets(st.integers(min_value=0, max_value=11)),
)
def test_an_auction_through_the_registry_conserves_cash_and_allowances(
    offered_lots, cap_pct, fee_bps, raw, withdraw
):
    offered = offered_lots * LOT
    assume(cap_kg_for(offered, cap_pct, LOT) > 0)  # such an auction is refused at opening
    world = World(fee_bps=fee_bps, lot_kg=LOT)
    world.enterprise("MAKER")
    world.issue("MAKER", 400)
    world.cmd(commands.Deposit, RESERVE_ACCOUNT, 200_000_000)
    world.place("MAKER", "sell", 300_000, 400)
    world.place(RESERVE_ACCOUNT, "buy", 300_000, 400)
    for name in ACCOUNTS:
        world.enterprise(name, cash_fen=30_000_000)
    cash_total = sum(world.reg.cash(a)[0] + world.reg.cash(a)[1] for a in ACCOUNTS)
    reserve_cash = world.reg.cash(RESERVE_ACCOUNT)[0]
    fees = world.reg.cash(FEES_ACCOUNT)[0]
    world.cmd(commands.OpenAuction, "AUC-1", SYMBOL, offered, 5_000, cap_pct, "")
    placed = []
    for i, (acct, price, lots) in enumerate(raw):
        try:
            world.cmd(
                commands.PlaceBid, f"B{i}", "AUC-1", acct, price * 10_000, min(lots * LOT, offered)
            )
            placed.append(f"B{i}")
        except SettlementError as refused:
            assert refused.code in ("insufficient_cash", "bid_below_reserve")
    for i in sorted(withdraw):
        if f"B{i}" in placed:
            world.cmd(commands.WithdrawBid, f"B{i}", world.reg.bid(f"B{i}").account_id)
    world.cmd(commands.CloseAuction, "AUC-1")
    auction = world.reg.auction("AUC-1")
    cap = cap_kg_for(offered, cap_pct, LOT)
    got = {a: world.reg.allowances(a, SYMBOL)[0] for a in ACCOUNTS}
    assert sum(got.values()) == auction.sold_kg <= offered
    assert all(kg <= cap for kg in got.values())
    assert world.reg.allowances(RESERVE_ACCOUNT, SYMBOL) == (400 - auction.sold_kg, 0, 0)
    paid = sum(world.reg.bid(b).paid_fen for b in placed)
    fee_paid = sum(world.reg.bid(b).fee_fen for b in placed)
    assert world.reg.cash(RESERVE_ACCOUNT)[0] == reserve_cash + paid
    assert world.reg.cash(FEES_ACCOUNT)[0] == fees + fee_paid
    after = sum(world.reg.cash(a)[0] + world.reg.cash(a)[1] for a in ACCOUNTS)
    assert after == cash_total - paid - fee_paid
    assert all(world.reg.cash(a)[1] == 0 for a in ACCOUNTS)  # every lock released
    for b in placed:
        bid = world.reg.bid(b)
        assert bid.paid_fen == (auction.clearing_price_fen * bid.awarded_kg * 2 + 1000) // 2000
        assert bid.paid_fen + bid.fee_fen <= buy_hold_fen(bid.price_fen, bid.quantity_kg, fee_bps)
