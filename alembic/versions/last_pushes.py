"""Push targets' last pushes, shared by the nodes of a cluster and kept across restarts.

Revision ID: last_pushes
Revises: recurring_maintenance
Create Date: 2026-12-08

One row per push target: when its last push came, whether it said up, its message, and when
it was written (the database's clock: what the other nodes read anew from). A later push
replaces it (an upsert that keeps the later of two).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "last_pushes"
down_revision = "recurring_maintenance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "last_pushes",
        sa.Column("target_id", sa.String(length=63), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("up", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target_id", name=op.f("pk_last_pushes")),
    )
    op.create_index(op.f("ix_last_pushes_written_at"), "last_pushes", ["written_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_last_pushes_written_at"), table_name="last_pushes")
    op.drop_table("last_pushes")
