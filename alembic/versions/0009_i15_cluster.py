"""several daemons on one PostgreSQL: nodes, leases, vantages

Revision ID: 0009_i15
Revises: 0007_i11
Create Date: 2026-12-01 04:00:00

``cluster_nodes``: the registered daemons and when each was last seen (the database's
clock). ``cluster_leases``: who probes each target from each vantage, and who leads;
``epoch`` is the fencing token. ``vantage_views``: each vantage's current word on each
target (its vote); ``incident_vantages``: the vantages that confirmed an incident;
``vantage_problems``: a target down for some vantages, short of the quorum.
``unknown_intervals`` gains its scope: ``node``, ``vantage``, ``target_id`` (all null for a
daemon alone, as every row written before).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_i15"
down_revision = "0007_i11"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("unknown_intervals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node", sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column("vantage", sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column("target_id", sa.String(length=63), nullable=True))
    op.create_table(
        "cluster_nodes",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("vantage", sa.String(length=63), nullable=False),
        sa.Column("incarnation", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.Column("stopped_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cluster_nodes")),
    )
    op.create_table(
        "cluster_leases",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("vantage", sa.String(length=63), nullable=True),
        sa.Column("target_id", sa.String(length=63), nullable=True),
        sa.Column("node", sa.String(length=63), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("renewed_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cluster_leases")),
    )
    op.create_index(op.f("ix_cluster_leases_vantage"), "cluster_leases", ["vantage"])
    op.create_index(op.f("ix_cluster_leases_node"), "cluster_leases", ["node"])
    op.create_table(
        "vantage_views",
        sa.Column("target_id", sa.String(length=63), nullable=False),
        sa.Column("vantage", sa.String(length=63), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("since", TZ, nullable=False),
        sa.Column("bound", TZ, nullable=True),
        sa.Column("detected_at", TZ, nullable=False),
        sa.Column("node", sa.String(length=63), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("target_id", "vantage", name=op.f("pk_vantage_views")),
    )
    op.create_table(
        "incident_vantages",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("vantage", sa.String(length=63), nullable=False),
        sa.Column("start", TZ, nullable=False),
        sa.Column("start_bound", TZ, nullable=True),
        sa.Column("detected_at", TZ, nullable=False),
        sa.Column("node", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"],
            name=op.f("fk_incident_vantages_incident_id_incidents"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "vantage", name=op.f("pk_incident_vantages")),
    )
    op.create_table(
        "vantage_problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.String(length=63), nullable=False),
        sa.Column("vantage", sa.String(length=63), nullable=False),
        sa.Column("start", TZ, nullable=False),
        sa.Column("end", TZ, nullable=True),
        sa.Column("node", sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vantage_problems")),
    )
    op.create_index(op.f("ix_vantage_problems_target_id"), "vantage_problems", ["target_id"])
    op.create_index(
        "uq_vantage_problems_open", "vantage_problems", ["target_id", "vantage"], unique=True,
        sqlite_where=sa.text('"end" IS NULL'), postgresql_where=sa.text('"end" IS NULL'),
    )


def downgrade() -> None:
    op.drop_index("uq_vantage_problems_open", table_name="vantage_problems")
    op.drop_index(op.f("ix_vantage_problems_target_id"), table_name="vantage_problems")
    op.drop_table("vantage_problems")
    op.drop_table("incident_vantages")
    op.drop_table("vantage_views")
    op.drop_index(op.f("ix_cluster_leases_node"), table_name="cluster_leases")
    op.drop_index(op.f("ix_cluster_leases_vantage"), table_name="cluster_leases")
    op.drop_table("cluster_leases")
    op.drop_table("cluster_nodes")
    with op.batch_alter_table("unknown_intervals", schema=None) as batch_op:
        batch_op.drop_column("target_id")
        batch_op.drop_column("vantage")
        batch_op.drop_column("node")
