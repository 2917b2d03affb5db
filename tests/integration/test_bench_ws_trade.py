"""The /ws/trade benchmark, small: it runs end to end and loses nothing (every order
acked, and the service counted exactly as many journaled). Its speed is not checked."""

from __future__ import annotations

from bench.ws_trade import main


def test_the_ws_trade_benchmark_runs_and_loses_nothing():
    result = main(connections=2, orders=150, window=8)
    assert result["errors"] == {}
    assert result["acked"] == result["orders"] == 300
    assert result["journaled_by_metrics"] == 300


def test_the_snapshot_stall_benchmark_runs_in_both_modes():
    from bench.snapshot_stall import main as stall

    result = stall(resting=600, orders=60, snapshot_every=50)
    assert set(result) == {"inline", "forked"}
    for mode in result.values():
        assert mode["snapshot_in_timed_phase"] is True
        assert mode["snapshot_failures"] == 0
