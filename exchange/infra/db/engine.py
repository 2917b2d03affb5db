"""Engines for the two supported databases: SQLite (embedded) and PostgreSQL (psycopg 3).

On both, a transaction reads from one snapshot, and a commit is durable when it returns.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_MS = 10_000
_SQLITE_BEGIN_MODES = {"DEFERRED", "IMMEDIATE", "EXCLUSIVE"}


def make_engine(url: str, *, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            # The bare name would pick psycopg2, which is not a dependency.
            parsed = parsed.set(drivername="postgresql+psycopg")
        # One snapshot per transaction, as SQLite in WAL mode gives: a multi-statement read
        # (a book and its seq) is consistent. Only the core writes shared rows, so there
        # are no serialization failures to retry.
        return create_engine(
            parsed, echo=echo, pool_pre_ping=True, isolation_level="REPEATABLE READ"
        )
    raise ValueError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
    )


def for_writing(engine: Engine) -> Engine:
    """The same engine, but its SQLite transactions take the write lock at BEGIN.

    A deferred SQLite transaction that reads and then writes fails at once
    (SQLITE_BUSY, no waiting) if another connection committed in between;
    taking the lock first makes it wait its turn instead. No effect on PostgreSQL.
    """
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def probe_write(engine: Engine) -> None:
    """Raise unless a write transaction can be opened right now: a read-only,
    locked-out or unreachable database fails here. Nothing is changed."""
    with for_writing(engine).connect() as conn, conn.begin() as tx:
        # a statement that writes nothing, but only runs where writing is allowed
        conn.exec_driver_sql("DELETE FROM journal WHERE seq < 0")
        tx.rollback()


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    database = make_url(url).database
    in_memory = database in (None, "", ":memory:")
    kwargs: dict = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        # Every pooled connection would otherwise see its own empty database.
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, echo=echo, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # The sqlite3 module would BEGIN only before the first write, so the reads of
        # one transaction would not share a snapshot; SQLAlchemy begins instead (below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            if not in_memory:
                # WAL lets the API read while the core writes.
                cur.execute("PRAGMA journal_mode=WAL")
            # FULL fsyncs the WAL on every commit: an acknowledged command survives a power cut.
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode not in _SQLITE_BEGIN_MODES:
            raise ValueError(f"sqlite_begin must be one of {sorted(_SQLITE_BEGIN_MODES)}")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine
