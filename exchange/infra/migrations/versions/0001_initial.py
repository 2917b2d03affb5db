"""Initial schema: journal, snapshots, credentials and the read models.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Written out in full, not imported from exchange.infra.db.models: a migration is a
frozen record of one schema version, while the models move on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ROLES = ("enterprise", "city_bureau", "province", "operator")


# --- small builders; names follow the models' naming convention ---------------------------


def big(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def zero(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), server_default=sa.text("0"), nullable=False)


def txt(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Text(), nullable=nullable)


def auto_id() -> sa.Column:
    # SQLite auto-numbers only a column declared exactly INTEGER PRIMARY KEY.
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def check(table: str, name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=op.f(f"ck_{table}_{name}"))


def one_of(table: str, name: str, column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    return check(table, name, f"{column} IN ({', '.join(repr(v) for v in values)})")


def positive(table: str, *columns: str) -> list[sa.CheckConstraint]:
    return [check(table, f"{c}_positive", f"{c} > 0") for c in columns]


def non_negative(table: str, *columns: str) -> list[sa.CheckConstraint]:
    return [check(table, f"{c}_non_negative", f"{c} >= 0") for c in columns]


def fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{referred}"))


def index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns))


# --- the schema --------------------------------------------------------------------------


def upgrade() -> None:
    t = "journal"
    op.create_table(
        t,
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        big("ts_us"),
        txt("kind"),
        txt("payload"),
        txt("prev_hash"),
        txt("hash"),
        pk(t, "seq"),
        *positive(t, "seq"),
    )

    t = "snapshots"
    op.create_table(
        t,
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        big("ts_us"),
        txt("state_hash"),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        pk(t, "seq"),
    )

    t = "credentials"
    op.create_table(
        t,
        txt("username"),
        txt("password_hash"),
        txt("account_id"),
        txt("role"),
        txt("city_code", nullable=True),
        pk(t, "username"),
        one_of(t, "role_known", "role", ROLES),
    )
    index(t, "account_id")

    t = "tokens"
    op.create_table(
        t,
        txt("token_hash"),
        txt("account_id"),
        txt("role"),
        big("created_us"),
        big("expires_us", nullable=True),
        pk(t, "token_hash"),
        one_of(t, "role_known", "role", ROLES),
    )
    index(t, "account_id")

    t = "instruments"
    op.create_table(
        t,
        txt("symbol"),
        txt("pollutant"),
        sa.Column("vintage", sa.Integer(), nullable=False),
        big("tick_fen"),
        big("lot_kg"),
        big("reference_price_fen"),
        sa.Column("band_bps", sa.Integer(), nullable=False),
        txt("status"),
        zero("last_seq"),
        pk(t, "symbol"),
        *positive(t, "tick_fen", "lot_kg", "reference_price_fen"),
        check(t, "band_bps_range", "band_bps >= 0 AND band_bps <= 10000"),
        one_of(t, "status_known", "status", ("open", "halted")),
    )

    t = "accounts"
    op.create_table(
        t,
        txt("id"),
        txt("name"),
        txt("role"),
        txt("city_code", nullable=True),
        zero("cash_available_fen"),
        zero("cash_locked_fen"),
        zero("last_seq"),
        pk(t, "id"),
        one_of(t, "role_known", "role", (*ROLES, "system")),
        *non_negative(t, "cash_available_fen", "cash_locked_fen"),
    )
    index(t, "city_code")

    t = "holdings"
    op.create_table(
        t,
        txt("account_id"),
        txt("symbol"),
        zero("available_kg"),
        zero("locked_kg"),
        zero("used_kg"),
        zero("last_seq"),
        pk(t, "account_id", "symbol"),
        fk(t, "account_id", "accounts.id"),
        fk(t, "symbol", "instruments.symbol"),
        *non_negative(t, "available_kg", "locked_kg", "used_kg"),
    )

    t = "cash_postings"
    balances = ("available_before_fen", "available_after_fen", "locked_before_fen")
    op.create_table(
        t,
        auto_id(),
        big("seq"),
        txt("account_id"),
        txt("kind"),
        big("amount_fen"),
        *(big(c) for c in (*balances, "locked_after_fen")),
        txt("ref", nullable=True),
        pk(t, "id"),
        fk(t, "account_id", "accounts.id"),
        *positive(t, "amount_fen"),
        *non_negative(t, *balances, "locked_after_fen"),
    )
    index(t, "seq")
    index(t, "account_id", "id")

    t = "allowance_postings"
    op.create_table(
        t,
        auto_id(),
        big("seq"),
        txt("account_id"),
        txt("symbol"),
        txt("lot_id", nullable=True),
        txt("kind"),
        big("quantity_kg"),
        big("available_after_kg"),
        big("locked_after_kg"),
        big("used_after_kg"),
        txt("ref", nullable=True),
        pk(t, "id"),
        fk(t, "account_id", "accounts.id"),
        fk(t, "symbol", "instruments.symbol"),
        *positive(t, "quantity_kg"),
        *non_negative(t, "available_after_kg", "locked_after_kg", "used_after_kg"),
    )
    index(t, "seq")
    index(t, "account_id", "symbol", "id")

    t = "orders"
    op.create_table(
        t,
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        txt("client_order_id"),
        txt("account_id"),
        txt("symbol"),
        txt("side"),
        txt("type"),
        big("price_fen", nullable=True),
        big("quantity_kg"),
        big("remaining_kg"),
        zero("filled_kg"),
        zero("filled_value_fen"),
        txt("time_in_force"),
        txt("status"),
        txt("cancel_reason", nullable=True),
        big("created_us"),
        big("updated_us"),
        txt("request_hash"),
        zero("last_seq"),
        pk(t, "id"),
        sa.UniqueConstraint(
            "account_id", "client_order_id", name=op.f("uq_orders_account_id_client_order_id")
        ),
        fk(t, "account_id", "accounts.id"),
        fk(t, "symbol", "instruments.symbol"),
        one_of(t, "side_known", "side", ("buy", "sell")),
        one_of(t, "type_known", "type", ("limit", "market")),
        one_of(t, "tif_known", "time_in_force", ("GTC", "DAY", "IOC", "FOK")),
        one_of(t, "status_known", "status", ("open", "partially_filled", "filled", "cancelled")),
        check(t, "price_fen_positive", "price_fen IS NULL OR price_fen > 0"),
        *positive(t, "quantity_kg"),
        *non_negative(t, "remaining_kg", "filled_kg", "filled_value_fen"),
    )
    index(t, "account_id", "status")
    index(t, "symbol", "status")

    t = "trades"
    op.create_table(
        t,
        txt("id"),
        txt("symbol"),
        big("seq"),
        big("price_fen"),
        big("quantity_kg"),
        big("cash_fen"),
        txt("taker_side"),
        txt("buyer_account_id"),
        txt("seller_account_id"),
        big("buyer_order_id"),
        big("seller_order_id"),
        zero("buyer_fee_fen"),
        zero("seller_fee_fen"),
        txt("buyer_city_code", nullable=True),
        txt("seller_city_code", nullable=True),
        big("ts_us"),
        pk(t, "id"),
        fk(t, "symbol", "instruments.symbol"),
        fk(t, "buyer_account_id", "accounts.id"),
        fk(t, "seller_account_id", "accounts.id"),
        *positive(t, "price_fen", "quantity_kg"),
        *non_negative(t, "cash_fen", "buyer_fee_fen", "seller_fee_fen"),
        one_of(t, "taker_side_known", "taker_side", ("buy", "sell")),
        check(t, "no_self_trade", "buyer_account_id <> seller_account_id"),
    )
    index(t, "symbol", "seq")
    index(t, "buyer_account_id", "seq")
    index(t, "seller_account_id", "seq")
    index(t, "seq")

    t = "reductions"
    op.create_table(
        t,
        txt("id"),
        txt("account_id"),
        txt("city_code"),
        txt("symbol"),
        big("quantity_kg"),
        txt("source_kind"),
        txt("description"),
        txt("evidence"),
        txt("status"),
        big("approved_kg", nullable=True),
        txt("method", nullable=True),
        txt("note", nullable=True),
        txt("verifier_account_id", nullable=True),
        txt("lot_id", nullable=True),
        big("created_us"),
        big("decided_us", nullable=True),
        zero("last_seq"),
        pk(t, "id"),
        fk(t, "account_id", "accounts.id"),
        fk(t, "symbol", "instruments.symbol"),
        *positive(t, "quantity_kg"),
        one_of(t, "status_known", "status", ("pending", "approved", "rejected")),
        check(
            t,
            "approved_kg_within_claim",
            "approved_kg IS NULL OR (approved_kg >= 0 AND approved_kg <= quantity_kg)",
        ),
    )
    index(t, "account_id")
    index(t, "city_code", "status")

    t = "lots"
    op.create_table(
        t,
        txt("id"),
        txt("reduction_id", nullable=True),
        txt("symbol"),
        txt("source_kind"),
        txt("origin_city_code"),
        txt("origin_account_id"),
        big("quantity_kg"),
        big("issued_us"),
        zero("last_seq"),
        pk(t, "id"),
        fk(t, "reduction_id", "reductions.id"),
        fk(t, "symbol", "instruments.symbol"),
        *positive(t, "quantity_kg"),
    )
    index(t, "reduction_id")

    t = "projects"
    op.create_table(
        t,
        txt("id"),
        txt("owner_account_id"),
        txt("name"),
        txt("city_code"),
        txt("priority_category"),
        txt("symbol"),
        big("required_kg"),
        zero("allocated_kg"),
        txt("eia_reference"),
        big("created_us"),
        zero("last_seq"),
        pk(t, "id"),
        fk(t, "owner_account_id", "accounts.id"),
        fk(t, "symbol", "instruments.symbol"),
        *positive(t, "required_kg"),
        *non_negative(t, "allocated_kg"),
        check(t, "allocated_within_required", "allocated_kg <= required_kg"),
    )
    index(t, "owner_account_id")
    index(t, "city_code")

    t = "project_sources"
    op.create_table(
        t,
        auto_id(),
        txt("project_id"),
        txt("lot_id"),
        txt("reduction_id", nullable=True),
        txt("source_kind"),
        txt("origin_city_code"),
        txt("origin_account_id"),
        big("quantity_kg"),
        big("seq"),
        pk(t, "id"),
        fk(t, "project_id", "projects.id"),
        *positive(t, "quantity_kg"),
    )
    index(t, "project_id")

    t = "ledger_movements"
    op.create_table(
        t,
        auto_id(),
        big("seq"),
        big("ts_us"),
        txt("city_code"),
        txt("symbol"),
        txt("kind"),
        big("quantity_kg"),
        txt("ref", nullable=True),
        pk(t, "id"),
        *positive(t, "quantity_kg"),
        one_of(t, "kind_known", "kind", ("added", "used", "transferred_in", "transferred_out")),
    )
    index(t, "city_code", "symbol", "ts_us")

    t = "ledger_rows"
    counters = ("added_kg", "used_kg", "transferred_in_kg", "transferred_out_kg")
    op.create_table(
        t,
        txt("city_code"),
        txt("symbol"),
        *(zero(c) for c in counters),
        zero("last_seq"),
        pk(t, "city_code", "symbol"),
        *non_negative(t, *counters),
        check(
            t,
            "remaining_non_negative",
            "added_kg + transferred_in_kg - transferred_out_kg - used_kg >= 0",
        ),
    )

    t = "city_floors"
    op.create_table(
        t,
        txt("city_code"),
        txt("symbol"),
        big("quantity_kg"),
        zero("last_seq"),
        pk(t, "city_code", "symbol"),
        *non_negative(t, "quantity_kg"),
    )

    t = "reallocations"
    op.create_table(
        t,
        txt("id"),
        txt("bureau_account_id"),
        txt("city_code"),
        txt("project_id"),
        txt("symbol"),
        big("quantity_kg"),
        txt("reason"),
        txt("priority_category"),
        txt("status"),
        txt("sources", nullable=True),
        txt("note", nullable=True),
        txt("decided_by", nullable=True),
        big("created_us"),
        big("decided_us", nullable=True),
        zero("last_seq"),
        pk(t, "id"),
        fk(t, "bureau_account_id", "accounts.id"),
        fk(t, "project_id", "projects.id"),
        fk(t, "symbol", "instruments.symbol"),
        *positive(t, "quantity_kg"),
        one_of(t, "status_known", "status", ("pending", "approved", "rejected")),
    )
    index(t, "city_code")

    t = "candles"
    prices = ("open_fen", "high_fen", "low_fen", "close_fen")
    op.create_table(
        t,
        txt("symbol"),
        txt("interval"),
        sa.Column("bucket_us", sa.BigInteger(), autoincrement=False, nullable=False),
        *(big(c) for c in prices),
        big("volume_kg"),
        zero("last_seq"),
        pk(t, "symbol", "interval", "bucket_us"),
        one_of(t, "interval_known", "interval", ("1m", "5m", "1h", "1d")),
        *positive(t, *prices),
        *non_negative(t, "volume_kg"),
        check(
            t,
            "ohlc_consistent",
            "low_fen <= open_fen AND low_fen <= close_fen"
            " AND high_fen >= open_fen AND high_fen >= close_fen",
        ),
    )

    t = "alerts"
    op.create_table(
        t,
        auto_id(),
        big("seq"),
        txt("kind"),
        txt("symbol", nullable=True),
        txt("account_id", nullable=True),
        txt("detail"),
        big("ts_us"),
        pk(t, "id"),
    )
    index(t, "seq")

    t = "meta"
    op.create_table(t, txt("key"), txt("value"), pk(t, "key"))


# Children before parents, so foreign keys never block a drop.
TABLES_IN_DROP_ORDER = (
    "meta",
    "alerts",
    "candles",
    "reallocations",
    "city_floors",
    "ledger_rows",
    "ledger_movements",
    "project_sources",
    "projects",
    "lots",
    "reductions",
    "trades",
    "orders",
    "allowance_postings",
    "cash_postings",
    "holdings",
    "accounts",
    "instruments",
    "tokens",
    "credentials",
    "snapshots",
    "journal",
)


def downgrade() -> None:
    for table in TABLES_IN_DROP_ORDER:
        op.drop_table(table)
