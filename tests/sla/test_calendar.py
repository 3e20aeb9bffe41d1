"""Months of the provider's calendar and zone (R-M5) and business days (R-C1)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from monitor.errors import InputError
from monitor.sla import Interval, month_containing, month_period, split_by_month
from monitor.sla.calendar import end_of_next_business_day

from .builders import DAY, HOUR, at

TEHRAN = "Asia/Tehran"  # UTC+03:30 all year since Iran dropped DST in 2022


def test_r_m5_gregorian_31_day_month() -> None:
    march = month_period("2026-03", "gregorian", "UTC")
    assert (march.start, march.end) == (at(1), at(1, month=4))
    assert march.seconds == 31 * DAY


def test_r_m5_gregorian_28_day_month() -> None:
    february = month_period("2026-02", "gregorian", "UTC")  # 2026 is not a leap year
    assert february.seconds == 28 * DAY


def test_r_m5_month_starts_at_local_midnight() -> None:
    march = month_period("2026-03", "gregorian", TEHRAN)
    # 1 March 00:00 in Tehran is 28 February 20:30 UTC.
    assert march.start == datetime(2026, 2, 28, 20, 30, tzinfo=UTC)
    assert march.seconds == 31 * DAY


def test_r_m5_dst_month_is_as_long_as_lived() -> None:
    # Berlin springs forward on 29 March 2026: that March is one hour short.
    assert month_period("2026-03", "gregorian", "Europe/Berlin").seconds == 31 * DAY - HOUR


def test_r_m5_jalali_farvardin_has_31_days() -> None:
    farvardin = month_period("1405-01", "jalali", TEHRAN)
    # 1 Farvardin 1405 is 21 March 2026; local midnight is 20:30 UTC the day before.
    assert farvardin.start == datetime(2026, 3, 20, 20, 30, tzinfo=UTC)
    assert farvardin.seconds == 31 * DAY


def test_r_m5_jalali_esfand_of_a_common_year_has_29_days() -> None:
    assert month_period("1404-12", "jalali", TEHRAN).seconds == 29 * DAY


def test_r_m5_jalali_esfand_of_a_leap_year_has_30_days() -> None:
    esfand = month_period("1403-12", "jalali", TEHRAN)  # 1403 is a leap year
    assert esfand.seconds == 30 * DAY
    assert esfand.end == month_period("1404-01", "jalali", TEHRAN).start


@pytest.mark.parametrize("label", ["2026-13", "2026-00", "1403-00", "abc", "2026-3", "",
                                   "2026-03-01", "۱۴۰۵-۰۱"])
def test_r_m5_malformed_or_missing_month_is_an_input_error(label: str) -> None:
    with pytest.raises(InputError) as raised:
        month_period(label, "jalali", TEHRAN)
    # The engine names the field in its own words; the CLI says --month (monitor.cli.common.flag).
    assert raised.value.field == "month" and raised.value.value == label


def test_unknown_time_zone_and_calendar_are_input_errors() -> None:
    with pytest.raises(InputError, match="timezone"):
        month_period("2026-03", "gregorian", "Mars/Olympus")
    with pytest.raises(InputError, match="calendar"):
        month_period("2026-03", "lunar", "UTC")


def test_r_m5_month_containing_uses_the_local_date() -> None:
    last_second_of_esfand = datetime(2026, 3, 20, 20, 29, 59, tzinfo=UTC)
    assert month_containing(last_second_of_esfand, "jalali", TEHRAN).label == "1404-12"
    first_second_of_farvardin = datetime(2026, 3, 20, 20, 30, tzinfo=UTC)
    assert month_containing(first_second_of_farvardin, "jalali", TEHRAN).label == "1405-01"
    assert month_containing(first_second_of_farvardin, "gregorian", TEHRAN).label == "2026-03"


def test_r_m5_incident_across_a_month_boundary_is_split() -> None:
    outage = Interval(at(31, 22), at(1, 3, month=4))
    pieces = split_by_month(outage, "gregorian", "UTC")
    assert [period.label for period, _ in pieces] == ["2026-03", "2026-04"]
    # 22:00-24:00 on 31 March, then 00:00-03:00 on 1 April.
    assert [piece.seconds for _, piece in pieces] == [2 * HOUR, 3 * HOUR]


def test_r_m5_jalali_split_at_nowruz() -> None:
    # 20 March 2026 19:30-22:30 UTC crosses 1 Farvardin 1405 00:00 Tehran (20:30 UTC).
    outage = Interval(datetime(2026, 3, 20, 19, 30, tzinfo=UTC),
                      datetime(2026, 3, 20, 22, 30, tzinfo=UTC))
    pieces = split_by_month(outage, "jalali", TEHRAN)
    assert [(period.label, piece.seconds) for period, piece in pieces] == [
        ("1404-12", 1 * HOUR), ("1405-01", 2 * HOUR)]


# 2026-03-04 is a Wednesday, 03-05 a Thursday, 03-06 a Friday.
@pytest.mark.parametrize(("submitted", "weekend", "holidays", "due_day"), [
    (at(4, 15), {4}, set(), 6),  # Wednesday -> end of Thursday (midnight starting the 6th)
    (at(5, 15), {4}, set(), 8),  # Thursday -> Friday is off -> end of Saturday the 7th
    (at(4, 15), {4}, {date(2026, 3, 5)}, 8),  # Thursday a holiday, Friday off -> Saturday
    (at(6, 9), {5, 6}, set(), 10),  # Friday, weekend Sat+Sun -> end of Monday the 9th
])
def test_r_c1_receipt_due_by_end_of_next_business_day(
    submitted: datetime, weekend: set[int], holidays: set[date], due_day: int
) -> None:
    assert end_of_next_business_day(submitted, "UTC", weekend, holidays) == at(due_day)


def test_r_c1_business_days_are_local_days() -> None:
    # Wednesday 22:00 UTC is already Thursday 01:30 in Tehran: next business day is
    # Saturday (Friday off), which ends at Sunday 00:00 Tehran = Saturday 20:30 UTC.
    due = end_of_next_business_day(at(4, 22), TEHRAN, {4}, set())
    assert due == datetime(2026, 3, 7, 20, 30, tzinfo=UTC)


# --- labels that cannot be meant in the configured calendar (trap 3) ------------------


@pytest.mark.parametrize(("label", "hint"), [
    # Gregorian November 2026 runs from 1405-08-10 to 1405-09-09 (Aban, Azar).
    ("2026-11", "2026-11 in the Gregorian calendar is 1405-08/1405-09"),
    # Gregorian March 2026 holds Nowruz: 1404-12 (Esfand) and 1405-01 (Farvardin).
    ("2026-03", "2026-03 in the Gregorian calendar is 1404-12/1405-01"),
])
def test_r_m5_a_gregorian_label_on_a_jalali_provider_is_refused_with_a_hint(
    label: str, hint: str
) -> None:
    with pytest.raises(InputError) as raised:
        month_period(label, "jalali", TEHRAN)
    error = raised.value
    assert (error.field, error.value) == ("month", label)
    assert "the provider's calendar is Jalali" in error.allowed
    assert "years 1300 to 1499" in error.allowed
    assert hint in error.allowed


def test_r_m5_a_jalali_label_on_a_gregorian_provider_is_refused_with_a_hint() -> None:
    # 1405-08 (Aban) runs from 2026-10-23 to 2026-11-21.
    with pytest.raises(InputError) as raised:
        month_period("1405-08", "gregorian", "UTC")
    assert "the provider's calendar is Gregorian" in raised.value.allowed
    assert "years 1970 to 2200" in raised.value.allowed
    assert "1405-08 in the Jalali calendar is 2026-10/2026-11" in raised.value.allowed


@pytest.mark.parametrize(("label", "calendar"), [
    ("1299-12", "jalali"), ("1500-01", "jalali"), ("1969-12", "gregorian"),
    ("2201-01", "gregorian"), ("0001-01", "gregorian"), ("9999-12", "jalali"),
])
def test_r_m5_labels_outside_the_plausible_years_are_refused(label: str, calendar: str) -> None:
    with pytest.raises(InputError) as raised:
        month_period(label, calendar, "UTC")  # type: ignore[arg-type]
    assert raised.value.field == "month"
    assert "years 1300 to 1499" in raised.value.allowed or "years 1970 to 2200" in (
        raised.value.allowed)
    # No hint: the label is not plausible in the other calendar either.
    assert " calendar is 1" not in raised.value.allowed and " calendar is 2" not in (
        raised.value.allowed)


@pytest.mark.parametrize(("label", "calendar"), [
    ("1300-01", "jalali"), ("1499-12", "jalali"), ("1970-01", "gregorian"),
    ("2200-12", "gregorian"),
])
def test_r_m5_the_plausible_range_is_inclusive(label: str, calendar: str) -> None:
    assert month_period(label, calendar, "UTC").label == label  # type: ignore[arg-type]


def test_r_m5_month_containing_is_not_limited_to_the_plausible_labels() -> None:
    # The range guards what people type; an instant always has its month.
    assert month_containing(datetime(1969, 7, 20, tzinfo=UTC), "gregorian", "UTC").label == "1969-07"
