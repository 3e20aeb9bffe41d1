"""Operators' updates of a maintenance window (in progress, completed, with a message),
for the status page, the feed and the Statuspage JSON.

Revision ID: maintenance_updates
Revises: operator_deliveries
Create Date: 2026-12-05

One row per update: the window, the status the operator gives it, the message as typed,
when and by whom. Never changed or deleted by the application (a correction is a new
update).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "maintenance_updates"
down_revision = "operator_deliveries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["window_id"], ["maintenance_windows.id"],
            name=op.f("fk_maintenance_updates_window_id_maintenance_windows"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_updates")),
    )
    op.create_index(
        op.f("ix_maintenance_updates_window_id"), "maintenance_updates", ["window_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_maintenance_updates_window_id"), table_name="maintenance_updates")
    op.drop_table("maintenance_updates")
