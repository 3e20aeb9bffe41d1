"""SIGHUP as prepare-then-swap: a reload whose new configuration cannot be built is refused
with the old one fully in force: every target, its probe and detector, the notifier and
both schedules exactly as before. The real daemon, real local targets and a real SMTP sink."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import insert

from monitor.app import Daemon
from monitor.config import load_config
from monitor.errors import MonitorError
from monitor.store import create_engine
from monitor.store.models import Incident, ProbeFailure, ProbeRun
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.faults.helpers import sqlite_locked_awaited
from tests.support import FAST, MONITOR, eventually, rows


def config_text(panel: str, api: str, sink: SMTPSink, db_url: str, extra: str = "",
                contact: str = "tech@acme.example") -> str:
    return f"""
{MONITOR}
provider: {{name: Rabit Hosting, operators: [noc@rabit.example]}}
services:
  - id: panel
    kind: web_panel
    probe: {{type: http, url: "{panel}", {FAST}}}
  - id: api
    kind: mobile_api
    probe: {{type: http, url: "{api}", {FAST}}}
{extra}
customers:
  - id: acme
    name: ACME
    contacts: {{technical: {{email: {contact}}}}}
    fee: {{amount: 3650, currency: EUR}}
    sites: [{{domain: acme.example}}]
smtp: {{host: 127.0.0.1, port: {sink.port}, tls: none, sender: sla@rabit.example, timeout: 5s}}
http: {{listen: "127.0.0.1:0"}}
storage: {{url: "{db_url}"}}
"""


@asynccontextmanager
async def started(path: Path) -> AsyncIterator[tuple[Daemon, CollectorRegistry]]:
    """The daemon on the configuration at ``path`` (reloads read it there), with its
    registry; stopped at the end."""
    registry = CollectorRegistry()
    daemon = Daemon(load_config(path), path, registry=registry, flush_interval=0.2)
    await daemon.start()
    try:
        yield daemon, registry
    finally:
        await daemon.stop()


def snapshot(daemon: Daemon) -> dict[str, Any]:
    """What a refused reload must leave exactly as it was (identities, not look-alikes)."""
    watch, notifier = daemon.watch, daemon.notifier
    return {
        "settings": id(daemon.settings),
        "config": id(daemon.config),
        "targets": dict(watch.targets),
        "probes": {k: id(v) for k, v in watch.probes.items()},
        "detectors": {k: id(v) for k, v in watch.detectors.items()},
        "certificate_checks": {k: id(v) for k, v in watch.certificate_checks.items()},
        "topology": id(watch.topology),
        "canaries": list(watch.canaries),
        "notifier settings": id(notifier.settings),
        "duties settings": id(notifier.duties.settings),
        "envelope": notifier.envelope,
        "transport": id(notifier.transport),
        "schedule": (daemon.schedule.intervals(), daemon.schedule.offsets(),
                     dict(daemon.schedule._generation)),
        "certificate schedule": (daemon.certificate_schedule.intervals(),
                                 dict(daemon.certificate_schedule._generation)),
    }


@pytest.mark.slow
async def test_a_reload_with_an_unreadable_ca_file_is_refused_and_nothing_changes(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with TargetServer() as panel, TargetServer() as api, TargetServer() as other, \
            SMTPSink() as sink:
        path = tmp_path / "config.yaml"
        good = config_text(panel.url("/"), api.url("/"), sink, sqlite_url)
        path.write_text(good)
        registry = CollectorRegistry()
        daemon = Daemon(load_config(path), path, registry=registry, flush_interval=0.2)
        await daemon.start()
        engine = create_engine(sqlite_url)
        try:
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.target_id == "api"))
            before = snapshot(daemon)

            # The new file is valid YAML and schema, but its new server's CA bundle cannot be
            # loaded (unreadable; unparseable for root): found only when its probe is built.
            bad_ca = tmp_path / "ca.pem"
            bad_ca.write_text("not a certificate\n")
            os.chmod(bad_ca, 0)

            def servers(tls: str) -> str:
                return f"""
servers:
  - id: srv-2
    probe: {{type: http, url: "{other.url('/')}", {FAST}}}
  - id: srv-3
    probe: {{type: http, url: "{other.url('/')}", {FAST}, tls: {tls}}}
"""

            # Besides: a target removed (api), a contact changed (the notifier's), a probe
            # changed (panel's interval): none of it may take effect.
            def changed(tls: str) -> str:
                text = config_text(panel.url("/"), api.url("/"), sink, sqlite_url, servers(tls),
                                   contact="new@acme.example")
                text = text.replace("interval: 0.4s", "interval: 0.5s", 1)
                return text.replace("  - id: api\n", "  - id: api2\n")

            path.write_text(changed(f'{{ca_file: "{bad_ca}"}}'))
            assert await daemon.reload() is False
            assert registry.get_sample_value(
                "sla_monitor_config_reloads_total", {"result": "rejected"}) == 1
            assert snapshot(daemon) == before

            # The old configuration keeps running: both old targets still probed.
            seen = api.requests["/"], panel.requests["/"]

            async def both_probed_twice() -> bool:  # 0.4 s apart: about a second
                return api.requests["/"] >= seen[0] + 2 and panel.requests["/"] >= seen[1] + 2

            await eventually(both_probed_twice, within=10)
            assert other.requests["/"] == 0  # srv-2 was never started

            # The same change without the bad CA bundle is applied, whole.
            path.write_text(changed("{verify: true}"))
            assert await daemon.reload() is True
            assert set(daemon.watch.targets) == {"panel", "api2", "srv-2", "srv-3"}
            assert daemon.notifier.duties.topology.customers["acme"].contacts.technical.email == (
                "new@acme.example")
            assert daemon.schedule.intervals()["panel"] == 0.5
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.target_id == "srv-2"))
        finally:
            await daemon.stop()
            await engine.dispose()


def target_series(text: str, target: str) -> list[str]:
    """The /metrics lines of one target's series (any family)."""
    return [line for line in text.splitlines()
            if not line.startswith("#") and f'target="{target}"' in line]


@pytest.mark.slow
async def test_a_target_a_reload_removes_leaves_metrics(sqlite_url: str, tmp_path: Path) -> None:
    """A target removed by SIGHUP has no series left on /metrics: a removed target that was
    down, or whose certificate had expired, must not keep ``probe_state 0`` or
    ``certificate_valid 0`` (the CertificateInvalid alert of grafana/alerts.yml) forever.
    A target whose kind a reload changed keeps one probe_state series, of its new kind."""
    panel_as = '    kind: web_panel\n    probe: {{type: http, url: "{url}", {fast}}}\n'

    async with TargetServer() as panel, TargetServer() as api, \
            TargetServer(tls="expired") as shop, SMTPSink() as sink:
        api.set_status(503)
        path = tmp_path / "config.yaml"
        old_shop = (f"  - id: shop\n    kind: mobile_api\n    probe: {{type: http, "
                    f'url: "{shop.url("/")}", {FAST}, tls: {{ca_file: "{shop.ca_file}", '
                    f"cert_check_interval: 1s}}}}\n")
        text = config_text(panel.url("/"), api.url("/"), sink, sqlite_url, extra=old_shop)
        path.write_text(text)
        daemon = Daemon(load_config(path), path)
        await daemon.start()
        try:
            async def scrape() -> str:
                async with aiohttp.ClientSession() as http, http.get(
                        f"http://127.0.0.1:{daemon.http_port}/metrics") as response:
                    return await response.text()

            async def all_seen() -> str | None:
                text = await scrape()
                seen = ('sla_monitor_probe_state{kind="mobile_api",target="api"} 0.0' in text
                        and 'sla_monitor_certificate_valid{target="shop"} 0.0' in text
                        and "sla_monitor_certificate_expiry_timestamp_seconds"
                            '{target="shop"}' in text)
                return text if seen else None

            before = await eventually(all_seen, within=15)
            assert target_series(before, "api") and target_series(before, "panel")
            # api and shop removed; the panel becomes a mobile API (its kind is a label).
            old_api = (f"  - id: api\n    kind: mobile_api\n    probe: {{type: http, "
                       f'url: "{api.url("/")}", {FAST}}}\n')
            old_panel = panel_as.format(url=panel.url("/"), fast=FAST)
            removed = (text.replace(old_api, "").replace(old_shop, "")
                       .replace(old_panel, old_panel.replace("web_panel", "mobile_api")))
            assert "id: api" not in removed and "id: shop" not in removed
            assert "web_panel" not in removed
            path.write_text(removed)
            assert await daemon.reload()

            async def panel_probed_again() -> str | None:
                text = await scrape()
                return text if 'kind="mobile_api",target="panel"' in text else None

            await eventually(panel_probed_again, within=5)
            await asyncio.sleep(1.0)  # a few probe rounds and certificate checks after it
            after = await scrape()
            assert target_series(after, "api") == []
            assert target_series(after, "shop") == []
            panel_states = [line for line in target_series(after, "panel")
                            if line.startswith("sla_monitor_probe_state{")]
            assert panel_states == ['sla_monitor_probe_state{kind="mobile_api",target="panel"} 1.0']
        finally:
            await daemon.stop()


@pytest.mark.slow
async def test_a_reload_that_changes_what_is_read_at_start_is_refused_naming_each_change(
    tmp_path: Path, sqlite_url: str
) -> None:
    # monitor.event_loop and monitor.probe_workers are read at start: a SIGHUP that changed
    # them was "reloaded" (counted applied) with nothing in force. And a refusal said only
    # "storage, http and cluster settings change only with a restart", naming no setting.
    async with TargetServer() as panel, TargetServer() as api, SMTPSink() as sink:
        path = tmp_path / "config.yaml"
        good = config_text(panel.url("/"), api.url("/"), sink, sqlite_url)
        path.write_text(good)
        async with started(path) as (daemon, registry):
            before = snapshot(daemon)
            changed = good.replace(
                MONITOR, MONITOR.replace("}", ", event_loop: asyncio, probe_workers: 1}")
            ).replace('http: {listen: "127.0.0.1:0"}',
                      'http: {listen: "127.0.0.1:0", max_connections: 999}')
            assert changed.count("event_loop") == 1 and "max_connections: 999" in changed
            path.write_text(changed)
            with pytest.raises(MonitorError) as refused:
                await daemon.runtime.prepare(load_config(path))
            assert str(refused.value) == (
                "change only with a restart: http.max_connections (1000, now 999), "
                "monitor.event_loop ('auto', now 'asyncio'), monitor.probe_workers ('auto', "
                "now 1)")
            assert await daemon.reload() is False
            assert registry.get_sample_value(
                "sla_monitor_config_reloads_total", {"result": "rejected"}) == 1
            assert snapshot(daemon) == before


@pytest.mark.slow
async def test_an_open_incident_of_a_target_a_reload_removes_is_ended_then(
    tmp_path: Path, sqlite_url: str
) -> None:
    # Its detector went with the target: nothing could end it, nor any command; it stayed
    # open for good, counted under kind="removed" (0 until a restart, then 1: ServiceDown
    # fired for ever). Ended at the reload, said in the log, with no "available again"
    # e-mail (it was not seen to recover).
    async with TargetServer() as panel, TargetServer() as api, SMTPSink() as sink:
        api.set_status(503)
        path = tmp_path / "config.yaml"
        text = config_text(panel.url("/"), api.url("/"), sink, sqlite_url)
        path.write_text(text)
        engine = create_engine(sqlite_url)
        async with started(path) as (daemon, registry):
            (opened,) = await eventually(lambda: rows(engine, Incident, Incident.end.is_(None)),
                                         within=15)
            assert opened.service_id == "api"
            await eventually(lambda: _true(len(sink.messages) >= 1), within=15)  # opened
            mails = len(sink.messages)
            old_api = (f"  - id: api\n    kind: mobile_api\n    probe: {{type: http, "
                       f'url: "{api.url("/")}", {FAST}}}\n')
            assert old_api in text
            path.write_text(text.replace(old_api, ""))
            assert await daemon.reload()
            (ended,) = await rows(engine, Incident)
            assert ended.end is not None and ended.end >= opened.start
            assert registry.get_sample_value(
                "sla_monitor_open_incidents", {"kind": "removed"}) in (None, 0.0)
            assert registry.get_sample_value(
                "sla_monitor_open_incidents", {"kind": "mobile_api"}) in (None, 0.0)
            await asyncio.sleep(1.0)  # the outbox would have sent a recovery by now
            assert len(sink.messages) == mails
        await engine.dispose()
        # A restart finds nothing open either.
        async with started(path) as (daemon, _):
            assert daemon.watch.book.open_incidents == {}


@pytest.mark.slow
async def test_an_incident_a_reload_could_not_end_is_ended_when_the_database_answers_again(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The reload that removes a target with an open incident finds the database away (SQLite
    held by another writer past its busy timeout): the incident is ended as soon as the
    database answers again, at the reload's time (R-M1: when its target was removed), not
    left open until the next start (and ServiceDown firing until then)."""
    async with TargetServer() as panel, TargetServer() as api, SMTPSink() as sink:
        api.set_status(503)
        path = tmp_path / "config.yaml"
        text = config_text(panel.url("/"), api.url("/"), sink, sqlite_url).replace(
            f'storage: {{url: "{sqlite_url}"}}', f'storage: {{url: "{sqlite_url}", busy_timeout: 1s}}')
        assert "busy_timeout" in text
        path.write_text(text)
        engine = create_engine(sqlite_url)
        try:
            async with started(path) as (daemon, _):
                (opened,) = await eventually(
                    lambda: rows(engine, Incident, Incident.end.is_(None)), within=15)
                old_api = (f"  - id: api\n    kind: mobile_api\n    probe: {{type: http, "
                           f'url: "{api.url("/")}", {FAST}}}\n')
                path.write_text(text.replace(old_api, ""))
                database = Path(sqlite_url.removeprefix("sqlite+aiosqlite:///"))
                async with sqlite_locked_awaited(database, 10):
                    removed = dt.datetime.now(dt.UTC)
                    assert await daemon.reload()
                    reloaded = dt.datetime.now(dt.UTC)
                    assert "open incidents of removed targets not ended now" in caplog.text
                (ended,) = await eventually(
                    lambda: rows(engine, Incident, Incident.end.is_not(None)), within=15)
                assert ended.id == opened.id
                assert removed <= ended.end <= reloaded  # type: ignore[operator]
        finally:
            await engine.dispose()


async def _true(value: bool) -> bool:
    return value


@pytest.mark.slow
async def test_an_incident_of_a_removed_target_ends_after_its_records_on_a_clock_set_back(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A target removed while the daemon was stopped, its incident open, and the wall clock
    set back an hour meanwhile (NTP correcting a clock that ran ahead): ended "now", the
    incident ended before it began, and the reports left it out (its downtime lost to the
    customer). It ends one second after its last failure seen, as an incident the probes
    close on such a clock ends after its records (R-M1), and the log says to check the
    clock."""
    async with TargetServer() as panel, TargetServer() as api, SMTPSink() as sink:
        path = tmp_path / "config.yaml"
        path.write_text(config_text(panel.url("/"), api.url("/"), sink, sqlite_url))
        async with started(path):
            pass  # the schema
        ahead = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)  # the records' timeline
        last_failure = ahead + dt.timedelta(minutes=5)
        engine = create_engine(sqlite_url)
        try:
            async with engine.begin() as connection:
                incident_id = (await connection.execute(
                    insert(Incident).values(service_id="old-site", start=ahead,
                                            detected_at=ahead, source="probe", cause="provider",
                                            created_at=ahead))).inserted_primary_key[0]
                await connection.execute(insert(ProbeFailure).values(
                    target_id="old-site", at=last_failure, state="down",
                    failure_class="connection_refused", detail="refused"))
            async with started(path):
                (ended,) = await rows(engine, Incident, Incident.id == incident_id)
        finally:
            await engine.dispose()
    assert ended.end == last_failure + dt.timedelta(seconds=1)
    assert ended.end > ended.start
    (said,) = [r for r in caplog.records if "wall clock is behind" in r.getMessage()
               and getattr(r, "incident", None) == incident_id]
    assert said.levelname == "ERROR"
