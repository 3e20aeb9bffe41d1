"""R-M3 per target in a cluster: PostgreSQL away for longer than the lease timeout (reached
through a TCP relay the test cuts, the server itself running on). The node stops probing the
targets whose leases it can no longer be sure of; when the database answers again it renews
them at the same epoch (nobody took them). Each target's stretch without a probe is its
unknown time, from its last probe plus one interval to its next (before, leases renewed
late got none). The node runs in-process, against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from monitor.app import Daemon
from monitor.config import load_config
from monitor.store import create_engine
from monitor.store.models import UnknownInterval
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.faults.helpers import TcpProxy
from tests.support import eventually, rows

from .helpers import LEASE_TIMEOUT, lease_holders, names, node_config

pytestmark = pytest.mark.slow

TARGETS = names(3)
INTERVAL = 0.5  # seconds, every target's
UNKNOWN_AFTER = 1.0  # seconds (helpers.node_config)


async def test_database_away_past_the_lease_leaves_each_target_unknown_until_probed_again(
    tmp_path: Path, pg_url: str
) -> None:
    real = make_url(pg_url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    await proxy.start()
    url = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    engine = create_engine(pg_url)  # the test reads past the relay
    try:
        async with TargetServer() as target, SMTPSink() as sink:
            config = node_config(tmp_path, url, target, sink, node="node-a", targets=TARGETS,
                                 interval=f"{INTERVAL}s")
            daemon = Daemon(load_config(config))
            await daemon.start()
            try:
                held = await eventually(lambda: _all_held(engine), within=20)
                cut_at = dt.datetime.now(dt.UTC)
                await proxy.stop()
                await asyncio.sleep(2 * LEASE_TIMEOUT)  # the node gives its leases up
                await proxy.start()
                back_at = dt.datetime.now(dt.UTC)
                gaps = await eventually(lambda: _gaps(engine), within=20)
                assert await lease_holders(engine) == held  # renewed at the same epochs
            finally:
                await daemon.stop()
        assert sorted(g.target_id for g in gaps) == TARGETS
        slack = dt.timedelta(seconds=1.0)
        for gap in gaps:
            assert (gap.reason, gap.node, gap.vantage) == ("not_probed", "node-a", "default")
            assert gap.end is not None
            # From the last probe plus one interval (at most a lease timeout after the cut,
            # while the node was still sure of its leases) to the first probe after.
            assert cut_at <= gap.start <= cut_at + dt.timedelta(seconds=LEASE_TIMEOUT) + slack
            assert back_at - slack <= gap.end <= back_at + dt.timedelta(seconds=LEASE_TIMEOUT) + slack
            assert (gap.end - gap.start).total_seconds() > UNKNOWN_AFTER
    finally:
        await engine.dispose()
        await proxy.stop()


async def _all_held(engine):  # type: ignore[no-untyped-def]
    holders = await lease_holders(engine)
    if sorted(holders) == TARGETS and all(node == "node-a" for node, _ in holders.values()):
        return holders
    return None


async def _gaps(engine) -> list[UnknownInterval]:  # type: ignore[no-untyped-def]
    found = await rows(engine, UnknownInterval, UnknownInterval.reason == "not_probed")
    return found if len(found) >= len(TARGETS) else []
