"""The projection-progress migration on a database that already holds a journal: its
read models were committed with the journal, so their progress starts at its tail."""

from __future__ import annotations

from sqlalchemy import text

from exchange.infra.db.engine import make_engine
from exchange.infra.db.migrate import upgrade
from exchange.infra.projector import load_progress


def test_an_existing_journal_is_shown_whole_by_the_read_models(database_url):
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0007")
        with engine.begin() as conn:
            for seq in (1, 2, 3):
                conn.execute(
                    text(
                        "INSERT INTO journal (seq, ts_us, kind, payload, prev_hash, hash) "
                        "VALUES (:seq, :seq, 'deposit', '{}', 'p', 'h')"
                    ),
                    {"seq": seq},
                )
        upgrade(engine)
        with engine.connect() as conn:
            assert load_progress(conn) == 3
    finally:
        engine.dispose()


def test_a_new_database_starts_at_nothing_projected(database_url):
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            assert load_progress(conn) == 0
            rows = conn.execute(text("SELECT id, seq FROM projection_progress")).all()
        assert [tuple(r) for r in rows] == [(1, 0)]
    finally:
        engine.dispose()
