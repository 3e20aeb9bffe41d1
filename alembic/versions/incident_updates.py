"""Operators' updates of an incident: what they know, for the status page, the incident
page, the feed and the Statuspage JSON (its ``incident_updates``).

Revision ID: incident_updates
Revises: initial_schema
Create Date: 2026-12-05

One row per update: the incident, the status the operator gives it (investigating,
identified, monitoring, resolved), the message as typed, when and by whom. Updates are
never changed or deleted by the application (a correction is a new update).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "incident_updates"
down_revision = "initial_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"],
            name=op.f("fk_incident_updates_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_updates")),
    )
    op.create_index(
        op.f("ix_incident_updates_incident_id"), "incident_updates", ["incident_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_updates_incident_id"), table_name="incident_updates")
    op.drop_table("incident_updates")
