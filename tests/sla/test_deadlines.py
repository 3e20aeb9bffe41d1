"""The one deadline boundary (R-N1 Decision, D-1, R-EX1 / D-3): done exactly at the deadline
is in time; a duty is breached only once its deadline has passed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.sla import Policy, duty_state, in_time, notice_due, notification_due, within
from monitor.sla.deadlines import late_from

from .builders import HOUR, MINUTE, at, later

START = at(10, 8)  # an incident starting 10 March 08:00 UTC


def test_within_is_inclusive() -> None:
    assert within(2 * HOUR, 2 * HOUR) and not within(2 * HOUR + 1, 2 * HOUR)
    assert within(15 * MINUTE, 15 * MINUTE) and not within(15 * MINUTE + 0.5, 15 * MINUTE)


def test_in_time_compares_whole_seconds() -> None:
    # R-M6: instants are cut to the second, as every engine figure is.
    due = later(START, 2 * HOUR)
    assert in_time(due + timedelta(microseconds=999_999), due)
    assert not in_time(due + timedelta(seconds=1), due)


@pytest.mark.parametrize("offset", [
    timedelta(0), timedelta(microseconds=1), timedelta(microseconds=999_999), timedelta(seconds=1),
    timedelta(seconds=1, microseconds=1), -timedelta(microseconds=1), -timedelta(seconds=1)])
@pytest.mark.parametrize("due", [later(START, 2 * HOUR), later(START, 2 * HOUR)
                                 + timedelta(microseconds=400_000)])
def test_late_from_is_in_time_as_one_comparison(due: object, offset: timedelta) -> None:
    """Many notices checked against one window's deadline compare with its first late
    instant: the same answer as :func:`in_time`, fractions of a second included."""
    assert isinstance(due, type(START))
    done_at = due + offset
    assert (done_at < late_from(due)) == in_time(done_at, due)


def test_r_n1_due_is_two_hours_after_the_start() -> None:
    assert notification_due(START, Policy()) == at(10, 10)


def test_r_ex1_notice_due_is_48_hours_before_the_window() -> None:
    assert notice_due(at(20), Policy()) == at(18)


@pytest.mark.parametrize(("done_after", "now_after", "state"), [
    (None, HOUR, "pending"),  # 1 h left, more than the 30 min warning
    (None, 90 * MINUTE, "at_risk"),  # exactly 30 min left: operators are alerted (D-2)
    (None, 2 * HOUR, "at_risk"),  # the deadline instant: a call now is still in time
    (None, 2 * HOUR + 1, "breached"),  # one second past it
    (2 * HOUR, 2 * HOUR, "done"),  # notified exactly at 2 h: in time (R-N1 Decision)
    (2 * HOUR + 1, 3 * HOUR, "breached"),  # notified, but late
    (MINUTE, 3 * HOUR, "done"),
])
def test_d2_duty_state(done_after: int | None, now_after: int, state: str) -> None:
    due = notification_due(START, Policy())
    done_at = None if done_after is None else later(START, done_after)
    assert duty_state(done_at, due, later(START, now_after), warning_seconds=30 * MINUTE) == state
