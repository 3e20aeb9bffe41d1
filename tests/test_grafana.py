"""grafana/: the dashboard is valid JSON and it and the alert rules use only metrics the
daemon exports (so a renamed metric cannot silently blank a panel or an alert); the SLA
row and the tier alert are there.

``promtool check rules`` passes on alerts.yml and ``promtool test rules`` on its unit
tests (alerts.test.yml: every alert fires in one case and stays silent in another) and on
the per-customer and cluster panels' queries (dashboard.test.yml). Several daemons (a
cluster on one PostgreSQL) behind one Prometheus each export every customer's series, and
every node's state: the per-customer and cluster rules and panels are tested with series
from two instances, and every per-customer query aggregates by customer, so nothing
doubles nor fails as many-to-many.

As in tests/daemon/test_metrics_lint.py, a missing promtool skips the promtool tests
outside CI and is an error in CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from monitor.daemon.cluster import ClusterMetrics, ConfigDrift
from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.sla_metrics import SLAMetrics
from monitor.http.failures import unexpected_errors
from monitor.http.traffic import request_metrics
from monitor.notify.metrics import NotifyMetrics

GRAFANA = Path(__file__).resolve().parents[1] / "grafana"
SUFFIXES = ("_bucket", "_count", "_sum", "_created")


def exported() -> set[str]:
    registry = CollectorRegistry()
    DaemonMetrics(registry)
    NotifyMetrics(registry)
    SLAMetrics(registry)
    request_metrics(registry)  # the HTTP edge's
    unexpected_errors(registry)
    ClusterMetrics(registry, "node-a", "default")  # a cluster node's
    ConfigDrift(registry, "node-a")
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



def test_every_counter_an_alert_takes_the_increase_of_is_exported_at_zero_from_the_start(
        ) -> None:
    # increase() reads a series' first sample as its baseline: a labelled counter that
    # appears only when it first counts (at 1) shows no increase, and its alert never fires
    # for that first event. sla_monitor_config_reloads_total{result="rejected"} did so: a
    # daemon's first refused SIGHUP reload did not raise ConfigReloadRejected.
    registry = CollectorRegistry()
    DaemonMetrics(registry)
    NotifyMetrics(registry)
    SLAMetrics(registry)
    unexpected_errors(registry)  # the HTTP edge's, registered before the database is open
    samples = [(sample.name, sample.labels, sample.value) for family in registry.collect()
               for sample in family.samples]
    found = re.findall(r"(?:increase|rate)\((sla_monitor_\w+)(?:\{([^}]*)\})?\[",
                       "\n".join(alerts().values()))
    assert found
    for name, matchers in found:
        wanted = re.findall(r'(\w+)(=~|=)"([^"]*)"', matchers)
        matching = [value for sample, labels, value in samples if sample == name and all(
            re.fullmatch(pattern, labels.get(label, "")) if how == "=~"
            else labels.get(label) == pattern for label, how, pattern in wanted)]
        assert matching == [0.0] * len(matching) and matching, (name, matchers)


def test_every_count_on_the_dashboard_is_zero_when_nothing_matches() -> None:
    # count() of no series is no series: "Targets down / unknown" drew nothing at all (no
    # data) while every target was up, the usual state, rather than a line at 0.
    dashboard = json.loads((GRAFANA / "dashboard.json").read_text())
    counts = [target["expr"] for panel in dashboard["panels"]
              for target in panel.get("targets", []) if "count(" in target["expr"]]
    assert len(counts) >= 4
    assert [expr for expr in counts if not expr.endswith(" or vector(0)")] == []

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


# --- promtool: the rules, their unit tests, the dashboard's per-customer queries ------------


def promtool(*args: str) -> None:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run must install Debian's prometheus package")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    done = subprocess.run([found, *args], cwd=GRAFANA, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def load(name: str) -> Any:
    return yaml.safe_load((GRAFANA / name).read_text())


def alerts() -> dict[str, str]:
    """Every alert of alerts.yml: name -> expression."""
    return {rule["alert"]: rule["expr"] for group in load("alerts.yml")["groups"]
            for rule in group["rules"] if "alert" in rule}


def instances(group: dict[str, Any], metric: str) -> set[str]:
    """The instances a test group feeds ``metric`` from."""
    found = set()
    for series in group["input_series"]:
        if series["series"].startswith(metric + "{"):
            found.update(re.findall(r'instance="([^"]+)"', series["series"]))
    return found


def test_alert_rules_pass_promtool_check() -> None:
    promtool("check", "rules", "alerts.yml")


@pytest.mark.slow
def test_alert_rules_pass_their_unit_tests() -> None:
    promtool("test", "rules", "alerts.test.yml")


def test_every_alert_has_a_firing_and_a_silent_test_case() -> None:
    tests = load("alerts.test.yml")
    assert tests["rule_files"] == ["alerts.yml"]
    fires: set[str] = set()
    silent: set[str] = set()
    for group in tests["tests"]:
        for case in group.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else silent).add(case["alertname"])
    shipped = set(alerts())
    assert len(shipped) >= 29
    assert shipped - fires == set(), "alerts without a case where they fire"
    assert shipped - silent == set(), "alerts without a case where they stay silent"
    assert (fires | silent) - shipped == set(), "test cases of alerts that do not exist"


def test_per_customer_alerts_are_tested_with_series_from_two_daemons() -> None:
    tests = load("alerts.test.yml")["tests"]
    per_customer = {name: expr for name, expr in alerts().items()
                    if "sla_monitor_customer_" in expr}
    assert {"CustomerAboutToCrossCreditTier", "CustomerBelowTarget"} <= set(per_customer)
    for name, expr in per_customer.items():
        groups = [group for group in tests
                  if any(case["alertname"] == name and case.get("exp_alerts")
                         for case in group.get("alert_rule_test", []))]
        assert groups, name
        for metric in set(re.findall(r"\bsla_monitor_[a-z_]+", expr)):
            assert all(len(instances(group, metric)) >= 2 for group in groups), (name, metric)


def queries_of(series: str) -> list[str]:
    """The dashboard's queries of the series whose names match ``series``."""
    dashboard = json.loads((GRAFANA / "dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"]
            for target in panel.get("targets", [])
            if re.search(rf"\bsla_monitor_{series}_", target["expr"])]


def per_customer_queries() -> list[str]:
    """The dashboard's queries of per-customer (and SLA refresh) series."""
    return queries_of("(customer|sla)")


# A per-customer series only inside ``min/max by (customer) (...)``; a series of the node
# (the target, the refresh time) only inside ``min/max(...)``: the same figures from N
# nodes then count once.
BY_CUSTOMER = re.compile(r"\b(?:min|max) by \(customer\) \((sla_monitor_customer_[a-z_]+)\)")
ONE_SERIES = re.compile(r"\b(?:min|max)\((sla_monitor_sla_[a-z_]+)\)")


def test_every_per_customer_panel_query_aggregates_over_the_daemons() -> None:
    queries = per_customer_queries()
    assert len(queries) >= 8
    for query in queries:
        rest = ONE_SERIES.sub("", BY_CUSTOMER.sub("", query))
        assert "scalar(" not in query, query
        assert re.search(r"\bsla_monitor_", rest) is None, query


def test_the_http_row_sums_each_nodes_own_answers_and_is_tested() -> None:
    """Each node counts the answers it gave: the HTTP row adds the nodes' rates (promtool
    checks its figures from two instances in dashboard.test.yml)."""
    tests = load("dashboard.test.yml")["tests"]
    tested = {case["expr"] for group in tests for case in group.get("promql_expr_test", [])}
    queries = queries_of("http")
    assert len(queries) >= 2
    assert set(queries) - tested == set()
    assert all(query.count("sum by (") == 1 for query in queries), queries


def test_per_customer_and_cluster_panel_queries_give_the_same_figures_from_two_daemons(
        ) -> None:
    """Each per-customer and cluster query, exactly as in the dashboard, has expected
    figures in dashboard.test.yml on series from two instances (each node exports every
    node's state: a node counts once, whoever sees it); promtool checks them."""
    tests = load("dashboard.test.yml")["tests"]
    tested = {case["expr"] for group in tests for case in group.get("promql_expr_test", [])}
    assert set(per_customer_queries()) - tested == set()
    assert len(queries_of("cluster")) >= 10
    assert set(queries_of("cluster")) - tested == set()
    for group in tests:
        for series in group["input_series"]:
            metric = series["series"].split("{")[0]
            assert len(instances(group, metric)) >= 2, metric
    promtool("test", "rules", "dashboard.test.yml")
