"""One vocabulary: the API's literals, the database's CHECK lists (as the migrations
leave them) and the pages' label keys hold exactly the values the engine's and the
registry's own definitions hold, so adding a value in one place and not the others fails
here rather than at a client or a constraint."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
from sqlalchemy import inspect

from exchange.api import schemas
from matching_engine.types import (
    CancelReason,
    MarketStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from settlement.accounts import OPENABLE_ROLES
from settlement.projects import PriorityCategory
from settlement.reductions import SourceKind, VerificationMethod

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = sorted((ROOT / "web" / "static" / "i18n").glob("*.js"))


def values(enum_or_set) -> set[str]:
    return {str(v) for v in enum_or_set}


def literal(hint) -> set[str]:
    args = get_args(hint)
    if type(None) in args:  # X | None
        args = get_args(next(a for a in args if a is not type(None)))
    return set(args)


def test_the_api_literals_are_the_registry_and_engine_vocabularies():
    assert set(get_args(schemas.ROLE)) == values(OPENABLE_ROLES)
    assert set(get_args(schemas.SOURCE_KIND)) == values(SourceKind)
    assert set(get_args(schemas.PRIORITY)) == values(PriorityCategory)
    assert set(get_args(schemas.METHOD)) == values(VerificationMethod)
    order = schemas.OrderIn.model_fields
    assert literal(order["side"].annotation) == values(Side)
    assert literal(order["type"].annotation) == values(OrderType)
    assert literal(order["time_in_force"].annotation) == values(TimeInForce)
    assert literal(order["self_trade_prevention"].annotation) == values(SelfTradePrevention)


CHECKED = {
    ("orders", "side"): values(Side),
    ("trades", "taker_side"): values(Side),
    ("orders", "type"): values(OrderType),
    ("orders", "time_in_force"): values(TimeInForce),
    ("orders", "self_trade_prevention"): values(SelfTradePrevention),
    ("instruments", "status"): values(MarketStatus),
    ("credentials", "role"): values(OPENABLE_ROLES),
    ("tokens", "role"): values(OPENABLE_ROLES),
    # system accounts (fees, reserve, city pools) are listed under one role
    ("accounts", "role"): values(OPENABLE_ROLES) | {"system"},
}


def test_the_migrations_check_lists_are_the_vocabularies(db_engine):
    found = {}
    inspector = inspect(db_engine)
    for table in inspector.get_table_names():
        for check in inspector.get_check_constraints(table):
            # SQLite keeps "side IN ('buy', 'sell')"; PostgreSQL answers
            # "side = ANY (ARRAY['buy'::text, 'sell'::text])"
            text = check["sqltext"]
            if " IN (" in text or "= ANY" in text:
                column = re.match(r"\W*(\w+)", text).group(1)
                found[(table, column)] = set(re.findall(r"'([^']*)'", text))
    for key, expected in CHECKED.items():
        assert found.get(key) == expected, key


def catalogue_keys(path: Path) -> set[str]:
    return set(re.findall(r'^\s*"([^"]+)":', path.read_text(encoding="utf-8"), re.M))


SHOWN = {
    "role": values(OPENABLE_ROLES),
    "source": values(SourceKind),
    "priority": values(PriorityCategory),
    "method": values(VerificationMethod),
    "tif": values(TimeInForce),
    "stp": values(SelfTradePrevention),
    "cancel": values(CancelReason),
    "side": values(Side),
    "otype": values(OrderType),
    "mstatus": values(MarketStatus),
}


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda p: p.name)
def test_every_value_shown_to_users_has_a_label(catalogue):
    assert CATALOGUES, "no catalogues found"
    keys = catalogue_keys(catalogue)
    missing = sorted(
        f"{prefix}.{value}"
        for prefix, vocabulary in SHOWN.items()
        for value in vocabulary
        if f"{prefix}.{value}" not in keys
    )
    assert missing == []
