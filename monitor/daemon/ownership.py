"""Who probes which target: one strategy, chosen once at start.

* :class:`Alone`: this process probes every target.
* :class:`InWorkers`: probe worker processes (``monitor.probe_workers``,
  :mod:`monitor.daemon.workers`) probe their shards; this process its own and the canaries.
* :class:`InCluster`: the nodes of a vantage divide the targets by leases
  (:mod:`monitor.daemon.cluster`); the leader runs the leader-only jobs.

*Decision:* no probe workers in a cluster: a node probes only the targets it leases, which
change while it runs, and more nodes are the cluster's way to add cores.

Every strategy answers the same questions, so the rest of the runtime (the
:class:`~monitor.daemon.watch.Watch`, its incident book, the heartbeat, the recorder) asks no
``if cluster`` / ``if workers``: how many processes share the probing, which targets get a
probe object here, which the probe tick runs, under which key their history is kept and
who may still write it, whether a flap reopens an incident, how an incident change is
written (alone: the incident itself; in a cluster: our vantage's vote), who leads, what it
adds to the job table and to ``/readyz``, and how it starts, takes a reload (``prepare``
then ``apply``) and stops.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from monitor.config import Config, Settings, shared_digest
from monitor.config.topology import Target
from monitor.daemon.cluster import Cluster, CycleResult, vote
from monitor.daemon.detector import Blinded, Closed, Event, Opened
from monitor.daemon.jobs import Job, always
from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.workers import (
    ProbeWorkers,
    Shard,
    cpus,
    probes_here,
    shard_for,
    worker_count,
)
from monitor.store import SessionLimits
from monitor.store import cluster as cluster_store

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from monitor.daemon.incident_book import IncidentBook
    from monitor.daemon.watch import Watch
    from monitor.store import Database, Tx
    from monitor.store.db import Guard

__all__ = ["Alone", "InCluster", "InWorkers", "Ownership", "OwnershipPlan", "choose",
           "session_limits"]

Intervals = list[tuple[str, float]]
#: A step of stopping that logs its failure (monitor.daemon.routine.step).
Stop = Callable[[str, Callable[[], Awaitable[None]]], Awaitable[None]]
#: Of the history keys a flush would write, those this process may still write, asked
#: inside the flush's transaction (monitor.daemon.recorder.Recorder).
Fence = Callable[["Tx", set[str]], Awaitable[set[str]]]


@dataclass(frozen=True)
class OwnershipPlan:
    """The probe tick's targets here and each worker's shard, for a new configuration."""

    intervals: Intervals
    shards: list[Shard] = field(default_factory=list)
    targets: Sequence[Target] = ()
    config_digest: str | None = None  # its shared part's, in a cluster (shared_digest)


class Alone:
    """One process probes every target and always leads."""

    name = "alone"
    processes = 0
    cluster: Cluster | None = None
    workers: ProbeWorkers | None = None
    #: The node this process is (its heartbeat ends only its own open intervals), or None.
    node: str | None = None
    #: Whether a target failing again soon after it recovered reopens its incident (a flap).
    reopens_flaps = True

    def probes_here(self) -> Callable[[Target], bool] | None:
        """Which targets get a probe object in this process (None: all)."""
        return None

    def holds(self, target_id: str) -> bool:
        """Whether this process probes ``target_id`` now (canaries aside)."""
        return True

    def epoch(self, target_id: str) -> int | None:
        """The lease epoch this process probes ``target_id`` under (None: no leases here)."""
        return None

    def history_key(self, target_id: str) -> str:
        """Under which id a target's probe history is kept."""
        return target_id

    def history_fence(self) -> Fence | None:
        """Who may still write a target's history (None: this process, always)."""
        return None

    async def write_incident(self, book: IncidentBook, target_id: str, event: Event,
                             now: dt.datetime, epoch: int | None) -> int | None:
        """An incident change in the database, idempotent (a retry after a commit whose answer
        was lost writes nothing twice): the incident's id, or None (nothing to do). ``epoch``:
        the one it was decided under (:meth:`epoch`)."""
        return await book.write(target_id, event, now)

    async def leader(self) -> bool:
        return await always()

    def leader_guard(self) -> Guard | None:
        """Checked inside each write transaction of a leader-only job (None: nothing)."""
        return None

    def jobs(self, settings: Settings) -> list[Job]:
        return []

    async def start(self, watch: Watch, settings: Settings) -> Intervals:
        """Start probing elsewhere if need be; the targets the probe tick runs here."""
        return self.intervals(settings.topology.targets())

    def intervals(self, targets: Sequence[Target]) -> Intervals:
        return [(t.id, t.probe.interval) for t in targets]

    async def prepare(self, settings: Settings) -> OwnershipPlan:
        targets = settings.topology.targets()
        return OwnershipPlan(self.intervals(targets), targets=targets)

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
            handle_now=watch.handle_now,
            died=lambda shard, since: self._unwatched(watch, shard, since), clock=watch.clock,
        )
        own, shards = self.workers.split(list(settings.topology.targets()))
        await self.workers.start(shards)
        self.metrics.probe_workers.set(self.processes)
        return self.intervals(own)

    def _unwatched(self, watch: Watch, shard: int, since: dt.datetime) -> None:
        """R-M3 per target: the worker of ``shard`` died. Its targets with no result here yet
        count as probed when it began probing them (``since``): the stretch until their
        first result is measured as one after a result is (:meth:`Watch._probed`). Without
        it, a worker that died before any of its results came back left that time nobody's
        unknown time."""
        for target in watch.targets.values():
            if shard_for(target, self.processes) == shard:
                watch.last_probed.setdefault(target.id, since)

    async def prepare(self, settings: Settings) -> OwnershipPlan:
        """Each worker builds its new shard before anything is swapped (never half-applied);
        raises MonitorError when one cannot."""
        assert self.workers is not None
        targets = settings.topology.targets()
        own, shards = self.workers.split(list(targets))
        await self.workers.prepare(shards, settings.monitor.resolver.model_dump(mode="json"))
        return OwnershipPlan(self.intervals(own), shards, targets)

    def apply(self, plan: OwnershipPlan) -> None:
        assert self.workers is not None
        self.workers.commit(plan.shards)

    async def stop_probing(self, grace: float) -> None:
        if self.workers is not None:
            await self.workers.stop(grace)


class InCluster(Alone):
    """The targets leased to this node are probed here; the leader runs the leader-only
    jobs, checked in the database at its epoch (exactly once). An incident is a quorum's:
    the detector's events are our vantage's votes (:func:`monitor.daemon.cluster.vote`)."""

    name = "cluster"
    reopens_flaps = False  # an incident is the quorum's, not this detector's

    def __init__(self, cluster: Cluster, step: Stop) -> None:
        self.cluster = self.leases = cluster
        self.node = cluster.node
        self.step = step
        self.watch: Watch | None = None

    def holds(self, target_id: str) -> bool:
        return self.leases.holds(target_id) is not None

    def epoch(self, target_id: str) -> int | None:
        return self.leases.holds(target_id)

    def history_key(self, target_id: str) -> str:
        return self.leases.history_key(target_id)

    def history_fence(self) -> Fence | None:
        return self.leases.fence_history

    async def write_incident(self, book: IncidentBook, target_id: str, event: Event,
                             now: dt.datetime, epoch: int | None) -> int | None:
        """The event as our vantage's vote, fenced at the epoch it was decided under; the
        incident it opened or closed."""
        if isinstance(event, Opened):
            state, since, bound, detected = "down", event.start, event.start_bound, event.detected_at
        elif isinstance(event, Closed):
            state, since, bound, detected = "up", event.end, event.end_bound, now
        elif isinstance(event, Blinded):
            state, since, bound, detected = "unknown", event.at, None, event.at
        else:
            return None  # no flap reopening in a cluster
        async with book.db.transaction() as tx:
            incident_id, written = await vote(
                self.leases, tx, target_id, state, since, bound, detected, now, epoch=epoch
            )
        if written:
            book.views[target_id] = state
        if incident_id is not None and isinstance(event, Closed):
            book.open_incidents[target_id] = incident_id  # for the book's bookkeeping
        return incident_id

    async def leader(self) -> bool:
        return await self.leases.still_leading()

    def leader_guard(self) -> Guard | None:
        return self.leases.guard_leader

    def jobs(self, settings: Settings) -> list[Job]:
        # Renewed every quarter of the timeout: at most half of it apart even when one cycle
        # is late (monitor.daemon.cluster).
        return [Job("cluster-leases", self.leases.lease_timeout / 4, False, self.cycle)]

    async def cycle(self) -> None:
        assert self.watch is not None
        writes = self.watch.book.writes
        self._moved(self.watch, await self.leases.cycle(), writes)

    @staticmethod
    def _moved(watch: Watch, change: CycleResult, writes: int) -> None:
        """``writes``: the incident book's count of written changes before the cycle began."""
        gained = {t: change.views.get(t) for t in change.gained}
        watch.probing_moved(change.lost, gained, change.open_incidents, change.resumed)
        watch.book.follow_leases(change.lost, change.open_held, writes)

    def _divide(self, targets: Sequence[Target]) -> None:
        """The targets the nodes of our vantage divide; canaries every node probes (R-M2)."""
        self.leases.set_targets(
            {t.id: t.probe.interval for t in targets if t.kind != "canary"},
            everywhere=[t.id for t in targets if t.kind == "canary"],
        )

    async def start(self, watch: Watch, settings: Settings) -> Intervals:
        self.watch = watch
        watch.blindness.scope = {"node": self.leases.node, "vantage": self.leases.vantage}
        targets = settings.topology.targets()
        self._divide(targets)
        self.leases.config_digest = shared_digest(settings.config)
        self._moved(watch, await self.leases.start(), watch.book.writes)
        return self.intervals(targets)

    async def prepare(self, settings: Settings) -> OwnershipPlan:
        return replace(await super().prepare(settings),
                       config_digest=shared_digest(settings.config))

    def apply(self, plan: OwnershipPlan) -> None:
        self._divide(plan.targets)
        self.leases.config_digest = plan.config_digest  # said at the next lease cycle

    def checks(self) -> dict[str, bool]:
        # Our leases are certainly ours; no lease we should take is locked by a frozen node.
        return {"cluster": self.leases.sure(), "cluster_takeover": not self.leases.degraded}

    def describe(self) -> dict[str, Any] | None:
        return self.leases.describe()

    async def close(self) -> None:
        await self.step("the cluster leases handed back", self.leases.stop)


Ownership = Alone  # the protocol: every strategy is an Alone with its answers changed


def session_limits(config: Config) -> tuple[SessionLimits, str]:
    """The limits of every database session of the daemon and the name its sessions carry
    (``pg_stat_activity``): in a cluster from the lease timeout (a frozen node's locks never
    outlive its leases: :class:`~monitor.store.db.SessionLimits`), alone the defaults."""
    if config.cluster is not None:
        return (SessionLimits.for_lease(config.cluster.lease_timeout),
                cluster_store.session_name(config.cluster.node))
    return SessionLimits.alone(), "sla-monitor"


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
