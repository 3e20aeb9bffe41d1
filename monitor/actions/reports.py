"""Monthly reports: a month's inputs gathered from the store and the configuration, handed
to the pure engine (:mod:`monitor.sla`), and frozen as revisions (R-C3).

This is the thin shell around the engine: it reads, converts and writes; every
rule lives in :mod:`monitor.sla`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from monitor.actions.common import iso_utc, known
from monitor.actions.ledger import customer_lapse
from monitor.actions.tickets import ticket_input
from monitor.config import Settings, Topology
from monitor.errors import InputError
from monitor.sla import (
    CustomerInput,
    IncidentInput,
    Interval,
    MaintenanceInput,
    MonthPeriod,
    MonthReport,
    Policy,
    SessionInput,
    TicketInput,
    blind_everywhere,
    clip,
    compute_month,
    fix_due,
    inputs_digest,
    union,
    unobserved,
)
from monitor.sla.report import JSON, CustomerReport, IncidentLine, VantageProblemLine
from monitor.sla.stored import Fields
from monitor.store import audit, claims, incidents, ledger, maintenance, reports, tickets, unknown
from monitor.store import cluster as cluster_store
from monitor.store.incidents import IncidentRecord
from monitor.store.ledger import EntryRecord
from monitor.store.maintenance import WindowRecord
from monitor.store.reports import RevisionRecord
from monitor.store.tickets import TicketRecord

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = [
    "COMPARED",
    "COMPARED_INCIDENT",
    "Change",
    "Closing",
    "FrozenRevision",
    "FrozenWindow",
    "MonthInputs",
    "ReviewNoted",
    "RevisionEvidence",
    "close_month",
    "customer_changes",
    "frozen_revision",
    "incident_input",
    "maintenance_input",
    "month_customers",
    "month_inputs",
    "month_report",
    "month_tickets",
    "month_unknown",
    "unknown_between",
]


@dataclass(frozen=True)
class MonthInputs:
    """Everything the engine needs for one month, as known at one instant (R-C3)."""

    period: MonthPeriod
    customers: list[CustomerInput]
    incidents: list[IncidentInput]
    maintenance: list[MaintenanceInput]
    notifications: dict[tuple[int, str], dt.datetime]
    unknown: list[Interval]
    policy: Policy
    tickets: list[TicketInput] = dataclasses.field(default_factory=list)
    # Issue 15: a cluster's unknown time of single targets (their node lost, every vantage).
    unknown_by_service: dict[str, list[Interval]] = dataclasses.field(default_factory=dict)

    def compute(self, now: dt.datetime) -> MonthReport:
        return compute_month(
            self.period,
            self.customers,
            self.incidents,
            self.maintenance,
            self.notifications,
            self.unknown,
            self.policy,
            now,
            self.tickets,
            self.unknown_by_service,
        )

    def evidence(self) -> RevisionEvidence:
        """What a statement shows besides the report, frozen with a revision (issue 14): the
        month's maintenance windows, each with the services it covers (a server's window
        covers its projects) and when its notice reached each customer (R-EX1, D-3)."""
        return RevisionEvidence(tuple(
            FrozenWindow(window.id, tuple(sorted(window.service_ids)), window.start,
                         window.end, window.reason, dict(sorted(window.notices.items())))
            for window in sorted(self.maintenance, key=lambda w: w.id)
        ))

    def digest(self) -> str:
        return inputs_digest(
            self.period,
            self.customers,
            self.incidents,
            self.maintenance,
            self.notifications,
            self.unknown,
            self.policy,
            self.tickets,
            self.unknown_by_service,
        )


def incident_input(record: IncidentRecord) -> IncidentInput:
    """A stored incident as the engine's record."""
    return IncidentInput(
        id=record.id,
        service_id=record.service_id,
        start=record.start,
        end=record.end,
        cause=record.cause,  # type: ignore[arg-type]  # the store keeps validated values
        detected_at=record.detected_at,
        source=record.source,  # type: ignore[arg-type]
    )


def maintenance_input(
    window: WindowRecord, notices: Mapping[str, dt.datetime], topology: Topology
) -> MaintenanceInput:
    """A stored window as the engine's record; a server's window is its projects' window
    too (R-M4, R-EX1)."""
    return MaintenanceInput(
        id=window.id,
        service_ids=topology.with_hosted_projects(frozenset(window.service_ids)),
        start=window.start,
        end=window.end,
        reason=window.reason,
        notices=dict(notices),
    )


def month_tickets(
    settings: Settings, period: MonthPeriod, faults: list[TicketRecord],
    customers: Collection[str] | None = None,
) -> list[TicketInput]:
    """Tickets diagnosed as the provider's fault whose fix deadline falls in the month
    (their penalty belongs to it, R-P1/R-P2); only ``customers``' when given."""
    topology = settings.topology
    in_month = []
    for record in faults:
        if customers is not None and record.customer_id not in customers:
            continue
        ticket = ticket_input(record)
        due = fix_due(ticket, settings.policy)
        if due is not None and period.start <= due < period.end and (
                record.customer_id in topology.customers):
            in_month.append(ticket)
    return in_month


def month_customers(
    settings: Settings, renewals: list[EntryRecord], customers: Collection[str] | None = None
) -> list[CustomerInput]:
    """Customers as configured (only ``customers`` when given), with the yearly renewals
    recorded before the month's end (L-2): a renewal recorded later does not revive a
    month that began lapsed (R-EX5)."""
    topology = settings.topology
    chosen = (topology.customer_inputs() if customers is None
              else [topology.customer_input(c) for c in sorted(set(customers))])
    renewed = {r.customer_id for r in renewals}
    return [
        customer if customer.id not in renewed else
        dataclasses.replace(customer, paid_until=customer_lapse(settings, customer.id, renewals))
        for customer in chosen
    ]


async def month_inputs(
    db: Database,
    settings: Settings,
    period: MonthPeriod,
    now: dt.datetime,
    customers: Collection[str] | None = None,
) -> MonthInputs:
    """Everything the engine needs for ``period``, as known at ``now``; with ``customers``,
    only what those customers' reports need (their dependencies' incidents and windows,
    their notices, notifications and tickets): one customer's page reads a few rows, not
    the month of every customer.

    Unknown time (R-M3) is, once, for every report and metric: the intervals the
    daemon recorded (blind to its canaries or resolver, R-M2; a gap it found at start),
    and the time no run of the daemon watched (:func:`monitor.sla.unobserved` of its
    sessions: before it first ran, between runs, since it stopped if none runs now),
    clipped to the month as seen at ``now`` (:func:`month_unknown`).

    Tickets: :func:`month_tickets`. Customers: :func:`month_customers`.
    """
    start, end = period.start, period.end
    tolerance = settings.monitor.unknown_after
    topology = settings.topology
    depended: set[str] | None = None
    if customers is not None:
        depended = set()
        for customer_id in customers:
            depended |= topology.dependencies(customer_id)
    async with db.reading() as tx:
        found = await incidents.touching(tx, start, end, depended)
        first = await incidents.first_notifications(tx, (i.id for i in found), customers)
        windows = await maintenance.touching(tx, start, end)
        if depended is not None:
            windows = [
                w for w in windows
                if topology.with_hosted_projects(frozenset(w.service_ids)) & depended
            ]
        notices = await maintenance.first_notices(tx, (w.id for w in windows), customers)
        unseen = await unknown.touching(tx, start, end)
        scoped = await unknown.scoped_touching(tx, start, end)
        runs = await unknown.sessions_touching(
            tx, start - dt.timedelta(seconds=tolerance), end
        )
        faults = await tickets.provider_fault(tx)
        renewals = await ledger.renewals(tx, before=end)
    everyone, by_service = _cluster_unknown(settings, period, now, scoped)
    by_window: dict[int, dict[str, dt.datetime]] = {}
    for (window_id, customer_id), notice in notices.items():
        by_window.setdefault(window_id, {})[customer_id] = notice.at
    return MonthInputs(
        period,
        month_customers(settings, renewals, customers),
        [incident_input(i) for i in found],
        [maintenance_input(w, by_window.get(w.id, {}), topology) for w in windows],
        {key: notice.at for key, notice in first.items()},
        union([*month_unknown(period, now, unseen, runs, tolerance), *everyone]),
        settings.policy,
        month_tickets(settings, period, faults, customers),
        by_service,
    )


def _cluster_unknown(
    settings: Settings,
    period: MonthPeriod,
    now: dt.datetime,
    scoped: list[tuple[dt.datetime, dt.datetime | None, str | None, str | None]],
) -> tuple[list[Interval], dict[str, list[Interval]]]:
    """Issue 15, R-M3 in a cluster: a blind vantage is covered by the others, so its time is
    unknown only where every configured vantage was blind (for everyone); a target nobody
    probed from a vantage (its node lost) is unknown where every vantage was blind or
    without it (for the customers depending on it) (:func:`monitor.sla.blind_everywhere`)."""
    if not scoped:
        return [], {}
    cluster = settings.config.cluster
    vantages = list(cluster.vantages or [cluster.vantage]) if cluster is not None else []
    seen_until = min(period.end, now)
    if seen_until <= period.start:
        return [], {}
    blind: dict[str, list[Interval]] = {}
    unwatched: dict[str, dict[str, list[Interval]]] = {}
    for start, end, vantage, target_id in scoped:
        stop = min(end or now, seen_until)
        if stop <= start or vantage is None:
            continue
        part = Interval(start, stop)
        if target_id is None:
            blind.setdefault(vantage, []).append(part)
        else:
            unwatched.setdefault(target_id, {}).setdefault(vantage, []).append(part)
    everyone = blind_everywhere(blind, vantages)
    by_service = {}
    for target_id, gaps in unwatched.items():
        merged = {v: [*blind.get(v, []), *gaps.get(v, [])] for v in vantages}
        found = blind_everywhere(merged, vantages)
        if found:
            by_service[target_id] = found
    return everyone, by_service


def month_unknown(
    period: MonthPeriod,
    now: dt.datetime,
    recorded: list[tuple[dt.datetime, dt.datetime | None]],
    runs: list[tuple[dt.datetime, dt.datetime]],
    tolerance: float,
) -> list[Interval]:
    """R-M3: recorded unknown intervals and unwatched time, as one normalised list inside
    the month as seen at ``now`` (so a closed month's digest does not move with ``now``)."""
    return unknown_between(period.start, period.end, now, recorded, runs, tolerance)


def unknown_between(
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    recorded: list[tuple[dt.datetime, dt.datetime | None]],
    runs: list[tuple[dt.datetime, dt.datetime]],
    tolerance: float,
) -> list[Interval]:
    """R-M3 for any span (a month, the status page's 90 days): :func:`month_unknown`'s
    reading of ``[start, min(end, now))``."""
    seen_until = min(end, now)
    if seen_until <= start:
        return []
    window = Interval(start, seen_until)
    kept = [
        Interval(interval_start, interval_end or now)
        for interval_start, interval_end in recorded
        if (interval_end or now) > interval_start
    ]
    sessions = [SessionInput(started_at, last_beat_at) for started_at, last_beat_at in runs]
    return clip(union([*kept, *unobserved(sessions, window, now, tolerance)]), window)


async def month_report(
    db: Database,
    settings: Settings,
    *,
    month: str,
    customer: str | None = None,
    now: dt.datetime,
) -> MonthReport:
    """The SLA report of ``month`` (YYYY-MM in the provider's calendar) as known at ``now``:
    every customer's, or only ``customer``'s. A running month is a projection."""
    period = settings.month(month)
    if customer is not None:
        known(customer, settings.topology.customers, "customer", "customers")
    chosen = None if customer is None else [customer]
    inputs = await month_inputs(db, settings, period, now, chosen)
    if customer is not None:
        report = inputs.compute(now)  # one customer: milliseconds
    else:
        # Every customer: seconds at 10,000 customers; off the event loop (the daemon's
        # probes share it when the HTTP API asks).
        report = await asyncio.to_thread(inputs.compute, now)
    if settings.config.cluster is not None:
        report = await _with_vantages(db, report)
    return report


async def _with_vantages(db: Database, report: MonthReport) -> MonthReport:
    """Issue 15: which vantages confirmed each incident, and the month's vantage problems."""
    ids = {line.id for c in report.customers for line in c.incidents}
    async with db.reading() as tx:
        confirmed = await cluster_store.confirmations(tx, ids)
        problems = await cluster_store.open_problems(tx, since=report.period.start)
    return dataclasses.replace(
        report,
        confirmed_by={i: tuple(v) for i, v in confirmed.items()},
        vantage_problems=tuple(
            VantageProblemLine(t, v, s, e) for t, v, s, e in problems if s < report.period.end
        ),
    )


@dataclass(frozen=True)
class ReviewNoted:
    """R-C3: an approved claim whose month's credit this revision changed."""

    claim_id: int
    customer: str
    days_before: Decimal  # the credit the decision was based on
    days_now: Decimal
    amount_before: Decimal
    amount_now: Decimal


@dataclass(frozen=True)
class Closing:
    month: str
    revision: int
    created: bool  # False: inputs unchanged since the last revision
    digest: str
    changes: list[str]  # what differs from the previous revision
    reviews: list[ReviewNoted] = dataclasses.field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FrozenWindow:
    """A maintenance window as a revision froze it for statements (R-EX1, D-3): the services
    it covers, and when its notice reached each customer."""

    id: int
    services: tuple[str, ...]
    start: dt.datetime
    end: dt.datetime
    reason: str
    notices: Mapping[str, dt.datetime]  # customer id -> notice_sent_at

    def to_json(self) -> dict[str, JSON]:
        return {"id": self.id, "services": list(self.services), "start": iso_utc(self.start),
                "end": iso_utc(self.end), "reason": self.reason,
                "notices": {customer: iso_utc(at) for customer, at in self.notices.items()}}

    @classmethod
    def from_json(cls, document: object, where: str = "window") -> FrozenWindow:
        fields = Fields(document, where)
        return cls(fields.integer("id"), fields.texts("services"), fields.instant("start"),
                   fields.instant("end"), fields.text("reason"),
                   fields.instants_by_name("notices"))


@dataclass(frozen=True, slots=True)
class RevisionEvidence:
    """What a revision freezes besides the report, for its statements (issue 14)."""

    maintenance: tuple[FrozenWindow, ...]

    def to_json(self) -> dict[str, JSON]:
        return {"maintenance": [window.to_json() for window in self.maintenance]}

    @classmethod
    def from_json(cls, document: object) -> RevisionEvidence:
        """The evidence ``to_json`` stored; a wrong field is a StoreError naming it."""
        fields = Fields(document, "evidence")
        return cls(tuple(FrozenWindow.from_json(window, where)
                         for window, where in fields.items("maintenance")))


@dataclass(frozen=True)
class FrozenRevision:
    """A closed month's revision as stored (R-C3), its report read back typed
    (:meth:`MonthReport.from_json`): the figures as the JSON shows them (R-M6)."""

    calendar: str
    month: str
    revision: int
    closed_at: dt.datetime
    inputs_hash: str
    report: MonthReport
    # What statements show besides the report (issue 14); None before statements existed.
    evidence: RevisionEvidence | None = None


def frozen_revision(record: RevisionRecord) -> FrozenRevision:
    """``record`` with its SPEC section 7 JSON and its evidence read back typed."""
    return FrozenRevision(record.calendar, record.month, record.revision, record.closed_at,
                          record.inputs_hash, MonthReport.from_json(record.report),
                          None if record.evidence is None
                          else RevisionEvidence.from_json(record.evidence))


#: What a new revision compares with the previous one, per customer: each figure by its
#: name in the report's JSON, and how to read it.
COMPARED: tuple[tuple[str, Callable[[CustomerReport], object]], ...] = (
    ("downtime_seconds", lambda c: c.downtime_seconds),
    ("excluded_seconds", lambda c: c.excluded_seconds),
    ("unknown_seconds", lambda c: c.unknown_seconds),
    ("availability_percent", lambda c: c.availability_percent),
    ("tier", lambda c: c.tier),
    ("credit_days_total", lambda c: c.credit_days_total),
    ("credit_value", lambda c: c.credit_value),
    ("partial_credit_days", lambda c: c.partial_credit_days),
    ("refund_amount", lambda c: c.refund_amount),
    ("notification_breaches", lambda c: c.notification_breaches),
    ("detection_breaches", lambda c: c.detection_breaches),
)

#: What a new revision compares of an incident both revisions count.
COMPARED_INCIDENT: tuple[tuple[str, Callable[[IncidentLine], object]], ...] = (
    ("counted_seconds", lambda i: i.counted_seconds),
    ("cause", lambda i: i.cause),
    ("start", lambda i: i.start),
    ("end", lambda i: i.end),
)


def _differences(old: MonthReport, new: MonthReport) -> list[str]:
    before = {c.customer: c for c in old.customers}
    changes = []
    for customer in new.customers:
        previous = before.get(customer.customer)
        if previous is None:
            changes.append(f"{customer.customer}: new in this revision")
            continue
        changes += [f"{customer.customer}: {change}"
                    for change in customer_changes(previous, customer)]
    return changes


class Change(NamedTuple):
    """One difference between two revisions' records of a customer: a figure
    (``incident`` None) or an incident's (``field`` "added"/"removed" for the whole), its
    values as the revisions froze them (:meth:`MonthReport.from_json`)."""

    field: str
    before: object
    after: object
    incident: int | None = None

    def __str__(self) -> str:
        if self.field == "added":
            return f"incident {self.incident}: new in this revision"
        if self.field == "removed":
            return f"incident {self.incident}: no longer counted in this month"
        prefix = "" if self.incident is None else f"incident {self.incident}: "
        return f"{prefix}{self.field} {_as_json(self.before)} -> {_as_json(self.after)}"


def _as_json(value: object) -> str:
    """A frozen value as the report's JSON writes it: ``99.663``, ``[3]``,
    ``'2026-10-05T10:00:00Z'`` (a number read back keeps the digits JSON showed)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return repr(list(value))
    if isinstance(value, dt.datetime):
        return repr(iso_utc(value))
    return repr(value)


def customer_changes(old: CustomerReport | None, new: CustomerReport) -> list[Change]:
    """What differs between two revisions' records of one customer (``old`` None: the
    earlier revision did not have it): each :data:`COMPARED` figure, then each incident
    that appeared, went or changed its counted time, cause or times. Empty when the
    customer's figures and incidents are the same (a corrected statement is owed only
    then, issue 14)."""
    changes = [Change(name, None if old is None else read(old), read(new))
               for name, read in COMPARED
               if (None if old is None else read(old)) != read(new)]
    before = {} if old is None else {i.id: i for i in old.incidents}
    after = {i.id: i for i in new.incidents}
    for incident_id in sorted(before.keys() | after.keys()):
        was, now = before.get(incident_id), after.get(incident_id)
        if was is None:
            changes.append(Change("added", None, after[incident_id], incident_id))
        elif now is None:
            changes.append(Change("removed", was, None, incident_id))
        else:
            changes += [Change(name, read(was), read(now), incident_id)
                        for name, read in COMPARED_INCIDENT if read(was) != read(now)]
    return changes


async def close_month(
    db: Database, settings: Settings, *, month: str, now: dt.datetime
) -> Closing:
    """Freeze a revision of an ended month with the hash of its inputs (R-C3).

    Closing again with the same inputs changes nothing; with changed inputs it
    makes revision N+1 and lists what differs. Credits already granted are not
    edited: an approved claim whose credit the revision changed is marked for review
    (:class:`ReviewNoted`), and the operator's decision on it adds adjusting entries
    (:func:`monitor.actions.claims.decide_claim`).
    """
    period = settings.month(month)
    if now < period.end:
        raise InputError(
            "month", month, f"a month that has ended (this one ends {iso_utc(period.end)})"
        )
    inputs = await month_inputs(db, settings, period, now)
    digest = inputs.digest()
    computed = await asyncio.to_thread(inputs.compute, now)
    report = await asyncio.to_thread(computed.to_json)
    async with db.transaction() as tx:
        latest = await reports.latest_revision(tx, period.calendar, period.label)
        if latest is not None and latest.inputs_hash == digest:
            return Closing(period.label, latest.revision, False, digest, [])
        revision = 1 if latest is None else latest.revision + 1
        changes = [] if latest is None else _differences(
            MonthReport.from_json(latest.report), MonthReport.from_json(report))
        await reports.add_revision(
            tx,
            RevisionRecord(period.calendar, period.label, revision, now, digest, report,
                           inputs.evidence().to_json()),
        )
        reviews = await _note_reviews(tx, computed, revision, now)
    return Closing(period.label, revision, True, digest, changes, reviews)


async def _note_reviews(
    tx: Tx, report: MonthReport, revision: int, now: dt.datetime
) -> list[ReviewNoted]:
    """R-C3: approved claims of the month whose credit the new revision changed."""
    noted = []
    for claim in await claims.listed(tx, month=report.period.label):
        if claim.decision not in ("approved", "partly") or claim.calendar != report.period.calendar:
            continue
        try:
            customer = report.customer(claim.customer_id)
        except KeyError:
            continue
        before = (claim.basis_days or Decimal(0), claim.basis_amount or Decimal(0))
        after = (customer.credit_days_total, customer.refund_amount)
        if before == after:
            continue
        await claims.mark_review(tx, claim.id, revision=revision, at=now)
        await audit.record(tx, at=now, actor="sla-monitor", action="claim.review",
                           object_type="claim", object_id=claim.id,
                           detail={"revision": revision, "days": str(after[0]),
                                   "amount": str(after[1])})
        noted.append(ReviewNoted(claim.id, claim.customer_id, before[0], after[0], before[1],
                                 after[1]))
    return noted
