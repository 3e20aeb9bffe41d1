"""Configuration checks over HTTP against a daemon that probes: does the daemon keep up?

One command::

    python benchmarks/bench_config_check.py [--clients 6] [--mib 4] [--seconds 10]
        [--targets 200] [--sla-monitor PATH] [--json FILE]

It starts ``sla-monitor run`` (an installed one; ``--sla-monitor`` points at another
installation to compare) on a scratch SQLite database, probing ``--targets`` local HTTP
targets (nginx, or an aiohttp server without it) every second, with a write token.
After a warm-up, ``--clients`` clients post a ``--mib`` MiB YAML configuration (tens of
thousands of servers) to ``POST /api/v1/config/check`` again and again for
``--seconds``, with one request over ``http.max_config_bytes`` first; meanwhile a
monitor asks ``/healthz`` every 50 ms. It reports:

* ``/healthz`` latency p50, p99 and max (target: under 100 ms);
* probe lateness p99 during the load, from ``sla_monitor_scheduler_lateness_seconds``
  (target: under 0.5 s), and incidents opened (false outages: every target is up);
* the daemon's resident memory before, at most during (the daemon alone, its children
  apart) and after the load;
* the answers: how many 200, 429, 413 and others;
* the daemon's CPU and the rest of the machine's busy time (others) and steal, in
  CPU-seconds: a disturbed measurement shows there (the machine is shared).

Prints a table; ``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import math
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from _targets import (
    HOST,
    free_port,
    machine_cpu,
    rss_bytes,
    scrape,
    target_server,
    tree_cpu_times,
)
from bench_probes import _buckets, lateness_quantile

DAEMON = Path(sys.executable).parent / "sla-monitor"
TOKEN = "bench-write-token-0123456789abcdef"
LATENESS = "sla_monitor_scheduler_lateness_seconds"
MB = 1024 * 1024


def write_config(workdir: Path, targets: int, base: str, port: int) -> Path:
    (workdir / "api-tokens").write_text(f"write {TOKEN} bench\n")
    lines = [
        f'http: {{listen: "{HOST}:{port}", tokens_file: "{workdir / "api-tokens"}"}}',
        f'storage: {{url: "sqlite+aiosqlite:///{workdir / "bench.db"}"}}',
        "services:",
    ]
    lines += [f'  - {{id: t{i:04d}, kind: mobile_api, probe: {{type: http, '
              f'url: "{base}/t/{i:04d}", interval: 1, timeout: 0.8}}}}' for i in range(targets)]
    config = workdir / "config.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def big_yaml(size: int) -> bytes:
    """A valid configuration of about ``size`` bytes: servers, one per line."""
    lines = ["servers:"]
    total, n = 9, 0
    while total < size:
        line = (f"  - {{id: srv-{n:06d}, name: Server {n}, probe: {{type: tcp, "
                f"host: 10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}, port: 22}}}}")
        lines.append(line)
        total += len(line) + 1
        n += 1
    return ("\n".join(lines) + "\n").encode()


async def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if process.poll() is not None:
                raise RuntimeError(f"the daemon exited with {process.returncode} at start")
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


async def load(base: str, args: argparse.Namespace, pid: int) -> dict[str, Any]:
    body = big_yaml(int(args.mib * MB))
    over = big_yaml(8 * MB + 1024)  # past the default http.max_config_bytes
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/yaml"}
    answers: Counter[str] = Counter()
    latencies: list[float] = []
    timeline: list[tuple[float, float]] = []  # (seconds into the load, /healthz ms)
    begun = time.monotonic()
    peak_rss = [rss_bytes(pid)]
    deadline = time.monotonic() + args.seconds
    timeout = aiohttp.ClientTimeout(total=300)

    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def post(data: bytes) -> None:
            try:
                async with session.post(base + "/api/v1/config/check", data=data,
                                        headers=headers) as response:
                    await response.read()
                    answers[str(response.status)] += 1
            except aiohttp.ClientError as exc:
                answers[type(exc).__name__] += 1

        async def client() -> None:
            while time.monotonic() < deadline:
                await post(body)
                await asyncio.sleep(0.05)

        def health() -> None:
            # A thread of its own with a blocking client: what is measured is the daemon,
            # not this process's event loop sending the bodies.
            connection = http.client.HTTPConnection(HOST, int(base.rpartition(":")[2]), timeout=30)
            while time.monotonic() < deadline + 2:
                started = time.monotonic()
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                latencies.append(time.monotonic() - started)
                timeline.append((round(started - begun, 2), round(1000 * latencies[-1], 1)))
                peak_rss[0] = max(peak_rss[0], rss_bytes(pid))
                time.sleep(0.05)
            connection.close()

        watching = asyncio.ensure_future(asyncio.to_thread(health))
        await post(over)
        await asyncio.gather(*(client() for _ in range(args.clients)))
        await watching
    latencies.sort()
    return {
        "answers": dict(answers),
        "healthz_ms": {
            "p50": round(1000 * statistics.median(latencies), 1),
            "p99": round(1000 * latencies[min(len(latencies) - 1,
                                              math.ceil(0.99 * len(latencies)) - 1)], 1),
            "max": round(1000 * latencies[-1], 1),
            "count": len(latencies),
        },
        "rss_peak_mb": round(peak_rss[0] / MB, 1),
        "healthz_slowest": sorted(timeline, key=lambda t: -t[1])[:10],
        "body_mib": round(len(body) / MB, 2),
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    with target_server() as server, tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        config = write_config(workdir, args.targets, server.url(""), port)
        base = f"http://{HOST}:{port}"
        log = (workdir / "daemon.log").open("wb")
        process = subprocess.Popen(  # noqa: ASYNC220 (starting it does not block)
            [str(args.sla_monitor), "-c", str(config), "run"], cwd=workdir,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        try:
            try:
                await wait_for(base + "/healthz", process)
            except RuntimeError:
                print((workdir / "daemon.log").read_text()[-3000:], file=sys.stderr)
                raise
            print(f"warm-up {args.warmup:g} s...", file=sys.stderr)
            await asyncio.sleep(args.warmup)
            rss_before = rss_bytes(process.pid)
            first, _ = scrape(base + "/metrics", (LATENESS + "_bucket",))
            cpu_start, (busy_start, steal_start) = sum(tree_cpu_times(process.pid)), machine_cpu()
            own_start = sum(os.times()[:2])
            started = time.monotonic()
            print(f"load {args.seconds:g} s...", file=sys.stderr)
            found = await load(base, args, process.pid)
            elapsed = time.monotonic() - started
            last, _ = scrape(base + "/metrics", (LATENESS + "_bucket",))
            cpu_end, (busy_end, steal_end) = sum(tree_cpu_times(process.pid)), machine_cpu()
            own_end = sum(os.times()[:2])
            await asyncio.sleep(2)
            rss_after = rss_bytes(process.pid)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            status = await asyncio.to_thread(process.wait, 120)
            log.close()
        with sqlite3.connect(workdir / "bench.db") as db:
            incidents = db.execute("SELECT count(*) FROM incidents").fetchone()[0]
        errors = [line for line in (workdir / "daemon.log").read_text().splitlines()
                  if '"level": "error"' in line]
    before = _buckets(first, LATENESS)
    late = {b: c - before.get(b, 0.0) for b, c in _buckets(last, LATENESS).items()}
    daemon_cpu = cpu_end - cpu_start
    own_cpu = own_end - own_start
    return {
        "clients": args.clients,
        "load_seconds": args.seconds,
        "seconds": round(elapsed, 1),
        "targets": args.targets,
        "sla_monitor": str(args.sla_monitor),
        **found,
        "probe_lateness_p99_s": round(lateness_quantile(0.99, late), 3),
        "probes_in_window": late.get(math.inf, 0.0),
        "rss_before_mb": round(rss_before / MB, 1),
        "rss_after_mb": round(rss_after / MB, 1),
        "incidents_opened": incidents,
        "daemon_errors_logged": len(errors),
        "daemon_cpu_s": round(daemon_cpu, 1),
        "bench_cpu_s": round(own_cpu, 1),
        "others_cpu_s": round(busy_end - busy_start - daemon_cpu - own_cpu, 1),
        "steal_cpu_s": round(steal_end - steal_start, 1),
        "exit_status": status,
    }


def report(found: dict[str, Any]) -> None:
    health = found["healthz_ms"]
    answers = found["answers"]
    others = sum(v for k, v in answers.items() if k not in ("200", "429", "413"))
    print(f"\nConfiguration checks: {found['clients']} clients posting {found['body_mib']} MiB "
          f"for {found['load_seconds']:g} s (the last answer after {found['seconds']} s); the "
          f"daemon probes {found['targets']} local targets every second.\n")
    rows = [
        ("/healthz p50 / p99 / max ms", f"{health['p50']} / {health['p99']} / {health['max']}",
         "< 100"),
        ("probe lateness p99 s", f"{found['probe_lateness_p99_s']}", "< 0.5"),
        ("incidents opened", f"{found['incidents_opened']}", "0"),
        ("RSS before / peak / after MB",
         f"{found['rss_before_mb']} / {found['rss_peak_mb']} / {found['rss_after_mb']}", ""),
        ("answers 200 / 429 / 413 / other",
         f"{answers.get('200', 0)} / {answers.get('429', 0)} / {answers.get('413', 0)} / {others}",
         ""),
        ("daemon CPU s (with children)", f"{found['daemon_cpu_s']}", ""),
        ("others / steal CPU s", f"{found['others_cpu_s']} / {found['steal_cpu_s']}", ""),
        ("errors logged", f"{found['daemon_errors_logged']}", ""),
    ]
    for name, value, target in rows:
        print(f"{name:>32}  {value:<28} {target}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--mib", type=float, default=4.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--sla-monitor", type=Path, default=DAEMON)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    found = asyncio.run(bench(args))
    report(found)
    if args.json is not None:
        args.json.write_text(json.dumps(found, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
