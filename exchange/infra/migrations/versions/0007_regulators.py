"""regulators: monthly submissions; alerts get an ordinal and a status

Revision ID: 0007
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big, txt = sa.BigInteger(), sa.Text()
    op.create_table(
        "monthly_submissions",
        sa.Column("city_code", txt, nullable=False),
        sa.Column("symbol", txt, nullable=False),
        sa.Column("month", txt, nullable=False),
        sa.Column("version", big, autoincrement=False, nullable=False),
        sa.Column("seq", big, nullable=False),
        sa.Column("ts_us", big, nullable=False),
        sa.Column("account_id", txt, nullable=False),
        sa.Column("correction_reason", txt, nullable=True),
        sa.Column("opening_remaining_kg", big, nullable=False),
        sa.Column("added_kg", big, nullable=False),
        sa.Column("used_kg", big, nullable=False),
        sa.Column("transferred_in_kg", big, nullable=False),
        sa.Column("transferred_out_kg", big, nullable=False),
        sa.Column("closing_remaining_kg", big, nullable=False),
        sa.Column("movements", big, nullable=False),
        sa.Column("csv_sha256", txt, nullable=False),
        sa.PrimaryKeyConstraint(
            "city_code", "symbol", "month", "version", name=op.f("pk_monthly_submissions")
        ),
    )
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.add_column(sa.Column("ordinal", big, server_default="0", nullable=False))
        batch_op.add_column(sa.Column("status", txt, server_default="open", nullable=False))
        batch_op.add_column(sa.Column("acknowledged_by", txt, nullable=True))
        batch_op.add_column(sa.Column("acknowledged_us", big, nullable=True))
        batch_op.add_column(sa.Column("ack_note", txt, nullable=True))
    # Alerts already recorded get their place among their command's alerts, in the
    # order they were written (the projector writes them in the core's order).
    op.execute(
        "UPDATE alerts SET ordinal = "
        "(SELECT COUNT(*) FROM alerts AS earlier "
        "WHERE earlier.seq = alerts.seq AND earlier.id < alerts.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch_op:
        for column in ("ack_note", "acknowledged_us", "acknowledged_by", "status", "ordinal"):
            batch_op.drop_column(column)
    op.drop_table("monthly_submissions")
