from __future__ import annotations

import csv
import io

from settlement_world import GZ, SYMBOL, SZ

from matching_engine.types import BUY, SELL
from settlement import commands as c
from settlement.events import LedgerMoved
from settlement.reports import CSV_HEADER, monthly_city_report, to_csv


def busy_month(world):
    """Guangzhou: 5000 kg added, then (after `cut`) 1500 kg sold to Shenzhen,
    400 kg used, 300 kg more added."""
    world.enterprise("A", GZ)
    world.enterprise("B", SZ, cash_fen=10_000_000)
    world.issue("A", 5_000)
    cut = world.ts() + 1
    world.place("A", SELL, 300_000, 1_500)
    world.place("B", BUY, 300_000, 1_500)
    world.cmd(c.RegisterProject, "PRJ-1", "A", "p", GZ, "ordinary", SYMBOL, 400, "EIA")
    world.cmd(c.AllocateToProject, "PRJ-1", "A", 400)
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


def test_report_csv_has_a_header_row_and_a_running_remaining(world):
    start, end = busy_month(world)
    report = monthly_city_report(world.of(LedgerMoved), GZ, SYMBOL, start, end)
    rows = list(csv.reader(io.StringIO(to_csv(report))))
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[1][0] == "opening" and rows[1][-1] == "5000"
    movements = [r for r in rows if r[0] == "movement"]
    assert [r[-1] for r in movements] == ["3500", "3100", "3400"]
    assert movements[0][8] == SZ  # counterparty
    assert rows[-1][0] == "closing" and rows[-1][-1] == "3400"
    totals = {r[5]: r[6] for r in rows if r[0] == "total"}
    assert totals == {
        "added": "300",
        "used": "400",
        "transferred_in": "0",
        "transferred_out": "1500",
    }
