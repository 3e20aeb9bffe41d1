"""monthly statements: outbox attachments, statements sent, claim reminders, automatic runs

Revision ID: 0008_i14
Revises: 0004_traps
Create Date: 2026-12-01 00:00:00

Monthly statements. A statement e-mail carries its PDF and CSV as attachments, stored with the
outbox row (``outbox_attachments``) so every retry sends the same bytes. ``statements``
records each statement queued (one per customer and report revision),
``claim_reminders`` each reminder (one per customer and month), ``statement_runs`` the
daemon's automatic close-and-send of a month (resumed after a restart), and
``report_revisions.evidence`` what a statement shows besides the report (the month's
maintenance windows and notices as frozen; null for earlier revisions).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0008_i14"
down_revision = "0004_traps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_attachments",
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_outbox_attachments_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("outbox_id", "position", name=op.f("pk_outbox_attachments")),
    )
    op.create_table(
        "statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calendar", sa.String(length=10), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("customer_id", sa.String(length=63), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("corrects", sa.Integer(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("requested_by", sa.String(length=120), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statements")),
        sa.UniqueConstraint(
            "calendar", "month", "customer_id", "revision",
            name="uq_statements_customer_revision",
        ),
    )
    op.create_table(
        "claim_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calendar", sa.String(length=10), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("customer_id", sa.String(length=63), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("days", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_reminders")),
        sa.UniqueConstraint(
            "calendar", "month", "customer_id", name="uq_claim_reminders_customer"
        ),
    )
    op.create_table(
        "statement_runs",
        sa.Column("calendar", sa.String(length=10), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("calendar", "month", name=op.f("pk_statement_runs")),
    )
    with op.batch_alter_table("report_revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_revisions", schema=None) as batch_op:
        batch_op.drop_column("evidence")
    op.drop_table("statement_runs")
    op.drop_table("claim_reminders")
    op.drop_table("statements")
    op.drop_table("outbox_attachments")
