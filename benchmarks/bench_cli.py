"""How quick the command line is: wall time and peak memory of the installed
``sla-monitor`` for ``--version``, ``--help``, a command's ``--help`` and a read command
(``incident list`` on a small SQLite database), each against a bare ``python -c pass``
in the same run.

    python benchmarks/bench_cli.py [--runs 15] [--json out.json] [--sla-monitor PATH]

Each command runs ``--runs`` times in turn with the others (so a noisy moment hits all
of them); the table gives the median and the best wall time, the median's ratio to the
bare Python start, the peak RSS (``ru_maxrss`` of the child), and the machine's other
CPU use and steal during the run. Targets (the issue's): ``--version`` and ``--help``
under 10x the bare start, ``incident list`` under 30x.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _targets import Load

CONFIG = """\
services:
  - id: panel
    kind: web_panel
    probe: {{type: tcp, host: 127.0.0.1, port: 9}}
storage: {{url: 'sqlite+aiosqlite:///{db}'}}
"""


def _run(command: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of one run of ``command``."""
    started = time.perf_counter()
    pid = os.posix_spawn(command[0], command, os.environ.copy(),
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed ({status})")
    return wall, usage.ru_maxrss * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--sla-monitor", metavar="PATH",
                        default=str(Path(sys.executable).with_name("sla-monitor")))
    args = parser.parse_args()
    script = args.sla_monitor
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(CONFIG.format(db=Path(tmp) / "sla-monitor.db"))
        for extra in (["db", "upgrade"],
                      ["incident", "add", "--service", "panel", "--start", "2026-03-10T10:00Z",
                       "--end", "2026-03-10T11:00Z", "--note", "a benchmark's incident"]):
            subprocess.run([script, "-c", str(config), *extra], check=True, capture_output=True)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "sla-monitor --version": [script, "--version"],
            "sla-monitor --help": [script, "--help"],
            "sla-monitor incident list --help": [script, "incident", "list", "--help"],
            "sla-monitor incident list": [script, "-c", str(config), "incident", "list"],
        }
        limits = {"sla-monitor --version": 10, "sla-monitor --help": 10,
                  "sla-monitor incident list": 30}
        walls: dict[str, list[float]] = {name: [] for name in commands}
        peaks: dict[str, list[int]] = {name: [] for name in commands}
        load = Load(children=True)  # the commands are this process's waited-for children
        for _ in range(args.runs):
            for name, command in commands.items():
                wall, peak = _run(command)
                walls[name].append(wall)
                peaks[name].append(peak)
        figures = load.figures()
    elapsed = figures["wall_s"]
    others = figures["others_cpu_s"] / elapsed * 100
    steal = figures["steal_s"] / elapsed * 100
    bare = statistics.median(walls["python -c pass"])
    rows = []
    for name in commands:
        median = statistics.median(walls[name])
        ratio = median / bare
        limit = limits.get(name)
        rows.append({
            "command": name, "median_s": round(median, 4), "best_s": round(min(walls[name]), 4),
            "ratio": round(ratio, 1), "limit": limit,
            "met": None if limit is None else ratio <= limit,
            "peak_rss_mb": round(statistics.median(peaks[name]) / 2**20, 1),
        })
    header = (f"{'command':34} {'median s':>9} {'best s':>8} {'x bare':>7} {'limit':>6} "
              f"{'RSS MB':>7}")
    print(header)
    print("-" * len(header))
    for row in rows:
        limit = "" if row["limit"] is None else f"{row['limit']}x"
        print(f"{row['command']:34} {row['median_s']:9.3f} {row['best_s']:8.3f} "
              f"{row['ratio']:7.1f} {limit:>6} {row['peak_rss_mb']:7.1f}")
    print(f"\nothers {others:.0f} % of a CPU, steal {steal:.1f} %, {args.runs} runs each")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"runs": args.runs, "others_percent": round(others, 1),
             "steal_percent": round(steal, 2), "commands": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
