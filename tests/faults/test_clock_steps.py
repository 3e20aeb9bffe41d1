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

from monitor.app import Daemon
from monitor.clock import SteadyClock
from monitor.config import parse_config
from monitor.store import create_engine
from monitor.store.models import DaemonSession, Incident, ProbeRun
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
