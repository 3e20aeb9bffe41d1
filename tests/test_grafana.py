"""grafana/: the dashboard is valid JSON and it and the alert rules use only metrics the
daemon exports (so a renamed metric cannot silently blank a panel or an alert); the SLA
row and the tier alert (issue 11) are there."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.sla_metrics import SLAMetrics
from monitor.notify.metrics import NotifyMetrics

GRAFANA = Path(__file__).resolve().parents[1] / "grafana"
SUFFIXES = ("_bucket", "_count", "_sum", "_created")


def exported() -> set[str]:
    registry = CollectorRegistry()
    DaemonMetrics(registry)
    NotifyMetrics(registry)
    SLAMetrics(registry)
    names = set()
    for family in registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in SUFFIXES)
    return names


def used(text: str) -> set[str]:
    return set(re.findall(r"\bsla_monitor_[a-z_]+", text))


def test_dashboard_and_alerts_use_exported_metrics() -> None:
    dashboard = (GRAFANA / "dashboard.json").read_text()
    json.loads(dashboard)
    alerts = (GRAFANA / "alerts.yml").read_text()
    names = exported()
    assert used(dashboard) and used(alerts)
    assert used(dashboard) - names == set()
    assert used(alerts) - names == set()


def test_the_sla_row_and_the_tier_alert_exist() -> None:
    dashboard = json.loads((GRAFANA / "dashboard.json").read_text())
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert "SLA this month (per customer)" in titles  # the row
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    for name in ("sla_monitor_customer_availability_ratio",
                 "sla_monitor_customer_error_budget_seconds",
                 "sla_monitor_customer_next_tier_seconds", "sla_monitor_sla_target_ratio"):
        assert name in exprs
    alerts = (GRAFANA / "alerts.yml").read_text()
    assert "alert: CustomerAboutToCrossCreditTier" in alerts
    assert "sla_monitor_customer_next_tier_seconds" in alerts
