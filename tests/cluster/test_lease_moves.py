"""What a node writes and shows for targets it does not hold (README "Fencing", "Metrics",
"Unknown time per target (R-M3)").

Two nodes run in-process against the real PostgreSQL, probing real local targets. node-a
starts alone and holds every target; node-b joins and takes its share (node-a keeps the
first by id, ``monitor.daemon.cluster``), so node-a has probed targets it then hands over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.app import Daemon
from monitor.config import load_config
from monitor.store import create_engine
from monitor.store.models import Incident, UnknownInterval
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.support import eventually, rows

from .helpers import lease_holders, names, node_config

pytestmark = pytest.mark.slow

NODES = ("node-a", "node-b")
INTERVAL = 0.5  # seconds, every target's


class Cluster:
    """The two nodes, the target server and a look into the database."""

    def __init__(self, target: TargetServer, engine: AsyncEngine,
                 start: Callable[[str], Daemon]) -> None:
        self.target = target
        self.engine = engine
        self.start = start
        self.nodes: dict[str, Daemon] = {}

    async def join(self, node: str) -> Daemon:
        daemon = self.nodes[node] = self.start(node)
        await daemon.start()
        return daemon

    async def held(self, expected: dict[str, str], within: float = 30) -> None:
        """Wait until the leases are as ``expected`` (target id -> node)."""

        async def holders() -> bool:
            held = await lease_holders(self.engine)
            return {t: node for t, (node, _) in held.items()} == expected

        await eventually(holders, within=within)

    async def probed(self, name: str, times: int, within: float = 15) -> None:
        """Wait until ``/t/NAME`` has been asked ``times`` more times than now."""
        goal = self.target.requests[f"/t/{name}"] + times

        async def enough() -> bool:
            return self.target.requests[f"/t/{name}"] >= goal

        await eventually(enough, within=within, every=0.05)

    def probe_state(self, node: str, kind: str, target_id: str) -> float | None:
        return self.nodes[node].registry.get_sample_value(
            "sla_monitor_probe_state", {"kind": kind, "target": target_id})

    def open_gauge(self, node: str, kind: str) -> float | None:
        return self.nodes[node].registry.get_sample_value(
            "sla_monitor_open_incidents", {"kind": kind})


@asynccontextmanager
async def two_nodes(tmp_path: Path, pg_url: str, **config: object) -> AsyncIterator[Cluster]:
    async with AsyncExitStack() as stack:
        target = await stack.enter_async_context(TargetServer())
        sink = await stack.enter_async_context(SMTPSink())
        engine = create_engine(pg_url)
        stack.push_async_callback(engine.dispose)

        def start(node: str) -> Daemon:
            path = node_config(tmp_path, pg_url, target, sink, node=node,
                               interval=f"{INTERVAL}s", **config)  # type: ignore[arg-type]
            return Daemon(load_config(path))

        cluster = Cluster(target, engine, start)
        try:
            yield cluster
        finally:
            for daemon in reversed(list(cluster.nodes.values())):
                await daemon.stop()


async def test_a_node_never_writes_unknown_time_nor_shows_a_server_it_does_not_hold(
    tmp_path: Path, pg_url: str
) -> None:
    """Audit-a defects 1 and 3. node-a holds the project ``p1``, node-b its server ``s1``
    (handed over by node-a). When ``p1`` fails, node-a asks whether ``s1`` is down (R-M4);
    that check is not a probe of ``s1`` by its holder: it must not write ``s1``'s R-M3
    unknown time (the stretch since node-a last held it, wrong numbers for every customer
    on the server) nor export ``s1``'s ``probe_state`` beside node-b's."""
    async with two_nodes(tmp_path, pg_url, targets=(), servers={"s1": ["p1"]}) as cluster:
        await cluster.join("node-a")
        await cluster.held({"p1": "node-a", "s1": "node-a"})
        await cluster.probed("s1", 2)  # node-a probed the server while it held it
        await cluster.join("node-b")
        await cluster.held({"p1": "node-a", "s1": "node-b"})
        # node-b probes s1 for a while: node-a's last probe of it is now longer ago than
        # one interval plus unknown_after (R-M3's threshold, 1 s).
        await cluster.probed("s1", 5)
        assert cluster.probe_state("node-a", "server", "s1") is None  # dropped at the handover
        assert cluster.probe_state("node-b", "server", "s1") == 1.0

        cluster.target.statuses["p1"] = 503
        # The incident opens after node-a checked the server (R-M4: up, so p1's own) and
        # flushed its history, the unknown rows with it (Watch._apply).
        opened = await eventually(
            lambda: rows(cluster.engine, Incident, Incident.service_id == "p1"), within=20)
        assert opened[0].end is None

        written = await rows(cluster.engine, UnknownInterval,
                             UnknownInterval.target_id == "s1")
        assert [(row.reason, row.node) for row in written
                if row.node == "node-a" or row.reason == "not_probed"] == []
        # Only the holder shows the server (README "Metrics": never one target twice).
        assert cluster.probe_state("node-a", "server", "s1") is None
        assert cluster.probe_state("node-b", "server", "s1") == 1.0
        assert cluster.probe_state("node-a", "project", "p1") == 0.0


async def test_each_node_counts_the_open_incidents_of_the_targets_it_holds(
    tmp_path: Path, pg_url: str
) -> None:
    """Audit-a defect 2. ``sla_monitor_open_incidents`` of a node counts the open incidents
    of the targets it holds, so that their sum over the nodes is the cluster's
    (grafana/alerts.yml ServiceDown): not an incident of a target handed to another node,
    nor one another node closed, nor one loaded at start for a target it never held."""
    t0, t1 = names(2)
    async with two_nodes(tmp_path, pg_url, targets=[t0, t1]) as cluster:
        await cluster.join("node-a")
        await cluster.held({t0: "node-a", t1: "node-a"})
        cluster.target.statuses[t0] = cluster.target.statuses[t1] = 503

        async def both_open() -> list[Incident]:
            found = await rows(cluster.engine, Incident, Incident.end.is_(None))
            return found if len(found) == 2 else []

        await eventually(both_open, within=20)
        assert cluster.open_gauge("node-a", "web_panel") == 2.0

        # node-b starts with both incidents open (loaded from the database, R-M3) and takes
        # t1: each node now counts the one of the target it holds.
        await cluster.join("node-b")
        await cluster.held({t0: "node-a", t1: "node-b"})

        async def counted(a: float, b: float) -> bool:
            return (cluster.open_gauge("node-a", "web_panel"),
                    cluster.open_gauge("node-b", "web_panel")) == (a, b)

        await eventually(lambda: counted(1.0, 1.0), within=10)

        # node-b closes t1's incident: node-a, which opened it, does not count it any more.
        cluster.target.statuses[t1] = 200
        await eventually(lambda: rows(cluster.engine, Incident, Incident.service_id == t1,
                                      Incident.end.is_not(None)), within=20)
        await eventually(lambda: counted(1.0, 0.0), within=10)
