"""Snapshots of the core's state, so recovery replays only the journal after the latest one.

A row's `data` is the core's snapshot compressed (zlib, behind a magic prefix): a
few MB instead of tens, so writing it holds the SQLite write lock a short while.
Rows written before compression (bare JSON) still load; `state_hash` is always
that of the uncompressed state, so it equals `Core.state_hash()`.
"""

from __future__ import annotations

import zlib
from typing import NamedTuple

from sqlalchemy import Connection, Engine, delete, insert, select

from exchange.infra.db.models import Snapshot

_snapshots = Snapshot.__table__
_COMPRESSED = b"EMXZ1\n"


def encode(data: bytes) -> bytes:
    """What a row stores for the state `data` (level 1: the speed, not the last byte)."""
    return _COMPRESSED + zlib.compress(data, 1)


def decode(stored: bytes) -> bytes:
    """The state a row holds; damaged compressed data is returned as stored, so the
    hash check that follows reports it."""
    if not stored.startswith(_COMPRESSED):
        return stored
    try:
        return zlib.decompress(stored[len(_COMPRESSED) :])
    except zlib.error:
        return stored


class SnapshotRecord(NamedTuple):
    seq: int
    ts_us: int
    state_hash: str
    data: bytes


def save(
    conn: Connection,
    seq: int,
    ts_us: int,
    state_hash: str,
    data: bytes,
    keep: int | None = None,
) -> None:
    """Store the state as of journal `seq` in the caller's transaction.

    Saving the same seq again replaces it (a restart may snapshot at the same point).
    `keep` bounds the table to the newest N snapshots.
    """
    save_stored(conn, seq, ts_us, state_hash, encode(bytes(data)), keep=keep)


def save_stored(
    conn: Connection,
    seq: int,
    ts_us: int,
    state_hash: str,
    stored: bytes,
    keep: int | None = None,
) -> None:
    """`save` for a state already encoded (by `encode`, in another process)."""
    if keep is not None and keep < 1:
        raise ValueError("keep must be at least 1")
    conn.execute(delete(_snapshots).where(_snapshots.c.seq == seq))
    conn.execute(
        insert(_snapshots),
        {"seq": seq, "ts_us": ts_us, "state_hash": state_hash, "data": stored},
    )
    if keep is not None:
        oldest_kept = (
            select(_snapshots.c.seq)
            .order_by(_snapshots.c.seq.desc())
            .offset(keep - 1)
            .limit(1)
            .scalar_subquery()
        )
        conn.execute(delete(_snapshots).where(_snapshots.c.seq < oldest_kept))


def latest(engine: Engine, at_or_before: int | None = None) -> SnapshotRecord | None:
    """The newest snapshot (optionally not after seq `at_or_before`), or None."""
    query = select(_snapshots).order_by(_snapshots.c.seq.desc()).limit(1)
    if at_or_before is not None:
        query = query.where(_snapshots.c.seq <= at_or_before)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return SnapshotRecord(row.seq, row.ts_us, row.state_hash, decode(bytes(row.data)))
