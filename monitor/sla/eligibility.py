"""Who the contract gives nothing (R-EX5, R-EX6, R-EX7), decided once.

The report asks it for credits, the notifier for alert and notice e-mails:

* **R-EX5** a subscription lapsed for non-payment. **Decision:** a customer is
  suspended only when every one of its sites has lapsed; a site is paid through
  the end of its ``paid_until`` day in the provider's zone (:func:`lapse_instant`).
  A suspended customer earns no credit and gets no customer e-mail (probing
  goes on, and operators are told).
* **R-EX6** a customer running a clone of the platform: no credits, no e-mail.
* **R-EX7** a site on a product version the provider no longer supports: no
  credits. **Decision:** supported = the versions the configuration lists
  (none listed: all); outage and maintenance e-mails still go out, since the
  service is still delivered to it.

>>> from datetime import date
>>> lapse_instant([date(2026, 6, 21)], "Asia/Tehran").isoformat()
'2026-06-21T20:30:00+00:00'
>>> lapse_instant([date(2026, 6, 21), None], "Asia/Tehran") is None
True
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from monitor.sla.calendar import zone
from monitor.sla.inputs import CustomerInput

__all__ = [
    "INELIGIBLE_REASONS",
    "IneligibleRule",
    "ineligible",
    "lapse_instant",
    "suspended",
    "unsupported_version",
]

IneligibleRule = Literal["R-EX5", "R-EX6", "R-EX7"]
#: How a report names each rule (the ``ineligible_reason`` of SPEC section 7's JSON).
INELIGIBLE_REASONS: Mapping[IneligibleRule, str] = {
    "R-EX5": "R-EX5 non-payment",
    "R-EX6": "R-EX6 clone",
    "R-EX7": "R-EX7 unsupported version",
}


def lapse_instant(paid_until: Iterable[date | None], timezone: str) -> datetime | None:
    """R-EX5 Decision: when a customer whose sites are paid until these dates is suspended
    (UTC), or None if one of them never lapses."""
    dates = list(paid_until)
    if not dates or any(day is None for day in dates):
        return None
    last = max(day for day in dates if day is not None)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone(timezone))
    return end.astimezone(UTC)


def unsupported_version(versions: Iterable[str | None], supported: Collection[str]) -> bool:
    """R-EX7 Decision: some site runs a version not in the configured list (empty: all)."""
    return bool(supported) and any(v is not None and v not in supported for v in versions)


def suspended(customer: CustomerInput, at: datetime) -> bool:
    """R-EX5: the customer's subscription had lapsed at ``at``."""
    return customer.paid_until is not None and at >= customer.paid_until


def ineligible(
    customer: CustomerInput, at: datetime, *, alerts: bool = False
) -> IneligibleRule | None:
    """Why ``customer`` gets nothing at ``at``, the first rule in rule order, or None.

    For a month's credits ``at`` is the month's start (a month that begins lapsed earns
    nothing; a lapse inside it is excluded time, :mod:`monitor.sla.downtime`). With
    ``alerts``, the question is the e-mails about something happening at ``at``, which
    R-EX7 does not stop.
    """
    if suspended(customer, at):
        return "R-EX5"
    if customer.clone:
        return "R-EX6"
    if customer.unsupported_version and not alerts:
        return "R-EX7"
    return None
