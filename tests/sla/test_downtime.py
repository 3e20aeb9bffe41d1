"""A customer's downtime is the union over the services it depends on (R-M4, R-M3, R-M5)."""

from __future__ import annotations

import pytest

from monitor.sla import Interval, month_period

from .builders import HOUR, MINUTE, at, customer, later, month_report, outage, report_for


def test_r_m4_overlapping_panel_and_project_outages_count_once() -> None:
    # Panel down 10:00-12:00, the customer's project down 11:00-14:00: 10:00-14:00.
    report = report_for(customer(services={"panel", "shop"}), [
        outage(1, "panel", at(5, 10), 2 * HOUR),
        outage(2, "shop", at(5, 11), 3 * HOUR),
    ])
    assert report.downtime_seconds == 4 * HOUR
    # Each incident still shows its own counted part.
    assert [line.counted_seconds for line in report.incidents] == [2 * HOUR, 3 * HOUR]


def test_r_m4_server_outage_counts_for_each_project_customer_once() -> None:
    # Server "s1" hosts acme's two projects and globex's one. While s1 is down the
    # project probes fail too; every customer is down 1 h, once.
    acme = customer("acme", {"panel", "acme-a", "acme-b", "s1"})
    globex = customer("globex", {"panel", "globex-a", "s1"})
    other = customer("initech", {"panel", "initech-a", "s2"})
    incidents = [
        outage(1, "s1", at(7, 3), HOUR),
        outage(2, "acme-a", at(7, 3), HOUR),
        outage(3, "acme-b", at(7, 3, 1), HOUR - MINUTE),
        outage(4, "globex-a", at(7, 3), HOUR),
    ]
    report = month_report([acme, globex, other], incidents)
    assert report.customer("acme").downtime_seconds == HOUR
    assert report.customer("globex").downtime_seconds == HOUR
    assert report.customer("initech").downtime_seconds == 0  # on another server


def test_r_m4_services_a_customer_does_not_depend_on_do_not_count() -> None:
    report = report_for(customer(services={"panel"}), [outage(1, "mobile-api", at(3), HOUR)])
    assert report.downtime_seconds == 0 and report.incidents == ()


def test_r_m5_incident_across_month_boundary_is_split_between_months() -> None:
    # 31 March 23:00 to 1 April 02:00: 1 h in March, 2 h in April.
    incidents = [outage(1, "panel", at(31, 23), 3 * HOUR)]
    april = month_period("2026-04", "gregorian", "UTC")
    march_report = report_for(customer(), incidents)
    april_report = report_for(customer(), incidents, period=april)
    assert march_report.downtime_seconds == 1 * HOUR
    assert april_report.downtime_seconds == 2 * HOUR
    assert april_report.period_seconds == 30 * 86400


def test_r_m3_open_incident_counts_until_now() -> None:
    report = report_for(customer(), [outage(1, "panel", at(9, 8), None)], now=at(9, 11))
    # Open since 08:00, now 11:00: 3 h so far; the line shows no end.
    assert report.downtime_seconds == 3 * HOUR
    assert report.incidents[0].end is None
    assert report.to_json()["incidents"][0]["end"] is None


def test_r_m3_unknown_time_is_reported_and_not_counted() -> None:
    # The daemon was stopped 2 h on the 12th: unknown, neither down nor up.
    report = report_for(customer(), unknown=[Interval(at(12, 1), at(12, 3))])
    assert report.unknown_seconds == 2 * HOUR
    assert report.downtime_seconds == 0
    assert report.availability_percent == 100


def test_r_m3_manual_incident_over_unknown_time_makes_it_downtime() -> None:
    # The operator covers 02:00-03:00 of the 2 h gap with a manual incident.
    report = report_for(
        customer(), [outage(1, "panel", at(12, 2), HOUR, source="manual")],
        unknown=[Interval(at(12, 1), at(12, 3))])
    assert report.unknown_seconds == 2 * HOUR - HOUR
    assert report.downtime_seconds == HOUR


def test_r_m3_unknown_time_outside_the_month_or_after_now_is_ignored() -> None:
    report = report_for(customer(), unknown=[Interval(at(28, 0, month=2), at(1, 1)),
                                             Interval(at(20), at(21))], now=at(10))
    # Only 00:00-01:00 on 1 March falls in the month up to now.
    assert report.unknown_seconds == HOUR


def test_running_month_counts_only_until_now() -> None:
    report = report_for(customer(), [outage(1, "panel", at(9, 8), 5 * HOUR)], now=at(9, 10))
    assert report.downtime_seconds == 2 * HOUR  # 08:00-10:00 has happened so far
    assert report.period_seconds == 31 * 86400  # the month keeps its full length (R-M6)


def test_r_m5_jalali_month_report_uses_the_jalali_month_length() -> None:
    # Esfand 1403 (a leap year) has 30 days; 2 h of outage on 1 Esfand 10:00 Tehran.
    esfand = month_period("1403-12", "jalali", "Asia/Tehran")
    incidents = [outage(1, "panel", later(esfand.start, 10 * HOUR), 2 * HOUR)]
    report = report_for(customer(), incidents, period=esfand, now=esfand.end)
    assert report.period_seconds == 30 * 86400
    assert report.downtime_seconds == 2 * HOUR
    assert report.tier == "1w"


def test_month_not_yet_begun_has_nothing_counted() -> None:
    report = report_for(customer(), [outage(1, "panel", at(5), HOUR)], now=at(20, month=2))
    assert (report.downtime_seconds, report.incidents, report.credit_days_total) == (0, (), 0)


def test_repeated_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="incident ids must be unique; repeated: 1"):
        report_for(customer(), [outage(1, "panel", at(5), HOUR), outage(1, "shop", at(6), HOUR)])
    with pytest.raises(ValueError, match="customer ids must be unique"):
        month_report([customer("acme"), customer("acme")])
