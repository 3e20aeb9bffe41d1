"""The one interval algebra (R-M4: union, overlaps once; R-M6: integer seconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.sla import Interval, clip, intersect, subtract, total_seconds, union, whole_second

from .builders import HOUR, at


def span(start_hour: int, end_hour: int) -> Interval:
    return Interval(at(1, start_hour), at(1, end_hour))


def test_interval_seconds_is_whole_seconds() -> None:
    assert span(10, 12).seconds == 2 * HOUR
    half_second_more = Interval(at(1, 10), at(1, 11) + timedelta(microseconds=500_000))
    assert half_second_more.seconds == HOUR  # fractions dropped


def test_interval_requires_start_before_end() -> None:
    with pytest.raises(ValueError, match="must be after start"):
        Interval(at(1, 12), at(1, 12))
    with pytest.raises(ValueError, match="must be after start"):
        Interval(at(1, 12), at(1, 11))


def test_interval_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        Interval(datetime(2026, 3, 1, 10), at(1, 11))


def test_interval_converts_other_zones_to_utc() -> None:
    tehran_noon = datetime(2026, 3, 1, 12, tzinfo=timezone(timedelta(hours=3, minutes=30)))
    interval = Interval(tehran_noon, at(1, 10))
    assert interval.start == at(1, 8, 30) and interval.start.tzinfo is UTC


def test_union_merges_overlapping_and_touching_and_sorts() -> None:
    # R-M4: overlaps counted once; [12, 13) touching [13, 14) is one outage.
    merged = union([span(13, 14), span(10, 12), span(11, 13), span(16, 17)])
    assert merged == [span(10, 14), span(16, 17)]


def test_union_of_nothing_is_empty() -> None:
    assert union([]) == [] and total_seconds([]) == 0


def test_total_seconds_counts_overlap_once() -> None:
    # 10-12 and 11-13 cover 10-13: three hours, not four.
    assert total_seconds([span(10, 12), span(11, 13)]) == 3 * HOUR


def test_clip_keeps_only_the_window() -> None:
    assert clip([span(8, 10), span(11, 15), span(20, 21)], span(9, 12)) == [
        span(9, 10), span(11, 12)]


def test_subtract_cuts_holes() -> None:
    # 8-18 minus holes 9-10 and 12-20 leaves 8-9 and 10-12.
    assert subtract([span(8, 18)], [span(12, 20), span(9, 10)]) == [span(8, 9), span(10, 12)]
    assert subtract([span(8, 10)], [span(7, 11)]) == []
    assert subtract([span(8, 10)], []) == [span(8, 10)]


def test_intersect_keeps_common_time() -> None:
    assert intersect([span(8, 12), span(14, 16)], [span(11, 15)]) == [
        span(11, 12), span(14, 15)]
    assert intersect([span(8, 9)], [span(9, 10)]) == []  # touching shares no time


def test_overlap_of_two_intervals() -> None:
    assert span(8, 12).overlap(span(10, 14)) == span(10, 12)
    assert span(8, 10).overlap(span(10, 14)) is None


def test_whole_second_truncates_and_converts_to_utc() -> None:
    instant = datetime(2026, 3, 1, 12, 0, 5, 999_999, tzinfo=timezone(timedelta(hours=1)))
    assert whole_second(instant) == at(1, 11, 0, 5)


def test_seconds_outside_is_the_length_of_what_subtract_leaves() -> None:
    """:func:`seconds_outside` (the engine's count of an incident's time outside announced
    windows) is ``total_seconds(subtract(...))``: spans before, across, inside and after the
    holes, touching them, with fractions of a second."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from monitor.sla.intervals import seconds_outside

    base = at(1)
    instants = st.integers(min_value=0, max_value=40_000_000).map(
        lambda micro: base + timedelta(microseconds=micro * 50))
    spans = st.tuples(instants, instants).filter(lambda pair: pair[0] != pair[1]).map(
        lambda pair: Interval(min(pair), max(pair)))

    @settings(max_examples=400, deadline=None)
    @given(spans, st.lists(spans, max_size=8))
    def check(span: Interval, holes: list[Interval]) -> None:
        normalized = union(holes)
        assert seconds_outside(span, normalized) == total_seconds(subtract([span], holes))

    check()
