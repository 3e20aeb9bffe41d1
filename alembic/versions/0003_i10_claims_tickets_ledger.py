"""claims, tickets and the ledger as the service layer records them; an append-only ledger

Revision ID: 0003_i10
Revises: 0002_i9
Create Date: 2026-11-30 22:00:00

Revision 0001 created ``claims``, ``tickets`` and ``ledger_entries`` empty, and nothing
wrote them before this revision, so the new NOT NULL columns are added without defaults
(a database holding rows in them, written by hand, is refused with a message rather
than given invented values). On SQLite the tables are rebuilt (batch mode); on
PostgreSQL columns are added in place.

``ledger_entries`` becomes append-only in the database itself: triggers refuse UPDATE
and DELETE (and TRUNCATE on PostgreSQL), so a correction can only be a new entry
(R-C3). A later revision that rebuilds the table on SQLite must create the triggers again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0003_i10"
down_revision = "0002_i9"
branch_labels = None
depends_on = None

APPEND_ONLY = "ledger_entries is append-only: a correction is a new entry (R-C3)"

CLAIM_COLUMNS = (
    ("site_domain", sa.String(length=253), False),
    ("channel", sa.String(length=10), False),
    ("note", sa.Text(), True),
    ("submitted_by", sa.String(length=120), False),
    ("receipt_due_at", sa.DateTime(timezone=True), False),
    ("decision_due_at", sa.DateTime(timezone=True), False),
    ("decided_by", sa.String(length=120), True),
    ("refund_amount", sa.Numeric(precision=20, scale=4), True),
    ("basis_days", sa.Numeric(precision=12, scale=4), True),
    ("basis_amount", sa.Numeric(precision=20, scale=4), True),
    ("decision_sent_at", sa.DateTime(timezone=True), True),
    ("review_revision", sa.Integer(), True),
    ("review_noted_at", sa.DateTime(timezone=True), True),
)
TICKET_COLUMNS = (
    ("service_id", sa.String(length=63), False),
    ("type_id", sa.String(length=63), True),
    ("finding", sa.String(length=20), True),
    ("currency", sa.String(length=3), True),
    ("price_requested", sa.Numeric(precision=20, scale=4), True),
    ("price_requested_at", sa.DateTime(timezone=True), True),
    ("closed_at", sa.DateTime(timezone=True), True),
)
LEDGER_COLUMNS = (
    ("kind", sa.String(length=10), False),
    ("paid_until", sa.Date(), True),
    ("period_end", sa.DateTime(timezone=True), True),
    ("claim_id", sa.Integer(), True),
    ("ticket_id", sa.Integer(), True),
    ("reference", sa.Text(), True),
    ("actor", sa.String(length=120), False),
)


def _require_empty(*tables: str) -> None:
    bind = op.get_bind()
    for table in tables:
        count = bind.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
        if count:
            raise RuntimeError(
                f"{table} holds {count} row(s), but no version before 0003_i10 wrote it: "
                "they were written by hand; move them aside and upgrade again")


def _recreate() -> str:
    # SQLite cannot add a NOT NULL column without a default in place: rebuild the table.
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    _require_empty("claims", "tickets", "ticket_events", "ledger_entries")
    with op.batch_alter_table("claims", schema=None, recreate=_recreate()) as batch_op:
        for name, kind, nullable in CLAIM_COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=nullable))
    with op.batch_alter_table("tickets", schema=None, recreate=_recreate()) as batch_op:
        for name, kind, nullable in TICKET_COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=nullable))
    with op.batch_alter_table("ledger_entries", schema=None, recreate=_recreate()) as batch_op:
        for name, kind, nullable in LEDGER_COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=nullable))
        batch_op.create_index(batch_op.f("ix_ledger_entries_claim_id"), ["claim_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_entries_ticket_id"), ["ticket_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_ledger_entries_claim_id_claims"), "claims", ["claim_id"], ["id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_ledger_entries_ticket_id_tickets"), "tickets", ["ticket_id"], ["id"])
    _append_only()


def _append_only() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_entries_no_{event.lower()} BEFORE {event} ON ledger_entries "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
    )
    op.execute(
        "CREATE TRIGGER ledger_entries_no_change BEFORE UPDATE OR DELETE ON ledger_entries "
        "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()"
    )
    op.execute(
        "CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_update")
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_change ON ledger_entries")
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_truncate ON ledger_entries")
        op.execute("DROP FUNCTION IF EXISTS ledger_entries_append_only()")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_ledger_entries_ticket_id_tickets"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_ledger_entries_claim_id_claims"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_ledger_entries_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_claim_id"))
        for name, _, _ in reversed(LEDGER_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        for name, _, _ in reversed(TICKET_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table("claims", schema=None) as batch_op:
        for name, _, _ in reversed(CLAIM_COLUMNS):
            batch_op.drop_column(name)
