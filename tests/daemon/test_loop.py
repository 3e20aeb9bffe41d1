"""``monitor.event_loop``: the installed daemon runs on uvloop by default on Linux, on
asyncio's own loop when told so, and says which at start."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.daemon.loop import loop_factory
from tests.support import DaemonProcess, eventually


def test_asyncio_needs_no_factory() -> None:
    assert loop_factory("asyncio") == (None, "asyncio")


@pytest.mark.skipif(sys.platform != "linux", reason="uvloop is a dependency on Linux only")
def test_auto_is_uvloop_on_linux() -> None:
    import uvloop

    assert loop_factory("auto") == (uvloop.new_event_loop, "uvloop")
    assert loop_factory("uvloop")[1] == "uvloop"


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="uvloop is a dependency on Linux only")
@pytest.mark.parametrize(("setting", "expected"), [("auto", "uvloop"), ("asyncio", "asyncio")])
async def test_the_daemon_says_which_loop_it_runs(
    setting: str,
    expected: str,
    tmp_path: Path,
    daemon_process: Callable[[Path], DaemonProcess],
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"monitor: {{event_loop: {setting}}}\n"
        'http: {listen: "127.0.0.1:0"}\n'
        f'storage: {{url: "sqlite+aiosqlite:///{tmp_path / "db.sqlite"}"}}\n'
    )
    daemon = daemon_process(config)
    daemon.start()

    async def started() -> dict[str, object] | None:
        for line in daemon.output().splitlines():
            if '"daemon started"' in line:
                found: dict[str, object] = json.loads(line)
                return found
        assert daemon.alive(), daemon.output()[-2000:]
        return None

    event = await eventually(started, within=30)
    assert event["event_loop"] == expected
    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0
