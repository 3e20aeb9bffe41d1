"""Duties with a deadline (R-N1 / D-2, R-EX1 / D-3, D-1): the boundary, decided once.

R-N1 says customers must be notified "within 2 h" of an incident start, and its
Decision makes exactly 2 h still in time; R-EX1 makes a maintenance notice sent
exactly 48 h ahead in time; D-1 asks for detection "within 15 minutes".
:func:`within` is that boundary (:func:`in_time` the same for instants), and
everything that asks whether a duty was met or missed asks it: the duty tracker
of the daemon (:mod:`monitor.notify.tracking`), the month's report (the R-N1
credit, :func:`monitor.sla.credits.notification_breached`; D-1 breaches), the
R-EX1 exclusion (:mod:`monitor.sla.downtime`), the daemon's D-1 metric and
``check-config``'s worst cases. Like every figure of the engine, instants are
compared on whole seconds (R-M6).

>>> from datetime import UTC, datetime
>>> start = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
>>> due = notification_due(start, Policy())
>>> due.isoformat()
'2026-03-10T10:00:00+00:00'
>>> duty_state(due, due, due), duty_state(None, due, due)
('done', 'at_risk')
>>> duty_state(None, due, due + timedelta(seconds=1))
'breached'
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from monitor.sla.intervals import whole_second
from monitor.sla.policy import Policy

__all__ = [
    "DUTY_STATES",
    "DutyState",
    "duty_state",
    "in_time",
    "late_from",
    "missed",
    "month_settled",
    "notice_due",
    "notification_due",
    "within",
]

_ONE_SECOND = timedelta(seconds=1)

DutyState = Literal["done", "pending", "at_risk", "breached"]
DUTY_STATES: tuple[DutyState, ...] = ("done", "pending", "at_risk", "breached")


def within(seconds: float, allowed_seconds: float) -> bool:
    """Whether something that took ``seconds`` meets a duty of ``allowed_seconds``:
    exactly the allowed time is in time ("within 2 h", R-N1 Decision; "within 15
    minutes", D-1; a notice exactly 48 h ahead, R-EX1)."""
    return seconds <= allowed_seconds


def in_time(done_at: datetime, due: datetime) -> bool:
    """Whether something done at ``done_at`` meets a deadline at ``due``, on whole seconds:
    at the due instant itself it does (as :func:`within` an allowance of 0)."""
    return whole_second(done_at) < late_from(due)


def late_from(due: datetime) -> datetime:
    """The first instant that is late for a deadline at ``due`` (the one boundary of
    :func:`in_time`: the due second itself is in time); ``done_at < late_from(due)`` checks
    many times against one deadline as one comparison each (every customer's notice of a
    window)."""
    return whole_second(due) + _ONE_SECOND


def missed(done_after: float | None, elapsed: float, allowed: float) -> bool:
    """A duty of ``allowed`` seconds, ``elapsed`` seconds after its clock started, done
    ``done_after`` seconds in (None: not yet) is breached: not done in time, and its
    deadline has passed (nothing done from now on can be in time). The report's form of
    :func:`duty_state` (seconds from the incident start; one line per incident and
    customer, so no datetimes)."""
    done = done_after is not None and within(done_after, allowed)
    return not done and not within(elapsed, allowed)


def duty_state(
    done_at: datetime | None, due: datetime, now: datetime, warning_seconds: float = 0
) -> DutyState:
    """One duty as known at ``now``: ``done`` (in time), ``breached`` (:func:`missed`),
    ``at_risk`` (unmet, and at most ``warning_seconds`` left: D-2 alerts operators so a
    person can phone), or ``pending``."""
    if done_at is not None and in_time(done_at, due):
        return "done"
    late = (whole_second(now) - whole_second(due)) / timedelta(seconds=1)
    done_late = None if done_at is None else (
        (whole_second(done_at) - whole_second(due)) / timedelta(seconds=1))
    if missed(done_late, late, 0):
        return "breached"
    return "at_risk" if -late <= warning_seconds else "pending"


def notification_due(start: datetime, policy: Policy) -> datetime:
    """R-N1 / D-2: when the customer must have been told of an incident starting at ``start``."""
    return whole_second(start) + timedelta(seconds=policy.notification_deadline_seconds)


def notice_due(window_start: datetime, policy: Policy) -> datetime:
    """R-EX1 / D-3: when the notice of a window starting at ``window_start`` must have
    reached the technical contact for the window to be excluded."""
    return whole_second(window_start) - timedelta(seconds=policy.maintenance_notice_seconds)


def month_settled(period_end: datetime, policy: Policy) -> datetime:
    """When a month that ended at ``period_end`` stops changing with time alone, so that
    it can be closed (R-C3): the R-N1 deadline of an incident begun in its last second has
    passed. Before then, an incident of its last hours not yet notified is not yet a breach
    (:func:`missed`), and a revision frozen then would keep saying so: no record changes
    when the deadline passes, so a later close would find the inputs unchanged. (D-1 and
    R-EX1 are decided by records alone; a ticket's late fix is recorded when it comes.)

    >>> from datetime import UTC
    >>> month_settled(datetime(2026, 11, 1, tzinfo=UTC), Policy()).isoformat()
    '2026-11-01T02:00:00+00:00'
    """
    return notification_due(period_end, policy)
