"""A message given up can be sent again by an operator (``sla-monitor outbox retry``).

Revision ID: outbox_requeued
Revises: cluster_config_digest
Create Date: 2026-12-06

``outbox.requeued_at``: when an operator last sent the message again; null for one never
sent again. A message's transient failures are retried for three days from then (from its
queueing before), and a new failure is alerted to the operators anew.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "outbox_requeued"
down_revision = "cluster_config_digest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("requeued_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("requeued_at")
