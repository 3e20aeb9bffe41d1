"""Calendar months and business days in the provider's zone (R-M5, R-C1).

A month is a calendar month of the configured calendar (Gregorian or Jalali,
i.e. Solar Hijri; R-M5 Decision) in the configured IANA time zone, from local
midnight of its first day to local midnight of the next month's first day.
The engine sees it only as two UTC instants. Jalali dates come from
``jdatetime``; there is no hand-written calendar arithmetic here (R-M5).

A label people type must be plausible in the provider's calendar
(:data:`PLAUSIBLE_YEARS`: Jalali 1300 to 1499, Gregorian 1970 to 2200), so that
``2026-11`` on a Jalali provider is not read as the year 2648; a label that fits
the *other* calendar is refused with the months it overlaps there:

>>> month_period("2026-11", "jalali", "Asia/Tehran")
Traceback (most recent call last):
...
monitor.errors.InputError: month: '2026-11' is not valid; allowed: a month YYYY-MM, MM 01 to 12, years 1300 to 1499: the provider's calendar is Jalali (Solar Hijri); 2026-11 in the Gregorian calendar is 1405-08/1405-09

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

from monitor.errors import InputError, in_ascii_digits
from monitor.sla.intervals import Interval, whole_second

__all__ = [
    "CALENDARS",
    "PLAUSIBLE_YEARS",
    "CalendarName",
    "MonthPeriod",
    "calendar_day",
    "day_of_month",
    "end_of_next_business_day",
    "local_shift",
    "month_containing",
    "month_pattern",
    "month_period",
    "number_range_pattern",
    "split_by_month",
    "zone",
]

CalendarName = Literal["gregorian", "jalali"]
CALENDARS: tuple[CalendarName, ...] = get_args(CalendarName)

_LABEL = re.compile(r"([0-9]{4})-([0-9]{2})")

#: Years a month label typed by a person may name, per calendar (inclusive). The two
#: ranges do not overlap, so a label plausible in one calendar is never plausible in the
#: other, and the hint can say which months it would have been there.
PLAUSIBLE_YEARS: dict[CalendarName, tuple[int, int]] = {
    "gregorian": (1970, 2200),
    "jalali": (1300, 1499),
}
_NAMES: dict[CalendarName, str] = {"gregorian": "Gregorian", "jalali": "Jalali (Solar Hijri)"}


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


def month_pattern(calendar: CalendarName) -> str:
    """The labels :func:`month_period` accepts in ``calendar``, as a regular expression
    (ECMA 262 and Python alike): what the API's document says a month is, so that a
    client built from it sends only months the API takes."""
    first, last = PLAUSIBLE_YEARS[calendar]
    return f"^{number_range_pattern(first, last)}-(?:0[1-9]|1[0-2])$"


def number_range_pattern(first: int, last: int) -> str:
    """A regular expression (a group, unanchored) for the decimal numbers ``first`` to
    ``last`` written with the same number of digits: ``1970, 2200`` ->
    ``(?:19[7-9][0-9]|2(?:[01][0-9]{2}|200))``, or so."""
    low, high = str(first), str(last)
    if len(low) != len(high) or first > last:
        raise ValueError(f"number_range_pattern: {first} to {last}")
    return f"(?:{_digits_between(low, high)})"


def _digits_between(low: str, high: str) -> str:
    if low == high:
        return low
    rest = len(low) - 1
    if rest == 0:
        return f"[{low}-{high}]"
    if low[0] == high[0]:
        return f"{low[0]}(?:{_digits_between(low[1:], high[1:])})"
    parts = []
    whole_from, whole_to = int(low[0]), int(high[0])
    if low[1:] != "0" * rest:  # the first leading digit only partly
        parts.append(f"{low[0]}(?:{_digits_between(low[1:], '9' * rest)})")
        whole_from += 1
    tail = None
    if high[1:] != "9" * rest:  # the last leading digit only partly
        tail = f"{high[0]}(?:{_digits_between('0' * rest, high[1:])})"
        whole_to -= 1
    if whole_from <= whole_to:
        lead = str(whole_from) if whole_from == whole_to else f"[{whole_from}-{whole_to}]"
        parts.append(lead + ("[0-9]" if rest == 1 else f"[0-9]{{{rest}}}"))
    if tail is not None:
        parts.append(tail)
    return "|".join(parts)


def month_period(label: str, calendar: CalendarName, tz: str) -> MonthPeriod:
    """The month ``label`` ("YYYY-MM" in ``calendar``) in zone ``tz``: the one reading of a
    month label that a person typed (every command taking ``--month`` comes here).

    Raises :class:`InputError` for ``month`` when the label is malformed, names a month
    that does not exist ("2026-13", "1403-00", "abc"), or a year outside
    :data:`PLAUSIBLE_YEARS` for ``calendar``; when the label is plausible in the other
    calendar, the message names the months of ``calendar`` it overlaps.
    """
    if calendar not in CALENDARS:
        raise InputError("calendar", calendar, "one of: " + ", ".join(CALENDARS))
    zone(tz)
    first, last = PLAUSIBLE_YEARS[calendar]
    allowed = (
        f"a month YYYY-MM, MM 01 to 12, years {first} to {last}: "
        f"the provider's calendar is {_NAMES[calendar]}"
    )
    match = _LABEL.fullmatch(label)
    if match is None:
        raise InputError("month", label, allowed + in_ascii_digits(label))
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise InputError("month", label, allowed)
    if not first <= year <= last:
        raise InputError("month", label, allowed + _other_calendar_hint(label, year, month, calendar))
    return _period(year, month, calendar, tz)


_DAY = re.compile(r"([0-9]{4})([-/])([0-9]{2})\2([0-9]{2})")


def calendar_day(text: str, calendar: CalendarName, field: str) -> date:
    """The day ``text`` ("YYYY-MM-DD", or "YYYY/MM/DD" as days are shown) of ``calendar``,
    as a (Gregorian) ``date``: the one reading of a day a person typed (``ledger renew
    --until``), as :func:`month_period` reads a month. Its year must be plausible there
    (:data:`PLAUSIBLE_YEARS`); a day plausible in the other calendar is named there, so
    that ``2027-06-21`` on a Jalali provider is not read as the year 2027 of the Hijri era:

    >>> calendar_day("1406-03-31", "jalali", "until"), calendar_day("1406/03/31", "jalali", "x")
    (datetime.date(2027, 6, 21), datetime.date(2027, 6, 21))
    >>> calendar_day("2027-06-21", "jalali", "until")
    Traceback (most recent call last):
    ...
    monitor.errors.InputError: until: '2027-06-21' is not valid; allowed: a day YYYY-MM-DD of the provider's calendar, Jalali (Solar Hijri), years 1300 to 1499; 2027-06-21 in the Gregorian calendar is 1406-03-31
    """
    first, last = PLAUSIBLE_YEARS[calendar]
    allowed = (f"a day YYYY-MM-DD of the provider's calendar, {_NAMES[calendar]}, "
               f"years {first} to {last}")
    match = _DAY.fullmatch(text.strip())
    if match is None:
        raise InputError(field, text, allowed + in_ascii_digits(text))
    year, month, day = int(match[1]), int(match[3]), int(match[4])
    if not first <= year <= last:
        other: CalendarName = "jalali" if calendar == "gregorian" else "gregorian"
        low, high = PLAUSIBLE_YEARS[other]
        hint = ""
        if low <= year <= high and (there := _day_of(other, year, month, day)) is not None:
            hint = (f"; {text.strip()} in the {_NAMES[other].split()[0]} calendar is "
                    f"{_day_label(there, calendar)}")
        raise InputError(field, text, allowed + hint)
    found = _day_of(calendar, year, month, day)
    if found is None:
        raise InputError(field, text, allowed + f" (the {_NAMES[calendar].split()[0]} "
                         "calendar has no such day)")
    return found


def _day_of(calendar: CalendarName, year: int, month: int, day: int) -> date | None:
    """The Gregorian date of ``year-month-day`` in ``calendar``; None if it has no such day."""
    try:
        if calendar == "gregorian":
            return date(year, month, day)
        gregorian: date = jdatetime.date(year, month, day).togregorian()
        return gregorian
    except ValueError:
        return None


def _day_label(day: date, calendar: CalendarName) -> str:
    if calendar == "jalali":
        jalali_day = jdatetime.date.fromgregorian(date=day)
        return f"{_label_of(day, calendar)}-{int(jalali_day.day):02d}"
    return day.isoformat()


def _other_calendar_hint(label: str, year: int, month: int, calendar: CalendarName) -> str:
    """``; 2026-11 in the Gregorian calendar is 1405-08/1405-09`` when ``label`` is plausible
    in the calendar other than ``calendar``: the months of ``calendar`` it overlaps, by
    calendar days (a date is a date in any zone)."""
    other: CalendarName = "jalali" if calendar == "gregorian" else "gregorian"
    first, last = PLAUSIBLE_YEARS[other]
    if not first <= year <= last:
        return ""
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    first_day = _first_day(other, year, month)
    last_day = _first_day(other, *following) - timedelta(days=1)
    overlapped = dict.fromkeys(_label_of(day, calendar) for day in (first_day, last_day))
    return f"; {label} in the {_NAMES[other].split()[0]} calendar is {'/'.join(overlapped)}"


def _label_of(day: date, calendar: CalendarName) -> str:
    if calendar == "jalali":
        jalali_day = jdatetime.date.fromgregorian(date=day)
        return f"{int(jalali_day.year):04d}-{int(jalali_day.month):02d}"
    return f"{day.year:04d}-{day.month:02d}"


def _period(year: int, month: int, calendar: CalendarName, tz: str) -> MonthPeriod:
    tzinfo = zone(tz)
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    label = f"{year:04d}-{month:02d}"
    try:
        start = _local_midnight(_first_day(calendar, year, month), tzinfo)
        end = _local_midnight(_first_day(calendar, *following), tzinfo)
    except (ValueError, OverflowError) as error:
        raise InputError("month", label, f"a month of the {calendar} calendar") from error
    return MonthPeriod(label, calendar, tz, start, end)


def month_containing(instant: datetime, calendar: CalendarName, tz: str) -> MonthPeriod:
    """The month of ``calendar`` in zone ``tz`` that contains ``instant``."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"month_containing: {instant!r} is naive; an aware datetime is required")
    if calendar not in CALENDARS:
        raise InputError("calendar", calendar, "one of: " + ", ".join(CALENDARS))
    local_day = instant.astimezone(zone(tz)).date()
    year, _, month = _label_of(local_day, calendar).partition("-")
    # Not month_period: the plausible years guard what people type; an instant always
    # has its month.
    return _period(int(year), int(month), calendar, tz)


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


def local_shift(instant: datetime, timezone: str, seconds: int) -> datetime:
    """``instant`` moved by ``seconds``: whole days as calendar days at the same local clock
    time in ``timezone`` (a daylight-saving change in between does not move it), any
    remainder as elapsed seconds; negative moves go back. Whole seconds, UTC.

    >>> at = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    >>> local_shift(at, "America/New_York", 14 * 86_400).isoformat()  # DST starts 03-08
    '2026-03-14T23:00:00+00:00'
    """
    days, rest = divmod(seconds, 86_400)
    local = instant.astimezone(zone(timezone))
    # Aware arithmetic within one zone is wall-clock arithmetic: same clock time, N days on.
    shifted = (local + timedelta(days=days)).astimezone(UTC)
    return whole_second(shifted) + timedelta(seconds=rest)


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


def day_of_month(day: date, calendar: CalendarName) -> tuple[int, int]:
    """``day``'s number in its month of ``calendar``, and how many days that month has.

    >>> day_of_month(date(2027, 3, 20), "jalali")  # 29 Esfand 1405, a common year
    (29, 29)
    >>> day_of_month(date(2027, 2, 28), "gregorian")
    (28, 28)
    """
    if calendar == "jalali":
        jalali = jdatetime.date.fromgregorian(date=day)
        year, month, number = int(jalali.year), int(jalali.month), int(jalali.day)
    else:
        year, month, number = day.year, day.month, day.day
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    return number, (_first_day(calendar, *following) - _first_day(calendar, year, month)).days


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
