"""A span's uptime on the status page (:func:`monitor.sla.span_uptime`): outages of any
cause counted once (union), unknown time apart and never where an outage is (R-M3), in
the span's length (R-M6's denominator), time after now not judged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from monitor.sla import Interval, daily_states, local_days, span_uptime

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def test_overlapping_outages_count_once_and_unknown_stays_apart() -> None:
    found = span_uptime(Interval(at(0), at(24)),
                        [Interval(at(1), at(3)), Interval(at(2), at(4))],
                        [Interval(at(3), at(6))], now=at(24))
    assert (found.seconds, found.down_seconds, found.unknown_seconds) == (86400, 3 * 3600,
                                                                          2 * 3600)
    # Unknown time is in the length, not in the downtime: 21 of 24 hours up.
    assert found.percent == Decimal(21 * 3600) * 100 / Decimal(86400)


def test_time_after_now_is_not_judged() -> None:
    found = span_uptime(Interval(at(0), at(24)), [Interval(at(11), at(30))], [], now=at(12))
    assert (found.seconds, found.down_seconds) == (12 * 3600, 3600)
    assert span_uptime(Interval(at(13), at(24)), [], [], now=at(12)).percent == 100


def test_a_days_bar_counts_each_second_once_down_then_unknown_then_maintenance() -> None:
    """A day bar's tooltip adds down, maintenance and unknown time: each second is counted
    once, by the state's own order (down, then unknown, then maintenance), so that they never
    add to more than the day (a day unwatched through a 2 h window read "maintenance 2 h,
    unknown 1 d": 26 h). The monitor not running (R-M3) from 00:00 to 12:00; a window from
    10:00 to 14:00; an outage from 13:00 to 13:30 inside the window."""
    (day,) = daily_states(local_days(T0.date(), 1, "UTC"), [Interval(at(13), at(13.5))],
                          [Interval(at(10), at(14))], [Interval(at(0), at(12))], now=at(24))
    assert day.state == "down"
    assert day.down_seconds == 30 * 60  # 13:00-13:30
    assert day.unknown_seconds == 12 * 3600  # 00:00-12:00, no outage in it
    # The window's 4 h less its 2 h unknown (10:00-12:00) and the 30 min down: 1 h 30 min.
    assert day.maintenance_seconds == 90 * 60
    assert day.down_seconds + day.unknown_seconds + day.maintenance_seconds <= 24 * 3600
    # A whole day unwatched with a window in it: unknown all day, no maintenance seen.
    (blind,) = daily_states(local_days(T0.date(), 1, "UTC"), [], [Interval(at(1), at(3))],
                            [Interval(at(0), at(24))], now=at(24))
    assert (blind.state, blind.unknown_seconds, blind.maintenance_seconds) == (
        "unknown", 86400, 0)
