"""Snapshots of the core's state, so recovery replays only the journal after the latest one.

A snapshot is recorded by a row of the `snapshots` table: its seq, the time of that
journal entry, and `state_hash`, always `Core.state_hash()` of the state (the SHA-256
of its canonical JSON), whatever the stored form. The stored forms, by the prefix of
the row's `data`:

- `EMXS1` (written now): a header line (seq, state hash, SHA-256 of the body) and the
  body, plain data (dicts, lists, tuples, str, int, bytes) pickled and zlib-compressed.
  Loading it is several times faster than parsing JSON, and it is unpickled by an
  unpickler that refuses every class, so a damaged or forged file can only fail to
  load, never run code.
- `EMXF1`: a pointer to a file holding an `EMXS1` blob, in a directory beside a SQLite
  database (`<database>.snapshots/`): the pointer names the file and its SHA-256.
  Writing the file takes no database lock; the row is a few hundred bytes, so the
  journal's writer never waits behind a snapshot. Files are written to a temporary
  name, fsynced and renamed, and pruned with their rows.
- `EMXZ1` (older rows): the canonical JSON, zlib-compressed; bare JSON (oldest rows)
  has no prefix. Both still load; their hash check is the JSON's own hash.

PostgreSQL keeps the blob in the row: its writes are row-level (an insert of a few MB
does not hold up the journal's inserts the way SQLite's single write lock does), and a
core restarted on another machine finds its snapshot in the database it was given
rather than in a local directory it may not have.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import zlib
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.engine import make_url

from exchange.infra.db.models import Snapshot

_snapshots = Snapshot.__table__
_COMPRESSED = b"EMXZ1\n"
_STATE = b"EMXS1\n"
_FILE = b"EMXF1\n"
# Level 1: a third of level 6's time for a few per cent more bytes; inflating is as
# fast either way, so the level only changes what the writer spends.
ZLIB_LEVEL = 1
FSYNC_EVERY = 4 * 1024 * 1024
_FILE_NAME = re.compile(r"([0-9]{20})\.emxsnap")
SUFFIX = ".emxsnap"


class SnapshotDamaged(ValueError):
    """The stored snapshot cannot be what its row says (hash, header, file)."""


class SnapshotRecord(NamedTuple):
    seq: int
    ts_us: int
    state_hash: str
    # the row's data as stored (a state blob, a file pointer, or legacy JSON)
    data: bytes


# ------------------------------------------------------------------ encoding


def encode(data: bytes) -> bytes:
    """What a row stores for the canonical JSON state `data` (the older form)."""
    return _COMPRESSED + zlib.compress(data, ZLIB_LEVEL)


def encode_state(seq: int, state_hash: str, plain: Any) -> bytes:
    """An `EMXS1` blob: `plain` (plain data only) pickled and compressed, behind a
    header that binds it to its seq and state hash."""
    body = zlib.compress(pickle.dumps(plain, protocol=5), ZLIB_LEVEL)
    header = {"seq": seq, "state_hash": state_hash, "body_sha256": hashlib.sha256(body).hexdigest()}
    return _STATE + json.dumps(header, sort_keys=True).encode() + b"\n" + body


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"a snapshot holds plain data only, not {module}.{name}")


class Verified(NamedTuple):
    """A snapshot whose stored bytes matched their hashes; `state()` reads it."""

    seq: int
    state_hash: str
    kind: str  # "json" (canonical JSON bytes) or "plain" (an EMXS1 body)
    payload: bytes

    def state(self) -> Any:
        """The canonical JSON bytes ("json") or the plain data ("plain")."""
        if self.kind == "json":
            return self.payload
        try:
            raw = zlib.decompress(self.payload)
        except zlib.error as bad:
            raise SnapshotDamaged(f"its data cannot be inflated: {bad}") from None
        try:
            return _PlainUnpickler(io.BytesIO(raw)).load()
        except Exception as bad:  # any damage the hash did not catch
            raise SnapshotDamaged(f"its data cannot be read: {bad}") from None


def _verify_state_blob(seq: int, state_hash: str, blob: bytes) -> Verified:
    end = blob.find(b"\n", len(_STATE))
    try:
        header = json.loads(blob[len(_STATE) : end]) if end > 0 else None
    except ValueError:
        header = None
    if type(header) is not dict:
        raise SnapshotDamaged("its header cannot be read")
    body = blob[end + 1 :]
    if header.get("seq") != seq:
        raise SnapshotDamaged(f"its header says seq {header.get('seq')}")
    if header.get("state_hash") != state_hash:
        raise SnapshotDamaged("its header names another state hash")
    if hashlib.sha256(body).hexdigest() != header.get("body_sha256"):
        raise SnapshotDamaged("its data does not match its hash")
    return Verified(seq, state_hash, "plain", body)


def verify(record: SnapshotRecord, directory: Path | None) -> Verified:
    """The snapshot a row records, checked: a file's SHA-256 against the row, a state
    blob's header and body against the row's seq and state hash, legacy JSON against
    the state hash. Raises SnapshotDamaged."""
    data = record.data
    if data.startswith(_FILE):
        data = _read_file(record, directory)
    if data.startswith(_STATE):
        return _verify_state_blob(record.seq, record.state_hash, data)
    if data.startswith(_COMPRESSED):
        try:
            data = zlib.decompress(data[len(_COMPRESSED) :])
        except zlib.error:
            raise SnapshotDamaged("its data does not match its hash") from None
    if hashlib.sha256(data).hexdigest() != record.state_hash:
        raise SnapshotDamaged("its data does not match its hash")
    return Verified(record.seq, record.state_hash, "json", data)


def _read_file(record: SnapshotRecord, directory: Path | None) -> bytes:
    try:
        pointer = json.loads(record.data[len(_FILE) :])
        name, want = pointer["file"], pointer["sha256"]
    except (ValueError, KeyError, TypeError):
        raise SnapshotDamaged("its file pointer cannot be read") from None
    if directory is None:
        raise SnapshotDamaged(f"it is the file {name}, and this database has no snapshot folder")
    if _FILE_NAME.fullmatch(name) is None:
        raise SnapshotDamaged(f"its file name {name!r} is not a snapshot's")
    path = directory / name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SnapshotDamaged(f"its file {path} is missing") from None
    except OSError as exc:
        raise SnapshotDamaged(f"its file {path} cannot be read: {exc.strerror}") from None
    if hashlib.sha256(data).hexdigest() != want:
        raise SnapshotDamaged(f"its file {path} does not match its hash")
    return data


# ------------------------------------------------------------------ where


def directory_for(db: Engine) -> Path | None:
    """The folder beside a SQLite database file that holds its snapshot files; None
    (snapshots in rows) for PostgreSQL and in-memory SQLite."""
    parsed = make_url(str(db.url))
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if parsed.query.get("uri") == "true":
        if parsed.query.get("mode") == "memory":
            return None
        database = (database or "").removeprefix("file:").split("?", 1)[0]
    if database in (None, "", ":memory:"):
        return None
    return Path(f"{database}.snapshots")


def file_name(seq: int) -> str:
    return f"{seq:020d}{SUFFIX}"


def write_file(directory: Path, seq: int, blob: bytes) -> tuple[str, str]:
    """Write `blob` as the snapshot file of `seq`, atomically: a temporary file,
    fsynced (every `FSYNC_EVERY` bytes), renamed over the name, and the folder
    fsynced so the rename survives a power cut. Returns (name, SHA-256)."""
    directory.mkdir(mode=0o700, exist_ok=True)
    name = file_name(seq)
    tmp = directory / f".{name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            view = memoryview(blob)
            while view:
                # fsync every few MB, as Redis' incremental fsync does: one flush of
                # the whole file at the end would queue tens of MB of writeback in
                # front of the journal's own commit fsyncs on the same disk
                chunk = view[:FSYNC_EVERY]
                while chunk:
                    chunk = chunk[os.write(fd, chunk) :]
                os.fsync(fd)
                view = view[FSYNC_EVERY:]
        finally:
            os.close(fd)
        os.replace(tmp, directory / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(directory)
    return name, hashlib.sha256(blob).hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_pointer(name: str, sha256: str) -> bytes:
    """What the row of a snapshot kept in a file stores."""
    return _FILE + json.dumps({"file": name, "sha256": sha256}, sort_keys=True).encode()


# ------------------------------------------------------------------ rows


def save(
    conn: Connection,
    seq: int,
    ts_us: int,
    state_hash: str,
    data: bytes,
    keep: int | None = None,
) -> None:
    """Store the canonical JSON state `data` as of journal `seq` (the older form, still
    loadable) in the caller's transaction."""
    save_stored(conn, seq, ts_us, state_hash, encode(bytes(data)), keep=keep)


def save_stored(
    conn: Connection,
    seq: int,
    ts_us: int,
    state_hash: str,
    stored: bytes,
    keep: int | None = None,
) -> None:
    """Record a snapshot whose row data is `stored` (an encoded state or a file
    pointer) in the caller's transaction.

    Saving the same seq again replaces it (a restart may snapshot at the same point).
    `keep` bounds the table to the newest N snapshots; `prune_files` then removes the
    files no row names any more.
    """
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


def prune_files(db: Engine, directory: Path) -> list[str]:
    """Remove the snapshot files no row names, older than the newest row (a newer
    file may be about to get its row), and temporary files left by a writer that
    died. Returns the names removed."""
    if not directory.is_dir():
        return []
    with db.connect() as conn:
        seqs = set(conn.execute(select(_snapshots.c.seq)).scalars())
    newest = max(seqs, default=0)
    removed = []
    for entry in os.scandir(directory):
        match = _FILE_NAME.fullmatch(entry.name)
        stale = (match is not None and int(match[1]) not in seqs and int(match[1]) < newest) or (
            entry.name.startswith(".") and entry.name.endswith(".tmp") and _writer_gone(entry.name)
        )
        if stale:
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            removed.append(entry.name)
    return removed


def _writer_gone(tmp_name: str) -> bool:
    # ".<name>.<pid>.tmp": a live writer's file is left alone
    try:
        pid = int(tmp_name.rsplit(".", 2)[-2])
    except ValueError:
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def latest(engine: Engine, at_or_before: int | None = None) -> SnapshotRecord | None:
    """The newest snapshot's row (optionally not after seq `at_or_before`), or None."""
    query = select(_snapshots).order_by(_snapshots.c.seq.desc()).limit(1)
    if at_or_before is not None:
        query = query.where(_snapshots.c.seq <= at_or_before)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return SnapshotRecord(row.seq, row.ts_us, row.state_hash, bytes(row.data))
