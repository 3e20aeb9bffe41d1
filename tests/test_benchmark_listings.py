"""``benchmarks/bench_listings.py`` runs from a checkout against the installed command, on
a small world: every listing it times answers, with output, and its figures are written
(the benchmark itself is run by hand at 10,000 customers: README, Benchmarks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import sla_monitor_command

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_listings.py"


@pytest.mark.slow
def test_the_listings_benchmark_runs_every_listing(tmp_path: Path) -> None:
    figures = tmp_path / "listings.json"
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--customers", "40", "--runs", "1",
         "--json", str(figures), "--sla-monitor", sla_monitor_command()[0]],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    written = json.loads(figures.read_text())
    assert (written["customers"], written["incidents"], written["renewals"]) == (40, 200, 40)
    rows = {row["command"]: row for row in written["commands"]}
    assert sorted(rows) == sorted(["--version", "claim list", "ticket list",
                                   "incident list --month", "ledger show", "report --month"])
    assert all(row["bytes"] > 2 and row["median_s"] > 0 for row in rows.values())
    assert "report --month" in done.stdout and "others" in done.stdout


def test_a_wrong_command_path_is_said_before_anything_is_built(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--before", str(tmp_path / "nowhere")],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"--before: '{tmp_path / 'nowhere'}' is not an executable file" in done.stderr
    assert "Traceback" not in done.stderr
