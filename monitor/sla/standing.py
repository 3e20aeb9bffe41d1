"""The running month, kept up to date incrementally: :class:`MonthToDate` gives, at each
refresh, exactly what :func:`monitor.sla.engine.compute_month` would for the same inputs
and ``now``, but recomputes only the customers whose figures can have changed since the
previous refresh (per-customer metrics on a timer, at 10,000 customers).

A customer's report is a function of its own inputs and of ``now``. Between two
refreshes it can change only if

* an input of its changed: the customer record, an incident of a service it depends on
  (new, closed, reopened, a cause changed), a maintenance window of such a service, its
  own maintenance notices or outage notifications, its tickets, or the unknown time;
* or time moved something: an incident of one of its services that is still open (or
  ended after the previous refresh) grows with ``now``; an R-N1 deadline of one of those
  incidents passed in between (a breach appears, R-N1 Decision: only once it has
  passed); an unfixed ticket's delay grows (R-P1, R-P2); the monitor is blind right now
  (unknown time grows for everyone, R-M3).

A lapsed subscription (R-EX5) moves nothing by itself: its non-payment time excludes
only downtime, and downtime grows only with an incident that is still open.

Everything else is reused. Services are compared per service, so an outage of a project
recomputes its one customer, a server's outage the customers on that server, and an
outage of the shared web panel every customer (as it should: every customer's downtime
grows). A test checks the result against ``compute_month`` after random changes.

What moves with the clock is worked out once per service when its incidents change
(whether one is still open, the next R-N1 deadline), so a refresh costs O(services +
customers) in comparisons, not O(incidents). The notifications are compared whole (a
month of 10,000 customers has hundreds of thousands) unless the caller says which
(incident, customer) keys changed since the previous refresh: the daemon reads them as
deltas from the store and passes them (``changed_notifications``).

The object keeps the previous inputs; it does no I/O and reads no clock.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter

from monitor.sla.calendar import MonthPeriod
from monitor.sla.engine import compute_month
from monitor.sla.inputs import CustomerInput, IncidentInput, MaintenanceInput, TicketInput
from monitor.sla.intervals import Interval, whole_second
from monitor.sla.policy import Policy
from monitor.sla.report import CustomerReport, MonthReport

__all__ = ["MonthToDate", "Refreshed"]

_ONE_SECOND = timedelta(seconds=1)
_by_id = attrgetter("id")


@dataclass(frozen=True, slots=True)
class Refreshed:
    """A refresh's report, and how much of it was computed this time."""

    report: MonthReport
    recomputed: int  # customers whose reports were computed
    customers: int


@dataclass(frozen=True, slots=True)
class _ServiceClock:
    """What about a service's incidents moves with the clock, worked out when they change."""

    incidents: tuple[IncidentInput, ...]
    open: bool  # an incident still open: its outage grows
    latest_end: datetime | None  # the latest end among the closed ones
    latest_start: datetime | None
    breaches_at: tuple[datetime, ...]  # R-N1: when each deadline has passed, sorted

    @classmethod
    def of(cls, incidents: tuple[IncidentInput, ...], allowed_seconds: int) -> _ServiceClock:
        ends = [whole_second(i.end) for i in incidents if i.end is not None]
        starts = [whole_second(i.start) for i in incidents]
        # R-N1 Decision: a breach appears once the deadline has passed, one second after it.
        passed = timedelta(seconds=allowed_seconds) + _ONE_SECOND
        return cls(incidents, any(i.end is None for i in incidents),
                   max(ends, default=None), max(starts, default=None),
                   tuple(sorted(start + passed for start in starts)))

    def moved(self, previous: datetime, now: datetime, seen_before: datetime) -> bool:
        """Whether this service as the engine sees it differs at ``now`` from ``previous``."""
        if self.open or (self.latest_end is not None and self.latest_end > seen_before):
            return True
        if self.latest_start is not None and self.latest_start >= previous:
            return True
        following = bisect_right(self.breaches_at, previous)  # the first after previous
        return following < len(self.breaches_at) and self.breaches_at[following] <= now


class MonthToDate:
    """``compute_month`` for one month, refreshed incrementally (see the module)."""

    def __init__(self, period: MonthPeriod, policy: Policy) -> None:
        self.period = period
        self.policy = policy
        self._now: datetime | None = None
        self._reports: dict[str, CustomerReport] = {}
        self._customers: dict[str, CustomerInput] = {}
        self._services: dict[str, _ServiceClock] = {}
        self._windows: dict[int, MaintenanceInput] = {}
        self._notifications: dict[tuple[int, str], datetime] = {}
        self._unknown: tuple[Interval, ...] = ()
        self._tickets: dict[str, tuple[TicketInput, ...]] = {}

    def refresh(
        self,
        customers: Iterable[CustomerInput],
        incidents: Iterable[IncidentInput],
        maintenance: Iterable[MaintenanceInput],
        notifications: Mapping[tuple[int, str], datetime],
        unknown: Iterable[Interval],
        now: datetime,
        tickets: Iterable[TicketInput] = (),
        changed_notifications: Collection[tuple[int, str]] | None = None,
    ) -> Refreshed:
        """The month's report at ``now``; the arguments are those of ``compute_month``.

        ``changed_notifications``, when given, are the keys of ``notifications`` added,
        changed or removed since the previous refresh; every other key must be as it was
        then. None compares the mappings whole."""
        now = whole_second(now)
        previous = self._now
        # A clock that went back (or the first refresh) recomputes everything.
        full = previous is None or now < previous
        seen_until = min(self.period.end, now)
        seen_before = seen_until if previous is None else min(self.period.end, previous)
        customers_now = {customer.id: customer for customer in customers}
        grouped = _by_service(incidents)
        windows = {window.id: window for window in maintenance}
        unknown_now = tuple(sorted(unknown, key=lambda u: (u.start, u.end)))
        tickets_now: dict[str, list[TicketInput]] = defaultdict(list)
        for ticket in sorted(tickets, key=_by_id):
            tickets_now[ticket.customer_id].append(ticket)
        tickets_by_customer = {c: tuple(found) for c, found in tickets_now.items()}
        allowed = self.policy.notification_deadline_seconds
        clocks: dict[str, _ServiceClock] = {}
        changed_services: set[str] = set(self._services.keys() - grouped.keys())
        for service_id, found in grouped.items():
            known = self._services.get(service_id)
            if known is not None and known.incidents == found:
                clocks[service_id] = known
            else:
                clocks[service_id] = _ServiceClock.of(found, allowed)
                changed_services.add(service_id)

        dirty: set[str] = set()
        if full or unknown_now != self._unknown or any(
            u.end > seen_before for u in unknown_now
        ):
            dirty = set(customers_now)  # R-M3: unknown time is everyone's
            self._notifications = dict(notifications)
        else:
            assert previous is not None
            moving = changed_services | {
                service_id for service_id, clock in clocks.items()
                if clock.moved(previous, now, seen_before)}
            moving |= self._changed_window_services(windows, dirty)
            self._changed_notifications(notifications, changed_notifications, dirty)
            before_customers, before_tickets = self._customers, self._tickets
            for customer_id, customer in customers_now.items():
                if customer_id in dirty:
                    continue
                before = before_customers.get(customer_id)
                own_tickets = tickets_by_customer.get(customer_id, ())
                if (
                    customer_id not in self._reports
                    or (before is not customer and before != customer)
                    or not customer.services.isdisjoint(moving)
                    or before_tickets.get(customer_id, ()) != own_tickets
                    or (own_tickets and _ticket_running(own_tickets, previous))
                ):
                    dirty.add(customer_id)
        dirty &= customers_now.keys()

        if dirty:
            recompute = [customers_now[customer_id] for customer_id in sorted(dirty)]
            depended = set().union(*(customer.services for customer in recompute))
            partial = compute_month(
                self.period,
                recompute,
                [incident for service in depended for incident in grouped.get(service, ())],
                # Windows of other services change nothing for these customers.
                [w for w in windows.values() if not w.service_ids.isdisjoint(depended)],
                notifications,
                unknown_now,
                self.policy,
                now,
                [ticket for customer_id in dirty for ticket in tickets_by_customer.get(customer_id, ())],
            )
            for computed in partial.customers:
                self._reports[computed.customer] = computed
        for gone in self._reports.keys() - customers_now.keys():
            del self._reports[gone]

        self._now = now
        self._customers = customers_now
        self._services = clocks
        self._windows = windows
        self._unknown = unknown_now
        self._tickets = tickets_by_customer
        report = MonthReport(
            self.period, tuple(self._reports[customer_id] for customer_id in sorted(customers_now))
        )
        return Refreshed(report, len(dirty), len(customers_now))

    def _changed_window_services(
        self, windows: dict[int, MaintenanceInput], dirty: set[str]
    ) -> set[str]:
        """Services of windows that were added, removed or moved; a window whose notices
        alone changed makes only the customers concerned dirty."""
        services: set[str] = set()
        for window_id in windows.keys() | self._windows.keys():
            old, new = self._windows.get(window_id), windows.get(window_id)
            if old is new or old == new:
                continue
            if (
                old is not None
                and new is not None
                and (old.service_ids, old.start, old.end) == (new.service_ids, new.start, new.end)
            ):
                told = old.notices.keys() | new.notices.keys()
                dirty |= {c for c in told if old.notices.get(c) != new.notices.get(c)}
                continue
            for window in (old, new):
                if window is not None:
                    services |= window.service_ids
        return services

    def _changed_notifications(
        self,
        notifications: Mapping[tuple[int, str], datetime],
        changed: Collection[tuple[int, str]] | None,
        dirty: set[str],
    ) -> None:
        """Customers whose notifications changed; the kept copy brought up to date."""
        before = self._notifications
        if changed is None:
            for key, at in notifications.items():
                if before.get(key) != at:
                    dirty.add(key[1])
            for key in before.keys() - notifications.keys():
                dirty.add(key[1])
            self._notifications = dict(notifications)
            return
        for key in changed:
            given = notifications.get(key)
            if before.get(key) == given:
                continue
            dirty.add(key[1])
            if given is None:
                before.pop(key, None)
            else:
                before[key] = given


def _by_service(incidents: Iterable[IncidentInput]) -> dict[str, tuple[IncidentInput, ...]]:
    grouped: dict[str, list[IncidentInput]] = defaultdict(list)
    for incident in incidents:
        grouped[incident.service_id].append(incident)
    return {service_id: tuple(sorted(found, key=_by_id)) for service_id, found in grouped.items()}


def _ticket_running(tickets: tuple[TicketInput, ...], previous: datetime) -> bool:
    """A provider-fault ticket unfixed at the previous refresh: its delay may have grown
    past its deadline since (R-P1, R-P2)."""
    return any(
        ticket.provider_fault
        and (ticket.fixed_at is None or whole_second(ticket.fixed_at) > previous)
        for ticket in tickets
    )
