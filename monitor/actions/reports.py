"""Monthly reports: a month's inputs gathered from the store and the configuration, handed
to the pure engine (:mod:`monitor.sla`), and frozen as revisions (R-C3).

This is the thin shell around the engine: it reads, converts and writes; every
rule lives in :mod:`monitor.sla`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.actions.common import known
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
    compute_month,
    inputs_digest,
)
from monitor.store import incidents, maintenance, reports, unknown
from monitor.store.incidents import IncidentRecord
from monitor.store.maintenance import WindowRecord
from monitor.store.reports import RevisionRecord

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = [
    "COMPARED",
    "Closing",
    "MonthInputs",
    "close_month",
    "incident_input",
    "maintenance_input",
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
        )

    def digest(self) -> str:
        return inputs_digest(
            self.period,
            self.customers,
            self.incidents,
            self.maintenance,
            self.notifications,
            self.unknown,
            self.policy,
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


async def month_inputs(
    db: Database,
    settings: Settings,
    period: MonthPeriod,
    now: dt.datetime,
    customers: Collection[str] | None = None,
) -> MonthInputs:
    """Everything the engine needs for ``period``, as known at ``now``; with ``customers``,
    only what those customers' reports need (their dependencies' incidents and windows,
    their notices and notifications): one customer's page reads a few rows, not the
    month of every customer."""
    start, end = period.start, period.end
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
    by_window: dict[int, dict[str, dt.datetime]] = {}
    for (window_id, customer_id), notice in notices.items():
        by_window.setdefault(window_id, {})[customer_id] = notice.at
    engine_customers = topology.customer_inputs()
    if customers is not None:
        engine_customers = [topology.customer_input(c) for c in sorted(set(customers))]
    return MonthInputs(
        period,
        engine_customers,
        [incident_input(i) for i in found],
        [maintenance_input(w, by_window.get(w.id, {}), topology) for w in windows],
        {key: notice.at for key, notice in first.items()},
        [
            Interval(interval_start, interval_end or now)
            for interval_start, interval_end in unseen
            if (interval_end or now) > interval_start
        ],
        settings.policy,
    )


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
        return inputs.compute(now)  # one customer: milliseconds
    # Every customer: seconds at 10,000 customers; off the event loop (the daemon's probes
    # share it when the HTTP API asks).
    return await asyncio.to_thread(inputs.compute, now)


@dataclass(frozen=True)
class Closing:
    month: str
    revision: int
    created: bool  # False: inputs unchanged since the last revision
    digest: str
    changes: list[str]  # what differs from the previous revision


#: What a new revision compares with the previous one, per customer.
COMPARED = (
    "downtime_seconds",
    "excluded_seconds",
    "unknown_seconds",
    "availability_percent",
    "tier",
    "credit_days_total",
    "credit_value",
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
        for key in COMPARED:
            if previous.get(key) != customer.get(key):
                changes.append(
                    f"{customer['customer']}: {key} {previous.get(key)!r} -> {customer.get(key)!r}"
                )
    return changes


def _customers(report: Mapping[str, object]) -> list[dict[str, object]]:
    customers = report.get("customers", [])
    return [c for c in customers if isinstance(c, dict)] if isinstance(customers, list) else []


async def close_month(
    db: Database, settings: Settings, *, month: str, now: dt.datetime
) -> Closing:
    """Freeze a revision of an ended month with the hash of its inputs (R-C3).

    Closing again with the same inputs changes nothing; with changed inputs it
    makes revision N+1 and lists what differs. Credits already granted are not
    edited here: the ledger gets adjusting entries (R-C3).
    """
    period = settings.month(month)
    if now < period.end:
        raise InputError(
            "month", month, f"a month that has ended (this one ends {period.end.isoformat()})"
        )
    inputs = await month_inputs(db, settings, period, now)
    digest = inputs.digest()
    report = await asyncio.to_thread(lambda: inputs.compute(now).to_json())
    async with db.transaction() as tx:
        latest = await reports.latest_revision(tx, period.calendar, period.label)
        if latest is not None and latest.inputs_hash == digest:
            return Closing(period.label, latest.revision, False, digest, [])
        revision = 1 if latest is None else latest.revision + 1
        changes = [] if latest is None else _differences(latest.report, report)
        await reports.add_revision(
            tx, RevisionRecord(period.calendar, period.label, revision, now, digest, report)
        )
    return Closing(period.label, revision, True, digest, changes)
