"""primary market: auctions and their bids, block trades, trade kind, instrument validity

Revision ID: 0005
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def big(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def zero(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), server_default=sa.text("0"), nullable=False)


def txt(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Text(), nullable=nullable)


def check(table: str, name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=op.f(f"ck_{table}_{name}"))


def one_of(table: str, column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    return check(table, f"{column}_known", f"{column} IN ({', '.join(repr(v) for v in values)})")


def positive(table: str, *columns: str) -> list[sa.CheckConstraint]:
    return [check(table, f"{c}_positive", f"{c} > 0") for c in columns]


def non_negative(table: str, *columns: str) -> list[sa.CheckConstraint]:
    return [check(table, f"{c}_non_negative", f"{c} >= 0") for c in columns]


def fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{referred}"))


def index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns))


def upgrade() -> None:
    t = "auctions"
    op.create_table(
        t,
        txt("id"),
        txt("symbol"),
        big("quantity_kg"),
        big("reserve_price_fen"),
        big("bidder_cap_pct"),
        txt("note"),
        txt("status"),
        big("clearing_price_fen", nullable=True),
        zero("sold_kg"),
        big("created_seq"),
        big("created_us"),
        big("closed_us", nullable=True),
        big("last_seq"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        fk(t, "symbol", "instruments.symbol"),
        *positive(t, "quantity_kg", "reserve_price_fen", "bidder_cap_pct"),
        *non_negative(t, "sold_kg"),
        one_of(t, "status", ("open", "cleared", "cancelled")),
    )
    index(t, "symbol", "created_seq")

    t = "auction_bids"
    op.create_table(
        t,
        txt("id"),
        txt("auction_id"),
        txt("account_id"),
        big("price_fen"),
        big("quantity_kg"),
        txt("status"),
        zero("awarded_kg"),
        zero("paid_fen"),
        zero("fee_fen"),
        big("seq"),
        big("created_us"),
        big("last_seq"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        fk(t, "auction_id", "auctions.id"),
        fk(t, "account_id", "accounts.id"),
        *positive(t, "price_fen", "quantity_kg"),
        *non_negative(t, "awarded_kg", "paid_fen", "fee_fen"),
        one_of(t, "status", ("open", "withdrawn", "won", "lost", "cancelled")),
    )
    index(t, "auction_id", "seq")
    index(t, "account_id", "seq")

    t = "block_trades"
    op.create_table(
        t,
        txt("id"),
        txt("symbol"),
        txt("seller_account_id"),
        txt("buyer_account_id"),
        big("price_fen"),
        big("quantity_kg"),
        txt("note"),
        txt("status"),
        zero("cash_fen"),
        zero("buyer_fee_fen"),
        zero("seller_fee_fen"),
        big("created_seq"),
        big("created_us"),
        big("decided_us", nullable=True),
        big("last_seq"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        fk(t, "symbol", "instruments.symbol"),
        fk(t, "seller_account_id", "accounts.id"),
        fk(t, "buyer_account_id", "accounts.id"),
        *positive(t, "price_fen", "quantity_kg"),
        *non_negative(t, "cash_fen", "buyer_fee_fen", "seller_fee_fen"),
        one_of(t, "status", ("pending", "accepted", "rejected", "withdrawn", "cancelled")),
        check(t, "two_parties", "buyer_account_id <> seller_account_id"),
    )
    index(t, "seller_account_id", "created_seq")
    index(t, "buyer_account_id", "created_seq")

    with op.batch_alter_table("trades") as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.Text(), server_default="continuous", nullable=False)
        )
    with op.batch_alter_table("instruments") as batch_op:
        batch_op.add_column(txt("valid_until", nullable=True))
        batch_op.add_column(big("expired_us", nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instruments") as batch_op:
        batch_op.drop_column("expired_us")
        batch_op.drop_column("valid_until")
    with op.batch_alter_table("trades") as batch_op:
        batch_op.drop_column("kind")
    op.drop_table("block_trades")
    op.drop_table("auction_bids")
    op.drop_table("auctions")
