"""A service's recent days as a status page shows them: down, under maintenance, unknown
or up (the 90-day bars), from the same intervals the month's report uses.

A day is a calendar day in the provider's zone (R-M5). What the monitor could not see
is never shown as up (R-M3): a day with unknown time and no outage is *unknown*. The
caller gives the unknown time as the reports read it (the monitor blind, R-M2; the
daemon stopped, or not yet run, R-M3). The order of precedence is the one a reader needs first: an outage shows
even when part of the day is unknown, and a maintenance window shows only on a day
otherwise clean. Outages of every cause count here: the bars say what happened to the
service, the month's availability says what the contract counts (R-EX).

>>> from datetime import date
>>> days = local_days(date(2026, 3, 2), 2, "UTC")
>>> [(d.day.isoformat(), d.span.seconds) for d in days]
[('2026-03-01', 86400), ('2026-03-02', 86400)]
>>> down = [Interval(days[0].span.start.replace(hour=10), days[0].span.start.replace(hour=11))]
>>> bars = daily_states(days, down, [], [], now=days[1].span.end)
>>> [(b.state, b.down_seconds) for b in bars]
[('down', 3600), ('up', 0)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from monitor.sla.calendar import zone
from monitor.sla.intervals import Interval, clip, subtract, total_seconds, union, whole_second

__all__ = ["DAY_STATES", "DayState", "DayStatus", "LocalDay", "Uptime", "daily_states",
           "local_days", "span_uptime"]

DayState = Literal["up", "down", "maintenance", "unknown"]
DAY_STATES: tuple[DayState, ...] = ("up", "down", "maintenance", "unknown")


@dataclass(frozen=True, slots=True)
class LocalDay:
    """One calendar day in the provider's zone, as a UTC span (23 or 25 h across DST)."""

    day: date
    span: Interval


@dataclass(frozen=True, slots=True)
class DayStatus:
    day: date
    start: datetime
    end: datetime  # the day's end, or now for today
    state: DayState
    down_seconds: int  # outages of any cause (union)
    maintenance_seconds: int  # time inside announced windows, neither down nor unknown
    unknown_seconds: int  # unseen time not covered by an outage (R-M3), before now


def local_days(last: date, count: int, timezone: str) -> list[LocalDay]:
    """The ``count`` days ending with ``last`` (inclusive), oldest first."""
    tzinfo = zone(timezone)
    days: list[LocalDay] = []
    for back in range(count - 1, -1, -1):
        day = last - timedelta(days=back)
        start = datetime(day.year, day.month, day.day, tzinfo=tzinfo)
        following = day + timedelta(days=1)
        end = datetime(following.year, following.month, following.day, tzinfo=tzinfo)
        days.append(LocalDay(day, Interval(start, end)))
    return days


def daily_states(
    days: Sequence[LocalDay],
    outages: Iterable[Interval],
    maintenance: Iterable[Interval],
    unknown: Iterable[Interval],
    *,
    now: datetime,
) -> list[DayStatus]:
    """Each day's state from the service's outage intervals (open ones ended at ``now``),
    its announced maintenance windows and the monitor's unknown time. Time after ``now``
    is not judged: today is judged so far, and a day after now is unknown."""
    now = whole_second(now)
    down = union(outages)
    windows = union(maintenance)
    unseen = union(unknown)
    statuses: list[DayStatus] = []
    for local in days:
        start = local.span.start
        end = min(local.span.end, now)
        if end <= start:
            statuses.append(DayStatus(local.day, start, local.span.end, "unknown", 0, 0, 0))
            continue
        judged = Interval(start, end)
        down_seconds = total_seconds(clip(down, judged))
        unknown_parts = subtract(clip(unseen, judged), down)
        unknown_seconds = total_seconds(unknown_parts)
        # Each second once, in the state's order (down, unknown, maintenance): the bar's
        # tooltip adds them, and a window the monitor did not watch is unknown time.
        maintenance_seconds = total_seconds(
            subtract(subtract(clip(windows, judged), down), unknown_parts))
        state: DayState
        if down_seconds:
            state = "down"
        elif unknown_seconds:
            state = "unknown"
        elif maintenance_seconds:
            state = "maintenance"
        else:
            state = "up"
        statuses.append(DayStatus(local.day, start, end, state, down_seconds,
                                  maintenance_seconds, unknown_seconds))
    return statuses


@dataclass(frozen=True, slots=True)
class Uptime:
    """A span's uptime as a status page shows it (the last 24 hours, 7, 30 or 90 days):
    outages of any cause, as the bars count them, and the unknown time apart (R-M3:
    never up, never down)."""

    seconds: int  # the span's length, up to now
    down_seconds: int
    unknown_seconds: int  # unseen time not covered by an outage

    @property
    def percent(self) -> Decimal:
        """(length - down) / length x 100, exact: unknown time stays in the length, as
        R-M6 keeps it in the month's (round only for display)."""
        if self.seconds <= 0:
            return Decimal(100)
        return Decimal(self.seconds - self.down_seconds) * 100 / Decimal(self.seconds)


def span_uptime(
    span: Interval, outages: Iterable[Interval], unknown: Iterable[Interval], *, now: datetime
) -> Uptime:
    """``span``'s uptime up to ``now`` from the service's outages (open ones ended at
    ``now``) and the monitor's unknown time, read as :func:`daily_states` reads a day.

    >>> from datetime import UTC
    >>> day = Interval(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
    >>> down = [Interval(datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 11, tzinfo=UTC))]
    >>> unseen = [Interval(datetime(2026, 3, 1, 10, 30, tzinfo=UTC),
    ...                    datetime(2026, 3, 1, 12, tzinfo=UTC))]
    >>> found = span_uptime(day, down, unseen, now=day.end)
    >>> (found.down_seconds, found.unknown_seconds, f"{found.percent:.3f}")
    (3600, 3600, '95.833')
    """
    end = min(span.end, whole_second(now))
    if end <= span.start:
        return Uptime(0, 0, 0)
    judged = Interval(span.start, end)
    down = clip(union(outages), judged)
    unseen = subtract(clip(union(unknown), judged), down)
    return Uptime(judged.seconds, total_seconds(down), total_seconds(unseen))
