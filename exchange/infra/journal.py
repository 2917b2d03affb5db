"""The durable command log: every sequenced command, hash-chained.

`hash = sha256(prev_hash + canonical([seq, ts_us, kind, payload]))`, starting
from 64 zeros, so changing, removing or reordering any past entry breaks every
later link and `verify_chain` names the first bad one.

`append` writes on the caller's connection and never commits: the sequencer puts a
whole batch of commands in one transaction (group commit) and acknowledges them only
after that commit; the read models are projected behind it (exchange.infra.projection).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, select

from exchange.infra.db.models import JournalEntry

GENESIS = "0" * 64
_journal = JournalEntry.__table__


class JournalError(RuntimeError):
    pass


class JournalCorrupted(JournalError):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"journal corrupted at seq {seq}: {reason}")
        self.seq = seq
        self.reason = reason


class Entry(NamedTuple):
    seq: int
    ts_us: int
    kind: str
    payload: dict[str, Any]
    hash: str


# Built once: json.dumps with options would build a new encoder on every call.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def encode_payload(value: Any) -> str:
    """Canonical JSON: one spelling per value, so the hash of a payload never varies."""
    return _CANONICAL.encode(value)


def decode_payload(text: str) -> Any:
    return json.loads(text)


def link_hash(prev_hash: str, seq: int, ts_us: int, kind: str, payload_text: str) -> str:
    # Equal to encode_payload([seq, ts_us, kind, payload]) for a canonical payload_text,
    # built from the stored text so verification needs no re-encoding.
    record = f"[{seq},{ts_us},{encode_payload(kind)},{payload_text}]"
    return hashlib.sha256((prev_hash + record).encode("utf-8")).hexdigest()


class Journal:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(
        self,
        conn: Connection,
        entries: Sequence[tuple[int, int, str, dict[str, Any]]],
        tail: tuple[int, str] | None = None,
    ) -> tuple[int, str]:
        """Chain and insert `entries` (seq, ts_us, kind, payload) in the caller's transaction.

        Seqs must continue the journal without a gap. Returns the new (last seq, last hash).
        `tail`: the (seq, hash) the caller believes is the journal's last entry (the
        sequencer, the one writer, keeps it in memory). On PostgreSQL it spares the query
        for the tail: the insert itself checks it in the same statement, and inserts
        nothing (JournalError) unless a row with exactly that seq and hash exists; the
        primary key on seq refuses it if any row follows. So a wrong tail fails the
        batch, never breaks the chain. On SQLite (no round trip to save) it is compared
        with the tail read as before.
        """
        if not entries:
            return _tail(conn)
        postgresql = conn.dialect.name == "postgresql"
        if conn.dialect.name == "sqlite":
            # Write before reading the tail: the write lock is then held (waiting for it if
            # need be) before the read, so the read-then-insert cannot hit SQLITE_BUSY.
            conn.exec_driver_sql("DELETE FROM journal WHERE seq < 0")
        if tail is not None and postgresql:
            last_seq, prev = tail
        else:
            last_seq, prev = _tail(conn)
            if tail is not None and tail != (last_seq, prev):
                raise JournalError(f"the journal ends at {last_seq}, not at the {tail[0]} expected")
        after = (last_seq, prev)
        rows = []
        for seq, ts_us, kind, payload in entries:
            if seq != last_seq + 1:
                raise JournalError(f"seq {seq} does not follow {last_seq}")
            text = encode_payload(payload)
            digest = link_hash(prev, seq, ts_us, kind, text)
            rows.append((seq, ts_us, kind, text, prev, digest))
            last_seq, prev = seq, digest
        if tail is not None and postgresql:
            _insert_after(conn, rows, after)
        else:
            _insert(conn, rows)
        return last_seq, prev

    def last(self) -> tuple[int, str]:
        """(seq, hash) of the newest entry, or (0, GENESIS) for an empty journal."""
        with self.engine.connect() as conn:
            return _tail(conn)

    def read(self, after_seq: int = 0, batch: int = 10_000) -> Iterator[Entry]:
        """Entries with seq > after_seq, in order, fetched `batch` rows at a time."""
        for seq, ts_us, kind, text, _prev, digest in self._rows(after_seq, batch):
            yield Entry(seq, ts_us, kind, decode_payload(text), digest)

    def verify_chain(self, batch: int = 50_000) -> tuple[int, str]:
        """Check every link from genesis; returns the tail, raises JournalCorrupted.

        It runs on every start, so the loop is kept lean: each kind's JSON spelling
        is built once, and the record is hashed straight from the stored text.
        """
        expected_seq, prev = 1, GENESIS
        kinds: dict[str, str] = {}
        sha256 = hashlib.sha256
        for seq, ts_us, kind, text, prev_hash, digest in self._raw_rows(batch):
            if seq != expected_seq:
                raise JournalCorrupted(expected_seq, f"missing; next stored seq is {seq}")
            if prev_hash != prev:
                raise JournalCorrupted(seq, "prev_hash does not match the previous entry")
            spelled = kinds.get(kind)
            if spelled is None:
                spelled = kinds[kind] = encode_payload(kind)
            record = f"{prev}[{seq},{ts_us},{spelled},{text}]"
            if sha256(record.encode("utf-8")).hexdigest() != digest:
                raise JournalCorrupted(seq, "hash does not match the entry's content")
            expected_seq, prev = seq + 1, digest
        return expected_seq - 1, prev

    def entry_ts_us(self, seq: int) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(select(_journal.c.ts_us).where(_journal.c.seq == seq)).scalar()

    def _raw_rows(self, batch: int) -> Iterator[tuple]:
        """Every row from genesis, as plain driver tuples: verification reads the whole
        journal on each start, and SQLAlchemy's row objects would double its time."""
        mark = "?" if self.engine.dialect.name == "sqlite" else "%s"
        sql = (
            "SELECT seq, ts_us, kind, payload, prev_hash, hash FROM journal "
            f"WHERE seq > {mark} ORDER BY seq LIMIT {mark}"
        )
        after_seq = 0
        while True:
            with self.engine.connect() as conn:
                cur = conn.connection.dbapi_connection.cursor()
                try:
                    cur.execute(sql, (after_seq, batch))
                    rows = cur.fetchall()
                finally:
                    cur.close()
            yield from rows
            if len(rows) < batch:
                return
            after_seq = rows[-1][0]

    def _rows(self, after_seq: int, batch: int) -> Iterator[tuple]:
        # Keyset pages: constant memory, and no read transaction held open for the whole log.
        query = (
            select(
                _journal.c.seq,
                _journal.c.ts_us,
                _journal.c.kind,
                _journal.c.payload,
                _journal.c.prev_hash,
                _journal.c.hash,
            )
            .order_by(_journal.c.seq)
            .limit(batch)
        )
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(query.where(_journal.c.seq > after_seq)).all()
            yield from rows
            if len(rows) < batch:
                return
            after_seq = rows[-1][0]


_COLUMNS = ("seq", "ts_us", "kind", "payload", "prev_hash", "hash")
_SQLITE_INSERT = f"INSERT INTO journal ({', '.join(_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)"


def _insert(conn: Connection, rows: list[tuple]) -> None:
    if conn.dialect.name == "postgresql":
        # COPY is several times faster than a pipelined executemany, and this is
        # the one write every command waits for. Same connection, same transaction.
        raw = conn.connection.dbapi_connection
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY journal ({', '.join(_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    else:
        conn.exec_driver_sql(_SQLITE_INSERT, rows)


# One statement, one round trip: the rows go in only if the journal's last row is the
# tail they were chained to (a row with that seq and hash exists, and the primary key
# refuses the first seq if anything follows it).
_INSERT_AFTER = (
    f"INSERT INTO journal ({', '.join(_COLUMNS)}) "
    "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[],"
    " %s::text[]) WHERE "
)
_AFTER_ROW = "EXISTS (SELECT 1 FROM journal WHERE seq = %s AND hash = %s)"
_AFTER_NOTHING = "NOT EXISTS (SELECT 1 FROM journal)"


def _insert_after(conn: Connection, rows: list[tuple], after: tuple[int, str]) -> None:
    columns = [list(column) for column in zip(*rows, strict=True)]
    if after[0] == 0:
        if after[1] != GENESIS:
            raise JournalError("an empty journal's tail is the genesis hash")
        sql, params = _INSERT_AFTER + _AFTER_NOTHING, columns
    else:
        sql, params = _INSERT_AFTER + _AFTER_ROW, [*columns, after[0], after[1]]
    # through SQLAlchemy, not the raw cursor: a lost connection is then recognised as
    # one (DBAPIError.connection_invalidated), and the sequencer can take a new one
    inserted = conn.exec_driver_sql(sql, tuple(params)).rowcount
    if inserted != len(rows):
        raise JournalError(
            f"the journal does not end at seq {after[0]} with the hash expected: nothing written"
        )


def _tail(conn: Connection) -> tuple[int, str]:
    row = conn.execute(
        select(_journal.c.seq, _journal.c.hash).order_by(_journal.c.seq.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else (0, GENESIS)
