"""Signals at awkward moments (SPEC section 8): a SIGHUP 0.5 s after the
start, a SIGHUP during a SIGTERM shutdown, a storm of ten SIGHUPs in a second while the file
changes under them, and a YAML bomb on SIGHUP. The daemon, a real subprocess, survives each:
after the storm exactly the last configuration is in force; the bomb is refused within
seconds and the old configuration keeps running."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from monitor.store import create_engine
from monitor.store.models import ProbeRun
from monitor.testing.targets import TargetServer
from tests.support import DaemonProcess, eventually, free_port, rows

pytestmark = pytest.mark.slow

BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def config_text(target: TargetServer, db_url: str, port: int, services: int,
                timeout: str = "0.3s") -> str:
    lines = [
        "monitor: {heartbeat_interval: 0.2s, unknown_after: 1s}",
        f'http: {{listen: "127.0.0.1:{port}"}}',
        f'storage: {{url: "{db_url}"}}',
        "services:",
    ]
    lines += [
        f'  - {{id: svc-{n}, kind: mobile_api, probe: {{type: http, url: "{target.url("/")}", '
        f"interval: 0.4s, timeout: {timeout}}}}}"
        for n in range(services)
    ]
    return "\n".join(lines) + "\n"


async def metric(port: int, name: str) -> float | None:
    try:
        async with aiohttp.ClientSession() as http, http.get(
                f"http://127.0.0.1:{port}/metrics", timeout=aiohttp.ClientTimeout(total=5)) as r:
            text = await r.text()
    except aiohttp.ClientError:
        return None
    found = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
    return float(found[1]) if found else None


async def _true(value: object) -> object:
    return value


async def test_a_sighup_while_still_importing_is_a_reload_not_death(
    tmp_path: Path, sqlite_url: str, daemon_process
) -> None:  # type: ignore[no-untyped-def]
    async with TargetServer() as target:
        config = tmp_path / "config.yaml"
        port = free_port()
        config.write_text(config_text(target, sqlite_url, port, 1))
        daemon: DaemonProcess = daemon_process(config)
        daemon.start()
        # As soon as its handler is there (the first thing the command does: about 0.1 s
        # after the start here, later on a loaded machine), still importing: no event loop
        # yet. Sent before, SIGHUP's default action would end the process, as it would any.
        await eventually(lambda: _true(daemon.catches(signal.SIGHUP)), within=30)
        daemon.signal(signal.SIGHUP)
        await asyncio.sleep(0.5)
        daemon.signal(signal.SIGHUP)
        await eventually(lambda: _true('"event": "configuration reloaded"' in daemon.output()),
                         within=30)
        assert daemon.alive()
        assert await metric(port, "sla_monitor_targets") == 1
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.output()


async def test_a_sighup_during_the_shutdown_is_ignored(
    tmp_path: Path, sqlite_url: str, daemon_process
) -> None:  # type: ignore[no-untyped-def]
    async with TargetServer() as target:
        config = tmp_path / "config.yaml"
        # Answers take 2 s with a 3 s timeout: SIGTERM waits for the probe in flight.
        config.write_text(config_text(target, sqlite_url, free_port(), 1).replace(
            "interval: 0.4s, timeout: 0.3s", "interval: 5s, timeout: 3s"))
        target.set_delay(2.0)
        daemon: DaemonProcess = daemon_process(config)
        daemon.start()
        await eventually(lambda: _true(target.in_flight > 0), within=30)
        daemon.signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        daemon.signal(signal.SIGHUP)
        assert daemon.wait() == 0, daemon.output()
        assert "SIGHUP ignored: the daemon is stopping" in daemon.output()
        assert '"event": "daemon stopped"' in daemon.output()
        # The log says when and why the stop began, before the probe it waited for: a
        # stop of seconds (in-flight probes and sends finish) was silent until its end.
        lines = [json.loads(line) for line in daemon.output().splitlines()
                 if line.startswith("{")]
        events = [line["event"] for line in lines]
        asked = events.index("stopping")
        assert lines[asked]["signal"] == "SIGTERM"
        assert asked < events.index("SIGHUP ignored: the daemon is stopping")


async def test_a_storm_of_sighups_leaves_the_last_configuration_in_force(
    tmp_path: Path, sqlite_url: str, daemon_process
) -> None:  # type: ignore[no-untyped-def]
    async with TargetServer() as target:
        config = tmp_path / "config.yaml"
        port = free_port()
        config.write_text(config_text(target, sqlite_url, port, 1))
        daemon: DaemonProcess = daemon_process(config)
        daemon.start()
        engine = create_engine(sqlite_url)
        try:
            await eventually(lambda: metric(port, "sla_monitor_targets"), within=30)
            # Ten versions in one second, each with one more service, each signalled. Each is
            # written as the README asks (a temporary file renamed over the old one), so no
            # reload can read a half-written file: any refusal here would be the daemon's fault.
            for services in range(2, 12):
                written = tmp_path / "config.yaml.tmp"
                written.write_text(config_text(target, sqlite_url, port, services))
                written.replace(config)
                daemon.signal(signal.SIGHUP)
                await asyncio.sleep(0.1)

            async def eleven() -> bool:
                return await metric(port, "sla_monitor_targets") == 11

            await eventually(eleven, within=30)
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.target_id == "svc-10"),
                             within=30)
            await asyncio.sleep(1.5)  # settled: no older version comes back
            assert await metric(port, "sla_monitor_targets") == 11
            applied = daemon.output().count('"event": "configuration reloaded"')
            assert 1 <= applied <= 10
            assert "reload refused" not in daemon.output()
            assert daemon.alive()
            daemon.signal(signal.SIGTERM)
            assert daemon.wait() == 0, daemon.output()
        finally:
            await engine.dispose()


async def test_a_yaml_bomb_on_sighup_is_refused_quickly(
    tmp_path: Path, sqlite_url: str, daemon_process
) -> None:  # type: ignore[no-untyped-def]
    async with TargetServer() as target:
        config = tmp_path / "config.yaml"
        port = free_port()
        config.write_text(config_text(target, sqlite_url, port, 2))
        daemon: DaemonProcess = daemon_process(config)
        daemon.start()
        await eventually(lambda: metric(port, "sla_monitor_targets"), within=30)
        config.write_text(BOMB)
        sent = time.monotonic()
        daemon.signal(signal.SIGHUP)
        await eventually(lambda: _true("configuration reload refused" in daemon.output()),
                         within=15)
        # It used to stall the daemon 15.6 s and grow it to 2.28 GB.
        assert time.monotonic() - sent < 10
        assert "YAML aliases expand to more than 200,000 nodes" in daemon.output()
        assert daemon.alive() and await metric(port, "sla_monitor_targets") == 2
        assert daemon.process is not None
        status = await asyncio.to_thread(Path(f"/proc/{daemon.process.pid}/status").read_text)
        rss_kb = int(re.search(r"VmRSS:\s+(\d+) kB", status)[1])  # type: ignore[index]
        assert rss_kb < 400_000, rss_kb
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.output()
