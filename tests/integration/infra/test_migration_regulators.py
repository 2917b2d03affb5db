"""The regulators' migration on a database that already holds alerts: each gets its place
among its command's alerts, in the order they were written, and starts open."""

from __future__ import annotations

from sqlalchemy import text

from exchange.infra.db.engine import make_engine
from exchange.infra.db.migrate import upgrade


def test_existing_alerts_get_their_ordinal_and_are_open(database_url):
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0002")
        with engine.begin() as conn:
            for seq, kind in [(7, "a"), (7, "b"), (9, "c"), (7, "d")]:
                conn.execute(
                    text(
                        "INSERT INTO alerts (seq, kind, symbol, account_id, detail, ts_us) "
                        "VALUES (:seq, :kind, 'NOX-2025', 'ACC-1', '{}', 1)"
                    ),
                    {"seq": seq, "kind": kind},
                )
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT kind, seq, ordinal, status FROM alerts ORDER BY id")
            ).all()
        assert [tuple(r) for r in rows] == [
            ("a", 7, 0, "open"),
            ("b", 7, 1, "open"),
            ("c", 9, 0, "open"),
            ("d", 7, 2, "open"),
        ]
    finally:
        engine.dispose()
