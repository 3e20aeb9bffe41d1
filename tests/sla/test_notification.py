"""The 2 h outage notification duty (R-N1 / D-2) and 15 min detection (D-1)."""

from __future__ import annotations

from datetime import datetime

import pytest

from monitor.sla import month_period

from .builders import (
    HOUR,
    MINUTE,
    at,
    customer,
    later,
    maintenance,
    month_report,
    outage,
    report_for,
)

START = at(10, 8)  # every outage here starts 10 March 08:00


@pytest.mark.parametrize(("notified_after", "breach"), [
    (HOUR + 59 * MINUTE, False),  # 1 h 59 min: in time
    (2 * HOUR, False),  # exactly 2 h: in time
    (2 * HOUR + MINUTE, True),  # 2 h 1 min: late, 1 day
    (None, True),  # never notified: 1 day
])
def test_r_n1_notification_within_2h(notified_after: int | None, breach: bool) -> None:
    incident = outage(1, "panel", START, 30 * MINUTE)  # no tier: only R-N1 can credit
    notifications = {} if notified_after is None else {
        (1, "acme"): later(START, notified_after)}
    report = report_for(customer(), [incident], notifications=notifications)
    assert report.notification_breaches == ((1,) if breach else ())
    assert report.notification_credit_days == (1 if breach else 0)
    assert report.credit_days_total == (1 if breach else 0)
    assert report.incidents[0].notified_after_seconds == notified_after


def test_r_n1_no_breach_before_the_deadline_has_passed() -> None:
    incident = outage(1, "panel", START, None)
    at_deadline = later(START, 2 * HOUR)
    assert report_for(customer(), [incident], now=at_deadline).notification_breaches == ()
    just_after = later(at_deadline, 1)
    assert report_for(customer(), [incident], now=just_after).notification_breaches == (1,)


def test_r_n1_day_is_added_to_the_tier() -> None:
    # 8 h outage (2 weeks) never notified: 14 + 1 days.
    report = report_for(customer(), [outage(1, "panel", START, 8 * HOUR)])
    assert report.credit_days_total == 14 + 1
    assert [(line.rule, line.days, line.incidents) for line in report.credit_lines] == [
        ("R-T1", 14, (1,)), ("R-N1", 1, (1,))]


def test_r_n1_one_day_per_incident_and_per_customer() -> None:
    # Two panel incidents; acme notified of neither, globex of both in time.
    incidents = [outage(1, "panel", START, 10 * MINUTE), outage(2, "panel", at(20, 8), MINUTE)]
    notifications = {(1, "globex"): later(START, MINUTE),
                     (2, "globex"): later(at(20, 8), MINUTE)}
    report = month_report([customer("acme"), customer("globex")], incidents,
                          notifications=notifications)
    assert report.customer("acme").notification_credit_days == 2  # 1 day x 2 incidents
    assert report.customer("globex").notification_credit_days == 0


def test_r_n1_credit_belongs_to_the_month_the_incident_started() -> None:
    incidents = [outage(1, "panel", at(28, 23, month=2), 2 * HOUR)]  # 28 Feb 23:00, 2 h
    february = month_period("2026-02", "gregorian", "UTC")
    assert report_for(customer(), incidents, period=february).notification_breaches == (1,)
    assert report_for(customer(), incidents).notification_breaches == ()  # March


def test_r_n1_breach_when_counted_only_after_the_maintenance_window() -> None:
    # Down during an announced window and past it: the overrun is counted, so the
    # incident owes a notification like any other outage.
    window = maintenance(1, {"panel"}, START, HOUR, {"acme": later(START, -72 * HOUR)})
    report = report_for(customer(), [outage(1, "panel", START, 2 * HOUR)],
                        maintenance_windows=[window])
    assert report.notification_breaches == (1,)


def _latency_report(detected_after: int | None, source: str = "probe") -> tuple[int, ...]:
    detected_at: datetime | None = None if detected_after is None else later(
        START, detected_after)
    incident = outage(1, "panel", START, HOUR, detected_at=detected_at, source=source)
    return report_for(customer(), [incident]).detection_breaches


def test_d1_detection_within_15_min_is_in_time() -> None:
    assert _latency_report(15 * MINUTE) == ()


def test_d1_detection_after_15_min_is_listed() -> None:
    assert _latency_report(15 * MINUTE + 1) == (1,)


def test_d1_manual_and_undetected_incidents_are_not_probe_breaches() -> None:
    assert _latency_report(3 * HOUR, source="manual") == ()
    assert _latency_report(None) == ()


def test_d1_detection_seconds_is_shown_per_incident() -> None:
    incident = outage(1, "panel", START, HOUR, detected_at=later(START, 7 * MINUTE))
    assert report_for(customer(), [incident]).incidents[0].detection_seconds == 7 * MINUTE
