"""A cluster's nodes as operators see them: each node and where it stands, and a lost node
that will not return retired (``sla-monitor cluster nodes|retire``).

A node is *alive* while it was seen within the lease timeout, *stopped* after a clean stop,
and *lost* otherwise (killed, frozen, cut off from the database): its targets were taken
over, but the cluster has one node less than it was built with, and every node says so
(``sla_monitor_cluster_node_state{state="lost"}``, the ``ClusterNodeLost`` alert of
grafana/alerts.yml). A node that will not come back (its machine gone, its name changed)
stays lost until it is retired: marked stopped as its clean stop would have marked it, its
last sighting kept, audited (``cluster.retire``). *Decision:* only a lost node may be
retired. An alive one is stopped by stopping it (SIGTERM), which hands its leases back at
once; retiring it would only make the others think it gone while it probes on. A retired
node that was only frozen and resumes is alive again at its next lease cycle, as a node that
was stopped and restarted (the way Consul's ``force-leave`` treats a failed member).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from monitor.config import Settings
from monitor.errors import InputError, UsageError
from monitor.store import audit
from monitor.store import cluster as stored
from monitor.store.cluster import NodeRow

if TYPE_CHECKING:
    from monitor.config.schema import ClusterSettings
    from monitor.store import Database

__all__ = ["NodeRow", "list_nodes", "retire_node"]


def _cluster(settings: Settings) -> ClusterSettings:
    cluster = settings.config.cluster
    if cluster is None:
        raise UsageError("this configuration has no `cluster` section: a daemon alone has no "
                         "nodes (README \"Several daemons: a cluster on one PostgreSQL\")")
    return cluster


async def list_nodes(db: Database, settings: Settings) -> list[NodeRow]:
    """Every node ever registered, by name, with its state as the lease timeout of
    ``settings`` judges it (the database's clock)."""
    lease_for = _cluster(settings).lease_timeout
    async with db.reading() as tx:
        return await stored.nodes(tx, lease_for)


async def retire_node(db: Database, settings: Settings, *, node: str, actor: str,
                      now: dt.datetime) -> NodeRow:
    """Retire the lost ``node``: marked stopped, so that no node counts it lost any more
    (its series, the alert). A node that is not lost refuses the call, saying where it
    stands; nothing changes. Returns the node as it now stands."""
    lease_for = _cluster(settings).lease_timeout
    async with db.transaction() as tx:
        found = {row.name: row for row in await stored.nodes(tx, lease_for)}
        row = found.get(node)
        if row is None:
            raise InputError("node", node, "a node of the cluster: " + (
                ", ".join(found) if found else "none has registered"))
        if not await stored.retire(tx, node, lease_for):
            where = ("alive (seen within the lease timeout): stop it instead (SIGTERM), "
                     "which hands its leases back at once" if row.alive
                     else "stopped already")
            raise InputError("node", node, f"a lost node; {node} is {where}")
        await audit.record(tx, at=now, actor=actor, action="cluster.retire",
                           object_type="cluster_node", object_id=node,
                           detail={"vantage": row.vantage,
                                   "last_seen_at": row.last_seen_at.isoformat()})
        retired = {r.name: r for r in await stored.nodes(tx, lease_for)}
        return retired[node]
