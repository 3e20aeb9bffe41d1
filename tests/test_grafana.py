"""grafana/: the dashboard is valid JSON and it and the alert rules use only metrics the
daemon exports (so a renamed metric cannot silently blank a panel or an alert)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from monitor.daemon.metrics import DaemonMetrics
from monitor.notify.metrics import NotifyMetrics

GRAFANA = Path(__file__).resolve().parents[1] / "grafana"
SUFFIXES = ("_bucket", "_count", "_sum", "_created")


def exported() -> set[str]:
    registry = CollectorRegistry()
    DaemonMetrics(registry)
    NotifyMetrics(registry)
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
