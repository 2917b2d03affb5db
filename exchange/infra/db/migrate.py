"""Run the Alembic migrations from code: `upgrade(url)` brings any database to the head schema."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, text

from exchange.infra.db.engine import make_engine

SCRIPT_LOCATION = Path(__file__).resolve().parent.parent / "migrations"
# Any constant: serialises concurrent `upgrade` calls from several processes on PostgreSQL.
_PG_MIGRATION_LOCK = 0x454D58  # "EMX"


def all_metadata() -> MetaData:
    """The metadata with every table of every module under exchange/infra/db loaded.

    Modules other than models.py may declare tables on the same Base; migrations
    and schema checks must see them all.
    """
    import exchange.infra.db
    from exchange.infra.db.models import Base

    for module in pkgutil.iter_modules(exchange.infra.db.__path__):
        importlib.import_module(f"exchange.infra.db.{module.name}")
    return Base.metadata


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    if url is not None:
        # ConfigParser would read '%' in a password as interpolation.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url_or_engine: str | Engine, revision: str = "head") -> None:
    _run(url_or_engine, lambda cfg: command.upgrade(cfg, revision))


def downgrade(url_or_engine: str | Engine, revision: str) -> None:
    _run(url_or_engine, lambda cfg: command.downgrade(cfg, revision))


def current_revision(url_or_engine: str | Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = _engine(url_or_engine)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if engine is not url_or_engine:
            engine.dispose()


def _engine(url_or_engine: str | Engine) -> Engine:
    return make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine


def _run(url_or_engine: str | Engine, action) -> None:
    engine = _engine(url_or_engine)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            action(cfg)
    finally:
        if engine is not url_or_engine:
            engine.dispose()
