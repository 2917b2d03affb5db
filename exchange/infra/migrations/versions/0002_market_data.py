"""market data read models: book levels, session ticker; ledger movement counterparty

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "book_levels",
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("quantity_kg", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "side", "price_fen", name=op.f("pk_book_levels")),
    )
    op.create_table(
        "market_sessions",
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("prev_close_fen", sa.BigInteger(), nullable=False),
        sa.Column("session_start_seq", sa.BigInteger(), nullable=False),
        sa.Column("book_seq", sa.BigInteger(), nullable=False),
        sa.Column("open_fen", sa.BigInteger(), nullable=True),
        sa.Column("high_fen", sa.BigInteger(), nullable=True),
        sa.Column("low_fen", sa.BigInteger(), nullable=True),
        sa.Column("last_fen", sa.BigInteger(), nullable=True),
        sa.Column("volume_kg", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("trade_count", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_market_sessions")),
    )
    with op.batch_alter_table("ledger_movements") as batch_op:
        batch_op.add_column(sa.Column("counterparty", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger_movements") as batch_op:
        batch_op.drop_column("counterparty")
    op.drop_table("market_sessions")
    op.drop_table("book_levels")
