"""A lost node is shown as lost, and one that will not return can be retired (README
"Several daemons": "A node that will not return").

Every node exports each node's state (``sla_monitor_cluster_node_state{state}``: alive,
lost or stopped) so that Prometheus can tell a node killed, frozen or cut off (lost: the
``ClusterNodeLost`` alert) from one stopped on purpose. ``sla-monitor cluster nodes`` lists
them; ``sla-monitor cluster retire NODE`` marks a lost node stopped, refuses any other
(exit 2, one line, nothing changed), and a retired node that was only frozen is alive
again when it resumes.

node-a runs in this process (its metrics read from its registry), node-b as a real daemon
process that is frozen (SIGSTOP), retired, resumed (SIGCONT) and stopped (SIGTERM).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path
from typing import Any

import pytest

from monitor.app import Daemon
from monitor.cli import main
from monitor.config import load_config
from monitor.store import Database, create_engine
from monitor.store import cluster as store
from monitor.store.models import AuditEvent, ClusterLease, ClusterNode
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.support import DaemonProcess, eventually, row_counts, rows

from .helpers import node_config

pytestmark = pytest.mark.slow

TARGETS = ("t000", "t001", "t002", "t003")


def _state(daemon: Daemon, node: str) -> str | None:
    """node's state as ``daemon`` exports it (the one series at 1), None if none is."""
    shown = [state for state in store.NODE_STATES if daemon.registry.get_sample_value(
        "sla_monitor_cluster_node_state",
        {"node": node, "vantage": "default", "state": state}) == 1]
    assert len(shown) <= 1, shown  # one state at a time
    return shown[0] if shown else None


async def _shows(daemon: Daemon, node: str, state: str, within: float) -> None:
    async def shown() -> bool:
        return _state(daemon, node) == state

    await eventually(shown, within=within)


async def test_a_lost_node_is_shown_lost_retired_and_alive_again_when_it_resumes(
    tmp_path: Path, pg_url: str, daemon_process: Any,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="monitor.daemon.cluster")
    async def cli(*args: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(main, ["-c", str(a_file), "cluster", *args])
        out, err = capsys.readouterr()
        return code, out, err

    async def refused(node: str) -> str:
        before = await row_counts(engine, [AuditEvent, ClusterNode])
        nodes_before = await rows(engine, ClusterNode)
        code, out, err = await cli("retire", node)
        lines = err.strip().splitlines()
        assert (code, out, len(lines)) == (2, "", 1), (code, out, err)
        assert lines[0].startswith(f"sla-monitor: error: NODE: '{node}' is not valid"), err
        assert "Traceback" not in err
        assert await row_counts(engine, [AuditEvent, ClusterNode]) == before
        # Each node's row as it was; node-a (this process, alive) beats meanwhile: its own
        # last sighting moves on, which no refusal writes (a CI run caught it 0.5 s later).
        def kept(n: ClusterNode) -> tuple[object, ...]:
            return (n.name, n.stopped_at, None if n.name == "node-a" else n.last_seen_at)

        assert [kept(n) for n in await rows(engine, ClusterNode)] == [
            kept(n) for n in nodes_before]
        return lines[0]

    async with TargetServer() as target, SMTPSink() as sink:
        a_file, b_file = (node_config(tmp_path, pg_url, target, sink, node=node,
                                      targets=TARGETS) for node in ("node-a", "node-b"))
        a = Daemon(load_config(a_file), a_file)
        b: DaemonProcess = daemon_process(b_file)
        engine = create_engine(pg_url)
        try:
            await a.start()
            b.start()
            await _shows(a, "node-b", "alive", 30)
            assert _state(a, "node-a") == "alive"

            # Frozen: lost to the others once its lease timeout has passed, not stopped.
            b.signal(signal.SIGSTOP)
            await _shows(a, "node-b", "lost", 15)
            assert a.registry.get_sample_value(
                "sla_monitor_cluster_node_up", {"node": "node-b", "vantage": "default"}) == 0
            code, out, err = await cli("nodes", "--format", "json")
            assert code == 0, err
            listed = {n["name"]: n for n in json.loads(out)}
            assert {name: n["state"] for name, n in listed.items()} == {
                "node-a": "alive", "node-b": "lost"}
            assert listed["node-b"]["stopped_at"] is None
            seen = {n["node"]: n["state"] for n in a.runtime.ownership.describe()["nodes"]}
            assert seen == {"node-a": "alive", "node-b": "lost"}  # /readyz's cluster object
            code, out, err = await cli("nodes")
            header, _rule, *lines = out.splitlines()
            assert code == 0 and header.split()[:3] == ["node", "vantage", "state"], out
            assert [line.split()[:3] for line in lines] == [
                ["node-a", "default", "alive"], ["node-b", "default", "lost"]]

            # Only a lost node may be retired: an alive one, an unknown one are refused.
            line = await refused("node-a")
            assert "node-a is alive" in line and "SIGTERM" in line, line
            line = await refused("node-x")
            assert "node-a, node-b" in line, line

            code, out, err = await cli("retire", "node-b", "--format", "json")
            assert code == 0, err
            retired = json.loads(out)
            assert (retired["name"], retired["state"], retired["last_seen_at"]) == (
                "node-b", "stopped", listed["node-b"]["last_seen_at"])  # its sighting kept
            audit = [e for e in await rows(engine, AuditEvent) if e.action == "cluster.retire"]
            assert [(e.object_type, e.object_id) for e in audit] == [("cluster_node", "node-b")]
            await _shows(a, "node-b", "stopped", 10)
            line = await refused("node-b")
            assert "node-b is stopped already" in line, line

            # It was only frozen: resumed, it is alive again (and takes its share again).
            b.signal(signal.SIGCONT)
            await _shows(a, "node-b", "alive", 15)

            async def shared() -> bool:
                holders = {lease.node for lease in await rows(engine, ClusterLease)
                           if lease.name.startswith("probe/")}
                return holders == {"node-a", "node-b"}

            await eventually(shared, within=15)

            # A clean stop is stopped, never lost.
            b.signal(signal.SIGTERM)
            assert b.wait() == 0
            await _shows(a, "node-b", "stopped", 10)
            # Each change said once in node-a's log, with the state before it.
            said = [(r.levelname, r.getMessage(), getattr(r, "was", None)) for r in caplog.records
                    if getattr(r, "peer", None) == "node-b"]
            assert said == [("WARNING", "cluster node lost", "alive"),
                            ("INFO", "cluster node stopped", "lost"),
                            ("INFO", "cluster node alive", "stopped"),
                            ("INFO", "cluster node stopped", "alive")]
        finally:
            await a.stop()
            await engine.dispose()


@pytest.mark.parametrize("args", [("nodes",), ("retire", "node-b")], ids=" ".join)
def test_a_daemon_alone_has_no_nodes_to_list_or_retire(
    tmp_path: Path, args: tuple[str, ...], capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"storage: {{url: 'sqlite+aiosqlite:///{tmp_path / 'alone.db'}'}}\n")
    assert main(["-c", str(path), "db", "upgrade"]) == 0
    capsys.readouterr()
    code = main(["-c", str(path), "cluster", *args, "--format", "json"])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert (code, out, len(lines)) == (2, "", 1), (code, out, err)
    assert lines[0].startswith("sla-monitor: error: this configuration has no `cluster` "
                               "section: a daemon alone has no nodes"), err


async def test_a_cycle_ending_after_the_clean_stop_leaves_the_node_stopped(pg_url: str) -> None:
    # A run of the lease job may outlive the stop's grace (never cancelled): its heartbeat,
    # after the clean stop, must not make the stopped node alive again (it would then be
    # lost a lease timeout later, and alerted). A retired node seen again is alive.
    db = Database.open(pg_url)
    try:
        await db.upgrade()

        async def state(lease_for: float = 10.0) -> str:
            async with db.reading() as tx:
                [row] = await store.nodes(tx, lease_for)
            return row.state

        async with db.transaction() as tx:
            await store.register(tx, node="n", vantage="default", host="h", pid=1, version="v")
        async with db.transaction() as tx:
            await store.stop(tx, "n")
        async with db.transaction() as tx:  # the late cycle's heartbeat
            await store.see(tx, "n")
        assert await state() == "stopped"

        async with db.transaction() as tx:  # started again, then lost (0.05 s unseen)
            await store.register(tx, node="n", vantage="default", host="h", pid=2, version="v")
        await asyncio.sleep(0.2)
        assert await state(0.05) == "lost"
        async with db.transaction() as tx:
            assert await store.retire(tx, "n", 0.05)
        assert await state(0.05) == "stopped"
        async with db.transaction() as tx:  # it was only frozen: seen again, alive
            await store.see(tx, "n")
        assert await state() == "alive"
    finally:
        await db.dispose()
