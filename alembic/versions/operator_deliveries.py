"""Operator messages delivered to the operators' channels (``operators.notify``: Slack,
Telegram, Teams, Matrix, ntfy and the rest, through Apprise).

Revision ID: operator_deliveries
Revises: incident_updates
Create Date: 2026-12-05

One row per operator message (an ``outbox`` row) and channel: who claimed it and until
when (one process hands it over; another takes it when the claim runs out), how many
tries, when the channel took it. The channel is a digest of its URL, never the URL (it
holds tokens).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "operator_deliveries"
down_revision = "incident_updates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operator_deliveries",
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"],
            name=op.f("fk_operator_deliveries_outbox_id_outbox"),
        ),
        sa.PrimaryKeyConstraint("outbox_id", "channel", name=op.f("pk_operator_deliveries")),
    )


def downgrade() -> None:
    op.drop_table("operator_deliveries")
