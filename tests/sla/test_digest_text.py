"""The inputs digest's shortcuts write the same text as its general rules (R-C3: a
month's inputs hash must not move when its reading is made faster): a time as
``astimezone(UTC).isoformat(timespec="microseconds")``, and the notifications sorted on
their own texts in the order of the texts with the default separators, and so is every
list of records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.sla.digest import (
    _ENCODE,
    _canonical,
    _datetime,
    _incident_texts,
    _notification_texts,
    _notification_texts_in_general,
    _sorted,
    _sorted_text,
)

ZONES = st.one_of(
    st.just(UTC),
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59),
                  max_value=timedelta(hours=23, minutes=59)).map(timezone),
    st.sampled_from([ZoneInfo("Asia/Tehran"), ZoneInfo("Europe/Berlin"),
                     ZoneInfo("America/New_York")]),
)
TIMES = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31),
                     timezones=ZONES, allow_imaginary=True)


@given(TIMES)
def test_a_time_is_written_as_its_utc_iso_text_with_microseconds(at: datetime) -> None:
    assert _datetime(at) == at.astimezone(UTC).isoformat(timespec="microseconds")


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        _datetime(datetime(2026, 3, 1))


@given(st.dictionaries(
    st.tuples(st.integers(min_value=-10**6, max_value=10**12),
              st.text(alphabet=st.sampled_from('ab ,"\\\x00é[]:'), max_size=6)),
    TIMES, max_size=40))
def test_notifications_are_sorted_as_on_the_texts_with_spaces(
        notifications: dict[tuple[int, str], datetime]) -> None:
    assert _notification_texts(notifications) == _notification_texts_in_general(notifications)


TEXTS = st.text(alphabet=st.sampled_from('ab ,:"\\\x00é[]{}'), max_size=5)
RECORDS = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-1000, max_value=10**6) | TEXTS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXTS, inner, max_size=4),
    max_leaves=12)


@given(st.lists(RECORDS, max_size=12))
def test_records_are_sorted_as_on_the_texts_with_spaces(records: list[object]) -> None:
    assert _sorted_text(records) == _ENCODE(_sorted(records))


@given(st.lists(TIMES, min_size=1, max_size=6), st.lists(ZONES, min_size=1, max_size=4))
def test_times_met_again_in_other_zones_are_written_as_when_first_met(
        times: list[datetime], zones: list[object]) -> None:
    """The digest writes a time once per instant (a month's notifications and notices repeat
    theirs): the same instant met again, in any zone, has the text it would have alone."""
    repeated = [at.astimezone(zone) for at in times for zone in zones]  # type: ignore[arg-type]
    notifications = {(number, "c"): at for number, at in enumerate(repeated)}
    assert _notification_texts(notifications) == _notification_texts_in_general(notifications)
    notices = {f"c{number}": at for number, at in enumerate(repeated)}
    assert _canonical(notices) == {key: _datetime(at) for key, at in notices.items()}


def test_a_naive_time_among_notices_is_refused() -> None:
    aware = datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        _canonical({"a": aware, "b": aware, "c": datetime(2026, 3, 1)})


def _incident(number: int, service: str, start: datetime, length: timedelta | None,
              cause: str, detected: datetime | None, source: str) -> object:
    from monitor.sla import IncidentInput

    return IncidentInput(number, service, start, None if length is None else start + length,
                         cause, detected, source)  # type: ignore[arg-type]


INCIDENTS = st.lists(st.builds(
    _incident, st.integers(min_value=-5, max_value=10**12), st.text(), TIMES,
    st.none() | st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=40)),
    st.sampled_from(["provider", "customer_request", "customer_action", "external"]),
    st.none() | TIMES, st.sampled_from(["probe", "manual"])), max_size=12)


@given(INCIDENTS)
def test_incidents_are_written_field_by_field_as_the_general_rules_write_them(
        incidents: list[object]) -> None:
    """A month's 50,000 incidents are written without a dict each: the same text, times in
    every zone (met again in another), open ones, unknown detections, ids and services of
    any text."""
    assert _incident_texts(incidents) == _sorted_text(incidents)  # type: ignore[arg-type]
