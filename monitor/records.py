"""What operators record that probes cannot know: manual incidents, causes, phone calls,
maintenance windows (SPEC sections 2, 4 and 7).

Each operation validates everything first and raises :class:`InputError`
naming the argument, the value and what is allowed; only then does it write,
in one transaction. Bad input changes nothing (SPEC section 8). The CLI and
the HTTP API call these functions; neither writes records directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from monitor.config.topology import Topology
from monitor.errors import InputError
from monitor.sla import CAUSES
from monitor.store.db import inserted_id, transaction
from monitor.store.models import (
    AuditEvent,
    CauseChange,
    Incident,
    MaintenanceNotice,
    MaintenanceService,
    MaintenanceWindow,
    Notification,
)

CHANNELS = ("phone", "email")


@dataclass(frozen=True)
class Recorded:
    """The id of what was written, and a line for the operator."""

    id: int
    summary: str


def _known(value: str, known: Sequence[str] | frozenset[str], field: str, what: str) -> None:
    if value not in known:
        raise InputError(field, value, f"one of the configured {what}: {', '.join(sorted(known))}")


def _ordered(start: dt.datetime, end: dt.datetime) -> None:
    if end <= start:
        raise InputError("--end", end.isoformat(), f"a time after --start ({start.isoformat()})")


def _not_future(at: dt.datetime, now: dt.datetime, field: str) -> None:
    if at > now:
        raise InputError(field, at.isoformat(), f"a time not after now ({now.isoformat()})")


async def _audit(
    connection: AsyncSession,
    at: dt.datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    detail: dict[str, object],
) -> None:
    await connection.execute(
        insert(AuditEvent).values(
            at=at,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            detail=detail,
        )
    )


async def add_incident(
    engine: AsyncEngine,
    topology: Topology,
    *,
    service: str,
    start: dt.datetime,
    end: dt.datetime,
    cause: str,
    note: str | None,
    actor: str,
    now: dt.datetime,
) -> Recorded:
    """A manual incident: an outage the probes could not see (reported by phone, R-M3 gaps)."""
    _known(service, topology.service_ids(), "--service", "services and servers")
    _ordered(start, end)
    _not_future(end, now, "--end")
    if cause not in CAUSES:
        raise InputError("--cause", cause, "one of: " + ", ".join(CAUSES))
    async with transaction(engine) as connection:
        overlap = (
            await connection.execute(
                select(Incident.id, Incident.start, Incident.end)
                .where(
                    Incident.service_id == service,
                    Incident.source == "manual",
                    Incident.start < end,
                    or_(Incident.end.is_(None), Incident.end > start),
                )
                .limit(1)
            )
        ).first()
        if overlap is not None:
            raise InputError(
                "--start/--end",
                f"{start.isoformat()}..{end.isoformat()}",
                f"a time span not overlapping manual incident {overlap.id} on "
                f"{service} ({overlap.start.isoformat()}..{overlap.end.isoformat()})",
            )
        result = await connection.execute(
            insert(Incident).values(
                service_id=service,
                start=start,
                end=end,
                source="manual",
                cause=cause,
                note=note,
                created_at=now,
                detected_at=None,
            )
        )
        incident_id = inserted_id(result)
        await _audit(
            connection,
            now,
            actor,
            "incident.add",
            "incident",
            incident_id,
            {"service": service, "cause": cause},
        )
    return Recorded(incident_id, f"incident {incident_id} recorded on {service}")


async def _incident(connection: AsyncSession, incident_id: int) -> Incident:
    incident = await connection.get(Incident, incident_id)
    if incident is None:
        raise InputError("ID", incident_id, "an existing incident id (see: incident list)")
    return incident


async def change_cause(
    engine: AsyncEngine,
    *,
    incident_id: int,
    cause: str,
    reason: str,
    actor: str,
    now: dt.datetime,
) -> Recorded:
    """R-EX: changing a cause is an operator action with a reason, kept in the audit log."""
    if cause not in CAUSES:
        raise InputError("--cause", cause, "one of: " + ", ".join(CAUSES))
    if not reason.strip():
        raise InputError("--reason", reason, "a non-empty explanation for the audit log")
    async with transaction(engine) as connection:
        incident = await _incident(connection, incident_id)
        if incident.cause == cause:
            raise InputError("--cause", cause, f"a cause other than the current one ({cause})")
        await connection.execute(
            insert(CauseChange).values(
                incident_id=incident_id,
                changed_at=now,
                old_cause=incident.cause,
                new_cause=cause,
                reason=reason,
                actor=actor,
            )
        )
        await connection.execute(
            update(Incident).where(Incident.id == incident_id).values(cause=cause)
        )
    return Recorded(incident_id, f"incident {incident_id}: cause {incident.cause} -> {cause}")


async def log_notification(
    engine: AsyncEngine,
    topology: Topology,
    *,
    incident_id: int,
    at: dt.datetime,
    channel: str,
    customers: Sequence[str],
    note: str | None,
    actor: str,
    now: dt.datetime,
) -> Recorded:
    """R-N1: a notification made outside the outbox (usually a phone call), per customer.

    Without ``customers``, every customer affected by the incident's service.
    """
    if channel not in CHANNELS:
        raise InputError("--channel", channel, "one of: " + ", ".join(CHANNELS))
    _not_future(at, now, "--at")
    async with transaction(engine) as connection:
        incident = await _incident(connection, incident_id)
        affected = topology.affected_customers(incident.service_id)
        for customer in customers:
            _known(customer, affected, "--customer", f"customers affected by {incident.service_id}")
        if at < incident.start:
            raise InputError(
                "--at",
                at.isoformat(),
                f"a time after the incident start ({incident.start.isoformat()})",
            )
        targets = list(customers) or list(affected)
        if not targets:
            raise InputError("ID", incident_id, "an incident of a service some customer uses")
        for customer in targets:
            await connection.execute(
                insert(Notification).values(
                    incident_id=incident_id,
                    customer_id=customer,
                    channel=channel,
                    notified_at=at,
                    note=note,
                    recorded_at=now,
                )
            )
        await _audit(
            connection,
            now,
            actor,
            "incident.notified",
            "incident",
            incident_id,
            {"channel": channel, "customers": targets, "at": at.isoformat()},
        )
    return Recorded(
        incident_id,
        f"incident {incident_id}: {channel} notification logged for " + ", ".join(targets),
    )


async def add_maintenance(
    engine: AsyncEngine,
    topology: Topology,
    *,
    services: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    reason: str,
    notified_at: dt.datetime | None,
    actor: str,
    now: dt.datetime,
) -> Recorded:
    """A maintenance window (R-EX1). ``notified_at`` records a notice made by other means
    (D-3); the daemon e-mails the affected customers' technical contacts otherwise."""
    if not services:
        raise InputError("--services", "", "one or more service ids, comma-separated")
    for service in services:
        _known(service, topology.service_ids(), "--services", "services and servers")
    _ordered(start, end)
    if not reason.strip():
        raise InputError("--reason", reason, "a non-empty reason (it is shown to customers)")
    if notified_at is not None:
        _not_future(notified_at, now, "--notified-at")
    async with transaction(engine) as connection:
        result = await connection.execute(
            insert(MaintenanceWindow).values(start=start, end=end, reason=reason, created_at=now)
        )
        window_id = inserted_id(result)
        await connection.execute(
            insert(MaintenanceService),
            [{"window_id": window_id, "service_id": s} for s in services],
        )
        if notified_at is not None:
            customers = sorted({c for s in services for c in topology.affected_customers(s)})
            if customers:
                await connection.execute(
                    insert(MaintenanceNotice),
                    [
                        {
                            "window_id": window_id,
                            "customer_id": c,
                            "sent_at": notified_at,
                            "channel": "other",
                        }
                        for c in customers
                    ],
                )
        await _audit(
            connection,
            now,
            actor,
            "maintenance.add",
            "maintenance",
            window_id,
            {"services": list(services), "start": start.isoformat(), "end": end.isoformat()},
        )
    return Recorded(window_id, f"maintenance window {window_id} on {', '.join(services)}")


async def list_incidents(
    engine: AsyncEngine,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    service: str | None = None,
    open_only: bool = False,
) -> list[Incident]:
    query = select(Incident).order_by(Incident.start, Incident.id)
    if since is not None:
        query = query.where(or_(Incident.end.is_(None), Incident.end > since))
    if until is not None:
        query = query.where(Incident.start < until)
    if service is not None:
        query = query.where(Incident.service_id == service)
    if open_only:
        query = query.where(Incident.end.is_(None))
    async with AsyncSession(engine) as connection:
        return list((await connection.execute(query)).scalars())


async def list_maintenance(
    engine: AsyncEngine,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[tuple[MaintenanceWindow, list[str], int]]:
    """Windows with their services and how many customers have a notice recorded."""
    query = select(MaintenanceWindow).order_by(MaintenanceWindow.start, MaintenanceWindow.id)
    if since is not None and until is not None:
        query = query.where(and_(MaintenanceWindow.end > since, MaintenanceWindow.start < until))
    async with AsyncSession(engine) as connection:
        windows = list((await connection.execute(query)).scalars())
        services: dict[int, list[str]] = {}
        for window_id, service_id in await connection.execute(
            select(MaintenanceService.window_id, MaintenanceService.service_id)
        ):
            services.setdefault(window_id, []).append(service_id)
        notices: dict[int, int] = {}
        for (window_id,) in await connection.execute(select(MaintenanceNotice.window_id)):
            notices[window_id] = notices.get(window_id, 0) + 1
    return [(w, sorted(services.get(w.id, [])), notices.get(w.id, 0)) for w in windows]
