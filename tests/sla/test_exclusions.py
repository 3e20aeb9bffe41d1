"""Excluded time (R-EX1..R-EX5) and customers with no credits (R-EX5..R-EX7)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from monitor.sla import EXCLUSION_REASONS, CustomerReport

from .builders import (
    HOUR,
    MINUTE,
    at,
    customer,
    later,
    maintenance,
    notified_in_time,
    outage,
    report_for,
)

WINDOW_START = at(15, 1)  # a maintenance window 01:00-03:00 on the 15th
WINDOW_SECONDS = 2 * HOUR


def _maintenance_report(
    notice_before_start: int, outage_seconds: int = WINDOW_SECONDS
) -> CustomerReport:
    window = maintenance(1, {"panel"}, WINDOW_START, WINDOW_SECONDS,
                         {"acme": later(WINDOW_START, -notice_before_start)})
    incidents = [outage(1, "panel", WINDOW_START, outage_seconds)]
    return report_for(customer(), incidents, maintenance_windows=[window])


def test_r_ex1_maintenance_announced_exactly_48h_ahead_is_excluded() -> None:
    report = _maintenance_report(notice_before_start=48 * HOUR)  # D-3: exactly 48 h is in time
    assert report.downtime_seconds == 0
    assert report.excluded_seconds == WINDOW_SECONDS
    assert report.excluded_by_reason["maintenance"] == WINDOW_SECONDS
    assert report.notification_breaches == ()  # announced maintenance needs no alert


def test_r_ex1_a_notice_within_the_due_second_is_in_time_one_second_later_is_not() -> None:
    """Whole seconds (R-M6): a notice at 48 h less 0.9 s is at the due second, in time; 47 h
    59 min 59 s ahead is a second late."""
    in_time = _maintenance_report(notice_before_start=48 * HOUR)
    window = maintenance(1, {"panel"}, WINDOW_START, WINDOW_SECONDS, {"acme": later(
        WINDOW_START, -48 * HOUR) + timedelta(microseconds=900_000)})
    fraction = report_for(customer(), [outage(1, "panel", WINDOW_START, WINDOW_SECONDS)],
                          maintenance_windows=[window])
    late = _maintenance_report(notice_before_start=48 * HOUR - 1)
    assert (in_time.downtime_seconds, fraction.downtime_seconds, late.downtime_seconds) == (
        0, 0, WINDOW_SECONDS)


def test_r_ex1_maintenance_announced_47h59m_ahead_is_counted() -> None:
    report = _maintenance_report(notice_before_start=47 * HOUR + 59 * MINUTE)
    assert report.downtime_seconds == WINDOW_SECONDS
    assert report.excluded_seconds == 0


def test_r_ex1_overrun_past_the_window_is_counted() -> None:
    # The window ends at 03:00 but the panel stays down until 04:30.
    report = _maintenance_report(48 * HOUR, outage_seconds=WINDOW_SECONDS + 90 * MINUTE)
    assert report.excluded_by_reason["maintenance"] == WINDOW_SECONDS
    assert report.downtime_seconds == 90 * MINUTE  # the overrun: 1.5 h, tier 1w
    assert report.tier == "1w"


def test_r_ex1_notice_to_another_customer_does_not_exclude() -> None:
    window = maintenance(1, {"panel"}, WINDOW_START, WINDOW_SECONDS,
                         {"globex": later(WINDOW_START, -72 * HOUR)})
    report = report_for(customer(), [outage(1, "panel", WINDOW_START, WINDOW_SECONDS)],
                        maintenance_windows=[window])
    assert report.downtime_seconds == WINDOW_SECONDS


def test_r_ex1_maintenance_of_one_service_does_not_excuse_another() -> None:
    # The project is in announced maintenance while the panel fails for its own reasons.
    window = maintenance(1, {"shop"}, WINDOW_START, WINDOW_SECONDS,
                         {"acme": later(WINDOW_START, -72 * HOUR)})
    report = report_for(customer(services={"panel", "shop"}), [
        outage(1, "shop", WINDOW_START, WINDOW_SECONDS),
        outage(2, "panel", WINDOW_START, HOUR),
    ], maintenance_windows=[window])
    assert report.downtime_seconds == HOUR  # the panel hour is counted
    assert report.excluded_by_reason["maintenance"] == WINDOW_SECONDS - HOUR


@pytest.mark.parametrize(("cause", "rule"), [
    ("customer_request", "R-EX2"), ("customer_action", "R-EX3"), ("external", "R-EX4")])
def test_r_ex2_r_ex3_r_ex4_causes_are_excluded(cause: str, rule: str) -> None:
    incidents = [outage(1, "panel", at(8, 10), 10 * HOUR, cause=cause)]
    report = report_for(customer(), incidents)
    assert report.downtime_seconds == 0, rule
    assert report.excluded_by_reason[cause] == 10 * HOUR
    assert report.excluded_seconds == 10 * HOUR
    assert report.notification_breaches == ()  # wholly excluded: no R-N1 duty
    assert report.incidents[0].counted_seconds == 0


def test_r_ex_overlapping_reasons_are_attributed_once_in_rule_order() -> None:
    # A customer-requested outage 01:00-05:00 overlaps the announced window 01:00-03:00:
    # the overlap goes to maintenance (R-EX1 before R-EX2), the rest to customer_request.
    window = maintenance(1, {"panel"}, WINDOW_START, WINDOW_SECONDS,
                         {"acme": later(WINDOW_START, -72 * HOUR)})
    report = report_for(customer(), [outage(1, "panel", WINDOW_START, 4 * HOUR,
                                            cause="customer_request")],
                        maintenance_windows=[window])
    assert report.excluded_by_reason["maintenance"] == 2 * HOUR
    assert report.excluded_by_reason["customer_request"] == 4 * HOUR - 2 * HOUR
    assert sum(report.excluded_by_reason.values()) == report.excluded_seconds == 4 * HOUR
    assert tuple(report.excluded_by_reason) == EXCLUSION_REASONS


def test_r_ex_counted_outage_of_one_service_wins_over_excluded_outage_of_another() -> None:
    # The customer asked for its project to be down 10:00-12:00 while the panel failed
    # 11:00-12:00: the customer could not work because of the panel, so that hour counts.
    report = report_for(customer(services={"panel", "shop"}), [
        outage(1, "shop", at(8, 10), 2 * HOUR, cause="customer_request"),
        outage(2, "panel", at(8, 11), HOUR),
    ])
    assert report.downtime_seconds == HOUR
    assert report.excluded_by_reason["customer_request"] == HOUR


def test_r_ex5_time_after_paid_until_is_excluded_as_non_payment() -> None:
    # Paid until the 10th at noon; outages on the 5th (3 h) and the 20th (5 h).
    incidents = [outage(1, "panel", at(5, 8), 3 * HOUR), outage(2, "panel", at(20, 8), 5 * HOUR)]
    report = report_for(customer(paid_until=at(10, 12)), incidents,
                        notifications=notified_in_time(incidents))
    assert report.downtime_seconds == 3 * HOUR
    assert report.excluded_by_reason["non_payment"] == 5 * HOUR
    assert report.ineligible_reason is None and report.tier == "1w"  # the paid part counts
    assert report.incidents[1].counted_seconds == 0


def test_r_ex5_lapsed_before_the_month_gets_nothing() -> None:
    incidents = [outage(1, "panel", at(5, 8), 20 * HOUR)]  # never notified either
    report = report_for(customer(paid_until=at(20, month=2)), incidents)
    assert report.ineligible_reason == "R-EX5 non-payment"
    assert report.downtime_seconds == 0
    assert report.excluded_by_reason["non_payment"] == 20 * HOUR
    assert (report.tier, report.credit_days_total, report.credit_lines) == (None, 0, ())


@pytest.mark.parametrize(("flag", "reason"), [
    ("clone", "R-EX6 clone"), ("unsupported_version", "R-EX7 unsupported version")])
def test_r_ex6_clone_and_r_ex7_unsupported_version_get_no_credit(flag: str, reason: str) -> None:
    incidents = [outage(1, "panel", at(5, 8), 20 * HOUR)]  # 1m tier, and never notified
    report = report_for(customer(**{flag: True}), incidents)
    assert report.ineligible_reason == reason
    assert report.downtime_seconds == 20 * HOUR  # still measured and shown
    assert report.tier is None and report.tier_credit_days == 0
    assert report.notification_breaches == (1,)  # the duty was still missed...
    assert report.notification_credit_days == 0  # ...but earns nothing
    assert report.credit_days_total == 0 and report.credit_value == 0
    assert report.credit_lines == ()
