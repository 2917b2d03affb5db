"""Service configuration, read once from the environment (prefix `EMX_`).

The same code runs embedded (SQLite file, in-process bus) and in production
(PostgreSQL, Redis): only these settings differ.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from exchange.passwords import MIN_LENGTH, weakness
from matching_engine.types import SelfTradePrevention


class ConfigError(RuntimeError):
    """The configuration cannot be used as it is; the message says what to set."""


NEW_JOURNAL_CONCENTRATION_BPS = 5_000
"""The concentration threshold (one account's share of a session's volume) a new
journal's genesis records unless EMX_CONCENTRATION_ALERT_BPS says otherwise; the journal
keeps it, and a restart with another value is refused (runtime.check_parameters). A
genesis that records none means exchange.core.surveillance.UNRECORDED_CONCENTRATION_BPS."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMX_", extra="ignore")

    # Relative to the working directory, so `emx serve` in a fresh folder just works.
    database_url: str = "sqlite:///./emx.db"
    # None keeps the event bus and command queue inside this process.
    redis_url: str | None = None
    redis_prefix: str = "emx"

    fee_bps: int = Field(default=0, ge=0, le=10_000)
    # Block trades: the price band around the reference price (percent) and the least
    # quantity (tonnes). Each proposal carries them in its command, so a replay uses
    # the values in force when it was proposed.
    block_band_pct: int = Field(default=30, ge=1, le=100)
    block_min_quantity: Decimal = Field(default=Decimal(10), gt=0)
    operator_password: SecretStr | None = None
    province_password: SecretStr | None = None

    snapshot_every: int = Field(default=10_000, ge=1)
    snapshots_keep: int = Field(default=3, ge=1)
    batch_max: int = Field(default=512, ge=1, le=100_000)
    command_timeout_s: float = Field(default=10.0, gt=0)
    stp_mode: SelfTradePrevention = SelfTradePrevention.CANCEL_INCOMING

    # Surveillance thresholds.
    price_move_alert_bps: int = Field(default=500, ge=1)
    concentration_alert_bps: int = Field(default=NEW_JOURNAL_CONCENTRATION_BPS, ge=1, le=10_000)
    # the fewest orders a session needs before its cancel ratio can raise an alert
    # (EMX_ORDER_CANCEL_RATIO_ALERT, its former name, is still read)
    cancel_ratio_min_orders: int = Field(
        default=20,
        ge=1,
        validation_alias=AliasChoices(
            "emx_cancel_ratio_min_orders",
            "emx_order_cancel_ratio_alert",
            "cancel_ratio_min_orders",
            "order_cancel_ratio_alert",
        ),
    )

    # A month's city report is late after this day of the next month (Asia/Shanghai).
    report_due_day: int = Field(default=10, ge=1, le=28)

    # a session lasts this long after login (8 hours: a working day)
    token_ttl_s: int = Field(default=28_800, ge=1)
    # requests per second per token, and the burst allowed (default: twice the rate)
    rate_limit: float = Field(default=50.0, gt=0)
    rate_burst: int | None = Field(default=None, ge=1)
    # A request (headers and body) must arrive within this many seconds of its first byte.
    request_timeout_s: float = Field(default=10.0, gt=0, le=300)
    # Argon2id cost; RFC 9106's second recommended option by default. Tests lower it.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65_536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    @field_validator("database_url")
    @classmethod
    def _psycopg_driver(cls, url: str) -> str:
        # SQLAlchemy's default PostgreSQL driver is psycopg2, which is not installed.
        for bare in ("postgres://", "postgresql://"):
            if url.startswith(bare):
                return "postgresql+psycopg://" + url[len(bare) :]
        if not url.startswith(("sqlite://", "postgresql+psycopg://")):
            raise ValueError("database_url must be sqlite:///path or postgresql+psycopg://...")
        return url

    @field_validator("redis_url")
    @classmethod
    def _blank_redis_is_none(cls, url: str | None) -> str | None:
        return url or None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests that change the environment call `cache_clear()`."""
    return Settings()


class BootstrapPasswords(NamedTuple):
    operator: str
    province: str


# Printed by `emx serve --demo`; never accepted outside demo mode.
DEMO_PASSWORDS = BootstrapPasswords(operator="operator-demo", province="province-demo")

_WELL_KNOWN = frozenset(
    {
        "changethis",
        "changeme",
        "change-me",
        "password",
        "passw0rd",
        "admin",
        "secret",
        "default",
        "123456",
        "12345678",
        "operator",
        "province",
        *DEMO_PASSWORDS,
    }
)


def require_bootstrap_passwords(demo: bool, settings: Settings | None = None) -> BootstrapPasswords:
    """Passwords for the `operator` and `province` accounts created in an empty database.

    Outside demo mode a missing, blank, well-known, short or common password is refused,
    so a production exchange never starts with a guessable administrator login.
    """
    settings = settings or get_settings()
    chosen = {
        "operator": settings.operator_password,
        "province": settings.province_password,
    }
    if demo:
        return BootstrapPasswords(
            **{
                name: secret.get_secret_value() if secret else getattr(DEMO_PASSWORDS, name)
                for name, secret in chosen.items()
            }
        )
    problems = []
    for name, secret in chosen.items():
        value = secret.get_secret_value() if secret else ""
        if not value.strip():
            problems.append(f"EMX_{name.upper()}_PASSWORD is not set")
        elif value.strip().lower() in _WELL_KNOWN:
            problems.append(f"EMX_{name.upper()}_PASSWORD is a well-known default")
        elif weakness(value):
            problems.append(
                f"EMX_{name.upper()}_PASSWORD is too weak: at least {MIN_LENGTH} characters,"
                " not a common password"
            )
    if problems:
        raise ConfigError(
            "; ".join(problems) + " (needed to create the first accounts; or run with --demo)"
        )
    return BootstrapPasswords(
        operator=chosen["operator"].get_secret_value(),  # type: ignore[union-attr]
        province=chosen["province"].get_secret_value(),  # type: ignore[union-attr]
    )
