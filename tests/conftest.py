"""Fixtures shared by every test: databases (SQLite and PostgreSQL) and Redis.

Integration tests need a real PostgreSQL and Redis. When they are down, the
tests skip on a developer's machine and FAIL in CI (CI=true), so a CI run can
never go green by silently skipping them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

# Argon2 at production cost makes every login in a test take ~50 ms; these are
# set before any Settings object is built. An explicit environment wins.
os.environ.setdefault("EMX_ARGON2_TIME_COST", "1")
os.environ.setdefault("EMX_ARGON2_MEMORY_KIB", "64")
os.environ.setdefault("EMX_ARGON2_PARALLELISM", "1")

PG_HOST = os.environ.get("EMX_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("EMX_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("EMX_TEST_PG_USER", "postgres")
REDIS_URL = os.environ.get("EMX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def service_missing(what: str, error: BaseException) -> None:
    message = f"{what} is unreachable ({error!r}); integration tests need it"
    if in_ci():
        pytest.fail(f"{message}. CI=true, so this is a failure, not a skip.", pytrace=False)
    pytest.skip(message)


def pytest_configure(config: pytest.Config) -> None:
    # settlement's and the core's compiled modules are imported in place of their .py
    # (setup.py): one built before its source was edited would test the old code
    root = Path(__file__).resolve().parents[1]
    stale = [
        str(ext.relative_to(root))
        for package in ("settlement", "exchange/core")
        for ext in (root / package).glob("*.so")
        if (source := ext.with_name(ext.name.split(".", 1)[0] + ".py")).exists()
        and source.stat().st_mtime > ext.stat().st_mtime
    ]
    if stale:
        raise pytest.UsageError(
            f"compiled before their source last changed: {', '.join(stale)}; "
            "rebuild them (python setup.py build_ext --inplace) or delete them"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Everything under tests/integration, and anything that uses Redis, is an integration test.
    for item in items:
        in_integration_dir = "integration" in item.path.parts
        if in_integration_dir or "redis_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


SERVER_BACKENDS = ("sqlite", "postgresql")
"""The ids of tests/e2e/conftest.py's `exchange` parameters: one shared server each."""


def shared_server_group(nodeid: str) -> str | None:
    """The tests that share one session-wide server, by node id: each backend's end-to-end
    tests (`exchange[sqlite]`, `exchange[postgresql]`) and the browser tests (`service`).
    Spread over workers, every worker would start those servers again, and again each
    time its next test wanted the other backend."""
    if nodeid.startswith("tests/browser/"):
        return "browser"
    if nodeid.startswith("tests/e2e/") and nodeid.endswith("]"):
        ids = nodeid[nodeid.index("[") + 1 : -1].split("-")
        backend = next((i for i in ids if i in SERVER_BACKENDS), None)
        if backend:
            return f"e2e-{backend}"
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under `pytest -n` (scripts/test): every test goes to whichever worker is free,
    except that each group of `shared_server_group` goes whole to one worker. (xdist's own
    `--dist loadgroup` reads a marker through `item._nodeid`, which pytest 9.2 no longer
    uses, so it groups nothing.)"""
    from xdist.scheduler import LoadScopeScheduling

    class SharedServerScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return shared_server_group(nodeid) or nodeid

    return SharedServerScheduling(config, log)


# --- PostgreSQL ------------------------------------------------------------------------------


def _pg_admin():
    import psycopg

    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        dbname="postgres",
        autocommit=True,
        connect_timeout=3,
    )


@pytest.fixture(scope="session")
def _postgres_server() -> None:
    try:
        with _pg_admin() as conn:
            conn.execute("SELECT 1")
    except Exception as error:  # any failure to connect means "not available"
        service_missing(f"PostgreSQL at {PG_HOST}:{PG_PORT}", error)


@pytest.fixture
def postgres_url(_postgres_server: None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    name = f"emx_test_{secrets.token_hex(6)}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'emx.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database, once SQLite (a temporary file) and once PostgreSQL (fresh)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def db_engine(database_url: str):
    """An engine on `database_url` migrated to the head schema."""
    from exchange.infra.db.engine import make_engine
    from exchange.infra.db.migrate import upgrade

    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


# --- Redis -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _redis_server() -> None:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.ping()
        client.close()
    except Exception as error:
        service_missing(f"Redis at {REDIS_URL}", error)


@pytest.fixture
def redis_url(_redis_server: None) -> str:
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key and channel prefix of this test's own; its keys are deleted afterwards.

    Other users of the same Redis keep their keys: nothing is flushed wholesale.
    """
    import redis

    prefix = f"emx-test-{secrets.token_hex(6)}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
