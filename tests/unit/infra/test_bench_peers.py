"""The peer benchmark's stream and this project's worker, without the peers installed."""

from __future__ import annotations

import importlib.util

from bench.peers import WORKER, outcome_problems, stream_rows


def _worker():
    spec = importlib.util.spec_from_file_location("peer_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_stream_never_lets_an_aggressive_order_meet_its_owners():
    rows = stream_rows(8_000, seed=7)
    resting_owners = {r[4] for r in rows if r[0] and not r[6] and r[4] < 1_000}
    taker_owners = {r[4] for r in rows if r[0] and r[4] >= 1_000}
    assert taker_owners and not resting_owners & taker_owners
    assert {r[0] for r in rows} == {0, 1}


def test_this_projects_worker_runs_the_stream_and_reports_its_outcome():
    result = _worker().run_this_project(stream_rows(8_000, seed=7))

    assert result["ops"] == 8_000 and result["ops_per_s"] > 0
    assert result["trades"] > 0 and result["traded_qty"] > 0
    assert set(result) >= {"fills", "levels", "live_orders", "resting_orders"}


def test_outcomes_that_differ_are_reported():
    base = {"trades": 2, "traded_qty": 5, "fills": "a", "levels": "b", "live_orders": "c"}
    results = {
        "this project (peers' Python)": base,
        "other": base | {"levels": "x"},
        "no fill reports": {"levels": "b", "live_orders": "c"},
    }

    assert outcome_problems(results) == ["other: levels x != b (this project (peers' Python))"]
