"""The SLA credit engine: the contract of SPEC sections 3 to 6, as pure functions.

Plain data in (frozen input records, a :class:`Policy`, a :class:`MonthPeriod`,
``now``), plain data out (a :class:`MonthReport`). No database, no clock, no
I/O: the store and the CLI gather the inputs, call :func:`compute_month`, and
print or persist what it returns. Same inputs, same report (R-C3).

Layers, bottom up::

    intervals   one interval type and its algebra (union, clip, subtract, ...)
    calendar    months of the provider's calendar and zone, business days (R-M5, R-C1)
    policy      the contract's numbers with the SPEC defaults
    inputs      incident, maintenance, customer, ticket and daemon-session records
    coverage    what the daemon watched; the rest of a month is unknown time (R-M3)
    deadlines   the one boundary of every duty with a deadline (R-N1/D-2, R-EX1/D-3)
    eligibility who gets nothing (R-EX5, R-EX6, R-EX7): for credits and for e-mails
    downtime    counted / excluded / unknown time per customer (R-M3, R-M4, R-EX*)
    credits     tiers, notification, detection and ticket rules (R-T*, R-N1, D-1, R-P*)
    claims      claim deadlines and what an approved claim grants (R-C1, D-4, R-C3)
    ledger      what a site holds: days, support charge, refunds; L-5 prices, L-6 expiry
    report      the report records and their SPEC section 7 JSON
    vantages    several vantages, one verdict: quorum, blindness, fair shares
    statements  monthly statements: when due, who gets one, who is reminded to claim
    engine      compute_month: applies all of it to every customer
    standing    MonthToDate: the running month, recomputing only what changed
    history     the status page's days: down, maintenance, unknown, up (R-M3)
    digest      inputs_digest: the fingerprint a frozen revision keeps (R-C3)
    terms       MonthTerms: what the configuration said of a month, kept once it is closed
"""

from monitor.sla.calendar import (
    CALENDARS,
    CalendarName,
    MonthPeriod,
    calendar_day,
    day_of_month,
    end_of_next_business_day,
    local_shift,
    month_containing,
    month_period,
    split_by_month,
)
from monitor.sla.claims import (
    CLAIM_CHANNELS,
    DECISIONS,
    Decision,
    Grant,
    claim_deadline,
    claim_grants,
    claim_in_time,
    credit_effective_at,
    decision_due,
    granted_totals,
    month_ended,
    receipt_due,
    review_grants,
)
from monitor.sla.coverage import unobserved, unprobed
from monitor.sla.credits import (
    DETECTION_KINDS,
    diagnosis_due,
    error_budget_seconds,
    fix_deferred,
    fix_due,
    half_days_up,
    next_tier,
    ticket_credit,
)
from monitor.sla.deadlines import (
    DUTY_STATES,
    DutyState,
    duty_state,
    in_time,
    month_settled,
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
from monitor.sla.history import (
    DAY_STATES,
    DayState,
    DayStatus,
    LocalDay,
    Uptime,
    daily_states,
    local_days,
    span_uptime,
)
from monitor.sla.inputs import (
    CAUSES,
    Cause,
    CustomerInput,
    IncidentInput,
    MaintenanceInput,
    SessionInput,
    TicketInput,
)
from monitor.sla.intervals import (
    Interval,
    clip,
    intersect,
    seconds_between,
    subtract,
    total_seconds,
    union,
    whole_second,
)
from monitor.sla.ledger import (
    FINDINGS,
    LEDGER_KINDS,
    NOT_PROVIDER_FAULT,
    PROVIDER_FAULT,
    LedgerLine,
    balance,
    charge_expiries,
    is_half_days,
    is_money,
    minor_units,
    price_refunded,
    price_request_lapsed,
)
from monitor.sla.policy import DEFAULT_TIERS, FLAP_WINDOW, Policy, Tier
from monitor.sla.report import CreditLine, CustomerReport, IncidentLine, LineTexts, MonthReport
from monitor.sla.standing import MonthToDate, Refreshed
from monitor.sla.statements import (
    WITHHELD,
    reminder_due,
    reminder_owed,
    statement_due,
    statement_withheld,
)
from monitor.sla.terms import MonthTerms
from monitor.sla.vantages import (
    Outage,
    Streak,
    Vote,
    blind_everywhere,
    default_quorum,
    failed_alone,
    fair_share,
    quorum_outages,
)

__all__ = [
    "CALENDARS",
    "CAUSES",
    "CLAIM_CHANNELS",
    "DAY_STATES",
    "DECISIONS",
    "DEFAULT_TIERS",
    "DETECTION_KINDS",
    "DUTY_STATES",
    "EXCLUSION_REASONS",
    "FINDINGS",
    "FLAP_WINDOW",
    "INELIGIBLE_REASONS",
    "LEDGER_KINDS",
    "NOT_PROVIDER_FAULT",
    "PROVIDER_FAULT",
    "WITHHELD",
    "CalendarName",
    "Cause",
    "CreditLine",
    "CustomerInput",
    "CustomerReport",
    "DayState",
    "DayStatus",
    "Decision",
    "DutyState",
    "Grant",
    "IncidentInput",
    "IncidentLine",
    "IneligibleRule",
    "Interval",
    "LedgerLine",
    "LineTexts",
    "LocalDay",
    "MaintenanceInput",
    "MonthPeriod",
    "MonthReport",
    "MonthTerms",
    "MonthToDate",
    "Outage",
    "Policy",
    "Refreshed",
    "SessionInput",
    "Streak",
    "TicketInput",
    "Tier",
    "Uptime",
    "Vote",
    "balance",
    "blind_everywhere",
    "calendar_day",
    "charge_expiries",
    "claim_deadline",
    "claim_grants",
    "claim_in_time",
    "clip",
    "compute_month",
    "credit_effective_at",
    "daily_states",
    "day_of_month",
    "decision_due",
    "default_quorum",
    "diagnosis_due",
    "duty_state",
    "end_of_next_business_day",
    "error_budget_seconds",
    "failed_alone",
    "fair_share",
    "fix_deferred",
    "fix_due",
    "granted_totals",
    "half_days_up",
    "in_time",
    "ineligible",
    "inputs_digest",
    "intersect",
    "is_half_days",
    "is_money",
    "lapse_instant",
    "local_days",
    "local_shift",
    "minor_units",
    "month_containing",
    "month_ended",
    "month_period",
    "month_settled",
    "next_tier",
    "notice_due",
    "notification_due",
    "price_refunded",
    "price_request_lapsed",
    "quorum_outages",
    "receipt_due",
    "reminder_due",
    "reminder_owed",
    "review_grants",
    "seconds_between",
    "span_uptime",
    "split_by_month",
    "statement_due",
    "statement_withheld",
    "subtract",
    "suspended",
    "ticket_credit",
    "total_seconds",
    "union",
    "unobserved",
    "unprobed",
    "unsupported_version",
    "whole_second",
    "within",
]
