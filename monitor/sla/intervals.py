"""The one interval type of sla-monitor and its algebra (R-M4, R-M6).

An :class:`Interval` is a half-open span ``[start, end)`` of timezone-aware UTC
time. Every operation below takes any iterable of intervals (unsorted,
overlapping, duplicated) and returns a *normalized* list: sorted by start,
pairwise disjoint, and with touching intervals merged, so that
``[10:00, 11:00) + [11:00, 12:00)`` is one interval ``[10:00, 12:00)``.
Downtime is time spent in these sets, never a count of samples (R-M1).

Every operation is a sort followed by a sweep, O(n log n), so a month of
hundreds of thousands of incidents stays fast.

>>> from datetime import datetime, timezone
>>> def at(hour: int) -> datetime:
...     return datetime(2026, 3, 1, hour, tzinfo=timezone.utc)
>>> outages = [Interval(at(10), at(12)), Interval(at(11), at(13))]
>>> total_seconds(outages)  # overlap counted once
10800
>>> total_seconds(subtract(outages, [Interval(at(12), at(14))]))
7200
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter

__all__ = [
    "Interval",
    "clip",
    "intersect",
    "seconds_between",
    "seconds_outside",
    "subtract",
    "total_seconds",
    "union",
    "whole_second",
]

_ONE_SECOND = timedelta(seconds=1)
_by_start = attrgetter("start")
_by_end = attrgetter("end")


@dataclass(frozen=True, slots=True)
class Interval:
    """Half-open span ``[start, end)`` of UTC time; ``start < end`` always holds.

    Aware datetimes in another zone are converted to UTC; naive ones are refused
    because their instant is unknown.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value: datetime = getattr(self, name)
            if value.tzinfo is UTC:
                continue
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"Interval.{name}: {value!r} is naive; a timezone-aware "
                                 "datetime is required")
            object.__setattr__(self, name, value.astimezone(UTC))
        if not self.start < self.end:
            raise ValueError(f"Interval: end {self.end.isoformat()} must be after "
                             f"start {self.start.isoformat()}")

    @property
    def seconds(self) -> int:
        """Length in whole seconds (fractions of a second are dropped)."""
        return (self.end - self.start) // _ONE_SECOND

    def overlap(self, other: Interval) -> Interval | None:
        """The common part of two intervals, or None when they do not overlap."""
        start = max(self.start, other.start)
        end = min(self.end, other.end)
        if start >= end:
            return None
        if start == self.start and end == self.end:
            return self
        return Interval(start, end)


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint cover of ``intervals``; overlapping or touching ones merge."""
    given = intervals if isinstance(intervals, list) else list(intervals)
    if _is_normalized(given):
        return list(given)  # the usual case inside the engine: nothing to merge
    merged: list[Interval] = []
    current: Interval | None = None
    current_end: datetime | None = None
    for interval in sorted(given, key=_by_start):
        if current is None or current_end is None:
            current, current_end = interval, interval.end
        elif interval.start <= current_end:
            if interval.end > current_end:
                current_end = interval.end
        else:
            merged.append(_closed(current, current_end))
            current, current_end = interval, interval.end
    if current is not None and current_end is not None:
        merged.append(_closed(current, current_end))
    return merged


def _is_normalized(intervals: list[Interval]) -> bool:
    # Stops at the first overlap, so checking costs little when it fails.
    for index in range(1, len(intervals)):
        if intervals[index - 1].end >= intervals[index].start:
            return False
    return True


def _closed(first: Interval, end: datetime) -> Interval:
    # Reuse the input object when nothing was merged into it: most intervals
    # of a month do not overlap, and allocation is the sweep's main cost.
    return first if first.end == end else Interval(first.start, end)


def clip(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    """The parts of ``intervals`` inside ``window``, normalized."""
    return _common(union(intervals), [window])


def subtract(intervals: Iterable[Interval], holes: Iterable[Interval]) -> list[Interval]:
    """The parts of ``intervals`` outside every hole, normalized."""
    return _outside(union(intervals), union(holes))


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """The time covered by both ``a`` and ``b``, normalized."""
    return _common(union(a), union(b))


def total_seconds(intervals: Iterable[Interval]) -> int:
    """Whole seconds covered by ``intervals``, overlaps counted once."""
    covered = timedelta(0)
    for interval in union(intervals):
        covered += interval.end - interval.start
    return covered // _ONE_SECOND


def seconds_outside(span: Interval, holes: list[Interval]) -> int:
    """``total_seconds(subtract([span], holes))`` for ``holes`` already normalized (sorted,
    disjoint: what :func:`union` gives), without building the pieces: a month's engine
    asks it for every incident of every service seen through announced windows."""
    start, end = span.start, span.end
    left = end - start
    for index in range(bisect_right(holes, start, key=_by_end), len(holes)):
        hole = holes[index]
        if hole.start >= end:
            break
        left -= min(end, hole.end) - max(start, hole.start)
    return left // _ONE_SECOND


# The sweeps below walk two normalized lists together. For each interval of
# ``base`` a binary search skips the intervals of the other list that end before
# it starts, so a short list against a long one costs O(short x log long).


def _outside(base: list[Interval], holes: list[Interval]) -> list[Interval]:
    if not holes:
        return base
    result: list[Interval] = []
    first = 0
    for interval in base:
        start, end = interval.start, interval.end
        first = bisect_right(holes, start, lo=first, key=_by_end)
        cursor = start
        for index in range(first, len(holes)):
            hole = holes[index]
            if hole.start >= end:
                break
            if cursor < hole.start:
                result.append(_piece(interval, cursor, hole.start))
            if hole.end > cursor:
                cursor = hole.end
            if cursor >= end:
                break
        if cursor < end:
            result.append(_piece(interval, cursor, end))
    return result


def _common(base: list[Interval], other: list[Interval]) -> list[Interval]:
    result: list[Interval] = []
    if not other:
        return result
    first = 0
    for interval in base:
        start, end = interval.start, interval.end
        first = bisect_right(other, start, lo=first, key=_by_end)
        for index in range(first, len(other)):
            overlapping = other[index]
            if overlapping.start >= end:
                break
            result.append(_piece(interval, max(start, overlapping.start),
                                 min(end, overlapping.end)))
    return result


def _piece(whole: Interval, start: datetime, end: datetime) -> Interval:
    return whole if start == whole.start and end == whole.end else Interval(start, end)


def whole_second(instant: datetime) -> datetime:
    """``instant`` in UTC, truncated to its whole second.

    The SLA engine passes every instant through this on the way in (R-M6:
    integer seconds), so all its sums are exact and consistent.
    """
    if instant.tzinfo is not UTC:
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(f"{instant!r} is naive; a timezone-aware datetime is required")
        instant = instant.astimezone(UTC)
    return instant.replace(microsecond=0) if instant.microsecond else instant


def seconds_between(start: datetime, end: datetime) -> int:
    """Whole seconds from ``start`` to ``end``, each cut to its second first, as every sum of
    the engine is (R-M6): the one rounding of a duration shown anywhere (an incident list,
    a report, an e-mail), so that they agree to the second.

    >>> from datetime import datetime, UTC
    >>> seconds_between(datetime(2026, 3, 10, 10, 0, 0, 900000, UTC),
    ...                 datetime(2026, 3, 10, 10, 0, 40, 100000, UTC))
    40
    """
    return (whole_second(end) - whole_second(start)) // _ONE_SECOND
