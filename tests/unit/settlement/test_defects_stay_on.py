"""The registry's guards on money stay on under `python -O`, which strips `assert`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from settlement.cash import CashBook
from settlement.defects import SettlementDefect

ROOT = Path(__file__).resolve().parents[3]

OVERDRAW = """
from settlement.cash import CashBook
from settlement.defects import SettlementDefect
book = CashBook()
book.open("ACC-1")
try:
    book.post(1, 0, "ACC-1", "withdraw", 100, -100, 0, "test")
except SettlementDefect as defect:
    print("refused:", defect)
else:
    print("went through:", book.balance("ACC-1"))
"""

CANCEL_WITHOUT_HOLD = """
from matching_engine.events import OrderCancelled
from matching_engine.types import CancelReason, Side
from settlement.defects import SettlementDefect
from settlement.registry import Registry
event = OrderCancelled(1, 0, "NOX-2025", 7, "ACC-1", Side.BUY, 320_000, 1_000, CancelReason.USER)
try:
    Registry().apply_engine_events([event])
except SettlementDefect as defect:
    print("refused:", defect)
else:
    print("went through")
"""


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (OVERDRAW, "would make ACC-1 negative"),
        (CANCEL_WITHOUT_HOLD, "cancel of order 7, which holds nothing"),
    ],
    ids=["cash_overdraw", "cancel_without_hold"],
)
def test_a_guard_on_money_holds_under_python_O(script, message):
    done = subprocess.run(
        [sys.executable, "-O", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.startswith("refused:"), done.stdout + done.stderr
    assert message in done.stdout


def test_a_defect_is_still_an_assertion_error_for_existing_handlers():
    book = CashBook()
    book.open("ACC-1")
    with pytest.raises(AssertionError, match="would make ACC-1 negative") as raised:
        book.post(1, 0, "ACC-1", "withdraw", 100, -100, 0, "test")
    assert type(raised.value) is SettlementDefect
