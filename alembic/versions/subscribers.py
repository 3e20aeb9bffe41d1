"""The status page's subscribers (double opt-in e-mail notices of public services), and
the one-click unsubscribe addresses their notices carry (RFC 8058).

Revision ID: subscribers
Revises: maintenance_updates
Create Date: 2026-12-05

``subscribers``: one row per address (unique), its random token (named in its signed
links), its language, the confirmed services and a pending request (``requested``,
``nonce``) until its confirmation link is followed. Unsubscribing deletes the row.
``outbox_list_unsubscribe``: the one-click unsubscribe address of a subscriber's notice
(one row per such outbox message; other messages have none).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "subscribers"
down_revision = "maintenance_updates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("requested", sa.JSON(), nullable=True),
        sa.Column("nonce", sa.String(length=16), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribers")),
        sa.UniqueConstraint("email", name=op.f("uq_subscribers_email")),
        sa.UniqueConstraint("token", name=op.f("uq_subscribers_token")),
    )
    op.create_table(
        "outbox_list_unsubscribe",
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"],
            name=op.f("fk_outbox_list_unsubscribe_outbox_id_outbox"),
        ),
        sa.PrimaryKeyConstraint("outbox_id", name=op.f("pk_outbox_list_unsubscribe")),
    )


def downgrade() -> None:
    op.drop_table("outbox_list_unsubscribe")
    op.drop_table("subscribers")
