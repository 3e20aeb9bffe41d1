"""The audit log of operator actions that change records (who, when, what): the only writer
of ``audit_events``. Cause changes have their own log (:func:`monitor.store.incidents.change_cause`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy import insert

from monitor.store.db import Tx
from monitor.store.models import AuditEvent

__all__ = ["record", "record_many"]


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
