"""The database fails under the running daemon (SPEC section 8): SQLite
held by another writer past the busy timeout, PostgreSQL restarted, the state directory's
disk full or read-only, all during an outage. After each: the incident exists with the start
the probes saw (R-M1), its outage e-mail went out once, the daemon recovered by itself, and
a metric and a log line said what happened.

The issue's SQLite case held the lock 40 s against a 30 s busy timeout; here the busy
timeout is set to 1 s (``storage.busy_timeout``, the same setting operators have) and the
lock is held 6 s, so that the test takes seconds."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor import actions
from monitor.app import Daemon
from monitor.cli.common import database
from monitor.config import Settings, parse_config
from monitor.errors import StoreError
from monitor.store import Database, create_engine, incidents, migrate
from monitor.store.models import Incident, OutboxMessage, ProbeFailure, ProbeRun
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.support import eventually, rows

from .helpers import PrivatePostgres, fill, scenario, small_filesystem, sqlite_locked_awaited

pytestmark = pytest.mark.slow


def gauge(registry: CollectorRegistry, name: str) -> float:
    return registry.get_sample_value(name) or 0.0


async def outage_mail(sink: SMTPSink) -> list[str]:
    return [m.parsed()["Subject"] for m in sink.messages if "Outage" in m.parsed()["Subject"]]


async def assert_one_incident_mailed_once(engine, sink: SMTPSink, first_failure: dt.datetime,
                                          ) -> Incident:  # type: ignore[no-untyped-def]
    incident = (await eventually(lambda: rows(engine, Incident), within=30))[0]
    assert len(await rows(engine, Incident)) == 1
    # R-M1: the start is the first failed probe, although it was written much later (after
    # an outage of 1.5 s and more). That probe is due within an interval (0.4 s) of the
    # change, later on a loaded machine; one sent up to a timeout before it (0.3 s) may
    # see it, stamped when sent.
    assert -0.5 < (incident.start - first_failure).total_seconds() < 0.4 + 0.4
    assert incident.detected_at >= incident.start
    await eventually(lambda: rows(engine, OutboxMessage, OutboxMessage.kind == "outage",
                                  OutboxMessage.status == "sent"), within=30)
    await asyncio.sleep(1.0)
    ids = [m.parsed()["Message-ID"] for m in sink.messages]
    assert len(ids) == len(set(ids))  # nothing sent twice
    assert any(m.rcpt_tos == ("tech@acme.example",) for m in sink.messages)
    return incident


async def test_sqlite_locked_by_another_writer_during_an_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "sla-monitor.db"
    url = f"sqlite+aiosqlite:///{database}"
    async with TargetServer() as target, SMTPSink() as sink:
        registry = CollectorRegistry()
        extra = f"storage: {{url: '{url}', busy_timeout: 1s}}"
        daemon = Daemon(parse_config(scenario(target, sink, url, extra)), registry=registry)
        await daemon.start()
        engine = create_engine(url)
        caplog.set_level(logging.INFO, logger="monitor")
        try:
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.state == "up"))
            async with sqlite_locked_awaited(database, 8.0) as locker:
                target.set_status(503)
                failing_from = dt.datetime.now(dt.UTC)
                # The outage is detected while every write fails: kept, not lost.
                await eventually(lambda: _async(daemon.watch.journal.pending), within=6)
                assert gauge(registry, "sla_monitor_incident_writes_pending") == 1
                await asyncio.sleep(1.5)  # a write attempt waits the 1 s busy timeout, fails
                assert locker.poll() is None  # still held
                # Read as the daemon's readers do (a deferred BEGIN): never waits for the lock.
                async with Database(engine).reading() as tx:
                    assert await incidents.open_by_probe(tx) == {}
                await asyncio.to_thread(locker.wait, 30)
            assert daemon.watch.journal.failures > 0
            released = dt.datetime.now(dt.UTC)
            incident = await assert_one_incident_mailed_once(engine, sink, failing_from)
            assert failing_from - dt.timedelta(seconds=0.5) <= incident.start < released
            assert incident.detected_at < released  # detected on time, written late
            assert gauge(registry, "sla_monitor_incident_writes_pending") == 0
            assert "incident change not written yet; retrying" in caplog.text
            assert "database is locked" in caplog.text
            # The probe history kept what it could not flush (R-M7): the failures are there.
            await daemon.flush()
            failures = await rows(engine, ProbeFailure)
            assert min(f.at for f in failures) == incident.start
            target.set_status(200)
            await eventually(lambda: rows(engine, Incident, Incident.end.is_not(None)))
        finally:
            await daemon.stop()
            await engine.dispose()


async def _async(value: object) -> object:
    return value


async def _database_ready(daemon: Daemon) -> bool:
    return bool((await daemon.runtime.ready()).checks["database"])


async def test_postgresql_restarted_under_the_daemon_during_an_outage(
    private_pg: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    async with TargetServer() as target, SMTPSink() as sink:
        registry = CollectorRegistry()
        config = scenario(target, sink, private_pg.url, f"storage: {{url: '{private_pg.url}'}}")
        daemon = Daemon(parse_config(config), registry=registry)
        await daemon.start()
        caplog.set_level(logging.INFO, logger="monitor")
        try:
            engine = create_engine(private_pg.url)
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.state == "up"))
            await engine.dispose()
            await asyncio.to_thread(private_pg.stop, "fast")  # connections dropped
            target.set_status(503)
            failing_from = dt.datetime.now(dt.UTC)
            await eventually(lambda: _async(daemon.watch.journal.failures > 0), within=10)
            await asyncio.sleep(2.0)
            await asyncio.to_thread(private_pg.start)
            engine = create_engine(private_pg.url)
            incident = await assert_one_incident_mailed_once(engine, sink, failing_from)
            assert incident.end is None
            assert "incident change not written yet; retrying" in caplog.text
            target.set_status(200)
            await eventually(lambda: rows(engine, Incident, Incident.end.is_not(None)))
            await daemon.flush()
            assert await rows(engine, ProbeFailure)  # the history kept through the restart
            await engine.dispose()
        finally:
            await daemon.stop()


async def test_a_stop_while_postgresql_is_away_says_so_without_a_traceback(
    private_pg: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGTERM while the database is away: each step of stopping that needs it (the
    heartbeat's last beat, the history) says in one line that it could not be completed,
    as every loop does while the database is away; no traceback (one came with the
    heartbeat's last beat)."""
    async with TargetServer() as target, SMTPSink() as sink:
        config = scenario(target, sink, private_pg.url, f"storage: {{url: '{private_pg.url}'}}")
        daemon = Daemon(parse_config(config), registry=CollectorRegistry())
        await daemon.start()
        stopped = False
        try:
            engine = create_engine(private_pg.url)
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.state == "up"))
            await engine.dispose()
            await asyncio.to_thread(private_pg.stop, "fast")
            caplog.set_level(logging.INFO, logger="monitor")
            await daemon.stop()
            stopped = True
        finally:
            if not stopped:
                await daemon.stop()
    said = [r for r in caplog.records if r.getMessage().startswith("stopping: ")]
    assert said, caplog.text
    assert [r for r in said if r.exc_info] == [], caplog.text
    assert all(r.levelno == logging.ERROR and r.error for r in said)  # type: ignore[attr-defined]
    assert "Traceback" not in caplog.text


async def test_the_state_directory_full_during_an_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A 3 MB tmpfs holds the database; it is filled to the last byte during an outage, for
    # several probe intervals and flushes, then freed. (A state directory that is read-only
    # is refused at start with one line and exit 2: tests/cli/test_hostile_input.py. Made
    # read-only under the running daemon it cannot be here: the kernel refuses to remount
    # a filesystem read-only while the daemon holds its files open for writing.)
    with small_filesystem(tmp_path / "state", "3m") as state:
        database = state / "sla-monitor.db"
        url = f"sqlite+aiosqlite:///{database}"
        async with TargetServer() as target, SMTPSink() as sink:
            registry = CollectorRegistry()
            daemon = Daemon(parse_config(scenario(
                target, sink, url, f"storage: {{url: '{url}', busy_timeout: 1s}}")),
                registry=registry)
            await daemon.start()
            engine = create_engine(url)
            caplog.set_level(logging.INFO, logger="monitor")
            try:
                await eventually(lambda: rows(engine, ProbeRun, ProbeRun.state == "up"))
                filler = await asyncio.to_thread(fill, state)
                target.set_status(503)
                failing_from = dt.datetime.now(dt.UTC)
                await eventually(lambda: _async(daemon.watch.journal.failures > 0), within=15)
                await asyncio.sleep(3.0)  # longer than several probe intervals and flushes
                assert gauge(registry, "sla_monitor_incident_writes_pending") == 1
                await daemon.flush()  # the history cannot be written either: kept, counted
                assert gauge(registry, "sla_monitor_store_flush_errors_total") >= 1
                # /readyz: the database takes no write but the smallest (its lock, taken by
                # the check, is free; the flush's writes fail): not ready, although reads
                # still answer (it said ready before).
                assert (await daemon.runtime.ready()).checks["database"] is False
                filler.unlink()
                await assert_one_incident_mailed_once(engine, sink, failing_from)
                assert "database or disk is full" in caplog.text
                await daemon.flush()
                # Ready again once writes went through for a while (WRITES_SETTLE).
                await eventually(lambda: _database_ready(daemon), within=20)
                failures = await rows(engine, ProbeFailure)
                assert min(f.at for f in failures) <= failing_from + dt.timedelta(seconds=0.8)
                target.set_status(200)
                await eventually(lambda: rows(engine, Incident, Incident.end.is_not(None)))
            finally:
                await daemon.stop()
                await engine.dispose()


async def test_pages_and_the_api_say_503_while_the_database_is_away(
    private_pg: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    """A public page or an API read that needs the database while PostgreSQL is away is
    answered 503 with Retry-After, and only the database's own line says why. Before, it
    was a 500 "unexpected error" with a traceback, counted in
    ``sla_monitor_http_unexpected_errors_total``: the customers' status page looked broken
    and the operators were told of a bug, for a database restarting (SPEC section 8)."""
    async with TargetServer() as target, SMTPSink() as sink:
        registry = CollectorRegistry()
        config = scenario(target, sink, private_pg.url, f"storage: {{url: '{private_pg.url}'}}")
        daemon = Daemon(parse_config(config), registry=registry)
        await daemon.start()
        try:
            base = f"http://127.0.0.1:{daemon.http_port}"
            async with aiohttp.ClientSession() as client:
                async with client.get(base + "/") as response:
                    assert response.status == 200
                await asyncio.to_thread(private_pg.stop, "fast")
                caplog.set_level(logging.INFO, logger="monitor")
                # Neither was asked before: each has to read the database now.
                for path in ("/feed.atom", "/incidents/1", "/api/v2/summary.json"):
                    async with client.get(base + path) as response:
                        assert response.status == 503, (path, await response.text())
                        assert response.headers["Retry-After"] == "30"
            assert "request failed" not in caplog.text
            assert registry.get_sample_value("sla_monitor_http_unexpected_errors_total") == 0
            assert "database unavailable" in caplog.text
        finally:
            await daemon.stop()


async def test_a_command_whose_database_goes_away_midway_ends_with_one_clear_line(
    private_pg: PrivatePostgres,
) -> None:
    """A command (``statement send``, ``report close``...) whose PostgreSQL stops while it
    runs ends with the store's one clear error (exit 1: the database could not be used, and
    why), as when the database is away from the start. Before, the driver's error went
    through: a page of traceback and "sla-monitor: unexpected error (a bug; ...)"."""
    config = f"""
provider: {{name: Rabit Hosting}}
services:
  - {{id: panel, kind: web_panel, probe: {{type: tcp, host: 127.0.0.1, port: 9}}}}
storage: {{url: '{private_pg.url}'}}
"""
    settings = Settings.from_config(parse_config(config))
    engine = create_engine(private_pg.url)
    await migrate.upgrade(engine)
    await engine.dispose()
    with pytest.raises(StoreError) as refused:
        async with database(settings) as db:
            assert await actions.list_incidents(db, settings) == []
            await asyncio.to_thread(private_pg.stop, "fast")
            await actions.list_incidents(db, settings)
    assert type(refused.value) is StoreError and refused.value.exit_code == 1
    assert str(refused.value).startswith("storage: cannot use the database postgresql")
    assert "run it again" in str(refused.value)
