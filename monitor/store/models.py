"""SQLAlchemy 2 models: everything sla-monitor records (SPEC section 2).

Conventions:

* Times are :class:`UTCDateTime`: timezone-aware UTC in Python, stored as UTC
  on every backend (SQLite has no zone type, so naive UTC there).
* Probe history follows R-M7: :class:`ProbeRun` keeps consecutive results
  of one state as a run, :class:`ProbeFailure` keeps every failed result as
  evidence, :class:`LatencyRollup` keeps an hourly summary for charts and
  :class:`LatencyRollupDaily` a daily one once the hours are old. A target
  that stays up costs a run row and 24 rollup rows a day, and in the long run
  one daily row a day (``storage.retention``, :mod:`monitor.store.retention`).
* Evidence rows are never edited to change history: cause changes go to
  :class:`CauseChange` (R-EX audit log), ledger corrections are new
  :class:`LedgerEntry` rows (R-C3), report revisions are frozen.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Named constraints make migrations reproducible on SQLite's batch mode and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: times must be timezone-aware")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite keeps UTC without a zone
            # ``value.replace(tzinfo=dt.UTC)``, the same datetime, a tenth of the cost
            # (replace parses keywords): a month's report reads a million of them.
            return _UTC_EPOCH + (value - _NAIVE_EPOCH)
        return value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)


_NAIVE_EPOCH = dt.datetime(1970, 1, 1)
_UTC_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


MONEY_COLUMN = Numeric(20, 4, asdecimal=True)
DAYS_COLUMN = Numeric(12, 4, asdecimal=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


# --- the monitor's own life (R-M3) -------------------------------------------------------------


class DaemonSession(Base):
    """One run of the daemon; ``last_beat_at`` moves with the heartbeat (R-M3)."""

    __tablename__ = "daemon_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[dt.datetime]
    last_beat_at: Mapped[dt.datetime]
    stopped_at: Mapped[dt.datetime | None]  # null: still running, or killed
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    version: Mapped[str] = mapped_column(String(40))


class UnknownInterval(Base):
    """Time the monitor could not see (R-M2, R-M3): daemon down, or itself impaired."""

    __tablename__ = "unknown_intervals"
    id: Mapped[int] = mapped_column(primary_key=True)
    start: Mapped[dt.datetime] = mapped_column(index=True)
    end: Mapped[dt.datetime | None]  # null while still blind
    reason: Mapped[str] = mapped_column(
        String(40)
    )  # daemon_down | canaries_failed | resolver_failed
    detail: Mapped[str | None] = mapped_column(Text)
    # In a cluster: whose view it is. Null: the whole monitor (one daemon alone).
    # ``vantage``: only that vantage could not see (R-M2); ``target_id``: only that target
    # went unprobed (its node was lost, R-M3). ``node``: the node that wrote it.
    node: Mapped[str | None] = mapped_column(String(63))
    vantage: Mapped[str | None] = mapped_column(String(63))
    target_id: Mapped[str | None] = mapped_column(String(63))


# --- the cluster --------------------------------------------------------------------


class ClusterNode(Base):
    """A daemon of a cluster: registered at start, seen at each lease cycle."""

    __tablename__ = "cluster_nodes"
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    vantage: Mapped[str] = mapped_column(String(63))
    incarnation: Mapped[int]  # one more at each start of the node
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    version: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]  # the database's clock
    stopped_at: Mapped[dt.datetime | None]  # null: running, or lost
    # What its configuration's shared part is (monitor.config.shared_digest), written at
    # every lease cycle: nodes compare theirs (null: a node of a version that did not say).
    config_digest: Mapped[str | None] = mapped_column(String(64))


class ClusterLease(Base):
    """A lease: ``probe/VANTAGE/TARGET`` (who probes a target from a vantage) or ``leader``
    (who runs the singleton jobs). ``epoch`` grows at every change of holder: the fencing
    token every write of the holder is checked against."""

    __tablename__ = "cluster_leases"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    vantage: Mapped[str | None] = mapped_column(String(63), index=True)
    target_id: Mapped[str | None] = mapped_column(String(63))
    node: Mapped[str | None] = mapped_column(String(63), index=True)  # null: free
    epoch: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[dt.datetime | None]  # the database's clock
    renewed_at: Mapped[dt.datetime | None]  # last renewal (or release) by its holder


class VantageView(Base):
    """What one vantage currently says of a target (R-M2): ``down`` (a vote, with
    its streak's R-M1 bounds), ``up`` or ``unknown`` (blind: never a vote)."""

    __tablename__ = "vantage_views"
    target_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    vantage: Mapped[str] = mapped_column(String(63), primary_key=True)
    state: Mapped[str] = mapped_column(String(10))  # up | down | unknown
    since: Mapped[dt.datetime]  # first result of the streak (R-M1)
    bound: Mapped[dt.datetime | None]  # last opposite result before it (R-M1)
    detected_at: Mapped[dt.datetime]
    node: Mapped[str] = mapped_column(String(63))
    epoch: Mapped[int]


class IncidentVantage(Base):
    """A vantage that confirmed an incident, with its own streak's R-M1 bounds."""

    __tablename__ = "incident_vantages"
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    vantage: Mapped[str] = mapped_column(String(63), primary_key=True)
    start: Mapped[dt.datetime]  # first failure of this vantage's streak
    start_bound: Mapped[dt.datetime | None]  # its last success before
    detected_at: Mapped[dt.datetime]
    node: Mapped[str] = mapped_column(String(63))


class VantageProblem(Base):
    """A target down for some vantages but short of the quorum: no incident, a problem of
    those vantages' paths to it. ``end`` null while it lasts."""

    __tablename__ = "vantage_problems"
    __table_args__ = (
        Index(
            "uq_vantage_problems_open",
            "target_id",
            "vantage",
            unique=True,
            sqlite_where=text('"end" IS NULL'),
            postgresql_where=text('"end" IS NULL'),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[str] = mapped_column(String(63), index=True)
    vantage: Mapped[str] = mapped_column(String(63))
    start: Mapped[dt.datetime]
    end: Mapped[dt.datetime | None]
    node: Mapped[str] = mapped_column(String(63))


# --- probe history (R-M7) ----------------------------------------------------------------------


class ProbeState(Base):
    """The detector's state per target, so that a restart continues where it stopped (R-M3)."""

    __tablename__ = "probe_states"
    target_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    state: Mapped[str] = mapped_column(String(10))  # up | down | unknown
    streak: Mapped[int] = mapped_column(default=0)
    streak_started_at: Mapped[dt.datetime | None]
    last_success_at: Mapped[dt.datetime | None]
    last_failure_at: Mapped[dt.datetime | None]
    open_incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    updated_at: Mapped[dt.datetime]


class ProbeRun(Base):
    """Consecutive results of one state for one target (R-M7)."""

    __tablename__ = "probe_runs"
    __table_args__ = (
        Index("ix_probe_runs_target_first", "target_id", "first_at"),
        Index("ix_probe_runs_last_at", "last_at"),  # retention: runs that ended long ago
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[str] = mapped_column(String(63))
    state: Mapped[str] = mapped_column(String(10))
    first_at: Mapped[dt.datetime]
    last_at: Mapped[dt.datetime]
    count: Mapped[int]
    latency_min_ms: Mapped[float | None]
    latency_max_ms: Mapped[float | None]
    latency_sum_ms: Mapped[float] = mapped_column(default=0.0)


class ProbeFailure(Base):
    """Every failed (or unknown) result, with its error, kept as evidence (R-M7, >= 13 months)."""

    __tablename__ = "probe_failures"
    __table_args__ = (
        Index("ix_probe_failures_target_at", "target_id", "at"),
        Index("ix_probe_failures_at", "at"),  # retention: evidence older than 13 months
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[str] = mapped_column(String(63))
    at: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(String(10))
    failure_class: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text)
    http_status: Mapped[int | None]
    latency_ms: Mapped[float | None]
    timings: Mapped[dict[str, Any] | None]


class LatencyRollup(Base):
    """Hourly latency summary per target, for charts (R-M7)."""

    __tablename__ = "latency_rollups"
    __table_args__ = (Index("ix_latency_rollups_hour", "hour"),)  # retention: old hours
    target_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)
    count: Mapped[int]
    failures: Mapped[int] = mapped_column(default=0)
    sum_ms: Mapped[float]
    min_ms: Mapped[float]
    max_ms: Mapped[float]
    buckets: Mapped[dict[str, Any] | None]  # latency histogram, bucket upper bound (ms) -> count


class LatencyRollupDaily(Base):
    """Daily latency summary per target: the hours of a day, once older than
    ``storage.retention.hourly_rollups``, merged into one row (R-M7)."""

    __tablename__ = "latency_rollups_daily"
    __table_args__ = (Index("ix_latency_rollups_daily_day", "day"),)  # retention: old days
    target_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    day: Mapped[dt.datetime] = mapped_column(primary_key=True)  # 00:00 UTC of the day
    count: Mapped[int]
    failures: Mapped[int] = mapped_column(default=0)
    sum_ms: Mapped[float]
    min_ms: Mapped[float]
    max_ms: Mapped[float]
    buckets: Mapped[dict[str, Any] | None]  # latency histogram, bucket upper bound (ms) -> count


# --- incidents (R-M1, R-EX, R-N1) --------------------------------------------------------------


class Incident(Base):
    """An interval of full unavailability of one service (SPEC section 2)."""

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_service_start", "service_id", "start"),
        # At most one open incident per service, enforced by the database (SPEC section 2;
        # several daemons on one database later). Manual incidents always have an end.
        Index(
            "uq_incidents_open_service",
            "service_id",
            unique=True,
            sqlite_where=text('"end" IS NULL'),
            postgresql_where=text('"end" IS NULL'),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[str] = mapped_column(String(63))
    start: Mapped[dt.datetime]  # first failed probe of the opening streak (R-M1)
    start_bound: Mapped[dt.datetime | None]  # last success before start: uncertainty (R-M1)
    detected_at: Mapped[dt.datetime | None]  # D-1: detection latency = detected_at - start
    end: Mapped[dt.datetime | None] = mapped_column(index=True)  # null while open
    end_bound: Mapped[dt.datetime | None]  # last failure before end (R-M1)
    source: Mapped[str] = mapped_column(String(10))  # probe | manual | imported
    cause: Mapped[str] = mapped_column(String(30), default="provider")
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]

    cause_changes: Mapped[list[CauseChange]] = relationship(
        back_populates="incident", order_by="CauseChange.changed_at"
    )


class CauseChange(Base):
    """Audit log of cause changes: an operator action with a reason (R-EX)."""

    __tablename__ = "cause_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    changed_at: Mapped[dt.datetime]
    old_cause: Mapped[str] = mapped_column(String(30))
    new_cause: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(120))

    incident: Mapped[Incident] = relationship(back_populates="cause_changes")


class IncidentUpdate(Base):
    """An operator's update of an incident: a status and what they know (the status page's
    timelines; never changed, a correction is a new update)."""

    __tablename__ = "incident_updates"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # investigating|identified|monitoring|resolved
    message: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(120))


class Notification(Base):
    """A customer was told of an incident: SMTP acceptance or a logged call (R-N1, D-2)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_incident_customer", "incident_id", "customer_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    customer_id: Mapped[str] = mapped_column(String(63))
    channel: Mapped[str] = mapped_column(String(10))  # email | phone
    notified_at: Mapped[dt.datetime]
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime]


# --- maintenance (R-EX1, D-3) ------------------------------------------------------------------


class MaintenanceWindow(Base):
    __tablename__ = "maintenance_windows"
    id: Mapped[int] = mapped_column(primary_key=True)
    start: Mapped[dt.datetime] = mapped_column(index=True)
    end: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    cancelled_at: Mapped[dt.datetime | None]

    services: Mapped[list[MaintenanceService]] = relationship(
        back_populates="window", cascade="all, delete-orphan"
    )
    notices: Mapped[list[MaintenanceNotice]] = relationship(
        back_populates="window", cascade="all, delete-orphan"
    )


class MaintenanceService(Base):
    __tablename__ = "maintenance_services"
    window_id: Mapped[int] = mapped_column(ForeignKey("maintenance_windows.id"), primary_key=True)
    service_id: Mapped[str] = mapped_column(String(63), primary_key=True)

    window: Mapped[MaintenanceWindow] = relationship(back_populates="services")


class MaintenanceUpdate(Base):
    """An operator's update of a maintenance window: a status (in_progress, completed) and
    what they say (the status page's timelines; never changed, a correction is a new one)."""

    __tablename__ = "maintenance_updates"
    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("maintenance_windows.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # in_progress | completed
    message: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(120))


class MaintenanceNotice(Base):
    """When the notice of a window reached a customer's technical contact (D-3)."""

    __tablename__ = "maintenance_notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("maintenance_windows.id"), index=True)
    customer_id: Mapped[str] = mapped_column(String(63))
    sent_at: Mapped[dt.datetime]
    channel: Mapped[str] = mapped_column(String(10))  # email | other (recorded by an operator)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))

    window: Mapped[MaintenanceWindow] = relationship(back_populates="notices")


class RecurringOccurrence(Base):
    """An occurrence of a configured recurring window (``maintenance.recurring``), recorded
    as the window ``window_id``: each once, whichever node or run records it first."""

    __tablename__ = "recurring_occurrences"
    __table_args__ = (UniqueConstraint("recurring_id", "start",
                                       name="uq_recurring_occurrences_recurring_start"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    recurring_id: Mapped[str] = mapped_column(String(63))
    start: Mapped[dt.datetime]
    window_id: Mapped[int] = mapped_column(ForeignKey("maintenance_windows.id"), index=True)


class LastPush(Base):
    """A push target's last push (README "Push targets"): what the node that took it wrote,
    so that every node of a cluster, and the daemon after a restart, knows it. One row per
    target, replaced by a later push."""

    __tablename__ = "last_pushes"
    target_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    received_at: Mapped[dt.datetime]
    up: Mapped[bool]
    message: Mapped[str] = mapped_column(Text)
    # When it was written, on the database's clock (PostgreSQL; SQLite has one node): what
    # the other nodes read anew from (monitor.store.pushes.since).
    written_at: Mapped[dt.datetime] = mapped_column(index=True)


# --- the status page's subscribers ------------------------------------------------------------


class Subscriber(Base):
    """An e-mail address that asked for the status page's notices of some public services.

    ``services`` are the confirmed ones (empty until the first confirmation); a request
    waits in ``requested`` until its signed link is followed (double opt-in), under
    ``nonce`` (a new request makes the older links void; once confirmed, the nonce of the
    request confirmed). ``token`` names the subscriber
    in its signed links (random, never an id). Unsubscribing deletes the row."""

    __tablename__ = "subscribers"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    language: Mapped[str] = mapped_column(String(10))
    services: Mapped[list[Any]]
    requested: Mapped[list[Any] | None] = mapped_column(JSON)
    nonce: Mapped[str | None] = mapped_column(String(16))
    requested_at: Mapped[dt.datetime]
    confirmed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]


# --- e-mail outbox (D-2) -----------------------------------------------------------------------


class OutboxMessage(Base):
    """A message written before it is sent; ``accepted_at`` is the SMTP evidence (D-2)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)  # never queue twice
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    # The Message-ID this message follows up (a recovery: its outage e-mail), for threading.
    in_reply_to: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(30))  # outage | recovery | maintenance | ...
    customer_id: Mapped[str | None] = mapped_column(String(63))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    window_id: Mapped[int | None] = mapped_column(ForeignKey("maintenance_windows.id"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    recipients: Mapped[list[Any]]
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]  # while sending: when the lease runs out
    # The worker holding the lease (while ``sending``): every send and outcome checks it, so a
    # row re-claimed after its lease ran out is never sent or recorded by both (D-2).
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # An operator message also posted to the webhook: when the webhook took it.
    webhook_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[dt.datetime | None]
    smtp_response: Mapped[str | None] = mapped_column(Text)
    # When an operator last sent a given-up message again (``outbox retry``): its retries
    # of transient failures are counted from then, and a new failure is alerted anew.
    requeued_at: Mapped[dt.datetime | None]

    deliveries: Mapped[list[OutboxRecipient]] = relationship(
        back_populates="outbox", cascade="all, delete-orphan"
    )


class OperatorDelivery(Base):
    """An operator message handed to one of the operators' channels (``operators.notify``,
    through Apprise): claimed by one process until ``claimed_until``, then delivered. The
    channel is a digest of its URL, which holds tokens and is never stored."""

    __tablename__ = "operator_deliveries"
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    claimed_by: Mapped[str] = mapped_column(String(64))
    claimed_until: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    delivered_at: Mapped[dt.datetime | None]


class OutboxListUnsubscribe(Base):
    """The one-click unsubscribe address (RFC 8058) of an outbox message: a status-page
    subscriber's notice, sent with ``List-Unsubscribe`` and ``List-Unsubscribe-Post``."""

    __tablename__ = "outbox_list_unsubscribe"
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), primary_key=True)
    address: Mapped[str] = mapped_column(Text)


class OutboxAttachment(Base):
    """A file sent with an outbox message (a statement's PDF and CSV), stored with
    it so that every retry sends the same bytes."""

    __tablename__ = "outbox_attachments"
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))  # e.g. application/pdf
    content: Mapped[bytes] = mapped_column(LargeBinary)


class OutboxRecipient(Base):
    """Per-recipient outcome, so partial refusals are recorded (D-2)."""

    __tablename__ = "outbox_recipients"
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))  # accepted | refused
    code: Mapped[int | None]
    message: Mapped[str | None] = mapped_column(Text)

    outbox: Mapped[OutboxMessage] = relationship(back_populates="deliveries")


# --- claims, tickets, ledger, reports (R-C1, R-P*, L-*, R-C3) ----------------------------------


class Claim(Base):
    """A credit claim for one customer's month (R-C1, D-4); one per customer and month."""

    __tablename__ = "claims"
    __table_args__ = (UniqueConstraint("customer_id", "month", name="uq_claims_customer_month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(63))
    month: Mapped[str] = mapped_column(String(7))  # in the configured calendar
    calendar: Mapped[str] = mapped_column(String(10))
    site_domain: Mapped[str] = mapped_column(String(253))  # credited here (L-1)
    channel: Mapped[str] = mapped_column(String(10))  # email | web | phone
    note: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[str] = mapped_column(String(120))
    submitted_at: Mapped[dt.datetime]
    receipt_due_at: Mapped[dt.datetime]  # D-4: end of the next business day
    decision_due_at: Mapped[dt.datetime]  # D-4: submission + decision_deadline
    receipt_sent_at: Mapped[dt.datetime | None]  # SMTP acceptance of the receipt
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decision: Mapped[str | None] = mapped_column(String(10))  # approved | partly | rejected
    decision_reason: Mapped[str | None] = mapped_column(Text)
    credit_days: Mapped[Decimal | None] = mapped_column(DAYS_COLUMN)  # granted by the decision
    refund_amount: Mapped[Decimal | None] = mapped_column(MONEY_COLUMN)  # granted by the decision
    credited_at: Mapped[dt.datetime | None]  # when the granted credit takes effect
    # The engine's credit the decision (or the last review) was based on (R-C3).
    basis_days: Mapped[Decimal | None] = mapped_column(DAYS_COLUMN)
    basis_amount: Mapped[Decimal | None] = mapped_column(MONEY_COLUMN)
    decision_sent_at: Mapped[dt.datetime | None]  # SMTP acceptance of the decision e-mail
    # R-C3: a new revision of the month changed the credit of an approved claim.
    review_revision: Mapped[int | None]
    review_noted_at: Mapped[dt.datetime | None]


class Ticket(Base):
    """A partial problem (section 5) or a priced request (L-5); its clocks start when it is
    recorded and its number e-mailed (L-4)."""

    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(63), index=True)
    site_domain: Mapped[str | None] = mapped_column(String(253))
    service_id: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(20))  # web_panel (R-P1) | mobile (R-P2)
    type_id: Mapped[str | None] = mapped_column(String(63))  # L-5 ticket type
    title: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(10))  # email | phone
    opened_at: Mapped[dt.datetime]
    number_sent_at: Mapped[dt.datetime | None]  # SMTP acceptance of the number e-mail
    level: Mapped[int] = mapped_column(default=2)  # L-4: 2, or 3 when escalated
    diagnosed_at: Mapped[dt.datetime | None]
    provider_fault: Mapped[bool | None] = mapped_column(Boolean)
    finding: Mapped[str | None] = mapped_column(String(20))  # L-5
    fixed_at: Mapped[dt.datetime | None]  # the last fix; null again after a reopen
    next_release: Mapped[bool] = mapped_column(default=False)  # R-P3 exemption
    next_release_reason: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal | None] = mapped_column(MONEY_COLUMN)  # L-5: the price charged
    currency: Mapped[str | None] = mapped_column(String(3))
    price_requested: Mapped[Decimal | None] = mapped_column(MONEY_COLUMN)  # L-5: awaiting approval
    price_requested_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | fixed | closed
    closed_at: Mapped[dt.datetime | None]  # closed undone (L-5)

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )


class TicketEvent(Base):
    """Every follow-up, reply, escalation and question, with its time (L-4)."""

    __tablename__ = "ticket_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(120))

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class LedgerEntry(Base):
    """A line of a site's ledger (L-1): days of service, support charge or a refund, or a
    renewal. Append-only: the database refuses UPDATE and DELETE (triggers of revision
    initial_schema); corrections are new rows (R-C3)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_site_effective", "site_domain", "effective_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(63))
    site_domain: Mapped[str] = mapped_column(String(253))
    kind: Mapped[str] = mapped_column(String(10))  # days | charge | refund | renewal
    days: Mapped[Decimal | None] = mapped_column(DAYS_COLUMN)
    amount: Mapped[Decimal | None] = mapped_column(MONEY_COLUMN)
    currency: Mapped[str | None] = mapped_column(String(3))
    paid_until: Mapped[dt.date | None] = mapped_column(Date)  # a renewal's new period end
    period_end: Mapped[dt.datetime | None]  # an L-6 expiry: the period whose charge expired
    reason: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(String(20))
    evidence: Mapped[dict[str, Any]]
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    reference: Mapped[str | None] = mapped_column(Text)  # a payment's reference
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime]
    effective_at: Mapped[dt.datetime]
    adjusts_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))


class ReportRevision(Base):
    """A frozen monthly report with the hash of its inputs (R-C3)."""

    __tablename__ = "report_revisions"
    __table_args__ = (
        UniqueConstraint("calendar", "month", "revision", name="uq_report_revisions_month_rev"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    calendar: Mapped[str] = mapped_column(String(10))
    month: Mapped[str] = mapped_column(String(7))
    revision: Mapped[int] = mapped_column(Integer)
    closed_at: Mapped[dt.datetime]
    inputs_hash: Mapped[str] = mapped_column(String(64))
    report: Mapped[dict[str, Any]]
    # What the statements show besides the report: the month's maintenance
    # windows with their notices, as they stood when the revision was frozen. Null for
    # revisions frozen before statements existed.
    evidence: Mapped[dict[str, Any] | None]


class MonthTermsRecord(Base):
    """What the configuration said of a month when the daemon saw it end: its customers,
    their fees and dependencies, the policy (:mod:`monitor.sla.terms`). Its terms until it
    is first closed, whose revision freezes them; a configuration changed in between (new
    prices from the 1st) is not the ended month's."""

    __tablename__ = "month_terms"
    calendar: Mapped[str] = mapped_column(String(10), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    recorded_at: Mapped[dt.datetime]
    terms: Mapped[dict[str, Any]]


class StatementSent(Base):
    """A monthly statement queued for one customer and one revision: at most one
    per customer and revision; a later revision's is a correction of the one before."""

    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("calendar", "month", "customer_id", "revision",
                         name="uq_statements_customer_revision"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    calendar: Mapped[str] = mapped_column(String(10))
    month: Mapped[str] = mapped_column(String(7))
    customer_id: Mapped[str] = mapped_column(String(63))
    revision: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))  # statement | correction
    corrects: Mapped[int | None] = mapped_column(Integer)  # the revision sent before
    changes: Mapped[list[Any] | None]  # what a correction changed, as told to the customer
    dedupe_key: Mapped[str] = mapped_column(String(200))  # its outbox message
    requested_by: Mapped[str] = mapped_column(String(120))
    queued_at: Mapped[dt.datetime]


class ClaimReminder(Base):
    """A customer owed credit for a month, with no claim, was reminded (R-C1):
    once per customer and month."""

    __tablename__ = "claim_reminders"
    __table_args__ = (
        UniqueConstraint("calendar", "month", "customer_id", name="uq_claim_reminders_customer"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    calendar: Mapped[str] = mapped_column(String(10))
    month: Mapped[str] = mapped_column(String(7))
    customer_id: Mapped[str] = mapped_column(String(63))
    revision: Mapped[int] = mapped_column(Integer)  # the figures it named
    days: Mapped[Decimal] = mapped_column(DAYS_COLUMN)
    amount: Mapped[Decimal] = mapped_column(MONEY_COLUMN)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    queued_at: Mapped[dt.datetime]


class StatementRun(Base):
    """The daemon's automatic close-and-send of one month (``statements.auto``): the revision
    it sends, and when it finished; an unfinished run is resumed after a restart."""

    __tablename__ = "statement_runs"
    calendar: Mapped[str] = mapped_column(String(10), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    reminded_at: Mapped[dt.datetime | None]  # the month's claim reminders were all queued


class EvidenceEntry(Base):
    """One link of the evidence chain (:mod:`monitor.store.evidence`): a fact's canonical JSON
    as it was written, chained to its predecessor by SHA-256. Append-only."""

    __tablename__ = "evidence_chain"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(40))  # incident.open | claim.decide | ...
    fact_table: Mapped[str | None] = mapped_column(String(40))
    fact_id: Mapped[str | None] = mapped_column(String(63))
    recorded_at: Mapped[dt.datetime]
    canonical: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class EvidenceCheckpoint(Base):
    """The chain's head at ``seq``, signed (Ed25519) by the key ``key_id``: periodically,
    and with each frozen report revision (``revision_id``)."""

    __tablename__ = "evidence_checkpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(Text)  # base64 of the 64-byte signature
    signed_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(String(20))  # periodic | revision
    revision_id: Mapped[int | None] = mapped_column(Integer)


class EvidenceKey(Base):
    """A public key that signed evidence checkpoints, kept after rotation (published at
    ``/.well-known/sla-monitor-keys.json``)."""

    __tablename__ = "evidence_keys"
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))  # base64 of the raw 32 bytes
    first_signed_at: Mapped[dt.datetime]


class AuditEvent(Base):
    """Operator actions that change records (who, when, what), besides cause changes."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(30))
    object_id: Mapped[str] = mapped_column(String(63))
    detail: Mapped[dict[str, Any] | None]


class IdempotentRequest(Base):
    """A write the HTTP API answered, kept so a retry with the same ``Idempotency-Key``
    gets the first answer instead of a second write (24 h; :mod:`monitor.store.idempotency`)."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("actor", "key", name="uq_idempotent_requests_actor_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(120))  # the token's name: keys are per client
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the body
    status: Mapped[int]
    response: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(index=True)


__all__ = [
    "AuditEvent",
    "Base",
    "CauseChange",
    "Claim",
    "ClaimReminder",
    "ClusterLease",
    "ClusterNode",
    "DaemonSession",
    "EvidenceCheckpoint",
    "EvidenceEntry",
    "EvidenceKey",
    "IdempotentRequest",
    "Incident",
    "IncidentUpdate",
    "IncidentVantage",
    "LastPush",
    "LatencyRollup",
    "LedgerEntry",
    "MaintenanceNotice",
    "MaintenanceService",
    "MaintenanceUpdate",
    "MaintenanceWindow",
    "Notification",
    "OutboxAttachment",
    "OutboxListUnsubscribe",
    "OutboxMessage",
    "OutboxRecipient",
    "ProbeFailure",
    "ProbeRun",
    "ProbeState",
    "ReportRevision",
    "StatementRun",
    "StatementSent",
    "Subscriber",
    "Ticket",
    "TicketEvent",
    "UTCDateTime",
    "UnknownInterval",
    "VantageProblem",
    "VantageView",
]
