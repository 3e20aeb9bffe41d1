"""How fast the status page, the month's report and the other pages answer at 1,000
customers.

Run: ``python benchmarks/bench_pages.py`` (``--customers``, ``--incidents``, ``--requests``,
``--db URL``; writes ``bench_pages.json``).

``benchmarks/_world.py``'s running month (1,000 customers, 5,000 incidents so far, 200
maintenance windows) in SQLite in a temporary directory, served by the daemon's real
HTTP application on 127.0.0.1; requests one after another (no concurrency: the latency
of one request, not throughput), with an operator's token where one is needed. Each
path is fetched once to warm up, then ``--requests`` times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from _world import PERIOD, build, load
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.clock import SystemClock
from monitor.http import Readiness, Web, make_app
from monitor.http.auth import TokenSet
from monitor.store import Database

TOKEN = "bench-operator-token-0123456789"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--incidents", type=int, default=5000, help="incidents so far")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--db", help="database URL (default: SQLite in a temporary directory)")
    parser.add_argument("--json", default="bench_pages.json", help="results file")
    arguments = parser.parse_args()
    world = build(arguments.customers, arguments.incidents * 2)  # half the month has run
    paths = [
        ("/", "the status page"),
        (f"/api/v1/reports?month={PERIOD.label}", "the month's report, every customer"),
        (f"/api/v1/reports?month={PERIOD.label}&customer=c00042", "one customer's report"),
        ("/customer/c00042", "a customer page"),
        ("/api/v1/customers/c00042", "a customer's overview (API)"),
        ("/feed.atom", "the Atom feed"),
        ("/api/v2/summary.json", "Statuspage summary"),
        ("/badge/panel/status.svg", "a badge"),
    ]
    results: dict[str, list[float]] = {}
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
                    for attempt in range(arguments.requests + 1):
                        began = time.perf_counter()
                        async with http.get(url) as response:
                            size = len(await response.read())
                            assert response.status == 200, (path, response.status)
                        if attempt:  # the first one warms up
                            results.setdefault(path, []).append(time.perf_counter() - began)
                    results[path + " bytes"] = [float(size)]
        finally:
            await runner.cleanup()
            await db.dispose()
    print(f"{arguments.customers:,} customers, {len(world.incidents):,} incidents so far in "
          f"{PERIOD.label}, {arguments.requests} requests each, one at a time")
    print(f"{'path':<48} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'KB':>8}")
    print("-" * 84)
    for path, what in paths:
        values = sorted(results[path])
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(f"{path[:48]:<48} {statistics.median(values) * 1000:>8.1f} {p95 * 1000:>8.1f} "
              f"{values[-1] * 1000:>8.1f} {results[path + ' bytes'][0] / 1024:>8.1f}  {what}")
    Path(arguments.json).write_text(json.dumps(  # noqa: ASYNC240 (at the end)
        {"customers": arguments.customers, "incidents_so_far": len(world.incidents),
         "ms": {p: [v * 1000 for v in results[p]] for p, _ in paths}}, indent=2))
    print(f"results: {arguments.json}")


if __name__ == "__main__":
    asyncio.run(main())
