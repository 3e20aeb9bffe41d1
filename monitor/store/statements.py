"""Monthly statements: the statements queued per customer and revision, the
claim reminders, and the daemon's automatic runs. The only writer of ``statements``,
``claim_reminders`` and ``statement_runs``; what they mean is
:mod:`monitor.actions.statements`'.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update

from monitor.store.db import Tx, dialect_insert
from monitor.store.models import ClaimReminder, StatementRun, StatementSent

__all__ = [
    "ReminderRecord",
    "StatementRecord",
    "StatementRunRecord",
    "add_reminder",
    "add_statement",
    "add_statements",
    "finish_run",
    "reminded",
    "reminders_done",
    "run",
    "sent",
    "start_run",
]


@dataclass(frozen=True, slots=True)
class StatementRecord:
    id: int
    calendar: str
    month: str
    customer_id: str
    revision: int
    kind: str  # statement | correction
    corrects: int | None
    changes: list[str] | None
    dedupe_key: str
    requested_by: str
    queued_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ReminderRecord:
    calendar: str
    month: str
    customer_id: str
    revision: int
    days: Decimal
    amount: Decimal
    dedupe_key: str
    queued_at: dt.datetime


@dataclass(frozen=True, slots=True)
class StatementRunRecord:
    calendar: str
    month: str
    revision: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    reminded_at: dt.datetime | None = None


def _statement(row: StatementSent) -> StatementRecord:
    return StatementRecord(row.id, row.calendar, row.month, row.customer_id, row.revision,
                           row.kind, row.corrects, row.changes, row.dedupe_key,
                           row.requested_by, row.queued_at)


async def sent(tx: Tx, calendar: str, month: str, customer: str | None = None
               ) -> list[StatementRecord]:
    """Every statement queued for the month (only ``customer``'s when given: one statement
    shown read the month's 10,000), by customer then revision."""
    query = (select(StatementSent)
             .where(StatementSent.calendar == calendar, StatementSent.month == month)
             .order_by(StatementSent.customer_id, StatementSent.revision))
    if customer is not None:
        query = query.where(StatementSent.customer_id == customer)
    return [_statement(row) for row in await tx.scalars(query)]


async def add_statement(tx: Tx, record: StatementRecord) -> bool:
    """One per customer and revision (a constraint: two senders racing make one); False when
    it was recorded already."""
    result: Any = await _add(tx, _values(record))
    return bool(result.rowcount == 1)


async def add_statements(tx: Tx, records: Sequence[StatementRecord]) -> None:
    """:func:`add_statement` for each of ``records``, in one statement (a month's run
    records a batch at a time); those recorded already are left as they are."""
    if records:
        await _add(tx, [_values(record) for record in records])


async def _add(tx: Tx, values: dict[str, Any] | list[dict[str, Any]]) -> Any:
    # The values as parameters of one statement, compiled once and cached (a month's run
    # records thousands), on the connection rather than through the ORM's bulk path.
    connection = await tx.connection()
    return await connection.execute(
        dialect_insert(tx)(StatementSent).on_conflict_do_nothing(
            index_elements=["calendar", "month", "customer_id", "revision"]), values)


def _values(record: StatementRecord) -> dict[str, Any]:
    return {
        "calendar": record.calendar, "month": record.month, "customer_id": record.customer_id,
        "revision": record.revision, "kind": record.kind, "corrects": record.corrects,
        "changes": record.changes, "dedupe_key": record.dedupe_key,
        "requested_by": record.requested_by, "queued_at": record.queued_at,
    }


async def reminded(tx: Tx, calendar: str, month: str) -> list[ReminderRecord]:
    rows = await tx.scalars(
        select(ClaimReminder)
        .where(ClaimReminder.calendar == calendar, ClaimReminder.month == month)
        .order_by(ClaimReminder.customer_id)
    )
    return [ReminderRecord(r.calendar, r.month, r.customer_id, r.revision, r.days, r.amount,
                           r.dedupe_key, r.queued_at) for r in rows]


async def add_reminder(tx: Tx, record: ReminderRecord) -> bool:
    """One per customer and month (a constraint); False when it was recorded already."""
    result: Any = await tx.execute(dialect_insert(tx)(ClaimReminder).values(
        calendar=record.calendar, month=record.month, customer_id=record.customer_id,
        revision=record.revision, days=record.days, amount=record.amount,
        dedupe_key=record.dedupe_key, queued_at=record.queued_at,
    ).on_conflict_do_nothing(index_elements=["calendar", "month", "customer_id"]))
    return bool(result.rowcount == 1)


async def run(tx: Tx, calendar: str, month: str) -> StatementRunRecord | None:
    row = await tx.get(StatementRun, (calendar, month))
    if row is None:
        return None
    return StatementRunRecord(row.calendar, row.month, row.revision, row.started_at, row.finished_at,
                     row.reminded_at)


async def start_run(tx: Tx, calendar: str, month: str, revision: int, at: dt.datetime) -> None:
    """Record that the run sends ``revision`` now (a new one, or a later revision)."""
    row = await tx.get(StatementRun, (calendar, month), with_for_update=True)
    if row is None:
        await tx.execute(insert(StatementRun).values(
            calendar=calendar, month=month, revision=revision, started_at=at, finished_at=None,
            reminded_at=None))
        return
    await tx.execute(
        update(StatementRun)
        .where(StatementRun.calendar == calendar, StatementRun.month == month)
        .values(revision=revision, started_at=at, finished_at=None))


async def finish_run(tx: Tx, calendar: str, month: str, revision: int, at: dt.datetime) -> None:
    await tx.execute(
        update(StatementRun)
        .where(StatementRun.calendar == calendar, StatementRun.month == month,
               StatementRun.revision == revision)
        .values(finished_at=at))


async def reminders_done(tx: Tx, calendar: str, month: str, at: dt.datetime) -> None:
    await tx.execute(
        update(StatementRun)
        .where(StatementRun.calendar == calendar, StatementRun.month == month)
        .values(reminded_at=at))
