"""A month's terms as the configuration said them when the daemon saw the month end.

Revision ID: month_terms
Revises: outbox_requeued
Create Date: 2026-12-07

``month_terms``: per month of a calendar, the customers, fees, dependencies and policy the
configuration said when the daemon saw the month end (monitor.sla.terms): the month's
terms until it is first closed, whose revision freezes them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "month_terms"
down_revision = "outbox_requeued"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "month_terms",
        sa.Column("calendar", sa.String(10), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("calendar", "month", name=op.f("pk_month_terms")),
    )


def downgrade() -> None:
    op.drop_table("month_terms")
