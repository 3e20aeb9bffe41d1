"""outbox leases name their worker; operator messages remember the webhook

Revision ID: 0006_i13
Revises: 0005_i12
Create Date: 2026-11-30 23:00:00

``outbox.claimed_by``: the worker that holds a row's lease while it is ``sending``.
Before each send the worker renews the lease only where ``claimed_by`` is still its
own, and every outcome is recorded only by that worker, so a row whose lease ran out
during a slow batch and was re-claimed by another worker is sent once. Rows being sent during the upgrade have no owner: their lease runs out and
they are claimed again, as after a crash.

``outbox.webhook_at``: when the operators' webhook took an operator message (the
path that does not need SMTP), so a restart neither loses nor
repeats one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0006_i13"
down_revision = "0005_i12"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("webhook_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("webhook_at")
        batch_op.drop_column("claimed_by")
