"""Start-up as parts started in order (:mod:`monitor.daemon.runtime`): the HTTP port is bound
early, so a port already taken fails the start before anything runs (no probe, no daemon
session, no probe worker process), and a cluster node joins last, so one that cannot start
never registers nor takes a lease; nothing is left running (no task)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from monitor.app import Daemon
from monitor.config import parse_config
from monitor.errors import ListenError
from monitor.store import create_engine
from monitor.store.models import ClusterLease, ClusterNode, DaemonSession
from monitor.testing.targets import TargetServer
from tests.support import FAST, MONITOR, rows, sla_monitor_command


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
        try:
            with open(f"/proc/self/task/{task}/children") as listing:
                found.update(int(pid) for pid in listing.read().split())
        except FileNotFoundError:  # a thread that ended since the listing: no children
            continue
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
async def test_a_port_already_taken_fails_the_start_before_anything_runs(sqlite_url: str) -> None:
    """The port is bound early in the start: taken, nothing has run (no heartbeat session
    opened, no probe sent), and nothing is left running."""
    with taken_port() as port:
        async with TargetServer() as target:
            before = asyncio.all_tasks()
            daemon = Daemon(parse_config(config(target.url("/"), sqlite_url, port)),
                            flush_interval=0.1)
            with pytest.raises(ListenError) as refused:
                await daemon.start()
            # The setting and its value named, the system's reason said (it was a bare
            # OSError: a traceback and "unexpected error (a bug)" from `sla-monitor run`).
            assert str(refused.value) == (
                f"http.listen: 127.0.0.1:{port} cannot be listened on: address already in use")
            runtime = daemon.runtime
            assert not runtime.jobs.running
            assert asyncio.all_tasks() - before == set()
            await asyncio.sleep(1.0)  # 2 intervals: a probe still scheduled would run
            assert target.requests["/"] == 0
            assert asyncio.all_tasks() - before == set()
    engine = create_engine(sqlite_url)
    try:
        assert await rows(engine, DaemonSession) == []  # no session: nothing ran (R-M3)
    finally:
        await engine.dispose()


@pytest.mark.slow
async def test_a_port_already_taken_starts_no_probe_worker(sqlite_url: str) -> None:
    with taken_port() as port:
        async with TargetServer() as target:
            before, tasks = children(), asyncio.all_tasks()
            daemon = Daemon(parse_config(config(target.url("/"), sqlite_url, port).replace(
                "monitor: {", "monitor: {probe_workers: 1, ")), flush_interval=0.1)
            with pytest.raises(ListenError):
                await daemon.start()
            assert daemon.runtime.ownership.workers is None  # never started
            assert children() - before == set()
            assert asyncio.all_tasks() - tasks == set()


@pytest.mark.slow
async def test_a_node_whose_port_is_taken_never_joins_its_cluster(pg_url: str) -> None:
    """A node joins the cluster only once it has bound its port: one that cannot start
    registers nothing and takes no lease (a crash loop leaves the others' targets alone)."""
    cluster = 'cluster: {node: node-a, lease_timeout: 30s}'
    with taken_port() as port:
        async with TargetServer() as target:
            tasks = asyncio.all_tasks()
            daemon = Daemon(parse_config(config(target.url("/"), pg_url, port, cluster)),
                            flush_interval=0.1)
            with pytest.raises(ListenError):
                await daemon.start()
            assert not daemon.runtime.jobs.running
            assert asyncio.all_tasks() - tasks == set()
    engine = create_engine(pg_url)
    try:
        assert await rows(engine, ClusterNode) == []
        assert all(lease.node is None and lease.epoch == 0
                   for lease in await rows(engine, ClusterLease))
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_run_on_a_port_already_taken_says_so_in_one_line(sqlite_url: str, tmp_path: Path
                                                          ) -> None:
    # As an operator runs it: the installed command, its own process.
    with taken_port() as port:
        path = tmp_path / "config.yaml"
        path.write_text(config("http://127.0.0.1:9/", sqlite_url, port))
        done = subprocess.run([*sla_monitor_command(), "-c", str(path), "run"],
                              capture_output=True, text=True, timeout=60)
    err = done.stderr
    # Exit 1, not 2: systemd starts it again (a port held by a process on its way out is
    # free a moment later); a configuration mistake (exit 2) is not retried.
    assert done.returncode == 1, err
    assert err.strip().splitlines()[-1] == (
        f"sla-monitor: error: http.listen: 127.0.0.1:{port} cannot be listened on: address "
        "already in use"), err
    assert "Traceback" not in err
