"""Snapshots: save in the caller's transaction, find the latest, keep a bounded number."""

from __future__ import annotations

from exchange import snapshots


def test_latest_is_none_before_any_snapshot(db_engine):
    assert snapshots.latest(db_engine) is None


def test_latest_returns_the_newest_snapshot_bytes_exactly(db_engine):
    blob = bytes(range(256)) * 10
    with db_engine.begin() as conn:
        snapshots.save(conn, 10, 1000, "a" * 64, b"old")
        snapshots.save(conn, 20, 2000, "b" * 64, blob)
    latest = snapshots.latest(db_engine)
    assert latest == (20, 2000, "b" * 64, blob)
    assert snapshots.latest(db_engine, at_or_before=19).seq == 10
    assert snapshots.latest(db_engine, at_or_before=9) is None


def test_saving_the_same_seq_again_replaces_it(db_engine):
    with db_engine.begin() as conn:
        snapshots.save(conn, 10, 1000, "a" * 64, b"first")
    with db_engine.begin() as conn:
        snapshots.save(conn, 10, 1001, "c" * 64, b"second")
    assert snapshots.latest(db_engine) == (10, 1001, "c" * 64, b"second")


def test_keep_prunes_older_snapshots(db_engine):
    for seq in range(1, 6):
        with db_engine.begin() as conn:
            snapshots.save(conn, seq * 100, seq, "h" * 64, b"x", keep=2)
    with db_engine.connect() as conn:
        kept = conn.exec_driver_sql("SELECT seq FROM snapshots ORDER BY seq").scalars().all()
    assert kept == [400, 500]
