"""Monthly reports: a month's inputs gathered from the store and the configuration, handed
to the pure engine (:mod:`monitor.sla`), and frozen as revisions (R-C3).

This is the thin shell around the engine: it reads, converts and writes; every
rule lives in :mod:`monitor.sla`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from monitor.actions.common import iso_utc, known
from monitor.actions.ledger import customer_lapse
from monitor.actions.tickets import ticket_input
from monitor.config import Settings
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
from monitor.sla.report import VantageProblemLine
from monitor.store import audit, claims, incidents, ledger, maintenance, reports, tickets, unknown
from monitor.store import cluster as cluster_store
from monitor.store.reports import RevisionRecord

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = [
    "COMPARED",
    "Change",
    "Closing",
    "MonthInputs",
    "ReviewNoted",
    "close_month",
    "customer_changes",
    "month_inputs",
    "month_report",
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

    def evidence(self) -> dict[str, object]:
        """What a statement shows besides the report, frozen with a revision (issue 14): the
        month's maintenance windows, each with the services it covers (a server's window
        covers its projects) and when its notice reached each customer (R-EX1, D-3)."""
        return {
            "maintenance": [
                {
                    "id": window.id,
                    "services": sorted(window.service_ids),
                    "start": iso_utc(window.start),
                    "end": iso_utc(window.end),
                    "reason": window.reason,
                    "notices": {customer: iso_utc(at)
                                for customer, at in sorted(window.notices.items())},
                }
                for window in sorted(self.maintenance, key=lambda w: w.id)
            ]
        }

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


async def month_inputs(
    db: Database, settings: Settings, period: MonthPeriod, now: dt.datetime
) -> MonthInputs:
    """Everything the engine needs for ``period``, as known at ``now``.

    Unknown time (R-M3) is, once, for every report and metric: the intervals the
    daemon recorded (blind to its canaries or resolver, R-M2; a gap it found at start),
    and the time no run of the daemon watched (:func:`monitor.sla.unobserved` of its
    sessions: before it first ran, between runs, since it stopped if none runs now),
    clipped to the month as seen at ``now``.

    Tickets: those diagnosed as the provider's fault whose fix deadline falls in the month
    (their penalty belongs to it, R-P1/R-P2). Customers: as configured, with the yearly
    renewals recorded before the month's end (L-2): a renewal recorded later does not
    revive a month that began lapsed (R-EX5).
    """
    start, end = period.start, period.end
    tolerance = settings.monitor.unknown_after
    async with db.reading() as tx:
        found = await incidents.touching(tx, start, end)
        first = await incidents.first_notifications(tx, (i.id for i in found))
        windows = await maintenance.touching(tx, start, end)
        notices = await maintenance.first_notices(tx, (w.id for w in windows))
        unseen = await unknown.touching(tx, start, end)
        scoped = await unknown.scoped_touching(tx, start, end)
        runs = await unknown.sessions_touching(
            tx, start - dt.timedelta(seconds=tolerance), end
        )
        faults = await tickets.provider_fault(tx)
        renewals = await ledger.renewals(tx, before=end)
    topology = settings.topology
    in_month = []
    for record in faults:
        ticket = ticket_input(record)
        due = fix_due(ticket, settings.policy)
        if due is not None and start <= due < end and record.customer_id in topology.customers:
            in_month.append(ticket)
    customers = [
        customer if not any(r.customer_id == customer.id for r in renewals) else
        dataclasses.replace(customer, paid_until=customer_lapse(settings, customer.id, renewals))
        for customer in topology.customer_inputs()
    ]
    everyone, by_service = _cluster_unknown(settings, period, now, scoped)
    return MonthInputs(
        period,
        customers,
        [
            IncidentInput(
                id=i.id,
                service_id=i.service_id,
                start=i.start,
                end=i.end,
                cause=i.cause,  # type: ignore[arg-type]  # the store keeps validated values
                detected_at=i.detected_at,
                source=i.source,  # type: ignore[arg-type]
            )
            for i in found
        ],
        [
            MaintenanceInput(
                id=w.id,
                # A server's window is its projects' window too (R-M4, R-EX1).
                service_ids=topology.with_hosted_projects(frozenset(w.service_ids)),
                start=w.start,
                end=w.end,
                reason=w.reason,
                notices={c: n.at for (window_id, c), n in notices.items() if window_id == w.id},
            )
            for w in windows
        ],
        {key: notice.at for key, notice in first.items()},
        union([*_unknown(period, now, unseen, runs, tolerance), *everyone]),
        settings.policy,
        in_month,
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


def _unknown(
    period: MonthPeriod,
    now: dt.datetime,
    recorded: list[tuple[dt.datetime, dt.datetime | None]],
    runs: list[tuple[dt.datetime, dt.datetime]],
    tolerance: float,
) -> list[Interval]:
    """R-M3: recorded unknown intervals and unwatched time, as one normalised list inside
    the month as seen at ``now`` (so a closed month's digest does not move with ``now``)."""
    seen_until = min(period.end, now)
    if seen_until <= period.start:
        return []
    window = Interval(period.start, seen_until)
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
    report = (await month_inputs(db, settings, period, now)).compute(now)
    if settings.config.cluster is not None:
        report = await _with_vantages(db, report)
    if customer is None:
        return report
    return dataclasses.replace(
        report, customers=tuple(c for c in report.customers if c.customer == customer))


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


#: What a new revision compares with the previous one, per customer.
COMPARED = (
    "downtime_seconds",
    "excluded_seconds",
    "unknown_seconds",
    "availability_percent",
    "tier",
    "credit_days_total",
    "credit_value",
    "partial_credit_days",
    "refund_amount",
    "notification_breaches",
    "detection_breaches",
)


def _differences(old: Mapping[str, object], new: Mapping[str, object]) -> list[str]:
    before = {c["customer"]: c for c in _customers(old)}
    changes = []
    for customer in _customers(new):
        previous = before.get(customer["customer"])
        if previous is None:
            changes.append(f"{customer['customer']}: new in this revision")
            continue
        changes += [f"{customer['customer']}: {change}"
                    for change in customer_changes(previous, customer)]
    return changes


class Change(NamedTuple):
    """One difference between two revisions' records of a customer: a figure
    (``incident`` None) or an incident's (``field`` "added"/"removed" for the whole)."""

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
        return f"{prefix}{self.field} {self.before!r} -> {self.after!r}"


def customer_changes(old: Mapping[str, object], new: Mapping[str, object]) -> list[Change]:
    """What differs between two revisions' records of one customer (the SPEC section 7
    JSON): each :data:`COMPARED` figure, then each incident that appeared, went or changed
    its counted time or cause. Empty when the customer's figures and incidents are the same
    (a corrected statement is owed only then, issue 14)."""
    changes = [Change(key, old.get(key), new.get(key))
               for key in COMPARED if old.get(key) != new.get(key)]
    before, after = _incidents(old), _incidents(new)
    for incident_id in sorted(before.keys() | after.keys()):
        was, now = before.get(incident_id), after.get(incident_id)
        if was is None:
            changes.append(Change("added", None, after[incident_id], incident_id))
        elif now is None:
            changes.append(Change("removed", was, None, incident_id))
        else:
            changes += [Change(key, was.get(key), now.get(key), incident_id)
                        for key in ("counted_seconds", "cause", "start", "end")
                        if was.get(key) != now.get(key)]
    return changes


def _incidents(customer: Mapping[str, object]) -> dict[int, dict[str, object]]:
    found = customer.get("incidents", [])
    if not isinstance(found, list):
        return {}
    return {i["id"]: i for i in found if isinstance(i, dict) and isinstance(i.get("id"), int)}


def _customers(report: Mapping[str, object]) -> list[dict[str, object]]:
    customers = report.get("customers", [])
    return [c for c in customers if isinstance(c, dict)] if isinstance(customers, list) else []


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
    computed = inputs.compute(now)
    report = computed.to_json()
    async with db.transaction() as tx:
        latest = await reports.latest_revision(tx, period.calendar, period.label)
        if latest is not None and latest.inputs_hash == digest:
            return Closing(period.label, latest.revision, False, digest, [])
        revision = 1 if latest is None else latest.revision + 1
        changes = [] if latest is None else _differences(latest.report, report)
        await reports.add_revision(
            tx,
            RevisionRecord(period.calendar, period.label, revision, now, digest, report,
                           inputs.evidence()),
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
