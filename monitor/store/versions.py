"""What the pages show has changed or not: a few counts and highest ids that change with
every write the public pages and the customer pages read (incidents and their updates,
maintenance, unknown time, the daemon's runs, the probes' latest states, claims,
tickets, the ledger, statements, closed months' revisions and their signed checkpoints, the audit log of the operators' edits), read in one
statement. Read-only.

The pages' cache (:mod:`monitor.http.cache`) renders a page again only when this (or
the minute) changes: comparing it is one indexed statement, rendering a page is the
month's engine. Rows only ever added are counted by their highest id; rows that change
in place (an incident ending, a window cancelled, a claim decided) by a count of the
column that changes. A change the audit log records (an operator's edit) moves its id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select

from monitor.store.db import Tx
from monitor.store.models import (
    AuditEvent,
    CauseChange,
    Claim,
    DaemonSession,
    EvidenceCheckpoint,
    Incident,
    IncidentUpdate,
    LedgerEntry,
    MaintenanceNotice,
    MaintenanceWindow,
    Notification,
    ProbeRun,
    ReportRevision,
    StatementSent,
    TicketEvent,
    UnknownInterval,
)

__all__ = ["pages_version"]


def _scalar(column: ColumnElement[Any], *where: ColumnElement[bool]) -> ColumnElement[Any]:
    return select(column).where(*where).scalar_subquery()


async def pages_version(tx: Tx, target_ids: Sequence[str]) -> tuple[object, ...]:
    """A tuple that changes whenever a row a page reads changes (see the module), with the
    latest probe run (id and state) of each of ``target_ids``: the services the page
    shows."""
    parts: list[ColumnElement[Any]] = [
        _scalar(func.max(Incident.id)),
        _scalar(func.count(), Incident.end.is_(None)),
        _scalar(func.count(Incident.detected_at)),
        _scalar(func.max(CauseChange.id)),
        _scalar(func.max(IncidentUpdate.id)),
        _scalar(func.max(Notification.id)),
        _scalar(func.max(MaintenanceWindow.id)),
        _scalar(func.count(MaintenanceWindow.cancelled_at)),
        _scalar(func.max(MaintenanceNotice.id)),
        _scalar(func.max(UnknownInterval.id)),
        _scalar(func.count(), UnknownInterval.end.is_(None)),
        _scalar(func.max(DaemonSession.id)),
        _scalar(func.count(DaemonSession.stopped_at)),
        _scalar(func.max(AuditEvent.id)),
        _scalar(func.max(Claim.id)),
        _scalar(func.count(Claim.receipt_sent_at)),
        _scalar(func.count(Claim.decided_at)),
        _scalar(func.count(Claim.decision_sent_at)),
        _scalar(func.max(TicketEvent.id)),
        _scalar(func.max(LedgerEntry.id)),
        _scalar(func.max(StatementSent.id)),
        # A closed month's revision and its signed chain head (the customer page's evidence).
        _scalar(func.max(ReportRevision.id)),
        _scalar(func.max(EvidenceCheckpoint.id), EvidenceCheckpoint.revision_id.is_not(None)),
    ]
    found = tuple((await tx.execute(select(*parts))).one())
    if not target_ids:
        return found
    latest = (
        select(func.max(ProbeRun.id).label("id"))
        .where(ProbeRun.target_id.in_(list(target_ids)))
        .group_by(ProbeRun.target_id)
        .subquery()
    )
    runs = await tx.execute(
        select(ProbeRun.target_id, ProbeRun.id, ProbeRun.state)
        .where(ProbeRun.id.in_(select(latest.c.id)))
        .order_by(ProbeRun.target_id)
    )
    return found + tuple(tuple(row) for row in runs)
