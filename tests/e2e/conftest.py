"""End-to-end fixtures: ONE real server per backend per test session.

The `exchange` fixture is parametrized over two backends:

- `sqlite`: a SQLite file in a temporary directory, in-process bus;
- `postgresql` (marked `integration`): a fresh PostgreSQL database made for this run and
  Redis with a key prefix of this run's own.

The server is `python -m exchange.cli serve` in a subprocess, spoken to over real HTTP
and WebSocket. Tests stay independent by making their own accounts and instruments
(see `helpers.py`), so they can share one server.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_HOST, PG_PORT, PG_USER, REDIS_URL, _pg_admin
from tests.e2e.helpers import Exchange

REPO = Path(__file__).resolve().parents[2]
OPERATOR_PASSWORD = "e2e-operator-" + secrets.token_hex(8)
PROVINCE_PASSWORD = "e2e-province-" + secrets.token_hex(8)
FEE_BPS = 10
REQUEST_TIMEOUT_S = 3
STARTUP_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(env_extra: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ)
    for name in [n for n in env if n.startswith("EMX_")]:
        del env[name]
    env.update(
        {
            "EMX_OPERATOR_PASSWORD": OPERATOR_PASSWORD,
            "EMX_PROVINCE_PASSWORD": PROVINCE_PASSWORD,
            "EMX_ARGON2_TIME_COST": "1",
            "EMX_ARGON2_MEMORY_KIB": "1024",
            "EMX_ARGON2_PARALLELISM": "1",
            "EMX_FEE_BPS": str(FEE_BPS),
            # short, so the tests of trickling clients are quick; every test request
            # arrives whole at once
            "EMX_REQUEST_TIMEOUT_S": str(REQUEST_TIMEOUT_S),
            # one operator token serves every test on this shared server; the per-token
            # limit is tested on servers of its own (tests/integration/test_sessions.py)
            "EMX_RATE_LIMIT": "100000",
            "PYTHONPATH": str(REPO),
            **env_extra,
        }
    )
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exchange.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    _stop(proc)
    tail = log_path.read_text(errors="replace")[-4000:]
    pytest.fail(f"the server did not become healthy at {base}; its log:\n{tail}", pytrace=False)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)],
)
def exchange(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Exchange]:
    """A running server on one backend, with operator and province logged in."""
    workdir = tmp_path_factory.mktemp(f"e2e-{request.param}")
    cleanup = []
    if request.param == "sqlite":
        env = {"EMX_DATABASE_URL": f"sqlite:///{workdir / 'emx.db'}"}
    else:
        # reuse the shared fixtures' checks: skip locally, FAIL in CI when these are down
        request.getfixturevalue("_postgres_server")
        request.getfixturevalue("_redis_server")
        name = f"emx_e2e_{secrets.token_hex(6)}"
        with _pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        prefix = f"emx-e2e-{secrets.token_hex(6)}"
        env = {
            "EMX_DATABASE_URL": f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}",
            "EMX_REDIS_URL": REDIS_URL,
            "EMX_REDIS_PREFIX": prefix,
        }
        cleanup.append(lambda: _drop_database(name))
        cleanup.append(lambda: _delete_redis_keys(prefix))
    proc, base = _start_server(env, workdir / "server.log")
    try:
        with Exchange(
            base,
            request.param,
            OPERATOR_PASSWORD,
            PROVINCE_PASSWORD,
            FEE_BPS,
            log_path=workdir / "server.log",
        ) as ex:
            yield ex
    finally:
        _stop(proc)
        for step in reversed(cleanup):
            step()


def _drop_database(name: str) -> None:
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _delete_redis_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
