"""at most one open incident per service

Revision ID: 0002_i9
Revises: 0001
Create Date: 2026-11-30 21:00:00

A partial unique index on ``incidents(service_id) WHERE "end" IS NULL``, on SQLite
and PostgreSQL. Manual incidents always have an end, so only probe incidents can
be open. A database that already holds several open incidents of one service (none
should) is repaired first: each but the latest ends where the next one starts, which
keeps the union of their downtime, the only thing the SLA counts (R-M4), unchanged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0002_i9"
down_revision = "0001"
branch_labels = None
depends_on = None

OPEN = sa.text('"end" IS NULL')


def _close_duplicates() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text('SELECT id, service_id, start FROM incidents WHERE "end" IS NULL '
                "ORDER BY service_id, start, id")
    ).all()
    by_service: dict[str, list[tuple[int, object]]] = {}
    for incident_id, service_id, start in rows:
        by_service.setdefault(service_id, []).append((incident_id, start))
    for incidents in by_service.values():
        for (incident_id, _), (_, next_start) in zip(incidents, incidents[1:]):
            bind.execute(
                sa.text('UPDATE incidents SET "end" = :end WHERE id = :id'),
                {"end": next_start, "id": incident_id},
            )


def upgrade() -> None:
    _close_duplicates()
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(
            "uq_incidents_open_service",
            ["service_id"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("uq_incidents_open_service")
