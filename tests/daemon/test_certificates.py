"""The certificate series of a target (``monitor/daemon/certificates.py``), set by a real
certificate check of a local HTTPS server."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from monitor.daemon.certificates import Certificates
from monitor.daemon.metrics import DaemonMetrics
from monitor.probes import ProbeSessions, build_certificate_check
from monitor.testing.targets import TargetServer
from tests.support import http_config


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
