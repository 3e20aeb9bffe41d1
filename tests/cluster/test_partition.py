"""A network partition between a node and the database blocks no take-over and opens nothing.

Node B runs in its own network namespace, joined to the host's by a veth pair; the targets,
the SMTP sink and the way to PostgreSQL are on the host's side of that pair. The test cuts
the pair (``ip link set ... down``) while B's session holds its leases row-locked inside a
transaction (timed on ``pg_locks``, as the freeze test times its SIGSTOP). B keeps running,
and cannot reach anything; unlike a frozen node it keeps trying. Then:

* node A probes B's targets within the lease timeout, one lease cycle and one interval:
  B's server-side session is ended by its limits (``idle_in_transaction_session_timeout``,
  monitor.store.db.SessionLimits), so its locks are gone before its leases run out;
* B, which sees every target fail while cut off, opens no incident and sends no e-mail:
  nothing it decided while it held no lease is written once the link is back (fencing);
* the link back, B rejoins and the two divide the targets again.

The database is a PostgreSQL server of the test's own, listening on the host's end of the
veth (the shared test server listens on 127.0.0.1 only): node and database are on either
side of the cut, and the server sees its peer fall silent mid-transaction, which is what the
session limits (and the server's TCP keepalives, ``tcp_user_timeout``) are for.

Needs root and ``ip netns`` (the CI runs as root). Elsewhere it is skipped, saying why; under
CI it fails instead of skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select

from monitor.store import create_engine
from monitor.store.models import Incident, OutboxMessage
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.faults.helpers import PrivatePostgres, private_postgres
from tests.support import DaemonProcess, eventually

from .helpers import (
    CYCLE,
    LEASE_TIMEOUT,
    first_probes_after,
    http_port,
    leases_by_node,
    names,
    node_config,
)
from .test_frozen_holder import HOLDING, POLL, _dsn, _locked

pytestmark = pytest.mark.slow

INTERVAL = 1.0
LOAD_MARGIN = 1.5  # as the SIGKILL and freeze tests: two shared cores, several daemons
CUT_FOR = 8.0  # seconds B stays cut off: long enough for it to see every target fail


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Namespace:
    name: str
    host_end: str  # the veth in the host's namespace
    host_address: str  # its address, reachable from both sides
    inside_address: str

    @property
    def network(self) -> str:
        return self.host_address.rsplit(".", 1)[0] + ".0/30"

    def cut(self) -> None:
        _ip("link", "set", "dev", self.host_end, "down")

    def heal(self) -> None:
        _ip("link", "set", "dev", self.host_end, "up")

    def prefix(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.name)


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    tag = f"{os.getpid() % 10000}{random.randrange(100)}"
    subnet = f"10.{random.randrange(200, 250)}.{random.randrange(256)}"
    space = Namespace(f"slam{tag}", f"slh{tag}", f"{subnet}.1", f"{subnet}.2")
    inside = f"sln{tag}"
    try:
        _ip("netns", "add", space.name)
    except (OSError, subprocess.CalledProcessError) as error:
        reason = f"network namespaces need root and iproute2 here: {error}"
        if os.environ.get("CI"):
            raise AssertionError(reason) from error
        pytest.skip(reason)
    try:
        _ip("link", "add", space.host_end, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", space.name)
        _ip("addr", "add", f"{space.host_address}/30", "dev", space.host_end)
        _ip("link", "set", space.host_end, "up")
        for command in (("addr", "add", f"{space.inside_address}/30", "dev", inside),
                        ("link", "set", inside, "up"), ("link", "set", "lo", "up")):
            _ip("-n", space.name, *command)
        yield space
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", space.host_end)  # its peer goes with it
        _ip("netns", "del", space.name)


@pytest.fixture
def database(namespace: Namespace) -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this test's own, listening on the host's end of the veth and
    letting the namespace's side in: B reaches it across the link the test cuts."""
    with private_postgres(listen=namespace.host_address, clients=namespace.network) as server:
        yield server


async def _cut_inside_a_transaction(
    connection: asyncpg.Connection, space: Namespace, node: str, at_least: int,
    within: float = 90.0,
) -> int:
    """Cut the link while ``node``'s session holds at least ``at_least`` of its leases
    row-locked inside a transaction: how many are locked, checked after the cut."""
    deadline = time.monotonic() + within
    trials = 0
    while time.monotonic() < deadline:
        if not await connection.fetch(HOLDING, f"sla-monitor {node}"):
            await asyncio.sleep(POLL)
            continue
        space.cut()
        await asyncio.sleep(0.2)  # what was on the wire before the cut has arrived
        locked = await _locked(connection, node)
        if await connection.fetch(HOLDING, f"sla-monitor {node}") and locked >= at_least:
            print(f"{trials} trial cut(s) before it, healed")
            return locked
        trials += 1
        space.heal()  # it had committed before the cut: again
        # A trial cut fails the probes node-b makes meanwhile, of targets it holds: two
        # trials an interval apart failed the same targets twice in a row (fail_after 2),
        # an outage from where node-b stands, opened before the real cut (seen in CI: 8
        # incidents). Its probes answer again before the next trial: no streak spans two.
        await asyncio.sleep(2 * INTERVAL)
    raise AssertionError(f"{node} never seen inside a transaction on cluster_leases")


async def _count(engine, model: type) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(model))).scalar_one())


async def _who_opened(connection: asyncpg.Connection, daemons: dict[str, DaemonProcess]) -> str:
    """What a failure shows: each incident with the vote that opened it (node, epoch) and the
    lease it stands under now, and both nodes' lines about incidents, votes and leases."""
    rows = await connection.fetch(
        "SELECT i.id, i.service_id, i.start, i.detected_at, v.node, v.state, v.epoch AS view_epoch,"
        " l.node AS holder, l.epoch AS lease_epoch FROM incidents i"
        " LEFT JOIN vantage_views v ON v.target_id = i.service_id"
        " LEFT JOIN cluster_leases l ON l.target_id = i.service_id ORDER BY i.id")
    failures = await connection.fetch(
        "SELECT target_id, at, failure_class, detail, latency_ms, timings FROM probe_failures"
        " WHERE target_id IN (SELECT service_id FROM incidents) ORDER BY at LIMIT 12")
    said = {node: [line for line in daemon.output().splitlines()
                   if any(word in line for word in ("incident", "fenced", "leases changed",
                                                    "database", "exception"))]
            for node, daemon in daemons.items()}
    return "\n".join([*(str(dict(row)) for row in rows), *(str(dict(row)) for row in failures),
                      *(f"{node}: {line}" for node, lines in said.items() for line in lines)])


async def test_a_node_cut_off_from_the_database_blocks_no_take_over_and_opens_nothing(
    tmp_path: Path, namespace: Namespace, database: PrivatePostgres
) -> None:
    targets = names(150)
    pg_url = database.url
    daemons: dict[str, DaemonProcess] = {}
    async with TargetServer(host=namespace.host_address) as target, \
            SMTPSink(host=namespace.host_address) as sink:
        for node in ("node-a", "node-b"):
            config = node_config(tmp_path, pg_url, target, sink, node=node,
                                 targets=targets, interval=f"{INTERVAL}s")
            daemons[node] = DaemonProcess(
                config, tmp_path / f"{node}.log",
                prefix=namespace.prefix() if node == "node-b" else ())
        engine = create_engine(pg_url)
        connection = await asyncpg.connect(_dsn(pg_url))
        try:
            for daemon in daemons.values():
                daemon.start()
            await http_port(daemons["node-a"])

            async def divided() -> bool:
                return await leases_by_node(engine) == Counter({"node-a": 75, "node-b": 75})

            await eventually(divided, within=60)
            held = await connection.fetch(
                "SELECT target_id FROM cluster_leases WHERE node = 'node-b'"
                " AND target_id IS NOT NULL")
            cut_off = [row["target_id"] for row in held]
            assert len(cut_off) == 75
            # Healthy all along (A sees them up): nothing is open, nothing was sent.
            assert await _count(engine, Incident) == 0
            messages_before = await _count(engine, OutboxMessage)

            locked = await _cut_inside_a_transaction(
                connection, namespace, "node-b", at_least=len(cut_off) * 95 // 100)
            cut = time.monotonic() - 0.2  # it was cut before the check
            print(f"node-b cut off holding {locked} of its {len(cut_off)} leases locked")

            # Only node-a can reach the targets now: each request after the cut is its.
            bound = LEASE_TIMEOUT + CYCLE + INTERVAL
            first = await first_probes_after(target, cut_off, cut, bound + LOAD_MARGIN + 10)
            in_time = [t for t in first.values() if t <= bound + LOAD_MARGIN]
            assert len(in_time) >= 0.95 * len(cut_off), (len(in_time), first)
            print(f"take-over across a partition: {len(first)} of {len(cut_off)} probed, "
                  f"{len(in_time)} within {bound + LOAD_MARGIN} s; slowest "
                  f"{max(first.values()):.2f} s, median "
                  f"{sorted(first.values())[len(first) // 2]:.2f} s")
            assert daemons["node-b"].alive()  # cut off, not dead: it keeps trying

            await asyncio.sleep(max(0.0, CUT_FOR - (time.monotonic() - cut)))
            assert await leases_by_node(engine) == Counter({"node-a": 150})
            namespace.heal()
            await eventually(divided, within=45)  # B back, the two divide again
            await asyncio.sleep(2 * INTERVAL)  # anything B held back would be written by now
            # B saw all 75 targets fail for CUT_FOR seconds (fail_after 2 at 1 s): none of
            # that is an incident or a message, since B held no lease for it (fenced).
            if await _count(engine, Incident):
                raise AssertionError(await _who_opened(connection, daemons))
            assert await _count(engine, OutboxMessage) == messages_before
            for daemon in daemons.values():
                daemon.signal(signal.SIGTERM)
            for node, daemon in daemons.items():
                assert await asyncio.to_thread(daemon.wait, 30) == 0, (node, daemon.output())
            # What B said about the cut: the database away and back, once each; its jobs
            # overran their periods, said once each (not at every tick); no traceback.
            said = daemons["node-b"].output()
            assert said.count("database unavailable") == 1, said
            assert said.count("database available again") == 1, said
            assert "maximum number of running instances" not in said
            assert said.count("write fenced") <= 1  # its fenced votes: counted, said once
            assert '"exception"' not in said, said
        finally:
            for daemon in daemons.values():
                daemon.stop()
            await connection.close()
            await engine.dispose()
