"""What a month's downtime, late notifications and late fixes earn (R-T0..R-P3).

Each function is one rule family of SPEC sections 4 to 6 and takes plain
numbers or records; :mod:`monitor.sla.engine` applies them per customer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from monitor.sla.calendar import MonthPeriod
from monitor.sla.deadlines import missed, within
from monitor.sla.eligibility import INELIGIBLE_REASONS, ineligible
from monitor.sla.inputs import CustomerInput, IncidentInput, TicketInput
from monitor.sla.intervals import seconds_between, whole_second
from monitor.sla.policy import Policy, Tier
from monitor.sla.report import CreditLine

__all__ = [
    "DETECTION_KINDS",
    "availability_percent",
    "below_target",
    "credit_value",
    "detection_breached",
    "detection_latency",
    "diagnosis_due",
    "error_budget_seconds",
    "fix_deferred",
    "fix_due",
    "half_days_up",
    "ineligible_reason",
    "next_tier",
    "notification_breached",
    "ticket_credit",
    "tier_for",
]

_DAY_SECONDS = 86_400
_DAYS_PER_YEAR = 365


def availability_percent(counted_seconds: int, period_seconds: int) -> Decimal:
    """R-M6: (month length - counted downtime) / month length x 100, exact.

    Excluded and unknown time stay in the denominator.
    """
    return Decimal((period_seconds - counted_seconds) * 100) / Decimal(period_seconds)


def below_target(counted_seconds: int, period_seconds: int, policy: Policy) -> bool:
    """R-T0: availability is below the target, compared without rounding."""
    available = Decimal((period_seconds - counted_seconds) * 100)
    return available < policy.target_percent * period_seconds


def tier_for(counted_seconds: int, period_seconds: int, policy: Policy) -> Tier | None:
    """R-T1: the highest tier whose lower bound the counted downtime reaches
    (R-T1 Decision: bounds inclusive), only when availability is below target."""
    if not below_target(counted_seconds, period_seconds, policy):
        return None
    reached = [tier for tier in policy.tiers if counted_seconds >= tier.min_downtime_seconds]
    return reached[-1] if reached else None


def error_budget_seconds(counted_seconds: int, period_seconds: int, policy: Policy) -> int:
    """R-T0: counted downtime still allowed this month before availability falls below the
    target (negative once it has). The boundary is :func:`below_target`'s: downtime of
    exactly the budget still meets the target.

    >>> error_budget_seconds(0, 30 * 86400, Policy()), error_budget_seconds(5185, 30 * 86400, Policy())
    (5184, -1)
    """
    allowed = Decimal(period_seconds) * (Decimal(100) - policy.target_percent) / Decimal(100)
    return int(allowed.to_integral_value(rounding=ROUND_FLOOR)) - counted_seconds


def next_tier(counted_seconds: int, period_seconds: int, policy: Policy) -> tuple[Tier, int] | None:
    """The next credit tier a customer's month would reach (R-T0, R-T1) and how many more
    seconds of counted downtime reach it; None above the highest tier.

    A tier needs both its downtime (inclusive, R-T1 Decision) and availability below the
    target, so the seconds missing are those to whichever comes last. With the SPEC
    defaults in a 30-day month the target is missed after 86 min 24 s, before 1 h 30 min:

    >>> tier, missing = next_tier(4 * 3600, 30 * 86400, Policy())
    >>> tier.name, missing
    ('2w', 14400)
    """
    current = tier_for(counted_seconds, period_seconds, policy)
    first_below = error_budget_seconds(0, period_seconds, policy) + 1
    for tier in policy.tiers:
        if current is not None and tier.min_downtime_seconds <= current.min_downtime_seconds:
            continue
        needed = max(tier.min_downtime_seconds, first_below)
        if needed > counted_seconds:
            return tier, needed - counted_seconds
    return None


def credit_value(days: Decimal, fee_per_year: Decimal) -> Decimal:
    """R-T2: the money value of ``days`` of service, days x yearly fee / 365 (exact)."""
    return days * fee_per_year / _DAYS_PER_YEAR


def ineligible_reason(customer: CustomerInput, period: MonthPeriod) -> str | None:
    """R-EX5, R-EX6, R-EX7: why a customer earns no credit this month, in rule order
    (:func:`monitor.sla.eligibility.ineligible` at the month's start)."""
    rule = ineligible(customer, period.start)
    return None if rule is None else INELIGIBLE_REASONS[rule]


def notification_breached(notified_after_seconds: int | None, elapsed_seconds: int,
                          policy: Policy) -> bool:
    """R-N1 / D-2: no notification reached the customer within 2 h of the incident start,
    on the one boundary the duty tracker uses too (:func:`monitor.sla.deadlines.missed`):
    notified exactly at 2 h is in time; nothing yet is a breach only once the deadline
    has passed, so a report of the running month never credits early.

    ``notified_after_seconds`` is notified_at - start (None if never);
    ``elapsed_seconds`` is now - start.
    """
    return missed(notified_after_seconds, elapsed_seconds, policy.notification_deadline_seconds)


#: D-1: the target kinds that carry the 15-minute detection duty: servers, the design
#: panel and projects (004, last section); not the mobile API, not the daemon's canaries.
DETECTION_KINDS = frozenset({"server", "web_panel", "project"})


def detection_latency(incident: IncidentInput) -> int | None:
    """D-1: detected_at - start in whole seconds, or None if not recorded."""
    if incident.detected_at is None:
        return None
    return seconds_between(incident.start, incident.detected_at)


def detection_breached(incident: IncidentInput, policy: Policy) -> bool:
    """D-1: a probe took longer than 15 min to know of the outage (exactly 15 min is in
    time, :func:`monitor.sla.deadlines.within`)."""
    latency = detection_latency(incident)
    return (incident.source == "probe" and latency is not None
            and not within(latency, policy.detection_deadline_seconds))


def half_days_up(days: Decimal) -> Decimal:
    """Days of service as the ledger holds them, whole or exact halves, rounded *up* (the
    customer's favour, like every boundary of the contract): 7 / 4 = 1.75 days is 2.

    >>> half_days_up(Decimal(7) / 4), half_days_up(Decimal(14) / 4), half_days_up(Decimal(30))
    (Decimal('2'), Decimal('3.5'), Decimal('30'))
    """
    return (days * 2).to_integral_value(ROUND_CEILING) / 2


def diagnosis_due(ticket: TicketInput, policy: Policy) -> datetime:
    """R-P1 / R-P2: a partial problem is diagnosed within 48 h of its report; the clock
    starts when the ticket is recorded and its number e-mailed (L-4)."""
    return whole_second(ticket.reported_at) + timedelta(seconds=policy.diagnosis_deadline_seconds)


def fix_due(ticket: TicketInput, policy: Policy) -> datetime | None:
    """R-P1 / R-P2: when a provider-fault defect must be fixed; None if not the provider's.

    Decision (ours): the fix period runs from the diagnosis, but a diagnosis
    later than its 48 h deadline does not push the fix deadline back; it then
    runs from the diagnosis deadline.
    """
    if not ticket.provider_fault:
        return None
    due = diagnosis_due(ticket, policy)
    diagnosed = due if ticket.diagnosed_at is None else min(whole_second(ticket.diagnosed_at), due)
    fix_seconds = (policy.web_panel_fix_deadline_seconds if ticket.kind == "web_panel"
                   else policy.mobile_fix_deadline_seconds)
    return diagnosed + timedelta(seconds=fix_seconds)


def fix_deferred(ticket: TicketInput) -> bool:
    """R-P3: a mobile-app fix marked for the next release (system-wide changes, or a
    defect that came with a new release) has no fix deadline to keep and earns no R-P2
    refund. Deferral is part of the mobile-app rules: a web-panel ticket is never
    deferred."""
    return ticket.next_release and ticket.kind == "mobile"


def ticket_credit(
    ticket: TicketInput, customer: CustomerInput, period: MonthPeriod, now: datetime,
    policy: Policy,
) -> CreditLine | None:
    """R-P1 (web panel: days) or R-P2 (mobile: money) for a fix later than due.

    Decision (ours): a ticket's penalty belongs to the month in which its fix
    deadline fell; the delay runs to ``fixed_at``, or to ``now`` while unfixed.
    A ticket reopened after a fix (L-4: the customer's reply says it is not fixed)
    is unfixed again: its deadline stands, and the delay runs to the last fix.
    Nothing accrues if the subscription had lapsed by the deadline (R-EX5).
    R-P1's days are rounded up to whole or half days (:func:`half_days_up`), the
    only fractions the ledger keeps.
    """
    due = fix_due(ticket, policy)
    if due is None or not period.start <= due < period.end:
        return None
    if customer.paid_until is not None and whole_second(customer.paid_until) <= due:
        return None
    fixed = now if ticket.fixed_at is None else min(whole_second(ticket.fixed_at), now)
    overdue_seconds = (fixed - due) // timedelta(seconds=1)
    if overdue_seconds <= 0:
        return None
    if ticket.kind == "web_panel":
        # R-P1 Decision: 1/4 of the tier credit a full outage as long as the
        # overdue time would earn in this month.
        tier = tier_for(overdue_seconds, period.seconds, policy)
        if tier is None:
            return None
        days = half_days_up(Decimal(tier.credit_days) * policy.partial_penalty_fraction)
        return CreditLine("R-P1", days=days, tickets=(ticket.id,))
    if fix_deferred(ticket):
        return None
    started_days = -(-overdue_seconds // _DAY_SECONDS)  # each started day counts
    amount = customer.fee_per_year * policy.mobile_refund_percent_per_day / 100 * started_days
    return CreditLine("R-P2", amount=amount, tickets=(ticket.id,))
