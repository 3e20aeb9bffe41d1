"""How long the operators' listings take at a large provider: ``claim list``, ``ticket
list``, ``incident list --month``, ``ledger show`` and the month's ``report``, as the installed ``sla-monitor``
runs them (``--format json``, its output read to the end), each against ``--version`` in
the same run.

Run: ``python benchmarks/bench_listings.py [--customers 10000] [--runs 3] [--json FILE]
[--before PATH]``. ``--before`` names another installed ``sla-monitor`` (a virtual
environment of an older commit, on the same database): each command then runs with both
in turn, so that a change is measured beside what it changed, on the same noisy machine.

The world is ``bench_statements.py``'s (``benchmarks/_world.py``, fixed by a seed), for
March 2026 after it ended, written once to SQLite in a temporary directory with its
configuration: N customers, 5 incidents each over the month, 5 % with a web-panel ticket
(here each with its history: opened, diagnosed and fixed), 10 % with a claim of the month
(half of them decided); and here every site paid until 2026-06-30 and renewed for a year
in February (L-2), as at a provider a year on. Each command runs ``--runs`` times in turn with the others; the
table gives the median and best wall time, the median CPU-seconds of the command, its
peak RSS and the bytes it wrote, and the machine's other CPU use and steal over the run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _targets import Load

RESULTS = Path(__file__).resolve().parent / "results"
PAID_UNTIL = dt.date(2026, 6, 30)


def _write(directory: Path, customers: int) -> dict[str, Any]:
    """The world and its configuration written in ``directory`` (in a process of its own:
    this one stays small, since a child's peak RSS counts what it was spawned from)."""
    from _world import PERIOD, build
    from bench_statements import AFTER, write_world

    url = f"sqlite+aiosqlite:///{directory / 'sla-monitor.db'}"
    world = build(customers, customers * 5, now=AFTER)
    asyncio.run(write_world(world, url))
    events = asyncio.run(_histories(url))
    config = world.config
    for customer in config["customers"]:  # paid for a year from 2025-07 (L-2)
        for site in customer["sites"]:
            site["paid_until"] = PAID_UNTIL.isoformat()
    renewals = asyncio.run(_renewals(url, config))
    (directory / "config.yaml").write_text(json.dumps({**config, "storage": {"url": url}}))
    return {"month": PERIOD.label, "incidents": len(world.incidents), "ticket_events": events,
            "renewals": renewals}


async def _renewals(url: str, config: dict[str, Any]) -> int:
    """Every site renewed for its next year a month before the benchmark's month (L-2), as
    at a provider whose customers have been with it a year: the month's reports read every
    renewal recorded before the month's end."""
    from _world import PERIOD

    from monitor.store import Database
    from monitor.store.models import LedgerEntry

    renewed = PERIOD.start - dt.timedelta(days=30)
    entries = [{"customer_id": customer["id"], "site_domain": site["domain"],
                "kind": "renewal", "days": None, "amount": None, "currency": None,
                "paid_until": PAID_UNTIL.replace(year=PAID_UNTIL.year + 1),
                "period_end": None, "reason": "yearly renewal of support", "rule": "L-2",
                "evidence": {"previous_paid_until": PAID_UNTIL.isoformat()},
                "claim_id": None, "ticket_id": None, "reference": None, "actor": "bench",
                "created_at": renewed, "effective_at": renewed, "adjusts_id": None}
               for customer in config["customers"] for site in customer["sites"]]
    db = Database.open(url)
    async with db.transaction() as tx:
        connection = await tx.connection()
        await connection.execute(LedgerEntry.__table__.insert(), entries)
    await db.dispose()
    return len(entries)


async def _histories(url: str) -> int:
    """Each ticket's events as its fields tell them (opened, diagnosed, fixed): the
    statements' world writes the tickets alone. Returns how many were written."""
    from sqlalchemy import select

    from monitor.store import Database
    from monitor.store.models import Ticket, TicketEvent

    db = Database.open(url)
    async with db.transaction() as tx:
        connection = await tx.connection()
        found = (await connection.execute(select(
            Ticket.id, Ticket.opened_at, Ticket.diagnosed_at, Ticket.fixed_at))).all()
        events = [{"ticket_id": ticket, "at": at, "kind": kind, "channel": channel,
                   "note": None, "actor": "bench"}
                  for ticket, opened, diagnosed, fixed in found
                  for kind, at, channel in (("opened", opened, "email"),
                                            ("diagnosed", diagnosed, None),
                                            ("fixed", fixed, None))
                  if at is not None]
        if events:
            await connection.execute(TicketEvent.__table__.insert(), events)
    await db.dispose()
    return len(events)


def _run(command: list[str]) -> dict[str, float]:
    """One run of ``command``: wall and CPU seconds, peak RSS (MB), bytes written; a
    failure stops the benchmark with the command's own words."""
    read, write = os.pipe()
    with tempfile.TemporaryFile() as errors:  # its progress lines, and its words on failure
        started = time.perf_counter()
        pid = os.posix_spawn(command[0], command, os.environ.copy(),
                             file_actions=[(os.POSIX_SPAWN_DUP2, write, 1),
                                           (os.POSIX_SPAWN_DUP2, errors.fileno(), 2),
                                           (os.POSIX_SPAWN_CLOSE, read)])
        os.close(write)
        written = 0
        while chunk := os.read(read, 1 << 20):
            written += len(chunk)
        os.close(read)
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command)} failed ({status}):\n"
                             f"{errors.read()[-2000:].decode(errors='replace')}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "rss_mb": usage.ru_maxrss / 1024, "bytes": written}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--sla-monitor", metavar="PATH",
                        default=str(Path(sys.executable).with_name("sla-monitor")))
    parser.add_argument("--before", metavar="PATH",
                        help="another installed sla-monitor to run beside it")
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        print(json.dumps(_write(args.write, args.customers)))
        return 0
    scripts = {"": args.sla_monitor} | ({"before": args.before} if args.before else {})
    for option, script in (("--sla-monitor", args.sla_monitor), ("--before", args.before)):
        if script is not None and not os.access(script, os.X_OK):
            parser.error(f"{option}: {script!r} is not an executable file (an installed "
                         "sla-monitor, e.g. VENV/bin/sla-monitor)")
    with tempfile.TemporaryDirectory(prefix="bench-listings-") as tmp:
        started = time.perf_counter()
        world = json.loads(subprocess.run(
            [sys.executable, __file__, "--write", tmp, "--customers", str(args.customers)],
            check=True, capture_output=True, text=True).stdout)
        config = Path(tmp) / "config.yaml"
        print(f"{args.customers:,} customers, {world['incidents']:,} incidents in "
              f"{world['month']}, {world['ticket_events']:,} ticket events, {world['renewals']:,} renewals; written in "
              f"{time.perf_counter() - started:.0f} s")
        listings = {
            "--version": ["--version"],
            "claim list": ["-c", str(config), "claim", "list", "--format", "json"],
            "ticket list": ["-c", str(config), "ticket", "list", "--format", "json"],
            "incident list --month": ["-c", str(config), "incident", "list", "--month",
                                      world["month"], "--format", "json"],
            "ledger show": ["-c", str(config), "ledger", "show", "--format", "json"],
            "report --month": ["-c", str(config), "report", "--month", world["month"],
                               "--format", "json"],
        }
        runs: dict[tuple[str, str], list[dict[str, float]]] = {
            (name, which): [] for name in listings for which in scripts}
        load = Load(children=True)  # the commands are this process's waited-for children
        for _ in range(args.runs):
            for name, command in listings.items():
                for which, script in scripts.items():
                    runs[name, which].append(_run([script, *command]))
        figures = load.figures()
    rows: list[dict[str, Any]] = []
    for (name, which), measured in runs.items():
        rows.append({
            "command": name, "build": which or "this",
            "median_s": round(statistics.median(r["wall_s"] for r in measured), 3),
            "best_s": round(min(r["wall_s"] for r in measured), 3),
            "cpu_s": round(statistics.median(r["cpu_s"] for r in measured), 3),
            "peak_rss_mb": round(max(r["rss_mb"] for r in measured), 1),
            "bytes": int(statistics.median(r["bytes"] for r in measured))})
    header = (f"{'command':24} {'build':6} {'median s':>9} {'best s':>7} {'cpu s':>6} "
              f"{'RSS MB':>7} {'output':>10}")
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['command']:24} {row['build']:6} {row['median_s']:9.2f} "
              f"{row['best_s']:7.2f} {row['cpu_s']:6.2f} {row['peak_rss_mb']:7.0f} "
              f"{row['bytes']:10,}")
    print(f"\nothers {figures['others_cpu_s']:.2f} CPU-s, steal {figures['steal_s']:.2f} s "
          f"over {figures['wall_s']:.0f} s; {args.runs} runs each, in turn")
    target = args.json or RESULTS / f"{dt.date.today()}-bench_listings.json"
    target.write_text(json.dumps({
        "customers": args.customers, "incidents": world["incidents"],
        "ticket_events": world["ticket_events"], "renewals": world["renewals"],
        "runs": args.runs,
        "others_cpu_s": round(figures["others_cpu_s"], 2),
        "steal_s": round(figures["steal_s"], 2), "wall_s": round(figures["wall_s"], 1),
        "commands": rows}, indent=2) + "\n")
    print(f"results: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
