"""probe history retention: daily latency roll-ups, indexes for pruning

Revision ID: 0005_i12
Revises: 0008_i14
Create Date: 2026-11-30 23:30:00

R-M7 and ``storage.retention``: hourly latency roll-ups older than
``hourly_rollups`` are merged into one row per target and day
(``latency_rollups_daily``); failures and runs older than ``evidence`` (at
least 13 months) and daily roll-ups older than ``daily_rollups`` are deleted in
small batches by the daemon. The indexes let those range deletes find their rows
without scanning the tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0005_i12"
down_revision = "0008_i14"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "latency_rollups_daily",
        sa.Column("target_id", sa.String(length=63), nullable=False),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("sum_ms", sa.Double(), nullable=False),
        sa.Column("min_ms", sa.Double(), nullable=False),
        sa.Column("max_ms", sa.Double(), nullable=False),
        sa.Column("buckets", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("target_id", "day", name=op.f("pk_latency_rollups_daily")),
    )
    with op.batch_alter_table("latency_rollups_daily", schema=None) as batch_op:
        batch_op.create_index("ix_latency_rollups_daily_day", ["day"], unique=False)
    with op.batch_alter_table("latency_rollups", schema=None) as batch_op:
        batch_op.create_index("ix_latency_rollups_hour", ["hour"], unique=False)
    with op.batch_alter_table("probe_failures", schema=None) as batch_op:
        batch_op.create_index("ix_probe_failures_at", ["at"], unique=False)
    with op.batch_alter_table("probe_runs", schema=None) as batch_op:
        batch_op.create_index("ix_probe_runs_last_at", ["last_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("probe_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_probe_runs_last_at")
    with op.batch_alter_table("probe_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_probe_failures_at")
    with op.batch_alter_table("latency_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_latency_rollups_hour")
    with op.batch_alter_table("latency_rollups_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_latency_rollups_daily_day")
    op.drop_table("latency_rollups_daily")
