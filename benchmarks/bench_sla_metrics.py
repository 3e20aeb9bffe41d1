"""What the per-customer SLA metrics cost the daemon, and how fast a customer page answers,
at 10,000 customers.

Run: ``python benchmarks/bench_sla_metrics.py`` (``--customers``, ``--incidents``,
``--minutes``, ``--db URL`` for PostgreSQL; writes ``bench_sla_metrics.json``).

The world is ``benchmarks/_world.py``'s running month (10,000 customers, 50,000
incidents so far, half the month gone), in SQLite in a temporary directory. The
daemon's :class:`monitor.actions.standing.RunningMonth` is refreshed once a simulated
minute for ``--minutes`` minutes while the month goes on at its own rate (new incidents
open, running ones close, customers are notified), as the daemon's 60 s timer would;
the database writes of that minute are not timed, the refresh is (process CPU, which
includes the engine's worker thread, and wall time). Every ``FULL_EVERY`` refreshes
(an hour) the month is read whole; its cost is shown and amortised. Then the worst
case: the shared web panel down, so every customer's downtime grows each minute.
Finally the customer page and its API, through the real HTTP application.

Each row gives the refresh's wall and CPU time and, over the same interval, the rest of the
machine's busy time (others) and steal: the machine is shared.

Targets: the refresh under 2 % of a core at a 60 s period (1.2 CPU-s a refresh, whole
reads amortised); a customer page under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from _targets import Load
from _world import NOW, PERIOD, World, build, load
from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy import insert, update

from monitor.actions.standing import FULL_EVERY, RunningMonth
from monitor.clock import SystemClock
from monitor.http import Readiness, Web, make_app
from monitor.http.auth import TokenSet
from monitor.sla import compute_month
from monitor.store import Database
from monitor.store.models import Incident, Notification

TOKEN = "bench-operator-token-0123456789"


async def timed(coroutine):  # type: ignore[no-untyped-def]
    """The coroutine's result, and its wall, CPU, others and steal (:class:`Load`)."""
    load = Load()
    result = await coroutine
    return result, load.figures()


async def one_minute(db: Database, world: World, now: dt.datetime, rate: float) -> int:
    """The month's next minute: incidents open at ``rate`` a second, due ones close, and
    new incidents' customers are notified. Returns the number of rows written."""
    rng = world.rng
    start = now - dt.timedelta(minutes=1)
    arriving = [start + dt.timedelta(seconds=rng.random() * 60)
                for _ in range(_poisson(rng, rate * 60))]
    new, told = [], []
    for at in arriving:
        row, notified = world.incident(at, now)
        new.append(row)
        told += notified
        world.incidents.append(row)
    closing = [r for r in world.incidents
               if r["end"] is None and r["_end"] <= now and r not in new]
    async with db.transaction() as tx:
        connection = await tx.connection()
        if new:
            await connection.execute(insert(Incident), [
                {k: v for k, v in r.items() if not k.startswith("_")} for r in new])
        if told:
            await connection.execute(insert(Notification), told)
        for row in closing:
            row["end"] = row["_end"]
            await connection.execute(update(Incident).where(Incident.id == row["id"])
                                     .values(end=row["end"]))
    return len(new) + len(told) + len(closing)


def _poisson(rng: random.Random, mean: float) -> int:
    count, total = 0, rng.expovariate(1)
    while total < mean:
        count += 1
        total += rng.expovariate(1)
    return count


async def page_latency(db: Database, world: World, samples: int) -> dict[str, list[float]]:
    context = Web(db, world.settings, SystemClock(), TokenSet.parse(f"read {TOKEN} bench", "bench"))

    async def ready() -> Readiness:
        return Readiness({"database": True}, targets=0)

    runner = web.AppRunner(make_app(CollectorRegistry(), ready, context), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    customers = sorted(world.settings.topology.customers)
    chosen = random.Random(1).sample(customers, samples)
    found: dict[str, list[float]] = {"/customer/ID": [], "/api/v1/customers/ID": []}
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            for customer in chosen:
                for shape, path in (("/customer/ID", f"/customer/{customer}"),
                                    ("/api/v1/customers/ID", f"/api/v1/customers/{customer}")):
                    began = time.perf_counter()
                    async with http.get(f"http://127.0.0.1:{port}{path}") as response:
                        await response.read()
                        assert response.status == 200, (path, response.status)
                    found[shape].append(time.perf_counter() - began)
    finally:
        await runner.cleanup()
    return found


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (f"p50 {statistics.median(ordered) * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  "
            f"max {ordered[-1] * 1000:6.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--incidents", type=int, default=50_000,
                        help="incidents so far this month (default 50,000)")
    parser.add_argument("--minutes", type=int, default=15, help="refreshes at steady state")
    parser.add_argument("--samples", type=int, default=40, help="customer pages fetched")
    parser.add_argument("--db", help="database URL (default: SQLite in a temporary directory)")
    parser.add_argument("--json", default="bench_sla_metrics.json", help="results file")
    arguments = parser.parse_args()
    elapsed = (NOW - PERIOD.start).total_seconds()
    per_month = int(arguments.incidents * PERIOD.seconds / elapsed)
    print(f"building: {arguments.customers:,} customers, {arguments.incidents:,} incidents so "
          f"far in {PERIOD.label} (a rate of {per_month:,} a month) ...", flush=True)
    world = build(arguments.customers, per_month)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database.open(arguments.db or f"sqlite+aiosqlite:///{tmp}/bench.db")
        await db.upgrade()
        await load(db, world)
        print(f"loaded {len(world.incidents):,} incidents and {len(world.notifications):,} "
              f"notifications into {db.dialect}", flush=True)
        running = RunningMonth(db, world.settings)
        _, full = await timed(running.refresh(NOW))
        await running.refresh(NOW)  # the second whole read fills the deltas' look-back
        rate = per_month / PERIOD.seconds
        now = NOW
        steps = []
        for _ in range(arguments.minutes):
            now += dt.timedelta(minutes=1)
            written = await one_minute(db, world, now, rate)
            refreshed, figures = await timed(running.refresh(now))
            assert not running.last_full
            steps.append({"rows_written": written, "recomputed": refreshed.recomputed,
                          **figures})
        # Baseline: what a whole recomputation (compute_month alone) costs.
        inputs = running._month  # the engine's view holds the last inputs
        assert inputs is not None
        began = time.process_time()
        compute_month(PERIOD, world.settings.topology.customer_inputs(),
                      list(running._incidents.values()), list(running._windows.values()),
                      running._notifications, running._unknown, world.settings.policy, now)
        whole_cpu = time.process_time() - began
        # Worst case: the shared web panel down.
        async with db.transaction() as tx:
            connection = await tx.connection()
            await connection.execute(insert(Incident), [{
                "id": world.next_id, "service_id": "panel", "start": now, "start_bound": None,
                "detected_at": now, "end": None, "end_bound": None, "source": "probe",
                "cause": "provider", "note": None, "created_at": now}])
        world.next_id += 1
        now += dt.timedelta(minutes=1)
        await running.refresh(now)
        now += dt.timedelta(minutes=1)
        panel, panel_figures = await timed(running.refresh(now))
        pages, page_figures = await timed(page_latency(db, world, arguments.samples))
        await db.dispose()

    cpu = [s["cpu_s"] for s in steps]
    mean_cpu = statistics.mean(cpu)
    full_cpu, panel_cpu = full["cpu_s"], panel_figures["cpu_s"]
    amortised = (mean_cpu * (FULL_EVERY - 1) + full_cpu) / FULL_EVERY
    print()
    print(f"{'refresh':<34} {'CPU s':>8} {'wall s':>8} {'customers computed':>19} "
          f"{'others s':>8} {'steal s':>7}")
    print("-" * 89)

    def row(label: str, figures: dict[str, float], computed: int) -> None:
        print(f"{label:<34} {figures['cpu_s']:>8.3f} {figures['wall_s']:>8.3f} "
              f"{computed:>19,} {figures['others_cpu_s']:>8.2f} {figures['steal_s']:>7.2f}")

    row("first (whole read, every customer)", full, arguments.customers)
    for number, step in enumerate(steps, start=1):
        row(f"minute {number} ({step['rows_written']} rows changed)", step, step["recomputed"])
    row("web panel down (every customer)", panel_figures, panel.recomputed)
    print(f"{'compute_month alone, whole month':<34} {whole_cpu:>8.2f}")
    print()
    print(f"steady state: mean {mean_cpu:.3f} CPU-s a refresh = {mean_cpu / 60 * 100:.2f} % of a "
          f"core at 60 s; with the hourly whole read amortised {amortised / 60 * 100:.2f} % "
          f"(target < 2 %)")
    print(f"web panel down: {panel_cpu / 60 * 100:.1f} % of a core while it lasts")
    for shape, values in pages.items():
        print(f"{shape:<22} {_ms(values)}  ({len(values)} customers; target < 100 ms)")
    print(f"{'':<22} (others {page_figures['others_cpu_s']:.2f} s, steal "
          f"{page_figures['steal_s']:.2f} s over the pages)")
    results = {
        "customers": arguments.customers, "incidents_so_far": arguments.incidents,
        "first_refresh": full,
        "steady": steps, "steady_mean_cpu_s": mean_cpu,
        "core_percent_at_60s": mean_cpu / 60 * 100,
        "core_percent_amortised": amortised / 60 * 100,
        "panel_down": {**panel_figures, "recomputed": panel.recomputed},
        "compute_month_whole_cpu_s": whole_cpu,
        "pages_ms": {k: [v * 1000 for v in vs] for k, vs in pages.items()},
        "pages_load": page_figures,
    }
    Path(arguments.json).write_text(json.dumps(results, indent=2))  # noqa: ASYNC240 (at the end)
    print(f"results: {arguments.json}")


if __name__ == "__main__":
    asyncio.run(main())
