"""Start-up as parts started in order (:mod:`monitor.daemon.runtime`): when a later step
fails (the HTTP port already taken), every part started before it is stopped again, in
reverse, and nothing is left running: no task, no probe, no open daemon session, no probe
worker process, no cluster lease held."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from monitor.app import Daemon
from monitor.config import parse_config
from monitor.store import create_engine
from monitor.store.models import ClusterLease, ClusterNode, DaemonSession, ProbeRun
from monitor.testing.targets import TargetServer
from tests.support import FAST, MONITOR, rows


def config(url: str, db_url: str, port: int, extra: str = "") -> str:
    return f"""
{MONITOR}
{extra}
services:
  - id: panel
    kind: web_panel
    probe: {{type: http, url: "{url}", {FAST}}}
http: {{listen: "127.0.0.1:{port}"}}
storage: {{url: "{db_url}"}}
"""


@contextmanager
def taken_port() -> Iterator[int]:
    """A port something else listens on while the test runs."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def children() -> set[int]:
    """This process's live child processes (zombies, already exited, left out)."""
    found: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as listing:
            found.update(int(pid) for pid in listing.read().split())
    alive = set()
    for pid in found:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rpartition(")")[2].split()[0] != "Z":
                    alive.add(pid)
        except FileNotFoundError:
            pass
    return alive


@pytest.mark.slow
async def test_a_port_already_taken_stops_everything_started_before_it(sqlite_url: str) -> None:
    with taken_port() as port:
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


@pytest.mark.slow
async def test_a_port_already_taken_stops_the_probe_workers_started_before_it(
    sqlite_url: str,
) -> None:
    with taken_port() as port:
        async with TargetServer() as target:
            before, tasks = children(), asyncio.all_tasks()
            daemon = Daemon(parse_config(config(target.url("/"), sqlite_url, port).replace(
                "monitor: {", "monitor: {probe_workers: 1, ")), flush_interval=0.1)
            with pytest.raises(OSError):
                await daemon.start()
            workers = daemon.runtime.ownership.workers
            assert workers is not None
            [slot] = workers.slots
            assert slot.process is not None  # the worker had started
            assert slot.process.returncode is not None  # and is gone, waited for
            assert children() - before == set()
            assert asyncio.all_tasks() - tasks == set()


@pytest.mark.slow
async def test_a_port_already_taken_hands_back_the_cluster_leases_taken_before_it(
    pg_url: str,
) -> None:
    cluster = 'cluster: {node: node-a, lease_timeout: 30s}'
    with taken_port() as port:
        async with TargetServer() as target:
            tasks = asyncio.all_tasks()
            daemon = Daemon(parse_config(config(target.url("/"), pg_url, port, cluster)),
                            flush_interval=0.1)
            with pytest.raises(OSError):
                await daemon.start()
            assert not daemon.runtime.jobs.running
            assert asyncio.all_tasks() - tasks == set()
    engine = create_engine(pg_url)
    try:
        leases = await rows(engine, ClusterLease)
        # Taken (an epoch each: the target's and the leader's), then handed back at once.
        assert {lease.name for lease in leases} >= {"probe/default/panel"}
        assert all(lease.epoch >= 1 and lease.node is None for lease in leases)
        [node] = await rows(engine, ClusterNode)
        assert node.name == "node-a" and node.stopped_at is not None
    finally:
        await engine.dispose()
