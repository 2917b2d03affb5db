"""The provincial ledger and the registry's invariants."""

from __future__ import annotations

import pytest
from settlement_world import GZ, SYMBOL, SZ

from matching_engine.types import BUY, SELL
from settlement import commands
from settlement.cities import CITIES, CITY_CODES
from settlement.registry import Registry


def test_registry_starts_with_fees_reserve_and_one_pool_per_city():
    reg = Registry()
    ids = [a.account_id for a in reg.accounts()]
    assert ids == ["FEES", "RESERVE"] + [f"POOL-{code}" for code in CITY_CODES]
    assert len(CITIES) == 21 and len(set(CITY_CODES)) == 21
    assert reg.account("POOL-445300").city_code == "445300"
    assert Registry().state_hash() == reg.state_hash()


def test_ledger_rows_list_every_city_with_remaining_equal_to_the_balance(world):
    world.enterprise("A", GZ)
    world.enterprise("B", SZ, cash_fen=10_000_000)
    world.issue("A", 5_000)
    world.place("A", SELL, 300_000, 2_000)
    world.place("B", BUY, 300_000, 1_500)
    world.cmd(commands.RegisterProject, "PRJ-1", "B", "p", SZ, "ordinary", SYMBOL, 1_000, "EIA")
    world.cmd(commands.AllocateToProject, "PRJ-1", "B", 1_000)
    rows = {r.city_code: r for r in world.reg.ledger_rows(SYMBOL)}
    assert list(rows) == list(CITY_CODES)
    gz, sz = rows[GZ], rows[SZ]
    assert (gz.added, gz.used, gz.transferred_in, gz.transferred_out, gz.remaining) == (
        5_000,
        0,
        0,
        1_500,
        3_500,
    )
    assert (sz.added, sz.used, sz.transferred_in, sz.transferred_out, sz.remaining) == (
        0,
        1_000,
        1_500,
        0,
        500,
    )
    # remaining counts locked allowances too: 3000 available + 500 still on offer.
    assert world.reg.allowances("A", SYMBOL) == (3_000, 500, 0)
    assert gz._asdict()["remaining"] == 3_500


def test_check_invariants_catches_cash_created_from_nothing(world):
    world.enterprise("A", cash_fen=100)
    world.reg._cash.balances["A"].available_fen += 1
    with pytest.raises(AssertionError, match="cash not conserved"):
        world.reg.check_invariants()


def test_check_invariants_catches_allowances_created_from_nothing(world):
    world.enterprise("A")
    lot_id = world.issue("A", 100)
    world.reg._holdings.get("A", SYMBOL).available.add(world.reg.lot(lot_id).ordinal, lot_id, 1)
    with pytest.raises(AssertionError, match="not conserved"):
        world.reg.check_invariants()


def test_check_invariants_catches_a_ledger_row_that_disagrees_with_holdings(world):
    world.enterprise("A")
    world.issue("A", 100)
    world.reg._ledger.rows[(GZ, SYMBOL)]["transferred_in"] = 1
    with pytest.raises(AssertionError, match="ledger row"):
        world.reg.check_invariants()


def test_check_invariants_catches_a_hold_that_is_not_its_requirement(world):
    world.enterprise("B", cash_fen=1_000_000)
    order_id, _ = world.place("B", BUY, 300_000, 1_000)
    world.reg._holds[order_id].held_fen -= 1
    with pytest.raises(AssertionError, match="buy hold"):
        world.reg.check_invariants()


def test_check_invariants_catches_used_allowances_without_a_project(world):
    world.enterprise("A")
    world.issue("A", 100)
    world.reg._holdings.get("A", SYMBOL).used_kg += 1
    with pytest.raises(AssertionError):
        world.reg.check_invariants()


def test_queries_refuse_unknown_accounts_symbols_and_cities(world):
    from settlement.errors import SettlementError

    for call in (
        lambda: world.reg.allowances("NOBODY", SYMBOL),
        lambda: world.reg.allowances("PROV", "SO2-2025"),
        lambda: world.reg.ledger_rows("SO2-2025"),
        lambda: world.reg.ledger_row("123456", SYMBOL),
        lambda: world.reg.project_sources("PRJ-404"),
    ):
        with pytest.raises(SettlementError):
            call()
