"""Monthly statements: when they are due, who gets one, who is reminded to claim.

Every boundary is decided here once and asked by the daemon's automatic run, the
``statement`` commands and the statements themselves:

* **when** (:func:`statement_due`): the configured delay after the month ends in the
  provider's zone, so that late manual records (a phoned-in outage, a notice made by
  other means) are in the revision the customers get. Whole days are calendar days at
  the same local clock time, as for the claim deadline (R-C1 Decision).
* **who** (:func:`statement_withheld`): a customer whose month earns nothing because its
  subscription had lapsed (R-EX5) or because it runs a clone (R-EX6) gets no statement
  unless an operator asks for one; a customer on an unsupported version (R-EX7) still
  gets one, since it still gets the service (its statement says why no credit is due).
* **the reminder** (:func:`reminder_due`, :func:`reminder_owed`): a customer whose month
  earns credit (days or money) and who has not claimed it is reminded once, the
  configured time before the claim deadline (R-C1 Decision: "a customer who has not
  claimed can be reminded"); never after the deadline, when a claim would be late.

>>> from monitor.sla.calendar import month_period
>>> october = month_period("2026-10", "gregorian", "UTC")
>>> statement_due(october, 86_400).isoformat()
'2026-11-02T00:00:00+00:00'
>>> reminder_due(october, Policy(), 3 * 86_400).isoformat()  # the deadline is 11-15 00:00
'2026-11-12T00:00:00+00:00'
>>> statement_withheld("R-EX5"), statement_withheld("R-EX7"), statement_withheld(None)
(True, False, False)
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from monitor.sla.calendar import MonthPeriod, local_shift
from monitor.sla.claims import claim_deadline
from monitor.sla.deadlines import in_time
from monitor.sla.eligibility import IneligibleRule
from monitor.sla.policy import Policy

__all__ = [
    "WITHHELD",
    "reminder_due",
    "reminder_owed",
    "statement_due",
    "statement_withheld",
]

#: The rules under which a customer gets no statement unless an operator asks:
#: a lapsed subscription (R-EX5) and a clone (R-EX6) get no customer e-mail at all.
WITHHELD: frozenset[IneligibleRule] = frozenset({"R-EX5", "R-EX6"})


def statement_due(period: MonthPeriod, delay_seconds: int) -> datetime:
    """When the month's statements are due: ``delay_seconds`` after it ends (calendar days
    in the provider's zone, :func:`monitor.sla.calendar.local_shift`)."""
    return local_shift(period.end, period.timezone, delay_seconds)


def reminder_due(period: MonthPeriod, policy: Policy, before_seconds: int) -> datetime:
    """When a customer who has not claimed the month's credit is reminded:
    ``before_seconds`` before the claim deadline (:func:`monitor.sla.claim_deadline`),
    calendar days back at the same local clock time."""
    return local_shift(claim_deadline(period, policy), period.timezone, -before_seconds)


def statement_withheld(rule: IneligibleRule | None) -> bool:
    """Whether a customer whose month the engine found ineligible under ``rule`` gets no
    statement unless asked for (:data:`WITHHELD`)."""
    return rule in WITHHELD


def reminder_owed(
    *,
    credit_days: Decimal,
    refund_amount: Decimal,
    claimed: bool,
    period: MonthPeriod,
    policy: Policy,
    before_seconds: int,
    now: datetime,
) -> bool:
    """Whether a customer is reminded now to claim the month's credit: it is owed some
    (days of service or an R-P2 refund), it has not claimed, the reminder is due and the
    claim deadline has not passed (that instant is still in time, R-C1 Decision)."""
    if claimed or (credit_days <= 0 and refund_amount <= 0):
        return False
    return reminder_due(period, policy, before_seconds) <= now and in_time(
        now, claim_deadline(period, policy))
