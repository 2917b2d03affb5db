"""orders: post_only and self_trade_prevention, chosen per order

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

MODES = ("cancel_incoming", "cancel_resting", "cancel_both")


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(
            sa.Column("post_only", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        # Orders placed before this chose no mode: they met the exchange's default,
        # cancel_incoming unless EMX_STP said otherwise.
        batch_op.add_column(
            sa.Column(
                "self_trade_prevention",
                sa.Text(),
                server_default=sa.text("'cancel_incoming'"),
                nullable=False,
            )
        )
        batch_op.create_check_constraint(
            op.f("ck_orders_stp_known"),
            f"self_trade_prevention IN ({', '.join(repr(m) for m in MODES)})",
        )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_constraint(op.f("ck_orders_stp_known"), type_="check")
        batch_op.drop_column("self_trade_prevention")
        batch_op.drop_column("post_only")
