"""Recurring maintenance windows (``maintenance.recurring``): which occurrence of which
configured schedule each recorded window is.

Revision ID: recurring_maintenance
Revises: month_terms
Create Date: 2026-12-07

One row per occurrence recorded: the schedule's id, the occurrence's start and its window.
Unique on (schedule, start): an occurrence is recorded once, whichever node of a cluster or
run of the daemon gets there first. Never changed or deleted by the application.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "recurring_maintenance"
down_revision = "month_terms"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recurring_occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recurring_id", sa.String(length=63), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["window_id"], ["maintenance_windows.id"],
            name=op.f("fk_recurring_occurrences_window_id_maintenance_windows"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recurring_occurrences")),
        sa.UniqueConstraint("recurring_id", "start",
                            name="uq_recurring_occurrences_recurring_start"),
    )
    op.create_index(
        op.f("ix_recurring_occurrences_window_id"), "recurring_occurrences", ["window_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_recurring_occurrences_window_id"),
                  table_name="recurring_occurrences")
    op.drop_table("recurring_occurrences")
