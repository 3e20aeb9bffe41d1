"""Who probes which target: one strategy, chosen once at start.

* :class:`Alone`: this process probes every target.
* :class:`InWorkers`: probe worker processes (``monitor.probe_workers``,
  :mod:`monitor.daemon.workers`) probe their shards; this process its own and the canaries.
* :class:`InCluster`: the nodes of a vantage divide the targets by leases
  (:mod:`monitor.daemon.cluster`); the leader runs the leader-only jobs.

*Decision:* no probe workers in a cluster: a node probes only the targets it leases, which
change while it runs, and more nodes are the cluster's way to add cores.

Every strategy answers the same questions, so the rest of the runtime asks no
``if cluster`` / ``if workers``: how many processes share the probing, which targets get a
probe object here, which the probe tick runs, who leads, what it adds to the job table and
to ``/readyz``, and how it starts, takes a reload (``prepare`` then ``apply``) and stops.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from monitor.config import Config, Settings
from monitor.config.topology import Target
from monitor.daemon.cluster import Cluster
from monitor.daemon.jobs import Job, always
from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.workers import ProbeWorkers, cpus, probes_here, worker_count

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from monitor.daemon.watch import Watch
    from monitor.store import Database

__all__ = ["Alone", "InCluster", "InWorkers", "Ownership", "OwnershipPlan", "choose"]

Intervals = list[tuple[str, float]]
#: A step of stopping that logs its failure (monitor.daemon.routine.step).
Stop = Callable[[str, Callable[[], Awaitable[None]]], Awaitable[None]]


@dataclass(frozen=True)
class OwnershipPlan:
    """The probe tick's targets here and each worker's shard, for a new configuration."""

    intervals: Intervals
    shards: list[list[dict[str, Any]]] = field(default_factory=list)


class Alone:
    """One process probes every target and always leads."""

    name = "alone"
    processes = 0
    cluster: Cluster | None = None
    workers: ProbeWorkers | None = None

    def probes_here(self) -> Callable[[Target], bool] | None:
        return None

    async def leader(self) -> bool:
        return await always()

    def jobs(self, settings: Settings) -> list[Job]:
        return []

    async def start(self, watch: Watch, settings: Settings) -> Intervals:
        """Start probing elsewhere if need be; the targets the probe tick runs here."""
        return self.intervals(settings.topology.targets())

    def intervals(self, targets: Sequence[Target]) -> Intervals:
        return [(t.id, t.probe.interval) for t in targets]

    async def prepare(self, settings: Settings) -> OwnershipPlan:
        return OwnershipPlan(self.intervals(settings.topology.targets()))

    def apply(self, plan: OwnershipPlan) -> None:
        pass

    def checks(self) -> dict[str, bool]:
        return {}

    def describe(self) -> dict[str, Any] | None:
        return None

    async def stop_probing(self, grace: float) -> None:
        pass

    async def close(self) -> None:
        pass


class InWorkers(Alone):
    """Probe worker processes probe their shards; results come back to ``watch.handle``."""

    name = "workers"

    def __init__(self, processes: int, metrics: DaemonMetrics, hello: dict[str, Any],
                 event_loop: str, log_level: str, stopping: Callable[[], bool]) -> None:
        self.processes = processes
        self.metrics = metrics
        self.hello = hello
        self.event_loop = event_loop
        self.log_level = log_level
        self.stopping = stopping

    def probes_here(self) -> Callable[[Target], bool] | None:
        return probes_here(self.processes)

    async def start(self, watch: Watch, settings: Settings) -> Intervals:
        self.workers = ProbeWorkers(
            self.processes, watch.handle, self.metrics, self.hello,
            event_loop=self.event_loop, log_level=self.log_level, daemon_stopping=self.stopping,
        )
        own, shards = self.workers.split(list(settings.topology.targets()))
        await self.workers.start(shards)
        self.metrics.probe_workers.set(self.processes)
        return self.intervals(own)

    async def prepare(self, settings: Settings) -> OwnershipPlan:
        """Each worker builds its new shard before anything is swapped (never half-applied);
        raises MonitorError when one cannot."""
        assert self.workers is not None
        own, shards = self.workers.split(list(settings.topology.targets()))
        await self.workers.prepare(shards, settings.monitor.resolver.model_dump(mode="json"))
        return OwnershipPlan(self.intervals(own), shards)

    def apply(self, plan: OwnershipPlan) -> None:
        assert self.workers is not None
        self.workers.commit(plan.shards)

    async def stop_probing(self, grace: float) -> None:
        if self.workers is not None:
            await self.workers.stop(grace)


class InCluster(Alone):
    """The targets leased to this node are probed here; the leader runs the leader-only
    jobs, checked in the database at its epoch (exactly once)."""

    name = "cluster"

    def __init__(self, cluster: Cluster, step: Stop
                 ) -> None:
        self.cluster = self.leases = cluster
        self.step = step
        self.watch: Watch | None = None

    async def leader(self) -> bool:
        return await self.leases.still_leading()

    def jobs(self, settings: Settings) -> list[Job]:
        # Renewed every quarter of the timeout: at most half of it apart even when one cycle
        # is late (monitor.daemon.cluster).
        return [Job("cluster-leases", self.leases.lease_timeout / 4, False, self.cycle)]

    async def cycle(self) -> None:
        assert self.watch is not None
        self.watch.leases_changed(await self.leases.cycle())

    async def start(self, watch: Watch, settings: Settings) -> Intervals:
        self.watch = watch
        watch.blindness.scope = {"node": self.leases.node, "vantage": self.leases.vantage}
        watch.leases_changed(await self.leases.start())
        return self.intervals(settings.topology.targets())

    def checks(self) -> dict[str, bool]:
        return {"cluster": self.leases.sure()}  # our leases are certainly ours

    def describe(self) -> dict[str, Any] | None:
        return self.leases.describe()

    async def close(self) -> None:
        await self.step("the cluster leases handed back", self.leases.stop)


Ownership = Alone  # the protocol: every strategy is an Alone with its answers changed


def choose(config: Config, settings: Settings, db: Database, registry: CollectorRegistry,
           metrics: DaemonMetrics, hello: Callable[[int], dict[str, Any]],
           stopping: Callable[[], bool],
           step: Stop) -> Alone:
    """The strategy of this configuration (decided once, at start)."""
    if config.cluster is not None:
        return InCluster(Cluster(config.cluster, db, registry), step)
    processes = worker_count(
        settings.monitor.probe_workers, len(settings.topology.targets()), cpus()
    )
    if processes == 0:
        return Alone()
    return InWorkers(processes, metrics, hello(processes), settings.monitor.event_loop,
                     logging.getLevelName(logging.getLogger().level), stopping)
