"""Monthly reports: gather a month's inputs from the store and the configuration, hand them to
the pure engine (:mod:`monitor.sla`), and freeze revisions (R-C3).

This is the thin shell around the engine: it reads, converts and writes;
every rule lives in :mod:`monitor.sla`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from monitor.config import Config
from monitor.config.topology import Topology
from monitor.errors import InputError
from monitor.sla import (
    CustomerInput,
    IncidentInput,
    Interval,
    MaintenanceInput,
    MonthPeriod,
    MonthReport,
    Policy,
    Tier,
    compute_month,
    inputs_digest,
    month_period,
)
from monitor.store.db import transaction
from monitor.store.models import (
    Incident,
    MaintenanceNotice,
    MaintenanceService,
    MaintenanceWindow,
    Notification,
    ReportRevision,
    UnknownInterval,
)

WEEKDAY_NUMBERS = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}


def policy_from_config(config: Config) -> Policy:
    """The one conversion from the YAML policy to the engine's :class:`Policy`."""
    p = config.policy
    return Policy(
        target_percent=p.target_percent,
        tiers=tuple(Tier(t.name, int(t.min_downtime), t.credit_days) for t in p.tiers),
        notification_deadline_seconds=int(p.notification_deadline),
        notification_credit_days=p.notification_credit_days,
        maintenance_notice_seconds=int(p.maintenance_notice),
        detection_deadline_seconds=int(p.detection_deadline),
        diagnosis_deadline_seconds=int(p.diagnosis_deadline),
        web_panel_fix_deadline_seconds=int(p.panel_fix_deadline),
        partial_penalty_fraction=p.partial_penalty_fraction,
        mobile_fix_deadline_seconds=int(p.mobile_fix_deadline),
        mobile_refund_percent_per_day=p.mobile_refund_percent_per_day,
        claim_deadline_days=int(p.claim_deadline // 86400),
        decision_deadline_days=int(p.decision_deadline // 86400),
        weekend_days=frozenset(WEEKDAY_NUMBERS[d] for d in config.provider.weekend_days),
        holidays=frozenset(config.provider.holidays),
    )


def customer_inputs(topology: Topology) -> list[CustomerInput]:
    return [
        CustomerInput(
            id=customer.id,
            name=customer.name,
            fee_per_year=Decimal(customer.fee.amount),
            currency=customer.fee.currency,
            services=topology.dependencies(customer.id),
            paid_until=topology.paid_until(customer.id),
            clone=customer.clone,
            unsupported_version=topology.unsupported_version(customer.id),
        )
        for customer in topology.customers.values()
    ]


def period_of(config: Config, label: str) -> MonthPeriod:
    return month_period(label, config.provider.calendar, config.provider.timezone)


@dataclass(frozen=True)
class MonthInputs:
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


async def month_inputs(
    engine: AsyncEngine, topology: Topology, period: MonthPeriod, now: dt.datetime
) -> MonthInputs:
    """Everything the engine needs for ``period``, as known at ``now``."""
    start, end = period.start, period.end
    async with AsyncSession(engine) as connection:
        incidents = [
            IncidentInput(
                id=i.id,
                service_id=i.service_id,
                start=i.start,
                end=i.end,
                cause=i.cause,  # type: ignore[arg-type]  # the store keeps validated values
                detected_at=i.detected_at,
                source=i.source,  # type: ignore[arg-type]
            )
            for i in (
                await connection.execute(
                    select(Incident)
                    .where(Incident.start < end, or_(Incident.end.is_(None), Incident.end > start))
                    .order_by(Incident.id)
                )
            ).scalars()
        ]
        ids = [i.id for i in incidents]
        notifications: dict[tuple[int, str], dt.datetime] = {}
        if ids:
            for incident_id, customer_id, first in await connection.execute(
                select(
                    Notification.incident_id,
                    Notification.customer_id,
                    func.min(Notification.notified_at),
                )
                .where(Notification.incident_id.in_(ids))
                .group_by(Notification.incident_id, Notification.customer_id)
            ):
                notifications[(incident_id, customer_id)] = _aware(first)
        windows = list(
            (
                await connection.execute(
                    select(MaintenanceWindow)
                    .where(
                        MaintenanceWindow.start < end,
                        MaintenanceWindow.end > start,
                        MaintenanceWindow.cancelled_at.is_(None),
                    )
                    .order_by(MaintenanceWindow.id)
                )
            ).scalars()
        )
        window_ids = [w.id for w in windows]
        services: dict[int, set[str]] = {}
        notices: dict[int, dict[str, dt.datetime]] = {}
        if window_ids:
            for window_id, service_id in await connection.execute(
                select(MaintenanceService.window_id, MaintenanceService.service_id).where(
                    MaintenanceService.window_id.in_(window_ids)
                )
            ):
                services.setdefault(window_id, set()).add(service_id)
            for window_id, customer_id, first in await connection.execute(
                select(
                    MaintenanceNotice.window_id,
                    MaintenanceNotice.customer_id,
                    func.min(MaintenanceNotice.sent_at),
                )
                .where(MaintenanceNotice.window_id.in_(window_ids))
                .group_by(MaintenanceNotice.window_id, MaintenanceNotice.customer_id)
            ):
                notices.setdefault(window_id, {})[customer_id] = _aware(first)
        unknown = [
            Interval(u.start, u.end or now)
            for u in (
                await connection.execute(
                    select(UnknownInterval).where(
                        UnknownInterval.start < end,
                        or_(UnknownInterval.end.is_(None), UnknownInterval.end > start),
                    )
                )
            ).scalars()
            if (u.end or now) > u.start
        ]
    maintenance = [
        MaintenanceInput(
            id=w.id,
            service_ids=topology.with_hosted_projects(services.get(w.id, set())),
            start=w.start,
            end=w.end,
            reason=w.reason,
            notices=notices.get(w.id, {}),
        )
        for w in windows
    ]
    return MonthInputs(
        period,
        customer_inputs(topology),
        incidents,
        maintenance,
        notifications,
        unknown,
        policy_from_config(topology.config),
    )


def _aware(value: dt.datetime) -> dt.datetime:
    # Aggregates bypass the column type on SQLite (naive, UTC by construction).
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Closing:
    revision: int
    created: bool  # False: inputs unchanged since the last revision
    digest: str
    changes: list[str]  # what differs from the previous revision


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


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    before = {c["customer"]: c for c in old.get("customers", [])}
    changes = []
    for customer in new["customers"]:
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


async def close_month(
    engine: AsyncEngine, topology: Topology, label: str, now: dt.datetime
) -> Closing:
    """Freeze a revision of an ended month with the hash of its inputs (R-C3).

    Closing again with the same inputs changes nothing; with changed inputs it
    makes revision N+1 and lists what differs. Credits already granted are not
    edited here: the ledger gets adjusting entries (R-C3).
    """
    period = period_of(topology.config, label)
    if now < period.end:
        raise InputError(
            "--month", label, f"a month that has ended (this one ends {period.end.isoformat()})"
        )
    inputs = await month_inputs(engine, topology, period, now)
    digest = inputs.digest()
    report = inputs.compute(now).to_json()
    async with transaction(engine) as connection:
        latest = (
            (
                await connection.execute(
                    select(ReportRevision)
                    .where(
                        ReportRevision.calendar == period.calendar,
                        ReportRevision.month == period.label,
                    )
                    .order_by(ReportRevision.revision.desc())
                    .limit(1)
                )
            )
            .scalars()
            .first()
        )
        if latest is not None and latest.inputs_hash == digest:
            return Closing(latest.revision, False, digest, [])
        revision = 1 if latest is None else latest.revision + 1
        changes = [] if latest is None else _differences(latest.report, report)
        await connection.execute(
            insert(ReportRevision).values(
                calendar=period.calendar,
                month=period.label,
                revision=revision,
                closed_at=now,
                inputs_hash=digest,
                report=report,
            )
        )
    return Closing(revision, True, digest, changes)
