"""Projects under EIA use allowances for good, and their sources stay traceable."""

from __future__ import annotations

import pytest
from settlement_world import FS, GZ, SYMBOL, SZ

from matching_engine.types import BUY, SELL
from settlement import commands
from settlement.errors import SettlementError
from settlement.events import LedgerMoved, ProjectAllocated


def project(world, project_id, owner, required_kg=1_000, city="", category="key_construction"):
    return world.cmd(
        commands.RegisterProject,
        project_id,
        owner,
        f"{project_id} plant",
        city,
        category,
        SYMBOL,
        required_kg,
        f"EIA-{project_id}",
    )


def refused(world, code, cmd_cls, *args):
    before = world.reg.state_hash()
    with pytest.raises(SettlementError) as err:
        world.cmd(cmd_cls, *args)
    assert err.value.code == code
    assert world.reg.state_hash() == before


def test_allocation_binds_the_oldest_lots_and_makes_them_used_for_good(world):
    world.enterprise("E", GZ)
    old = world.issue("E", 300)
    new = world.issue("E", 500)
    project(world, "PRJ-1", "E", 1_000)
    (allocated, *_) = world.cmd(commands.AllocateToProject, "PRJ-1", "E", 400)
    assert type(allocated) is ProjectAllocated
    assert [(s.lot_id, s.quantity_kg) for s in allocated.sources] == [(old, 300), (new, 100)]
    assert world.reg.allowances("E", SYMBOL) == (400, 0, 400)
    assert world.reg.ledger_row(GZ, SYMBOL).used == 400
    # Used allowances cannot be sold.
    with pytest.raises(SettlementError) as err:
        world.reg.check_order("E", SYMBOL, SELL, 300_000, 401)
    assert err.value.code == "insufficient_allowances"


def test_allocation_never_exceeds_what_the_project_still_requires(world):
    world.enterprise("E")
    world.issue("E", 5_000)
    project(world, "PRJ-1", "E", 1_000)
    world.cmd(commands.AllocateToProject, "PRJ-1", "E", 700)
    refused(world, "exceeds_project_requirement", commands.AllocateToProject, "PRJ-1", "E", 301)
    world.cmd(commands.AllocateToProject, "PRJ-1", "E", 300)
    assert world.reg.project("PRJ-1").outstanding_kg == 0


def test_allocation_beyond_available_allowances_is_refused(world):
    world.enterprise("E")
    world.issue("E", 500)
    world.place("E", SELL, 300_000, 200)  # locked, not available
    project(world, "PRJ-1", "E", 1_000)
    refused(world, "insufficient_allowances", commands.AllocateToProject, "PRJ-1", "E", 301)
    refused(world, "invalid_amount", commands.AllocateToProject, "PRJ-1", "E", 0)


def test_project_sources_trace_used_kilograms_back_to_their_reductions_through_trades(world):
    world.enterprise("S1", SZ)
    world.enterprise("S2", FS)
    lot1 = world.issue("S1", 600, "coal_boiler_phaseout")
    lot2 = world.issue("S2", 600, "eia_approved_unbuilt")
    world.enterprise("B", GZ, cash_fen=10_000_000)
    world.place("S1", SELL, 300_000, 600)
    world.place("S2", SELL, 301_000, 600)
    world.place("B", BUY, 301_000, 1_000)
    project(world, "PRJ-1", "B", 1_000)
    world.cmd(commands.AllocateToProject, "PRJ-1", "B", 1_000)
    red1, red2 = world.reg.lot(lot1).claim_id, world.reg.lot(lot2).claim_id
    assert world.reg.project_sources("PRJ-1") == [
        (lot1, red1, "coal_boiler_phaseout", SZ, "S1", 600),
        (lot2, red2, "eia_approved_unbuilt", FS, "S2", 400),
    ]


def test_a_project_in_another_city_takes_the_quota_over_before_using_it(world):
    world.enterprise("E", GZ)
    world.issue("E", 1_000)
    project(world, "PRJ-1", "E", 1_000, city=SZ)
    events = world.cmd(commands.AllocateToProject, "PRJ-1", "E", 600)
    moves = [(m.city_code, m.kind, m.quantity_kg) for m in events if type(m) is LedgerMoved]
    assert moves == [(GZ, "transferred_out", 600), (SZ, "transferred_in", 600), (SZ, "used", 600)]
    assert world.reg.ledger_row(GZ, SYMBOL).remaining == 400
    assert world.reg.ledger_row(SZ, SYMBOL).remaining == 0


def test_only_the_owner_or_the_pool_of_the_project_city_may_allocate(world):
    world.enterprise("E", GZ)
    world.enterprise("OTHER", GZ)
    world.issue("OTHER", 1_000)
    world.bureau("BUR", GZ)
    world.issue("BUR", 1_000)
    project(world, "PRJ-1", "E", 2_000)
    refused(world, "not_allowed", commands.AllocateToProject, "PRJ-1", "OTHER", 100)
    refused(world, "not_allowed", commands.AllocateToProject, "PRJ-1", "POOL-440300", 100)
    world.cmd(commands.AllocateToProject, "PRJ-1", "POOL-440100", 100)
    assert world.reg.allowances("POOL-440100", SYMBOL) == (900, 0, 100)
    assert world.reg.project_sources("PRJ-1")[0][4] == "POOL-440100"


def test_projects_are_registered_only_with_valid_fields(world):
    world.enterprise("E", GZ)
    world.bureau("BUR", GZ)
    args = ("PRJ-1", "E", "plant", "", "key_construction", SYMBOL, 1_000, "EIA-1")
    refused(
        world, "invalid_priority_category", commands.RegisterProject, *args[:4], "vanity", *args[5:]
    )
    refused(world, "unknown_city", commands.RegisterProject, *args[:3], "999999", *args[4:])
    refused(world, "not_allowed", commands.RegisterProject, args[0], "BUR", *args[2:])
    refused(world, "invalid_amount", commands.RegisterProject, *args[:6], 0, args[7])
    refused(world, "unknown_project", commands.AllocateToProject, "PRJ-404", "E", 1)
    world.cmd(commands.RegisterProject, *args)
    assert world.reg.project("PRJ-1").city_code == GZ  # defaults to the owner's city
    refused(world, "duplicate_id", commands.RegisterProject, *args)
    for category in ("major_platform", "strategic_cluster", "county_town_village", "ordinary"):
        project(world, f"PRJ-{category}", "E", category=category)
