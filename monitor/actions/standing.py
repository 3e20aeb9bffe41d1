"""The running month for the daemon's per-customer SLA metrics (SPEC section 7):
its inputs kept in memory and refreshed from the store by deltas, and the engine's
:class:`monitor.sla.MonthToDate` recomputing only the customers whose figures can have
changed. A refresh reads what changed since the last ones, not the month:

* incidents with a new id, every open one, those open at the previous refresh (they may
  have closed) and those whose cause changed;
* notifications and maintenance notices with a new id; the month's windows, unknown
  intervals, the daemon's sessions (R-M3), the provider-fault tickets (R-P1/R-P2) and the
  renewals (L-2) whole: a few rows each.

"New" is above the highest id seen *two* refreshes ago, so that a row written by a
transaction that committed after a later one (PostgreSQL hands out ids before commit)
is still read. Every :data:`FULL_EVERY` refreshes, at a new month and after a reload
the inputs are read whole again (:func:`monitor.actions.month_inputs`): a safety net
for a transaction that stayed open across two refreshes.

The engine runs in a worker thread: a full recomputation (every customer, e.g. while
the shared web panel is down) takes seconds at 10,000 customers and must not stall
the probes' event loop. So does a whole read (hundreds of thousands of notification
rows take seconds of CPU to turn into objects): it runs on its own event loop in a
worker thread, through its own connection to the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import deque
from typing import TYPE_CHECKING

from monitor import collector
from monitor.actions.inputs import (
    MonthInputs,
    incident_input,
    maintenance_input,
    month_customers,
    month_inputs,
    month_tickets,
    month_unknown,
)
from monitor.config import Settings
from monitor.sla import (
    CustomerInput,
    IncidentInput,
    Interval,
    MaintenanceInput,
    MonthPeriod,
    MonthToDate,
    Refreshed,
    TicketInput,
    month_containing,
)
from monitor.store import incidents, ledger, maintenance, tickets, unknown
from monitor.store.maintenance import WindowRecord

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = ["FULL_EVERY", "RunningMonth"]

Marks = tuple[int, int, int, int]

FULL_EVERY = 60  # refreshes between whole reads (an hour at the default 60 s)


class RunningMonth:
    """The running month's inputs in memory, and its per-customer reports."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.period: MonthPeriod | None = None
        self._month: MonthToDate | None = None
        self._count = 0
        self._incidents: dict[int, IncidentInput] = {}
        self._open: set[int] = set()
        self._windows: dict[int, MaintenanceInput] = {}
        self._window_records: dict[int, WindowRecord] = {}
        self._notifications: dict[tuple[int, str], dt.datetime] = {}
        self._unknown: list[Interval] = []
        self._customers: list[CustomerInput] = []
        self._tickets: list[TicketInput] = []
        # Highest ids seen at the last two refreshes: (incident, cause change,
        # notification, notice); deltas start above the older one.
        self._marks: deque[Marks] = deque(maxlen=2)
        self._renewals_mark: tuple[int, int | None] | None = None  # of the renewals read
        self._told: set[tuple[int, str]] | None = None  # notifications changed by the deltas
        self.last_full: bool = False

    def apply(self, settings: Settings) -> None:
        """A reloaded configuration: the next refresh reads and computes everything."""
        self.settings = settings
        self._month = None

    async def refresh(self, now: dt.datetime) -> Refreshed:
        settings = self.settings
        period = month_containing(now, settings.calendar, settings.timezone)  # type: ignore[arg-type]
        full = (
            self._month is None
            or period != self.period
            or self._count % FULL_EVERY == 0
            or len(self._marks) < 2
        )
        if full:
            await self._read_whole(period, now)
        else:
            await self._read_changes(period, now)
        if self._month is None or period != self.period:
            self._month = MonthToDate(period, settings.policy)
        self.period = period
        self._count += 1
        self.last_full = full
        month = self._month
        # Nothing else changes these inputs while the engine reads them in its thread:
        # refreshes never overlap (the scheduler runs one at a time).
        return await asyncio.to_thread(
            month.refresh,
            self._customers,
            list(self._incidents.values()),
            list(self._windows.values()),
            self._notifications,
            list(self._unknown),  # open intervals end at now (R-M3)
            now,
            self._tickets,
            changed_notifications=None if full else self._told,
        )

    async def _read_whole(self, period: MonthPeriod, now: dt.datetime) -> None:
        marks, renewals_mark, inputs, records = await collector.in_thread(
            asyncio.run, _whole(self.db, self.settings, period, now))
        self._renewals_mark = renewals_mark
        self._incidents = {i.id: i for i in inputs.incidents}
        self._open = {i.id for i in inputs.incidents if i.end is None}
        self._windows = {w.id: w for w in inputs.maintenance}
        self._window_records = {w.id: w for w in records}
        self._notifications = dict(inputs.notifications)
        self._unknown = list(inputs.unknown)
        self._customers = list(inputs.customers)
        self._tickets = list(inputs.tickets)
        self._marks.clear()
        self._marks.extend((marks, marks))

    async def _read_changes(self, period: MonthPeriod, now: dt.datetime) -> None:
        settings = self.settings
        topology = settings.topology
        tolerance = settings.monitor.unknown_after
        after_incident, after_cause, after_notification, after_notice = self._marks[0]
        async with self.db.reading() as tx:
            cause_mark, recause = await incidents.cause_changes_since(tx, after_cause)
            changed = await incidents.changed_since(
                tx, after_id=after_incident, recheck=self._open | recause
            )
            notification_mark, told = await incidents.notifications_since(tx, after_notification)
            windows = await maintenance.touching(tx, period.start, period.end)
            new_windows = [w.id for w in windows if w.id not in self._windows]
            notices_mark, noticed = await maintenance.notices_since(tx, after_notice)
            first_notices = await maintenance.first_notices(tx, new_windows)
            unseen = await unknown.touching(tx, period.start, period.end)
            runs = await unknown.sessions_touching(
                tx, period.start - dt.timedelta(seconds=tolerance), period.end)
            faults = await tickets.provider_fault(tx)
            # Renewals (L-2) read again only when some were recorded: 10,000 rows a minute
            # at a provider a year on, for a list that changes a few times a day.
            renewals_mark = await ledger.renewals_mark(tx, before=period.end)
            renewals = (None if renewals_mark == self._renewals_mark
                        else await ledger.renewals(tx, before=period.end))
        incident_mark = after_incident
        for record in changed:
            incident_mark = max(incident_mark, record.id)
            made = incident_input(record)
            if made is not None and made.start < period.end and (
                    made.end is None or made.end > period.start):
                self._incidents[record.id] = made
            else:
                self._incidents.pop(record.id, None)
        self._open = {i.id for i in self._incidents.values() if i.end is None}
        self._told = set()
        for incident_id, customer_id, at in told:
            key = (incident_id, customer_id)
            if incident_id in self._incidents and (
                key not in self._notifications or at < self._notifications[key]
            ):
                self._notifications[key] = at
                self._told.add(key)
        notices: dict[int, dict[str, dt.datetime]] = {}
        for (window_id, customer_id), notice in first_notices.items():
            notices.setdefault(window_id, {})[customer_id] = notice.at
        for window_id, customer_id, at in noticed:
            if window_id in self._windows:
                known = notices.setdefault(window_id, dict(self._windows[window_id].notices))
                if customer_id not in known or at < known[customer_id]:
                    known[customer_id] = at
        kept: dict[int, MaintenanceInput] = {}
        for window in windows:
            previous = self._windows.get(window.id)
            given = notices.get(window.id)
            if previous is not None and given is None and self._window_records.get(
                    window.id) == window:
                # Unchanged windows stay the same objects: the engine compares them cheaply.
                kept[window.id] = previous
                continue
            if given is None:
                given = dict(previous.notices) if previous is not None else {}
            kept[window.id] = maintenance_input(window, given, topology)
        self._windows = kept
        self._window_records = {w.id: w for w in windows}
        # The same reading of unknown time, tickets and customers as a whole read's.
        self._unknown = month_unknown(period, now, unseen, runs, tolerance)
        self._tickets = month_tickets(settings, period, faults)
        if renewals is not None:
            customers = month_customers(settings, renewals)
            # Unchanged customers stay the same objects: the engine compares them cheaply.
            before = {c.id: c for c in self._customers}
            self._customers = [c if before.get(c.id) != c else before[c.id] for c in customers]
            self._renewals_mark = renewals_mark
        self._marks.append((incident_mark, max(cause_mark, after_cause),
                            max(notification_mark, after_notification),
                            max(notices_mark, after_notice)))


async def _whole(
    db: Database, settings: Settings, period: MonthPeriod, now: dt.datetime
) -> tuple[Marks, tuple[int, int | None], MonthInputs, list[WindowRecord]]:
    """The month read whole, on the calling (worker) thread's own loop and connection, with
    the marks read before it (a change after them is read again by the next refresh)."""
    own = db.sibling()
    try:
        async with own.reading() as tx:
            incident_mark, cause_mark, notification_mark = await incidents.watermarks(tx)
            notice_mark = await maintenance.notice_watermark(tx)
            renewals_mark = await ledger.renewals_mark(tx, before=period.end)
        inputs = await month_inputs(own, settings, period, now)
        async with own.reading() as tx:
            records = await maintenance.touching(tx, period.start, period.end)
    finally:
        await own.dispose()
    return ((incident_mark, cause_mark, notification_mark, notice_mark), renewals_mark, inputs,
            records)
