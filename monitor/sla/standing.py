"""The running month, kept up to date incrementally: :class:`MonthToDate` gives, at each
refresh, exactly what :func:`monitor.sla.engine.compute_month` would for the same inputs
and ``now``, but recomputes only the customers whose figures can have changed since the
previous refresh (issue 11: per-customer metrics on a timer, at 10,000 customers).

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

The object keeps the previous inputs; it does no I/O and reads no clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.sla.calendar import MonthPeriod
from monitor.sla.engine import compute_month
from monitor.sla.inputs import CustomerInput, IncidentInput, MaintenanceInput, TicketInput
from monitor.sla.intervals import Interval, whole_second
from monitor.sla.policy import Policy
from monitor.sla.report import CustomerReport, MonthReport

__all__ = ["MonthToDate", "Refreshed"]

_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Refreshed:
    """A refresh's report, and how much of it was computed this time."""

    report: MonthReport
    recomputed: int  # customers whose reports were computed
    customers: int


class MonthToDate:
    """``compute_month`` for one month, refreshed incrementally (see the module)."""

    def __init__(self, period: MonthPeriod, policy: Policy) -> None:
        self.period = period
        self.policy = policy
        self._now: datetime | None = None
        self._reports: dict[str, CustomerReport] = {}
        self._customers: dict[str, CustomerInput] = {}
        self._services: dict[str, tuple[IncidentInput, ...]] = {}
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
    ) -> Refreshed:
        """The month's report at ``now``; the arguments are those of ``compute_month``."""
        now = whole_second(now)
        previous = self._now
        # A clock that went back (or the first refresh) recomputes everything.
        full = previous is None or now < previous
        seen_until = min(self.period.end, now)
        seen_before = seen_until if previous is None else min(self.period.end, previous)
        customers_now = {customer.id: customer for customer in customers}
        services = _by_service(incidents)
        windows = {window.id: window for window in maintenance}
        unknown_now = tuple(sorted(unknown, key=lambda u: (u.start, u.end)))
        notifications_now = dict(notifications)
        tickets_now: dict[str, list[TicketInput]] = defaultdict(list)
        for ticket in sorted(tickets, key=lambda t: t.id):
            tickets_now[ticket.customer_id].append(ticket)
        tickets_by_customer = {c: tuple(found) for c, found in tickets_now.items()}

        dirty: set[str] = set()
        if full or unknown_now != self._unknown or any(
            u.end > seen_before for u in unknown_now
        ):
            dirty = set(customers_now)  # R-M3: unknown time is everyone's
        else:
            assert previous is not None
            moving = self._moving_services(services, previous, now, seen_before)
            moving |= self._changed_window_services(windows, dirty)
            self._changed_notifications(notifications_now, dirty)
            for customer_id, customer in customers_now.items():
                if customer_id in dirty:
                    continue
                if (
                    customer_id not in self._reports
                    or self._customers.get(customer_id) != customer
                    or not customer.services.isdisjoint(moving)
                    or self._tickets.get(customer_id, ()) != tickets_by_customer.get(customer_id, ())
                    or _ticket_running(tickets_by_customer.get(customer_id, ()), previous)
                ):
                    dirty.add(customer_id)
        dirty &= customers_now.keys()

        if dirty:
            recompute = [customers_now[customer_id] for customer_id in sorted(dirty)]
            depended = set().union(*(customer.services for customer in recompute))
            partial = compute_month(
                self.period,
                recompute,
                [incident for service in depended for incident in services.get(service, ())],
                windows.values(),
                notifications_now,
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
        self._services = services
        self._windows = windows
        self._notifications = notifications_now
        self._unknown = unknown_now
        self._tickets = tickets_by_customer
        report = MonthReport(
            self.period, tuple(self._reports[customer_id] for customer_id in sorted(customers_now))
        )
        return Refreshed(report, len(dirty), len(customers_now))

    def _moving_services(
        self,
        services: dict[str, tuple[IncidentInput, ...]],
        previous: datetime,
        now: datetime,
        seen_before: datetime,
    ) -> set[str]:
        """Services whose incidents changed, or whose outage time or R-N1 breaches moved
        with the clock since ``previous``."""
        allowed = self.policy.notification_deadline_seconds
        moving = set(self._services.keys() - services.keys())
        for service_id, found in services.items():
            if self._services.get(service_id) != found:
                moving.add(service_id)
                continue
            for incident in found:
                start = whole_second(incident.start)
                if incident.end is None or whole_second(incident.end) > seen_before:
                    moving.add(service_id)  # still growing, or grew past the last refresh
                    break
                if start >= previous:
                    moving.add(service_id)
                    break
                # R-N1: a breach appears once the deadline has passed (not at it).
                if (previous - start) // _ONE_SECOND <= allowed < (now - start) // _ONE_SECOND:
                    moving.add(service_id)
                    break
        return moving

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
        self, notifications: dict[tuple[int, str], datetime], dirty: set[str]
    ) -> None:
        before = self._notifications
        for key, at in notifications.items():
            if before.get(key) != at:
                dirty.add(key[1])
        for key in before.keys() - notifications.keys():
            dirty.add(key[1])


def _by_service(incidents: Iterable[IncidentInput]) -> dict[str, tuple[IncidentInput, ...]]:
    grouped: dict[str, list[IncidentInput]] = defaultdict(list)
    for incident in incidents:
        grouped[incident.service_id].append(incident)
    return {
        service_id: tuple(sorted(found, key=lambda incident: incident.id))
        for service_id, found in grouped.items()
    }


def _ticket_running(tickets: tuple[TicketInput, ...], previous: datetime) -> bool:
    """A provider-fault ticket unfixed at the previous refresh: its delay may have grown
    past its deadline since (R-P1, R-P2)."""
    return any(
        ticket.provider_fault
        and (ticket.fixed_at is None or whole_second(ticket.fixed_at) > previous)
        for ticket in tickets
    )
