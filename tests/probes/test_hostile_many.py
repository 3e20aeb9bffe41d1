"""Many hostile targets at once (SPEC section 8, defect 8): 200 probes with
``max_body_bytes`` at its 64 MiB maximum, against an endless body and a gzip bomb.

Before the fix, 200 such probes ran 68 s against a 3 s timeout and peaked at 12.9 GB
(the gzip bomb), or 1.0 GB (the endless body): the body loop never waited, so the
deadline was never delivered, and every probe held its own 64 MiB. Now ``timeout`` is a
hard deadline checked before each chunk, ``body_contains`` streams, and all bodies
together hold at most ``monitor.max_body_memory`` (default 64 MiB).

The probes run in a child process (the installed package, isolated from the checkout)
so that its peak resident memory (``VmHWM``) is theirs alone; the targets run here.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from monitor.testing.targets import TargetServer
from tests.support import MARGIN, communicate_within

MiB = 1 << 20
PROBES = 200
TIMEOUT = 2.0
BUDGET = 64 * MiB  # monitor.max_body_memory's default
# Beyond the budget: per connection aiohttp's read-ahead (twice its 16 KiB read_bufsize) and
# one transport read (256 KiB), a JSON body's bytearray slack, and the allocator's rounding.
SLACK_PER_PROBE = 1 * MiB

CHILD = """
import asyncio, json, sys, time
from monitor.config.schema import HTTPProbe
from monitor.probes import ProbeSessions, build_probe

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

async def main(url, count, timeout, condition):
    async with ProbeSessions(max_concurrency=count) as sessions:
        probes = [
            build_probe(f"t{i}", HTTPProbe(type="http", url=f"{url}?{i}", timeout=timeout,
                        interval=2 * timeout, max_body_bytes=64 * 1024 * 1024, **condition),
                        sessions)
            for i in range(count)
        ]
        before = peak()

        async def one(probe):
            started = time.monotonic()
            result = await probe.check()
            return time.monotonic() - started, result.failure_class

        done = await asyncio.gather(*(one(p) for p in probes))
        counts = {}
        for _, c in done:
            counts[c] = counts.get(c, 0) + 1
        print(json.dumps({"elapsed": [e for e, _ in done], "counts": counts,
                          "peak_before": before, "peak": peak(),
                          "budget_peak": sessions.body_budget.peak}))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), json.loads(sys.argv[4])))
"""


async def run_probes(url: str, condition: dict[str, Any], cwd: Path) -> dict[str, Any]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-I",  # the installed package, never the checkout (no cwd or PYTHONPATH on sys.path)
        "-c",
        CHILD,
        url,
        str(PROBES),
        str(TIMEOUT),
        json.dumps(condition),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await communicate_within(child, 120)
    assert child.returncode == 0, err.decode()[-2000:]
    result: dict[str, Any] = json.loads(out)
    return result


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "condition", "also_allowed"),
    [
        # The JSON condition keeps the body: the byte budget is what bounds memory. The body
        # never ends, so every probe ends by its deadline.
        ("/hostile/endless", {"json": {"path": "status", "equals": "ok"}}, set()),
        # 64 MiB of zeros in 64 KiB of gzip: inflating never waits for the network. Most
        # probes end by their deadline; one that got ahead of the others may inflate all
        # 64 MiB (exactly max_body_bytes) in time and rightly find no needle: "condition".
        ("/hostile/gzip-bomb", {"body_contains": "needle"}, {"condition"}),
    ],
)
async def test_two_hundred_hostile_probes_end_on_time_in_bounded_memory(
    path: str, condition: dict[str, Any], also_allowed: set[str], tmp_path: Path
) -> None:
    async with TargetServer() as server:
        found = await run_probes(server.url(path), condition, tmp_path)

    counts: dict[str, int] = found["counts"]
    assert set(counts) <= {"timeout"} | also_allowed, counts
    # The deadline is what ends them: most of the 200 time out.
    assert counts.get("timeout", 0) > PROBES // 2, counts
    # timeout is a hard deadline for the whole check, for every one of them.
    assert max(found["elapsed"]) < TIMEOUT + MARGIN, sorted(found["elapsed"])[-5:]
    # Bodies held together never exceed the budget; memory beyond it is per connection.
    assert found["budget_peak"] <= BUDGET
    growth = found["peak"] - found["peak_before"]
    assert growth < BUDGET + PROBES * SLACK_PER_PROBE, f"peak grew by {growth / MiB:.0f} MiB"
