"""Sessions that end, logins that are throttled and tokens that are rate limited, on an
in-process server of each test's own (its limits set low, so nothing waits long)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from exchange.bootstrap import create_app
from exchange.config import Settings, get_settings
from exchange.edge import auth

API = "/api/v1"
OPERATOR_PASSWORD = "sessions-operator-pw"
PROVINCE_PASSWORD = "sessions-province-pw"


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch):
    for name, value in (("TIME_COST", "1"), ("MEMORY_KIB", "1024"), ("PARALLELISM", "1")):
        monkeypatch.setenv(f"EMX_ARGON2_{name}", value)
    get_settings.cache_clear()
    auth._default_hasher.cache_clear()
    yield
    get_settings.cache_clear()
    auth._default_hasher.cache_clear()


@contextmanager
def server(tmp_path, **settings) -> Iterator[TestClient]:
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'emx.db'}",
            operator_password=OPERATOR_PASSWORD,
            province_password=PROVINCE_PASSWORD,
            **settings,
        )
    )
    with TestClient(app) as client:
        yield client


def login(client: TestClient, username="operator", password=OPERATOR_PASSWORD):
    return client.post(API + "/session", json={"username": username, "password": password})


def bearer(response) -> dict[str, str]:
    return {"Authorization": f"Bearer {response.json()['token']}"}


def test_a_token_expires_ttl_seconds_after_login_even_when_cached(tmp_path):
    with server(tmp_path, token_ttl_s=1) as client:
        started = time.time()
        session = login(client)
        assert session.status_code == 200
        expires_at = datetime.fromisoformat(session.json()["expires_at"])
        assert expires_at.utcoffset() == timedelta(hours=8)
        assert started - 1 <= expires_at.timestamp() <= time.time() + 1
        assert client.get(API + "/accounts/me", headers=bearer(session)).status_code == 200
        time.sleep(max(0.0, expires_at.timestamp() + 1.05 - time.time()))
        r = client.get(API + "/accounts/me", headers=bearer(session))
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "token_expired"


def test_the_default_session_lasts_eight_hours(tmp_path):
    with server(tmp_path) as client:
        before = time.time()
        expires_at = datetime.fromisoformat(login(client).json()["expires_at"])
        assert abs(expires_at.timestamp() - (before + 8 * 3600)) < 5


def test_a_feed_is_closed_with_4401_when_its_session_expires(tmp_path):
    with server(tmp_path, token_ttl_s=2) as client:
        session = login(client, "province", PROVINCE_PASSWORD)
        with client.websocket_connect("/ws/regulator") as ws:
            ws.send_json({"type": "auth", "token": session.json()["token"]})
            assert ws.receive_json()["type"] == "auth_ok"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
        assert closed.value.code == 4401


def test_logout_is_204_and_the_token_stops_at_once(tmp_path):
    with server(tmp_path) as client:
        session = login(client)
        assert client.get(API + "/accounts/me", headers=bearer(session)).status_code == 200
        assert client.delete(API + "/session", headers=bearer(session)).status_code == 204
        r = client.get(API + "/accounts/me", headers=bearer(session))
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert client.delete(API + "/session", headers=bearer(session)).status_code == 401


def test_five_failed_logins_lock_the_username_even_against_the_right_password(tmp_path):
    with server(tmp_path) as client:
        for _ in range(5):
            assert login(client, password="not-the-password").status_code == 401
        r = login(client)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "too_many_attempts"
        assert 14 * 60 < int(r.headers["retry-after"]) <= 15 * 60
        # another username from the same address is not locked by these five
        assert login(client, "province", PROVINCE_PASSWORD).status_code == 200


def test_thirty_failed_logins_from_one_address_lock_that_address(tmp_path):
    with server(tmp_path) as client:
        for n in range(30):
            assert login(client, f"nobody-{n}", "not-the-password").status_code == 401
        r = login(client, "province", PROVINCE_PASSWORD)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "too_many_attempts"
        assert 0 < int(r.headers["retry-after"]) <= 60


def test_a_token_beyond_its_rate_is_429_rate_limited(tmp_path):
    # 0.001 requests per second: the bucket cannot refill during the test
    with server(tmp_path, rate_limit=0.001, rate_burst=3) as client:
        headers = bearer(login(client))
        for _ in range(3):
            assert client.get(API + "/accounts/me", headers=headers).status_code == 200
        r = client.get(API + "/accounts/me", headers=headers)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        assert int(r.headers["retry-after"]) >= 1
        # the limit is the token's: another session is served
        other = bearer(login(client, "province", PROVINCE_PASSWORD))
        assert client.get(API + "/accounts/me", headers=other).status_code == 200


def test_a_token_may_hold_at_most_twenty_feeds(tmp_path):
    with server(tmp_path) as client:
        token = login(client, "province", PROVINCE_PASSWORD).json()["token"]
        feeds = []
        try:
            for _ in range(20):
                ws = client.websocket_connect("/ws/regulator").__enter__()
                feeds.append(ws)
                ws.send_json({"type": "auth", "token": token})
                assert ws.receive_json()["type"] == "auth_ok"
            with client.websocket_connect("/ws/regulator") as extra:
                extra.send_json({"type": "auth", "token": token})
                with pytest.raises(WebSocketDisconnect) as closed:
                    extra.receive_json()
            assert closed.value.code == 4429
        finally:
            for ws in feeds:
                ws.__exit__(None, None, None)
