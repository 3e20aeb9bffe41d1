"""The evidence chain and its signed checkpoints (monitor.store.evidence).

Revision ID: evidence_chain
Revises: subscribers
Create Date: 2026-12-05

``evidence_chain``: one row per chained fact (seq, kind, the fact's table and id, its
canonical JSON, the predecessor's hash and its own SHA-256). ``evidence_checkpoints``: the
chain's head at a seq, signed with Ed25519 by a key id; ``evidence_keys``: every public key that signed one
(kept after a rotation). Both are append-only for the
application; the chain starts empty, and its first entry records the highest id of each
chained table (rows recorded before it are not covered).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "evidence_chain"
down_revision = "subscribers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_chain",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("fact_table", sa.String(length=40), nullable=True),
        sa.Column("fact_id", sa.String(length=63), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("canonical", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_evidence_chain")),
    )
    op.create_table(
        "evidence_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_checkpoints")),
    )
    op.create_index(op.f("ix_evidence_checkpoints_seq"), "evidence_checkpoints", ["seq"],
                    unique=False)
    op.create_table(
        "evidence_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("first_signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_evidence_keys")),
    )


def downgrade() -> None:
    op.drop_table("evidence_keys")
    op.drop_index(op.f("ix_evidence_checkpoints_seq"), table_name="evidence_checkpoints")
    op.drop_table("evidence_checkpoints")
    op.drop_table("evidence_chain")
