"""Each command class checks its fields with code written out for it
(`_inline_checks`); these tests hold that code to the per-field checkers in
`_checks`, which are the readable definition and name the failing field."""

from __future__ import annotations

from dataclasses import fields

import pytest

from exchange.core.commands import _CHOICES, COMMANDS, MalformedCommand

SAMPLES = [
    0, 1, -5, 2**70, 1.5, True, False, None, "", "x", "buy", "GTC", "cancel_both",
    "limit", b"x", ("440100", 3), (("440100", 3),), (("440100", 1.5),), {"a": 1},
    {"a": "1"}, [], object(),
]  # fmt: skip


def _valid(check):
    return next(v for v in SAMPLES if check(v))


def _example(cls):
    """A well-formed instance: for each field the first sample its checker takes."""
    return {name: _valid(check) for name, check in cls._checks}


@pytest.mark.parametrize("kind", sorted(COMMANDS))
def test_every_field_is_checked_exactly_as_its_checker_says(kind):
    cls = COMMANDS[kind]
    base = _example(cls)
    cls(**base)
    for name, check in cls._checks:
        for value in SAMPLES:
            args = {**base, name: value}
            if check(value):
                cls(**args)
            else:
                with pytest.raises(MalformedCommand, match=f"{kind}: {name} cannot be"):
                    cls(**args)


def test_choices_are_refused_outside_the_engine_vocabulary():
    cls = COMMANDS["place_order"]
    base = _example(cls)
    for name in (f.name for f in fields(cls)):
        if name in _CHOICES:
            with pytest.raises(MalformedCommand, match=name):
                cls(**{**base, name: "not-a-choice"})
