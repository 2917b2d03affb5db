"""Settings from the environment, and refusal of weak bootstrap passwords."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from exchange.config import (
    DEMO_PASSWORDS,
    ConfigError,
    Settings,
    get_settings,
    require_bootstrap_passwords,
)
from exchange.infra.runtime import thresholds


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "FEE_BPS", "OPERATOR_PASSWORD", "PROVINCE_PASSWORD"):
        monkeypatch.delenv(f"EMX_{name}", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_defaults_are_embedded_mode():
    s = Settings()
    assert s.database_url == "sqlite:///./emx.db"
    assert s.is_sqlite
    assert s.redis_url is None
    assert s.fee_bps == 0
    assert s.snapshot_every == 10_000
    assert s.batch_max == 512
    assert s.operator_password is None


def test_values_come_from_emx_environment_variables(monkeypatch):
    monkeypatch.setenv("EMX_DATABASE_URL", "postgresql+psycopg://u@db:5432/emx")
    monkeypatch.setenv("EMX_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("EMX_FEE_BPS", "15")
    monkeypatch.setenv("EMX_OPERATOR_PASSWORD", "s3cret-op")
    s = get_settings()
    assert s.database_url == "postgresql+psycopg://u@db:5432/emx"
    assert not s.is_sqlite
    assert s.redis_url == "redis://cache:6379/0"
    assert s.fee_bps == 15
    assert s.operator_password.get_secret_value() == "s3cret-op"
    assert "s3cret-op" not in repr(s)
    assert get_settings() is s


@pytest.mark.parametrize("bare", ["postgresql://u@db/emx", "postgres://u@db/emx"])
def test_bare_postgresql_urls_get_the_psycopg_driver(bare):
    assert Settings(database_url=bare).database_url == "postgresql+psycopg://u@db/emx"


def test_an_empty_redis_url_means_in_process(monkeypatch):
    monkeypatch.setenv("EMX_REDIS_URL", "")
    assert Settings().redis_url is None


@pytest.mark.parametrize(
    "bad",
    [{"database_url": "mysql://x/y"}, {"fee_bps": -1}, {"batch_max": 0}, {"fee_bps": "ten"}],
)
def test_invalid_values_are_refused(bad):
    with pytest.raises(ValidationError):
        Settings(**bad)


def test_bootstrap_needs_both_passwords_outside_demo():
    with pytest.raises(ConfigError, match="EMX_OPERATOR_PASSWORD is not set"):
        require_bootstrap_passwords(False, Settings(province_password="Pr0vince-2025!"))
    with pytest.raises(ConfigError, match="EMX_PROVINCE_PASSWORD is not set"):
        require_bootstrap_passwords(False, Settings(operator_password="0perator-2025!"))


@pytest.mark.parametrize("weak", ["", "   ", "changeme", "Password", "admin", "operator-demo"])
def test_bootstrap_refuses_blank_or_well_known_passwords(weak):
    settings = Settings(operator_password=weak, province_password="Pr0vince-2025!")
    with pytest.raises(ConfigError, match="EMX_OPERATOR_PASSWORD"):
        require_bootstrap_passwords(False, settings)


def test_bootstrap_accepts_chosen_passwords():
    settings = Settings(operator_password="0perator-2025!", province_password="Pr0vince-2025!")
    assert require_bootstrap_passwords(False, settings) == ("0perator-2025!", "Pr0vince-2025!")


def test_demo_mode_falls_back_to_the_demo_passwords():
    assert require_bootstrap_passwords(True, Settings()) == DEMO_PASSWORDS
    chosen = Settings(operator_password="mine-op-pw")
    assert require_bootstrap_passwords(True, chosen) == ("mine-op-pw", DEMO_PASSWORDS.province)


@pytest.mark.parametrize("weak", ["a", "short-pw-11", "qwerty123456", "1Q2W3E4R5T6Y"])
def test_bootstrap_outside_demo_refuses_short_or_common_passwords(weak):
    settings = Settings(operator_password="0perator-2025!", province_password=weak)
    with pytest.raises(ConfigError, match="EMX_PROVINCE_PASSWORD is too weak"):
        require_bootstrap_passwords(False, settings)


@pytest.mark.parametrize(
    "variable", ["EMX_CANCEL_RATIO_MIN_ORDERS", "EMX_ORDER_CANCEL_RATIO_ALERT"]
)
def test_the_cancel_ratio_minimum_is_read_under_its_name_and_its_former_one(monkeypatch, variable):
    monkeypatch.setenv(variable, "7")
    assert Settings().cancel_ratio_min_orders == 7
    assert thresholds(Settings()).cancel_ratio_min_orders == 7
