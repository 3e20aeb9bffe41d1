"""The per-customer SLA series in Prometheus' base units: the credit owed is exported in
seconds of service (86400 per credit day, R-T2), exactly, fractions included (R-P1); the
tier, downtime and budget keep their meaning (SPEC section 7)."""

from __future__ import annotations

import re
from decimal import Decimal

from prometheus_client import CollectorRegistry, generate_latest

from monitor.daemon.sla_metrics import CUSTOMER_SERIES, CustomerSLAMetrics
from monitor.sla import Policy
from tests.sla.builders import DAY, HOUR, MARCH, at, customer, later, month_report, outage
from tests.sla.test_tickets import FIX_DUE, ticket


def value(text: str, name: str, customer_id: str) -> float | None:
    found = re.search(rf'^{name}{{customer="{customer_id}"}} (\S+)$', text, re.M)
    return None if found is None else float(found[1])


def test_credit_is_exported_in_seconds_of_service() -> None:
    # acme: 3 h down, notified in time or not (R-N1 may add a day): the 1w tier, 7 days.
    report = month_report([customer("acme"), customer("zeta", services=("shop",))],
                          [outage(1, "panel", at(2, 9), 3 * HOUR)])
    days = report.customer("acme").credit_days_total
    assert days >= 7
    registry = CollectorRegistry()
    metrics = CustomerSLAMetrics(registry)
    metrics.update(report.customers, MARCH, Policy())
    text = generate_latest(registry).decode()
    assert value(text, "sla_monitor_customer_credit_seconds", "acme") == float(days * DAY)
    assert value(text, "sla_monitor_customer_credit_seconds", "zeta") == 0.0
    assert value(text, "sla_monitor_customer_projected_tier", "acme") == 1.0
    assert value(text, "sla_monitor_customer_downtime_seconds", "acme") == 3 * HOUR
    assert "_days" not in text  # promtool: base units only


def test_a_half_day_of_credit_is_exact_in_seconds() -> None:
    # R-P1: a web-panel fix 10 h late earns a quarter of the 2w tier, 3.5 days.
    late = ticket(fixed_at=later(FIX_DUE, 10 * HOUR))
    report = month_report([customer("acme")], tickets=[late])
    assert report.customer("acme").credit_days_total == Decimal("3.5")
    registry = CollectorRegistry()
    metrics = CustomerSLAMetrics(registry)
    metrics.update(report.customers, MARCH, Policy())
    text = generate_latest(registry).decode()
    assert value(text, "sla_monitor_customer_credit_seconds", "acme") == 302400.0


def test_every_series_is_a_base_unit_name() -> None:
    for name, _ in CUSTOMER_SERIES:
        assert name.endswith(("_ratio", "_seconds", "_tier")), name
