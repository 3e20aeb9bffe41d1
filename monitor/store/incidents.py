"""Incidents, their cause changes and the notifications that reached customers (R-M1, R-EX, R-N1).

The only writer of the ``incidents``, ``cause_changes`` and ``notifications``
tables. The database keeps at most one open incident per service (a partial
unique index, ``uq_incidents_open_service``); manual incidents always have an
end, so only probe incidents are ever open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from monitor.store import audit, evidence
from monitor.store.db import Tx, in_chunks, inserted_id
from monitor.store.models import CauseChange, Incident, IncidentUpdate, Notification

__all__ = [
    "CauseStep",
    "FirstNotice",
    "IncidentRecord",
    "NotificationsRecorded",
    "UpdateRecord",
    "add_manual",
    "add_update",
    "cause_changes_since",
    "cause_history",
    "change_cause",
    "changed_since",
    "close",
    "earliest_per_customer",
    "earliest_times",
    "end_removed",
    "find",
    "first_notifications",
    "first_notified_at",
    "get",
    "manual_overlapping",
    "notifications_since",
    "open_by_probe",
    "open_probe_incident",
    "open_probe_incident_of",
    "open_unconfigured",
    "record_notifications",
    "reopen",
    "reopens",
    "started_between",
    "touching",
    "updates",
    "watermarks",
]

_CHUNK = 5000  # ids per IN (...) list, well under SQLite's bound-parameter limit


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """One incident as stored (SPEC section 2): ``end`` is None while open."""

    id: int
    service_id: str
    start: dt.datetime  # first failed probe of the opening streak (R-M1)
    start_bound: dt.datetime | None  # last success before start (R-M1)
    detected_at: dt.datetime | None  # D-1: detection latency = detected_at - start
    end: dt.datetime | None
    end_bound: dt.datetime | None  # last failure before end (R-M1)
    source: str  # probe | manual | imported
    cause: str
    note: str | None
    created_at: dt.datetime


def _record(row: Incident) -> IncidentRecord:
    return IncidentRecord(
        row.id,
        row.service_id,
        row.start,
        row.start_bound,
        row.detected_at,
        row.end,
        row.end_bound,
        row.source,
        row.cause,
        row.note,
        row.created_at,
    )


#: The columns of an :class:`IncidentRecord`, in its order.
_COLUMNS = (Incident.id, Incident.service_id, Incident.start, Incident.start_bound,
            Incident.detected_at, Incident.end, Incident.end_bound, Incident.source,
            Incident.cause, Incident.note, Incident.created_at)


async def get(tx: Tx, incident_id: int) -> IncidentRecord | None:
    row = await tx.get(Incident, incident_id)
    return None if row is None else _record(row)


# --- probe incidents (the daemon) ----------------------------------------------------------------


async def open_by_probe(tx: Tx) -> dict[str, int]:
    """Service id -> id of its open probe incident: what a restart continues (R-M3)."""
    rows = await tx.execute(
        select(Incident.service_id, Incident.id).where(
            Incident.end.is_(None), Incident.source == "probe"
        )
    )
    return {service_id: incident_id for service_id, incident_id in rows}


async def open_unconfigured(tx: Tx, configured: Collection[str]
                            ) -> dict[str, tuple[int, dt.datetime]]:
    """Service id -> (id, start) of the open probe incident of every service not in
    ``configured`` (its target removed from the configuration: no probe of it can end it)."""
    rows = await tx.execute(  # the open ones are few; the configured may be 100,000
        select(Incident.service_id, Incident.id, Incident.start).where(
            Incident.end.is_(None), Incident.source == "probe"))
    return {service_id: (incident_id, start) for service_id, incident_id, start in rows
            if service_id not in configured}


async def end_removed(tx: Tx, ends: Mapping[int, dt.datetime]) -> None:
    """End each incident of ``ends`` (id -> end) still open (a cluster's nodes may each
    end it: none is ended twice), without an end bound: its target went unseen."""
    for incident_id, end in ends.items():
        await tx.execute(update(Incident).where(Incident.id == incident_id,
                                                Incident.end.is_(None))
                         .values(end=end, end_bound=None))
    if ends:
        await evidence.append(tx, "incident.close", "incidents", sorted(ends))


async def open_probe_incident_of(tx: Tx, service_id: str) -> tuple[int, dt.datetime] | None:
    """(id, start) of ``service_id``'s open probe incident, or None."""
    found = (await tx.execute(
        select(Incident.id, Incident.start).where(
            Incident.service_id == service_id, Incident.end.is_(None), Incident.source == "probe"
        )
    )).first()
    return None if found is None else (int(found[0]), found[1])


async def open_probe_incident(
    tx: Tx,
    *,
    service_id: str,
    start: dt.datetime,
    start_bound: dt.datetime | None,
    detected_at: dt.datetime,
    created_at: dt.datetime,
) -> int:
    """A new probe incident, open, cause ``provider`` (R-EX: counted until an operator says
    otherwise), or the one already open for the service with this start: the daemon
    retries this write until it succeeds, and a retry after a commit whose
    answer was lost must find what it wrote. Any other open one makes the partial unique
    index refuse the insert."""
    existing = await tx.scalar(
        select(Incident.id).where(
            Incident.service_id == service_id,
            Incident.end.is_(None),
            Incident.source == "probe",
            Incident.start == start,
        )
    )
    if existing is not None:
        return int(existing)
    result = await tx.execute(
        insert(Incident).values(
            service_id=service_id,
            start=start,
            start_bound=start_bound,
            detected_at=detected_at,
            source="probe",
            cause="provider",
            created_at=created_at,
        )
    )
    incident_id = inserted_id(result)
    await evidence.append(tx, "incident.open", "incidents", [incident_id])
    return incident_id


async def reopen(tx: Tx, incident_id: int, *, at: dt.datetime) -> None:
    """A flap: the incident that just closed is open again (audited: how many times an
    incident reopened decides what its recovery e-mails say, :func:`reopens`)."""
    await tx.execute(
        update(Incident).where(Incident.id == incident_id).values(end=None, end_bound=None)
    )
    await evidence.append(tx, "incident.reopen", "incidents", [incident_id])
    await audit.record(tx, at=at, actor="sla-monitor", action="incident.reopen",
                       object_type="incident", object_id=incident_id, detail={})


async def reopens(tx: Tx, incident_id: int) -> int:
    """How many times the incident reopened (:func:`reopen`)."""
    return await audit.count(tx, action="incident.reopen", object_type="incident",
                             object_id=incident_id)


async def close(
    tx: Tx, incident_id: int, *, end: dt.datetime, end_bound: dt.datetime | None
) -> None:
    await tx.execute(
        update(Incident).where(Incident.id == incident_id).values(end=end, end_bound=end_bound)
    )
    await evidence.append(tx, "incident.close", "incidents", [incident_id])


# --- manual incidents and causes (operators) ---------------------------------------------------


async def manual_overlapping(
    tx: Tx, service_id: str, start: dt.datetime, end: dt.datetime
) -> IncidentRecord | None:
    """A manual incident of ``service_id`` overlapping ``[start, end)``, if any."""
    row = (
        await tx.scalars(
            select(Incident)
            .where(
                Incident.service_id == service_id,
                Incident.source == "manual",
                Incident.start < end,
                or_(Incident.end.is_(None), Incident.end > start),
            )
            .order_by(Incident.id)
            .limit(1)
        )
    ).first()
    return None if row is None else _record(row)


async def add_manual(
    tx: Tx,
    *,
    service_id: str,
    start: dt.datetime,
    end: dt.datetime,
    cause: str,
    note: str | None,
    created_at: dt.datetime,
) -> int:
    result = await tx.execute(
        insert(Incident).values(
            service_id=service_id,
            start=start,
            end=end,
            source="manual",
            cause=cause,
            note=note,
            created_at=created_at,
            detected_at=None,
        )
    )
    incident_id = inserted_id(result)
    await evidence.append(tx, "incident.manual", "incidents", [incident_id])
    return incident_id


async def imported_starts(tx: Tx, service_id: str) -> set[dt.datetime]:
    """The starts of ``service_id``'s incidents imported from another monitor (an import
    run again adds none of them twice)."""
    rows = await tx.scalars(select(Incident.start).where(
        Incident.service_id == service_id, Incident.source == "imported"))
    return set(rows)


async def add_imported(
    tx: Tx,
    *,
    service_id: str,
    start: dt.datetime,
    start_bound: dt.datetime | None,
    end: dt.datetime,
    end_bound: dt.datetime | None,
    note: str,
    created_at: dt.datetime,
) -> int:
    """An outage another monitor saw (R-M1 bounds from its checks), chained like the rest."""
    result = await tx.execute(
        insert(Incident).values(
            service_id=service_id, start=start, start_bound=start_bound, end=end,
            end_bound=end_bound, source="imported", cause="provider", note=note,
            created_at=created_at, detected_at=None,
        )
    )
    incident_id = inserted_id(result)
    await evidence.append(tx, "incident.imported", "incidents", [incident_id])
    return incident_id


async def change_cause(
    tx: Tx, incident_id: int, *, old: str, new: str, reason: str, actor: str, at: dt.datetime
) -> None:
    """R-EX: the new cause, and the change with its reason in the audit log."""
    change = await tx.execute(
        insert(CauseChange).values(
            incident_id=incident_id,
            changed_at=at,
            old_cause=old,
            new_cause=new,
            reason=reason,
            actor=actor,
        )
    )
    await tx.execute(update(Incident).where(Incident.id == incident_id).values(cause=new))
    await evidence.append(tx, "cause.change", "cause_changes", [inserted_id(change)])
    await evidence.append(tx, "incident.cause", "incidents", [incident_id])


# --- reading -----------------------------------------------------------------------------------


async def find(
    tx: Tx,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    service_id: str | None = None,
    open_only: bool = False,
) -> list[IncidentRecord]:
    """Incidents touching ``[since, until)``, by start then id."""
    query = select(Incident).order_by(Incident.start, Incident.id)
    if since is not None:
        query = query.where(or_(Incident.end.is_(None), Incident.end > since))
    if until is not None:
        query = query.where(Incident.start < until)
    if service_id is not None:
        query = query.where(Incident.service_id == service_id)
    if open_only:
        query = query.where(Incident.end.is_(None))
    return [_record(row) for row in await tx.scalars(query)]


async def touching(
    tx: Tx, start: dt.datetime, end: dt.datetime, service_ids: Iterable[str] | None = None
) -> list[IncidentRecord]:
    """Every incident overlapping ``[start, end)`` (a month's), by id; only those of
    ``service_ids`` when given (one customer's dependencies)."""
    # Columns, not ORM objects: a month of 50,000 incidents is read for every report.
    query = select(*_COLUMNS).where(
        Incident.start < end, or_(Incident.end.is_(None), Incident.end > start)
    )
    if service_ids is None:
        return [IncidentRecord(*row) for row in await tx.execute(query.order_by(Incident.id))]
    ids = sorted(set(service_ids))
    found: list[IncidentRecord] = []
    for index in range(0, len(ids), _CHUNK):
        chunk = query.where(Incident.service_id.in_(ids[index : index + _CHUNK]))
        found += [IncidentRecord(*row) for row in await tx.execute(chunk)]
    return sorted(found, key=lambda incident: incident.id)


async def changed_since(
    tx: Tx, *, after_id: int, recheck: Iterable[int] = ()
) -> list[IncidentRecord]:
    """Incidents a running month's view must re-read: every one with an id above
    ``after_id`` (new), every open one (its end moves), and those in ``recheck`` (open
    last time, or with a cause changed since), by id."""
    ids = sorted(set(recheck))
    found = {
        row.id: _record(row)
        for row in await tx.scalars(
            select(Incident).where(or_(Incident.id > after_id, Incident.end.is_(None)))
        )
    }
    for index in range(0, len(ids), _CHUNK):
        for row in await tx.scalars(
            select(Incident).where(Incident.id.in_(ids[index : index + _CHUNK]))
        ):
            found[row.id] = _record(row)
    return [found[key] for key in sorted(found)]


async def cause_changes_since(tx: Tx, after_id: int) -> tuple[int, set[int]]:
    """(highest cause-change id, incidents whose cause changed after ``after_id``)."""
    rows = (
        await tx.execute(
            select(CauseChange.id, CauseChange.incident_id).where(CauseChange.id > after_id)
        )
    ).all()
    return max((row[0] for row in rows), default=after_id), {row[1] for row in rows}


@dataclass(frozen=True, slots=True)
class CauseStep:
    """One cause change, for a public timeline: when and what, never why or who."""

    at: dt.datetime
    old_cause: str
    new_cause: str


async def cause_history(tx: Tx, incident_ids: Iterable[int]) -> dict[int, list[CauseStep]]:
    """Incident id -> its cause changes in time order."""
    ids = sorted(set(incident_ids))
    history: dict[int, list[CauseStep]] = {}
    for index in range(0, len(ids), _CHUNK):
        rows = await tx.execute(
            select(
                CauseChange.incident_id,
                CauseChange.changed_at,
                CauseChange.old_cause,
                CauseChange.new_cause,
            )
            .where(CauseChange.incident_id.in_(ids[index : index + _CHUNK]))
            .order_by(CauseChange.changed_at, CauseChange.id)
        )
        for incident_id, at, old, new in rows:
            history.setdefault(incident_id, []).append(CauseStep(at, old, new))
    return history


@dataclass(frozen=True, slots=True)
class UpdateRecord:
    """An operator's update of an incident (its status and message, as posted)."""

    id: int
    incident_id: int
    status: str
    message: str
    posted_at: dt.datetime
    actor: str


async def add_update(
    tx: Tx, incident_id: int, *, status: str, message: str, actor: str, at: dt.datetime
) -> int:
    """Record an operator's update; its id."""
    result = await tx.execute(
        insert(IncidentUpdate)
        .values(incident_id=incident_id, status=status, message=message, posted_at=at,
                actor=actor)
    )
    update_id = inserted_id(result)
    await evidence.append(tx, "incident.update", "incident_updates", [update_id])
    return update_id


async def updates(tx: Tx, incident_ids: Iterable[int]) -> dict[int, list[UpdateRecord]]:
    """Incident id -> its operators' updates in the order they were posted."""
    ids = sorted(set(incident_ids))
    found: dict[int, list[UpdateRecord]] = {}
    for index in range(0, len(ids), _CHUNK):
        rows = await tx.execute(
            select(IncidentUpdate)
            .where(IncidentUpdate.incident_id.in_(ids[index : index + _CHUNK]))
            .order_by(IncidentUpdate.posted_at, IncidentUpdate.id)
        )
        for row in rows.scalars():
            found.setdefault(row.incident_id, []).append(UpdateRecord(
                row.id, row.incident_id, row.status, row.message, row.posted_at, row.actor))
    return found


async def started_between(
    tx: Tx, earliest: dt.datetime, latest: dt.datetime
) -> list[IncidentRecord]:
    """Incidents that started in ``[earliest, latest]``, by id (the D-2 duty checks)."""
    query = (
        select(Incident)
        .where(Incident.start >= earliest, Incident.start <= latest)
        .order_by(Incident.id)
    )
    return [_record(row) for row in await tx.scalars(query)]


# --- notifications (R-N1, D-2) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FirstNotice:
    """The earliest notification of one customer about one incident."""

    at: dt.datetime
    channel: str


async def earliest_per_customer(
    tx: Tx,
    columns: tuple[InstrumentedAttribute[int], InstrumentedAttribute[str],
                   InstrumentedAttribute[dt.datetime], InstrumentedAttribute[str]],
    ids: Iterable[int],
    customer_ids: Iterable[str] | None = None,
) -> dict[tuple[int, str], FirstNotice]:
    """(id, customer id) -> the earliest of the rows whose ``columns`` are (id, customer id,
    sent at, channel), for ``ids`` (read in chunks) and only ``customer_ids`` when given:
    an incident's notifications, a window's notices."""
    earliest: dict[tuple[int, str], tuple[dt.datetime, str]] = {}
    async for rows in _chunks(tx, columns, ids, customer_ids):
        for row_id, customer_id, at, channel in rows:
            key = (row_id, customer_id)
            known = earliest.get(key)
            if known is None or at < known[0]:
                earliest[key] = (at, channel)
    # One record per pair at the end (a month's hundreds of thousands of notifications).
    return {key: FirstNotice(at, channel) for key, (at, channel) in earliest.items()}


async def _chunks(
    tx: Tx, columns: Sequence[InstrumentedAttribute[Any]], ids: Iterable[int],
    customer_ids: Iterable[str] | None,
) -> AsyncIterator[Iterable[Any]]:
    """The rows of ``columns`` (an id, a customer id, then what is wanted) of ``ids``, a
    chunk of ids at a time, only of ``customer_ids`` when given."""
    id_column, customer_column = columns[0], columns[1]
    wanted = sorted(set(ids))
    customers = None if customer_ids is None else sorted(set(customer_ids))
    for index in range(0, len(wanted), _CHUNK):
        query = select(*columns).where(id_column.in_(wanted[index : index + _CHUNK]))
        if customers is not None:
            query = query.where(customer_column.in_(customers))
        yield await tx.execute(query)


async def earliest_times(
    tx: Tx,
    columns: tuple[InstrumentedAttribute[int], InstrumentedAttribute[str],
                   InstrumentedAttribute[dt.datetime]],
    ids: Iterable[int],
    customer_ids: Iterable[str] | None = None,
) -> dict[tuple[int, str], dt.datetime]:
    """:func:`earliest_per_customer`'s times alone (what a month's report reads of a
    notification or notice, for hundreds of thousands of them): (id, customer id) -> the
    earliest ``at`` of the rows whose ``columns`` are (id, customer id, at)."""
    earliest: dict[tuple[int, str], dt.datetime] = {}
    known = earliest.get
    async for rows in _chunks(tx, columns, ids, customer_ids):
        for row_id, customer_id, at in rows:
            key = (row_id, customer_id)
            before = known(key)
            if before is None or at < before:
                earliest[key] = at
    return earliest


@dataclass(frozen=True, slots=True)
class NotificationsRecorded:
    incident_start: dt.datetime | None
    first_for: tuple[str, ...]  # customers with no earlier notification of this incident


async def record_notifications(
    tx: Tx,
    incident_id: int,
    customer_ids: Sequence[str],
    *,
    channel: str,
    at: dt.datetime,
    recorded_at: dt.datetime,
    note: str | None = None,
    outbox_id: int | None = None,
) -> NotificationsRecorded:
    """Customers were told of an incident at ``at``: an SMTP acceptance (``outbox_id``) or a
    call an operator logged. The one writer of ``notifications``: the R-N1 evidence."""
    told: set[str] = set()
    for chosen in in_chunks(customer_ids, 500):  # a panel's outage: every customer
        earlier = await tx.execute(
            select(Notification.customer_id)
            .where(Notification.incident_id == incident_id,
                   Notification.customer_id.in_(chosen))
            .distinct())
        told.update(customer_id for (customer_id,) in earlier)
    start = await tx.scalar(select(Incident.start).where(Incident.id == incident_id))
    if customer_ids:
        connection = await tx.connection()
        written = await connection.execute(
            insert(Notification).returning(Notification.id),
            [
                {
                    "incident_id": incident_id,
                    "customer_id": customer_id,
                    "channel": channel,
                    "notified_at": at,
                    "outbox_id": outbox_id,
                    "note": note,
                    "recorded_at": recorded_at,
                }
                for customer_id in customer_ids
            ],
        )
        await evidence.append(tx, "notification", "notifications", list(written.scalars()))
    return NotificationsRecorded(start, tuple(c for c in customer_ids if c not in told))


async def first_notifications(
    tx: Tx, incident_ids: Iterable[int], customer_ids: Iterable[str] | None = None
) -> dict[tuple[int, str], FirstNotice]:
    """(incident id, customer id) -> the earliest notification (R-N1 evidence); only of
    ``customer_ids`` when given."""
    return await earliest_per_customer(
        tx,
        (Notification.incident_id, Notification.customer_id, Notification.notified_at,
         Notification.channel),
        incident_ids,
        customer_ids,
    )


async def first_notified_at(
    tx: Tx, incident_ids: Iterable[int], customer_ids: Iterable[str] | None = None
) -> dict[tuple[int, str], dt.datetime]:
    """(incident id, customer id) -> when the earliest notification reached the customer
    (R-N1), as the engine reads it (:func:`first_notifications` without the channels);
    only of ``customer_ids`` when given."""
    return await earliest_times(
        tx, (Notification.incident_id, Notification.customer_id, Notification.notified_at),
        incident_ids, customer_ids)


async def notifications_since(
    tx: Tx, after_id: int
) -> tuple[int, list[tuple[int, str, dt.datetime]]]:
    """(highest notification id, (incident id, customer id, notified at) of every
    notification with an id above ``after_id``)."""
    rows = (
        await tx.execute(
            select(
                Notification.id,
                Notification.incident_id,
                Notification.customer_id,
                Notification.notified_at,
            ).where(Notification.id > after_id)
        )
    ).all()
    return (
        max((row[0] for row in rows), default=after_id),
        [(incident_id, customer_id, at) for _, incident_id, customer_id, at in rows],
    )


async def watermarks(tx: Tx) -> tuple[int, int, int]:
    """The highest incident, cause-change and notification ids (0 when none): where a
    running month's next deltas start (:func:`changed_since`, :func:`cause_changes_since`,
    :func:`notifications_since`)."""
    row = (
        await tx.execute(
            select(
                select(func.coalesce(func.max(Incident.id), 0)).scalar_subquery(),
                select(func.coalesce(func.max(CauseChange.id), 0)).scalar_subquery(),
                select(func.coalesce(func.max(Notification.id), 0)).scalar_subquery(),
            )
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])
