"""The SPEC section 7 JSON report, credit evidence (R-C3) and the inputs digest (R-C3)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import monitor.sla
from monitor.sla import (
    CustomerInput,
    IncidentInput,
    Interval,
    MaintenanceInput,
    MonthReport,
    Policy,
    inputs_digest,
)

from .builders import (
    HOUR,
    MARCH,
    MINUTE,
    MONTH_SECONDS,
    at,
    customer,
    later,
    maintenance,
    month_report,
    outage,
)

CUSTOMER_KEYS = {
    "customer", "period_seconds", "downtime_seconds", "excluded_seconds",
    "excluded_by_reason", "unknown_seconds", "availability_percent", "target_percent", "tier",
    "tier_credit_days", "notification_breaches", "notification_credit_days",
    "detection_breaches", "partial_credit_days", "refund_amount", "credit_days_total",
    "credit_value", "currency", "ineligible_reason", "credit_lines", "incidents",
}
INCIDENT_KEYS = {"id", "service", "start", "end", "counted_seconds", "cause",
                 "detection_seconds", "notified_after_seconds"}


def _sample() -> tuple[list[CustomerInput], list[IncidentInput], list[MaintenanceInput],
                       dict[tuple[int, str], datetime], list[Interval]]:
    customers = [customer("acme", {"panel", "shop", "s1"}), customer("globex", {"panel"})]
    incidents = [
        outage(1, "panel", at(4, 10), 3 * HOUR, detected_at=at(4, 10, 20)),
        outage(2, "shop", at(4, 12), 2 * HOUR),
        outage(3, "s1", at(9, 1), 2 * HOUR, cause="external"),
        outage(4, "shop", at(20, 5), 4 * HOUR),
    ]
    windows = [maintenance(1, {"shop"}, at(20, 5), 3 * HOUR, {"acme": at(15)})]
    notifications = {(1, "acme"): at(4, 10, 30), (1, "globex"): at(4, 12, 30)}
    unknown = [Interval(at(25, 0), at(25, 1))]
    return customers, incidents, windows, notifications, unknown


def _report() -> MonthReport:
    customers, incidents, windows, notifications, unknown = _sample()
    return month_report(customers, incidents, maintenance_windows=windows,
                        notifications=notifications, unknown=unknown)


def test_section_7_json_has_the_contract_keys_and_is_serializable() -> None:
    document = _report().to_json()
    assert json.loads(json.dumps(document)) == document
    assert list(document) == ["month", "calendar", "timezone", "period_start", "period_end",
                              "customers"]
    assert document["period_start"] == "2026-03-01T00:00:00Z"
    assert document["period_end"] == "2026-04-01T00:00:00Z"
    for entry in document["customers"]:
        assert set(entry) == CUSTOMER_KEYS
        for line in entry["incidents"]:
            assert set(line) == INCIDENT_KEYS


def test_r_m4_acme_numbers_worked_out() -> None:
    acme = _report().to_json()["customers"][0]
    # Panel 10:00-13:00 and shop 12:00-14:00 on the 4th: 4 h; shop 05:00-09:00 on the
    # 20th, of which 05:00-08:00 is maintenance announced 5 days ahead: 1 h overrun.
    assert acme["downtime_seconds"] == 4 * HOUR + 1 * HOUR
    # Excluded: s1's 2 h external outage on the 9th and the 3 h of maintenance.
    assert acme["excluded_by_reason"] == {"maintenance": 3 * HOUR, "customer_request": 0,
                                          "customer_action": 0, "external": 2 * HOUR,
                                          "non_payment": 0}
    assert acme["excluded_seconds"] == 5 * HOUR
    assert acme["unknown_seconds"] == HOUR
    assert acme["tier"] == "1w" and acme["tier_credit_days"] == 7
    # Incident 2 (shop, 4th) was never notified; incident 4's overrun is counted and it
    # was never notified either. Incident 1 was notified after 30 min.
    assert acme["notification_breaches"] == [2, 4]
    assert acme["detection_breaches"] == [1]  # detected 20 min after the start
    assert acme["credit_days_total"] == 7 + 2
    assert acme["credit_value"] == 90.0  # 9 days x 3650 / 365
    assert [line["id"] for line in acme["incidents"]] == [1, 2, 3, 4]
    assert acme["incidents"][0] == {
        "id": 1, "service": "panel", "start": "2026-03-04T10:00:00Z",
        "end": "2026-03-04T13:00:00Z", "counted_seconds": 3 * HOUR, "cause": "provider",
        "detection_seconds": 20 * MINUTE, "notified_after_seconds": 30 * MINUTE}


def test_r_c3_credit_lines_name_their_evidence() -> None:
    acme = _report().customer("acme")
    tier_line = acme.credit_lines[0]
    assert (tier_line.rule, tier_line.days) == ("R-T1", 7)
    assert tier_line.incidents == (1, 2, 4)  # the incidents with counted time
    assert tier_line.maintenance == (1,)  # the announced window that excluded time
    assert [(line.rule, line.incidents) for line in acme.credit_lines[1:]] == [
        ("R-N1", (2,)), ("R-N1", (4,))]


def test_globex_is_notified_late_once() -> None:
    globex = _report().customer("globex")
    assert globex.downtime_seconds == 3 * HOUR  # only the panel
    assert globex.notification_breaches == (1,)  # notified 2 h 30 min after the start
    assert globex.availability_percent == Decimal(MONTH_SECONDS - 3 * HOUR) * 100 / MONTH_SECONDS


def test_r_c3_digest_ignores_order_and_changes_with_any_input() -> None:
    customers, incidents, windows, notifications, unknown = _sample()
    policy = Policy()
    digest = inputs_digest(MARCH, customers, incidents, windows, notifications, unknown, policy)
    shuffled = inputs_digest(MARCH, customers[::-1], incidents[::-1], windows,
                             dict(reversed(notifications.items())), unknown, policy)
    assert shuffled == digest and len(digest) == 64
    changed_cause = [replace(incidents[0], cause="external"), *incidents[1:]]
    later_notice = {**notifications, (1, "acme"): later(at(4, 10, 30), 1)}
    variants = [
        inputs_digest(MARCH, customers, changed_cause, windows, notifications, unknown, policy),
        inputs_digest(MARCH, customers, incidents, windows, later_notice, unknown, policy),
        inputs_digest(MARCH, customers, incidents, [], notifications, unknown, policy),
        inputs_digest(MARCH, customers, incidents, windows, notifications, [], policy),
        inputs_digest(MARCH, customers, incidents, windows, notifications, unknown,
                      Policy(target_percent=Decimal("99.9"))),
    ]
    assert digest not in variants and len(set(variants)) == len(variants)


def test_public_names_match_all() -> None:
    public = {name for name in dir(monitor.sla) if not name.startswith("_")}
    modules = {"calendar", "claims", "coverage", "credits", "deadlines", "digest", "downtime",
               "eligibility", "engine", "history", "inputs", "intervals", "ledger", "policy",
               "report", "standing", "statements", "stored", "terms", "vantages", "archive"}
    assert public - modules == set(monitor.sla.__all__)
