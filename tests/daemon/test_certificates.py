"""The certificate series of a target (``monitor/daemon/certificates.py``), set by a real
certificate check of a local HTTPS server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from monitor.daemon.certificates import Certificates
from monitor.daemon.metrics import DaemonMetrics
from monitor.probes import ProbeSessions, build_certificate_check
from monitor.testing.targets import TargetServer
from tests.support import http_config

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"


async def test_a_target_no_longer_verified_loses_its_certificate_valid_series() -> None:
    registry = CollectorRegistry()
    certificates = Certificates(DaemonMetrics(registry), lambda target_id: True)
    labels = {"target": "panel"}
    async with ProbeSessions(max_concurrency=5) as sessions, TargetServer(
            tls="self_signed") as server:
        verified = http_config(server.url("/"), tls={"ca_file": server.ca_file})
        certificates.apply(set(), {"panel": build_certificate_check("panel", verified, sessions)})
        await certificates.run("panel")
        assert registry.get_sample_value("sla_monitor_certificate_valid", labels) == 0
        # A reload sets tls.verify: false: a stale 0 would keep CertificateInvalid firing.
        unverified = http_config(server.url("/"), tls={"verify": False})
        certificates.apply(set(), {"panel": build_certificate_check("panel", unverified,
                                                                    sessions)})
        await certificates.run("panel")
    assert registry.get_sample_value("sla_monitor_certificate_valid", labels) is None
    assert registry.get_sample_value(
        "sla_monitor_certificate_expiry_timestamp_seconds", labels) == pytest.approx(
        server.cert_not_after.timestamp())


async def test_each_targets_expiry_warning_is_exported_for_the_alert() -> None:
    # tls.cert_expiry_warning only reached the log: CertificateExpiringSoon compared with a
    # fixed 14 days, so a probe warned 30 days ahead (or 48 h, Gatus's usual condition) was
    # alerted on at 14 days. The alert now compares with each target's own warning.
    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry)
    certificates = Certificates(metrics, lambda target_id: True)
    labels = {"target": "panel"}
    async with ProbeSessions(max_concurrency=5) as sessions, TargetServer(tls="valid") as server:
        config = http_config(server.url("/"), tls={"ca_file": server.ca_file,
                                                   "cert_expiry_warning": "30d"})
        certificates.apply(set(), {"panel": build_certificate_check("panel", config, sessions)})
        await certificates.run("panel")
    assert registry.get_sample_value(
        "sla_monitor_certificate_expiry_warning_seconds", labels) == 30 * 86400
    certificates.apply(set(), {"panel": None})  # no longer https://: no certificate series
    assert registry.get_sample_value(
        "sla_monitor_certificate_expiry_warning_seconds", labels) is None


def test_the_expiring_alert_compares_with_each_targets_own_warning() -> None:
    expression = yaml.safe_load((GRAFANA / "alerts.yml").read_text())
    rule = next(rule for group in expression["groups"] for rule in group["rules"]
                if rule.get("alert") == "CertificateExpiringSoon")
    assert "sla_monitor_certificate_expiry_warning_seconds" in rule["expr"]
    assert "14 * 86400" not in rule["expr"]
