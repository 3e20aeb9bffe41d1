"""The SLA credit engine: the contract of SPEC sections 3 to 6, as pure functions.

Plain data in (frozen input records, a :class:`Policy`, a :class:`MonthPeriod`,
``now``), plain data out (a :class:`MonthReport`). No database, no clock, no
I/O: the store and the CLI gather the inputs, call :func:`compute_month`, and
print or persist what it returns. Same inputs, same report (R-C3).

Layers, bottom up::

    intervals   one interval type and its algebra (union, clip, subtract, ...)
    calendar    months of the provider's calendar and zone, business days (R-M5, R-C1)
    policy      the contract's numbers with the SPEC defaults
    inputs      incident, maintenance, customer and ticket records
    deadlines   the one boundary of every duty with a deadline (R-N1/D-2, R-EX1/D-3)
    eligibility who gets nothing (R-EX5, R-EX6, R-EX7): for credits and for e-mails
    downtime    counted / excluded / unknown time per customer (R-M3, R-M4, R-EX*)
    credits     tiers, notification, detection and ticket rules (R-T*, R-N1, D-1, R-P*)
    report      the report records and their SPEC section 7 JSON
    engine      compute_month: applies all of it to every customer
    standing    MonthToDate: the running month, recomputing only what changed
    history     the status page's days: down, maintenance, unknown, up (R-M3)
    digest      inputs_digest: the fingerprint a frozen revision keeps (R-C3)
"""

from monitor.sla.calendar import (
    CALENDARS,
    CalendarName,
    MonthPeriod,
    end_of_next_business_day,
    month_containing,
    month_period,
    split_by_month,
)
from monitor.sla.credits import error_budget_seconds, next_tier
from monitor.sla.deadlines import (
    DUTY_STATES,
    DutyState,
    duty_state,
    in_time,
    notice_due,
    notification_due,
    within,
)
from monitor.sla.digest import inputs_digest
from monitor.sla.downtime import EXCLUSION_REASONS
from monitor.sla.eligibility import (
    INELIGIBLE_REASONS,
    IneligibleRule,
    ineligible,
    lapse_instant,
    suspended,
    unsupported_version,
)
from monitor.sla.engine import compute_month
from monitor.sla.history import DAY_STATES, DayState, DayStatus, LocalDay, daily_states, local_days
from monitor.sla.inputs import (
    CAUSES,
    Cause,
    CustomerInput,
    IncidentInput,
    MaintenanceInput,
    TicketInput,
)
from monitor.sla.intervals import (
    Interval,
    clip,
    intersect,
    subtract,
    total_seconds,
    union,
    whole_second,
)
from monitor.sla.policy import DEFAULT_TIERS, Policy, Tier
from monitor.sla.report import CreditLine, CustomerReport, IncidentLine, MonthReport
from monitor.sla.standing import MonthToDate, Refreshed

__all__ = [
    "CALENDARS",
    "CAUSES",
    "DAY_STATES",
    "DEFAULT_TIERS",
    "DUTY_STATES",
    "EXCLUSION_REASONS",
    "INELIGIBLE_REASONS",
    "CalendarName",
    "Cause",
    "CreditLine",
    "CustomerInput",
    "CustomerReport",
    "DayState",
    "DayStatus",
    "DutyState",
    "IncidentInput",
    "IncidentLine",
    "IneligibleRule",
    "Interval",
    "LocalDay",
    "MaintenanceInput",
    "MonthPeriod",
    "MonthReport",
    "MonthToDate",
    "Policy",
    "Refreshed",
    "TicketInput",
    "Tier",
    "clip",
    "compute_month",
    "daily_states",
    "duty_state",
    "end_of_next_business_day",
    "error_budget_seconds",
    "in_time",
    "ineligible",
    "inputs_digest",
    "intersect",
    "lapse_instant",
    "local_days",
    "month_containing",
    "month_period",
    "next_tier",
    "notice_due",
    "notification_due",
    "split_by_month",
    "subtract",
    "suspended",
    "total_seconds",
    "union",
    "unsupported_version",
    "whole_second",
    "within",
]
