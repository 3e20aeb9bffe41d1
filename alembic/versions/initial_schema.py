"""The whole schema of sla-monitor 0.1.0, created in one step.

Revision ID: initial_schema
Revises:
Create Date: 2026-12-05

Written as alembic autogenerate renders the models (``monitor/store/models.py``), columns
in the order the development migrations left them, and reviewed by hand; what
autogenerate cannot see is added at the end:

* the partial unique indexes ``uq_incidents_open_service`` (at most one open incident per
  service: manual incidents always have an end, so only a probe incident can be open) and
  ``uq_vantage_problems_open`` (one open problem per target and vantage), on SQLite and
  PostgreSQL;
* ``ledger_entries`` is append-only in the database itself: triggers refuse UPDATE and
  DELETE (and TRUNCATE on PostgreSQL), so a correction can only be a new entry (R-C3). A
  later revision that rebuilds the table on SQLite (batch mode) must create them again.

``tests/store/schema_at_head.json`` describes the schema this revision makes on both
backends (``tests/store/test_schema.py`` checks it); it equals the schema the development
migrations before 0.1.0 ended with, so :mod:`monitor.store.migrate` restamps a database
stamped with their last revision instead of migrating it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "initial_schema"
down_revision = None
branch_labels = None
depends_on = None

OPEN = sa.text('"end" IS NULL')
APPEND_ONLY = "ledger_entries is append-only: a correction is a new entry (R-C3)"


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("object_type", sa.String(length=30), nullable=False),
        sa.Column("object_id", sa.String(length=63), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"], unique=False)
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
        sa.UniqueConstraint("calendar", "month", "customer_id", name="uq_claim_reminders_customer"),
    )
    op.create_table(
        "claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=63), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("calendar", sa.String(length=10), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("receipt_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision", sa.String(length=10), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("credit_days", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("credited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("site_domain", sa.String(length=253), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.String(length=120), nullable=False),
        sa.Column("receipt_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("refund_amount", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("basis_days", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("basis_amount", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("decision_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_revision", sa.Integer(), nullable=True),
        sa.Column("review_noted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("customer_id", "month", name="uq_claims_customer_month"),
    )
    op.create_table(
        "cluster_leases",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("vantage", sa.String(length=63), nullable=True),
        sa.Column("target_id", sa.String(length=63), nullable=True),
        sa.Column("node", sa.String(length=63), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cluster_leases")),
    )
    op.create_index(op.f("ix_cluster_leases_node"), "cluster_leases", ["node"], unique=False)
    op.create_index(op.f("ix_cluster_leases_vantage"), "cluster_leases", ["vantage"], unique=False)
    op.create_table(
        "cluster_nodes",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("vantage", sa.String(length=63), nullable=False),
        sa.Column("incarnation", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cluster_nodes")),
    )
    op.create_table(
        "daemon_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daemon_sessions")),
    )
    op.create_table(
        "idempotent_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotent_requests")),
        sa.UniqueConstraint("actor", "key", name="uq_idempotent_requests_actor_key"),
    )
    op.create_index(
        op.f("ix_idempotent_requests_created_at"),
        "idempotent_requests",
        ["created_at"],
        unique=False,
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.String(length=63), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_bound", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_bound", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("cause", sa.String(length=30), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_end"), "incidents", ["end"], unique=False)
    op.create_index(
        "ix_incidents_service_start",
        "incidents",
        ["service_id", "start"],
        unique=False,
    )
    op.create_index(
        "uq_incidents_open_service",
        "incidents",
        ["service_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_table(
        "latency_rollups",
        sa.Column("target_id", sa.String(length=63), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("sum_ms", sa.Double(), nullable=False),
        sa.Column("min_ms", sa.Double(), nullable=False),
        sa.Column("max_ms", sa.Double(), nullable=False),
        sa.Column("buckets", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("target_id", "hour", name=op.f("pk_latency_rollups")),
    )
    op.create_index("ix_latency_rollups_hour", "latency_rollups", ["hour"], unique=False)
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
    op.create_index("ix_latency_rollups_daily_day", "latency_rollups_daily", ["day"], unique=False)
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_windows")),
    )
    op.create_index(
        op.f("ix_maintenance_windows_start"),
        "maintenance_windows",
        ["start"],
        unique=False,
    )
    op.create_table(
        "probe_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.String(length=63), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("failure_class", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=True),
        sa.Column("timings", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_probe_failures")),
    )
    op.create_index("ix_probe_failures_at", "probe_failures", ["at"], unique=False)
    op.create_index(
        "ix_probe_failures_target_at",
        "probe_failures",
        ["target_id", "at"],
        unique=False,
    )
    op.create_table(
        "probe_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.String(length=63), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("latency_min_ms", sa.Double(), nullable=True),
        sa.Column("latency_max_ms", sa.Double(), nullable=True),
        sa.Column("latency_sum_ms", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_probe_runs")),
    )
    op.create_index("ix_probe_runs_last_at", "probe_runs", ["last_at"], unique=False)
    op.create_index(
        "ix_probe_runs_target_first",
        "probe_runs",
        ["target_id", "first_at"],
        unique=False,
    )
    op.create_table(
        "report_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("calendar", sa.String(length=10), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inputs_hash", sa.String(length=64), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_revisions")),
        sa.UniqueConstraint("calendar", "month", "revision", name="uq_report_revisions_month_rev"),
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
            "calendar", "month", "customer_id", "revision", name="uq_statements_customer_revision"
        ),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=63), nullable=False),
        sa.Column("site_domain", sa.String(length=253), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("number_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("diagnosed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_fault", sa.Boolean(), nullable=True),
        sa.Column("fixed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_release", sa.Boolean(), nullable=False),
        sa.Column("next_release_reason", sa.Text(), nullable=True),
        sa.Column("price", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("service_id", sa.String(length=63), nullable=False),
        sa.Column("type_id", sa.String(length=63), nullable=True),
        sa.Column("finding", sa.String(length=20), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("price_requested", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("price_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_index(op.f("ix_tickets_customer_id"), "tickets", ["customer_id"], unique=False)
    op.create_table(
        "unknown_intervals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("node", sa.String(length=63), nullable=True),
        sa.Column("vantage", sa.String(length=63), nullable=True),
        sa.Column("target_id", sa.String(length=63), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unknown_intervals")),
    )
    op.create_index(
        op.f("ix_unknown_intervals_start"),
        "unknown_intervals",
        ["start"],
        unique=False,
    )
    op.create_table(
        "vantage_problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.String(length=63), nullable=False),
        sa.Column("vantage", sa.String(length=63), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("node", sa.String(length=63), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vantage_problems")),
    )
    op.create_index(
        op.f("ix_vantage_problems_target_id"),
        "vantage_problems",
        ["target_id"],
        unique=False,
    )
    op.create_index(
        "uq_vantage_problems_open",
        "vantage_problems",
        ["target_id", "vantage"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_table(
        "vantage_views",
        sa.Column("target_id", sa.String(length=63), nullable=False),
        sa.Column("vantage", sa.String(length=63), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bound", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("node", sa.String(length=63), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("target_id", "vantage", name=op.f("pk_vantage_views")),
    )
    op.create_table(
        "cause_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old_cause", sa.String(length=30), nullable=False),
        sa.Column("new_cause", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_cause_changes_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cause_changes")),
    )
    op.create_index(
        op.f("ix_cause_changes_incident_id"),
        "cause_changes",
        ["incident_id"],
        unique=False,
    )
    op.create_table(
        "incident_vantages",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("vantage", sa.String(length=63), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_bound", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("node", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_vantages_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "vantage", name=op.f("pk_incident_vantages")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=63), nullable=False),
        sa.Column("site_domain", sa.String(length=253), nullable=False),
        sa.Column("days", sa.Numeric(precision=12, scale=4), nullable=True),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("adjusts_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("paid_until", sa.Date(), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["adjusts_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_entries_adjusts_id_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_ledger_entries_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ledger_entries_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    op.create_index(
        op.f("ix_ledger_entries_claim_id"),
        "ledger_entries",
        ["claim_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ledger_entries_ticket_id"),
        "ledger_entries",
        ["ticket_id"],
        unique=False,
    )
    op.create_index(
        "ix_ledger_site_effective",
        "ledger_entries",
        ["site_domain", "effective_at"],
        unique=False,
    )
    op.create_table(
        "maintenance_services",
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["maintenance_windows.id"],
            name=op.f("fk_maintenance_services_window_id_maintenance_windows"),
        ),
        sa.PrimaryKeyConstraint("window_id", "service_id", name=op.f("pk_maintenance_services")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("customer_id", sa.String(length=63), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("smtp_response", sa.Text(), nullable=True),
        sa.Column("in_reply_to", sa.String(length=255), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("webhook_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_outbox_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_outbox_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_outbox_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["maintenance_windows.id"],
            name=op.f("fk_outbox_window_id_maintenance_windows"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
    )
    op.create_index("ix_outbox_status_next", "outbox", ["status", "next_attempt_at"], unique=False)
    op.create_table(
        "probe_states",
        sa.Column("target_id", sa.String(length=63), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("streak", sa.Integer(), nullable=False),
        sa.Column("streak_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("open_incident_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["open_incident_id"],
            ["incidents.id"],
            name=op.f("fk_probe_states_open_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("target_id", name=op.f("pk_probe_states")),
    )
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_events_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
    )
    op.create_index(
        op.f("ix_ticket_events_ticket_id"),
        "ticket_events",
        ["ticket_id"],
        unique=False,
    )
    op.create_table(
        "maintenance_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=63), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_maintenance_notices_outbox_id_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["maintenance_windows.id"],
            name=op.f("fk_maintenance_notices_window_id_maintenance_windows"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_notices")),
    )
    op.create_index(
        op.f("ix_maintenance_notices_window_id"),
        "maintenance_notices",
        ["window_id"],
        unique=False,
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=63), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_notifications_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_notifications_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        "ix_notifications_incident_customer",
        "notifications",
        ["incident_id", "customer_id"],
        unique=False,
    )
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
        "outbox_recipients",
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_outbox_recipients_outbox_id_outbox")
        ),
        sa.PrimaryKeyConstraint("outbox_id", "address", name=op.f("pk_outbox_recipients")),
    )
    _append_only()


def _append_only() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER ledger_entries_no_{event.lower()} BEFORE {event} "
                f"ON ledger_entries BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
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
    # Triggers go with their table on both backends; the function stays on PostgreSQL.
    # Indexes go with their tables.
    op.drop_table("outbox_recipients")
    op.drop_table("outbox_attachments")
    op.drop_table("notifications")
    op.drop_table("maintenance_notices")
    op.drop_table("ticket_events")
    op.drop_table("probe_states")
    op.drop_table("outbox")
    op.drop_table("maintenance_services")
    op.drop_table("ledger_entries")
    op.drop_table("incident_vantages")
    op.drop_table("cause_changes")
    op.drop_table("vantage_views")
    op.drop_table("vantage_problems")
    op.drop_table("unknown_intervals")
    op.drop_table("tickets")
    op.drop_table("statements")
    op.drop_table("statement_runs")
    op.drop_table("report_revisions")
    op.drop_table("probe_runs")
    op.drop_table("probe_failures")
    op.drop_table("maintenance_windows")
    op.drop_table("latency_rollups_daily")
    op.drop_table("latency_rollups")
    op.drop_table("incidents")
    op.drop_table("idempotent_requests")
    op.drop_table("daemon_sessions")
    op.drop_table("cluster_nodes")
    op.drop_table("cluster_leases")
    op.drop_table("claims")
    op.drop_table("claim_reminders")
    op.drop_table("audit_events")
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION ledger_entries_append_only()")
