"""Maintenance windows, the services they cover, and when each customer got the notice
(R-EX1, D-3). The only writer of ``maintenance_windows``, ``maintenance_services`` and
``maintenance_notices``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from monitor.store import evidence
from monitor.store.db import Tx, in_chunks, inserted_id
from monitor.store.incidents import FirstNotice, earliest_per_customer, earliest_times
from monitor.store.models import (
    MaintenanceNotice,
    MaintenanceService,
    MaintenanceUpdate,
    MaintenanceWindow,
    OutboxMessage,
    RecurringOccurrence,
)

_CHUNK = 500  # ids per IN (...), well under SQLite's bound-parameter limit

__all__ = [
    "MaintenanceUpdateRecord",
    "WindowRecord",
    "add_notices",
    "add_occurrence",
    "add_update",
    "add_window",
    "cancel_window",
    "cancellations_owed",
    "cancelled_since",
    "current_and_upcoming",
    "first_noticed_at",
    "first_notices",
    "get_window",
    "list_windows",
    "notice_watermark",
    "notices_since",
    "recorded_occurrences",
    "recorded_touching",
    "starting_between",
    "touching",
    "updates",
    "without_notice",
]


@dataclass(frozen=True, slots=True)
class WindowRecord:
    """A maintenance window and the services and servers it names."""

    id: int
    start: dt.datetime
    end: dt.datetime
    reason: str
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
    service_ids: tuple[str, ...]  # sorted


def _record(row: MaintenanceWindow) -> WindowRecord:
    return WindowRecord(
        row.id,
        row.start,
        row.end,
        row.reason,
        row.created_at,
        row.cancelled_at,
        tuple(sorted(s.service_id for s in row.services)),
    )


async def add_window(
    tx: Tx,
    *,
    services: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    reason: str,
    created_at: dt.datetime,
) -> int:
    result = await tx.execute(
        insert(MaintenanceWindow).values(start=start, end=end, reason=reason, created_at=created_at)
    )
    window_id = inserted_id(result)
    await tx.execute(
        insert(MaintenanceService), [{"window_id": window_id, "service_id": s} for s in services]
    )
    await evidence.append(tx, "maintenance.add", "maintenance_windows", [window_id])
    return window_id


async def cancel_window(tx: Tx, window_id: int, *, at: dt.datetime) -> bool:
    """The window is called off at ``at``: no notice of it is sent from now on, and it
    excludes nothing (R-EX1: the reads here leave a cancelled window out). Chained as a
    fact of its own. False when it was cancelled already (nothing written)."""
    result = await tx.execute(
        update(MaintenanceWindow)
        .where(MaintenanceWindow.id == window_id, MaintenanceWindow.cancelled_at.is_(None))
        .values(cancelled_at=at))
    if int(result.rowcount or 0) != 1:  # type: ignore[attr-defined]
        return False
    await evidence.append(tx, "maintenance.cancel", "maintenance_windows", [window_id])
    return True


async def cancellations_owed(tx: Tx, now: dt.datetime) -> dict[int, list[str]]:
    """Window id -> the customers a cancelled window's notice reached (D-3: by e-mail or
    recorded by other means) who have no cancellation queued (``maintenance_cancelled``),
    for the windows that have not ended."""
    cancelled_queued = select(OutboxMessage.id).where(
        OutboxMessage.kind == "maintenance_cancelled",
        OutboxMessage.window_id == MaintenanceNotice.window_id,
        OutboxMessage.customer_id == MaintenanceNotice.customer_id)
    rows = await tx.execute(
        select(MaintenanceNotice.window_id, MaintenanceNotice.customer_id)
        .join(MaintenanceWindow, MaintenanceWindow.id == MaintenanceNotice.window_id)
        .where(MaintenanceWindow.cancelled_at.is_not(None), MaintenanceWindow.end > now,
               ~cancelled_queued.exists())
        .distinct()
        .order_by(MaintenanceNotice.window_id, MaintenanceNotice.customer_id))
    owed: dict[int, list[str]] = {}
    for window_id, customer_id in rows:
        owed.setdefault(window_id, []).append(customer_id)
    return owed


async def add_occurrence(
    tx: Tx,
    recurring_id: str,
    *,
    services: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    reason: str,
    created_at: dt.datetime,
) -> int | None:
    """The occurrence of the recurring window ``recurring_id`` that begins at ``start``,
    recorded as a window (:func:`add_window`); None when it is recorded already (another
    node or run, meanwhile): nothing written, the database's unique key decides."""
    try:
        async with tx.begin_nested():
            window_id = await add_window(tx, services=services, start=start, end=end,
                                         reason=reason, created_at=created_at)
            await tx.execute(insert(RecurringOccurrence).values(
                recurring_id=recurring_id, start=start, window_id=window_id))
    except IntegrityError:
        return None
    return window_id


async def recorded_occurrences(tx: Tx, recurring_ids: Iterable[str],
                               since: dt.datetime) -> set[tuple[str, dt.datetime]]:
    """(recurring id, start) of the occurrences of these schedules recorded, beginning at
    or after ``since`` (cancelled ones included: called off, not to be recorded again)."""
    ids = sorted(set(recurring_ids))
    rows = await tx.execute(
        select(RecurringOccurrence.recurring_id, RecurringOccurrence.start)
        .where(RecurringOccurrence.recurring_id.in_(ids), RecurringOccurrence.start >= since))
    return {(recurring_id, start) for recurring_id, start in rows}


async def add_notices(
    tx: Tx,
    window_id: int,
    customer_ids: Sequence[str],
    *,
    sent_at: dt.datetime,
    channel: str,
    outbox_id: int | None = None,
) -> None:
    """The notice of a window reached these customers at ``sent_at`` (D-3): an SMTP
    acceptance (``outbox_id``, channel ``email``) or a notice an operator recorded
    (channel ``other``)."""
    if customer_ids:
        connection = await tx.connection()
        written = await connection.execute(
            insert(MaintenanceNotice).returning(MaintenanceNotice.id),
            [
                {
                    "window_id": window_id,
                    "customer_id": customer_id,
                    "sent_at": sent_at,
                    "channel": channel,
                    "outbox_id": outbox_id,
                }
                for customer_id in customer_ids
            ],
        )
        await evidence.append(tx, "maintenance.notice", "maintenance_notices",
                              list(written.scalars()))


async def get_window(tx: Tx, window_id: int) -> WindowRecord | None:
    row = await tx.get(
        MaintenanceWindow, window_id, options=[selectinload(MaintenanceWindow.services)]
    )
    return None if row is None else _record(row)


async def recorded_touching(
    tx: Tx, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[WindowRecord]:
    """Windows, cancelled ones too (touching ``[since, until)`` when both are given), by
    start then id."""
    query = (
        select(MaintenanceWindow)
        .options(selectinload(MaintenanceWindow.services))
        .order_by(MaintenanceWindow.start, MaintenanceWindow.id)
    )
    if since is not None and until is not None:
        query = query.where(MaintenanceWindow.end > since, MaintenanceWindow.start < until)
    return [_record(row) for row in await tx.scalars(query)]


async def list_windows(
    tx: Tx, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[tuple[WindowRecord, int]]:
    """Windows (touching ``[since, until)`` when both are given) with how many customers have
    a notice recorded, by start then id."""
    windows = await recorded_touching(tx, since, until)
    notices: dict[int, int] = {}
    for chosen in in_chunks([window.id for window in windows], _CHUNK):
        rows = await tx.execute(
            select(MaintenanceNotice.window_id, func.count())
            .where(MaintenanceNotice.window_id.in_(chosen))
            .group_by(MaintenanceNotice.window_id))
        notices.update((window_id, int(count)) for window_id, count in rows)
    return [(window, notices.get(window.id, 0)) for window in windows]


async def touching(tx: Tx, start: dt.datetime, end: dt.datetime) -> list[WindowRecord]:
    """Windows not cancelled overlapping ``[start, end)`` (a month's), by id."""
    query = (
        select(MaintenanceWindow)
        .options(selectinload(MaintenanceWindow.services))
        .where(
            MaintenanceWindow.start < end,
            MaintenanceWindow.end > start,
            MaintenanceWindow.cancelled_at.is_(None),
        )
        .order_by(MaintenanceWindow.id)
    )
    return [_record(row) for row in await tx.scalars(query)]


async def cancelled_since(tx: Tx, since: dt.datetime, now: dt.datetime) -> list[WindowRecord]:
    """Windows cancelled at or after ``since`` that have not ended by ``now``, by id."""
    query = (
        select(MaintenanceWindow)
        .options(selectinload(MaintenanceWindow.services))
        .where(MaintenanceWindow.cancelled_at >= since, MaintenanceWindow.end > now)
        .order_by(MaintenanceWindow.id)
    )
    return [_record(row) for row in await tx.scalars(query)]


async def starting_between(
    tx: Tx, earliest: dt.datetime, latest: dt.datetime
) -> list[WindowRecord]:
    """Windows not cancelled starting in ``[earliest, latest]``, by id (the D-3 checks)."""
    query = (
        select(MaintenanceWindow)
        .options(selectinload(MaintenanceWindow.services))
        .where(
            MaintenanceWindow.cancelled_at.is_(None),
            MaintenanceWindow.start >= earliest,
            MaintenanceWindow.start <= latest,
        )
        .order_by(MaintenanceWindow.id)
    )
    return [_record(row) for row in await tx.scalars(query)]


async def without_notice(tx: Tx, now: dt.datetime) -> list[int]:
    """Windows that have not ended, are not cancelled, and have neither a queued notice nor a
    recorded one: recorded elsewhere (``sla-monitor maintenance add``), not yet announced."""
    query = (
        select(MaintenanceWindow.id)
        .where(
            MaintenanceWindow.end > now,
            MaintenanceWindow.cancelled_at.is_(None),
            MaintenanceWindow.id.not_in(
                select(OutboxMessage.window_id).where(OutboxMessage.window_id.is_not(None))
            ),
            MaintenanceWindow.id.not_in(select(MaintenanceNotice.window_id)),
        )
        .order_by(MaintenanceWindow.id)
    )
    return list(await tx.scalars(query))


async def first_notices(
    tx: Tx, window_ids: Iterable[int], customer_ids: Iterable[str] | None = None
) -> dict[tuple[int, str], FirstNotice]:
    """(window id, customer id) -> the earliest notice (D-3, R-EX1 evidence); only of
    ``customer_ids`` when given."""
    return await earliest_per_customer(
        tx,
        (MaintenanceNotice.window_id, MaintenanceNotice.customer_id, MaintenanceNotice.sent_at,
         MaintenanceNotice.channel),
        window_ids,
        customer_ids,
    )


async def first_noticed_at(
    tx: Tx, window_ids: Iterable[int], customer_ids: Iterable[str] | None = None
) -> dict[tuple[int, str], dt.datetime]:
    """(window id, customer id) -> when the earliest notice was sent (D-3, R-EX1), as the
    engine reads it (:func:`first_notices` without the channels); only of
    ``customer_ids`` when given."""
    return await earliest_times(
        tx, (MaintenanceNotice.window_id, MaintenanceNotice.customer_id,
             MaintenanceNotice.sent_at),
        window_ids, customer_ids)


async def current_and_upcoming(tx: Tx, now: dt.datetime) -> list[WindowRecord]:
    """Windows not cancelled that have not ended at ``now``, by start then id (the status
    page's announced maintenance)."""
    query = (
        select(MaintenanceWindow)
        .options(selectinload(MaintenanceWindow.services))
        .where(MaintenanceWindow.end > now, MaintenanceWindow.cancelled_at.is_(None))
        .order_by(MaintenanceWindow.start, MaintenanceWindow.id)
    )
    return [_record(row) for row in await tx.scalars(query)]


async def notices_since(
    tx: Tx, after_id: int
) -> tuple[int, list[tuple[int, str, dt.datetime]]]:
    """(highest notice id, (window id, customer id, sent at) of every notice with an id
    above ``after_id``)."""
    rows = (
        await tx.execute(
            select(
                MaintenanceNotice.id,
                MaintenanceNotice.window_id,
                MaintenanceNotice.customer_id,
                MaintenanceNotice.sent_at,
            ).where(MaintenanceNotice.id > after_id)
        )
    ).all()
    return (
        max((row[0] for row in rows), default=after_id),
        [(window_id, customer_id, at) for _, window_id, customer_id, at in rows],
    )


async def notice_watermark(tx: Tx) -> int:
    """The highest notice id (0 when none): where :func:`notices_since` starts next."""
    return int(await tx.scalar(select(func.coalesce(func.max(MaintenanceNotice.id), 0))) or 0)


# --- operators' updates ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MaintenanceUpdateRecord:
    """An operator's update of a maintenance window (its status and message, as posted)."""

    id: int
    window_id: int
    status: str
    message: str
    posted_at: dt.datetime
    actor: str


async def add_update(
    tx: Tx, window_id: int, *, status: str, message: str, actor: str, at: dt.datetime
) -> int:
    """Record an operator's update of a window; its id."""
    result = await tx.execute(
        insert(MaintenanceUpdate)
        .values(window_id=window_id, status=status, message=message, posted_at=at, actor=actor)
    )
    return inserted_id(result)


async def updates(tx: Tx, window_ids: Iterable[int]) -> dict[int, list[MaintenanceUpdateRecord]]:
    """Window id -> its operators' updates in the order they were posted."""
    ids = sorted(set(window_ids))
    found: dict[int, list[MaintenanceUpdateRecord]] = {}
    for index in range(0, len(ids), _CHUNK):
        rows = await tx.execute(
            select(MaintenanceUpdate)
            .where(MaintenanceUpdate.window_id.in_(ids[index : index + _CHUNK]))
            .order_by(MaintenanceUpdate.posted_at, MaintenanceUpdate.id)
        )
        for row in rows.scalars():
            found.setdefault(row.window_id, []).append(MaintenanceUpdateRecord(
                row.id, row.window_id, row.status, row.message, row.posted_at, row.actor))
    return found
