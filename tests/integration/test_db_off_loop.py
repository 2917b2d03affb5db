"""No request handler reads or writes the database on the event-loop thread: a query
there stalls every other request and feed of the process for as long as it takes.

An in-process server, with a cursor hook on its engine that notes every statement run
on a thread with a running event loop, is driven through every endpoint (the walk of
tests/e2e/test_openapi_responses.py); the hook must note none."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from exchange.bootstrap import create_app
from exchange.config import Settings, get_settings
from exchange.core.state import Core
from exchange.edge import auth
from tests.e2e.helpers import API, Exchange, ok
from tests.e2e.test_openapi_responses import _walk

OPERATOR_PASSWORD = "offloop-operator-pw"
PROVINCE_PASSWORD = "offloop-province-pw"


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch):
    for name, value in (("TIME_COST", "1"), ("MEMORY_KIB", "1024"), ("PARALLELISM", "1")):
        monkeypatch.setenv(f"EMX_ARGON2_{name}", value)
    get_settings.cache_clear()
    auth._default_hasher.cache_clear()
    yield
    get_settings.cache_clear()
    auth._default_hasher.cache_clear()


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class InProcess(Exchange):
    """The e2e builders, spoken through an in-process TestClient."""

    def __init__(self, client: TestClient) -> None:
        super().__init__("http://testserver", "sqlite", OPERATOR_PASSWORD, PROVINCE_PASSWORD, 0)
        self._test_client = client

    def __enter__(self) -> InProcess:
        self.client = self._test_client
        self.operator = self.login("operator", OPERATOR_PASSWORD)
        self.province = self.login("province", PROVINCE_PASSWORD)
        return self


def test_no_handler_touches_the_database_on_the_event_loop(tmp_path):
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'emx.db'}",
            operator_password=OPERATOR_PASSWORD,
            province_password=PROVINCE_PASSWORD,
        )
    )
    on_loop: list[str] = []

    def note(conn, cursor, statement, *args) -> None:
        if _on_event_loop():
            on_loop.append(f"{threading.current_thread().name}: {statement.split()[0]} "
                           f"{statement[:80]!r}")  # fmt: skip

    with TestClient(app) as client:
        # startup (migrations, replay) runs before any request and is not the concern here
        event.listen(app.state.db, "before_cursor_execute", note)
        with InProcess(client) as ex:
            _walk(ex)
            assert ok(client.get(API + "/instruments"), 200)["items"]
    assert on_loop == []


def test_the_state_hash_for_admin_state_is_computed_off_the_event_loop(tmp_path, monkeypatch):
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'emx.db'}",
            operator_password=OPERATOR_PASSWORD,
            province_password=PROVINCE_PASSWORD,
        )
    )
    hashed_on_loop: list[bool] = []
    state_hash = Core.state_hash

    def noting(core: Core) -> str:
        hashed_on_loop.append(_on_event_loop())
        return state_hash(core)

    with TestClient(app) as client, InProcess(client) as ex:
        monkeypatch.setattr(Core, "state_hash", noting)
        body = ok(ex.province.get("/admin/state"), 200)
        monkeypatch.setattr(Core, "state_hash", state_hash)
        assert body["state_hash"] == app.state.runner.sequencer.core.state_hash()
    assert hashed_on_loop == [False]
