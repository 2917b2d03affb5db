"""A bureau applies in writing; the province moves quota from surplus cities or the
reserve, never below a source city's floor; the reserve releases quota to cities."""

from __future__ import annotations

import pytest
from settlement_world import FS, GZ, SYMBOL, SZ

from matching_engine.types import BUY, SELL
from settlement import commands
from settlement.errors import SettlementError
from settlement.events import LedgerMoved


@pytest.fixture
def setup(world):
    """Guangzhou applies for 1000 kg for PRJ-1; Shenzhen and Foshan pools hold 2000 each."""
    world.bureau("GZBUR", GZ)
    world.bureau("SZBUR", SZ)
    world.bureau("FSBUR", FS)
    world.enterprise("E", GZ)
    world.issue("SZBUR", 2_000)
    world.issue("FSBUR", 2_000)
    world.cmd(
        commands.RegisterProject,
        "PRJ-1",
        "E",
        "plant",
        GZ,
        "key_construction",
        SYMBOL,
        5_000,
        "EIA-1",
    )
    world.cmd(
        commands.ApplyReallocation,
        "APP-1",
        "GZBUR",
        "PRJ-1",
        SYMBOL,
        1_000,
        "short of quota",
        "key_construction",
    )
    return world


def decide(world, sources, approve=True, note="approved", app="APP-1", decider="PROV"):
    return world.cmd(commands.DecideReallocation, app, decider, approve, tuple(sources), note)


def refused(world, code, fn, *args, **kwargs):
    before = world.reg.state_hash()
    with pytest.raises(SettlementError) as err:
        fn(world, *args, **kwargs)
    assert err.value.code == code
    assert world.reg.state_hash() == before


def test_a_bureau_applies_only_for_a_project_in_its_own_city(setup):
    world = setup
    assert world.reg.application("APP-1").status == "pending"
    with pytest.raises(SettlementError) as err:
        world.cmd(commands.ApplyReallocation, "APP-2", "SZBUR", "PRJ-1", SYMBOL, 1, "r", "ordinary")
    assert err.value.code == "not_your_city"
    with pytest.raises(SettlementError) as err:
        world.cmd(commands.ApplyReallocation, "APP-2", "E", "PRJ-1", SYMBOL, 1, "r", "ordinary")
    assert err.value.code == "not_allowed"
    with pytest.raises(SettlementError) as err:
        world.cmd(commands.ApplyReallocation, "APP-2", "GZBUR", "PRJ-1", SYMBOL, 1, "r", "urgent")
    assert err.value.code == "invalid_priority_category"
    with pytest.raises(SettlementError) as err:
        world.cmd(
            commands.ApplyReallocation, "APP-2", "GZBUR", "PRJ-1", SYMBOL, 5_001, "r", "ordinary"
        )
    assert err.value.code == "exceeds_project_requirement"


def test_approval_moves_quota_from_the_sources_into_the_applying_city_pool(setup):
    world = setup
    events = decide(world, [(SZ, 600), (FS, 400)])
    assert world.reg.allowances("POOL-440100", SYMBOL) == (1_000, 0, 0)
    assert world.reg.allowances("POOL-440300", SYMBOL) == (1_400, 0, 0)
    assert world.reg.allowances("POOL-440600", SYMBOL) == (1_600, 0, 0)
    moves = [(m.city_code, m.kind, m.quantity_kg) for m in events if type(m) is LedgerMoved]
    assert moves == [
        (SZ, "transferred_out", 600),
        (GZ, "transferred_in", 600),
        (FS, "transferred_out", 400),
        (GZ, "transferred_in", 400),
    ]
    assert world.reg.application("APP-1").status == "approved"
    # The bureau's pool can now serve the project.
    world.cmd(commands.AllocateToProject, "PRJ-1", "POOL-440100", 1_000)
    assert world.reg.ledger_row(GZ, SYMBOL).used == 1_000


def test_sources_must_add_up_exactly_to_the_quantity_applied_for(setup):
    refused(setup, "reallocation_sources_mismatch", decide, [(SZ, 600), (FS, 300)])
    refused(setup, "reallocation_sources_mismatch", decide, [(SZ, 1_001)])
    refused(setup, "reallocation_sources_mismatch", decide, [])
    refused(setup, "unknown_city", decide, [("999999", 1_000)])
    refused(setup, "invalid_source", decide, [(GZ, 1_000)])
    refused(setup, "invalid_amount", decide, [(SZ, 1_100), (FS, -100)])


def test_a_source_city_never_goes_below_its_floor(setup):
    world = setup
    world.cmd(commands.SetCityFloor, SZ, SYMBOL, 1_500)
    assert world.reg.floor(SZ, SYMBOL) == 1_500
    refused(world, "below_city_floor", decide, [(SZ, 501), (FS, 499)])
    decide(world, [(SZ, 500), (FS, 500)])
    assert world.reg.ledger_row(SZ, SYMBOL).remaining == 1_500


def test_the_floor_counts_enterprises_holdings_too_but_only_the_pool_can_give(world):
    world.bureau("GZBUR", GZ)
    world.bureau("SZBUR", SZ)
    world.enterprise("E", GZ)
    world.enterprise("SZE", SZ)
    world.issue("SZBUR", 300)
    world.issue("SZE", 5_000)
    world.cmd(commands.RegisterProject, "PRJ-1", "E", "plant", GZ, "ordinary", SYMBOL, 1_000, "EIA")
    world.cmd(commands.ApplyReallocation, "APP-1", "GZBUR", "PRJ-1", SYMBOL, 1_000, "r", "ordinary")
    refused(world, "insufficient_allowances", decide, [(SZ, 1_000)])


def test_a_second_decision_is_already_decided(setup):
    world = setup
    decide(world, [(SZ, 1_000)])
    refused(world, "already_decided", decide, [(FS, 1_000)])
    world.cmd(commands.ApplyReallocation, "APP-2", "GZBUR", "PRJ-1", SYMBOL, 500, "r", "ordinary")
    refused(world, "note_required", decide, [], approve=False, note="", app="APP-2")
    decide(world, [], approve=False, note="Foshan needs it for its own cluster", app="APP-2")
    assert world.reg.application("APP-2").status == "rejected"
    refused(world, "already_decided", decide, [(FS, 500)], app="APP-2")


def test_only_the_province_decides(setup):
    refused(setup, "not_allowed", decide, [(SZ, 1_000)], decider="GZBUR")
    refused(setup, "unknown_application", decide, [(SZ, 1_000)], app="APP-404")


def test_the_reserve_can_be_a_source(setup):
    world = setup
    world.enterprise("S", SZ)
    world.issue("S", 700)
    world.cmd(commands.Deposit, "RESERVE", 1_000_000)
    world.place("S", SELL, 300_000, 700)
    world.place("RESERVE", BUY, 300_000, 700)
    refused(world, "insufficient_allowances", decide, [("reserve", 800), (SZ, 200)])
    events = decide(world, [("reserve", 700), (SZ, 300)])
    assert world.reg.allowances("RESERVE", SYMBOL) == (0, 0, 0)
    ins = [(m.city_code, m.quantity_kg, m.counterparty) for m in events if type(m) is LedgerMoved]
    assert ins[0] == (GZ, 700, "reserve")


def test_release_reserve_moves_reserve_quota_into_a_city_pool(world):
    world.enterprise("S", SZ)
    world.issue("S", 1_000)
    world.cmd(commands.Deposit, "RESERVE", 1_000_000)
    world.place("S", SELL, 300_000, 1_000)
    world.place("RESERVE", BUY, 300_000, 1_000)
    refused(
        world,
        "insufficient_allowances",
        lambda w: w.cmd(commands.ReleaseReserve, FS, SYMBOL, 1_001),
    )
    refused(world, "unknown_city", lambda w: w.cmd(commands.ReleaseReserve, "000000", SYMBOL, 1))
    events = world.cmd(commands.ReleaseReserve, FS, SYMBOL, 600)
    assert world.reg.allowances("POOL-440600", SYMBOL) == (600, 0, 0)
    assert world.reg.allowances("RESERVE", SYMBOL) == (400, 0, 0)
    (move,) = [m for m in events if type(m) is LedgerMoved]
    assert (move.city_code, move.kind, move.quantity_kg) == (FS, "transferred_in", 600)


def test_floors_are_non_negative_and_zero_clears_them(world):
    world.cmd(commands.SetCityFloor, GZ, SYMBOL, 100)
    world.cmd(commands.SetCityFloor, GZ, SYMBOL, 0)
    assert world.reg.floor(GZ, SYMBOL) == 0
    with pytest.raises(SettlementError) as err:
        world.cmd(commands.SetCityFloor, GZ, SYMBOL, -1)
    assert err.value.code == "invalid_amount"
