"""The daemon's /metrics passes ``promtool check metrics`` (Prometheus naming conventions).

``.ci/run`` installs Debian's ``prometheus`` package for promtool; outside CI a
missing promtool skips this test, in CI it is an error.
"""

from __future__ import annotations

import asyncio
import os
import shutil

import aiohttp
import pytest

from monitor.app import Daemon
from monitor.config import parse_config
from monitor.testing.targets import TargetServer
from tests.support import FAST, MONITOR


async def test_metrics_pass_promtool(sqlite_url: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run must install Debian's prometheus package")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    async with TargetServer() as target:
        config = f"""
{MONITOR}
services:
  - id: panel
    kind: web_panel
    probe: {{type: http, url: "{target.url('/')}", {FAST}}}
http: {{listen: "127.0.0.1:0"}}
storage: {{url: "{sqlite_url}"}}
"""
        daemon = Daemon(parse_config(config))
        await daemon.start()
        try:
            await asyncio.sleep(1.0)
            async with aiohttp.ClientSession() as http, http.get(
                    f"http://127.0.0.1:{daemon.http_port}/metrics") as response:
                text = await response.read()
        finally:
            await daemon.stop()
    process = await asyncio.create_subprocess_exec(
        promtool, "check", "metrics", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate(text)
    assert b"sla_monitor_probe_state" in text
    assert process.returncode == 0, out.decode()
