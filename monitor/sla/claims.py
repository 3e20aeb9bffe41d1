"""Credit claims (R-C1, D-4): their deadlines, and what an approved claim credits (R-C3).

Every boundary here is decided once and asked by the claim actions, the duty tracker
(D-4 metrics and operator e-mails) and the claim pages alike:

* **the claim deadline** (R-C1 Decision): the instant the month ends in the provider's
  zone plus ``policy.claim_deadline_seconds``, whole days counted as calendar days at the
  same clock time, inclusive (:func:`claim_deadline`, :func:`claim_in_time`);
* **the receipt** is due by the end of the next business day after submission, in the
  provider's zone, weekend days and holidays skipped (R-C1 Decision); its last whole
  second is in time (:func:`receipt_due`);
* **the decision** is due ``policy.decision_deadline_seconds`` after submission
  (:func:`decision_due`), and an approved credit takes effect
  ``policy.credit_delay_seconds`` after the approval (:func:`credit_effective_at`);
* **what approval grants** (:func:`claim_grants`): every credit line of the month's
  report, each with its evidence; a partial approval grants fewer days;
* **a review** after a new revision of a closed month (:func:`review_grants`): the
  difference between what was granted and what the contract now says, as adjusting
  grants (entries are never edited, R-C3).

>>> from monitor.sla.calendar import month_period
>>> october = month_period("2026-10", "gregorian", "UTC")
>>> claim_deadline(october, Policy()).isoformat()
'2026-11-15T00:00:00+00:00'
>>> due = receipt_due(datetime(2026, 11, 12, 15, tzinfo=UTC), "UTC", Policy())  # a Thursday
>>> due.isoformat()  # Friday is the weekend: Saturday's last second
'2026-11-14T23:59:59+00:00'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta  # noqa: F401  (UTC: the examples above)
from decimal import Decimal
from typing import Literal, get_args

from monitor.sla.calendar import MonthPeriod, end_of_next_business_day, local_shift
from monitor.sla.deadlines import in_time
from monitor.sla.intervals import whole_second
from monitor.sla.policy import Policy
from monitor.sla.report import CreditLine, CustomerReport

__all__ = [
    "CLAIM_CHANNELS",
    "DECISIONS",
    "ClaimChannel",
    "Decision",
    "Grant",
    "claim_deadline",
    "claim_grants",
    "claim_in_time",
    "credit_effective_at",
    "decision_due",
    "granted_totals",
    "month_ended",
    "receipt_due",
    "review_grants",
]

_ONE_SECOND = timedelta(seconds=1)

ClaimChannel = Literal["email", "web", "phone"]
#: How a claim reached the provider: the web form (004 part 3), e-mail, or a phone call
#: an operator records.
CLAIM_CHANNELS: tuple[ClaimChannel, ...] = get_args(ClaimChannel)

Decision = Literal["approved", "partly", "rejected"]
DECISIONS: tuple[Decision, ...] = get_args(Decision)

#: The rule a partial approval's days are granted under (R-C1: the operator decides).
PARTLY_RULE = "R-C1"


def claim_deadline(period: MonthPeriod, policy: Policy) -> datetime:
    """R-C1 Decision: the last instant a claim for ``period`` is in time (inclusive).

    The month's end in the provider's zone, plus the claim deadline: whole days as
    calendar days at the same local clock time (a DST change in between does not
    move it), any remainder as elapsed seconds.
    """
    return local_shift(period.end, period.timezone, policy.claim_deadline_seconds)


def month_ended(period: MonthPeriod, at: datetime) -> bool:
    """R-C1: a claim is for a month that has ended."""
    return at >= period.end


def claim_in_time(submitted_at: datetime, period: MonthPeriod, policy: Policy) -> bool:
    """R-C1 Decision: submitted no later than :func:`claim_deadline` (that instant is in time)."""
    return in_time(submitted_at, claim_deadline(period, policy))


def receipt_due(submitted_at: datetime, timezone: str, policy: Policy) -> datetime:
    """R-C1 / D-4: the last whole second of the next business day after the submission's
    local day (weekend days and holidays of the policy skipped)."""
    end = end_of_next_business_day(submitted_at, timezone, policy.weekend_days, policy.holidays)
    return whole_second(end) - _ONE_SECOND


def decision_due(submitted_at: datetime, policy: Policy) -> datetime:
    """R-C1 / D-4: the decision is e-mailed within 14 days of the submission."""
    return whole_second(submitted_at) + timedelta(seconds=policy.decision_deadline_seconds)


def credit_effective_at(decided_at: datetime, policy: Policy) -> datetime:
    """R-C1: an approved credit is added one month (``credit_delay``) after the approval."""
    return whole_second(decided_at) + timedelta(seconds=policy.credit_delay_seconds)


@dataclass(frozen=True, slots=True)
class Grant:
    """One ledger line an approved claim (or its review) adds: days of service or money
    (R-P2), under a rule, with its evidence (R-C3)."""

    rule: str
    days: Decimal | None = None
    amount: Decimal | None = None
    incidents: tuple[int, ...] = ()
    maintenance: tuple[int, ...] = ()
    tickets: tuple[int, ...] = ()

    @classmethod
    def of(cls, line: CreditLine) -> Grant:
        return cls(line.rule, line.days, line.amount, line.incidents, line.maintenance,
                   line.tickets)


def _merged(rule: str, days: Decimal, lines: Iterable[CreditLine]) -> Grant:
    found = list(lines)
    return Grant(
        rule, days=days,
        incidents=tuple(sorted({i for line in found for i in line.incidents})),
        maintenance=tuple(sorted({m for line in found for m in line.maintenance})),
        tickets=tuple(sorted({t for line in found for t in line.tickets})),
    )


def claim_grants(report: CustomerReport, partly_days: Decimal | None = None) -> tuple[Grant, ...]:
    """What approving a claim for ``report``'s customer and month credits (R-C1, R-C3).

    Approval grants every credit line (R-T1, R-N1, R-P1 days; R-P2 money), each with its
    evidence. A partial approval (Decision, ours) grants ``partly_days`` days of service
    in place of the computed days, as one line whose evidence is every day line's; the
    R-P2 refunds, money the contract grants per started day, stay as computed: a partial
    approval disputes days, not that arithmetic.
    """
    lines = report.credit_lines
    if partly_days is None:
        return tuple(Grant.of(line) for line in lines)
    day_lines = [line for line in lines if line.days is not None]
    money = [Grant.of(line) for line in lines if line.amount is not None]
    return (_merged(PARTLY_RULE, partly_days, day_lines), *money)


def granted_totals(grants: Iterable[Grant]) -> tuple[Decimal, Decimal]:
    """(days, money) of some grants."""
    found = list(grants)
    days = sum((g.days for g in found if g.days is not None), Decimal(0))
    amount = sum((g.amount for g in found if g.amount is not None), Decimal(0))
    return days, amount


def review_grants(
    granted_days: Decimal, granted_amount: Decimal, report: CustomerReport,
    decision: Decision, partly_days: Decimal | None = None,
) -> tuple[Grant, ...]:
    """R-C3: the adjusting lines of a review of an approved claim after a new revision.

    ``approved``: the credit becomes what the revision computes; ``partly``: the days
    become ``partly_days`` (money as computed); ``rejected``: what was granted stands (no
    line). Each adjustment is the difference (negative when the credit shrank); nothing
    already granted is edited.
    """
    if decision == "rejected":
        return ()
    new_days = partly_days if decision == "partly" and partly_days is not None else (
        report.credit_days_total)
    rule = "R-C3"
    evidence = list(report.credit_lines)
    adjustments: list[Grant] = []
    if new_days != granted_days:
        adjustments.append(_merged(rule, new_days - granted_days,
                                   (line for line in evidence if line.days is not None)))
    if report.refund_amount != granted_amount:
        money_lines: Sequence[CreditLine] = [line for line in evidence if line.amount is not None]
        merged = _merged(rule, Decimal(0), money_lines)
        adjustments.append(Grant(rule, amount=report.refund_amount - granted_amount,
                                 tickets=merged.tickets))
    return tuple(adjustments)
