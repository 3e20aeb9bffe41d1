"""Incidents an operator records, their causes, and notifications made by phone
(SPEC sections 2, 4 and 7: R-M3, R-EX, R-N1)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.actions.common import (
    CHANNELS,
    FreeText,
    checks_text,
    iso_utc,
    known,
    known_cause,
    not_blank,
    not_future,
    ordered,
    record_id,
    storable,
)
from monitor.config import Settings
from monitor.errors import InputError, NotFound, time_mark
from monitor.store import audit, incidents
from monitor.store.incidents import IncidentRecord, UpdateRecord

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = [
    "UPDATE_STATUSES",
    "CauseChanged",
    "IncidentRecord",
    "NotificationsLogged",
    "UpdatePosted",
    "add_incident",
    "change_cause",
    "get_incident",
    "list_incidents",
    "log_notification",
    "post_update",
]


@dataclass(frozen=True)
class CauseChanged:
    incident: IncidentRecord  # with the new cause
    old_cause: str
    reason: str


@dataclass(frozen=True)
class NotificationsLogged:
    incident_id: int
    channel: str
    at: dt.datetime
    customers: tuple[str, ...]


UPDATE_STATUSES = ("investigating", "identified", "monitoring", "resolved")
"""What an operator's update says of an incident, in Statuspage's words."""


@dataclass(frozen=True)
class UpdatePosted:
    incident: IncidentRecord
    update: UpdateRecord


@checks_text
async def post_update(
    db: Database,
    *,
    incident_id: int,
    status: str,
    message: FreeText,
    actor: str,
    now: dt.datetime,
) -> UpdatePosted:
    """An operator's update of an incident: what they know, with a status
    (:data:`UPDATE_STATUSES`). Shown on the status page, the incident page, the feed and
    the Statuspage JSON when the incident is of a public service; audited. It changes
    neither the incident's times nor its cause: the probes (or an operator's manual
    incident) say when a service was down, the update says what the operators know."""
    if status not in UPDATE_STATUSES:
        raise InputError("status", status, "one of: " + ", ".join(UPDATE_STATUSES))
    not_blank(message, "message", "a non-empty message (what is known, what is being done)")
    record_id(incident_id, "incident_id", "incident")
    async with db.transaction() as tx:
        incident = await _incident(tx, incident_id)
        update_id = await incidents.add_update(
            tx, incident_id, status=status, message=message, actor=actor, at=now)
        await audit.record(
            tx,
            at=now,
            actor=actor,
            action="incident.update",
            object_type="incident",
            object_id=incident_id,
            detail={"update": update_id, "status": status, "message": message},
        )
    return UpdatePosted(incident, UpdateRecord(update_id, incident_id, status, message, now,
                                               actor))


@checks_text
async def add_incident(
    db: Database,
    settings: Settings,
    *,
    service: str,
    start: dt.datetime,
    end: dt.datetime,
    cause: str = "provider",
    note: FreeText | None = None,
    actor: str,
    now: dt.datetime,
) -> IncidentRecord:
    """A manual incident: an outage the probes could not see (reported by phone, R-M3 gaps).

    Refused when it overlaps another manual incident of the same service."""
    known(service, settings.topology.service_ids(), "service", "services and servers")
    ordered(start, end)
    not_future(end, now, "end")
    known_cause(cause)
    _optional_note(note)
    async with db.transaction() as tx:
        overlap = await incidents.manual_overlapping(tx, service, start, end)
        if overlap is not None:
            raise InputError(
                "start",
                iso_utc(start),
                f"a time span (to {{end}} {time_mark(end)}) not overlapping manual incident "
                f"{overlap.id} on {service} ({time_mark(overlap.start)} to "
                f"{time_mark(overlap.end) if overlap.end else 'open'})",
            )
        incident_id = await incidents.add_manual(
            tx, service_id=service, start=start, end=end, cause=cause, note=note, created_at=now
        )
        await audit.record(
            tx,
            at=now,
            actor=actor,
            action="incident.add",
            object_type="incident",
            object_id=incident_id,
            detail={"service": service, "cause": cause},
        )
        return await _incident(tx, incident_id)


@checks_text
async def change_cause(
    db: Database,
    *,
    incident_id: int,
    cause: str,
    reason: FreeText,
    actor: str,
    now: dt.datetime,
) -> CauseChanged:
    """R-EX: changing a cause is an operator action with a reason, kept in the audit log."""
    known_cause(cause)
    not_blank(reason, "reason", "a non-empty explanation for the audit log")
    record_id(incident_id, "incident_id", "incident")
    async with db.transaction() as tx:
        incident = await _incident(tx, incident_id)
        if incident.cause == cause:
            raise InputError("cause", cause, f"a cause other than the current one ({cause})")
        await incidents.change_cause(
            tx, incident_id, old=incident.cause, new=cause, reason=reason, actor=actor, at=now
        )
        return CauseChanged(await _incident(tx, incident_id), incident.cause, reason)


@checks_text
async def log_notification(
    db: Database,
    settings: Settings,
    *,
    incident_id: int,
    at: dt.datetime,
    channel: str,
    customers: Sequence[str] = (),
    note: FreeText | None = None,
    actor: str,
    now: dt.datetime,
) -> NotificationsLogged:
    """R-N1: a notification made outside the outbox (usually a phone call), per customer.

    Without ``customers``, every customer affected by the incident's service."""
    if channel not in CHANNELS:
        raise InputError("channel", channel, "one of: " + ", ".join(CHANNELS))
    not_future(at, now, "at")
    _optional_note(note)
    record_id(incident_id, "incident_id", "incident")
    async with db.transaction() as tx:
        incident = await _incident(tx, incident_id)
        affected = settings.topology.affected_customers(incident.service_id)
        for customer in customers:
            known(customer, affected, "customer", f"customers affected by {incident.service_id}")
        if at < incident.start:
            raise InputError(
                "at", iso_utc(at), f"a time after the incident start ({time_mark(incident.start)})"
            )
        told = tuple(customers) or affected
        if not told:
            raise InputError(
                "incident_id", incident_id, "an incident of a service some customer uses"
            )
        await incidents.record_notifications(
            tx, incident_id, told, channel=channel, at=at, recorded_at=now, note=note
        )
        await audit.record(
            tx,
            at=now,
            actor=actor,
            action="incident.notified",
            object_type="incident",
            object_id=incident_id,
            detail={"channel": channel, "customers": list(told), "at": at.isoformat()},
        )
    return NotificationsLogged(incident_id, channel, at, told)


async def list_incidents(
    db: Database,
    settings: Settings,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    service: str | None = None,
    open_only: bool = False,
) -> list[IncidentRecord]:
    """Incidents touching ``[since, until)``, by start then id.

    A ``service`` that is neither configured nor found in any recorded incident (a typo)
    is an error rather than an empty list, for every edge; a service removed from the
    configuration still lists its history."""
    configured = settings.topology.service_ids()
    if service is not None and not storable(service):
        # No incident has it (PostgreSQL would refuse the query): unknown.
        known(service, configured, "service", "services and servers")
    async with db.reading() as tx:
        found = await incidents.find(
            tx, since=since, until=until, service_id=service, open_only=open_only
        )
        if (
            not found
            and service is not None
            and service not in configured
            and not await incidents.find(tx, service_id=service)
        ):
            known(service, configured, "service", "services and servers")
    return found


async def get_incident(db: Database, *, incident_id: int) -> IncidentRecord:
    """One incident (an unknown id is a NotFound naming ``incident_id``)."""
    async with db.reading() as tx:
        return await _incident(tx, incident_id)


async def _incident(tx: Tx, incident_id: int) -> IncidentRecord:
    # Ids are 32-bit integers in every backend: a larger one cannot exist.
    incident = await incidents.get(tx, incident_id) if 0 < incident_id < 2**31 else None
    if incident is None:
        raise NotFound("incident_id", incident_id, "an existing incident id (see: incident list)")
    return incident


def _optional_note(note: str | None) -> None:
    """An optional note is words or absent: a blank one is refused as every free text is."""
    if note is not None:
        not_blank(note, "note", "a note with words, or none")

