"""The audit log of operator actions that change records (who, when, what): the only writer
of ``audit_events``. Cause changes have their own log (:func:`monitor.store.incidents.change_cause`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select

from monitor.store.db import Tx, in_chunks
from monitor.store.models import AuditEvent

__all__ = ["AuditRecord", "count", "events", "record", "record_many"]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One event as stored."""

    object_id: str
    at: dt.datetime
    actor: str
    detail: dict[str, Any]


async def events(tx: Tx, *, action: str, object_type: str, object_ids: Iterable[object]
                 ) -> list[AuditRecord]:
    """The ``action`` events of the objects of ``object_ids``, oldest first."""
    found: list[AuditRecord] = []
    for ids in in_chunks((str(i) for i in object_ids), 500):
        rows = await tx.execute(
            select(AuditEvent.object_id, AuditEvent.at, AuditEvent.actor, AuditEvent.detail)
            .where(AuditEvent.action == action, AuditEvent.object_type == object_type,
                   AuditEvent.object_id.in_(ids))
            .order_by(AuditEvent.at, AuditEvent.id))
        found += [AuditRecord(object_id, at, actor, dict(detail or {}))
                  for object_id, at, actor, detail in rows]
    found.sort(key=lambda event: event.at)
    return found


async def count(tx: Tx, *, action: str, object_type: str, object_id: object) -> int:
    """How many ``action`` events one object has."""
    return int(await tx.scalar(
        select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.object_type == object_type,
            AuditEvent.object_id == str(object_id))) or 0)


async def record(
    tx: Tx,
    *,
    at: dt.datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    detail: Mapping[str, object],
) -> None:
    """``action`` (``incident.add``, ``maintenance.add``...) by ``actor`` on one object."""
    await tx.execute(
        insert(AuditEvent).values(
            at=at,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            detail=dict(detail),
        )
    )


async def record_many(tx: Tx, events: Sequence[Mapping[str, object]]) -> None:
    """Several events in one statement, each with :func:`record`'s fields (``at``,
    ``actor``, ``action``, ``object_type``, ``object_id``, ``detail``)."""
    if not events:
        return
    connection = await tx.connection()
    await connection.execute(insert(AuditEvent), [
        {**event, "object_id": str(event["object_id"]),
         "detail": dict(event["detail"])}  # type: ignore[call-overload]
        for event in events])
