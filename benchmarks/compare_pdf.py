"""A statement's PDF cost, this checkout's code against another revision's, in one run:
``python benchmarks/compare_pdf.py [--ref main] [--pairs 2]``.

The statements are 20 of ``bench_statements.py``'s world (its seed; 200 customers, 5
incidents each, the 10 maintenance windows of the web panel in every statement), in
English and the same 20 in Persian (40 in all), after a first one not counted (fonts and
compiler loaded). Each side runs in a process of its own, the other revision's
``monitor/`` (``git archive REF``) first on its path, alternated in ``--pairs`` pairs;
each reads the statements from the world's database with its own code (nothing passes
between the processes but the database's path and printed JSON: no pickle), and prints
the CPU-seconds of one statement's PDF, the rest of the machine's busy time meanwhile
(in % of one CPU) and steal. Table and JSON (benchmarks/results/).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RESULTS = HERE / "results"


async def write_month(target: Path) -> None:
    """bench_statements' world of 200 customers written to ``target`` and its month closed."""
    from _world import PERIOD, build
    from bench_statements import AFTER, write_world

    from monitor import actions
    from monitor.store import Database, create_engine

    url = f"sqlite+aiosqlite:///{target}"
    world = build(200, 1000, now=AFTER)
    await write_world(world, url)
    engine = create_engine(url)
    await actions.close_month(Database(engine), world.settings, month=PERIOD.label, now=AFTER)
    await engine.dispose()


async def statements(target: Path) -> list[Any]:
    """The statements of the first 21 customers of :func:`write_month`'s database, as the
    ``monitor`` first on the path reads them."""
    from _world import PERIOD, build
    from bench_statements import AFTER

    from monitor import actions
    from monitor.store import Database, create_engine

    settings = build(200, 1000, now=AFTER).settings  # the same seed: the same configuration
    engine = create_engine(f"sqlite+aiosqlite:///{target}")
    db = Database(engine)
    views = [await actions.statement(db, settings, month=PERIOD.label, customer=c, now=AFTER)
             for c in list(settings.topology.customers)[:21]]
    await engine.dispose()
    return views


def _busy() -> tuple[float, float]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - fields[3] - fields[4]) / tick, fields[7] / tick


def measure(source: Path) -> dict[str, Any]:
    """In this process: the PDF of each statement of ``source`` (a database of
    :func:`write_month`), whichever ``monitor`` is first on the path."""
    import monitor.present.statement as code
    from monitor.present.language import language

    views = asyncio.run(statements(source))
    views += [dataclasses.replace(view, language=language("fa")) for view in views[1:]]
    code.statement_pdf(views[0])
    busy, steal = _busy()
    wall, begin = time.monotonic(), time.process_time()
    sizes = [len(code.statement_pdf(view)) for view in views[1:]]
    cpu, wall = time.process_time() - begin, time.monotonic() - wall
    busy_after, steal_after = _busy()
    return {"monitor": str(Path(code.__file__).parents[2]), "statements": len(sizes),
            "pdf_cpu_s": round(cpu / len(sizes), 4),
            "kb": round(sum(sizes) / len(sizes) / 1024, 1),
            "others_percent": round(100 * max(0.0, busy_after - busy - cpu) / wall, 1),
            "steal_s": round(steal_after - steal, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="main", help="the revision to compare with (git)")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="compare-pdf-") as scratch:
        folder = Path(scratch)
        archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", args.ref, "monitor"],
                                 check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(folder / "old", filter="data")
        source = folder / "world.db"
        asyncio.run(write_month(source))
        print(f"{'code':<12} {'stmts':>5} {'PDF cpu s':>9} {'KB':>6} {'others %':>8} "
              f"{'steal s':>7}")
        for _ in range(args.pairs):
            for side, path in ((args.ref, str(folder / "old")), ("this", "")):
                env = {**os.environ, "PYTHONPATH": path}
                out = subprocess.run([sys.executable, __file__, "--measure", str(source)],
                                     env=env, check=True, capture_output=True, text=True)
                row = {"code": side, **json.loads(out.stdout.strip().splitlines()[-1])}
                rows.append(row)
                print(f"{side:<12} {row['statements']:>5} {row['pdf_cpu_s']:>9.4f} "
                      f"{row['kb']:>6.1f} {row['others_percent']:>8.1f} {row['steal_s']:>7.2f}",
                      flush=True)
    target = RESULTS / f"{dt.date.today().isoformat()}-compare_pdf.json"
    target.write_text(json.dumps({"ref": args.ref, "rows": rows}, indent=2) + "\n")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
