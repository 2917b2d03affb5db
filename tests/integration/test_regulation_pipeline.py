"""Submissions and acknowledgements through the real sequencer, journal and read models
(SQLite and PostgreSQL), with a clock the test moves across a month's end: the frozen
figures are the month's, later trades and corrections leave a version alone, a replay of
the journal reaches the same state hash and freezes the same figures, and the feed sends
each message only to the cities it concerns."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from sqlalchemy import select

from exchange.config import Settings
from exchange.core import commands
from exchange.core.feeds import REGULATOR, REGULATOR_CITY
from exchange.core.regulation import month_bounds_us
from exchange.core.state import Core
from exchange.infra.db import models
from exchange.infra.db.engine import make_engine
from exchange.infra.db.migrate import upgrade
from exchange.infra.monthly import load_report, report_csv
from exchange.infra.runtime import genesis_command, replay
from exchange.infra.sequencer import Sequencer

GZ, SZ, SYMBOL = "440100", "440300", "NOX-2025"
DAY_US = 86_400_000_000
JAN_START, JAN_END = month_bounds_us("2026-01")


class Replies:
    def __init__(self) -> None:
        self.got: dict = {}

    async def reply_many(self, replies) -> None:
        self.got.update(dict(replies))

    async def reply(self, handle, result) -> None:
        self.got[handle] = result


class Published:
    def __init__(self) -> None:
        self.messages: list[tuple[str, dict]] = []

    async def publish_many(self, messages) -> None:
        self.messages.extend(messages)


class Pipeline:
    """Commands through a Sequencer whose clock the test sets."""

    def __init__(self, db) -> None:
        self.now = JAN_START + DAY_US
        self.replies, self.bus = Replies(), Published()
        self.seq = Sequencer(
            Core(), db, self.bus, self.replies, recover=Core, clock=lambda: self.now
        )
        self.journal: list[tuple[int, dict]] = []

    def run(self, command: dict) -> dict:
        handle = object()
        self.journal.append((self.now, command))
        asyncio.run(self.seq.process([(handle, command)]))
        # the read models are written behind the commit; this test reads them next
        assert self.seq.projection.wait(self.seq.committed_seq, 30)
        return self.replies.got[handle]

    def ok(self, command: dict) -> dict:
        reply = self.run(command)
        assert reply["error"] is None, reply
        return reply["result"]

    def account(self, username: str, role: str, city: str | None) -> str:
        return self.ok(
            commands.OpenAccount(
                username=username,
                password_hash="x",
                name=username,
                role=role,
                city_code=city,
            )
        )["account_id"]

    def order(self, account: str, side: str, price_fen: int, kg: int) -> dict:
        return self.run(
            commands.PlaceOrder(
                account_id=account,
                client_order_id=f"c{len(self.journal)}",
                request_hash="h",
                symbol=SYMBOL,
                side=side,
                type="limit",
                price_fen=price_fen,
                quantity_kg=kg,
                time_in_force="GTC",
            )
        )

    def issue(self, holder: str, bureau: str, kg: int) -> None:
        claim = self.ok(
            commands.ClaimReduction(
                account_id=holder,
                symbol=SYMBOL,
                quantity_kg=kg,
                source_kind="deep_treatment",
                description="SCR",
                evidence="CEMS",
            )
        )["claim_id"]
        self.ok(
            commands.VerifyReduction(
                account_id=bureau,
                claim_id=claim,
                decision="approve",
                approved_kg=kg,
                method="online_monitoring",
                note="",
            )
        )

    def submit(self, bureau: str, city: str, reason: str | None = None) -> dict:
        return self.run(
            commands.SubmitMonthly(
                account_id=bureau,
                city_code=city,
                symbol=SYMBOL,
                month="2026-01",
                correction_reason=reason,
            )
        )


def build_world(p: Pipeline) -> dict:
    p.ok(genesis_command(Settings()))
    p.ok(
        commands.ListInstrument(
            symbol=SYMBOL,
            pollutant="NOx",
            vintage=2025,
            tick_fen=1,
            lot_kg=1,
            reference_price_fen=320_000,
            band_bps=1_000,
        )
    )
    w = {
        "gz_bureau": p.account("bureau-gz", "city_bureau", GZ),
        "sz_bureau": p.account("bureau-sz", "city_bureau", SZ),
        "province": p.account("province", "province", None),
        "gz_ent": p.account("ent-gz", "enterprise", GZ),
        "sz_ent": p.account("ent-sz", "enterprise", SZ),
    }
    p.ok(commands.Deposit(account_id=w["sz_ent"], amount_fen=100_000_000))
    p.issue(w["gz_ent"], w["gz_bureau"], 5_000)
    p.order(w["gz_ent"], "sell", 320_000, 1_500)
    p.order(w["sz_ent"], "buy", 320_000, 1_500)  # GZ -> SZ, 1.5 t, in January
    return w


@pytest.fixture
def p(db_engine) -> Pipeline:
    return Pipeline(db_engine)


def frozen_rows(db) -> list[dict]:
    t = models.MonthlySubmission.__table__
    with db.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.city_code, t.c.version)).mappings().all()
    return [dict(r) for r in rows]


def test_a_submission_freezes_the_months_figures_and_later_trades_leave_it_alone(p, db_engine):
    w = build_world(p)
    assert p.submit(w["gz_bureau"], GZ)["error"]["code"] == "month_not_ended"
    p.now = JAN_END + 2 * DAY_US
    first = p.submit(w["gz_bureau"], GZ)
    assert first["error"] is None and first["result"]["version"] == 1
    (v1,) = frozen_rows(db_engine)
    assert (v1["opening_remaining_kg"], v1["added_kg"], v1["transferred_out_kg"]) == (
        0,
        5_000,
        1_500,
    )
    assert v1["closing_remaining_kg"] == 3_500 and v1["movements"] == 2
    assert v1["ts_us"] == JAN_END + 2 * DAY_US and v1["account_id"] == w["gz_bureau"]
    with db_engine.connect() as conn:
        january_csv = report_csv(load_report(conn, GZ, SYMBOL, "2026-01"))
    assert v1["csv_sha256"] == hashlib.sha256(january_csv).hexdigest()

    # February: more quota and another trade, then a correction of January
    p.issue(w["gz_ent"], w["gz_bureau"], 2_000)
    p.order(w["gz_ent"], "sell", 320_000, 1_000)
    p.order(w["sz_ent"], "buy", 320_000, 1_000)
    assert p.submit(w["gz_bureau"], GZ)["error"]["code"] == "already_submitted"
    second = p.submit(w["gz_bureau"], GZ, "a late verification")
    assert second["error"] is None and second["result"]["version"] == 2
    first_again, v2 = frozen_rows(db_engine)
    assert first_again == v1
    assert v2["csv_sha256"] == v1["csv_sha256"] and v2["closing_remaining_kg"] == 3_500
    assert v2["correction_reason"] == "a late verification"
    with db_engine.connect() as conn:
        assert (
            hashlib.sha256(report_csv(load_report(conn, GZ, SYMBOL, "2026-01"))).hexdigest()
            == v1["csv_sha256"]
        )


def test_a_journal_with_submissions_and_acks_replays_to_the_same_state(
    p, db_engine, database_url, tmp_path
):
    w = build_world(p)
    p.order(w["sz_ent"], "buy", 999_999, 1_000)  # outside the band: an alert on sz_ent
    alerts = models.Alert.__table__
    with db_engine.connect() as conn:
        alert = conn.execute(select(alerts).where(alerts.c.account_id == w["sz_ent"])).one()
    p.now = JAN_END + DAY_US
    p.ok(
        commands.AcknowledgeAlert(
            account_id=w["sz_bureau"],
            alert_id=str(alert.id),
            alert_seq=alert.seq,
            alert_ordinal=alert.ordinal,
            alert_account_id=w["sz_ent"],
            note="phoned the trader",
        )
    )
    assert p.submit(w["gz_bureau"], GZ)["error"] is None
    assert p.submit(w["sz_bureau"], SZ)["error"] is None
    assert p.submit(w["gz_bureau"], GZ, "typo in the cover letter")["error"] is None
    live = p.seq.core.state_hash()
    assert (
        replay(db_engine, Settings(database_url=database_url), use_snapshot=False).state_hash()
        == live
    )

    # the same journal into a fresh database freezes the same figures
    fresh = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
    upgrade(fresh)
    again = Pipeline(fresh)
    for stamp, command in p.journal:
        again.now = stamp
        again.run(command)
    assert again.seq.core.state_hash() == live
    assert frozen_rows(fresh) == frozen_rows(db_engine)
    with fresh.connect() as conn:
        acked = conn.execute(select(alerts).where(alerts.c.account_id == w["sz_ent"])).one()
    assert (acked.status, acked.acknowledged_by, acked.ack_note) == (
        "acknowledged",
        w["sz_bureau"],
        "phoned the trader",
    )
    fresh.dispose()


def test_the_feed_sends_trades_and_alerts_to_the_cities_they_concern(p):
    w = build_world(p)
    p.order(w["sz_ent"], "buy", 999_999, 1_000)
    by_channel: dict[str, list[str]] = {}
    for channel, msg in p.bus.messages:
        if channel.startswith(REGULATOR):
            by_channel.setdefault(channel, []).append(msg["type"])
    assert by_channel[REGULATOR] == ["trade", "alert"]
    assert by_channel[REGULATOR_CITY + GZ] == ["trade"]
    assert by_channel[REGULATOR_CITY + SZ] == ["trade", "alert"]
    assert set(by_channel) == {REGULATOR, REGULATOR_CITY + GZ, REGULATOR_CITY + SZ}
