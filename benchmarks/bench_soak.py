"""A long run of the real daemon: does anything grow that should not?

Run: ``python benchmarks/bench_soak.py`` (30 minutes after a 2-minute warm-up;
``--minutes 5`` for a short look). Not in CI.

The installed ``sla-monitor`` (next to ``sys.executable``) runs as a subprocess on
2,000 targets at a 30 s interval (``--targets``), SQLite in a temporary directory:

* 95 % of them are ``mobile_api`` services on a local nginx that always answers 200;
* 5 % (``--flapping``) are customers' projects on a target server in this process
  that is down for 2 minutes of every 10 (each target at its own phase): every
  cycle opens an incident (3 failures at 30 s) and closes it (2 successes), 8 minutes
  apart, so no flap is merged (5-minute flap window). Each project belongs to one
  customer with a technical and an executive contact; mail goes to a local SMTP sink
  (:mod:`monitor.testing.smtp`) in this process.

Measured:

* resident memory, open file descriptors (``/proc/PID/fd``) and asyncio tasks
  (``sla_monitor_event_loop_tasks``) after the warm-up and at the end: no growth;
* scheduling lateness p99 and the worst bucket per 5-minute window
  (``sla_monitor_scheduler_lateness_seconds``), and missed runs; in each window the
  daemon's CPU (all its processes), the rest of the machine's busy time (others: nginx,
  this process's target server and SMTP sink, other sessions) and steal, in % of one CPU;
* database growth: the SQLite file (with its WAL) per hour, and ``sla-monitor db
  stats`` at the end (rows and bytes per target-day);
* e-mails: every incident opened owes one outage e-mail to its customer and every
  incident closed one recovery e-mail (no operators are configured); the SMTP sink
  must have accepted exactly that many, no more (nothing sent twice) and no fewer.

Prints a table and, with ``--json PATH``, writes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _targets import HOST, Load, Nginx, free_port, rss_bytes, scrape, tree_cpu_times
from aiohttp import web
from bench_probes import _buckets, _highest, _sum, lateness_quantile

from monitor.testing.smtp import SMTPSink

DAEMON = Path(sys.executable).parent / "sla-monitor"
CYCLE = 600.0  # a flapping target's cycle: down DOWN seconds of every CYCLE
DOWN = 120.0
WINDOW = 300.0  # lateness per 5-minute window
FAMILIES = (
    "sla_monitor_scheduler_lateness_seconds_bucket",
    "sla_monitor_scheduler_missed_runs_total",
    "sla_monitor_event_loop_tasks",
    "sla_monitor_probe_results_total",
)
MB = 1024 * 1024


class Flapper:
    """Answers ``/f/N`` with 503 during target N's down phase, else 200 (by wall time)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    def down(self, index: int, at: float) -> bool:
        phase = CYCLE * index / self.count
        return (at + phase) % CYCLE < DOWN

    async def _answer(self, request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        if self.down(index, time.time()):
            return web.Response(status=503, text="down for the soak\n")
        return web.Response(text="ok\n")

    async def __aenter__(self) -> Flapper:
        app = web.Application()
        app.router.add_get("/f/{index}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, HOST, self.port, backlog=1024).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def write_config(path: Path, args: argparse.Namespace, nginx: str, flapper: int, smtp: int,
                 port: int) -> int:
    flapping = max(1, round(args.targets * args.flapping))
    probe = "interval: 30, timeout: 5"
    lines = [
        "monitor: {max_concurrency: 500}",
        f'http: {{listen: "{HOST}:{port}"}}',
        f'storage: {{url: "sqlite+aiosqlite:///{path.parent / "soak.db"}"}}',
        f"smtp: {{host: {HOST}, port: {smtp}, tls: none, sender: soak@monitor.example}}",
        "servers:",
        f"  - {{id: srv-1, probe: {{type: tcp, host: {HOST}, port: {flapper}, {probe}}}}}",
        "services:",
    ]
    lines += [
        f'  - {{id: p{i:04d}, kind: project, server: srv-1, probe: {{type: http, '
        f'url: "http://{HOST}:{flapper}/f/{i}", {probe}}}}}'
        for i in range(flapping)
    ]
    lines += [
        f'  - {{id: t{i:05d}, kind: mobile_api, probe: {{type: http, '
        f'url: "{nginx}/t/{i:05d}", {probe}}}}}'
        for i in range(args.targets - flapping - 1)
    ]
    lines.append("customers:")
    lines += [
        f"  - {{id: c{i:04d}, name: Customer {i}, contacts: {{technical: {{email: "
        f"tech@c{i}.example}}, executive: {{email: ceo@c{i}.example}}}}, fee: {{amount: 3650, "
        f"currency: EUR}}, services: [p{i:04d}], sites: [{{domain: c{i}.example}}]}}"
        for i in range(flapping)
    ]
    path.write_text("\n".join(lines) + "\n")
    return flapping


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def database_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("soak.db*"))


def snapshot(pid: int, metrics: str, workdir: Path) -> dict[str, Any]:
    samples, _ = scrape(metrics, FAMILIES)
    return {
        "at": time.monotonic(),
        "rss_mb": rss_bytes(pid) / MB,
        "fds": open_fds(pid),
        "tasks": samples.get("sla_monitor_event_loop_tasks", math.nan),
        "db_bytes": database_bytes(workdir),
        "samples": samples,
    }


def window_lateness(first: dict[str, float], last: dict[str, float]) -> tuple[float, str]:
    before = _buckets(first, "sla_monitor_scheduler_lateness_seconds")
    late = {b: c - before.get(b, 0.0) for b, c in
            _buckets(last, "sla_monitor_scheduler_lateness_seconds").items()}
    return lateness_quantile(0.99, late), _highest(late)


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    with Nginx() as nginx, tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        workdir = Path(tmp)
        async with SMTPSink() as sink, Flapper(max(1, round(args.targets * args.flapping))) as flap:
            port = free_port()
            config = workdir / "config.yaml"
            flapping = write_config(config, args, nginx.url(""), flap.port, sink.port, port)
            metrics = f"http://{HOST}:{port}/metrics"
            log = (workdir / "daemon.log").open("wb")
            process = subprocess.Popen(  # noqa: ASYNC220 (starting it does not block)
                [str(DAEMON), "-c", str(config), "run"], cwd=workdir,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            )
            try:
                await _wait_for(metrics, process)
                print(f"warm-up {args.warmup:g} s...", file=sys.stderr)
                await asyncio.sleep(args.warmup)
                start = await asyncio.to_thread(snapshot, process.pid, metrics, workdir)
                load, daemon_cpu = Load(), sum(tree_cpu_times(process.pid))
                windows = []
                previous = start
                deadline = start["at"] + args.minutes * 60
                while (left := deadline - time.monotonic()) > 0:
                    await asyncio.sleep(min(WINDOW, left))
                    if process.poll() is not None:
                        raise RuntimeError(f"the daemon exited with {process.returncode}")
                    now = await asyncio.to_thread(snapshot, process.pid, metrics, workdir)
                    used = sum(tree_cpu_times(process.pid)) - daemon_cpu
                    figures = load.figures(besides=used)
                    load, daemon_cpu = Load(), daemon_cpu + used
                    p99, worst = window_lateness(previous["samples"], now["samples"])
                    windows.append({"minutes": round((now["at"] - start["at"]) / 60, 1),
                                    "lateness_p99_s": round(p99, 3), "worst_bucket_s": worst,
                                    "rss_mb": round(now["rss_mb"], 1), "fds": now["fds"],
                                    "tasks": now["tasks"],
                                    **_percent(figures, used)})
                    print(f"  {windows[-1]}", file=sys.stderr)
                    previous = now
                end = previous
                await asyncio.sleep(15)  # the outbox sends what the last minutes queued
            finally:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                status = await asyncio.to_thread(process.wait, 120)
                log.close()
            stats = await asyncio.to_thread(
                subprocess.run,
                [str(DAEMON), "-c", str(config), "db", "stats", "--format", "json"],
                capture_output=True, text=True, cwd=workdir, check=True,
            )
            with sqlite3.connect(workdir / "soak.db") as db:
                opened = db.execute("SELECT count(*) FROM incidents").fetchone()[0]
                closed = db.execute(
                    'SELECT count(*) FROM incidents WHERE "end" IS NOT NULL').fetchone()[0]
                accepted = db.execute(
                    "SELECT count(*) FROM outbox WHERE accepted_at IS NOT NULL").fetchone()[0]
            received = len(sink.messages)
            problems = [line for line in (workdir / "daemon.log").read_text().splitlines()
                        if '"level": "error"' in line]
    hours = (end["at"] - start["at"]) / 3600
    missed = _sum(end["samples"], "sla_monitor_scheduler_missed_runs_total")
    db_stats = json.loads(stats.stdout)
    return {
        "targets": args.targets,
        "flapping": flapping,
        "minutes": round((end["at"] - start["at"]) / 60, 1),
        "exit_status": status,
        "start": {k: start[k] for k in ("rss_mb", "fds", "tasks")},
        "end": {k: end[k] for k in ("rss_mb", "fds", "tasks")},
        "windows": windows,
        "missed_runs": missed,
        "db_growth_mb_per_hour": round((end["db_bytes"] - start["db_bytes"]) / MB / hours, 2),
        "db_rows_per_target_day": db_stats["rows_per_target_day"],
        "db_bytes_per_target_day": db_stats["bytes_per_target_day"],
        "incidents_opened": opened,
        "incidents_closed": closed,
        "emails_expected": opened + closed,
        "emails_accepted_by_sink": received,
        "emails_marked_accepted": accepted,
        "daemon_errors_logged": len(problems),
    }


def _percent(figures: dict[str, float], daemon_cpu: float) -> dict[str, float]:
    """A window's daemon CPU, others and steal in % of one CPU (:class:`Load`'s seconds)."""
    wall = figures["wall_s"]
    return {"daemon_cpu_percent": round(100 * daemon_cpu / wall, 1),
            "others_percent": round(100 * figures["others_cpu_s"] / wall, 1),
            "steal_percent": round(100 * figures["steal_s"] / wall, 1)}


async def _wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    import urllib.request

    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited with {process.returncode} at start")
        try:
            await asyncio.to_thread(urllib.request.urlopen, url, None, 5)
            return
        except OSError:
            await asyncio.sleep(0.5)
    raise RuntimeError(f"{url} did not answer")


def report(found: dict[str, Any]) -> None:
    print(f"\nSoak: {found['targets']} targets at 30 s, {found['flapping']} flapping "
          f"(down 2 of every 10 minutes), {found['minutes']} minutes after the warm-up.\n")
    start, end = found["start"], found["end"]
    print(f"{'':>22} {'start':>8} {'end':>8}")
    for key, name in (("rss_mb", "RSS MB"), ("fds", "open fds"), ("tasks", "asyncio tasks")):
        print(f"{name:>22} {start[key]:>8.1f} {end[key]:>8.1f}")
    print(f"\n{'minutes':>8} {'late p99 s':>10} {'<= s':>5} {'RSS MB':>7} {'fds':>5} {'tasks':>6} "
          f"{'daemon CPU %':>12} {'others %':>8} {'steal %':>7}")
    for w in found["windows"]:
        print(f"{w['minutes']:>8} {w['lateness_p99_s']:>10.3f} {w['worst_bucket_s']:>5} "
              f"{w['rss_mb']:>7.1f} {w['fds']:>5} {w['tasks']:>6.0f} "
              f"{w['daemon_cpu_percent']:>12.1f} {w['others_percent']:>8.1f} "
              f"{w['steal_percent']:>7.1f}")
    print(
        f"\nmissed runs {found['missed_runs']:.0f}; database +{found['db_growth_mb_per_hour']} MB "
        f"per hour (SQLite file and WAL); db stats: {found['db_rows_per_target_day']:.1f} rows, "
        f"{found['db_bytes_per_target_day']:.0f} bytes per target-day\n"
        f"incidents opened {found['incidents_opened']}, closed {found['incidents_closed']}: "
        f"{found['emails_expected']} e-mails owed; the SMTP sink accepted "
        f"{found['emails_accepted_by_sink']} (outbox: {found['emails_marked_accepted']} accepted)"
        f"; daemon exit {found['exit_status']}, {found['daemon_errors_logged']} errors logged"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=2000)
    parser.add_argument("--flapping", type=float, default=0.05, help="share of targets")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=120.0, help="seconds")
    parser.add_argument("--json", type=Path, metavar="PATH")
    args = parser.parse_args()
    if not DAEMON.exists():
        parser.error(f"{DAEMON} not found: run this with the python of the venv of sla-monitor")
    found = asyncio.run(soak(args))
    report(found)
    if args.json is not None:
        args.json.write_text(json.dumps(found, indent=2) + "\n")
    ok = (found["emails_accepted_by_sink"] == found["emails_expected"]
          and found["exit_status"] == 0 and found["missed_runs"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
