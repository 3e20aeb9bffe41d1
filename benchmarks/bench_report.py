"""How long the SLA engine takes to compute a month for a large provider.

Run: ``python benchmarks/bench_report.py`` (``--sizes 50000,500000`` to choose the
incident counts). The world is synthetic and fixed by a seed:

* 10,000 customers, each depending on the shared web panel, the mobile API
  (40% of them), and 1-2 projects of its own hosted on one of 50 servers;
* N incidents in March 2026: 0.02% on the panel, 0.02% on the mobile API, 2%
  on servers, the rest on projects; 10% have an excluded cause, 1% are open;
* 200 maintenance windows (190 on servers, 10 on the panel), each noticed to
  every affected customer, one in five less than 48 h ahead;
* for each (incident, affected customer) pair: 97% notified within 10 min of
  detection, 1% notified late (after 2 h), 2% never.

Only ``compute_month`` is timed (best of 3 runs; one run above 100,000
incidents), and ``to_json`` separately; building the inputs is not. An
"incident line" is one incident as one customer sees it: the report's size. Target: the 50,000-incident month under 5 s on 2 cores, and
growth no worse than n log n in the number of incident lines.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.sla import (
    CustomerInput,
    IncidentInput,
    MaintenanceInput,
    Policy,
    compute_month,
    month_period,
)

SEED = 20260301
CUSTOMERS = 10_000
SERVERS = 50
MAINTENANCE_WINDOWS = 200
PERIOD = month_period("2026-03", "gregorian", "UTC")
NOW = datetime(2026, 4, 2, tzinfo=UTC)  # after the month: every deadline has passed


@dataclass
class World:
    customers: list[CustomerInput]
    incidents: list[IncidentInput]
    maintenance: list[MaintenanceInput]
    notifications: dict[tuple[int, str], datetime]


def build_world(incident_count: int, rng: random.Random) -> World:
    customers: list[CustomerInput] = []
    dependents: dict[str, list[str]] = defaultdict(list)  # service -> customer ids
    projects: list[str] = []
    for number in range(CUSTOMERS):
        customer_id = f"c{number:05d}"
        server = f"srv-{rng.randrange(SERVERS):02d}"
        own = [f"proj-{number:05d}-{k}" for k in range(rng.choice((1, 2)))]
        services = {"panel", server, *own}
        if rng.random() < 0.4:
            services.add("mobile")
        for service in services:
            dependents[service].append(customer_id)
        projects += own
        customers.append(CustomerInput(customer_id, f"Customer {number}", Decimal(1200), "EUR",
                                       frozenset(services)))
    servers = [f"srv-{s:02d}" for s in range(SERVERS)]
    month_seconds = PERIOD.seconds
    incidents: list[IncidentInput] = []
    notifications: dict[tuple[int, str], datetime] = {}
    shared = max(1, incident_count // 5000)  # 0.02% each on the panel and the mobile API
    for number in range(1, incident_count + 1):
        if number <= shared:
            service = "panel"
        elif number <= 2 * shared:
            service = "mobile"
        elif number <= 2 * shared + incident_count // 50:
            service = rng.choice(servers)
        else:
            service = rng.choice(projects)
        start = PERIOD.start + timedelta(seconds=rng.randrange(month_seconds))
        end = None if rng.random() < 0.01 else start + timedelta(
            seconds=int(rng.expovariate(1 / 1200)) + 60)
        cause = "provider" if rng.random() < 0.9 else rng.choice(
            ("customer_request", "customer_action", "external"))
        detected_at = start + timedelta(seconds=rng.randrange(1000))
        incidents.append(IncidentInput(number, service, start, end, cause, detected_at))
        for customer_id in dependents[service]:
            chance = rng.random()
            if chance < 0.97:  # emailed on detection (D-2)
                notifications[(number, customer_id)] = detected_at + timedelta(
                    seconds=rng.randrange(600))
            elif chance < 0.98:  # late: an R-N1 breach
                notifications[(number, customer_id)] = start + timedelta(
                    seconds=rng.randrange(7200, 4 * 3600))
    maintenance: list[MaintenanceInput] = []
    for number in range(1, MAINTENANCE_WINDOWS + 1):
        service = "panel" if number <= 10 else rng.choice(servers)
        start = PERIOD.start + timedelta(seconds=rng.randrange(month_seconds))
        ahead = timedelta(hours=rng.choice((72, 48, 47)) if rng.random() < 0.2 else 72)
        notices = {customer_id: start - ahead for customer_id in dependents[service]}
        maintenance.append(MaintenanceInput(number, frozenset({service}), start,
                                            start + timedelta(hours=2), "update", notices))
    return World(customers, incidents, maintenance, notifications)


def measure(incident_count: int, repeat: int) -> tuple[int, float, float, float]:
    """Incident lines, the best compute_month wall and CPU times of ``repeat`` runs,
    and the to_json time."""
    world = build_world(incident_count, random.Random(SEED))
    best_wall = best_cpu = float("inf")
    report = None
    for _ in range(repeat):
        report = None  # let the previous run's report go before timing the next
        wall, cpu = time.perf_counter(), time.process_time()
        report = compute_month(PERIOD, world.customers, world.incidents, world.maintenance,
                               world.notifications, [], Policy(), NOW)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    assert report is not None
    started = time.perf_counter()
    report.to_json()
    rendered = time.perf_counter() - started
    lines = sum(len(customer.incidents) for customer in report.customers)
    return lines, best_wall, best_cpu, rendered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50000,500000",
                        help="comma-separated incident counts (default: 50000,500000)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="best of this many runs for sizes up to 100,000 (default 3)")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]
    print(f"{CUSTOMERS:,} customers, {SERVERS} servers, {MAINTENANCE_WINDOWS} maintenance "
          f"windows, month {PERIOD.label}, seed {SEED}")
    header = (f"{'incidents':>10} {'incident lines':>15} {'compute_month s':>16} "
              f"{'cpu s':>6} {'us/line':>8} {'to_json s':>10}")
    print(header)
    print("-" * len(header))
    rows: list[tuple[int, float]] = []
    for size in sizes:
        lines, computed, cpu, rendered = measure(
            size, arguments.repeat if size <= 100_000 else 1)
        rows.append((lines, computed))
        print(f"{size:>10,} {lines:>15,} {computed:>16.2f} {cpu:>6.2f} "
              f"{computed / lines * 1e6:>8.2f} {rendered:>10.2f}", flush=True)
    (first_lines, first_time), (last_lines, last_time) = rows[0], rows[-1]
    if len(rows) > 1:
        n_log_n = last_lines * math.log(last_lines) / (first_lines * math.log(first_lines))
        print(f"growth: lines x{last_lines / first_lines:.1f}, time x{last_time / first_time:.1f}"
              f" (n log n would be x{n_log_n:.1f})")


if __name__ == "__main__":
    main()
