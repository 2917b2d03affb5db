"""A refused command that is the first one stamped after an instrument's last day still
expires it, and the read models take the expiry alone: a refused account opening must
not be projected as an account (it once made the group commit fail for good, since the
same command is re-applied after every recovery)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from exchange.config import Settings
from exchange.core import commands
from exchange.core.units import end_of_day_us
from exchange.infra.db import models
from exchange.infra.runtime import genesis_command
from tests.integration.test_regulation_pipeline import SYMBOL, Pipeline

END_US = end_of_day_us(date(2026, 1, 10))


@pytest.fixture
def p(db_engine) -> Pipeline:
    return Pipeline(db_engine)


def test_a_refused_first_command_after_the_last_day_expires_without_its_own_effects(p, db_engine):
    p.ok(genesis_command(Settings()))
    p.ok(
        commands.ListInstrument(
            symbol=SYMBOL,
            pollutant="NOx",
            vintage=2025,
            tick_fen=1,
            lot_kg=1,
            reference_price_fen=300_000,
            band_bps=1_000,
            valid_until="2026-01-10",
            valid_until_end_us=END_US,
        )
    )
    p.account("taken", "enterprise", "440100")
    p.now = END_US
    again = p.run(
        commands.OpenAccount(
            username="taken",
            password_hash="x",
            name="taken",
            role="enterprise",
            city_code="440100",
        )
    )
    assert again["error"]["code"] == "username_taken"
    with db_engine.connect() as conn:
        expired_us = conn.execute(
            select(models.Instrument.__table__.c.expired_us).where(
                models.Instrument.__table__.c.symbol == SYMBOL
            )
        ).scalar_one()
        logins = conn.execute(select(models.Credential.__table__.c.username)).scalars().all()
    assert expired_us == END_US
    assert logins == ["taken"]
    # and the sequencer goes on committing
    assert p.account("next", "enterprise", "440100")
