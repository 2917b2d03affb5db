"""Who may read GET /metrics: loopback callers and operators; from another address
an enterprise gets 403 and a caller without a token 401."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from exchange.bootstrap import create_app
from exchange.config import Settings, get_settings
from exchange.edge import auth

API = "/api/v1"
OPERATOR_PASSWORD = "metrics-operator-pw"
PROVINCE_PASSWORD = "metrics-province-pw"


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
def server(tmp_path, address: str) -> Iterator[TestClient]:
    app = create_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'emx.db'}",
            operator_password=OPERATOR_PASSWORD,
            province_password=PROVINCE_PASSWORD,
        )
    )
    with TestClient(app, client=(address, 40_000)) as client:
        yield client


def bearer(client: TestClient, username: str, password: str) -> dict[str, str]:
    r = client.post(API + "/session", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_from_another_address_only_an_operator_reads_metrics(tmp_path):
    with server(tmp_path, "10.20.30.40") as client:
        operator = bearer(client, "operator", OPERATOR_PASSWORD)
        r = client.post(
            API + "/accounts",
            json={
                "username": "ent1",
                "password": "ent1-password",
                "name": "Enterprise 1",
                "role": "enterprise",
                "city_code": "440100",
            },
            headers=operator,
        )
        assert r.status_code == 201, r.text
        enterprise = bearer(client, "ent1", "ent1-password")
        province = bearer(client, "province", PROVINCE_PASSWORD)

        anonymous = client.get("/metrics")
        assert anonymous.status_code == 401
        assert anonymous.json()["error"]["code"] == "unauthorized"
        for headers in (enterprise, province):
            r = client.get("/metrics", headers=headers)
            assert r.status_code == 403
            assert r.json()["error"]["code"] == "forbidden"
        r = client.get("/metrics", headers=operator)
        assert r.status_code == 200
        assert "emx_orders_total" in r.text


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_loopback_reads_metrics_without_a_token(tmp_path, address):
    with server(tmp_path, address) as client:
        r = client.get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        # genesis and the two first logins went through the sequencer
        assert "emx_commit_seconds_count 3.0" in r.text
