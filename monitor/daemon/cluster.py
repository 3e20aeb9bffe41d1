"""One node of a cluster of daemons on one PostgreSQL.

A node registers (``cluster_nodes``) and runs a **lease cycle** every quarter of
``cluster.lease_timeout`` (so a lease, valid for the whole timeout, is renewed at least
every half timeout even when one cycle comes late). Each cycle is one transaction:

1. the node is seen (its heartbeat, on the database's clock);
2. the live nodes of its vantage are read: seen within the timeout and not stopped;
3. its leases are renewed; beyond its fair share (:func:`monitor.sla.fair_share`: the
   vantage's targets spread evenly by count over its live nodes) it releases the
   surplus at once, below it it takes free or expired leases with ``FOR UPDATE SKIP
   LOCKED``. A joining node therefore gets its share within about two cycles (the others
   release, it takes), and a lost node's targets are taken when its leases expire: at
   most ``lease_timeout`` plus one cycle after its last renewal, then probed within one
   interval;
4. taking a lease its previous holder did not renew in time (or handed back) records the
   span since that holder's last renewal as **unknown time of that target** from this
   vantage (``node_lost``/``handover``, R-M3), when it is longer than the target's interval;
5. the ``leader`` lease: the leader renews it; anyone takes it once it expired.

The node trusts its leases only until ``lease_timeout`` after the start of the cycle
that renewed them, on its own steady clock: a node that was paused (SIGSTOP, a VM
migration) or cut off from the database stops probing and writing as soon as it cannot
be sure. Its writes are fenced in the database anyway (:mod:`monitor.store.cluster`):
probe history, incident votes and confirmations are written only while the row still
names this node at the epoch it took.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from monitor import __version__
from monitor.config.schema import ClusterSettings
from monitor.errors import Fenced
from monitor.logs import SaidEvery
from monitor.sla import Streak, default_quorum, failed_alone, fair_share, quorum_outages
from monitor.store import SessionLimits, incidents, unknown
from monitor.store import cluster as store

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = ["Blocking", "Cluster", "ClusterMetrics", "ConfigDrift", "CycleResult", "vote"]

log = logging.getLogger(__name__)

#: What a stale node may try to write, each refused in the database and counted.
FENCED_KINDS = ("history", "vote", "leader")
#: Seconds between two "write fenced" lines of a node (each fenced write is counted).
FENCED_SAID_EVERY = 60.0


@dataclass
class CycleResult:
    """What one lease cycle changed: targets gained (with their epochs) and lost."""

    gained: dict[str, int] = field(default_factory=dict)
    lost: set[str] = field(default_factory=set)
    views: dict[str, str] = field(default_factory=dict)  # gained target -> our vantage's view
    open_incidents: set[str] = field(default_factory=set)  # gained targets with one open
    # Gained at the epoch this node held them at before (a lease renewed late, after the
    # database was away): nobody else probed them meanwhile, their gap is ours (R-M3).
    resumed: set[str] = field(default_factory=set)
    blocked: int = 0  # leases we lack that another session holds locked
    # Target id -> its open incident, of the targets held after the cycle, read in its
    # transaction (None: not read, the cycle failed): what sla_monitor_open_incidents counts.
    open_held: dict[str, int] | None = None


class ClusterMetrics:
    """A node's cluster series (the README's "What it shows")."""

    def __init__(self, registry: CollectorRegistry, node: str, vantage: str) -> None:
        self.leases = Gauge(
            "sla_monitor_cluster_leases_held",
            "Target leases this node holds (it probes those targets from its vantage).",
            ["node", "vantage"], registry=registry,
        ).labels(node, vantage)
        self.leader = Gauge(
            "sla_monitor_cluster_leader",
            "1 while this node holds the leader lease and runs the singleton jobs.",
            ["node"], registry=registry,
        ).labels(node)
        self.peer = Gauge(
            "sla_monitor_cluster_node_up",
            "The cluster's view of each node, as this node sees it: 1 alive (seen within "
            "the lease timeout), 0 lost or stopped.",
            ["node", "vantage"], registry=registry,
        )
        self.peer_state = Gauge(
            "sla_monitor_cluster_node_state",
            "The cluster's view of each node, as this node sees it, one series per state at "
            "1 for the node's: alive (seen within the lease timeout), lost (not seen and not "
            "stopped: killed, frozen or cut off; its targets taken over) or stopped (a clean "
            "stop, or retired with `sla-monitor cluster retire`).",
            ["node", "vantage", "state"], registry=registry,
        )
        self.peer_seen = Gauge(
            "sla_monitor_cluster_node_last_seen_timestamp_seconds",
            "When each node was last seen (the database's clock).",
            ["node", "vantage"], registry=registry,
        )
        self.taken = Counter(
            "sla_monitor_cluster_leases_taken_total",
            "Target leases this node took: from a lost node (lost), handed back (handover) "
            "or never held (new).",
            ["how"], registry=registry,
        )
        self.blocked = Gauge(
            "sla_monitor_cluster_leases_blocked",
            "Expired target leases this node should take but another session holds locked "
            "(a node frozen inside a transaction): above 0, take-over waits and the node is "
            "degraded.",
            ["node", "vantage"], registry=registry,
        ).labels(node, vantage)
        self.sessions_ended = Counter(
            "sla_monitor_cluster_sessions_ended_total",
            "Database sessions of a lost node (not seen for a lease timeout) this node "
            "ended (pg_terminate_backend): frozen inside a transaction longer than their "
            "limits allow, where the server's own limits could not end them.",
            ["node"], registry=registry,
        ).labels(node)
        self.fenced = Counter(
            "sla_monitor_cluster_fenced_writes_total",
            "Writes refused because this node no longer held the lease at its epoch (a "
            "stale node: paused or cut off past its lease), by kind: a target's probe "
            "history (history), our vantage's vote on a target (vote), a leader-only job's "
            "write (leader).",
            ["kind"], registry=registry,
        )
        for kind in FENCED_KINDS:  # every kind from the start, at 0
            self.fenced.labels(kind)


class ConfigDrift:
    """Whether the live nodes run this node's configuration (its shared part,
    :func:`monitor.config.shared_digest`, which each node writes at every lease cycle).
    Nodes with other targets or customers divide the leases and decide incidents on other
    grounds, silently: a node that sees one says so once (and once when they agree again),
    and ``sla_monitor_cluster_config_differs`` counts them (grafana/alerts.yml). A node of a
    version that does not say its configuration is not compared."""

    def __init__(self, registry: CollectorRegistry, node: str) -> None:
        self.node = node
        self.differing: dict[str, str] = {}  # live node -> its digest, where not ours
        self.gauge = Gauge(
            "sla_monitor_cluster_config_differs",
            "Live nodes whose configuration (provider, policy, servers, services, "
            "customers, ticket types) differs from this node's, as this node sees them: "
            "above 0 the nodes probe and decide on different grounds; reload every node "
            "with the same file.",
            ["node"], registry=registry,
        ).labels(node)

    def compare(self, mine: str | None, peers: Collection[store.NodeRow]) -> None:
        differing = {p.name: p.config_digest for p in peers
                     if p.alive and p.name != self.node and mine is not None
                     and p.config_digest is not None and p.config_digest != mine}
        self.gauge.set(len(differing))
        if differing == self.differing:
            return
        if differing:
            log.warning("cluster nodes run another configuration: reload every node with "
                        "the same file", extra={"node": self.node, "config_digest": mine,
                                                "differing": differing})
        else:
            log.info("cluster nodes run the same configuration again",
                     extra={"node": self.node, "config_digest": mine})
        self.differing = differing


class PeerStates:
    """Each node's state as this node sees it at every lease cycle: alive, lost (not seen
    for the lease timeout, not stopped: killed, frozen or cut off) or stopped (a clean
    stop, or retired with ``sla-monitor cluster retire``). Exported
    (``sla_monitor_cluster_node_up``, ``..._node_state``, ``..._node_last_seen_...``), and
    each change said once in the log: ``cluster node lost`` (a warning: its targets are
    taken over, the cluster has one node less), ``cluster node alive``, ``cluster node
    stopped``, with the state it was in. At start, only a node already lost is said."""

    def __init__(self, node: str, metrics: ClusterMetrics) -> None:
        self.node = node
        self.metrics = metrics
        self.seen: dict[str, str] = {}  # node -> its state at the last cycle

    def follow(self, peers: Collection[store.NodeRow]) -> None:
        metrics = self.metrics
        for peer in peers:
            metrics.peer.labels(peer.name, peer.vantage).set(1 if peer.alive else 0)
            for state in store.NODE_STATES:
                metrics.peer_state.labels(peer.name, peer.vantage, state).set(
                    1 if peer.state == state else 0)
            metrics.peer_seen.labels(peer.name, peer.vantage).set(peer.last_seen_at.timestamp())
            before = self.seen.get(peer.name)
            self.seen[peer.name] = peer.state
            if peer.name == self.node or peer.state == before or (
                    before is None and peer.state != "lost"):
                continue
            (log.warning if peer.state == "lost" else log.info)(
                f"cluster node {peer.state}", extra={
                    "node": self.node, "peer": peer.name, "vantage": peer.vantage,
                    "was": before, "last_seen_at": peer.last_seen_at.isoformat()})


class Blocking:
    """What keeps this node from its take-over: expired leases of its vantage that another
    session holds row-locked (a node frozen inside a transaction). Said once when this node
    starts finding them, once when not; meanwhile the node is *degraded* (``/readyz``,
    ``sla_monitor_cluster_leases_blocked``). A lost node's session that has outlived the
    limits its node's sessions are given (monitor.store.db.SessionLimits: half a lease
    timeout) without the server ending it is ended by this node (:meth:`end_outlived`)."""

    def __init__(self, node: str, vantage: str, lease_timeout: float, metrics: ClusterMetrics,
                 monotonic: Callable[[], float]) -> None:
        self.node = node
        self.vantage = vantage
        self.metrics = metrics
        self._monotonic = monotonic
        self.count = 0  # leases we lack that another session holds locked
        self.since: float | None = None  # steady clock; None: not blocked
        limits = SessionLimits.for_lease(lease_timeout)
        self.outlived = max(limits.idle_in_transaction, limits.statement)
        self._refused_said = False  # "may not see or end them" said once

    @property
    def degraded(self) -> bool:
        return self.since is not None

    def found(self, count: int) -> None:
        """The count of this cycle."""
        self.count = count
        self.metrics.blocked.set(count)
        if count and self.since is None:
            self.since = self._monotonic()
            log.warning("target leases expired but locked by another session: take-over "
                        "waits for the lock (this node is degraded)",
                        extra={"node": self.node, "vantage": self.vantage, "blocked": count})
        elif not count and self.since is not None:
            log.warning("locked target leases taken: take-over no longer blocked", extra={
                "node": self.node, "vantage": self.vantage,
                "blocked_seconds": round(self._monotonic() - self.since, 1)})
            self.since = None

    async def end_outlived(self, db: Database, lost: Collection[str]) -> None:
        """End the sessions of the ``lost`` nodes that have been inside one transaction
        longer than their limits allow (:func:`monitor.store.cluster.end_outlived_sessions`):
        their locks go as the server removes them (moments)."""
        try:
            async with db.transaction() as tx:
                ended = await store.end_outlived_sessions(tx, lost, self.outlived)
        except Exception as exc:
            if not db.outage(exc):
                log.exception("ending a frozen node's sessions failed; tried again next cycle")
            return
        if ended is None:
            if not self._refused_said:
                self._refused_said = True
                log.warning("a lost node's database sessions are ones this node's role may "
                            "not see or end (give the nodes one role, or this one "
                            "pg_read_all_stats and pg_signal_backend): what a session of it "
                            "frozen mid-statement holds locked waits for it",
                            extra={"node": self.node, "vantage": self.vantage,
                                   "lost": sorted(lost)})
            return
        self.metrics.sessions_ended.inc(len(ended))
        for name, pid in ended:
            log.warning("ended a lost node's database session frozen in a transaction "
                        "beyond its limits", extra={
                            "node": self.node, "vantage": self.vantage, "session": name,
                            "backend_pid": pid, "outlived": self.outlived})


class Cluster:
    def __init__(
        self,
        settings: ClusterSettings,
        db: Database,
        registry: CollectorRegistry,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node = settings.node
        self.vantage = settings.vantage
        self.vantages = list(settings.vantages or [settings.vantage])
        self.quorum = settings.quorum or default_quorum(len(self.vantages))
        self.lease_timeout = settings.lease_timeout
        self.db = db
        self._monotonic = monotonic
        self.targets: dict[str, float] = {}  # target id -> its probe interval
        self.everywhere: set[str] = set()  # history keys of the canaries
        self._known: set[str] = set()  # targets whose lease rows exist
        self.epochs: dict[str, int] = {}  # target id -> epoch we hold it at
        self._held_at: dict[str, int] = {}  # target id -> the last epoch we held it at
        self.leader_epoch: int | None = None
        self.valid_until = 0.0  # our leases are sure until then (steady clock)
        self.peers: list[store.NodeRow] = []
        self.incarnation = 0
        self.share = 0  # our fair share at the last cycle
        self.metrics = ClusterMetrics(registry, self.node, self.vantage)
        self.blocking = Blocking(self.node, self.vantage, self.lease_timeout, self.metrics,
                                 monotonic)
        # How long a cycle waits for expired leases another session holds locked.
        self.lock_wait = self.lease_timeout / 8
        self.config_digest: str | None = None  # our configuration's (set before start)
        self.drift = ConfigDrift(registry, self.node)
        self.states = PeerStates(self.node, self.metrics)
        self._fenced_said = SaidEvery(FENCED_SAID_EVERY, monotonic)  # fenced votes' line

    # --- state ---------------------------------------------------------------------------------

    def sure(self) -> bool:
        """Whether our leases are certainly still ours (steady clock)."""
        return self._monotonic() < self.valid_until

    def holds(self, target_id: str) -> int | None:
        """The epoch we probe ``target_id`` at, or None (not ours, or not sure any more)."""
        epoch = self.epochs.get(target_id)
        return epoch if epoch is not None and self.sure() else None

    @property
    def leading(self) -> bool:
        return self.leader_epoch is not None and self.sure()

    def set_targets(self, targets: dict[str, float], everywhere: Collection[str] = ()) -> None:
        """The targets to divide (id -> interval): every node of a vantage has the same;
        ``everywhere``: those every node probes itself (its vantage's canaries, R-M2)."""
        self.targets = dict(targets)
        self.everywhere = {self.history_key(t) for t in everywhere}

    def history_key(self, target_id: str) -> str:
        """Under which id a target's probe history is kept: per vantage when there are
        several (results are stored per vantage), else the target's own id."""
        return target_id if len(self.vantages) == 1 else f"{target_id}@{self.vantage}"

    # --- the cycle -----------------------------------------------------------------------------

    async def start(self) -> CycleResult:
        async with self.db.transaction() as tx:
            self.incarnation = await store.register(
                tx, node=self.node, vantage=self.vantage, host=socket.gethostname(),
                pid=os.getpid(), version=__version__, config_digest=self.config_digest,
            )
            # Leases our previous incarnation held are free again: taken anew (a new epoch
            # fences that incarnation), with the gap since it last renewed them (R-M3).
            await store.forget_incarnation(tx, self.node)
            await store.ensure_named(tx, store.LEADER)
        log.info("cluster node registered", extra={
            "node": self.node, "vantage": self.vantage, "incarnation": self.incarnation,
            "vantages": self.vantages, "quorum": self.quorum,
            "lease_timeout": self.lease_timeout})
        return await self.cycle()

    async def cycle(self) -> CycleResult:
        leading = self.leader_epoch
        result = await self._run_cycle()
        _leadership_lost(self.node, leading, self.leader_epoch)
        return result

    async def _run_cycle(self) -> CycleResult:
        started = self._monotonic()
        before = dict(self.epochs)
        try:
            async with self.db.transaction() as tx:
                result = await self._cycle(tx, before)
        except Exception as exc:
            if not self.db.outage(exc):  # the database away: said once, no traceback
                log.exception("lease cycle failed; leases are trusted until they run out")
            if not self.sure():
                lost = set(self.epochs)
                self.epochs.clear()
                self.leader_epoch = None
                self._update_metrics()
                return CycleResult(lost=lost)
            return CycleResult()
        self.valid_until = started + self.lease_timeout
        gone = [peer.name for peer in self.peers
                if peer.state == "lost" and peer.name != self.node]
        if gone:  # a lost node frozen where the server's limits cannot end its session
            await self.blocking.end_outlived(self.db, gone)
        if result.blocked:
            await self._wait_for_locked(result, before)
        result.resumed = {t for t, e in result.gained.items() if self._held_at.get(t) == e}
        self._held_at.update(self.epochs)
        self.blocking.found(result.blocked)
        self._update_metrics()
        return result

    async def _cycle(self, tx: Tx, before: dict[str, int]) -> CycleResult:
        timeout = self.lease_timeout
        await store.see(tx, self.node, self.config_digest)
        self.peers = await store.nodes(tx, timeout)
        new = set(self.targets) - self._known
        if new:
            await store.ensure_leases(tx, self.vantage, sorted(new))
        names = {store.probe_lease(self.vantage, t): t for t in self.targets}
        held = await store.renew(tx, self.node, timeout)
        mine = {names[n]: e for n, e in held.items() if n in names}
        stale = [n for n in held if n not in names and n != store.LEADER]
        await store.release(tx, self.node, stale)  # targets no longer configured
        live = [p.name for p in self.peers if p.alive and p.vantage == self.vantage]
        share = fair_share(len(self.targets), live, self.node)
        if len(mine) > share:
            surplus = sorted(mine)[share:]
            await store.release(tx, self.node, [store.probe_lease(self.vantage, t)
                                                 for t in surplus])
            for target_id in surplus:
                mine.pop(target_id)
        result = CycleResult()
        self.share = share
        if len(mine) < share:
            taken = await store.acquire(tx, self.node, timeout, vantage=self.vantage,
                                        limit=share - len(mine))
            await self._took(tx, taken, mine, result)
            if len(mine) < share:
                # Still short: free or expired leases that another session holds locked.
                result.blocked = min(share - len(mine),
                                     await store.blocked(tx, self.node, self.vantage))
        # The leader lease: renewed by its holder, taken by anyone once it ran out.
        if store.LEADER in held:
            self.leader_epoch = held[store.LEADER]
        else:
            taken_leader = await store.acquire(tx, self.node, timeout, vantage=None, limit=1,
                                               names=[store.LEADER])
            self.leader_epoch = taken_leader[0].epoch if taken_leader else None
            if taken_leader:
                log.warning("cluster leader", extra={"node": self.node,
                                                     "epoch": self.leader_epoch})
        self._known |= new
        self.epochs = mine
        result.open_held = {t: incident for t, incident in
                            (await incidents.open_by_probe(tx)).items() if t in mine}
        result.gained = {t: e for t, e in mine.items() if before.get(t) != e}
        result.lost = {t for t in before if t not in mine or mine[t] != before[t]}
        result.lost -= set(result.gained)
        if result.gained or result.lost:
            log.info("target leases changed", extra={
                "node": self.node, "vantage": self.vantage, "held": len(mine),
                "share": share, "live_nodes": live, "gained": len(result.gained),
                "lost": len(result.lost)})
        return result

    async def _took(self, tx: Tx, taken: list[store.Taken], mine: dict[str, int],
                    result: CycleResult) -> None:
        """Leases just taken: ours now, with the gap before as unknown time (R-M3), and what
        our vantage last said of them and their open incidents (for the detector)."""
        for lease in taken:
            if lease.target_id is None or lease.target_id not in self.targets:
                continue
            mine[lease.target_id] = lease.epoch
            await self._gap(tx, lease)
        gained = [lease.target_id for lease in taken if lease.target_id in self.targets]
        if gained:
            result.views.update(await store.views_of(tx, self.vantage, gained))
            result.open_incidents |= await _open(tx, gained)

    async def _wait_for_locked(self, result: CycleResult, before: dict[str, int]) -> None:
        """Expired leases we need are locked by another session (a node frozen inside a
        transaction): waited for at most :attr:`lock_wait`, in a transaction of its own
        (holding nothing else), and taken the moment the lock is gone. Still locked: this
        node is *degraded* (``/readyz``, ``sla_monitor_cluster_leases_blocked``) and tries
        again next cycle; the frozen session's own limits end it within half a lease
        timeout (monitor.store.db.SessionLimits), and one they cannot end (frozen between a
        statement and its ``Sync``) was ended just before by :meth:`Blocking.end_outlived`
        once its node was lost: its locks go during this wait."""
        mine = dict(self.epochs)
        try:
            async with self.db.transaction() as tx:
                taken = await store.acquire(tx, self.node, self.lease_timeout,
                                            vantage=self.vantage, limit=result.blocked,
                                            wait=self.lock_wait)
                await self._took(tx, taken, mine, result)
                left = self.share - len(mine)
                result.blocked = (min(left, await store.blocked(tx, self.node, self.vantage))
                                  if left > 0 else 0)
        except Exception as exc:
            if not self.db.outage(exc):
                log.exception("taking locked leases failed; tried again next cycle")
            return
        self.epochs = mine
        result.gained = {t: e for t, e in mine.items() if before.get(t) != e}
        result.lost -= set(result.gained)

    @property
    def degraded(self) -> bool:
        """Whether leases this node should take are locked by someone else (see above)."""
        return self.blocking.degraded

    async def _gap(self, tx: Tx, lease: store.Taken) -> None:
        """R-M3: nobody probed the target from this vantage since its last holder's last
        renewal: unknown time of that target, when longer than its interval."""
        how = "new" if lease.previous_renewed_at is None else (
            "lost" if lease.previous_node is not None else "handover")
        self.metrics.taken.labels(how).inc()
        since = lease.previous_renewed_at
        target_id = lease.target_id
        if since is None or target_id is None:
            return
        interval = self.targets.get(target_id, 0.0)
        if (lease.at - since).total_seconds() <= interval:
            return
        await unknown.add_unknown(
            tx, start=since, end=lease.at, reason="node_lost" if how == "lost" else "handover",
            detail=f"not probed from vantage {self.vantage} between the last renewal by "
            f"{lease.previous_node or 'a node that handed it back'} and its take-over by "
            f"{self.node}",
            node=self.node, vantage=self.vantage, target_id=target_id,
        )

    async def stop(self) -> None:
        """A clean stop: every lease handed back and the node marked stopped, so that the
        others take its targets within one cycle instead of a lease timeout."""
        async with self.db.transaction() as tx:
            held = await store.renew(tx, self.node, self.lease_timeout)
            await store.release(tx, self.node, list(held))
            await store.stop(tx, self.node)
        self.epochs.clear()
        self.leader_epoch = None
        self.valid_until = 0.0

    # --- fencing -------------------------------------------------------------------------------

    async def fence_history(self, tx: Tx, wanted: set[str]) -> set[str]:
        """Of the history keys ``wanted``, those this node may still write in ``tx``:
        targets whose lease row names it at the epoch it probed them under (share-locked
        until ``tx`` ends). The others are counted (``kind="history"``): a stale writer."""
        held = await store.held(tx, self.node)
        allowed = {
            self.history_key(t)
            for t, epoch in self.epochs.items()
            if held.get(store.probe_lease(self.vantage, t)) == epoch
        } | self.everywhere
        refused = len(wanted - allowed)
        if refused:
            self.metrics.fenced.labels("history").inc(refused)
        return allowed & wanted

    async def fenced(self, tx: Tx, target_id: str, what: str, epoch: int | None) -> bool:
        """Whether ``tx`` may write for ``target_id`` what was decided under ``epoch`` (None:
        decided while not holding it): False for a stale writer (counted and logged), whose
        write must not happen. Checked at the epoch of the decision, not at the one held now:
        a node cut off from the database that holds the target again at a newer epoch when
        its write gets through saw what it decided from a lease that is gone."""
        if epoch is not None and await store.fenced(
            tx, self.node, store.probe_lease(self.vantage, target_id), epoch
        ):
            return True
        self.metrics.fenced.labels("vote").inc()
        # Said at most once a minute (a node back from a partition has a vote fenced for
        # each of its targets); the metric counts every one.
        fenced = self._fenced_said.happened()
        if fenced:
            log.warning("write fenced: this node no longer holds the target's lease",
                        extra={"node": self.node, "target": target_id, "what": what,
                               "epoch": epoch, "fenced": fenced})
        return False

    async def still_leading(self) -> bool:
        """Whether this node holds the leader lease at its epoch now (in the database)."""
        if not self.leading:
            return False
        epoch = self.leader_epoch
        assert epoch is not None
        async with self.db.reading() as tx:
            ok = await store.fenced(tx, self.node, store.LEADER, epoch)
        if not ok:
            self.metrics.fenced.labels("leader").inc()
        return ok

    async def guard_leader(self, tx: Tx) -> None:
        """Checked at the start of each write transaction of a leader-only job
        (:func:`monitor.store.db.guarded`): this node holds the leader lease at its epoch,
        key-share-locked until ``tx`` ends (no take-over commits meanwhile); else the
        write is refused (:class:`~monitor.errors.Fenced`), counted and said."""
        epoch = self.leader_epoch
        if epoch is not None and self.sure() and await store.fenced(
            tx, self.node, store.LEADER, epoch, key_share=True
        ):
            return
        self.metrics.fenced.labels("leader").inc()
        log.warning("leader-only write fenced: this node no longer leads",
                    extra={"node": self.node, "epoch": epoch})
        raise Fenced(f"cluster node {self.node} no longer holds the leader lease "
                     f"(epoch {epoch}): its leader-only write is refused")

    # --- what /readyz and the metrics show -----------------------------------------------------

    def _update_metrics(self) -> None:
        self.metrics.leases.set(len(self.epochs))
        self.metrics.leader.set(1 if self.leader_epoch is not None else 0)
        self.states.follow(self.peers)
        self.drift.compare(self.config_digest, self.peers)

    def describe(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "vantage": self.vantage,
            "role": "leader" if self.leading else "member",
            "leases_held": len(self.epochs) if self.sure() else 0,
            "leases_sure": self.sure(),
            "leases_blocked": self.blocking.count,
            "quorum": self.quorum,
            "vantages": self.vantages,
            "config_digest": self.config_digest,
            "nodes": [
                {"node": p.name, "vantage": p.vantage, "alive": p.alive, "state": p.state,
                 "last_seen_at": p.last_seen_at.isoformat(),
                 "stopped_at": p.stopped_at.isoformat() if p.stopped_at else None,
                 "config_digest": p.config_digest}
                for p in self.peers
            ],
        }


def _leadership_lost(node: str, before: int | None, after: int | None) -> None:
    """Said once when a lease cycle ends this node's leader role (its lease ran out while
    it was paused or cut off, or another node took it): the leader-only jobs run elsewhere
    now (taking it is said as "cluster leader")."""
    if before is not None and after is None:
        log.warning("cluster leader role lost: the leader-only jobs run on the node that "
                    "takes the leader lease", extra={"node": node, "epoch": before})


async def _open(tx: Tx, targets: Collection[str]) -> set[str]:
    found = await incidents.open_by_probe(tx)
    return {t for t in targets if t in found}


# --- votes: incidents on a quorum of vantages (R-M1, R-M2, R-M8) -----------------------------


async def vote(
    cluster: Cluster,
    tx: Tx,
    target_id: str,
    state: str,
    since: dt.datetime,
    bound: dt.datetime | None,
    detected_at: dt.datetime,
    created_at: dt.datetime,
    *,
    epoch: int | None,
) -> tuple[int | None, bool]:
    """Our vantage's new word on ``target_id``, and what it decides, in ``tx``:
    (the incident this vote opened or closed, or None; whether the vote was written).

    Fenced first at ``epoch``, the lease epoch the vote was decided under (a stale node
    writes nothing), then counted under a per-target lock so
    that vantages voting at once open one incident. R-M8 is decided by
    :func:`monitor.sla.quorum_outages` over the vantages' failing streaks: the incident opens
    when ``cluster.quorum`` vantages fail together, at the quorum-th earliest start among
    their streaks (each vantage's bounds kept in ``incident_vantages``), and closes at the
    first instant fewer than ``quorum`` are still failing (a success, or a vantage gone
    blind). A vantage failing short of the quorum has a *vantage problem*, kept open until
    it sees the target up again (:func:`monitor.sla.failed_alone`)."""
    if not await cluster.fenced(tx, target_id, f"vote_{state}", epoch):
        return None, False
    assert epoch is not None
    vantage = cluster.vantage
    await store.lock_target(tx, target_id)
    await store.set_view(tx, target_id=target_id, vantage=vantage, state=state, since=since,
                         bound=bound, detected_at=detected_at, node=cluster.node, epoch=epoch)
    rows = await store.views(tx, target_id)
    failing = [row for row in rows if row.state == "down"]
    if state == "up":
        await _seen_up(tx, target_id, vantage, since, bound)
    found = await incidents.open_probe_incident_of(tx, target_id)
    if found is None:
        if state == "down":
            return await _opened(cluster, tx, target_id, failing, since, detected_at,
                                 created_at), True
        return None, True
    incident_id, started = found
    if state == "down":
        await store.add_confirmations(tx, incident_id, [r for r in rows if r.vantage == vantage])
        return None, True
    if len(failing) >= cluster.quorum:
        return None, True
    confirmed = await store.confirmation_streaks(tx, incident_id)
    streaks = {row.vantage: [Streak(row.since, row.bound)] for row in failing}
    for row in rows:
        if row.state != "down" and row.vantage in confirmed:
            first, first_bound = confirmed[row.vantage]
            streaks[row.vantage] = [Streak(first, first_bound, row.since,
                                           row.bound if row.state == "up" else None)]
    ended = [o for o in quorum_outages(streaks, cluster.quorum)
             if o.end is not None and o.end > started]
    # Fewer than the quorum fail now; when the streaks that made it are gone (a vantage
    # nobody probes from any more has no say), this vote is the instant it ended.
    end, end_bound = (ended[0].end, ended[0].end_bound) if ended else (since, bound)
    assert end is not None
    await incidents.close(tx, incident_id, end=end, end_bound=end_bound)
    # Those still failing now fail alone: each a vantage problem from the end (R-M8).
    for row in failing:
        await store.open_problem(tx, target_id, row.vantage, end, cluster.node)
    return incident_id, True


async def _opened(cluster: Cluster, tx: Tx, target_id: str, failing: list[store.ViewRow],
                  since: dt.datetime, detected_at: dt.datetime,
                  created_at: dt.datetime) -> int | None:
    """An incident when a quorum fails together (R-M8), or our vantage's problem."""
    outages = quorum_outages({row.vantage: [Streak(row.since, row.bound)] for row in failing},
                             cluster.quorum)
    if not outages or outages[-1].end is not None:
        await store.open_problem(tx, target_id, cluster.vantage, since, cluster.node)
        return None
    outage = outages[-1]
    incident_id = await incidents.open_probe_incident(
        tx, service_id=target_id, start=outage.start, start_bound=outage.start_bound,
        detected_at=detected_at, created_at=created_at,
    )
    await store.add_confirmations(tx, incident_id, failing)
    # A vantage that failed before the quorum's start bound failed alone: its problem stays
    # open (R-M8); one that failed with the quorum (inside R-M1's precision) had none.
    await store.withdraw_problems(tx, target_id, [
        row.vantage for row in failing
        if not failed_alone(Streak(row.since, row.bound), [outage])])
    return incident_id


async def _seen_up(tx: Tx, target_id: str, vantage: str, since: dt.datetime,
                   bound: dt.datetime | None) -> None:
    """Our vantage sees ``target_id`` up again: its problem ends, or, where it saw no failure
    since the problem opened (all of them inside an incident's precision), it had none."""
    start = await store.open_problem_start(tx, target_id, vantage)
    if start is None:
        return
    if failed_alone(Streak(start, None, since, bound), []):
        await store.end_problem(tx, target_id, vantage, since)
    else:
        await store.withdraw_problems(tx, target_id, [vantage])
