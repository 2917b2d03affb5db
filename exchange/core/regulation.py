"""What the regulators do to the record: monthly submissions (每月报送) and
acknowledged alerts.

Part of the core, so it is deterministic: "has the month ended" is decided by the
command's own stamped `ts_us`, and months are cut in Asia/Shanghai (UTC+8 all
year, no daylight saving) by calendar arithmetic, never by reading a clock.

A submission's figures are not kept here: they are a function of the ledger
movements stamped before the month's end, which all carry a smaller `seq` than
any command stamped after it, so the projector freezes them from the journal's
prefix and a replay freezes the same figures again.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

SHANGHAI = timezone(timedelta(hours=8))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MONTH_PATTERN = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
# The registry has no movements before 2000; later than 2100 is a typing error (and 9999-12
# would end in year 10000, past datetime's range).
FIRST_YEAR, LAST_YEAR = 2000, 2100


class AlertStatus(StrEnum):
    """An alert as the regulators see it: open until one of them acknowledges it."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


class SubmissionStatus(StrEnum):
    """A city's month as the province sees it (the answer depends on today's date)."""

    SUBMITTED = "submitted"
    LATE = "late"
    MISSING = "missing"


class Lateness(StrEnum):
    """Why a month is late."""

    SUBMITTED_AFTER_DUE = "submitted_after_due"
    NOT_SUBMITTED = "not_submitted"


class BadMonth(ValueError):
    pass


def month_bounds_us(month: str) -> tuple[int, int]:
    """[start, end) of a calendar month in Asia/Shanghai, in epoch microseconds."""
    match = MONTH_PATTERN.fullmatch(month)
    if match is None:
        raise BadMonth(f"month must be YYYY-MM, got {month!r}")
    year, mon = int(match.group(1)), int(match.group(2))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise BadMonth(f"month {month} is outside {FIRST_YEAR}..{LAST_YEAR}")
    start = datetime(year, mon, 1, tzinfo=SHANGHAI)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=SHANGHAI)
    return _us(start), _us(end)


def due_us(month: str, due_day: int) -> int:
    """The end of day `due_day` of the month after `month` (Asia/Shanghai): a report
    filed before it is on time."""
    _, end = month_bounds_us(month)
    return end + due_day * 86_400_000_000


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Version:
    version: int
    seq: int
    ts_us: int
    account_id: str
    correction_reason: str | None


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    seq: int
    ts_us: int
    account_id: str
    note: str


class Regulation:
    def __init__(self) -> None:
        # (city_code, symbol, month) -> versions, oldest first
        self.submissions: dict[tuple[str, str, str], list[Version]] = {}
        # (alert seq, ordinal of the alert within its command) -> who acknowledged it
        self.acknowledged: dict[tuple[int, int], Acknowledgement] = {}

    def versions(self, city_code: str, symbol: str, month: str) -> list[Version]:
        return self.submissions.get((city_code, symbol, month), [])

    def submit(
        self,
        seq: int,
        ts_us: int,
        account_id: str,
        city_code: str,
        symbol: str,
        month: str,
        correction_reason: str | None,
    ) -> Version:
        """Record the next version; the caller has checked the month and the rights."""
        key = (city_code, symbol, month)
        versions = self.submissions.setdefault(key, [])
        version = Version(len(versions) + 1, seq, ts_us, account_id, correction_reason)
        versions.append(version)
        return version

    def acknowledge(
        self, seq: int, ts_us: int, alert: tuple[int, int], account_id: str, note: str
    ) -> Acknowledgement:
        ack = Acknowledgement(seq, ts_us, account_id, note)
        self.acknowledged[alert] = ack
        return ack

    # Both keys are left out while empty, so the snapshot (and the state hash) of a
    # journal without submissions or acknowledgements is what it was before they existed.
    def snapshot_into(self, state: dict) -> None:
        if self.submissions:
            state["submissions"] = [
                [city, symbol, month, [asdict(v) for v in versions]]
                for (city, symbol, month), versions in sorted(self.submissions.items())
            ]
        if self.acknowledged:
            state["alert_acks"] = [
                [seq, ordinal, asdict(ack)]
                for (seq, ordinal), ack in sorted(self.acknowledged.items())
            ]

    def restore_from(self, state: dict) -> None:
        self.submissions = {
            (city, symbol, month): [Version(**v) for v in versions]
            for city, symbol, month, versions in state.get("submissions", ())
        }
        self.acknowledged = {
            (seq, ordinal): Acknowledgement(**ack)
            for seq, ordinal, ack in state.get("alert_acks", ())
        }

    def plain_state(self) -> dict:
        return {
            "submissions": {
                key: [(v.version, v.seq, v.ts_us, v.account_id, v.correction_reason) for v in vs]
                for key, vs in self.submissions.items()
            },
            "acknowledged": {
                alert: (a.seq, a.ts_us, a.account_id, a.note)
                for alert, a in self.acknowledged.items()
            },
        }

    def restore_plain(self, data: dict) -> None:
        self.submissions = {
            key: [Version(*v) for v in vs] for key, vs in data["submissions"].items()
        }
        self.acknowledged = {
            alert: Acknowledgement(*a) for alert, a in data["acknowledged"].items()
        }
