"""Snapshots: rows saved in the caller's transaction, the newest found, a bounded number
kept; the stored forms (plain state, file beside SQLite, older JSON) checked on load."""

from __future__ import annotations

import hashlib
import os
import pickle
import zlib

import pytest
from sqlalchemy import create_engine, text

from exchange.infra import snapshots
from exchange.infra.db.engine import make_engine
from exchange.infra.db.migrate import upgrade
from exchange.infra.snapshots import SnapshotDamaged, SnapshotRecord


def test_latest_is_none_before_any_snapshot(db_engine):
    assert snapshots.latest(db_engine) is None


def test_latest_returns_the_newest_row_exactly(db_engine):
    blob = bytes(range(256)) * 10
    with db_engine.begin() as conn:
        snapshots.save_stored(conn, 10, 1000, "a" * 64, b"old")
        snapshots.save_stored(conn, 20, 2000, "b" * 64, blob)
    assert snapshots.latest(db_engine) == (20, 2000, "b" * 64, blob)
    assert snapshots.latest(db_engine, at_or_before=19).seq == 10
    assert snapshots.latest(db_engine, at_or_before=9) is None


def test_saving_the_same_seq_again_replaces_it(db_engine):
    with db_engine.begin() as conn:
        snapshots.save_stored(conn, 10, 1000, "a" * 64, b"first")
    with db_engine.begin() as conn:
        snapshots.save_stored(conn, 10, 1001, "c" * 64, b"second")
    assert snapshots.latest(db_engine) == (10, 1001, "c" * 64, b"second")


def test_keep_prunes_older_snapshots(db_engine):
    for seq in range(1, 6):
        with db_engine.begin() as conn:
            snapshots.save_stored(conn, seq * 100, seq, "h" * 64, b"x", keep=2)
    with db_engine.connect() as conn:
        kept = conn.exec_driver_sql("SELECT seq FROM snapshots ORDER BY seq").scalars().all()
    assert kept == [400, 500]


def _json_state(n: int = 5_000) -> tuple[bytes, str]:
    state = b'{"orders": [' + b'{"side": "buy", "price_fen": 320000}, ' * n + b"]}"
    return state, hashlib.sha256(state).hexdigest()


def test_json_snapshots_are_stored_compressed_and_verify_as_json(db_engine):
    state, digest = _json_state()
    with db_engine.begin() as conn:
        snapshots.save(conn, 7, 70, digest, state)
    record = snapshots.latest(db_engine)
    assert len(record.data) < len(state) // 10
    checked = snapshots.verify(record, None)
    assert (checked.kind, checked.state()) == ("json", state)


def test_a_snapshot_stored_before_compression_still_loads(db_engine):
    state = b'{"last_seq": 3}'
    digest = hashlib.sha256(state).hexdigest()
    with db_engine.begin() as conn:
        conn.execute(
            text("INSERT INTO snapshots (seq, ts_us, state_hash, data) VALUES (3, 30, :h, :d)"),
            {"d": state, "h": digest},
        )
    assert snapshots.verify(snapshots.latest(db_engine), None).state() == state


def test_damaged_compressed_json_fails_the_hash_check(db_engine):
    state, digest = _json_state(100)
    stored = snapshots.encode(state)
    damaged = stored[:-8] + b"\x00" * 8
    with pytest.raises(SnapshotDamaged, match="does not match its hash"):
        snapshots.verify(SnapshotRecord(5, 50, digest, damaged), None)


PLAIN = {"orders": {7: ("ACC-1", 320_000, [[1, "LOT-1", 5]])}, "names": {"a", "b"}, "raw": b"x"}


def test_a_plain_state_comes_back_equal():
    blob = snapshots.encode_state(12, "d" * 64, PLAIN)
    checked = snapshots.verify(SnapshotRecord(12, 0, "d" * 64, blob), None)
    assert checked.kind == "plain"
    assert checked.state() == PLAIN


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (SnapshotRecord(13, 0, "d" * 64, None), "header says seq 12"),
        (SnapshotRecord(12, 0, "e" * 64, None), "another state hash"),
    ],
)
def test_a_plain_state_is_bound_to_its_seq_and_state_hash(record, reason):
    blob = snapshots.encode_state(12, "d" * 64, PLAIN)
    with pytest.raises(SnapshotDamaged, match=reason):
        snapshots.verify(record._replace(data=blob), None)


def test_a_changed_or_cut_plain_state_fails_its_hash():
    blob = snapshots.encode_state(12, "d" * 64, PLAIN)
    flipped = blob[:-3] + bytes([blob[-3] ^ 1]) + blob[-2:]
    for bad in (flipped, blob[:-10], blob[: blob.index(b"\n", 6)]):
        with pytest.raises(SnapshotDamaged):
            snapshots.verify(SnapshotRecord(12, 0, "d" * 64, bad), None)


class _Boom:
    ran = False

    def __reduce__(self):
        return (_Boom.explode, ())

    @staticmethod
    def explode():
        _Boom.ran = True


def test_a_forged_state_that_names_a_class_is_refused_without_running_it():
    body = zlib.compress(pickle.dumps({"x": _Boom()}))
    header = b'{"body_sha256": "%s", "seq": 1, "state_hash": "%s"}' % (
        hashlib.sha256(body).hexdigest().encode(),
        b"f" * 64,
    )
    forged = b"EMXS1\n" + header + b"\n" + body
    checked = snapshots.verify(SnapshotRecord(1, 0, "f" * 64, forged), None)
    with pytest.raises(SnapshotDamaged, match="plain data only"):
        checked.state()
    assert not _Boom.ran


# ---------------------------------------------------------------------- files


def test_the_snapshot_folder_is_beside_a_sqlite_file_only(tmp_path):
    on_file = make_engine(f"sqlite:///{tmp_path / 'emx.db'}")
    assert snapshots.directory_for(on_file) == tmp_path / "emx.db.snapshots"
    assert snapshots.directory_for(make_engine("sqlite://")) is None
    assert snapshots.directory_for(create_engine("postgresql+psycopg://u@h/db")) is None


def test_a_file_is_written_whole_and_its_pointer_verifies(tmp_path):
    directory = tmp_path / "emx.db.snapshots"
    blob = snapshots.encode_state(40, "a" * 64, PLAIN)
    name, digest = snapshots.write_file(directory, 40, blob)
    assert (directory / name).read_bytes() == blob
    assert os.listdir(directory) == [name]  # no temporary file left
    record = SnapshotRecord(40, 0, "a" * 64, snapshots.file_pointer(name, digest))
    assert snapshots.verify(record, directory).state() == PLAIN
    (directory / name).write_bytes(blob[:-1])
    with pytest.raises(SnapshotDamaged, match="does not match its hash"):
        snapshots.verify(record, directory)
    (directory / name).unlink()
    with pytest.raises(SnapshotDamaged, match="missing"):
        snapshots.verify(record, directory)


def test_a_pointer_cannot_lead_out_of_the_folder(tmp_path):
    pointer = snapshots.file_pointer("../emx.db", "0" * 64)
    with pytest.raises(SnapshotDamaged, match="not a snapshot's"):
        snapshots.verify(SnapshotRecord(1, 0, "a" * 64, pointer), tmp_path)


def test_files_of_pruned_rows_and_dead_writers_are_removed(sqlite_url):
    db = make_engine(sqlite_url)
    upgrade(db)
    directory = snapshots.directory_for(db)
    for seq in (100, 200, 300):
        name, digest = snapshots.write_file(directory, seq, b"state %d" % seq)
        with db.begin() as conn:
            snapshots.save_stored(
                conn, seq, seq, "h" * 64, snapshots.file_pointer(name, digest), keep=2
            )
    # a file whose row is not written yet (a newer snapshot in the making) stays
    snapshots.write_file(directory, 400, b"state 400")
    dead = directory / f".{snapshots.file_name(500)}.999999999.tmp"
    dead.write_bytes(b"half")
    removed = snapshots.prune_files(db, directory)
    assert sorted(removed) == sorted([snapshots.file_name(100), dead.name])
    assert sorted(os.listdir(directory)) == [snapshots.file_name(s) for s in (200, 300, 400)]
    db.dispose()
