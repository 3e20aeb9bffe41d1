"""What chaining probe failures costs: 20,000 failures written in 10 flushes (one
transaction each, as the recorder flushes), once without the evidence chain (the rows
alone) and once through :func:`monitor.store.history.add_failures` (the rows and their
chain entries in the same transaction), on SQLite. Each line gives the median of
``--repeat`` runs: wall time, this process's CPU, the machine's busy time of everything
else (others) and steal over the same interval (the machine is shared), and the CPU per
failure.

    python benchmarks/bench_chain.py [--failures 20000] [--flushes 10] [--repeat 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _targets import timed
from sqlalchemy import insert

from monitor.store import Database, create_engine, history
from monitor.store.models import Base, ProbeFailure

START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def failures(flush: int, size: int) -> list[dict[str, Any]]:
    """One flush's failures as the recorder writes them (a float latency, a timings dict,
    an HTTP status on some, None on others)."""
    rows = []
    for i in range(size):
        n = flush * size + i
        rows.append({
            "target_id": f"t{n % 4000:05d}",
            "at": START + dt.timedelta(seconds=n, microseconds=n % 997),
            "state": "down",
            "failure_class": "http_status" if n % 3 else "timeout",
            "detail": f"HTTP 503 from 192.0.2.{n % 250}" if n % 3 else "no answer in 10 s",
            "http_status": 503 if n % 3 else None,
            "latency_ms": 123.456 + n % 100 if n % 3 else None,
            "timings": {"connect_ms": 1.5, "first_byte_ms": 80.25} if n % 3 else None,
        })
    return rows


async def _plain(tx: Any, rows: list[dict[str, Any]]) -> None:
    connection = await tx.connection()
    await connection.execute(insert(ProbeFailure), rows)


async def _write(directory: Path, count: int, flushes: int,
                 how: Callable[[Any, list[dict[str, Any]]], Awaitable[None]]) -> None:
    path = directory / f"bench-{time.monotonic_ns()}.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    db = Database(engine)
    size = count // flushes
    batches = [failures(f, size) for f in range(flushes)]
    for batch in batches:
        async with db.transaction() as tx:
            await how(tx, batch)
    await engine.dispose()
    path.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--failures", type=int, default=20_000)
    parser.add_argument("--flushes", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as scratch:
        directory = Path(scratch)
        for name, how in (("rows only", _plain), ("rows + chain", history.add_failures)):
            rows[name] = timed(lambda how=how: asyncio.run(  # type: ignore[misc]
                _write(directory, args.failures, args.flushes, how)), args.repeat)
    for row in rows.values():
        row["cpu_us_per_failure"] = row["cpu_s"] / args.failures * 1e6
    chain_us = rows["rows + chain"]["cpu_us_per_failure"] - rows["rows only"]["cpu_us_per_failure"]
    print(f"{args.failures:,} probe failures in {args.flushes} flushes on SQLite, median of "
          f"{args.repeat}")
    print(f"{'write':14} {'wall s':>8} {'cpu s':>8} {'others s':>9} {'steal s':>8} "
          f"{'cpu us/failure':>15}")
    for name, row in rows.items():
        print(f"{name:14} {row['wall_s']:8.2f} {row['cpu_s']:8.2f} {row['others_cpu_s']:9.2f} "
              f"{row['steal_s']:8.2f} {row['cpu_us_per_failure']:15.1f}")
    print(f"the chain: {chain_us:.1f} us of CPU per failure")
    if args.json:
        args.json.write_text(json.dumps({
            "failures": args.failures, "flushes": args.flushes, "repeat": args.repeat,
            "cpus": os.cpu_count(), "rows": rows, "chain_cpu_us_per_failure": chain_us},
            indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
