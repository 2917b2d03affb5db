"""Random streams of submissions and acknowledgements, at random stamps that never go
back: versions of a month are numbered 1, 2, 3... with only the first without a reason,
none is stamped before its month ended, an alert is acknowledged at most once, a refusal
changes nothing, and snapshot, restore and replay all reach the same state hash."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.core.regulation import month_bounds_us
from exchange.core.state import Core
from tests.core_driver import SYMBOL, T0_US, CoreDriver

CITIES = ("440100", "440300")
MONTHS = ("2025-12", "2026-01", "2026-02", "2026-03")
DAY_US = 86_400_000_000

submit = st.tuples(
    st.just("submit"),
    st.sampled_from(range(4)),  # who: two bureaus, the province, an enterprise
    st.sampled_from(CITIES),
    st.sampled_from(MONTHS),
    st.one_of(st.none(), st.text(min_size=1, max_size=5)),
)
ack = st.tuples(
    st.just("ack"),
    st.sampled_from(range(4)),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=0, max_value=2),
    st.sampled_from(range(2)),  # whose alert: an enterprise of either city
)
steps = st.lists(
    st.tuples(st.integers(min_value=0, max_value=20 * DAY_US), st.one_of(submit, ack)),
    max_size=40,
)


def without_seq(core: Core) -> dict:
    state = json.loads(core.snapshot())
    state.pop("last_seq")
    return state


@settings(max_examples=150, deadline=None)
@given(steps)
def test_submissions_and_acks_keep_their_rules_and_replay(stream):
    d = CoreDriver()
    d.list_nox()
    who = [
        d.account("b-gz", "city_bureau", CITIES[0]),
        d.account("b-sz", "city_bureau", CITIES[1]),
        d.account("prov", "province", None),
        d.account("e-gz", "enterprise", CITIES[0]),
    ]
    subjects = [who[3], d.account("e-sz", "enterprise", CITIES[1])]
    ts = T0_US + 10 * 1_000_000
    for gap, step in stream:
        ts += gap
        before = without_seq(d.core)
        if step[0] == "submit":
            _, actor, city, month, reason = step
            command = {
                "kind": "submit_monthly",
                "account_id": who[actor],
                "city_code": city,
                "symbol": SYMBOL,
                "month": month,
                "correction_reason": reason,
            }
        else:
            _, actor, alert_seq, ordinal, subject = step
            command = {
                "kind": "acknowledge_alert",
                "account_id": who[actor],
                "alert_seq": alert_seq,
                "alert_ordinal": ordinal,
                "alert_account_id": subjects[subject],
                "note": "n",
            }
        out = d.apply(command, ts_us=ts)
        if out.error is not None:
            assert without_seq(d.core) == before, out.error
        elif step[0] == "submit":
            assert who[actor] == who[CITIES.index(city)]
            assert ts >= month_bounds_us(month)[1]
        else:
            # a bureau only for its own city's enterprises
            assert actor == 2 or (actor < 2 and actor == subject)

    reg = d.core.regulation
    for versions in reg.submissions.values():
        assert [v.version for v in versions] == list(range(1, len(versions) + 1))
        assert versions[0].correction_reason is None
        assert all(v.correction_reason for v in versions[1:])
        assert [v.seq for v in versions] == sorted(v.seq for v in versions)
    live = d.core.state_hash()
    assert Core.restore(d.core.snapshot()).state_hash() == live
    replayed = Core()
    for seq, stamp, command in d.log:
        replayed.apply(seq, stamp, command)
    assert replayed.state_hash() == live
