"""Nodes of a cluster compare the configurations they run (README "Several daemons":
reload every node with the same file). A node with other targets, customers or policy
divides the leases and decides incidents on other grounds, silently, so each node writes
the digest of its configuration's shared part at every lease cycle, says once when a
live node's differs (and once when they agree again) and counts them in
``sla_monitor_cluster_config_differs`` (grafana/alerts.yml ClusterConfigurationDiffers).

Two nodes run in-process against the real PostgreSQL; the second is reloaded with
another probe interval, then with the first's configuration again.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from monitor.app import Daemon
from monitor.config import load_config, shared_digest
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.support import eventually

from .helpers import node_config

pytestmark = pytest.mark.slow

TARGETS = ("t000", "t001")


def _differs(daemon: Daemon, node: str) -> float | None:
    return daemon.registry.get_sample_value("sla_monitor_cluster_config_differs",
                                            {"node": node})


async def _both_count(a: Daemon, b: Daemon, count: int) -> None:
    """Until each node counts ``count`` live nodes running another configuration (and
    sees both nodes)."""

    async def counted() -> bool:
        return (_differs(a, "node-a") == count and _differs(b, "node-b") == count
                and len(a.runtime.ownership.describe()["nodes"]) == 2)

    await eventually(counted, within=20)


async def test_a_node_running_another_configuration_is_said_and_counted(
    tmp_path: Path, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="monitor.daemon.cluster")
    async with TargetServer() as target, SMTPSink() as sink:
        def config(node: str, interval: str) -> Path:
            return node_config(tmp_path, pg_url, target, sink, node=node, targets=TARGETS,
                               interval=interval)

        a_file, b_file = config("node-a", "1s"), config("node-b", "1s")
        a, b = Daemon(load_config(a_file), a_file), Daemon(load_config(b_file), b_file)
        try:
            await a.start()
            await b.start()
            await _both_count(a, b, 0)
            described = b.runtime.ownership.describe()
            digest = shared_digest(load_config(tmp_path / "node-a.yaml"))
            assert described["config_digest"] == digest
            assert {n["node"]: n["config_digest"] for n in described["nodes"]} == {
                "node-a": digest, "node-b": digest}
            assert not [r for r in caplog.records if "another configuration" in r.getMessage()]

            config("node-b", "2s")  # node-b's file changes: its services probe less often
            assert await b.reload()
            await _both_count(a, b, 1)
            said = [r for r in caplog.records if "another configuration" in r.getMessage()]
            assert {r.node for r in said} == {"node-a", "node-b"}  # type: ignore[attr-defined]
            assert len(said) == 2  # once each, not at every cycle
            seen_by_a = next(r for r in said if r.node == "node-a")  # type: ignore[attr-defined]
            assert seen_by_a.differing == {  # type: ignore[attr-defined]
                "node-b": shared_digest(load_config(tmp_path / "node-b.yaml"))}

            config("node-b", "1s")  # the same file again
            assert await b.reload()
            await _both_count(a, b, 0)
            again = [r for r in caplog.records if "same configuration again" in r.getMessage()]
            assert {r.node for r in again} == {"node-a", "node-b"}  # type: ignore[attr-defined]
        finally:
            await b.stop()
            await a.stop()
