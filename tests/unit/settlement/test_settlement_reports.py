from __future__ import annotations

from settlement_world import GZ, SYMBOL, SZ

from matching_engine.types import BUY, SELL
from settlement import commands
from settlement.events import LedgerMoved
from settlement.reports import monthly_city_report


def busy_month(world):
    """Guangzhou: 5000 kg added, then (after `cut`) 1500 kg sold to Shenzhen,
    400 kg used, 300 kg more added."""
    world.enterprise("A", GZ)
    world.enterprise("B", SZ, cash_fen=10_000_000)
    world.issue("A", 5_000)
    cut = world.ts() + 1
    world.place("A", SELL, 300_000, 1_500)
    world.place("B", BUY, 300_000, 1_500)
    world.cmd(commands.RegisterProject, "PRJ-1", "A", "p", GZ, "ordinary", SYMBOL, 400, "EIA")
    world.cmd(commands.AllocateToProject, "PRJ-1", "A", 400)
    world.issue("A", 300)
    return cut, world.ts() + 1


def test_monthly_report_has_opening_movements_totals_and_closing(world):
    start, end = busy_month(world)
    report = monthly_city_report(world.of(LedgerMoved), GZ, SYMBOL, start, end)
    assert report.opening_remaining_kg == 5_000
    assert (report.added_kg, report.used_kg) == (300, 400)
    assert (report.transferred_in_kg, report.transferred_out_kg) == (0, 1_500)
    assert report.closing_remaining_kg == 5_000 + 300 - 400 - 1_500
    assert [m.kind for m in report.movements] == ["transferred_out", "used", "added"]
    assert report.closing_remaining_kg == world.reg.ledger_row(GZ, SYMBOL).remaining


def test_movements_outside_the_month_only_count_towards_the_opening(world):
    start, _ = busy_month(world)
    report = monthly_city_report(world.of(LedgerMoved), GZ, SYMBOL, start - 10**12, start)
    assert report.opening_remaining_kg == 0
    assert report.added_kg == 5_000 and report.closing_remaining_kg == 5_000
    other_city = monthly_city_report(world.of(LedgerMoved), SZ, SYMBOL, start - 10**12, start)
    assert other_city.movements == ()
