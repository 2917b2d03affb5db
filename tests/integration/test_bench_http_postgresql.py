"""The HTTP benchmark's production mode, small: a core and two gateway processes on
PostgreSQL and Redis, wrk on one gateway (and on both at once), and nothing lost — every
order answered 201 is counted by the core and stands in the `orders` table afterwards.
Its speed is not checked. Needs wrk (scripts/test installs it); fails, not skips, in CI
when PostgreSQL or Redis is down (the `_postgres_server` and `_redis_server` fixtures)."""

from __future__ import annotations

import pytest

import bench.http
import bench.service
from bench.http import main
from tests.conftest import PG_HOST, PG_PORT, PG_USER, REDIS_URL


@pytest.mark.usefixtures("_postgres_server", "_redis_server")
def test_the_production_http_benchmark_runs_and_loses_nothing(monkeypatch):
    # the benchmark's own database and Redis are the ones the fixtures checked
    monkeypatch.setattr(
        bench.service, "PG_ADMIN", f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/postgres"
    )
    monkeypatch.setattr(bench.http, "REDIS_URL", REDIS_URL)
    report = main(
        connections=(2,),
        seconds=2,
        resting=100,
        ceiling_seconds=1,
        snapshot_every=50,
        backend="postgresql",
    )
    assert not report["lost"]
    runs = {r["what"]: r for r in report["runs"]}
    assert set(runs) == {"ceiling /livez", "orders", "orders 2 gw"}
    assert all(r["failed"] == 0 for r in report["runs"])
    one, both = runs["orders"], runs["orders 2 gw"]
    assert one["requests"] > 0 and both["requests"] > 0
    assert one["snapshots"] + both["snapshots"] >= 1
    assert report["answered"] == one["requests"] + both["requests"]
    assert report["journaled"] >= report["answered"]
    assert report["visible"] >= report["answered"]
