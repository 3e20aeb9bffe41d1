"""A wall-clock step forward and back under the running daemon: no negative
duration, no false incident, probing goes on, and the step is logged and exported.

What is stepped here is the wall clock the daemon's :class:`~monitor.clock.SteadyClock`
reads (injected), not the machine's: stepping the real clock would disturb every other
process, and libfaketime breaks Python's ``time.sleep`` on this platform. So this proves
the daemon's own handling; that APScheduler (which reads the real wall clock) is re-timed
on a step is checked through the hook the daemon calls (``_clock_stepped``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

import pytest
from prometheus_client import CollectorRegistry

from monitor import actions
from monitor.app import Daemon
from monitor.clock import SteadyClock
from monitor.config import Settings, parse_config
from monitor.store import Database, create_engine
from monitor.store.models import DaemonSession, Incident, ProbeFailure, ProbeRun
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.support import eventually, rows

from .helpers import scenario

pytestmark = pytest.mark.slow


def sample(registry: CollectorRegistry, name: str) -> float:
    return registry.get_sample_value(name) or 0.0


async def test_a_wall_clock_step_forward_and_back_changes_nothing_but_a_warning(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    step = [0.0]
    clock = SteadyClock(wall=lambda: time.time() + step[0])
    async with TargetServer() as target, SMTPSink() as sink:
        registry = CollectorRegistry()
        config = scenario(target, sink, sqlite_url, f"storage: {{url: '{sqlite_url}'}}")
        daemon = Daemon(parse_config(config), clock=clock, registry=registry)
        rescheduled: list[float] = []
        stepped = daemon._clock_stepped

        def spy(seconds: float) -> None:
            rescheduled.append(seconds)
            stepped(seconds)

        daemon._clock_stepped = spy  # type: ignore[method-assign]
        await daemon.start()
        assert daemon.clock_steps is not None
        daemon.clock_steps.on_step = spy
        engine = create_engine(sqlite_url)
        caplog.set_level(logging.WARNING, logger="monitor")
        try:
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.state == "up"))
            for seconds in (3600.0, -3600.0):  # an hour forward, then an hour back from real
                step[0] = seconds
                before = target.requests["/"]
                await asyncio.sleep(2.5)
                assert target.requests["/"] >= before + 4  # probing every 0.4 s goes on
            assert sample(registry, "sla_monitor_clock_steps_total") == 2
            assert sample(registry, "sla_monitor_clock_offset_seconds") == pytest.approx(
                -3600, abs=1)
            assert [round(s) for s in rescheduled] == [3600, -7200]
            assert caplog.text.count("the wall clock stepped") == 2
            assert await rows(engine, Incident) == []  # no false incident

            # A real outage after the steps: measured on the steady clock.
            target.set_status(503)
            await eventually(lambda: rows(engine, Incident))
            target.set_status(200)
            closed = await eventually(lambda: rows(engine, Incident, Incident.end.is_not(None)))
            incident = closed[0]
            assert incident.start <= incident.detected_at
            assert incident.end is not None and incident.start < incident.end
            assert (incident.end - incident.start).total_seconds() < 60
            now = dt.datetime.now(dt.UTC)
            assert abs((incident.end - now).total_seconds()) < 30  # not an hour off
            await daemon.flush()
            for run in await rows(engine, ProbeRun):
                assert run.first_at <= run.last_at
            session = (await rows(engine, DaemonSession))[0]
            assert session.started_at <= session.last_beat_at
        finally:
            await daemon.stop()
            await engine.dispose()


async def test_a_restart_on_a_wall_clock_set_back_never_ends_an_incident_before_it_began(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The wall clock was an hour ahead when the incident opened; NTP set it right while the
    daemon was down. The restart takes the corrected time (the steady clock's decision), and
    the first good probe then reads an hour *before* the incident's start. Before, the
    incident was closed there: its end before its start ("available again after 0 s" to the
    customer, "Down from 16:16, Restored at 15:16"), and every report of the month failed
    with a traceback (the engine refuses such an interval). R-M1: the end is the first good
    probe after the last failure; on the records' own timeline that is no earlier than one
    probe interval after the last failure the run before saw."""
    async with TargetServer() as target, SMTPSink() as sink:
        config = parse_config(scenario(target, sink, sqlite_url,
                                       f"storage: {{url: '{sqlite_url}'}}"))
        engine = create_engine(sqlite_url)
        ahead = Daemon(config, clock=SteadyClock(wall=lambda: time.time() + 3600),
                       registry=CollectorRegistry())
        await ahead.start()
        try:
            target.set_status(503)
            await eventually(lambda: rows(engine, Incident))
        finally:
            await ahead.stop()
        opened = (await rows(engine, Incident))[0]
        assert opened.end is None  # still open after the stop (R-M3)

        target.set_status(200)
        caplog.set_level(logging.ERROR, logger="monitor")
        corrected = Daemon(config, clock=SteadyClock(), registry=CollectorRegistry())
        await corrected.start()
        try:
            closed = await eventually(lambda: rows(engine, Incident, Incident.end.is_not(None)))
        finally:
            await corrected.stop()
        incident = closed[0]
        assert incident.start == opened.start
        # The last failure the run before saw (stored before its stop), and one probe
        # interval (0.4 s) after it; both on that run's timeline, an hour ahead of now.
        failures = await rows(engine, ProbeFailure, ProbeFailure.state == "down")
        assert incident.end_bound == max(f.at for f in failures)
        assert incident.start < incident.end_bound
        assert incident.end == incident.end_bound + dt.timedelta(seconds=0.4)
        assert incident.end - dt.datetime.now(dt.UTC) > dt.timedelta(minutes=59)
        assert "the wall clock is behind this incident's records" in caplog.text

        # The month's report reads it (before: ValueError, "end ... must be after start").
        report = await actions.month_report(
            Database(engine), Settings.from_config(config), month=f"{incident.start:%Y-%m}",
            now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
        (line,) = [i for c in report.customers for i in c.incidents]
        assert line.counted_seconds >= 0
        await engine.dispose()
