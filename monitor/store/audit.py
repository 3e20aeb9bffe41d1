"""The audit log of operator actions that change records (who, when, what): the only writer
of ``audit_events``. Cause changes have their own log (:func:`monitor.store.incidents.change_cause`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import insert

from monitor.store.db import Tx
from monitor.store.models import AuditEvent

__all__ = ["record"]


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
