"""Start-up as parts started in order (:mod:`monitor.daemon.runtime`): when a later step
fails (the HTTP port already taken), every part started before it is stopped again, in
reverse, and nothing is left running: no task, no probe, no open daemon session."""

from __future__ import annotations

import asyncio
import socket

import pytest

from monitor.app import Daemon
from monitor.config import parse_config
from monitor.store import create_engine
from monitor.store.models import DaemonSession, ProbeRun
from monitor.testing.targets import TargetServer
from tests.support import FAST, MONITOR, rows


def config(url: str, db_url: str, port: int) -> str:
    return f"""
{MONITOR}
services:
  - id: panel
    kind: web_panel
    probe: {{type: http, url: "{url}", {FAST}}}
http: {{listen: "127.0.0.1:{port}"}}
storage: {{url: "{db_url}"}}
"""


@pytest.mark.slow
async def test_a_port_already_taken_stops_everything_started_before_it(sqlite_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with TargetServer() as target:
            before = asyncio.all_tasks()
            daemon = Daemon(parse_config(config(target.url("/"), sqlite_url, port)),
                            flush_interval=0.1)
            with pytest.raises(OSError):
                await daemon.start()
            # The parts had started: the probe schedule ran, the heartbeat opened a session.
            runtime = daemon.runtime
            assert not runtime.jobs.running
            assert asyncio.all_tasks() - before == set()
            probed = target.requests["/"]
            await asyncio.sleep(1.0)  # 2 intervals: a probe still scheduled would run
            assert target.requests["/"] == probed
            assert asyncio.all_tasks() - before == set()
    engine = create_engine(sqlite_url)
    try:
        [session] = await rows(engine, DaemonSession)
        assert session.stopped_at is not None  # a clean stop, not a crash (R-M3)
        assert await rows(engine, ProbeRun) or probed == 0  # the last flush ran
    finally:
        await engine.dispose()
