"""The one formatter (monitor.present.formats): reading the times operators type, and
showing durations (issue 8 traps 4 and 5, issue 13 item 8)."""

from __future__ import annotations

import datetime as dt

import pytest

from monitor.errors import InputError
from monitor.present import format_duration, format_time, parse_time
from monitor.present.formats import JALALI_HINT
from monitor.sla import month_period

NEW_YORK = "America/New_York"


def test_a_local_time_skipped_by_daylight_saving_is_refused_with_why() -> None:
    # 2026-03-08: New York's clocks go from 02:00 EST straight to 03:00 EDT.
    with pytest.raises(InputError) as raised:
        parse_time("2026-03-08T02:30", NEW_YORK, "start")
    error = raised.value
    assert (error.field, error.value) == ("start", "2026-03-08T02:30")
    assert "02:30 on 2026-03-08 does not exist in America/New_York" in error.allowed
    assert "the clocks went from UTC-05:00 to UTC-04:00" in error.allowed
    assert "2026-03-08T03:30-04:00" in error.allowed  # the instant it would have been


def test_a_local_time_that_happens_twice_is_refused_naming_both_offsets() -> None:
    # 2026-11-01: New York's clocks go back from 02:00 EDT to 01:00 EST.
    with pytest.raises(InputError) as raised:
        parse_time("2026-11-01T01:30", NEW_YORK, "end")
    assert "01:30 on 2026-11-01 happens twice in America/New_York" in raised.value.allowed
    assert "2026-11-01T01:30-04:00 or 2026-11-01T01:30-05:00" in raised.value.allowed


@pytest.mark.parametrize(("text", "utc"), [
    ("2026-11-01T01:30-04:00", dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)),  # the first
    ("2026-11-01T01:30-05:00", dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC)),  # the second
    ("2026-11-01T00:59", dt.datetime(2026, 11, 1, 4, 59, tzinfo=dt.UTC)),  # before the change
    ("2026-11-01T02:00", dt.datetime(2026, 11, 1, 7, 0, tzinfo=dt.UTC)),  # after it
    ("2026-03-08T03:00", dt.datetime(2026, 3, 8, 7, 0, tzinfo=dt.UTC)),  # the first EDT minute
])
def test_times_with_an_offset_or_away_from_a_change_are_read(text: str, utc: dt.datetime) -> None:
    assert parse_time(text, NEW_YORK, "start") == utc


@pytest.mark.parametrize(("seconds", "shown"), [
    (4.00066, "4 s"),  # a measured duration in an e-mail subject: whole seconds (R-M1)
    (59.7, "1 min"),
    (0.4, "0.4 s"),  # a configured probe interval keeps its fraction
    (3.8, "3.8 s"),
    (0.25, "0.25 s"),
    (7500, "2 h 5 min"),
])
def test_durations_show_at_most_what_is_known(seconds: float, shown: str) -> None:
    assert format_duration(seconds) == shown


def test_an_offset_with_seconds_is_shown_with_them() -> None:
    # Tehran kept its local mean time, UTC+03:25:44, until 1946: Farvardin 1300 (March
    # 1921) began at 00:00 of that offset. strftime's %z is "+032544"; cutting it after the
    # hours gave "UTC+03:2544".
    start = month_period("1300-01", "jalali", "Asia/Tehran").start
    assert format_time(start, "Asia/Tehran", "jalali") == (
        "1300/01/01 00:00 Asia/Tehran (UTC+03:25:44; Gregorian 1921-03-21)")
    assert format_time(start, "Asia/Tehran", "jalali", compact=True) == (
        "1300/01/01 00:00 (UTC+03:25:44)")
    assert format_time(start, "Asia/Tehran") == "1921-03-21 00:00 Asia/Tehran (UTC+03:25:44)"
    # A whole-minute offset keeps its form.
    assert format_time(dt.datetime(2026, 3, 21, 9, tzinfo=dt.UTC), "America/New_York") == (
        "2026-03-21 05:00 America/New_York (UTC-04:00)")


@pytest.mark.parametrize(("text", "utc"), [
    # 20 Azar 1405 is 2026-12-11 (1 Azar is 2026-11-22); Tehran is UTC+03:30.
    ("1405-09-20T10:00", dt.datetime(2026, 12, 11, 6, 30, tzinfo=dt.UTC)),
    ("1405/09/20 10:00", dt.datetime(2026, 12, 11, 6, 30, tzinfo=dt.UTC)),
    (" 1405/09/20T10:00:30 ", dt.datetime(2026, 12, 11, 6, 30, 30, tzinfo=dt.UTC)),
    ("1405-09-20", dt.datetime(2026, 12, 10, 20, 30, tzinfo=dt.UTC)),
    ("1405-09-20T10:00Z", dt.datetime(2026, 12, 11, 10, 0, tzinfo=dt.UTC)),
    ("1405-09-20T10:00+01:00", dt.datetime(2026, 12, 11, 9, 0, tzinfo=dt.UTC)),
    ("2026-12-11T10:00", dt.datetime(2026, 12, 11, 6, 30, tzinfo=dt.UTC)),  # Gregorian too
])
def test_a_jalali_providers_times_are_read_in_its_calendar(text: str, utc: dt.datetime) -> None:
    assert parse_time(text, "Asia/Tehran", "start", "jalali") == utc


def test_a_jalali_time_is_read_only_in_the_jalali_calendar() -> None:
    # A Gregorian provider reads 1405 as no year of its own (the HTTP API's reading, too).
    with pytest.raises(InputError) as refused:
        parse_time("1405-09-20T10:00", "Asia/Tehran", "start")
    assert "from 1970 to 2999" in str(refused.value)
    # A Jalali day outside the years the monitor reads is named in the Jalali hint too.
    with pytest.raises(InputError) as refused:
        parse_time("1300/01/01 00:00", "Asia/Tehran", "start", "jalali")
    assert str(refused.value).endswith("allowed: " + JALALI_HINT + ", from 1970 to 2999 "
                                       "(Gregorian)"), str(refused.value)
    for text, why in (("1405-12-30T10:00", "the Jalali calendar has no such day"),
                      ("1405-09-20T25:00", "an ISO 8601 time"),
                      ("1405-13-01", "the Jalali calendar has no such day")):
        with pytest.raises(InputError) as refused:
            parse_time(text, "Asia/Tehran", "start", "jalali")
        assert (refused.value.field, refused.value.value) == ("start", text)
        assert why in str(refused.value), str(refused.value)
