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


# In a child: RSS (KB) after a large block is freed twice (glibc raises its thresholds after the
# first: the second comes from the heap and is kept when freed, unless they are held fixed).
_LARGE_BLOCKS = """
import sys
from monitor.daemon.loop import hold_no_spare_memory
if sys.argv[1] == "held":
    hold_no_spare_memory()
def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0])
before = rss()
for _ in range(2):
    block = bytearray(24 * 1024 * 1024)
    del block
print(rss() - before)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt")
def test_a_large_block_freed_is_given_back_to_the_system() -> None:
    import subprocess

    kept = {how: int(subprocess.run([sys.executable, "-c", _LARGE_BLOCKS, how], check=True,
                                    capture_output=True, text=True).stdout)
            for how in ("default", "held")}
    assert kept["default"] > 20_000, kept  # glibc's own thresholds: the 24 MB stay
    assert kept["held"] < 4_000, kept
