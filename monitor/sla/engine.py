"""The month computation: plain inputs in, a :class:`MonthReport` out (R-C3).

:func:`compute_month` is pure and deterministic: no clock (``now`` is an
argument), no I/O, and the result does not depend on the order of its input
sequences. The rule families live in :mod:`monitor.sla.downtime` (time) and
:mod:`monitor.sla.credits` (what time earns); this module applies them to each
customer.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from operator import attrgetter

from monitor.sla.calendar import MonthPeriod
from monitor.sla.credits import (
    availability_percent,
    credit_value,
    detection_breached,
    detection_latency,
    ineligible_reason,
    notification_breached,
    ticket_credit,
    tier_for,
)
from monitor.sla.downtime import (
    CustomerDowntime,
    PreparedIncident,
    ServiceViews,
    customer_downtime,
    prepare_services,
)
from monitor.sla.inputs import Cause, CustomerInput, IncidentInput, MaintenanceInput, TicketInput
from monitor.sla.intervals import Interval, clip, union, whole_second
from monitor.sla.policy import Policy
from monitor.sla.report import CreditLine, CustomerReport, IncidentLine, MonthReport

__all__ = ["compute_month"]

Notifications = Mapping[tuple[int, str], datetime]

_ONE_SECOND = timedelta(seconds=1)
#: How often ``compute_month`` tells its ``progress``: every this many customers.
PROGRESS_EVERY = 250
_by_start_and_id = attrgetter("start", "id")


def compute_month(
    period: MonthPeriod,
    customers: Iterable[CustomerInput],
    incidents: Iterable[IncidentInput],
    maintenance: Iterable[MaintenanceInput],
    notifications: Notifications,
    unknown: Iterable[Interval],
    policy: Policy,
    now: datetime,
    tickets: Iterable[TicketInput] = (),
    unknown_by_service: Mapping[str, Iterable[Interval]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MonthReport:
    """Every customer's SLA report for ``period`` as known at ``now``.

    ``notifications`` maps (incident id, customer id) to the earliest time a
    notification reached that customer (R-N1); ``unknown`` is time the monitor
    could not see (R-M3), for every customer; ``unknown_by_service`` is time only some
    services went unwatched (a cluster's lost node): unknown for the customers
    depending on them. Incidents still open are counted up to ``now``, and
    the month is counted only up to ``now`` (a running month is a projection).
    ``progress(done, total)`` is told at the start, every :data:`PROGRESS_EVERY` customers and
    at the end.
    """
    # Sorting every input by id first makes the result independent of input order.
    customers = sorted(customers, key=lambda customer: customer.id)
    incidents = sorted(incidents, key=lambda incident: incident.id)
    maintenance = sorted(maintenance, key=lambda window: window.id)
    _require_unique("customer", [customer.id for customer in customers])
    _require_unique("incident", [incident.id for incident in incidents])
    _require_unique("maintenance", [window.id for window in maintenance])
    now = whole_second(now)
    seen_until = min(period.end, now)
    window = Interval(period.start, seen_until) if period.start < seen_until else None
    services = prepare_services(incidents, window, now)
    month = _Month(period, now, policy, _by_customer(notifications),
                   ServiceViews(services, maintenance, policy),
                   {service_id: tuple(_IncidentFacts.of(p, period, now, policy)
                                      for p in service.incidents)
                    for service_id, service in services.items()})
    unseen = [Interval(start, end) for start, end in
              ((whole_second(u.start), whole_second(u.end)) for u in unknown) if start < end]
    unknown_in_window = clip(unseen, window) if window is not None else []
    by_service = {
        service_id: clip([Interval(whole_second(p.start), whole_second(p.end)) for p in parts
                          if whole_second(p.start) < whole_second(p.end)], window)
        if window is not None else []
        for service_id, parts in (unknown_by_service or {}).items()
    }
    tickets_by_customer: dict[str, list[TicketInput]] = defaultdict(list)
    for ticket in sorted(tickets, key=lambda ticket: ticket.id):
        tickets_by_customer[ticket.customer_id].append(ticket)
    reports: list[CustomerReport] = []
    if progress is not None:
        progress(0, len(customers))
    for customer in customers:
        reports.append(month.customer_report(
            customer,
            customer_downtime(customer, month.views, _unknown_for(
                customer, unknown_in_window, by_service), window),
            tickets_by_customer.get(customer.id, ())))
        if progress is not None and len(reports) % PROGRESS_EVERY == 0:
            progress(len(reports), len(customers))
    if progress is not None and len(reports) % PROGRESS_EVERY:
        progress(len(reports), len(customers))
    return MonthReport(period, tuple(reports))


def _by_customer(notifications: Notifications) -> dict[str, dict[int, datetime]]:
    """Customer id -> incident id -> the earliest notification (R-N1): each customer's own
    few, looked up once per incident line (a lookup in a map of hundreds of thousands of
    pairs cost more than the rest of a line's rules together at 10,000 customers)."""
    by_customer: dict[str, dict[int, datetime]] = defaultdict(dict)
    for (incident_id, customer_id), sent_at in notifications.items():
        by_customer[customer_id][incident_id] = sent_at
    return by_customer


def _unknown_for(customer: CustomerInput, everyone: list[Interval],
                 by_service: Mapping[str, list[Interval]]) -> list[Interval]:
    """R-M3: the customer's unknown time: the monitor's, and its services' own."""
    own = [part for service_id in customer.services for part in by_service.get(service_id, ())]
    return union([*everyone, *own]) if own else everyone


def _require_unique(kind: str, ids: Sequence[object]) -> None:
    duplicates = sorted(str(i) for i, count in Counter(ids).items() if count > 1)
    if duplicates:
        raise ValueError(f"{kind} ids must be unique; repeated: {', '.join(duplicates)}")


@dataclass(frozen=True, slots=True)
class _IncidentFacts:
    """What an incident is for every customer alike, worked out once per month."""

    id: int
    start: datetime
    end: datetime | None
    cause: Cause
    started_in_month: bool  # R-N1 and D-1 belong to the month the incident started in
    elapsed_seconds: int  # now - start: whether the R-N1 deadline has passed
    detection_seconds: int | None  # D-1
    detection_breached: bool  # D-1

    @classmethod
    def of(cls, prepared: PreparedIncident, period: MonthPeriod, now: datetime,
           policy: Policy) -> _IncidentFacts:
        incident, start = prepared.incident, prepared.lasted.start
        return cls(incident.id, start,
                   None if incident.end is None else whole_second(incident.end),
                   incident.cause, period.start <= start < period.end,
                   (now - start) // _ONE_SECOND, detection_latency(incident),
                   detection_breached(incident, policy))


@dataclass(frozen=True, slots=True)
class _Month:
    """The month-wide inputs each customer's report is computed against."""

    period: MonthPeriod
    now: datetime
    policy: Policy
    notifications: Mapping[str, Mapping[int, datetime]]  # customer -> incident -> sent
    views: ServiceViews
    facts: dict[str, tuple[_IncidentFacts, ...]]  # per service, in ServiceDowntime order
    # Cache: (incident id, counted seconds, notified after) -> the line customers share.
    lines: dict[tuple[int, int, int | None], IncidentLine] = field(default_factory=dict)

    def customer_report(self, customer: CustomerInput, downtime: CustomerDowntime,
                        tickets: Sequence[TicketInput]) -> CustomerReport:
        """One customer's report: availability (R-M6), tier (R-T0, R-T1), late
        notifications (R-N1), late fixes (R-P1, R-P2), their value (R-T2), and no
        credit at all for an ineligible customer (R-EX5, R-EX6, R-EX7)."""
        period, policy = self.period, self.policy
        lines, counted_ids, notification_breaches, detection_breaches = self.incident_lines(
            customer, downtime)
        counted_seconds = downtime.counted_seconds
        # R-EX5, R-EX6, R-EX7: measured and shown, but no credit of any kind.
        ineligible = ineligible_reason(customer, period)
        tier = None if ineligible else tier_for(counted_seconds, period.seconds, policy)
        credit_lines: list[CreditLine] = []
        if tier is not None:
            credit_lines.append(CreditLine("R-T1", days=Decimal(tier.credit_days),
                                           incidents=counted_ids,
                                           maintenance=downtime.maintenance_ids))
        if not ineligible:
            notification_credit = Decimal(policy.notification_credit_days)
            credit_lines += [CreditLine("R-N1", days=notification_credit, incidents=(incident_id,))
                             for incident_id in notification_breaches]
            credit_lines += [
                line for line in (ticket_credit(ticket, customer, period, self.now, policy)
                                  for ticket in tickets) if line is not None]
        tier_days = tier.credit_days if tier is not None else 0
        notification_days = 0 if ineligible else (policy.notification_credit_days
                                                  * len(notification_breaches))
        partial_days = sum((line.days for line in credit_lines
                            if line.rule == "R-P1" and line.days is not None), Decimal(0))
        refund = sum((line.amount for line in credit_lines
                      if line.rule == "R-P2" and line.amount is not None), Decimal(0))
        total_days = tier_days + notification_days + partial_days
        return CustomerReport(
            customer=customer.id,
            period_seconds=period.seconds,
            downtime_seconds=counted_seconds,
            excluded_seconds=downtime.excluded_seconds,
            excluded_by_reason=dict(downtime.excluded_by_reason),
            unknown_seconds=downtime.unknown_seconds,
            availability_percent=availability_percent(counted_seconds, period.seconds),
            target_percent=policy.target_percent,
            tier=None if tier is None else tier.name,
            tier_credit_days=tier_days,
            notification_breaches=notification_breaches,
            notification_credit_days=notification_days,
            detection_breaches=detection_breaches,
            partial_credit_days=partial_days,
            refund_amount=refund,
            credit_days_total=total_days,
            credit_value=credit_value(total_days, customer.fee_per_year),
            currency=customer.currency,
            ineligible_reason=ineligible,
            credit_lines=tuple(credit_lines),
            incidents=lines,
        )

    def incident_lines(
        self, customer: CustomerInput, downtime: CustomerDowntime
    ) -> tuple[tuple[IncidentLine, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """Each incident of a depended-on service as this customer sees it; then the
        ids of those with counted time (R-T1 evidence), of the R-N1 notification
        breaches and of the D-1 detection breaches among them."""
        lines: list[IncidentLine] = []
        counted_ids: list[int] = []
        notification_breaches: list[int] = []
        detection_breaches: list[int] = []
        notice_sent_at_of = self.notifications.get(customer.id, {}).get
        shared_lines = self.lines
        policy = self.policy
        paid_until = downtime.paid_until
        for service_id, view in downtime.views.items():
            counted_inside = view.counted_inside
            for index, facts in enumerate(self.facts[service_id]):
                incident_id = facts.id
                notice_sent_at = notice_sent_at_of(incident_id)
                # Whole seconds (R-M6): the start is a whole second, so flooring the
                # difference drops the notice's fraction as cutting it first would.
                notified_after = None if notice_sent_at is None else (
                    (notice_sent_at - facts.start) // _ONE_SECOND)
                if facts.started_in_month:
                    # R-N1: only an incident not wholly excluded for this customer owes
                    # a notification; maintenance announced per D-3 needs none.
                    if notification_breached(notified_after, facts.elapsed_seconds, policy) and (
                            downtime.incident_counted(service_id, index, whole_incident=True)):
                        notification_breaches.append(incident_id)
                    if facts.detection_breached:
                        detection_breaches.append(incident_id)
                counted = counted_inside[index] if paid_until is None else (
                    downtime.incident_counted(service_id, index, whole_incident=False))
                if counted:
                    counted_ids.append(incident_id)
                # Customers who see an incident alike share one line object: the
                # panel's incidents appear in every customer's report.
                key = (incident_id, counted, notified_after)
                line = shared_lines.get(key)
                if line is None:
                    line = shared_lines[key] = IncidentLine(
                        incident_id, service_id, facts.start, facts.end, counted, facts.cause,
                        facts.detection_seconds, notified_after)
                lines.append(line)
        lines.sort(key=_by_start_and_id)
        return (tuple(lines), tuple(sorted(counted_ids)), tuple(sorted(notification_breaches)),
                tuple(sorted(detection_breaches)))
