"""Each cluster node says which configuration it runs, so that nodes can compare.

Revision ID: cluster_config_digest
Revises: evidence_chain
Create Date: 2026-12-06

``cluster_nodes.config_digest``: the digest of the node's configuration's shared part
(:func:`monitor.config.shared_digest`), written at each lease cycle; null for a node of an
earlier version, which nothing compares.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "cluster_config_digest"
down_revision = "evidence_chain"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cluster_nodes") as batch:
        batch.add_column(sa.Column("config_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cluster_nodes") as batch:
        batch.drop_column("config_digest")
