"""Snapshots: save in the caller's transaction, find the latest, keep a bounded number."""

from __future__ import annotations

from exchange.infra import snapshots


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


def _stored(db_engine, seq: int) -> bytes:
    with db_engine.connect() as conn:
        return bytes(
            conn.exec_driver_sql(f"SELECT data FROM snapshots WHERE seq = {seq}").scalar_one()
        )


def test_snapshots_are_stored_compressed(db_engine):
    state = b'{"orders": [' + b'{"side": "buy", "price_fen": 320000}, ' * 5_000 + b"]}"
    with db_engine.begin() as conn:
        snapshots.save(conn, 7, 70, "d" * 64, state)
    assert len(_stored(db_engine, 7)) < len(state) // 10
    assert snapshots.latest(db_engine).data == state


def test_a_snapshot_stored_before_compression_still_loads(db_engine):
    state = b'{"last_seq": 3}'
    with db_engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO snapshots (seq, ts_us, state_hash, data) VALUES (3, 30, 'e', :d)"
            if db_engine.dialect.name == "sqlite"
            else "INSERT INTO snapshots (seq, ts_us, state_hash, data) VALUES (3, 30, 'e', %(d)s)",
            {"d": state},
        )
    assert snapshots.latest(db_engine).data == state


def test_damaged_compressed_data_comes_back_as_stored_for_the_hash_check(db_engine):
    with db_engine.begin() as conn:
        snapshots.save(conn, 5, 50, "f" * 64, b"state" * 100)
    damaged = _stored(db_engine, 5)[:-8] + b"\x00" * 8
    with db_engine.begin() as conn:
        conn.execute(
            snapshots._snapshots.update().where(snapshots._snapshots.c.seq == 5),
            {"data": damaged},
        )
    assert snapshots.latest(db_engine).data == damaged
