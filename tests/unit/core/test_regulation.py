"""Monthly submissions and alert acknowledgements in the core: the rules, the refusals
that change nothing, and the state they leave for snapshots and replays."""

from __future__ import annotations

import json

import pytest

from exchange.core.regulation import BadMonth, due_us, month_bounds_us
from exchange.core.state import Core
from tests.core_driver import SYMBOL, T0_US, CoreDriver

GZ, SZ = "440100", "440300"
HOUR_US = 3_600_000_000


def test_months_are_cut_at_midnight_in_shanghai():
    start, end = month_bounds_us("2026-01")
    assert start == T0_US - 8 * HOUR_US  # 2025-12-31T16:00:00Z
    assert end == start + 31 * 24 * HOUR_US
    dec_start, dec_end = month_bounds_us("2025-12")
    assert dec_end == start and dec_start < dec_end
    assert due_us("2025-12", 10) == start + 10 * 24 * HOUR_US


@pytest.mark.parametrize(
    "month", ["2026-13", "2026-00", "2026-1", "26-01", "２０２６-01", "0001-01"]
)
def test_malformed_or_absurd_months_are_refused(month):
    with pytest.raises(BadMonth):
        month_bounds_us(month)


@pytest.fixture
def d() -> CoreDriver:
    d = CoreDriver()
    d.list_nox()
    d.gz_bureau = d.account("bureau-gz", "city_bureau", GZ)
    d.sz_bureau = d.account("bureau-sz", "city_bureau", SZ)
    d.province = d.account("province", "province", None)
    d.gz_ent = d.account("ent-gz", "enterprise", GZ)
    d.sz_ent = d.account("ent-sz", "enterprise", SZ)
    return d


def submit(d: CoreDriver, bureau: str, month: str, city: str = GZ, reason: str | None = None):
    cmd = {
        "kind": "submit_monthly",
        "account_id": bureau,
        "city_code": city,
        "symbol": SYMBOL,
        "month": month,
    }
    if reason is not None:
        cmd["correction_reason"] = reason
    return d.apply(cmd)


def test_a_month_is_submitted_once_then_only_corrected_with_a_reason(d):
    assert submit(d, d.gz_bureau, "2026-02").error[0] == "future_month"
    assert submit(d, d.gz_bureau, "2026-01").error[0] == "month_not_ended"
    assert submit(d, d.gz_bureau, "2025-12", reason="typo").error[0] == "nothing_to_correct"
    assert d.core.regulation.versions(GZ, SYMBOL, "2025-12") == []
    first = submit(d, d.gz_bureau, "2025-12")
    assert first.error is None and first.result["version"] == 1
    again = submit(d, d.gz_bureau, "2025-12")
    assert again.error[0] == "already_submitted"
    second = submit(d, d.gz_bureau, "2025-12", reason="a reduction was booked late")
    assert second.error is None and second.result["version"] == 2
    versions = d.core.regulation.versions(GZ, SYMBOL, "2025-12")
    assert [(v.version, v.seq, v.account_id, v.correction_reason) for v in versions] == [
        (1, first.seq, d.gz_bureau, None),
        (2, second.seq, d.gz_bureau, "a reduction was booked late"),
    ]
    assert versions[0].ts_us == T0_US + first.seq * 1_000_000


def test_only_the_citys_own_bureau_submits(d):
    for account in (d.sz_bureau, d.province, d.gz_ent):
        out = submit(d, account, "2025-12")
        assert out.error[0] == "not_your_city", out.error
    assert submit(d, d.gz_bureau, "2025-12", city=SZ).error[0] == "not_your_city"
    assert d.core.regulation.submissions == {}


def test_a_month_ends_by_the_commands_stamp_not_a_clock(d):
    _, end = month_bounds_us("2026-01")
    cmd = {
        "kind": "submit_monthly",
        "account_id": d.gz_bureau,
        "city_code": GZ,
        "symbol": SYMBOL,
        "month": "2026-01",
    }
    assert d.apply(cmd, ts_us=end - 1).error[0] == "month_not_ended"
    assert d.apply(cmd, ts_us=end).error is None


def ack(d: CoreDriver, who: str, alert_seq: int, subject: str, ordinal: int = 0):
    return d.apply(
        {
            "kind": "acknowledge_alert",
            "account_id": who,
            "alert_seq": alert_seq,
            "alert_ordinal": ordinal,
            "alert_account_id": subject,
            "note": "called the enterprise",
        }
    )


def test_alerts_are_acknowledged_once_by_the_province_or_their_citys_bureau(d):
    assert ack(d, d.sz_bureau, 3, d.gz_ent).error[0] == "alert_not_found"
    assert ack(d, d.gz_ent, 3, d.gz_ent).error[0] == "forbidden"
    assert ack(d, d.province, d.core.last_seq + 1, d.gz_ent).error[0] == "alert_not_found"
    assert d.core.regulation.acknowledged == {}
    mine = ack(d, d.gz_bureau, 3, d.gz_ent)
    assert mine.error is None
    assert ack(d, d.province, 3, d.gz_ent).error[0] == "already_acknowledged"
    assert ack(d, d.province, 3, d.gz_ent, ordinal=1).error is None
    assert ack(d, d.province, 4, d.sz_ent).error is None
    got = d.core.regulation.acknowledged[(3, 0)]
    assert (got.seq, got.account_id, got.note) == (mine.seq, d.gz_bureau, "called the enterprise")
    assert set(d.core.regulation.acknowledged) == {(3, 0), (3, 1), (4, 0)}


def test_a_refusal_changes_nothing_but_the_seq(d):
    submit(d, d.gz_bureau, "2025-12")
    ack(d, d.province, 3, d.gz_ent)
    before = json.loads(d.core.snapshot())
    for out in (
        submit(d, d.gz_bureau, "2025-12"),
        submit(d, d.sz_bureau, "2026-01", city=SZ),
        ack(d, d.province, 3, d.gz_ent),
        ack(d, d.sz_bureau, 4, d.gz_ent),
    ):
        assert out.error is not None
    after = json.loads(d.core.snapshot())
    before.pop("last_seq"), after.pop("last_seq")
    assert after == before


def test_state_without_submissions_or_acks_snapshots_as_before(d):
    state = json.loads(d.core.snapshot())
    assert "submissions" not in state and "alert_acks" not in state


def test_submissions_and_acks_survive_snapshot_and_replay(d):
    submit(d, d.gz_bureau, "2025-12")
    submit(d, d.gz_bureau, "2025-12", reason="late reduction")
    submit(d, d.sz_bureau, "2025-12", city=SZ)
    ack(d, d.province, 3, d.gz_ent)
    ack(d, d.sz_bureau, 4, d.sz_ent)
    live = d.core.state_hash()
    restored = Core.restore(d.core.snapshot())
    assert restored.state_hash() == live
    assert restored.regulation.submissions == d.core.regulation.submissions
    assert restored.regulation.acknowledged == d.core.regulation.acknowledged
    replayed = Core()
    for seq, ts, command in d.log:
        replayed.apply(seq, ts, command)
    assert replayed.state_hash() == live


def test_a_journal_from_before_submissions_replays_to_the_hash_it_had():
    from tests.golden.test_exchange_session import run

    d, _, _ = run()
    # the golden session's state hash computed by the core before submissions and acks existed
    assert d.core.state_hash() == (
        "e4d03765160810633abaacd23ddef668556f7aec02c3d18502d90849b832d7f1"
    )
