"""The API document's patterns say what validation accepts: a value generated from a
pattern (as a client built from the document, or schemathesis, makes one) is read by the
function that validates it, and what that function refuses for its shape the pattern
does not allow. Times (``parse_time``), months per calendar (``month_period``, R-M5),
e-mail addresses (``normal_address``) and the year ranges they are built from."""

from __future__ import annotations

import calendar
import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.actions.subscriptions import ADDRESS_PATTERN, normal_address
from monitor.errors import InputError
from monitor.present.formats import TIME_PATTERN, parse_time
from monitor.sla.calendar import PLAUSIBLE_YEARS, month_pattern, month_period, number_range_pattern

EXAMPLES = settings(max_examples=300, derandomize=True, deadline=None, database=None)


@pytest.mark.parametrize(("first", "last"), [(1970, 2200), (1300, 1499), (1971, 2998),
                                             (5, 7), (10, 99), (1999, 2000), (1000, 9999)])
def test_a_number_range_pattern_matches_exactly_its_numbers(first: int, last: int) -> None:
    pattern = re.compile(number_range_pattern(first, last) + "$")
    width = len(str(first))
    matched = {n for n in range(10 ** (width - 1) if width > 1 else 0, 10 ** width)
               if pattern.match(f"{n:0{width}d}")}
    assert matched == set(range(first, last + 1))


@EXAMPLES
@given(st.from_regex(TIME_PATTERN, fullmatch=True))
def test_every_time_the_pattern_allows_is_read(text: str) -> None:
    for zone in ("UTC", "Asia/Tehran"):  # Tehran: +03:30, and +04:30 in its old summers
        try:
            parse_time(text, zone, "at")
        except InputError as error:
            # The one refusal a pattern cannot foresee, and the description says: a local
            # time the zone's clocks skipped or repeated.
            said = str(error)
            assert zone != "UTC" and ("exists in" in said or "happens once in" in said), said


def test_the_time_pattern_has_every_day_and_no_other() -> None:
    pattern = re.compile(TIME_PATTERN)
    for year in (1971, 1972, 2000, 2026, 2028, 2100, 2400, 2998):
        for month in range(0, 14):
            for day in range(0, 33):
                text = f"{year:04d}-{month:02d}-{day:02d}T12:00Z"
                exists = 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]
                assert bool(pattern.match(text)) == exists, text
    for refused in ("1970-06-01T00:00Z", "2999-06-01T00:00Z", "2026-03-21T24:00Z",
                    "2026-03-21T11:60Z", "2026-03-21T11:00:00.1234567Z", "2026-03-21T11:00+24:00"):
        assert not pattern.match(refused), refused
    for allowed in ("2026-03-21T11:00", "2026-03-21T11:00:59.5+03:30", "2026-03-21T11:00:00Z"):
        assert pattern.match(allowed), allowed
        assert parse_time(allowed, "UTC", "at") < dt.datetime(3000, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("calendar_name", sorted(PLAUSIBLE_YEARS))
def test_a_month_matches_the_pattern_exactly_when_its_calendar_reads_it(
        calendar_name: str) -> None:
    pattern = re.compile(month_pattern(calendar_name))  # type: ignore[arg-type]
    for year in range(1000, 3000):
        for month in (0, 1, 12, 13):
            label = f"{year:04d}-{month:02d}"
            try:
                month_period(label, calendar_name, "Asia/Tehran")  # type: ignore[arg-type]
                read = True
            except InputError:
                read = False
            assert bool(pattern.match(label)) == read, label


@EXAMPLES
@given(st.from_regex(ADDRESS_PATTERN, fullmatch=True).filter(
    lambda text: len(text) <= 254 and len(text.rpartition("@")[0]) <= 64))
def test_every_address_the_pattern_allows_is_read(text: str) -> None:
    assert normal_address(text) == text.rstrip(".").lower() or text.endswith(".")


@pytest.mark.parametrize("refused", ["a@b", "a@b.c", "a..b@example.com", "a@-x.example.com",
                                     "a@example.123", "@example.com", "a b@example.com"])
def test_the_address_pattern_refuses_what_validation_refuses(refused: str) -> None:
    with pytest.raises(InputError):
        normal_address(refused)
    assert not re.match(ADDRESS_PATTERN, refused)
