"""A span's uptime on the status page (:func:`monitor.sla.span_uptime`): outages of any
cause counted once (union), unknown time apart and never where an outage is (R-M3), in
the span's length (R-M6's denominator), time after now not judged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from monitor.sla import Interval, span_uptime

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
