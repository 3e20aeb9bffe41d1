# ruff: noqa: S603, ASYNC220 (a CI script that runs the product it just installed)
"""CI smoke test of the installed product, run from a temporary directory outside the checkout.

The venv's ``sla-monitor run`` with a one-target configuration: /healthz answers, /metrics
shows probe results, the target stops, ``sla-monitor incident list`` shows the incident,
and SIGTERM stops the daemon with exit code 0. Usage: ``VENV/bin/python .ci/smoke.py VENV/bin``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from monitor.testing.targets import TargetServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback only)
        return str(response.read().decode())


async def wait_for(what: str, check, within: float = 30.0) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = await asyncio.to_thread(check)
            if value:
                print(f"smoke: {what}: ok")
                return str(value)
        except Exception as exc:  # not up yet
            last = exc
        await asyncio.sleep(0.3)
    raise SystemExit(f"smoke: {what}: not within {within} s (last: {last!r})")


async def main(bindir: Path) -> None:
    sla_monitor = str(bindir / "sla-monitor")
    work = Path(tempfile.mkdtemp(prefix="sla-monitor-smoke."))
    os.chdir(work)
    print(f"smoke: working in {work} with {sla_monitor}")
    port = free_port()
    async with TargetServer() as target:
        config = work / "config.yaml"
        config.write_text(
            f"""\
provider: {{name: Smoke, timezone: UTC}}
monitor: {{heartbeat_interval: 1s, unknown_after: 5s}}
services:
  - id: panel
    kind: web_panel
    probe: {{type: http, url: "{target.url("/")}", interval: 0.5s, timeout: 0.4s,
             fail_after: 2, recover_after: 2}}
http: {{listen: "127.0.0.1:{port}"}}
"""
        )
        log = (work / "daemon.log").open("wb")
        daemon = subprocess.Popen(
            [sla_monitor, "-c", str(config), "run"], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_for("/healthz answers", lambda: get(f"{base}/healthz"))
            await wait_for(
                "/metrics shows an up probe result",
                lambda: (
                    'sla_monitor_probe_state{kind="web_panel",target="panel"} 1.0'
                    in get(f"{base}/metrics")
                ),
            )
            await target.set_down()
            print("smoke: target stopped")

            def incident_listed() -> bool:
                done = subprocess.run(
                    [sla_monitor, "-c", str(config), "incident", "list", "--open"],
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                if done.returncode != 0:
                    raise RuntimeError(done.stderr)
                return any(line.split()[1:2] == ["panel"] for line in done.stdout.splitlines()[2:])

            await wait_for("sla-monitor incident list shows the open incident", incident_listed)
            daemon.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(daemon.wait, 30)
            if code != 0:
                raise SystemExit(f"smoke: the daemon exited {code} on SIGTERM")
            print("smoke: SIGTERM: exit 0")
        except BaseException:
            log.flush()
            print((work / "daemon.log").read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
            log.close()
    shutil.rmtree(work)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
