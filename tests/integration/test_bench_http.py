"""The HTTP benchmark, small: it runs end to end (server, wrk, ceiling, seeding, the
measured runs) and loses nothing. Its speed is not checked. Needs wrk (scripts/test
installs it)."""

from __future__ import annotations

from bench.http import main


def test_the_http_benchmark_runs_and_loses_nothing():
    report = main(connections=(2,), seconds=2, resting=100, ceiling_seconds=1, snapshot_every=50)
    assert not report["lost"]
    runs = {r["what"]: r for r in report["runs"]}
    assert set(runs) == {"ceiling /livez", "orders"}
    assert all(r["failed"] == 0 for r in report["runs"])
    assert runs["orders"]["requests"] > 0 and runs["orders"]["snapshots"] >= 1
    assert report["answered"] == runs["orders"]["requests"]
    assert report["journaled"] >= report["answered"]
