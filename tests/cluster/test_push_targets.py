"""A push target in a cluster: its job calls one node (not the one that holds the target's
lease), and the holder judges by that push, read from the store within a second
(monitor.actions.share_pushes): up while the job calls, an incident when it stops, closed
when it calls again. Real daemon subprocesses on one PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.config.credentials import hash_line
from monitor.store import create_engine
from monitor.store.models import Incident, LastPush
from monitor.testing.push import PushJob
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.support import DaemonProcess, eventually, rows

from .helpers import http_port, lease_holders, node_config

pytestmark = pytest.mark.slow

Start = Callable[[Path], DaemonProcess]
TOKEN = "push-token-of-the-cluster-job"
# A call every 2 s, at most 1.5 s late: the 1 s it may take to reach the holder fits.
PUSHED = "probe: {type: push, interval: 2s, timeout: 1.5s, fail_after: 2, recover_after: 2}"


async def test_the_holder_judges_by_a_push_another_node_took(
    tmp_path: Path, pg_url: str, daemon_process: Start
) -> None:
    (tmp_path / "tokens").write_text(hash_line("push:job", TOKEN, "job") + "\n")
    async with TargetServer() as target, SMTPSink() as sink:
        configs = {}
        for node in ("node-a", "node-b"):
            path = node_config(tmp_path, pg_url, target, sink, node=node,
                               targets=["t000", "job"])
            text, replaced = re.subn(r"\{id: job, kind: web_panel, probe: \{[^{}]*\{[^{}]*\}\}\}",
                                     "{id: job, kind: web_panel, " + PUSHED + "}",
                                     path.read_text())
            assert replaced == 1
            text = text.replace('http: {listen: "127.0.0.1:0"}',
                                f'http: {{listen: "127.0.0.1:0", tokens_file: '
                                f'"{tmp_path / "tokens"}"}}')
            path.write_text(text)
            configs[node] = path
        engine = create_engine(pg_url)
        daemons = {node: daemon_process(path) for node, path in configs.items()}
        for daemon in daemons.values():
            daemon.start()
        ports = {node: await http_port(daemon) for node, daemon in daemons.items()}
        try:
            async def held() -> str | None:
                holder = (await lease_holders(engine)).get("job")
                return None if holder is None or holder[0] is None else str(holder[0])

            holder = await eventually(held, within=40)
            other = next(node for node in ports if node != holder)
            url = f"http://127.0.0.1:{ports[other]}/api/v1/push/job"
            async with PushJob(url, TOKEN, every=0.5) as job:
                await eventually(lambda: rows(engine, LastPush), within=10)
                await asyncio.sleep(8)  # four checks at least by the holder, each up
                assert await rows(engine, Incident, Incident.service_id == "job") == []
                assert (await lease_holders(engine))["job"][0] == holder
                assert set(job.answers) == {200}
                job.stop()
                [incident] = await eventually(
                    lambda: rows(engine, Incident, Incident.service_id == "job"), within=30)
                assert incident.end is None
                job.start()
                await eventually(lambda: rows(engine, Incident, Incident.service_id == "job",
                                              Incident.end.is_not(None)), within=30)
        finally:
            await engine.dispose()
