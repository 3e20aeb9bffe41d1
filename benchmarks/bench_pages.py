"""How fast the status page, the month's report and the other pages answer at 1,000
customers.

Run: ``python benchmarks/bench_pages.py`` (``--customers``, ``--incidents``, ``--requests``,
``--db URL``; writes ``bench_pages.json``).

``benchmarks/_world.py``'s running month (1,000 customers, 5,000 incidents so far, 200
maintenance windows) in SQLite in a temporary directory, served by the daemon's real
HTTP application on 127.0.0.1; requests one after another (no concurrency: the latency
of one request, not throughput), with an operator's token where one is needed. Each
path is fetched once to warm up, then ``--requests`` times. The pages and the month's
report are kept once made (:mod:`monitor.http.cache`): the report is timed twice, made
anew for each request (its cache emptied before: the engine's work) and as kept.

With ``--concurrency N`` (the stampede: ``python benchmarks/bench_pages.py --concurrency
200``) the server runs in a child process (the daemon's application and a ticker on its
event loop, as a probe's schedule is: how late each 50 ms tick fires says how late a
probe would start), and this process sends the public pages, a customer page and the
month's report from
``N`` clients at once (keep-alive connections, one request at a time each) for
``--seconds`` each. The table: requests per second, p50/p99/max latency, answers that
were not 200, the ticker's p99 and worst lateness, the server's CPU (% of one CPU, and
milliseconds per request: what one CPU would serve), this client's, and the rest of the machine's CPU
(``others``: other processes than the server and this client, in % of one CPU) and the
hypervisor's ``steal``: a disturbed measurement shows there. Targets (at 200 clients on
2 cores): ``/`` 2,000 requests/s, ``/customer/ID`` 300, p99 under 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from _targets import Load, cpu_seconds, machine_cpu
from _world import PERIOD, build, load
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.clock import SystemClock
from monitor.http import Readiness, Web, make_app
from monitor.http.auth import TokenSet
from monitor.http.cache import PageCache
from monitor.store import Database

TOKEN = "bench-operator-token-0123456789"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--incidents", type=int, default=5000, help="incidents so far")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--db", help="database URL (default: SQLite in a temporary directory)")
    parser.add_argument("--json", default="bench_pages.json", help="results file")
    parser.add_argument("--concurrency", type=int,
                        help="clients at once (the server in a child process); "
                             "without it, one request at a time")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="with --concurrency: how long each path is sent")
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the child: its database file
    arguments = parser.parse_args()
    if arguments.serve:
        await serve(arguments)
        return
    if arguments.concurrency:
        await stampede(arguments)
        return
    world = build(arguments.customers, arguments.incidents * 2)  # half the month has run
    paths = [
        ("/", "the status page"),
        (f"/api/v1/reports?month={PERIOD.label}{COMPUTED}",
         "the month's report, every customer, computed"),
        (f"/api/v1/reports?month={PERIOD.label}", "the month's report again, as kept"),
        (f"/api/v1/reports?month={PERIOD.label}&customer=c00042", "one customer's report"),
        ("/customer/c00042", "a customer page"),
        ("/api/v1/customers/c00042", "a customer's overview (API)"),
        ("/feed.atom", "the Atom feed"),
        ("/api/v2/summary.json", "Statuspage summary"),
        ("/badge/panel/status.svg", "a badge"),
    ]
    results: dict[str, list[float]] = {}
    loads: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(arguments.db or f"sqlite+aiosqlite:///{tmp}/bench.db")
        await db.upgrade()
        await load(db, world)
        context = Web(db, world.settings, SystemClock(),
                      TokenSet.parse(f"read {TOKEN} bench", "bench"))

        async def ready() -> Readiness:
            return Readiness({"database": True}, targets=0)

        runner = web.AppRunner(make_app(CollectorRegistry(), ready, context), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with aiohttp.ClientSession(
                    headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                for path, _ in paths:
                    url = f"http://127.0.0.1:{port}{path}"
                    measured = Load()  # the server and its client, both in this process
                    for attempt in range(arguments.requests + 1):
                        if path.endswith(COMPUTED):  # nothing kept: the report computed
                            context.pages = PageCache()
                        began = time.perf_counter()
                        async with http.get(url) as response:
                            size = len(await response.read())
                            assert response.status == 200, (path, response.status)
                        if attempt:  # the first one warms up
                            results.setdefault(path, []).append(time.perf_counter() - began)
                    results[path + " bytes"] = [float(size)]
                    loads[path] = measured.figures()
        finally:
            await runner.cleanup()
            await db.dispose()
    print(f"{arguments.customers:,} customers, {len(world.incidents):,} incidents so far in "
          f"{PERIOD.label}, {arguments.requests} requests each, one at a time")
    print(f"{'path':<48} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'KB':>8} {'others s':>8} "
          f"{'steal s':>7}")
    print("-" * 102)
    for path, what in paths:
        values = sorted(results[path])
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(f"{path[:48]:<48} {statistics.median(values) * 1000:>8.1f} {p95 * 1000:>8.1f} "
              f"{values[-1] * 1000:>8.1f} {results[path + ' bytes'][0] / 1024:>8.1f} "
              f"{loads[path]['others_cpu_s']:>8.2f} {loads[path]['steal_s']:>7.2f}  {what}")
    Path(arguments.json).write_text(json.dumps(  # noqa: ASYNC240 (at the end)
        {"customers": arguments.customers, "incidents_so_far": len(world.incidents),
         "ms": {p: [v * 1000 for v in results[p]] for p, _ in paths},
         "load": loads}, indent=2))
    print(f"results: {arguments.json}")


# --- many clients at once ----------------------------------------------------------------------

#: A path's mark (a URL fragment, never sent): the pages' cache is emptied before each of
#: its requests, so that what is timed is the work, not the copy kept.
COMPUTED = "#computed"
TARGETS = {"/": 2000.0, "/customer/c00042": 300.0}  # requests/s at 200 clients on 2 cores
P99_TARGET_MS = 250.0
TICK = 0.05  # seconds between the child's ticks


async def serve(arguments: argparse.Namespace) -> None:
    """The child: the world in its database, the application on 127.0.0.1:0 (its port
    printed), a ticker on the loop; at each line read, the ticks' lateness since the
    previous line (ms, one JSON line); at end of input, exit."""
    world = build(arguments.customers, arguments.incidents * 2)
    db = Database.open(f"sqlite+aiosqlite:///{arguments.serve}")
    await db.upgrade()
    await load(db, world)
    context = Web(db, world.settings, SystemClock(),
                  TokenSet.parse(f"read {TOKEN} bench", "bench"))

    async def ready() -> Readiness:
        return Readiness({"database": True}, targets=0)

    runner = web.AppRunner(make_app(CollectorRegistry(), ready, context), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    public = [i["id"] for i in world.incidents if i["service_id"] in ("panel", "mobile")]
    print(json.dumps({"port": runner.addresses[0][1], "incident": public[-1] if public else None}),
          flush=True)
    late: list[float] = []

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        due = loop.time() + TICK
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            late.append(max(0.0, loop.time() - due) * 1000)
            due += TICK

    ticking = asyncio.create_task(ticker())
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while await reader.readline():
            print(json.dumps({"late_ms": late, "renders": getattr(getattr(context, "pages", None), "renders", None)}), flush=True)
            late.clear()
    finally:
        ticking.cancel()
        await runner.cleanup()
        await db.dispose()


async def _send(url: str, concurrency: int, seconds: float) -> tuple[list[float], int]:
    """``concurrency`` clients getting ``url`` for ``seconds``: latencies (s), not-200s."""
    latencies: list[float] = []
    failed = 0
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector,
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            nonlocal failed
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    async with http.get(url) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                latencies.append(time.perf_counter() - began)
                failed += not ok

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, failed


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def stampede(arguments: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        child = subprocess.Popen(  # noqa: ASYNC220 (started before the load, read between)
            [sys.executable, __file__, "--serve", f"{tmp}/bench.db",
             "--customers", str(arguments.customers), "--incidents", str(arguments.incidents)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert child.stdin is not None and child.stdout is not None
        try:
            started = json.loads(child.stdout.readline())
            base = f"http://127.0.0.1:{started['port']}"
            paths = ["/", "/customer/c00042", "/feed.atom", "/badge/panel/status.svg",
                     f"/api/v1/reports?month={PERIOD.label}"]
            if started["incident"] is not None:
                paths.append(f"/incidents/{started['incident']}")
            rows = []
            for path in paths:
                await _send(base + path, 4, 0.5)  # warm up
                child.stdin.write("mark\n")
                child.stdin.flush()
                child.stdout.readline()
                busy0, steal0 = machine_cpu()
                own0 = resource.getrusage(resource.RUSAGE_SELF)
                server0 = cpu_seconds(child.pid)
                began = time.perf_counter()
                latencies, failed = await _send(base + path, arguments.concurrency,
                                                arguments.seconds)
                elapsed = time.perf_counter() - began
                busy1, steal1 = machine_cpu()
                own1 = resource.getrusage(resource.RUSAGE_SELF)
                server = cpu_seconds(child.pid) - server0
                client = (own1.ru_utime + own1.ru_stime) - (own0.ru_utime + own0.ru_stime)
                child.stdin.write("mark\n")
                child.stdin.flush()
                ticks = json.loads(child.stdout.readline())
                late = ticks["late_ms"] or [0.0]
                rate = len(latencies) / elapsed
                p99 = _percentile(latencies, 0.99) * 1000
                target = TARGETS.get(path if not path.startswith("/customer/") else
                                     "/customer/c00042")
                rows.append({
                    "path": path, "requests": len(latencies), "per_second": round(rate, 1),
                    "p50_ms": round(statistics.median(latencies) * 1000, 1),
                    "p99_ms": round(p99, 1), "max_ms": round(max(latencies) * 1000, 1),
                    "not_200": failed, "renders": ticks["renders"],
                    "tick_p99_late_ms": round(_percentile(late, 0.99), 1),
                    "tick_max_late_ms": round(max(late), 1),
                    "server_cpu_percent": round(100 * server / elapsed, 0),
                    "server_cpu_ms_per_request": round(1000 * server / max(len(latencies), 1),
                                                       3),
                    "client_cpu_percent": round(100 * client / elapsed, 0),
                    "others_percent": round(
                        100 * max(0.0, busy1 - busy0 - server - client) / elapsed, 0),
                    "steal_percent": round(100 * (steal1 - steal0) / elapsed, 1),
                    "target_per_second": target,
                    "met": None if target is None else rate >= target and p99 < P99_TARGET_MS,
                })
        finally:
            child.stdin.close()
            child.wait(timeout=30)
    print(f"{arguments.customers:,} customers, {arguments.concurrency} clients at once, "
          f"{arguments.seconds:.0f} s per path, {os.cpu_count()} CPUs")
    header = (f"{'path':<26} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
              f"{'!200':>5} {'tick p99':>8} {'tick max':>8} {'server':>6} {'ms/req':>6} {'client':>6} "
              f"{'others':>6} {'steal':>5} {'target':>6} {'met':>4}")
    print(header)
    print("-" * len(header))
    for row in rows:
        target = "" if row["target_per_second"] is None else f"{row['target_per_second']:.0f}"
        met = "" if row["met"] is None else ("yes" if row["met"] else "NO")
        print(f"{row['path'][:26]:<26} {row['per_second']:>8.0f} {row['p50_ms']:>7.1f} "
              f"{row['p99_ms']:>7.1f} {row['max_ms']:>7.0f} {row['not_200']:>5} "
              f"{row['tick_p99_late_ms']:>8.1f} {row['tick_max_late_ms']:>8.1f} "
              f"{row['server_cpu_percent']:>5.0f}% {row['server_cpu_ms_per_request']:>6.2f} "
              f"{row['client_cpu_percent']:>5.0f}% "
              f"{row['others_percent']:>5.0f}% {row['steal_percent']:>4.1f}% {target:>6} "
              f"{met:>4}")
    print("tick: how late the server's 50 ms ticker fired (a probe's start would be as late); "
          "server, client, others (the rest of the machine), steal: % of one CPU; ms/req: "
          "the server's CPU per request")
    Path(arguments.json).write_text(json.dumps(  # noqa: ASYNC240 (at the end)
        {"customers": arguments.customers, "concurrency": arguments.concurrency,
         "seconds": arguments.seconds, "cpus": os.cpu_count(), "paths": rows},
        indent=2) + "\n")
    print(f"results: {arguments.json}")


if __name__ == "__main__":
    asyncio.run(main())
