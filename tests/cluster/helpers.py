"""Configurations and looks into the database for the cluster tests."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.store.models import ClusterLease
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.support import DaemonProcess, eventually, rows

LEASE_TIMEOUT = 2.0  # seconds: cluster.lease_timeout of every test node
CYCLE = LEASE_TIMEOUT / 4  # the lease cycle (monitor.daemon.cluster)


def names(count: int) -> list[str]:
    return [f"t{i:03d}" for i in range(count)]


def node_config(
    tmp_path: Path,
    db_url: str,
    target: TargetServer,
    sink: SMTPSink,
    *,
    node: str,
    targets: Sequence[str],
    vantage: str = "default",
    vantages: Sequence[str] = (),
    interval: str = "1s",
    timeout: str = "0.3s",
    fail_after: int = 2,
    canary_url: str | None = None,
    servers: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """One node's configuration: the same targets for every node (``/t/NAME`` on one local
    server, each sending ``X-Vantage: VANTAGE`` so that the server can refuse a vantage),
    one customer depending on them, the SMTP sink; only ``cluster:`` differs. ``targets``
    are web panels; ``servers``: server id -> the ids of the projects on it (R-M4), probed
    the same way and the customer's too."""
    probe = (f"interval: {interval}, timeout: {timeout}, fail_after: {fail_after}, "
             f"recover_after: 2, headers: {{X-Vantage: {vantage}}}")

    def probed(name: str) -> str:
        return f'probe: {{type: http, url: "{target.url("/t/" + name)}", {probe}}}'

    servers = servers or {}
    projects = [(project, server) for server, on in servers.items() for project in on]
    services = "\n".join(
        [f"  - {{id: {name}, kind: web_panel, {probed(name)}}}" for name in targets]
        + [f"  - {{id: {name}, kind: project, server: {server}, {probed(name)}}}"
           for name, server in projects]
    )
    hosts = "".join(f"\n  - {{id: {name}, {probed(name)}}}" for name in servers) or " []"
    depends = (f"    services: [{', '.join(name for name, _ in projects)}]\n"
               if projects else "")
    canaries = ""
    if canary_url is not None:
        canaries = (f'  canaries: [{{id: net, probe: {{type: http, url: "{canary_url}", '
                    f'interval: 0.4s, timeout: 0.3s}}}}]\n')
    cluster = {"node": node, "vantage": vantage, "lease_timeout": f"{LEASE_TIMEOUT}s"}
    if vantages:
        cluster["vantages"] = list(vantages)
    text = f"""
monitor:
  heartbeat_interval: 0.2s
  unknown_after: 1s
{canaries}provider: {{name: Rabit Hosting, operators: [noc@rabit.example]}}
servers:{hosts}
services:
{services}
customers:
  - id: acme
    name: ACME
    contacts: {{technical: {{email: tech@acme.example}}}}
    fee: {{amount: 1000, currency: EUR}}
{depends}    sites: [{{domain: acme.example}}]
smtp: {{host: 127.0.0.1, port: {sink.port}, tls: none, sender: sla@rabit.example, timeout: 5s}}
http: {{listen: "127.0.0.1:0"}}
storage: {{url: '{db_url}', history_checkpoint: 0s}}
cluster: {json.dumps(cluster)}
"""
    path = tmp_path / f"{node}.yaml"
    path.write_text(text)
    return path


async def http_port(daemon: DaemonProcess, within: float = 30.0) -> int:
    """The HTTP port a daemon bound, from its "daemon started" log line, waited for: a node
    joins the cluster (and takes its leases) once its ports are bound, before the rest of
    its start has finished and that line is written."""

    async def started() -> int | None:
        for line in daemon.output().splitlines():
            if line.startswith("{") and '"daemon started"' in line:
                return int(json.loads(line)["http_port"])
        return None

    found: int = await eventually(started, within=within)
    return found


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(
        f"http://127.0.0.1:{port}{path}"
    ) as response:
        return response.status, await response.text()


async def leases_by_node(engine: AsyncEngine, vantage: str = "default") -> Counter[str]:
    """How many live target leases of ``vantage`` each node holds (the database's view)."""
    held = await rows(engine, ClusterLease, ClusterLease.vantage == vantage,
                      ClusterLease.node.is_not(None))
    return Counter(lease.node for lease in held)


async def lease_holders(engine: AsyncEngine, vantage: str = "default") -> dict[str, Any]:
    """Target id -> (node, epoch) of ``vantage``'s leases."""
    held = await rows(engine, ClusterLease, ClusterLease.vantage == vantage)
    return {lease.target_id: (lease.node, lease.epoch) for lease in held}


async def first_probes_after(target: TargetServer, names: Sequence[str], since: float,
                             within: float) -> dict[str, float]:
    """Each of ``names`` (``/t/NAME`` on ``target``): how long after ``since`` (steady
    clock) its first request came, watched for ``within`` seconds at most."""
    first: dict[str, float] = {}
    while time.monotonic() - since < within:
        for name in names:
            at = target.last_request.get(f"/t/{name}", 0.0)
            if name not in first and at > since:
                first[name] = at - since
        if len(first) == len(names):
            break
        await asyncio.sleep(0.05)
    return first
