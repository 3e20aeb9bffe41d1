"""How long closing a month and reading its report take for a large provider, with and
without the evidence chain.

Run: ``python benchmarks/bench_report.py [--db sqlite|postgres] [--customers 10000]
[--incidents 50000] [--json FILE]`` (PostgreSQL at ``--pg-url``, default
``$SLA_MONITOR_TEST_PG_URL``; a database of its own is created and dropped). ``--engine``
times the pure engine alone instead (``compute_month`` on records in memory, ``--sizes
50000,500000``), as this benchmark did before it measured the close; ``--floor`` times the
month's rows read with ``sqlite3`` and handled in plain loops, one operation each (what
per-record work in Python costs at the least, beside the close); ``--closes N`` times the
close alone N times, each in a fresh process (for comparing two commits).

The world is ``benchmarks/_world.py``'s, after its month (March 2026) has ended: 10,000
customers on the shared web panel, the mobile API (40 %) and 1-2 projects of their own on
one of 50 servers; 50,000 incidents over the month (0.02 % on the panel and the mobile API
each, 2 % on servers, the rest on projects; 10 % with an excluded cause), 97 % of (incident,
customer) pairs notified within 10 minutes, 1 % late; 200 maintenance windows noticed to
every affected customer; and here also 2 unknown intervals, 200 provider-fault tickets
(R-P1, R-P2) and 1,000 approved claims whose credit the close puts up for review (R-C3).
It is written in bulk once; each variant then runs in a child process of its own on a
copy of it (the same first close, and its own peak RSS):

* ``close``: :func:`monitor.actions.close_month`, the function ``report close``, the
  HTTP API and ``statement send`` call: read the month, digest its inputs, compute it,
  freeze revision 1 (its report as JSON), note the reviews;
* ``close again``: the same with nothing changed (what every ``statement send`` and the
  daemon's statement job do first): nothing is frozen;
* ``report``: :func:`monitor.actions.month_report` of every customer and its SPEC
  section 7 JSON as ``report --month M --format json`` writes it
  (:func:`monitor.present.report_json_text`);
* ``frozen read``: the latest revision read back typed (:func:`frozen_revision`), as the
  statements read it.

``with chain`` is the product as it is: the revision's evidence-chain entry (its
canonical JSON, report included, hashed and stored) is written in the same transaction.
``without chain`` leaves that entry out (and nothing else), so the difference is the
chain's cost at month close. Each line: wall and CPU seconds of this process, its peak
RSS since it started, and the rest of the machine's busy time (others: other sessions,
and on PostgreSQL the database server's own work) and steal over the same interval. Then
where each step's wall time went, by the parts it tells its progress (reading the
month's records, hashing its inputs, computing, encoding the report, freezing the
revision; the report's JSON text).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _targets import Load

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
CLAIMS = 1000
TICKETS = 200
VARIANTS = ("without chain", "with chain")


# --- the database: the month closed and read -------------------------------------------------


def _world(customers: int, incidents: int) -> Any:
    from _world import build

    return build(customers, incidents, now=NOW)


async def _load(url: str, customers: int, incidents: int) -> dict[str, int]:
    """The world and its extras written in bulk; returns its sizes."""
    from _world import load
    from sqlalchemy import insert

    from monitor.store import Database
    from monitor.store.models import Claim, Ticket, UnknownInterval

    world = _world(customers, incidents)
    rng = random.Random(SEED)
    db = Database.open(url)
    await db.upgrade()
    await load(db, world)
    ids = sorted(world.settings.topology.customers)
    async with db.transaction() as tx:
        connection = await tx.connection()
        await connection.execute(insert(UnknownInterval), [
            {"start": PERIOD.start + timedelta(days=day, hours=3),
             "end": PERIOD.start + timedelta(days=day, hours=3, minutes=20),
             "reason": "canaries_failed", "detail": None, "node": None, "vantage": None,
             "target_id": None} for day in (6, 19)])
        tickets = []
        for number in range(1, TICKETS + 1):
            customer = rng.choice(ids)
            opened = PERIOD.start + timedelta(seconds=rng.randrange(PERIOD.seconds - 86400 * 5))
            diagnosed = opened + timedelta(hours=rng.randrange(1, 30))
            tickets.append({
                "customer_id": customer, "site_domain": f"{customer}.example",
                "service_id": "panel" if number % 2 else "mobile",
                "kind": "web_panel" if number % 2 else "mobile", "type_id": None,
                "title": f"ticket {number}", "channel": "email", "opened_at": opened,
                "number_sent_at": opened, "level": 2, "diagnosed_at": diagnosed,
                "provider_fault": True, "finding": None,
                "fixed_at": diagnosed + timedelta(days=rng.randrange(1, 12)),
                "next_release": False, "next_release_reason": None, "price": None,
                "currency": None, "price_requested": None, "price_requested_at": None,
                "status": "fixed", "closed_at": None})
        await connection.execute(insert(Ticket), tickets)
        await connection.execute(insert(Claim), [{
            "customer_id": customer, "month": PERIOD.label, "calendar": "gregorian",
            "site_domain": f"{customer}.example", "channel": "web", "note": None,
            "submitted_by": "customer", "submitted_at": NOW, "receipt_due_at": NOW,
            "decision_due_at": NOW, "receipt_sent_at": NOW, "decided_at": NOW,
            "decided_by": "ops", "decision": "approved", "decision_reason": None,
            "credit_days": Decimal(1), "refund_amount": Decimal(0), "credited_at": NOW,
            "basis_days": Decimal(1), "basis_amount": Decimal(0), "decision_sent_at": None,
            "review_revision": None, "review_noted_at": None}
            for customer in rng.sample(ids, min(CLAIMS, len(ids)))])
    await db.dispose()
    return {"customers": customers, "incidents": len(world.incidents),
            "notifications": len(world.notifications), "maintenance_windows": 200,
            "tickets": TICKETS, "claims": CLAIMS}


class _Parts:
    """Where a close or a report spends its wall time: each step it tells its progress
    (``monitor.actions.reports``' READING ... FREEZING) from when it began to when the next
    began (or the whole ended, :meth:`end`)."""

    def __init__(self) -> None:
        self.began: list[tuple[str, float]] = []
        self.seconds: dict[str, float] = {}

    def __call__(self, done: int, total: int, step: str = "") -> None:
        if step and (not self.began or self.began[-1][0] != step):
            self.began.append((step, time.perf_counter()))

    def end(self) -> dict[str, float]:
        ended = time.perf_counter()
        for (step, start), following in zip(self.began, [*self.began[1:], ("", ended)],
                                            strict=True):
            self.seconds[step] = following[1] - start
        return self.seconds


class _Step:
    """Wall, CPU, others and steal of one awaited step; the peak RSS after it."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[str, float]] = {}
        self.parts: dict[str, dict[str, float]] = {}

    async def run(self, name: str, what: Any, parts: _Parts | None = None) -> Any:
        load = Load()
        result = await what
        if parts is not None:
            self.parts[name] = parts.end()
        self.figures[name] = {
            **load.figures(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        return result


async def _child(url: str, variant: str, customers: int) -> dict[str, Any]:
    """One variant's steps, in this (child) process."""
    from monitor import actions
    from monitor.actions.reports import frozen_revision
    from monitor.present import report_json_text
    from monitor.store import Database, evidence, reports

    if variant == "without chain":
        chain = evidence.append_inserted

        async def unchained(tx: Any, kind: str, table: str, *args: Any, **kwargs: Any) -> None:
            if table != "report_revisions":
                await chain(tx, kind, table, *args, **kwargs)

        evidence.append_inserted = unchained  # type: ignore[assignment]
    settings = _world(customers, 0).settings  # the same configuration, no incidents
    db = Database.open(url)
    step = _Step()
    closing = await step.run("close", actions.close_month(
        db, settings, month=PERIOD.label, now=NOW, progress=(parts := _Parts())), parts)
    again = await step.run("close again", actions.close_month(
        db, settings, month=PERIOD.label, now=NOW, progress=(parts := _Parts())), parts)
    assert closing.created and not again.created, (closing, again)

    async def report(parts: _Parts) -> int:
        computed = await actions.month_report(db, settings, month=PERIOD.label, now=NOW,
                                              progress=parts)
        parts(0, 0, "json text")
        await asyncio.to_thread(report_json_text, computed)  # as `report --format json` writes it
        return sum(len(c.incidents) for c in computed.customers)

    lines = await step.run("report", report(parts := _Parts()), parts)

    async def frozen() -> Any:
        async with db.reading() as tx:
            record = await reports.revision_text(tx, PERIOD.calendar, PERIOD.label)
        assert record is not None
        await asyncio.to_thread(frozen_revision, record)
        return record

    record = await step.run("frozen read", frozen())
    size = len(record.report)  # the report's text as stored
    del record
    async with db.reading() as tx:
        entries = [e async for e in evidence.entries(tx) if e.fact_table == "report_revisions"]
    await db.dispose()
    return {"variant": variant, "steps": step.figures, "parts": step.parts,
            "incident_lines": lines,
            "report_json_bytes": size, "reviews": len(closing.reviews),
            "chain_entries_of_revisions": len(entries), "digest": closing.digest}


async def _copy_pg(admin: str, source: str, target: str | None, drop: str | None = None) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin)
    try:
        if drop is not None:
            await connection.execute(f'DROP DATABASE IF EXISTS "{drop}"')
        if target is not None:
            await connection.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    finally:
        await connection.close()


def run_close(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    print(f"building: {args.customers:,} customers, {args.incidents:,} incidents in "
          f"{PERIOD.label} on {args.db} ...", flush=True)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-report-") as scratch:
        if args.db == "sqlite":
            loaded = f"{scratch}/loaded.db"
            base_url = f"sqlite+aiosqlite:///{loaded}"
        else:
            if not args.pg_url:
                sys.exit("--db postgres: --pg-url (or $SLA_MONITOR_TEST_PG_URL) is required")
            url = make_url(args.pg_url)
            admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
            loaded = f"slamon_bench_report_{uuid.uuid4().hex[:10]}"
            asyncio.run(_copy_pg(admin, "template1", loaded))
            base_url = url.set(database=loaded).render_as_string(hide_password=False)
        made: list[str] = []
        try:
            began = time.perf_counter()
            sizes = asyncio.run(_load(base_url, args.customers, args.incidents))
            print(f"loaded in {time.perf_counter() - began:.0f} s: {sizes}", flush=True)
            for variant in VARIANTS:
                if args.db == "sqlite":
                    copy = f"{scratch}/{variant.replace(' ', '-')}.db"
                    shutil.copy(loaded, copy)
                    child_url = f"sqlite+aiosqlite:///{copy}"
                else:
                    copy = f"{loaded}_{len(made)}"
                    asyncio.run(_copy_pg(admin, loaded, copy))
                    made.append(copy)
                    child_url = url.set(database=copy).render_as_string(hide_password=False)
                found = subprocess.run(
                    [sys.executable, __file__, "--child", variant, "--url", child_url,
                     "--customers", str(args.customers)],
                    check=True, stdout=subprocess.PIPE, text=True)
                results.append(json.loads(found.stdout.strip().splitlines()[-1]))
                if args.db == "sqlite":
                    Path(copy).unlink()
        finally:
            if args.db == "postgres":
                for name in [*made, loaded]:
                    asyncio.run(_copy_pg(admin, loaded, None, drop=name))
    first = results[0]
    print(f"{sizes['customers']:,} customers, {sizes['incidents']:,} incidents, "
          f"{sizes['notifications']:,} notifications, {first['incident_lines']:,} incident "
          f"lines, report JSON {first['report_json_bytes'] / 1e6:.1f} MB, {first['reviews']} "
          f"reviews noted, on {args.db}; {os.cpu_count()} CPUs")
    header = (f"{'variant':14} {'step':12} {'wall s':>7} {'cpu s':>7} {'peak RSS MB':>12} "
              f"{'others s':>9} {'steal s':>8}")
    print(header)
    print("-" * len(header))
    for result in results:
        for name, row in result["steps"].items():
            print(f"{result['variant']:14} {name:12} {row['wall_s']:7.2f} {row['cpu_s']:7.2f} "
                  f"{row['peak_rss_mb']:12.0f} {row['others_cpu_s']:9.2f} {row['steal_s']:8.2f}")
    print("where the wall time went (s), each part from when it began to the next:")
    for result in results:
        for name, parts in result["parts"].items():
            print(f"  {result['variant']:14} {name:12} " + ", ".join(
                f"{part.split(' ')[0] if part != 'json text' else part} {seconds:.2f}"
                for part, seconds in parts.items()))
    without, with_chain = (r["steps"]["close"] for r in results)
    chain_cpu = with_chain["cpu_s"] - without["cpu_s"]
    print(f"the chain at month close: {chain_cpu:+.2f} CPU-s "
          f"({chain_cpu / without['cpu_s'] * 100:+.1f} % of the close without it), wall "
          f"{with_chain['wall_s'] - without['wall_s']:+.2f} s")
    assert results[0]["digest"] == results[1]["digest"]
    assert [r["chain_entries_of_revisions"] for r in results] == [0, 1], results
    if args.json is not None:
        args.json.write_text(json.dumps({
            "command": " ".join(sys.argv), "db": args.db, "cpus": os.cpu_count(),
            "sizes": sizes, "variants": results, "chain_close_cpu_s": chain_cpu,
            "chain_close_cpu_percent": chain_cpu / without["cpu_s"] * 100}, indent=2) + "\n")
        print(f"results: {args.json}")
    return 0


# --- the engine alone (compute_month in memory) ----------------------------------------------


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


def measure(incident_count: int, repeat: int) -> tuple[int, dict[str, float], float]:
    """Incident lines, the figures (:class:`Load`) of the fastest of ``repeat``
    compute_month runs, and the to_json time."""
    world = build_world(incident_count, random.Random(SEED))
    best: dict[str, float] | None = None
    report = None
    for _ in range(repeat):
        report = None  # let the previous run's report go before timing the next
        load = Load()
        report = compute_month(PERIOD, world.customers, world.incidents, world.maintenance,
                               world.notifications, [], Policy(), NOW)
        figures = load.figures()
        if best is None or figures["wall_s"] < best["wall_s"]:
            best = figures
    assert report is not None and best is not None
    started = time.perf_counter()
    report.to_json()
    rendered = time.perf_counter() - started
    lines = sum(len(customer.incidents) for customer in report.customers)
    return lines, best, rendered


def run_engine(args: argparse.Namespace) -> int:
    """compute_month alone (best of ``--repeat`` runs; one run above 100,000 incidents), and
    ``to_json`` separately; building the inputs is not timed. An "incident line" is one
    incident as one customer sees it: the report's size."""
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"{CUSTOMERS:,} customers, {SERVERS} servers, {MAINTENANCE_WINDOWS} maintenance "
          f"windows, month {PERIOD.label}, seed {SEED}")
    header = (f"{'incidents':>10} {'incident lines':>15} {'compute_month s':>16} "
              f"{'cpu s':>6} {'us/line':>8} {'to_json s':>10} {'others s':>8} {'steal s':>7}")
    print(header)
    print("-" * len(header))
    rows: list[tuple[int, float]] = []
    found = []
    for size in sizes:
        lines, figures, rendered = measure(size, args.repeat if size <= 100_000 else 1)
        computed = figures["wall_s"]
        rows.append((lines, computed))
        found.append({"incidents": size, "incident_lines": lines, **figures,
                      "to_json_s": rendered})
        print(f"{size:>10,} {lines:>15,} {computed:>16.2f} {figures['cpu_s']:>6.2f} "
              f"{computed / lines * 1e6:>8.2f} {rendered:>10.2f} "
              f"{figures['others_cpu_s']:>8.2f} {figures['steal_s']:>7.2f}", flush=True)
    (first_lines, first_time), (last_lines, last_time) = rows[0], rows[-1]
    if len(rows) > 1:
        n_log_n = last_lines * math.log(last_lines) / (first_lines * math.log(first_lines))
        print(f"growth: lines x{last_lines / first_lines:.1f}, time x{last_time / first_time:.1f}"
              f" (n log n would be x{n_log_n:.1f})")
    if args.json:
        Path(args.json).write_text(json.dumps({"engine": found}, indent=2))
        print(f"results: {args.json}")
    return 0


# --- the close alone, again and again ----------------------------------------------------------


async def _close_once(url: str, customers: int) -> dict[str, float]:
    """One close in this (child) process: wall and CPU seconds, others and steal, peak RSS."""
    from monitor import actions
    from monitor.store import Database

    settings = _world(customers, 0).settings
    db = Database.open(url)
    step = _Step()
    await step.run("close", actions.close_month(db, settings, month=PERIOD.label, now=NOW))
    await db.dispose()
    return step.figures["close"]


def run_closes(args: argparse.Namespace) -> int:
    """The close alone, ``--closes N`` times, each in a fresh process on a fresh copy of the
    loaded database (SQLite): its wall and CPU time, the rest of the machine's busy time
    (others) and steal meanwhile, the process's peak RSS and the database's size after it.
    Less to wait for than every variant, for comparing two commits: run it in a worktree of
    each, one after the other, and again."""
    results: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-report-closes-") as scratch:
        loaded = f"{scratch}/loaded.db"
        sizes = asyncio.run(_load(f"sqlite+aiosqlite:///{loaded}", args.customers,
                                  args.incidents))
        for number in range(1, args.closes + 1):
            copy = f"{scratch}/close.db"
            shutil.copy(loaded, copy)
            found = subprocess.run(
                [sys.executable, __file__, "--close-child", "--url",
                 f"sqlite+aiosqlite:///{copy}", "--customers", str(args.customers)],
                check=True, stdout=subprocess.PIPE, text=True)
            figures = json.loads(found.stdout.strip().splitlines()[-1])
            figures["database_mb"] = sum(
                os.path.getsize(f"{copy}{suffix}") for suffix in ("", "-wal")
                if os.path.exists(f"{copy}{suffix}")) / 1e6
            results.append(figures)
            print(f"close {number}: {figures['wall_s']:.2f} s wall, {figures['cpu_s']:.2f} CPU-s, "
                  f"peak RSS {figures['peak_rss_mb']:.0f} MB, database after it "
                  f"{figures['database_mb']:.0f} MB, others {figures['others_cpu_s']:.2f} "
                  f"CPU-s, steal {figures['steal_s']:.2f} s", flush=True)
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(f"{copy}{suffix}"):
                    os.remove(f"{copy}{suffix}")
    if args.json is not None:
        args.json.write_text(json.dumps({"command": " ".join(sys.argv), "sizes": sizes,
                                         "closes": results}, indent=2) + "\n")
    return 0


async def _summary_once(url: str, customers: int) -> dict[str, Any]:
    """The operators' summary of the month in this (child) process, then its PDF
    (``report --format pdf``): each step's wall and CPU seconds, others and steal, and the
    process's peak RSS after it; the PDF's pages and size."""
    from monitor.actions.summary import month_summary
    from monitor.present.printed import page_count
    from monitor.present.statement import summary_pdf
    from monitor.store import Database

    settings = _world(customers, 0).settings
    db = Database.open(url)
    step = _Step()
    summary = await step.run("summary", month_summary(db, settings, month=PERIOD.label,
                                                      now=NOW))
    await db.dispose()

    async def typeset() -> bytes:
        return summary_pdf(summary)

    pdf = await step.run("summary pdf", typeset())
    return {"steps": step.figures, "pdf_bytes": len(pdf), "pdf_pages": page_count(pdf)}


def run_summary(args: argparse.Namespace) -> int:
    """The operators' summary and its PDF, in a fresh process on the loaded database."""
    with tempfile.TemporaryDirectory(prefix="bench-report-summary-") as scratch:
        loaded = f"{scratch}/loaded.db"
        sizes = asyncio.run(_load(f"sqlite+aiosqlite:///{loaded}", args.customers,
                                  args.incidents))
        found = subprocess.run(
            [sys.executable, __file__, "--summary-child", "--url",
             f"sqlite+aiosqlite:///{loaded}", "--customers", str(args.customers)],
            check=True, stdout=subprocess.PIPE, text=True)
    figures = json.loads(found.stdout.strip().splitlines()[-1])
    print(f"{'step':<12} {'wall s':>7} {'cpu s':>7} {'peak RSS MB':>12} {'others s':>9} "
          f"{'steal s':>8}")
    for name, step in figures["steps"].items():
        print(f"{name:<12} {step['wall_s']:7.2f} {step['cpu_s']:7.2f} "
              f"{step['peak_rss_mb']:12.0f} {step['others_cpu_s']:9.2f} {step['steal_s']:8.2f}")
    print(f"the PDF: {figures['pdf_pages']} pages, {figures['pdf_bytes'] / 1e6:.1f} MB")
    if args.json is not None:
        args.json.write_text(json.dumps({"command": " ".join(sys.argv), "sizes": sizes,
                                         **figures}, indent=2) + "\n")
    return 0


# --- the floor: the same rows in plain loops ----------------------------------------------------


def run_floor(args: argparse.Namespace) -> int:
    """What the close's steps cost at the least in Python on this machine: the month's rows
    read with ``sqlite3`` alone and handled in plain loops, one operation each (no engine,
    no canonical rules): how far the close is above what per-record work in Python costs."""
    import hashlib
    import sqlite3

    rows_of: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-report-floor-") as scratch:
        url = f"sqlite+aiosqlite:///{scratch}/loaded.db"
        sizes = asyncio.run(_load(url, args.customers, args.incidents))
        connection = sqlite3.connect(f"{scratch}/loaded.db")
        began = time.process_time()

        def step(name: str) -> None:
            nonlocal began
            now = time.process_time()
            rows_of[name] = now - began
            began = now

        rows = connection.execute(
            "SELECT incident_id, customer_id, notified_at FROM notifications").fetchall()
        step("read the notifications (sqlite3 fetch)")
        parse, utc = datetime.fromisoformat, UTC
        notified = {(row[0], row[1]): parse(row[2]).replace(tzinfo=utc) for row in rows}
        step("parse their times into a dict")
        connection.execute('SELECT id, service_id, start, "end", cause, detected_at '
                           "FROM incidents").fetchall()
        step("read the incidents")
        texts = sorted(f'[{i},"{c}","{at}"]' for (i, c), at in
                       zip(notified, (row[2] for row in rows), strict=True))
        hashlib.sha256(("[" + ",".join(texts) + "]").encode()).hexdigest()
        step("digest: a text each, sorted, hashed")
        start = PERIOD.start
        late = sum(1 for key in notified if (notified[key] - start).total_seconds() > 7200)
        assert late >= 0
        step("compute: a lookup and a subtraction each")
        text = ",".join(f'{{"cause":"provider","counted_seconds":{i},"id":{i},'
                        f'"notified_after_seconds":{i},"service":"{c}"}}' for i, c in notified)
        step("encode: an f-string each")
        written = sqlite3.connect(f"{scratch}/written.db")
        written.execute("CREATE TABLE report (text TEXT)")
        written.execute("INSERT INTO report VALUES (?)", (text * 2,))
        written.commit()
        hashlib.sha256((text * 2).encode()).hexdigest()
        step(f"freeze: write and hash {len(text) * 2 / 1e6:.0f} MB")
        written.close()
        connection.close()
    print(f"{sizes['notifications']:,} notifications, {sizes['incidents']:,} incidents; "
          "CPU seconds of this process:")
    for name, seconds in rows_of.items():
        print(f"  {name:45} {seconds:6.2f}")
    print(f"  {'all':45} {sum(rows_of.values()):6.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"command": " ".join(sys.argv), "sizes": sizes,
                                         "cpu_s": rows_of}, indent=2) + "\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("SLA_MONITOR_TEST_PG_URL"))
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--engine", action="store_true",
                        help="time compute_month alone on records in memory (--sizes)")
    parser.add_argument("--sizes", default="50000,500000",
                        help="--engine: comma-separated incident counts (default: 50000,500000)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="--engine: best of this many runs up to 100,000 incidents")
    parser.add_argument("--closes", type=int, metavar="N",
                        help="the close alone, N times, each in a fresh process (SQLite)")
    parser.add_argument("--close-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--summary", action="store_true",
                        help="the operators' summary and its PDF (report --format pdf), in a "
                             "fresh process: wall, CPU, peak RSS")
    parser.add_argument("--summary-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor", action="store_true",
                        help="time the same rows in plain loops (sqlite3, one operation each)")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asyncio.run(_child(args.url, args.child, args.customers))))
        return 0
    if args.close_child:
        print(json.dumps(asyncio.run(_close_once(args.url, args.customers))))
        return 0
    if args.summary_child:
        print(json.dumps(asyncio.run(_summary_once(args.url, args.customers))))
        return 0
    if args.closes is not None:
        return run_closes(args)
    if args.summary:
        return run_summary(args)
    if args.engine:
        return run_engine(args)
    if args.floor:
        return run_floor(args)
    return run_close(args)


if __name__ == "__main__":
    sys.exit(main())
