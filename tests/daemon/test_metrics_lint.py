"""The daemon's /metrics passes ``promtool check metrics`` (Prometheus naming conventions:
base units, ``_total`` counters), with every metric family present: a daemon with
customers and an open incident, scraped right after its start (the per-customer series
are there at once, not after the first ``monitor.sla_metrics_interval``), and every
family any part of the daemon registers, a cluster node's included, with a series each.

``.ci/run`` installs Debian's ``prometheus`` package for promtool; outside CI a
missing promtool skips these tests, in CI it is an error.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from monitor.app import Daemon
from monitor.config import load_config, parse_config
from monitor.config.schema import ClusterSettings
from monitor.daemon.cluster import Cluster
from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.sla_metrics import CUSTOMER_SERIES, SLAMetrics
from monitor.http.failures import unexpected_errors
from monitor.http.traffic import request_metrics
from monitor.notify.metrics import NotifyMetrics
from monitor.testing.targets import TargetServer
from tests.support import FAST, MONITOR, eventually


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run must install Debian's prometheus package")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return found


async def check_metrics(text: bytes) -> None:
    process = await asyncio.create_subprocess_exec(
        promtool(), "check", "metrics", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate(text)
    assert process.returncode == 0, out.decode()


def families(text: str) -> set[str]:
    """The families that have at least one sample in an exposition."""
    names = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    sampled = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.M))
    return {name for name in names if any(s == name or s.startswith(name + "_")
                                          for s in sampled)}


def customer_config(sqlite_url: str, shop: str, panel: str, maildir: Path) -> str:
    # The outage's e-mails go to the test's own Maildir (the default is the current
    # directory's, which a test must never write into).
    return f"""
{MONITOR}
provider: {{name: Lint Hosting}}
services:
  - {{id: panel, kind: web_panel, probe: {{type: http, url: "{panel}", {FAST}}}}}
  - {{id: shop, kind: project, server: srv, probe: {{type: http, url: "{shop}", {FAST}}}}}
servers:
  - {{id: srv, probe: {{type: http, url: "{panel}", {FAST}}}}}
customers:
  - id: acme
    name: ACME
    contacts: {{technical: {{email: tech@acme.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    services: [shop]
    sites: [{{domain: acme.example}}]
  - id: zeta
    name: Zeta
    contacts: {{technical: {{email: tech@zeta.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    sites: [{{domain: zeta.example}}]
http: {{listen: "127.0.0.1:0"}}
storage: {{url: "{sqlite_url}"}}
maildir: "{maildir}"
"""


@pytest.fixture
async def daemon(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Daemon]:
    """A daemon with two customers; ACME's project answers 503 (an incident opens)."""
    async with TargetServer() as panel, TargetServer() as shop:
        shop.set_status(503)
        daemon = Daemon(parse_config(customer_config(sqlite_url, shop.url("/"), panel.url("/"),
                                                tmp_path / "Maildir")))
        await daemon.start()
        try:
            yield daemon
        finally:
            await daemon.stop()


async def scrape(daemon: Daemon) -> str:
    async with aiohttp.ClientSession() as http, http.get(
            f"http://127.0.0.1:{daemon.http_port}/metrics") as response:
        assert response.status == 200
        return await response.text()


def customer_value(text: str, name: str, customer: str) -> float | None:
    found = re.search(rf'^{name}{{customer="{customer}"}} (\S+)$', text, re.M)
    return None if found is None else float(found[1])


@pytest.mark.slow
async def test_per_customer_series_are_there_right_after_start(daemon: Daemon) -> None:
    """The first per-customer refresh runs at start, not one sla_metrics_interval (60 s by
    default) later: a scrape right after start has every customer's series."""
    text = await scrape(daemon)
    for name, _ in CUSTOMER_SERIES:
        for customer in ("acme", "zeta"):
            assert customer_value(text, name, customer) is not None, (name, customer)
    assert customer_value(text, "sla_monitor_customer_availability_ratio", "zeta") == 1.0
    assert re.search(r'^sla_monitor_sla_refreshes_total\{result="ok"\} 1\.0$', text, re.M)


@pytest.mark.slow
async def test_a_customer_added_by_a_reload_has_its_series_at_once(
        sqlite_url: str, tmp_path: Path) -> None:
    """SIGHUP adds a customer: its series are there within seconds, not at the next
    refresh (``monitor.sla_metrics_interval``, 60 s here)."""
    yara = """  - id: yara
    name: Yara
    contacts: {technical: {email: tech@yara.example}}
    fee: {amount: 3650, currency: EUR}
    sites: [{domain: yara.example}]
"""
    async with TargetServer() as panel, TargetServer() as shop:
        path = tmp_path / "config.yaml"
        text = customer_config(sqlite_url, shop.url("/"), panel.url("/"), tmp_path / "Maildir")
        path.write_text(text)
        daemon = Daemon(load_config(path), path)
        await daemon.start()
        try:
            ratio = "sla_monitor_customer_availability_ratio"
            assert customer_value(await scrape(daemon), ratio, "yara") is None
            path.write_text(text.replace("\nhttp: {", "\n" + yara + "http: {"))
            assert await daemon.reload()

            async def yara_series() -> float | None:
                return customer_value(await scrape(daemon), ratio, "yara")

            assert await eventually(yara_series, within=5) == 1.0
        finally:
            await daemon.stop()


@pytest.mark.slow
async def test_a_scrape_with_customers_and_an_incident_passes_promtool(daemon: Daemon) -> None:
    async def incident_open() -> str | None:
        text = await scrape(daemon)
        return text if re.search(r'^sla_monitor_open_incidents\{kind="project"\} 1\.0$',
                                 text, re.M) else None

    text = await eventually(incident_open, within=20)
    present = families(text)
    for name, _ in CUSTOMER_SERIES:
        assert name in present
    for name in ("sla_monitor_probe_state", "sla_monitor_open_incidents",
                 "sla_monitor_duties_overdue", "sla_monitor_sla_target_ratio"):
        assert name in present
    await check_metrics(text.encode())


def every_family() -> CollectorRegistry:
    """A registry with every metric family of the daemon, a cluster node's too, each with a
    series: labelled families get one child per family, and a customer row is set."""
    registry = CollectorRegistry()
    DaemonMetrics(registry)
    NotifyMetrics(registry)
    sla = SLAMetrics(registry)
    request_metrics(registry)  # the HTTP edge's
    unexpected_errors(registry)
    Cluster(ClusterSettings(node="a", vantage="v"), db=None, registry=registry)  # type: ignore[arg-type]
    sla.customers.rows = {"acme": (0.99, 3600.0, 1800.0, 1.0, 604800.0, 1800.0)}
    for collector in list(registry._collector_to_names):
        names = getattr(collector, "_labelnames", ()) or getattr(collector, "labelnames", ())
        if not names:
            continue
        child = collector.labels(*("x" for _ in names))
        if hasattr(child, "set"):
            child.set(1)
        elif hasattr(child, "inc"):
            child.inc()
        else:
            child.observe(1)
    return registry


async def test_every_metric_family_passes_promtool() -> None:
    registry = every_family()
    text = generate_latest(registry)
    described = {family.name + ("_total" if family.type == "counter" else "")
                 for family in registry.collect()}
    assert described <= families(text.decode()), described - families(text.decode())
    assert "sla_monitor_cluster_leader" in described
    assert "sla_monitor_http_requests_total" in described
    await check_metrics(text)
