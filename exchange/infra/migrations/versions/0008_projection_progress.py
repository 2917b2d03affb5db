"""projection_progress: how far the read models have projected the journal

Revision ID: 0008
Revises: 0007

The read models used to commit with the journal, so an existing database shows the
whole journal: its progress starts at the journal's tail.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projection_progress",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_projection_progress_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projection_progress")),
    )
    op.execute(
        "INSERT INTO projection_progress (id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM journal"
    )


def downgrade() -> None:
    op.drop_table("projection_progress")
