"""``sla-monitor cluster nodes|retire``: a cluster's nodes and where each stands, and a lost
node that will not return retired (:mod:`monitor.actions.cluster`)."""

from __future__ import annotations

import argparse

from monitor import actions
from monitor.actions.cluster import NodeRow
from monitor.cli.commands import summary
from monitor.cli.common import Run, actor, add_format, command, local_time
from monitor.config import Settings
from monitor.present import text_table


def _table(found: list[NodeRow], settings: Settings) -> str:
    rows = [[n.name, n.vantage, n.state, local_time(settings, n.last_seen_at, seconds=True),
             local_time(settings, n.started_at, seconds=True),
             local_time(settings, n.stopped_at, seconds=True), n.host, n.version]
            for n in found]
    return text_table(["node", "vantage", "state", "last seen", "started", "stopped", "host",
                       "version"], rows)


@command
async def _nodes(run: Run) -> int:
    found = await run.act(actions.list_nodes, run.settings)
    return run.show(found, lambda: _table(found, run.settings) if found
                    else "no node has registered (none has run with this database)")


@command
async def _retire(run: Run) -> int:
    node = await run.act(actions.retire_node, run.settings, node=run.args.node, actor=actor(),
                         now=run.now)
    return run.show(node, lambda: f"node {node.name} retired: {node.state}, last seen "
                    + local_time(run.settings, node.last_seen_at, seconds=True))


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "cluster", help=summary("cluster"),
        description="A cluster's nodes (several daemons on one PostgreSQL): where each "
        "stands, as the database's clock and the configured lease timeout judge it, and a "
        "lost node that will not return retired.")
    sub = parser.add_subparsers(dest="cluster_command", metavar="COMMAND", required=True)
    nodes = sub.add_parser(
        "nodes", help="list the nodes: alive, lost or stopped",
        description="List every node that has registered: its vantage, its state (alive: "
        "seen within the lease timeout; lost: not seen and not stopped, its targets taken "
        "over; stopped: a clean stop, or retired), when it was last seen, started and "
        "stopped, its host and version.")
    add_format(nodes)
    nodes.set_defaults(handler=_nodes)
    retire = sub.add_parser(
        "retire", help="retire a lost node that will not return",
        description="Mark a lost node stopped, as its clean stop would have: no node counts "
        "it lost any more (sla_monitor_cluster_node_state, the ClusterNodeLost alert). "
        "Audited. Only a lost node: an alive one is stopped with SIGTERM. A retired node "
        "that was only frozen and resumes is alive again.")
    retire.add_argument("node", metavar="NODE", help="the lost node's name (cluster nodes)")
    add_format(retire)
    retire.set_defaults(handler=_retire)
