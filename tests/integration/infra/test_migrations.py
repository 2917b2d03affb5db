"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from exchange.infra.db.engine import make_engine
from exchange.infra.db.migrate import (
    alembic_config,
    all_metadata,
    current_revision,
    downgrade,
    upgrade,
)


def _head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_upgrade_reaches_head_and_matches_the_models(database_url):
    upgrade(database_url)
    assert current_revision(database_url) == _head()
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, all_metadata())
    finally:
        engine.dispose()
    assert differences == []


def test_upgrade_twice_is_a_no_op_and_downgrade_removes_everything(database_url):
    upgrade(database_url)
    upgrade(database_url)
    downgrade(database_url, "base")
    engine = make_engine(database_url)
    try:
        tables = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    assert tables == set()
    assert current_revision(database_url) is None


def test_check_constraints_refuse_a_negative_balance(db_engine):
    with db_engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO accounts (id, name, role) VALUES ('a1', 'A', 'enterprise')")
        )
    with pytest.raises(IntegrityError), db_engine.begin() as conn:
        conn.execute(sa.text("UPDATE accounts SET cash_available_fen = -1 WHERE id = 'a1'"))


def test_check_constraints_refuse_a_zero_amount_posting(db_engine):
    with db_engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO accounts (id, name, role) VALUES ('a1', 'A', 'enterprise')")
        )
    with pytest.raises(IntegrityError), db_engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO cash_postings (seq, account_id, kind, amount_fen,"
                " available_before_fen, available_after_fen, locked_before_fen,"
                " locked_after_fen) VALUES (1, 'a1', 'deposit', 0, 0, 0, 0, 0)"
            )
        )


def test_foreign_keys_are_enforced(db_engine):
    with pytest.raises(IntegrityError), db_engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO holdings (account_id, symbol) VALUES ('nobody', 'NOX-2025')")
        )


def test_autoincrement_ids_number_postings(db_engine):
    with db_engine.begin() as conn:
        for seq in (1, 2):
            conn.execute(
                sa.text("INSERT INTO alerts (seq, kind, detail, ts_us) VALUES (:s, 'k', '{}', 0)"),
                {"s": seq},
            )
        ids = conn.execute(sa.text("SELECT id FROM alerts ORDER BY id")).scalars().all()
    assert len(ids) == 2 and ids[0] < ids[1]


def test_duplicate_client_order_id_per_account_is_refused(db_engine):
    order = (
        "INSERT INTO orders (id, client_order_id, account_id, symbol, side, type, price_fen,"
        " quantity_kg, remaining_kg, time_in_force, status, created_us, updated_us,"
        " request_hash) VALUES (:id, 'c-1', 'a1', 'NOX-2025', 'buy', 'limit', 100, 5, 5,"
        " 'GTC', 'open', 0, 0, 'h')"
    )
    with db_engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO accounts (id, name, role) VALUES ('a1', 'A', 'enterprise')")
        )
        conn.execute(
            sa.text(
                "INSERT INTO instruments (symbol, pollutant, vintage, tick_fen, lot_kg,"
                " reference_price_fen, band_bps, status)"
                " VALUES ('NOX-2025', 'NOx', 2025, 1, 1, 300000, 1000, 'open')"
            )
        )
        conn.execute(sa.text(order), {"id": 1})
    with pytest.raises(IntegrityError), db_engine.begin() as conn:
        conn.execute(sa.text(order), {"id": 2})


def test_sqlite_connections_are_durable_and_concurrent(sqlite_url):
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            pragma = conn.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA synchronous").scalar() == 2  # FULL
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() > 0
    finally:
        engine.dispose()
