"""Engine behaviour the service relies on, on both databases."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy.exc import OperationalError

from exchange.infra.db.engine import for_writing, make_engine


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    yield engine
    engine.dispose()


def test_a_read_transaction_sees_one_snapshot(engine):
    with engine.connect() as reader, reader.begin():
        before = reader.exec_driver_sql("SELECT count(*) FROM t").scalar()
        with engine.begin() as writer:
            writer.exec_driver_sql("INSERT INTO t VALUES (2)")
        after = reader.exec_driver_sql("SELECT count(*) FROM t").scalar()
    assert before == after == 1
    with engine.connect() as fresh:
        assert fresh.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2


def test_a_rolled_back_transaction_leaves_nothing(engine):
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        raise RuntimeError
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1


def test_for_writing_takes_the_sqlite_write_lock_at_begin(sqlite_url):
    engine = make_engine(sqlite_url)
    path = sqlite_url.removeprefix("sqlite:///")
    try:
        with for_writing(engine).begin() as conn:
            conn.exec_driver_sql("SELECT 1")
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()
    finally:
        engine.dispose()


def test_writers_wait_for_each_other_instead_of_failing(sqlite_url):
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE n (i INTEGER)")
    errors: list[BaseException] = []

    def write(k: int) -> None:
        try:
            for i in range(20):
                with for_writing(engine).begin() as conn:
                    conn.exec_driver_sql("SELECT count(*) FROM n").scalar()
                    conn.exec_driver_sql(f"INSERT INTO n VALUES ({k * 100 + i})")
        except OperationalError as error:  # pragma: no cover - the failure being tested for
            errors.append(error)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM n").scalar() == 80
    finally:
        engine.dispose()
