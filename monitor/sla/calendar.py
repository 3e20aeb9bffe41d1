"""Calendar months and business days in the provider's zone (R-M5, R-C1).

A month is a calendar month of the configured calendar (Gregorian or Jalali,
i.e. Solar Hijri; R-M5 Decision) in the configured IANA time zone, from local
midnight of its first day to local midnight of the next month's first day.
The engine sees it only as two UTC instants. Jalali dates come from
``jdatetime``; there is no hand-written calendar arithmetic here (R-M5).

>>> march = month_period("2026-03", "gregorian", "Asia/Tehran")
>>> march.start.isoformat(), march.seconds == 31 * 86400
('2026-02-28T20:30:00+00:00', True)
>>> month_period("1405-01", "jalali", "Asia/Tehran").start.isoformat()  # 1 Farvardin
'2026-03-20T20:30:00+00:00'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import jdatetime  # type: ignore[import-untyped, unused-ignore]

from monitor.errors import InputError
from monitor.sla.intervals import Interval

__all__ = [
    "CALENDARS",
    "CalendarName",
    "MonthPeriod",
    "end_of_next_business_day",
    "month_containing",
    "month_period",
    "split_by_month",
    "zone",
]

CalendarName = Literal["gregorian", "jalali"]
CALENDARS: tuple[CalendarName, ...] = get_args(CalendarName)

_LABEL = re.compile(r"([0-9]{4})-([0-9]{2})")


@dataclass(frozen=True, slots=True)
class MonthPeriod:
    """One calendar month: ``label`` ("2026-03", or Jalali "1405-01") in a calendar
    and zone, spanning ``[start, end)`` in UTC."""

    label: str
    calendar: CalendarName
    timezone: str
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        """Length in seconds; 23 h or 25 h days of a DST change are counted as lived."""
        return self.interval.seconds

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)


def zone(tz: str) -> ZoneInfo:
    """The IANA zone ``tz``, or :class:`InputError` naming it."""
    try:
        return ZoneInfo(tz)
    except (ValueError, KeyError) as error:  # ZoneInfoNotFoundError is a KeyError
        raise InputError("timezone", tz, "an IANA time zone name such as Asia/Tehran") from error


def month_period(label: str, calendar: CalendarName, tz: str) -> MonthPeriod:
    """The month ``label`` ("YYYY-MM" in ``calendar``) in zone ``tz``.

    Raises :class:`InputError` for ``month`` when the label is malformed or
    names a month that does not exist ("2026-13", "1403-00", "abc").
    """
    if calendar not in CALENDARS:
        raise InputError("calendar", calendar, "one of: " + ", ".join(CALENDARS))
    tzinfo = zone(tz)
    match = _LABEL.fullmatch(label)
    allowed = f"a month YYYY-MM of the {calendar} calendar, MM from 01 to 12"
    if match is None:
        raise InputError("month", label, allowed)
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise InputError("month", label, allowed)
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    try:
        start = _local_midnight(_first_day(calendar, year, month), tzinfo)
        end = _local_midnight(_first_day(calendar, *following), tzinfo)
    except (ValueError, OverflowError) as error:
        raise InputError("month", label, allowed) from error
    return MonthPeriod(label, calendar, tz, start, end)


def month_containing(instant: datetime, calendar: CalendarName, tz: str) -> MonthPeriod:
    """The month of ``calendar`` in zone ``tz`` that contains ``instant``."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"month_containing: {instant!r} is naive; an aware datetime is required")
    local_day = instant.astimezone(zone(tz)).date()
    if calendar == "jalali":
        jalali_day = jdatetime.date.fromgregorian(date=local_day)
        year, month = int(jalali_day.year), int(jalali_day.month)
    else:
        year, month = local_day.year, local_day.month
    return month_period(f"{year:04d}-{month:02d}", calendar, tz)


def split_by_month(
    interval: Interval, calendar: CalendarName, tz: str
) -> list[tuple[MonthPeriod, Interval]]:
    """``interval`` cut at every month boundary it crosses (R-M5), in time order."""
    pieces: list[tuple[MonthPeriod, Interval]] = []
    period = month_containing(interval.start, calendar, tz)
    while period.start < interval.end:
        piece = interval.overlap(period.interval)
        if piece is not None:
            pieces.append((period, piece))
        period = month_containing(period.end, calendar, tz)
    return pieces


def end_of_next_business_day(
    instant: datetime, tz: str, weekend: set[int] | frozenset[int],
    holidays: set[date] | frozenset[date],
) -> datetime:
    """When the business day after ``instant``'s local day ends, in UTC (R-C1, D-4).

    ``weekend`` holds ``date.weekday()`` numbers (Monday 0 ... Friday 4, Sunday 6);
    R-C1 Decision: the default weekend is Friday. ``holidays`` are local dates.
    The result is local midnight at the end of that day, so an action strictly
    before it is in time.
    """
    if not weekend.issubset(range(7)) or len(weekend) == 7:
        raise ValueError(f"weekend {sorted(weekend)}: weekday numbers 0-6, not all seven")
    tzinfo = zone(tz)
    day = instant.astimezone(tzinfo).date() + timedelta(days=1)
    while day.weekday() in weekend or day in holidays:
        day += timedelta(days=1)
    return _local_midnight(day + timedelta(days=1), tzinfo)


def _first_day(calendar: CalendarName, year: int, month: int) -> date:
    if calendar == "gregorian":
        return date(year, month, 1)
    gregorian: date = jdatetime.date(year, month, 1).togregorian()
    return gregorian


def _local_midnight(day: date, tzinfo: ZoneInfo) -> datetime:
    # Where midnight is skipped by a DST change, zoneinfo resolves it with the
    # offset in force before the change; both ends of every month use the same
    # rule, so consecutive months tile time without gap or overlap.
    return datetime.combine(day, time(0), tzinfo).astimezone(UTC)
