"""How fast a month's statements are rendered and queued: ``sla-monitor statement send
--queue-only`` for 1,000 or 10,000 customers, as an operator runs it at month-end.

Run: ``python benchmarks/bench_statements.py`` (``--customers 1000,10000`` for both
sizes, ``--workers N`` to choose the rendering processes; default: the command's own,
one per core).

The world is ``benchmarks/_world.py``'s (fixed by a seed), for March 2026 after it ended:
N customers, each on the shared web panel, the mobile API (40 %) and 1-2 projects of its
own on one of 50 servers; 5 incidents per customer over the month (0.02 % on the panel
and the mobile API each, 2 % on servers, the rest on projects; 10 % with an excluded
cause), 97 % of them notified in time; 200 noticed maintenance windows (10 on the panel:
every statement lists them); besides, 5 % of the customers have a web-panel ticket fixed
late (an R-P1 penalty) and 10 % have claimed the month (half of the claims decided). It
is written to SQLite in a temporary directory, with its configuration file, and the
command runs in a process of its own (the month is closed by it, as at month-end).

Measured: the command's wall time, and the time from its first statement queued to its
last (from its progress lines); statements per second; CPU-seconds of the command and of
its worker processes (the command's own read from /proc until it exits, the workers' the
rest of what the command and its reaped children used); the peak RSS of the command and
its workers together, and of the command alone (sampled every 0.2 s); the rest of the machine's busy time over the
same interval (others, in CPU-seconds and in % of one CPU) and steal. Then, in this
process, the cost of one statement's files rendered by the one rendering
(``render_files``) for 20 customers: the PDF alone, the HTML and CSV, and its pages.
Targets (the issue's): 10,000 statements in under 5 minutes on 2 cores, under 1 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _targets import cpu_times, machine_cpu, own_cpu, rss_bytes, tree_rss_bytes
from _world import PERIOD, World, build, load
from sqlalchemy import insert

from monitor import actions
from monitor.actions.statement_workers import available_cores, render_files
from monitor.present.statement import statement_csv, statement_html, statement_pdf
from monitor.store import Database, create_engine
from monitor.store.migrate import upgrade
from monitor.store.models import Claim, Ticket

SEED = 20260401
AFTER = PERIOD.end + dt.timedelta(days=2)  # the month has ended; claims came in the day after
RESULTS = Path(__file__).resolve().parent / "results"
TARGET_SECONDS = 300.0
TARGET_RSS = 1 << 30


async def write_world(world: World, url: str) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    db = Database(engine)
    await load(db, world, now=AFTER)
    rng = random.Random(SEED)
    customers = list(world.settings.topology.customers)
    tickets, claims = [], []
    for customer in customers:
        chance = rng.random()
        if chance < 0.05:  # R-P1: a web-panel fault fixed late
            opened = PERIOD.start + dt.timedelta(seconds=rng.randrange(20 * 86400))
            tickets.append({
                "customer_id": customer, "site_domain": f"{customer}.example",
                "service_id": "panel", "kind": "web_panel", "title": "the panel's form fails",
                "channel": "email", "opened_at": opened, "number_sent_at": opened,
                "level": 2, "diagnosed_at": opened + dt.timedelta(hours=2),
                "provider_fault": True, "fixed_at": opened + dt.timedelta(days=rng.randrange(3, 9)),
                "next_release": False, "status": "fixed"})
        if rng.random() < 0.10:
            submitted = PERIOD.end + dt.timedelta(hours=rng.randrange(1, 24))
            decided = rng.random() < 0.5
            claims.append({
                "customer_id": customer, "month": PERIOD.label, "calendar": "gregorian",
                "site_domain": f"{customer}.example", "channel": "email", "note": None,
                "submitted_by": "bench", "submitted_at": submitted,
                "receipt_due_at": submitted + dt.timedelta(days=1),
                "decision_due_at": submitted + dt.timedelta(days=10),
                "receipt_sent_at": submitted + dt.timedelta(minutes=1),
                "decided_at": submitted + dt.timedelta(hours=3) if decided else None,
                "decided_by": "bench" if decided else None,
                "decision": "rejected" if decided else None,
                "decision_reason": "no outage in the records" if decided else None})
    async with db.transaction() as tx:
        connection = await tx.connection()
        if tickets:
            await connection.execute(insert(Ticket), tickets)
        if claims:
            await connection.execute(insert(Claim), claims)
    await engine.dispose()


def _own_cpu(pid: int) -> float | None:
    try:
        return sum(cpu_times(pid))
    except OSError:  # gone meanwhile
        return None


def run_command(config: Path, workers: int | None, dry_run: bool = False) -> dict[str, Any]:
    """``statement send`` in a process of its own, watched from here."""
    command = [sys.executable, "-m", "monitor", "-c", str(config), "statement", "send",
               "--month", PERIOD.label, "--dry-run" if dry_run else "--queue-only",
               "--format", "json"]
    if workers is not None:
        command += ["--workers", str(workers)]
    environment = {**os.environ, "SLA_MONITOR_CONFIG_MAX_BYTES": str(256 << 20)}
    busy0, steal0 = machine_cpu()
    cpu0 = own_cpu(children=True) - own_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=environment)
    peak = parent_peak = 0
    parent_cpu = 0.0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak, parent_peak, parent_cpu
        while not done.is_set():
            peak = max(peak, tree_rss_bytes(process.pid))
            try:
                parent_peak = max(parent_peak, rss_bytes(process.pid))
            except OSError:
                pass  # gone meanwhile
            parent_cpu = _own_cpu(process.pid) or parent_cpu
            done.wait(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = process.communicate()
    wall = time.perf_counter() - started
    done.set()
    watcher.join()
    busy, steal = machine_cpu()
    total_cpu = own_cpu(children=True) - own_cpu() - cpu0
    if process.returncode != 0:
        raise RuntimeError(f"statement send exited {process.returncode}: {err.decode()[-2000:]}")
    result = json.loads(out)
    queued = sum(1 for s in result["statements"] if s["status"] in ("queued", "would_send"))
    told = [json.loads(line) for line in err.decode().splitlines()
            if line.startswith("{") and "statements progress" in line]
    rendering = 0.0  # a dry run renders nothing
    if told:
        first, last = (dt.datetime.fromisoformat(told[i]["ts"]) for i in (0, -1))
        rendering = (last - first).total_seconds()
    return {
        "queued": queued, "statements": len(result["statements"]),
        "wall_s": round(wall, 2), "render_and_queue_s": round(rendering, 2),
        "statements_per_s": round(queued / rendering, 2) if rendering else None,
        "cpu_s": round(total_cpu, 2), "parent_cpu_s": round(parent_cpu, 2),
        "workers_cpu_s": round(total_cpu - parent_cpu, 2),
        "cpu_s_per_statement": round(total_cpu / queued, 4) if queued else None,
        "peak_rss_mb": round(peak / 2**20, 1),
        "parent_peak_rss_mb": round(parent_peak / 2**20, 1),
        "others_cpu_s": round(max(0.0, busy - busy0 - total_cpu), 2),
        "others_percent": round(100 * max(0.0, busy - busy0 - total_cpu) / wall, 1),
        "steal_s": round(steal - steal0, 2),
    }


async def pdf_cost(world: World, url: str, sample: int) -> dict[str, Any]:
    """One statement's files, rendered here for ``sample`` customers (after a first one, not
    counted, that builds Typst's compiler and loads the fonts): its PDF first, then its HTML
    and CSV (Typst memoizes: a statement typeset a second time costs less, so each is
    typeset once)."""
    engine = create_engine(url)
    db = Database(engine)
    # Closed by the command, or (after a dry run) here.
    await actions.close_month(db, world.settings, month=PERIOD.label, now=AFTER)
    customers = list(world.settings.topology.customers)[: sample + 1]
    views = [await actions.statement(db, world.settings, month=PERIOD.label, customer=c,
                                     now=AFTER) for c in customers]
    await engine.dispose()
    render_files(views.pop())
    pdf_only = html_csv = 0.0
    pages = []
    for view in views:
        begin = time.process_time()
        document = statement_pdf(view)
        pdf_only += time.process_time() - begin
        begin = time.process_time()
        statement_html(view)
        statement_csv(view)
        html_csv += time.process_time() - begin
        pages.append(_pages(document))
    return {"sample": len(views), "cpu_s_per_statement": round((pdf_only + html_csv) / len(views), 4),
            "pdf_cpu_s": round(pdf_only / len(views), 4),
            "html_csv_cpu_s": round(html_csv / len(views), 4),
            "pages": round(sum(pages) / len(pages), 2)}


def _pages(document: bytes) -> int:
    """The pages of a PDF (poppler's pdfinfo)."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(document)
        file.flush()
        info = subprocess.run(["pdfinfo", file.name], capture_output=True, text=True,
                              check=True).stdout
    return next(int(line.split()[1]) for line in info.splitlines() if line.startswith("Pages:"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default="1000",
                        help="comma-separated customer counts (default: 1000; the issue's: "
                        "1000,10000)")
    parser.add_argument("--workers", type=int,
                        help="statement send --workers N (default: the command's own)")
    parser.add_argument("--dry-run", action="store_true",
                        help="statement send --dry-run: the command's costs besides rendering "
                        "and queueing (the configuration read, the month closed, the plan)")
    parser.add_argument("--sample", type=int, default=20,
                        help="statements rendered here for the PDF cost (default 20)")
    parser.add_argument("--json", type=Path, help="default: benchmarks/results/DATE-"
                        "bench_statements.json")
    args = parser.parse_args()
    sizes = [int(size) for size in args.customers.split(",")]
    print(f"statement send {'--dry-run' if args.dry_run else '--queue-only'}, month {PERIOD.label}, _world.py seed, {os.cpu_count()} "
          f"CPUs ({available_cores()} available), workers: "
          f"{args.workers if args.workers is not None else 'the default'}")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-statements-") as scratch:
        for size in sizes:
            directory = Path(scratch) / str(size)
            directory.mkdir()
            url = f"sqlite+aiosqlite:///{directory / 'sla-monitor.db'}"
            world = build(size, 5 * size, now=AFTER)
            asyncio.run(write_world(world, url))
            config = directory / "config.yaml"
            config.write_text(json.dumps({
                **world.config, "storage": {"url": url},
                "maildir": str(directory / "Maildir")}))
            row = {"customers": size, "dry_run": args.dry_run,
                   **run_command(config, args.workers, args.dry_run)}
            row["pdf"] = asyncio.run(pdf_cost(world, url, args.sample))
            rows.append(row)
            print_row(row)
    print("targets: 10,000 statements in under 300 s on 2 cores, peak RSS under 1 GB")
    target = args.json or RESULTS / f"{dt.date.today().isoformat()}-bench_statements.json"
    target.write_text(json.dumps({"cpus": os.cpu_count(), "workers": args.workers,
                                  "rows": rows}, indent=2) + "\n")
    print(f"wrote {target}")
    return 0


HEADER = (f"{'customers':>9} {'queued':>7} {'wall s':>7} {'render+queue s':>14} {'stmt/s':>7} "
          f"{'cpu s':>7} {'parent':>7} {'workers':>8} {'cpu s/stmt':>10} {'peak RSS MB':>11} {'parent MB':>9} "
          f"{'others s':>8} {'others %':>8} {'steal s':>7} {'PDF s':>6} {'HTML+CSV s':>10} "
          f"{'pages':>5}")


def print_row(row: dict[str, Any]) -> None:
    if not getattr(print_row, "headed", False):
        print(HEADER)
        print("-" * len(HEADER))
        print_row.headed = True  # type: ignore[attr-defined]
    cost = row["pdf"]
    print(f"{row['customers']:>9,} {row['queued']:>7,} {row['wall_s']:>7.1f} "
          f"{row['render_and_queue_s']:>14.1f} {row['statements_per_s'] or 0:>7.2f} "
          f"{row['cpu_s']:>7.1f} {row['parent_cpu_s']:>7.1f} {row['workers_cpu_s']:>8.1f} "
          f"{row['cpu_s_per_statement'] or 0:>10.3f} {row['peak_rss_mb']:>11.0f} "
          f"{row['parent_peak_rss_mb']:>9.0f} "
          f"{row['others_cpu_s']:>8.1f} {row['others_percent']:>8.0f} {row['steal_s']:>7.1f} "
          f"{cost['pdf_cpu_s']:>6.3f} {cost['html_csv_cpu_s']:>10.4f} {cost['pages']:>5.1f}",
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
