"""The wire's closed sets of strings, each a `Literal` built from the enum that defines
it (the engine's in matching_engine.types, the registry's in settlement, the core's
order status in exchange.core.orders). A request outside the set is refused by the
schema, and /openapi.json lists the same plain strings as the enum, in its order."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from exchange.core.market import EXPIRED, CandleInterval, TradeKind
from exchange.core.orders import OrderStatus
from exchange.core.regulation import AlertStatus, Lateness, SubmissionStatus
from exchange.infra.db.models import ACCOUNT_ROLES
from matching_engine.types import (
    CancelReason,
    MarketStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from settlement.accounts import OPENABLE_ROLES, Role
from settlement.auctions import RESERVE_AUCTION, AuctionStatus, BidStatus
from settlement.block_trades import BlockTradeStatus
from settlement.projects import PriorityCategory
from settlement.reallocations import ApplicationStatus
from settlement.reductions import ClaimStatus, SourceKind, VerificationMethod


def one_of(values: Iterable[str]) -> Any:
    """`Literal[...]` of these values as plain strings (a StrEnum member's str is its
    value), so validated input stays a str, as it was when the literals were spelled out."""
    return Literal[tuple(str(v) for v in values)]


SIDE = one_of(Side)
ORDER_TYPE = one_of(OrderType)
TIME_IN_FORCE = one_of(TimeInForce)
SELF_TRADE_PREVENTION = one_of(SelfTradePrevention)
CANCEL_REASON = one_of(CancelReason)
MARKET_STATUS = one_of(MarketStatus)
INSTRUMENT_STATUS = one_of((*MarketStatus, EXPIRED))
ORDER_STATUS = one_of(OrderStatus)
TRADE_KIND = one_of(TradeKind)
CANDLE_INTERVAL = one_of(CandleInterval)
# the roles an account is opened with (and logs in as); the registry's own accounts
# (fees, reserve, city pools) have no login
ROLE = one_of(r for r in Role if r in OPENABLE_ROLES)
# an account row's role: a login role, or `system` for the registry's own accounts
ACCOUNT_ROLE = one_of(ACCOUNT_ROLES)
SOURCE_KIND = one_of(SourceKind)
# a lot's source: a verified reduction's kind, or the reserve auction that re-issued it
LOT_SOURCE_KIND = one_of((*SourceKind, RESERVE_AUCTION))
PRIORITY = one_of(PriorityCategory)
METHOD = one_of(VerificationMethod)
CLAIM_STATUS = one_of(ClaimStatus)
APPLICATION_STATUS = one_of(ApplicationStatus)
AUCTION_STATUS = one_of(AuctionStatus)
BID_STATUS = one_of(BidStatus)
BLOCK_TRADE_STATUS = one_of(BlockTradeStatus)
ALERT_STATUS = one_of(AlertStatus)
SUBMISSION_STATUS = one_of(SubmissionStatus)
LATENESS = one_of(Lateness)
DECISION = Literal["approve", "reject"]
