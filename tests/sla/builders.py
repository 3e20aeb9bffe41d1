"""Small builders for SLA tests: a fixed month, readable instants, one-line records.

The reference month is March 2026 in UTC: 31 days, so ``MONTH_SECONDS`` is
``31 * 86400``. Fees are 3650 a year so that one day of credit is worth 10.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from monitor.sla import (
    CustomerInput,
    CustomerReport,
    IncidentInput,
    Interval,
    MaintenanceInput,
    MonthPeriod,
    MonthReport,
    Policy,
    TicketInput,
    compute_month,
    month_period,
)

HOUR = 3600
MINUTE = 60
DAY = 86400
MARCH = month_period("2026-03", "gregorian", "UTC")
MONTH_SECONDS = 31 * DAY  # March has 31 days
FEE = Decimal(3650)  # one day of service is worth 3650 / 365 = 10
AFTER = datetime(2026, 5, 1, tzinfo=UTC)  # a `now` when every March deadline has passed


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, month: int = 3) -> datetime:
    """An instant of 2026 in UTC, March by default."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def later(instant: datetime, seconds: int) -> datetime:
    return instant + timedelta(seconds=seconds)


def customer(
    customer_id: str = "acme", services: Iterable[str] = ("panel",), **fields: object
) -> CustomerInput:
    values: dict[str, object] = {"name": customer_id.title(), "fee_per_year": FEE,
                                 "currency": "EUR", **fields}
    return CustomerInput(customer_id, services=frozenset(services), **values)


def outage(
    incident_id: int, service: str, start: datetime, seconds: int | None, **fields: object
) -> IncidentInput:
    """An incident of ``seconds`` from ``start``; None for one still open."""
    end = None if seconds is None else later(start, seconds)
    return IncidentInput(incident_id, service, start, end, **fields)


def maintenance(
    window_id: int, services: Iterable[str], start: datetime, seconds: int,
    notices: Mapping[str, datetime],
) -> MaintenanceInput:
    return MaintenanceInput(window_id, frozenset(services), start, later(start, seconds),
                            "scheduled update", dict(notices))


def month_report(
    customers: Iterable[CustomerInput],
    incidents: Iterable[IncidentInput] = (),
    *,
    maintenance_windows: Iterable[MaintenanceInput] = (),
    notifications: Mapping[tuple[int, str], datetime] | None = None,
    unknown: Iterable[Interval] = (),
    policy: Policy | None = None,
    now: datetime = AFTER,
    tickets: Iterable[TicketInput] = (),
    period: MonthPeriod = MARCH,
) -> MonthReport:
    return compute_month(period, list(customers), list(incidents), list(maintenance_windows),
                         notifications or {}, list(unknown), policy or Policy(), now,
                         list(tickets))


def report_for(
    who: CustomerInput, incidents: Iterable[IncidentInput] = (), **options: object
) -> CustomerReport:
    """The report of the single customer ``who``."""
    return month_report([who], incidents, **options).customer(who.id)


def notified_in_time(incidents: Iterable[IncidentInput], customer_id: str = "acme"
                     ) -> dict[tuple[int, str], datetime]:
    """R-N1 satisfied: every incident notified one minute after it started."""
    return {(i.id, customer_id): later(i.start, MINUTE) for i in incidents}
