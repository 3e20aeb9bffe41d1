"""Maintenance windows and their notices (R-EX1, D-3)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from monitor.actions.common import (
    FreeText,
    checks_text,
    iso_utc,
    known,
    not_blank,
    not_future,
    ordered,
)
from monitor.config import Settings
from monitor.config.schema import ANNOUNCE_MARGIN, RecurringWindow
from monitor.config.settings import WEEKDAY_NUMBERS
from monitor.errors import InputError, NotFound, time_mark
from monitor.sla import CalendarName, day_of_month, in_time, notice_due
from monitor.store import audit, maintenance, outbox
from monitor.store.maintenance import MaintenanceUpdateRecord, WindowRecord

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = ["MAINTENANCE_UPDATE_STATUSES", "MaintenanceAdded", "MaintenanceCancelled",
           "MaintenanceListed", "MaintenanceUpdatePosted", "WindowRecord", "add_maintenance",
           "cancel_maintenance", "list_maintenance", "occurrences", "post_maintenance_update",
           "record_recurring"]

MAINTENANCE_UPDATE_STATUSES = ("in_progress", "completed")
"""What an operator's update says of a maintenance window, in Statuspage's words."""


@dataclass(frozen=True)
class MaintenanceAdded:
    window: WindowRecord
    noticed: tuple[str, ...]  # customers whose notice (by other means) was recorded
    # R-EX1: no notice recorded, and one e-mailed now would not be 48 h ahead: the window
    # will count as downtime.
    notice_late: bool


@dataclass(frozen=True)
class MaintenanceListed:
    window: WindowRecord
    notices: int  # customers with a notice recorded


@checks_text
async def add_maintenance(
    db: Database,
    settings: Settings,
    *,
    services: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    reason: FreeText,
    notified_at: dt.datetime | None = None,
    actor: str,
    now: dt.datetime,
) -> MaintenanceAdded:
    """A maintenance window (R-EX1). ``notified_at`` records a notice made by other means
    (D-3); otherwise the daemon e-mails the affected customers' technical contacts."""
    topology = settings.topology
    if not services:
        raise InputError("services", "", "one or more service ids, comma-separated")
    for service in services:
        known(service, topology.service_ids(), "services", "services and servers")
    repeated = sorted({s for s in services if list(services).count(s) > 1})
    if repeated:
        raise InputError(
            "services", ",".join(services), f"each service once ({', '.join(repeated)} repeated)"
        )
    ordered(start, end)
    not_blank(reason, "reason", "a non-empty reason (it is shown to customers)")
    if notified_at is not None:
        not_future(notified_at, now, "notified_at")
        if notified_at >= end:  # a notice after the window is no notice of it (D-3)
            raise InputError(
                "notified_at", iso_utc(notified_at), f"a time before {{end}} ({time_mark(end)})"
            )
    noticed: tuple[str, ...] = ()
    async with db.transaction() as tx:
        window_id = await maintenance.add_window(
            tx, services=services, start=start, end=end, reason=reason, created_at=now
        )
        if notified_at is not None:
            noticed = tuple(sorted({c for s in services for c in topology.affected_customers(s)}))
            await maintenance.add_notices(
                tx, window_id, noticed, sent_at=notified_at, channel="other"
            )
        await audit.record(
            tx,
            at=now,
            actor=actor,
            action="maintenance.add",
            object_type="maintenance",
            object_id=window_id,
            detail={"services": list(services), "start": start.isoformat(), "end": end.isoformat()},
        )
        window = await maintenance.get_window(tx, window_id)
    assert window is not None
    late = notified_at is None and not in_time(now, notice_due(start, settings.policy))
    return MaintenanceAdded(window, noticed, late)


def occurrences(window: RecurringWindow, zone: str, since: dt.datetime,
                until: dt.datetime, calendar: CalendarName = "gregorian") -> list[dt.datetime]:
    """The starts (UTC) of ``window``'s occurrences in ``[since, until)``: each of its
    weekdays (``every``; with ``weeks_of_month``, only the first to fifth or last such
    weekday of each month of ``calendar``), or each of its days of the month in
    ``calendar`` (``days_of_month``; ``last``, the month's last; a month without the day
    has none), at
    its time of day on the clock of ``zone``. A time the clocks skip that day (a
    daylight-saving change) is read with the offset before the change, an hour the clocks
    repeat as its first passing (``fold=0``)."""
    clock = ZoneInfo(zone)
    hour, minute = (int(part) for part in window.at.split(":"))
    day = since.astimezone(clock).date() - dt.timedelta(days=1)
    last = until.astimezone(clock).date()
    weekdays = {WEEKDAY_NUMBERS[name] for name in window.every or ()}
    month_days = set(window.days_of_month or ())
    weeks = set(window.weeks_of_month or ())
    found = []
    while day <= last:
        if month_days:
            number, days = day_of_month(day, calendar)
            begins = number in month_days or (number == days and "last" in month_days)
        else:
            begins = day.weekday() in weekdays
            if begins and weeks:  # the n-th such weekday of the month: days 7n-6 to 7n
                number, days = day_of_month(day, calendar)
                begins = (number - 1) // 7 + 1 in weeks or (
                    number + 7 > days and "last" in weeks)
        if begins:
            start = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=clock).astimezone(
                dt.UTC)
            if since <= start < until:
                found.append(start)
        day += dt.timedelta(days=1)
    return found


_DAY = dt.timedelta(days=1)  # the longest a recurring window lasts


async def record_recurring(db: Database, settings: Settings, *,
                           now: dt.datetime) -> list[WindowRecord]:
    """Record each occurrence of the recurring windows (``maintenance.recurring``) that
    begins within ``maintenance.announce`` of ``now`` and is not recorded yet, as
    ``maintenance add`` records a window (audited as ``recurring:ID``); the daemon then
    notices it as any window (D-3). An occurrence whose notice could no longer reach the
    customers in time (it begins within ``policy.maintenance_notice`` and the margin the
    configuration's check asks for) is not recorded: it would not be excluded (R-EX1).
    One called off (``maintenance cancel``) stays so; one whose services and times a
    window recorded already has (by hand, or under the schedule's former id) is not
    recorded again. Returns the windows recorded (not
    those another node or run recorded meanwhile)."""
    chosen = settings.config.maintenance
    if not chosen.recurring:
        return []
    horizon = now + dt.timedelta(seconds=chosen.announce)
    margin = now + dt.timedelta(seconds=ANNOUNCE_MARGIN)
    due = [(window, start) for window in chosen.recurring
           for start in occurrences(window, settings.timezone, now, horizon,
                                    settings.config.provider.calendar)
           if in_time(margin, notice_due(start, settings.policy))]
    if not due:
        return []
    made: list[WindowRecord] = []
    async with db.transaction() as tx:
        done = await maintenance.recorded_occurrences(tx, (window.id for window, _ in due), now)
        # A window of the same services and times already recorded, cancelled or not (by
        # hand, or by this schedule under another id before a rename): not recorded again.
        alike = {(w.start, w.end, frozenset(w.service_ids))
                 for w in await maintenance.recorded_touching(tx, now, horizon + _DAY)}
        for window, start in due:
            end = start + dt.timedelta(seconds=window.duration)
            if (window.id, start) in done or (start, end, frozenset(window.services)) in alike:
                continue
            window_id = await maintenance.add_occurrence(
                tx, window.id, services=window.services, start=start, end=end,
                reason=window.reason, created_at=now)
            if window_id is None:  # another node or run recorded it meanwhile
                continue
            await audit.record(
                tx, at=now, actor=f"recurring:{window.id}", action="maintenance.add",
                object_type="maintenance", object_id=window_id,
                detail={"services": list(window.services), "start": start.isoformat(),
                        "end": end.isoformat(), "recurring": window.id})
            recorded = await maintenance.get_window(tx, window_id)
            assert recorded is not None
            made.append(recorded)
    return made


async def list_maintenance(
    db: Database, *, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> list[MaintenanceListed]:
    """Windows (touching ``[since, until)`` when given) with how many customers have a
    notice recorded."""
    async with db.reading() as tx:
        found = await maintenance.list_windows(tx, since, until)
    return [MaintenanceListed(window, notices) for window, notices in found]


@dataclass(frozen=True)
class MaintenanceCancelled:
    window: WindowRecord  # as it stands now: cancelled
    withdrawn: int  # e-mails about it still waiting to be sent, withdrawn
    told: tuple[str, ...]  # customers its notice reached: the daemon e-mails each that it is off


async def cancel_maintenance(
    db: Database, *, window_id: int, actor: str, now: dt.datetime
) -> MaintenanceCancelled:
    """Call off a maintenance window that has not begun: it excludes nothing (R-EX1), no
    notice of it is sent from now on (the ones still waiting are withdrawn, D-3, the status
    page's subscribers' too), and the customers and subscribers its notice already reached
    are e-mailed that it is off (by the daemon, as it sends notices:
    :meth:`monitor.notify.Notifier.queue_new_windows`). Chained and
    audited. A window that began is part of the month's record: refused, as is one
    cancelled already."""
    async with db.transaction() as tx:
        window = await _window(tx, window_id)
        if window.cancelled_at is not None:
            raise InputError("window_id", window_id, "a window not cancelled yet (this one "
                             f"was cancelled {time_mark(window.cancelled_at)})")
        if window.start <= now:
            raise InputError("window_id", window_id, "a window that has not begun (this one "
                             f"began {time_mark(window.start)}: what it excludes is part of "
                             "the month's record)")
        # The store decides a cancel racing this one on another connection (PostgreSQL):
        # the loser writes nothing, and says so.
        if not await maintenance.cancel_window(tx, window_id, at=now):
            raise InputError("window_id", window_id, "a window not cancelled yet (another "
                             "cancel of it came first)")
        withdrawn = 0
        for kind in ("maintenance", "ops_maintenance_late", "sub_maintenance",
                     "sub_maintenance_update"):
            withdrawn += await outbox.withdraw(tx, kind=kind, window_id=window_id)
        told = tuple(sorted({customer for _, customer in
                             await maintenance.first_notices(tx, [window_id])}))
        await audit.record(
            tx,
            at=now,
            actor=actor,
            action="maintenance.cancel",
            object_type="maintenance",
            object_id=window_id,
            detail={"withdrawn": withdrawn, "told": list(told)},
        )
        cancelled = await maintenance.get_window(tx, window_id)
    assert cancelled is not None
    return MaintenanceCancelled(cancelled, withdrawn, told)


async def _window(tx: Tx, window_id: int) -> WindowRecord:
    """The window of ``window_id``; NotFound naming the way to the ids."""
    # Ids are 32-bit integers in every backend: a larger one cannot exist.
    window = await maintenance.get_window(tx, window_id) if 0 < window_id < 2**31 else None
    if window is None:
        raise NotFound("window_id", window_id,
                       "an existing maintenance window id (see: maintenance list)")
    return window


@dataclass(frozen=True)
class MaintenanceUpdatePosted:
    window: WindowRecord
    update: MaintenanceUpdateRecord


@checks_text
async def post_maintenance_update(
    db: Database,
    *,
    window_id: int,
    status: str,
    message: FreeText,
    actor: str,
    now: dt.datetime,
) -> MaintenanceUpdatePosted:
    """An operator's update of a maintenance window: what they say, with a status
    (:data:`MAINTENANCE_UPDATE_STATUSES`). Shown on the status page, the feed and the
    Statuspage JSON; audited. It changes neither the window's times nor what it excludes
    (R-EX1): the window recorded says that, the update says how the work goes."""
    if status not in MAINTENANCE_UPDATE_STATUSES:
        raise InputError("status", status, "one of: " + ", ".join(MAINTENANCE_UPDATE_STATUSES))
    not_blank(message, "message", "a non-empty message (how the work goes)")
    async with db.transaction() as tx:
        window = await _window(tx, window_id)
        if window.cancelled_at is not None:  # not shown anywhere: an update of nothing
            raise InputError("window_id", window_id, "a window not cancelled (this one was "
                             f"cancelled {time_mark(window.cancelled_at)})")
        update_id = await maintenance.add_update(
            tx, window_id, status=status, message=message, actor=actor, at=now)
        await audit.record(
            tx,
            at=now,
            actor=actor,
            action="maintenance.update",
            object_type="maintenance",
            object_id=window_id,
            detail={"update": update_id, "status": status, "message": message},
        )
    return MaintenanceUpdatePosted(window, MaintenanceUpdateRecord(
        update_id, window_id, status, message, now, actor))
