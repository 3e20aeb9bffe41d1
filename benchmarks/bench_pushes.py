"""Push targets at scale: the installed daemon taking every job's call and checking each target.

Run: ``python benchmarks/bench_pushes.py [--targets 1000,10000] [--interval 60]
[--minutes 3] [--json PATH]``. Not in CI.

For each size, the installed ``sla-monitor`` (next to ``sys.executable``) runs as a
subprocess with that many push targets (README "Push targets"; ``interval`` 60 s, a call
at most 10 s late, two missed open an incident), SQLite in a temporary directory, one
``push:ID`` token per target in ``http.tokens_file`` (hashed, as ``token new`` writes
them). This process plays the jobs: each target's job calls ``POST /api/v1/push/ID`` once
every interval, the jobs spread evenly over it (``targets / interval`` calls a second).
After one interval and its timeout (before it, a target not called yet is ``unknown``),
it measures for ``--minutes``:

* the calls made and answered 200, and each call's time (median, p99);
* the daemon's CPU (all its processes) per 1,000 calls: taking the calls and checking the
  targets (one check per target and interval), with its RSS at the end and per target;
* the jobs' own CPU (this process), the rest of the machine's busy time (others) and
  steal, in CPU-seconds over the window: the machine is shared;
* what the daemon concluded: targets down on ``/metrics`` and incidents opened (every job
  called in time: both must be 0).

Prints a table and, with ``--json PATH``, writes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from _targets import HOST, Load, free_port, scrape, stop_process, tree_cpu_times, tree_rss_bytes

from monitor.config.credentials import hash_line

DAEMON = Path(sys.executable).parent / "sla-monitor"
TIMEOUT = 10  # how late a call may come (the probe's timeout; half a shorter interval)
MB = 1024 * 1024


def token(index: int) -> str:
    return f"push-token-of-job-{index:06d}-bench"


def late(interval: float) -> float:
    return min(TIMEOUT, interval / 2)


def write_config(directory: Path, targets: int, interval: float, port: int) -> Path:
    (directory / "tokens").write_text("".join(
        hash_line(f"push:j{i:06d}", token(i), f"j{i:06d}") + "\n" for i in range(targets)))
    lines = [
        "monitor: {probe_workers: 0}",
        f'http: {{listen: "{HOST}:{port}", tokens_file: "{directory / "tokens"}"}}',
        f'storage: {{url: "sqlite+aiosqlite:///{directory / "pushes.db"}"}}',
        "services:",
    ]
    lines += [f"  - {{id: j{i:06d}, kind: mobile_api, probe: {{type: push, interval: "
              f"{interval:g}, timeout: {late(interval):g}, fail_after: 2}}}}" for i in range(targets)]
    path = directory / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def jobs(url: str, targets: int, interval: float, until: float,
               took: list[float], statuses: dict[int, int]) -> None:
    """Each target's job calls once every ``interval``, at its own phase, until ``until``
    (``time.monotonic()``); each call's time and status kept."""
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def call(index: int) -> None:
            started = time.perf_counter()
            try:
                async with http.post(f"{url}/api/v1/push/j{index:06d}",
                                     headers={"Authorization": f"Bearer {token(index)}"}
                                     ) as answer:
                    await answer.read()
                    status = answer.status
            except aiohttp.ClientError:
                status = 0
            took.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

        began = time.monotonic()
        running: set[asyncio.Task[None]] = set()
        made = 0
        while True:
            due = began + made * interval / targets
            if due >= until:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.create_task(call(made % targets))
            running.add(task)
            task.add_done_callback(running.discard)
            made += 1
        await asyncio.gather(*running)


async def run(targets: int, interval: float, minutes: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sla-bench-pushes-") as directory:
        port = free_port()
        config = write_config(Path(directory), targets, interval, port)
        url = f"http://{HOST}:{port}"
        log = Path(directory) / "daemon.log"
        with log.open("wb") as written:
            daemon = await asyncio.to_thread(
                subprocess.Popen, [str(DAEMON), "-c", str(config), "run"],
                stdout=written, stderr=subprocess.STDOUT)
        try:
            for _ in range(600):
                if daemon.poll() is not None:
                    raise SystemExit(f"the daemon exited ({daemon.returncode}):\n"
                                     + log.read_text()[-3000:])
                try:
                    scrape(f"{url}/metrics", ("sla_monitor_probe_state",))
                    break
                except OSError:
                    await asyncio.sleep(0.2)
            warm = interval + late(interval) + 5  # every target called once and watched long enough
            window = minutes * 60
            took: list[float] = []
            statuses: dict[int, int] = {}
            calls = asyncio.create_task(jobs(url, targets, interval,
                                             time.monotonic() + warm + window, took, statuses))
            await asyncio.sleep(warm)
            took.clear()
            statuses.clear()
            cpu_before = sum(tree_cpu_times(daemon.pid))
            load = Load()
            await calls
            daemon_cpu = sum(tree_cpu_times(daemon.pid)) - cpu_before
            figures = load.figures(besides=daemon_cpu)
            rss = tree_rss_bytes(daemon.pid)
            states, _ = scrape(f"{url}/metrics", ("sla_monitor_probe_state{",))
        finally:
            stop_process(daemon, within=30)
            if daemon.returncode not in (0, -15):
                sys.stderr.write(log.read_text()[-3000:])
        with sqlite3.connect(Path(directory) / "pushes.db") as db:
            incidents = db.execute("SELECT count(*) FROM incidents").fetchone()[0]
    answered = statuses.get(200, 0)
    ordered = sorted(took)
    return {
        "targets": targets, "interval_s": interval, "window_s": figures["wall_s"],
        "calls": sum(statuses.values()), "answered_200": answered,
        "other_statuses": {str(k): v for k, v in statuses.items() if k != 200},
        "calls_per_s": answered / figures["wall_s"],
        "call_median_ms": 1000 * statistics.median(ordered) if ordered else None,
        "call_p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))] if ordered else None,
        "daemon_cpu_s": daemon_cpu,
        "daemon_cpu_s_per_1000_calls": 1000 * daemon_cpu / max(1, answered),
        "daemon_rss_mb": rss / MB, "rss_kb_per_target": rss / 1024 / targets,
        "jobs_cpu_s": figures["cpu_s"], "others_cpu_s": figures["others_cpu_s"],
        "steal_s": figures["steal_s"],
        "targets_down": sum(1 for value in states.values() if value == 0.0),
        "incidents": incidents,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="1000,10000",
                        help="comma-separated numbers of push targets (default 1000,10000)")
    parser.add_argument("--interval", type=float, default=60.0,
                        help="seconds between a job's calls (default 60)")
    parser.add_argument("--minutes", type=float, default=3.0,
                        help="the measured window after the warm-up (default 3)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    rows = [asyncio.run(run(int(n), args.interval, args.minutes))
            for n in args.targets.split(",")]
    print(f"{'targets':>8} {'calls/s':>8} {'answered':>9} {'median ms':>10} {'p99 ms':>7} "
          f"{'daemon cpu-s/1k':>16} {'RSS MB':>7} {'KB/target':>10} {'jobs cpu s':>11} "
          f"{'others s':>9} {'steal s':>8} {'down':>5} {'incidents':>10}")
    for r in rows:
        print(f"{r['targets']:>8,} {r['calls_per_s']:>8.1f} {r['answered_200']:>9,} "
              f"{r['call_median_ms']:>10.2f} {r['call_p99_ms']:>7.2f} "
              f"{r['daemon_cpu_s_per_1000_calls']:>16.3f} {r['daemon_rss_mb']:>7.0f} "
              f"{r['rss_kb_per_target']:>10.1f} {r['jobs_cpu_s']:>11.2f} "
              f"{r['others_cpu_s']:>9.2f} {r['steal_s']:>8.2f} {r['targets_down']:>5} "
              f"{r['incidents']:>10}")
    if args.json:
        args.json.write_text(json.dumps({"benchmark": "bench_pushes", "rows": rows}, indent=2)
                             + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
