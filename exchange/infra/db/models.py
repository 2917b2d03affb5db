"""The schema: the durable journal, snapshots, credentials and the read models.

Read models are projections of the journal, written by the core in sequence
order; each mutable row keeps the `last_seq` that last touched it, so a replay
can skip what is already applied and the whole set can be rebuilt from the
journal. Money is integer fen, quantities integer kilograms, times integer
microseconds since the epoch; units end the column names. CHECK constraints
back the rules the code enforces (positive amounts, no negative balance).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from exchange.core.market import CandleInterval, TradeKind
from exchange.core.orders import OrderStatus
from exchange.core.regulation import AlertStatus
from matching_engine.types import (
    MarketStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from settlement.accounts import OPENABLE_ROLES, Role
from settlement.ledger import MovementKind
from settlement.reallocations import ApplicationStatus
from settlement.reductions import ClaimStatus

# Stable constraint names let Alembic's SQLite batch mode recreate tables faithfully.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-numbers a column declared exactly INTEGER PRIMARY KEY.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

# The roles that log in, in the enum's order (the CHECK text stays as the migrations wrote it).
ROLES = tuple(r for r in Role if r in OPENABLE_ROLES)
# `system` accounts are the exchange's own (fee account, provincial reserve): no login.
SYSTEM_ROLE = "system"
ACCOUNT_ROLES = (*ROLES, SYSTEM_ROLE)
# what an order row written before order options existed holds (migration 0004)
_STP_DEFAULT = SelfTradePrevention.CANCEL_INCOMING.value


def _in(column: str, values: Iterable[str]) -> str:
    """`column IN ('a', 'b')`, each value written as the plain string it is (the repr of
    an enum member would name the class)."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def account_role(role: str) -> str:
    """An account row's role: the registry account's own if it logs in, else `system`."""
    return str(role) if role in OPENABLE_ROLES else SYSTEM_ROLE


def _non_negative(*columns: str) -> list[CheckConstraint]:
    return [CheckConstraint(f"{c} >= 0", name=f"{c}_non_negative") for c in columns]


def _positive(*columns: str) -> list[CheckConstraint]:
    return [CheckConstraint(f"{c} > 0", name=f"{c}_positive") for c in columns]


def _zero() -> Any:
    # A server default too, so plain SQL upserts from the core need not name every column.
    return mapped_column(default=0, server_default=text("0"))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[type, Any]] = {int: BigInteger, str: Text}


# --- durable log ---------------------------------------------------------------------------


class JournalEntry(Base):
    __tablename__ = "journal"
    __table_args__ = (*_positive("seq"),)

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    ts_us: Mapped[int]
    kind: Mapped[str]
    payload: Mapped[str]
    prev_hash: Mapped[str]
    hash: Mapped[str]


class ProjectionProgress(Base):
    """One row: the newest journal seq the read models show. The projector writes it in
    the same transaction as the rows it projects, so after a crash it resumes from
    the next seq, and a reader can tell how far behind the journal the tables are."""

    __tablename__ = "projection_progress"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int]


class Snapshot(Base):
    __tablename__ = "snapshots"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    ts_us: Mapped[int]
    state_hash: Mapped[str]
    data: Mapped[bytes] = mapped_column(LargeBinary)


# --- authentication ------------------------------------------------------------------------


class Credential(Base):
    __tablename__ = "credentials"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role_known"),)

    username: Mapped[str] = mapped_column(primary_key=True)
    password_hash: Mapped[str]
    account_id: Mapped[str] = mapped_column(index=True)
    role: Mapped[str]
    city_code: Mapped[str | None]


class Token(Base):
    __tablename__ = "tokens"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role_known"),)

    token_hash: Mapped[str] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(index=True)
    role: Mapped[str]
    created_us: Mapped[int]
    expires_us: Mapped[int | None]


# --- market and accounts -------------------------------------------------------------------


class Instrument(Base):
    __tablename__ = "instruments"
    __table_args__ = (
        *_positive("tick_fen", "lot_kg", "reference_price_fen"),
        CheckConstraint("band_bps >= 0 AND band_bps <= 10000", name="band_bps_range"),
        CheckConstraint(_in("status", MarketStatus), name="status_known"),
    )

    symbol: Mapped[str] = mapped_column(primary_key=True)
    pollutant: Mapped[str]
    vintage: Mapped[int] = mapped_column(Integer)
    tick_fen: Mapped[int]
    lot_kg: Mapped[int]
    reference_price_fen: Mapped[int]
    band_bps: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(default=MarketStatus.OPEN.value)
    last_seq: Mapped[int] = _zero()
    # the last day it may trade (Asia/Shanghai), and when the core expired it
    valid_until: Mapped[str | None]
    expired_us: Mapped[int | None]


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(_in("role", ACCOUNT_ROLES), name="role_known"),
        *_non_negative("cash_available_fen", "cash_locked_fen"),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    role: Mapped[str]
    city_code: Mapped[str | None] = mapped_column(index=True)
    cash_available_fen: Mapped[int] = _zero()
    cash_locked_fen: Mapped[int] = _zero()
    last_seq: Mapped[int] = _zero()


class Holding(Base):
    __tablename__ = "holdings"
    __table_args__ = (*_non_negative("available_kg", "locked_kg", "used_kg"),)

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"), primary_key=True)
    available_kg: Mapped[int] = _zero()
    locked_kg: Mapped[int] = _zero()
    used_kg: Mapped[int] = _zero()
    last_seq: Mapped[int] = _zero()


class CashPosting(Base):
    """One change of one cash account, with the balances before and after (audit trail)."""

    __tablename__ = "cash_postings"
    __table_args__ = (
        *_positive("amount_fen"),
        *_non_negative(
            "available_before_fen", "available_after_fen", "locked_before_fen", "locked_after_fen"
        ),
        Index(None, "account_id", "id"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str]
    amount_fen: Mapped[int]
    available_before_fen: Mapped[int]
    available_after_fen: Mapped[int]
    locked_before_fen: Mapped[int]
    locked_after_fen: Mapped[int]
    ref: Mapped[str | None]


class AllowancePosting(Base):
    __tablename__ = "allowance_postings"
    __table_args__ = (
        *_positive("quantity_kg"),
        *_non_negative("available_after_kg", "locked_after_kg", "used_after_kg"),
        Index(None, "account_id", "symbol", "id"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"))
    lot_id: Mapped[str | None]
    kind: Mapped[str]
    quantity_kg: Mapped[int]
    available_after_kg: Mapped[int]
    locked_after_kg: Mapped[int]
    used_after_kg: Mapped[int]
    ref: Mapped[str | None]


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("account_id", "client_order_id"),
        CheckConstraint(_in("side", Side), name="side_known"),
        CheckConstraint(_in("type", OrderType), name="type_known"),
        CheckConstraint(_in("time_in_force", TimeInForce), name="tif_known"),
        CheckConstraint(_in("self_trade_prevention", SelfTradePrevention), name="stp_known"),
        CheckConstraint(
            _in("status", OrderStatus),
            name="status_known",
        ),
        CheckConstraint("price_fen IS NULL OR price_fen > 0", name="price_fen_positive"),
        *_positive("quantity_kg"),
        *_non_negative("remaining_kg", "filled_kg", "filled_value_fen"),
        Index(None, "account_id", "status"),
        Index(None, "symbol", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    client_order_id: Mapped[str]
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"))
    side: Mapped[str]
    type: Mapped[str]
    price_fen: Mapped[int | None]
    quantity_kg: Mapped[int]
    remaining_kg: Mapped[int]
    filled_kg: Mapped[int] = _zero()
    # Σ price × quantity over fills (fen·kg/t), so the average price is exact.
    filled_value_fen: Mapped[int] = _zero()
    time_in_force: Mapped[str]
    status: Mapped[str]
    cancel_reason: Mapped[str | None]
    created_us: Mapped[int]
    updated_us: Mapped[int]
    # Tells a retry of the same request from a reuse of its client_order_id.
    request_hash: Mapped[str]
    last_seq: Mapped[int] = _zero()
    post_only: Mapped[bool] = mapped_column(default=False, server_default=false())
    self_trade_prevention: Mapped[str] = mapped_column(
        default=_STP_DEFAULT, server_default=text(f"'{_STP_DEFAULT}'")
    )


class Trade(Base):
    __tablename__ = "trades"
    __table_args__ = (
        *_positive("price_fen", "quantity_kg"),
        *_non_negative("cash_fen", "buyer_fee_fen", "seller_fee_fen"),
        CheckConstraint(_in("taker_side", Side), name="taker_side_known"),
        CheckConstraint("buyer_account_id <> seller_account_id", name="no_self_trade"),
        Index(None, "symbol", "seq"),
        Index(None, "buyer_account_id", "seq"),
        Index(None, "seller_account_id", "seq"),
        Index(None, "seq"),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"))
    seq: Mapped[int]
    price_fen: Mapped[int]
    quantity_kg: Mapped[int]
    cash_fen: Mapped[int]
    taker_side: Mapped[str]
    buyer_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    seller_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    buyer_order_id: Mapped[int]
    seller_order_id: Mapped[int]
    buyer_fee_fen: Mapped[int] = _zero()
    seller_fee_fen: Mapped[int] = _zero()
    buyer_city_code: Mapped[str | None]
    seller_city_code: Mapped[str | None]
    ts_us: Mapped[int]
    # a block trade (TradeKind.BLOCK) has no order ids: 0
    kind: Mapped[str] = mapped_column(
        default=TradeKind.CONTINUOUS.value, server_default=TradeKind.CONTINUOUS.value
    )


# --- registry and provincial ledger --------------------------------------------------------


class Reduction(Base):
    __tablename__ = "reductions"
    __table_args__ = (
        *_positive("quantity_kg"),
        CheckConstraint(_in("status", ClaimStatus), name="status_known"),
        CheckConstraint(
            "approved_kg IS NULL OR (approved_kg >= 0 AND approved_kg <= quantity_kg)",
            name="approved_kg_within_claim",
        ),
        Index(None, "account_id"),
        Index(None, "city_code", "status"),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    city_code: Mapped[str]
    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"))
    quantity_kg: Mapped[int]
    source_kind: Mapped[str]
    description: Mapped[str] = mapped_column(default="")
    evidence: Mapped[str] = mapped_column(default="")
    status: Mapped[str] = mapped_column(default=ClaimStatus.PENDING.value)
    approved_kg: Mapped[int | None]
    method: Mapped[str | None]
    note: Mapped[str | None]
    verifier_account_id: Mapped[str | None]
    lot_id: Mapped[str | None]
    created_us: Mapped[int]
    decided_us: Mapped[int | None]
    last_seq: Mapped[int] = _zero()


class Lot(Base):
    """Allowances issued from one verified reduction; remembers where they came from."""

    __tablename__ = "lots"
    __table_args__ = (*_positive("quantity_kg"),)

    id: Mapped[str] = mapped_column(primary_key=True)
    reduction_id: Mapped[str | None] = mapped_column(ForeignKey("reductions.id"), index=True)
    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"))
    source_kind: Mapped[str]
    origin_city_code: Mapped[str]
    origin_account_id: Mapped[str]
    quantity_kg: Mapped[int]
    issued_us: Mapped[int]
    last_seq: Mapped[int] = _zero()


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (
        *_positive("required_kg"),
        *_non_negative("allocated_kg"),
        CheckConstraint("allocated_kg <= required_kg", name="allocated_within_required"),
        Index(None, "owner_account_id"),
        Index(None, "city_code"),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    owner_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str]
    city_code: Mapped[str]
    priority_category: Mapped[str]
    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"))
    required_kg: Mapped[int]
    allocated_kg: Mapped[int] = _zero()
    eia_reference: Mapped[str] = mapped_column(default="")
    created_us: Mapped[int]
    last_seq: Mapped[int] = _zero()


class ProjectSource(Base):
    """Which lot (hence which verified reduction) supplied each kilogram a project uses."""

    __tablename__ = "project_sources"
    __table_args__ = (*_positive("quantity_kg"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    lot_id: Mapped[str]
    reduction_id: Mapped[str | None]
    source_kind: Mapped[str]
    origin_city_code: Mapped[str]
    origin_account_id: Mapped[str]
    quantity_kg: Mapped[int]
    seq: Mapped[int]


LEDGER_MOVEMENT_KINDS = tuple(MovementKind)


class LedgerMovement(Base):
    __tablename__ = "ledger_movements"
    __table_args__ = (
        *_positive("quantity_kg"),
        CheckConstraint(_in("kind", LEDGER_MOVEMENT_KINDS), name="kind_known"),
        Index(None, "city_code", "symbol", "ts_us"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    seq: Mapped[int]
    ts_us: Mapped[int]
    city_code: Mapped[str]
    symbol: Mapped[str]
    kind: Mapped[str]
    quantity_kg: Mapped[int]
    ref: Mapped[str | None]
    # the other city's code or "reserve" for a transfer; empty for added/used
    counterparty: Mapped[str | None]


class LedgerRow(Base):
    """One city's running account of one pollutant's quota (一本賬)."""

    __tablename__ = "ledger_rows"
    __table_args__ = (
        *_non_negative("added_kg", "used_kg", "transferred_in_kg", "transferred_out_kg"),
        CheckConstraint(
            "added_kg + transferred_in_kg - transferred_out_kg - used_kg >= 0",
            name="remaining_non_negative",
        ),
    )

    city_code: Mapped[str] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(primary_key=True)
    added_kg: Mapped[int] = _zero()
    used_kg: Mapped[int] = _zero()
    transferred_in_kg: Mapped[int] = _zero()
    transferred_out_kg: Mapped[int] = _zero()
    last_seq: Mapped[int] = _zero()


class CityFloor(Base):
    __tablename__ = "city_floors"
    __table_args__ = (*_non_negative("quantity_kg"),)

    city_code: Mapped[str] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(primary_key=True)
    quantity_kg: Mapped[int]
    last_seq: Mapped[int] = _zero()


class Reallocation(Base):
    __tablename__ = "reallocations"
    __table_args__ = (
        *_positive("quantity_kg"),
        CheckConstraint(_in("status", ApplicationStatus), name="status_known"),
        Index(None, "city_code"),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    bureau_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    city_code: Mapped[str]
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"))
    quantity_kg: Mapped[int]
    reason: Mapped[str] = mapped_column(default="")
    priority_category: Mapped[str]
    status: Mapped[str] = mapped_column(default=ApplicationStatus.PENDING.value)
    # JSON list of {"from": city code or "reserve", "quantity_kg": int}, set on decision.
    sources: Mapped[str | None]
    note: Mapped[str | None]
    decided_by: Mapped[str | None]
    created_us: Mapped[int]
    decided_us: Mapped[int | None]
    last_seq: Mapped[int] = _zero()


# --- market data and surveillance ----------------------------------------------------------


class Candle(Base):
    __tablename__ = "candles"
    __table_args__ = (
        CheckConstraint(_in("interval", CandleInterval), name="interval_known"),
        *_positive("open_fen", "high_fen", "low_fen", "close_fen"),
        *_non_negative("volume_kg"),
        CheckConstraint(
            "low_fen <= open_fen AND low_fen <= close_fen"
            " AND high_fen >= open_fen AND high_fen >= close_fen",
            name="ohlc_consistent",
        ),
    )

    symbol: Mapped[str] = mapped_column(primary_key=True)
    interval: Mapped[str] = mapped_column(primary_key=True)
    bucket_us: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    open_fen: Mapped[int]
    high_fen: Mapped[int]
    low_fen: Mapped[int]
    close_fen: Mapped[int]
    volume_kg: Mapped[int]
    last_seq: Mapped[int] = _zero()


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (Index(None, "seq"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    seq: Mapped[int]
    kind: Mapped[str]
    symbol: Mapped[str | None]
    account_id: Mapped[str | None]
    detail: Mapped[str] = mapped_column(default="{}")  # JSON object
    ts_us: Mapped[int]
    # the alert's place among its command's alerts: (seq, ordinal) names it in the journal
    ordinal: Mapped[int] = mapped_column(default=0, server_default="0")
    status: Mapped[str] = mapped_column(
        default=AlertStatus.OPEN.value, server_default=AlertStatus.OPEN.value
    )
    acknowledged_by: Mapped[str | None]
    acknowledged_us: Mapped[int | None]
    ack_note: Mapped[str | None]


class MonthlySubmission(Base):
    """A month's report as a city bureau submitted it: frozen, never updated."""

    __tablename__ = "monthly_submissions"

    city_code: Mapped[str] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int]
    ts_us: Mapped[int]
    account_id: Mapped[str]
    correction_reason: Mapped[str | None]
    opening_remaining_kg: Mapped[int]
    added_kg: Mapped[int]
    used_kg: Mapped[int]
    transferred_in_kg: Mapped[int]
    transferred_out_kg: Mapped[int]
    closing_remaining_kg: Mapped[int]
    movements: Mapped[int]
    csv_sha256: Mapped[str]


class Meta(Base):
    """Small named values, e.g. `projected_seq`: the last journal seq the read models reflect."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[str]


READ_MODEL_TABLES = (
    "instruments",
    "accounts",
    "holdings",
    "cash_postings",
    "allowance_postings",
    "orders",
    "trades",
    "reductions",
    "lots",
    "projects",
    "project_sources",
    "ledger_movements",
    "ledger_rows",
    "city_floors",
    "reallocations",
    "candles",
    "alerts",
    "monthly_submissions",
    "auctions",
    "auction_bids",
    "block_trades",
    "meta",
)
