"""One vocabulary: the API's literals, the database's CHECK lists (as the migrations
leave them, and as the models declare them), the pages' label keys and their menus' code
lists hold exactly the values of the enums that define them (the engine's, the registry's,
the core's order status), so adding a value in one place and not the others fails here
rather than at a client or a constraint. The API and the models build theirs from the
enums; the migrations are history and the pages are JavaScript, so those are compared."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args, get_type_hints

import pytest
from sqlalchemy import CheckConstraint, inspect

from exchange.core.market import CANDLE_WIDTH_US, EXPIRED, CandleInterval, TradeKind
from exchange.core.orders import OrderStatus
from exchange.core.regulation import AlertStatus, Lateness, SubmissionStatus
from exchange.core.surveillance import AlertKind
from exchange.edge.api import responses, schemas
from exchange.edge.api.routes import market
from exchange.infra.db.models import Base
from matching_engine.types import (
    CancelReason,
    MarketStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from settlement.accounts import OPENABLE_ROLES
from settlement.auctions import RESERVE_AUCTION, AuctionStatus, BidStatus
from settlement.block_trades import BlockTradeStatus
from settlement.ledger import MovementKind
from settlement.projects import PriorityCategory
from settlement.reallocations import ApplicationStatus
from settlement.reductions import ClaimStatus, SourceKind, VerificationMethod

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = sorted((ROOT / "web" / "static" / "i18n").glob("*.js"))
LABELS_JS = ROOT / "web" / "static" / "js" / "labels.js"
REGULATOR_JS = ROOT / "web" / "static" / "js" / "regulator.js"
MARKET_JS = ROOT / "web" / "static" / "js" / "market.js"
PAGES_JS = sorted((ROOT / "web" / "static" / "js").glob("*.js"))


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
    assert literal(responses.PublicTrade.model_fields["kind"].annotation) == values(TradeKind)


def test_the_candles_route_takes_the_candle_intervals():
    hints = get_type_hints(market.candles, include_extras=True)
    assert literal(hints["interval"]) == values(CandleInterval)
    assert set(CANDLE_WIDTH_US) == values(CandleInterval)


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
    ("orders", "status"): values(OrderStatus),
    ("reductions", "status"): values(ClaimStatus),
    ("reallocations", "status"): values(ApplicationStatus),
    ("auctions", "status"): values(AuctionStatus),
    ("auction_bids", "status"): values(BidStatus),
    ("block_trades", "status"): values(BlockTradeStatus),
    ("ledger_movements", "kind"): values(MovementKind),
    ("candles", "interval"): values(CandleInterval),
}


def check_lists(constraints) -> dict[tuple[str, str], set[str]]:
    """(table, column) -> the values of each `column IN (...)` CHECK."""
    found = {}
    for table, text in constraints:
        # SQLite keeps "side IN ('buy', 'sell')"; PostgreSQL answers
        # "side = ANY (ARRAY['buy'::text, 'sell'::text])"
        if " IN (" in text or "= ANY" in text:
            column = re.match(r"\W*(\w+)", text).group(1)
            found[(table, column)] = set(re.findall(r"'([^']*)'", text))
    return found


def test_the_migrations_check_lists_are_the_vocabularies(db_engine):
    inspector = inspect(db_engine)
    found = check_lists(
        (table, check["sqltext"])
        for table in inspector.get_table_names()
        for check in inspector.get_check_constraints(table)
    )
    for key, expected in CHECKED.items():
        assert found.get(key) == expected, key


def test_the_models_check_lists_are_the_vocabularies():
    found = check_lists(
        (table.name, str(constraint.sqltext))
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    )
    for key, expected in CHECKED.items():
        assert found.get(key) == expected, key


def catalogue_keys(path: Path) -> set[str]:
    return set(re.findall(r'^\s*"([^"]+)":', path.read_text(encoding="utf-8"), re.M))


SHOWN = {
    "role": values(OPENABLE_ROLES),
    "source": values(SourceKind) | {RESERVE_AUCTION},
    "priority": values(PriorityCategory),
    "method": values(VerificationMethod),
    "tif": values(TimeInForce),
    "stp": values(SelfTradePrevention),
    "cancel": values(CancelReason),
    "side": values(Side),
    "otype": values(OrderType),
    "mstatus": values(MarketStatus) | {EXPIRED},
    "status": values(OrderStatus) | values(ClaimStatus) | values(ApplicationStatus),
    "austatus": values(AuctionStatus),
    "bidstatus": values(BidStatus),
    "btstatus": values(BlockTradeStatus),
    "alstatus": values(AlertStatus),
    "sbstatus": values(SubmissionStatus),
    "sblate": values(Lateness),
    "alert": values(AlertKind),
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


# The pages' own lists of codes (for their menus), in the order the enums give them.
LISTED = {
    "ROLE_CODES": [str(r) for r in schemas.ROLE.__args__],
    "SOURCE_KIND_CODES": [str(v) for v in SourceKind],
    "PRIORITY_CODES": [str(v) for v in PriorityCategory],
    "METHOD_CODES": [str(v) for v in VerificationMethod],
    "TIF_CODES": [str(v) for v in TimeInForce],
    "STP_CODES": [str(v) for v in SelfTradePrevention],
}


def code_list(path: Path, name: str) -> list[str]:
    found = re.search(rf"const {name} = \[([^\]]*)\]", path.read_text(encoding="utf-8"))
    assert found is not None, f"{name} not found in {path.name}"
    return re.findall(r'"([^"]*)"', found.group(1))


def test_the_pages_code_lists_are_the_vocabularies():
    for name, expected in LISTED.items():
        assert code_list(LABELS_JS, name) == expected, name
    assert code_list(REGULATOR_JS, "ALERT_KINDS") == [str(k) for k in AlertKind]
    assert code_list(REGULATOR_JS, "ALERT_STATUSES") == [str(s) for s in AlertStatus]
    assert set(js_object(REGULATOR_JS, "SUBMISSION_BADGE")) == values(SubmissionStatus)


def test_the_pages_role_lists_hold_login_roles():
    lists = [
        found
        for path in PAGES_JS
        for found in re.findall(r"requireRole\(\[([^\]]*)\]", path.read_text(encoding="utf-8"))
    ]
    login = (ROOT / "web" / "static" / "js" / "login.js").read_text(encoding="utf-8")
    page_roles = re.search(r"const PAGE_ROLES = \{([^}]*)\}", login)
    assert page_roles is not None and lists, "no role lists found"
    lists += re.findall(r"\[([^\]]*)\]", page_roles.group(1))
    for found in lists:
        assert set(re.findall(r'"([^"]*)"', found)) <= values(OPENABLE_ROLES), found


def test_the_trade_pages_open_statuses_are_the_open_order_statuses():
    trade = (ROOT / "web" / "static" / "js" / "trade.js").read_text(encoding="utf-8")
    found = re.search(r"const OPEN = new Set\(\[([^\]]*)\]\)", trade)
    assert found is not None, "OPEN not found in trade.js"
    assert set(re.findall(r'"([^"]*)"', found.group(1))) == {
        OrderStatus.OPEN,
        OrderStatus.PARTIALLY_FILLED,
    }


def js_object(path: Path, name: str) -> dict[str, str]:
    found = re.search(rf"const {name} = \{{([^}}]*)\}}", path.read_text(encoding="utf-8"))
    assert found is not None, f"{name} not found in {path.name}"
    return dict(re.findall(r'"?(\w+)"?: ("[^"]*"|\d+)', found.group(1)))


def test_the_pages_trade_kinds_and_candle_intervals_are_the_vocabularies():
    assert js_object(LABELS_JS, "TRADE_KIND") == {k.name: f'"{k.value}"' for k in TradeKind}
    # the chart's intervals, in the enum's order, each its width in seconds
    assert js_object(MARKET_JS, "INTERVALS") == {
        str(i): str(CANDLE_WIDTH_US[i] // 1_000_000) for i in CandleInterval
    }
    assert list(js_object(MARKET_JS, "INTERVALS")) == [str(i) for i in CandleInterval]
