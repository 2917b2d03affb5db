"""Defects: a guard on money or allowances that failed is a bug, not a refusal.

The guards are `if not ...: raise SettlementDefect(...)` rather than `assert`, so
they stay on under `python -O`; the message is only built when one fails, which
keeps them free on the trade path.
"""

from __future__ import annotations


class SettlementDefect(AssertionError):
    """The registry reached a state its invariants forbid. An AssertionError, as the
    bare asserts that guarded these places were, so existing handling stays the same."""
