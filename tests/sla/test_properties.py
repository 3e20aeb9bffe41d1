"""Property-based checks of the interval algebra and of compute_month (hypothesis)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.sla import (
    CAUSES,
    IncidentInput,
    Interval,
    MaintenanceInput,
    MonthReport,
    clip,
    intersect,
    subtract,
    total_seconds,
    union,
)

from .builders import AFTER, MARCH, MINUTE, at, customer, later, maintenance, month_report

EXAMPLES = settings(max_examples=200, deadline=None)
ORIGIN = at(1)

# --- interval algebra, checked against a minute-by-minute model -------------------

spans = st.tuples(st.integers(0, 300), st.integers(1, 60)).map(
    lambda pair: Interval(later(ORIGIN, pair[0] * MINUTE), later(ORIGIN, (pair[0] + pair[1])
                                                                   * MINUTE)))
interval_lists = st.lists(spans, max_size=12)


def minutes(intervals: list[Interval]) -> set[int]:
    """The model: the set of minutes covered."""
    return {m for i in intervals for m in range(
        (i.start - ORIGIN) // timedelta(minutes=1), (i.end - ORIGIN) // timedelta(minutes=1))}


def is_normalized(intervals: list[Interval]) -> bool:
    return all(a.end < b.start for a, b in pairwise(intervals))


@EXAMPLES
@given(interval_lists)
def test_union_is_normalized_idempotent_and_covers_the_same_time(xs: list[Interval]) -> None:
    merged = union(xs)
    assert is_normalized(merged)
    assert union(merged) == merged
    assert minutes(merged) == minutes(xs)
    assert total_seconds(xs) == len(minutes(xs)) * MINUTE <= sum(x.seconds for x in xs)


@EXAMPLES
@given(interval_lists, st.randoms())
def test_union_ignores_order(xs: list[Interval], rng: random.Random) -> None:
    shuffled = list(xs)
    rng.shuffle(shuffled)
    assert union(shuffled) == union(xs)


@pytest.mark.slow
@EXAMPLES
@given(interval_lists, interval_lists)
def test_subtract_and_intersect_partition(a: list[Interval], b: list[Interval]) -> None:
    outside, inside = subtract(a, b), intersect(a, b)
    assert is_normalized(outside) and is_normalized(inside)
    assert minutes(outside) == minutes(a) - minutes(b)
    assert minutes(inside) == minutes(a) & minutes(b)
    assert intersect(outside, inside) == []
    assert total_seconds(outside) + total_seconds(inside) == total_seconds(a)
    assert intersect(a, b) == intersect(b, a)


@EXAMPLES
@given(interval_lists, spans)
def test_clip_is_intersection_with_the_window(xs: list[Interval], window: Interval) -> None:
    assert clip(xs, window) == intersect(xs, [window])
    assert all(window.start <= c.start and c.end <= window.end for c in clip(xs, window))


# --- the month ----------------------------------------------------------------------

SERVICES = ("panel", "shop", "s1", "mobile")
CUSTOMERS = (customer("acme", {"panel", "shop", "s1"}), customer("globex", {"panel", "mobile"}),
             customer("initech", {"panel", "s1"}, paid_until=at(20)))

OutageSpec = tuple[str, int, int | None, str, int | None]
WindowSpec = tuple[str, int, int, int]
Notifications = dict[tuple[int, str], datetime]

outage_specs = st.tuples(
    st.sampled_from(SERVICES),
    st.integers(-2 * 24 * 60, 32 * 24 * 60),  # start, minutes from 1 March
    st.one_of(st.none(), st.integers(1, 20 * 60)),  # duration in minutes, None = open
    st.sampled_from(CAUSES),
    st.one_of(st.none(), st.integers(0, 4 * 60)),  # acme notified after, in minutes
)
window_specs = st.tuples(st.sampled_from(SERVICES), st.integers(0, 30 * 24 * 60),
                         st.integers(1, 6 * 60), st.integers(0, 96 * 60))
nows = st.one_of(st.just(AFTER), st.integers(0, 31 * 24 * 60).map(
    lambda m: later(ORIGIN, m * MINUTE)))


def build(specs: list[OutageSpec]) -> tuple[list[IncidentInput], Notifications]:
    incidents: list[IncidentInput] = []
    notifications: Notifications = {}
    for number, (service, start, duration, cause, notified_after) in enumerate(specs, 1):
        begin = later(ORIGIN, start * MINUTE)
        end = None if duration is None else later(begin, duration * MINUTE)
        incidents.append(IncidentInput(number, service, begin, end, cause))  # type: ignore[arg-type]
        if notified_after is not None:
            notifications[(number, "acme")] = later(begin, notified_after * MINUTE)
    return incidents, notifications


def windows(specs: list[WindowSpec]) -> list[MaintenanceInput]:
    result: list[MaintenanceInput] = []
    for number, (service, start, length, notice_ahead) in enumerate(specs, 1):
        begin = later(ORIGIN, start * MINUTE)
        notices = {c.id: later(begin, -notice_ahead * MINUTE) for c in CUSTOMERS}
        result.append(maintenance(number, {service}, begin, length * MINUTE, notices))
    return result


def run(specs: list[OutageSpec], window_list: list[WindowSpec], now: datetime) -> MonthReport:
    incidents, notifications = build(specs)
    return month_report(CUSTOMERS, incidents, maintenance_windows=windows(window_list),
                        notifications=notifications, now=now)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(st.lists(outage_specs, max_size=10), st.lists(window_specs, max_size=3), nows)
def test_counted_and_excluded_never_exceed_the_month(
    specs: list[OutageSpec], window_list: list[WindowSpec], now: datetime
) -> None:
    for report in run(specs, window_list, now).customers:
        assert report.downtime_seconds + report.excluded_seconds <= MARCH.seconds
        assert sum(report.excluded_by_reason.values()) == report.excluded_seconds
        assert 0 <= report.availability_percent <= 100
        assert report.credit_days_total >= report.tier_credit_days >= 0


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(st.lists(outage_specs, max_size=10), st.lists(window_specs, max_size=3), nows,
       st.randoms())
def test_report_does_not_depend_on_input_order(
    specs: list[OutageSpec], window_list: list[WindowSpec], now: datetime, rng: random.Random
) -> None:
    incidents, notifications = build(specs)
    maintenance_windows = windows(window_list)
    expected = month_report(CUSTOMERS, incidents, maintenance_windows=maintenance_windows,
                            notifications=notifications, now=now).to_json()
    for sequence in (incidents, maintenance_windows):
        rng.shuffle(sequence)
    customers = list(CUSTOMERS)
    rng.shuffle(customers)
    shuffled = month_report(customers, incidents, maintenance_windows=maintenance_windows,
                            notifications=dict(reversed(notifications.items())),
                            now=now).to_json()
    assert shuffled == expected


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(st.lists(outage_specs, max_size=8), outage_specs, st.lists(window_specs, max_size=3),
       nows)
def test_adding_an_outage_never_lowers_the_credit(
    specs: list[OutageSpec], extra: OutageSpec, window_list: list[WindowSpec], now: datetime
) -> None:
    before = run(specs, window_list, now)
    after = run([*specs, extra], window_list, now)
    for old, new in zip(before.customers, after.customers, strict=True):
        assert new.downtime_seconds >= old.downtime_seconds
        assert new.tier_credit_days >= old.tier_credit_days
        assert new.credit_days_total >= old.credit_days_total
