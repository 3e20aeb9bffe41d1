"""outbox.in_reply_to: a follow-up threads under the message it follows

Revision ID: 0004_traps
Revises: 0002_i9
Create Date: 2026-11-30 23:00:00

A recovery e-mail carries ``In-Reply-To`` and ``References`` naming the Message-ID of
the outage e-mail it follows, so that mail clients show them as one thread.
The column is nullable: messages queued before this revision have no parent.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0004_traps"
down_revision = "0003_i10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("in_reply_to", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("in_reply_to")
