"""How many targets one daemon probes at a 30 s interval, at what cost, against the blackbox exporter.

Run: ``python benchmarks/bench_probes.py`` (about 8 minutes: 5,000, 10,000 and
20,000 targets, the exporter at 20,000). ``--targets 20000 --interval 30
--duration 120`` chooses; ``--targets`` takes a list; ``--compare all`` runs
the exporter at every count; ``--repeat 3`` runs each count again.

For each target count N the real daemon runs as a subprocess
(``python -m monitor -c CONFIG run``) so that /proc measures it alone: N
``mobile_api`` services (no D-1 restriction), each ``type: http`` to its own
path on a local nginx (``http://127.0.0.1:PORT/t/00042``; an aiohttp server
in a process of its own when nginx is not installed, or with ``--server
aiohttp``), ``interval`` 30 s, ``timeout`` 5 s, ``max_concurrency`` 2000,
SQLite in a temporary directory. After ``--warmup`` (default: one interval
plus 5 s) comes the steady-state window (``--duration``, default two intervals):

* scheduling lateness p99, estimated from the buckets of the daemon's own
  ``sla_monitor_scheduler_lateness_seconds`` (the window's increase,
  interpolated inside the bucket like PromQL's ``histogram_quantile``), and
  ``sla_monitor_scheduler_missed_runs_total`` over the whole run;
* CPU-seconds per 1,000 probes: utime + stime of the daemon process (all its
  threads) from /proc/PID/stat over the window, over the increase of
  ``sla_monitor_probe_results_total``. The window lies between two /metrics
  scrapes, whose own cost (a page of two series per target) is reported
  apart; the target server's CPU is reported separately, and so are the rest
  of the machine's busy time and the time stolen by the hypervisor, which
  show a disturbed measurement;
* VmRSS at the end of the window, per 1,000 targets and in total;
* after SIGTERM (exit status must be 0): rows and bytes of ``probe_runs``,
  ``probe_failures`` and ``latency_rollups`` (bytes from SQLite's ``dbstat``:
  pages of the table and its indexes), extrapolated to one target-day as
  the printed table says.

Then Prometheus' blackbox exporter does the same work: the same N URLs, the
same interval, the same target server, driven like Prometheus would by a
separate process (:mod:`_blackbox`); only the exporter's own CPU is measured,
over a window of the same length after the same warm-up.

Targets: 20,000 targets at 30 s with lateness p99 < 1 s; RSS < 300 MB at
20,000 targets; < 50 rows per target-day; daemon CPU per probe no more than
the exporter's. Reference figures measured here before: 0.69 CPU-s per 1,000
probes for the exporter, 0.36-0.51 for aiohttp's client alone, 0.33 for
APScheduler with one job per probe. The machine has 2 cores and is shared:
look at the others % and steal % columns, and repeat a disturbed run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _blackbox import BlackboxExporter, target_path
from _targets import (
    HOST,
    AiohttpTarget,
    Nginx,
    cpu_seconds,
    cpu_times,
    free_port,
    machine_cpu,
    rss_bytes,
    scrape,
    stop_process,
    target_server,
    wait_for_http,
)

REPO = Path(__file__).resolve().parent.parent
HISTORY_TABLES = ("probe_runs", "probe_failures", "latency_rollups")
FAMILIES = (
    "sla_monitor_probe_results_total",
    "sla_monitor_scheduler_lateness_seconds_bucket",
    "sla_monitor_scheduler_missed_runs_total",
    "sla_monitor_store_rows_written_total",
)
LATENESS_LIMIT = 1.0
RSS_LIMIT_MB = 300.0
ROWS_PER_DAY_LIMIT = 50.0
HEADLINE_TARGETS = 20_000
MB = 1024 * 1024


@dataclass(frozen=True)
class Reading:
    """CPU counters at one moment: the measured process, the target server, the machine."""

    at: float  # time.monotonic()
    user: float
    system: float
    target: float
    machine: float
    steal: float
    excluded: float  # helpers that are neither measured nor "others" (the exporter's driver)

    @classmethod
    def take(cls, pid: int, server: Nginx | AiohttpTarget, excluded: int | None = None) -> Reading:
        user, system = cpu_times(pid)
        machine, steal = machine_cpu()
        return cls(
            at=time.monotonic(),
            user=user,
            system=system,
            target=server.cpu_seconds(),
            machine=machine,
            steal=steal,
            excluded=cpu_seconds(excluded) if excluded is not None else 0.0,
        )


@dataclass
class Window:
    """What the daemon or the exporter did between two readings."""

    start: Reading
    end: Reading
    probes: float
    failed: float = 0.0

    @property
    def seconds(self) -> float:
        return self.end.at - self.start.at

    @property
    def cpu(self) -> float:
        return self.end.user + self.end.system - self.start.user - self.start.system

    @property
    def system_share(self) -> float:
        return (self.end.system - self.start.system) / self.cpu if self.cpu else math.nan

    @property
    def target_cpu(self) -> float:
        return self.end.target - self.start.target

    @property
    def others(self) -> float:
        """Busy CPU-seconds of everything else on the machine (kernel softirq included)."""
        machine = self.end.machine - self.start.machine
        excluded = self.end.excluded - self.start.excluded
        return machine - self.cpu - self.target_cpu - excluded

    @property
    def steal(self) -> float:
        return self.end.steal - self.start.steal

    @property
    def cpu_per_1k(self) -> float:
        return 1000 * self.cpu / self.probes if self.probes else math.nan

    @property
    def target_cpu_per_1k(self) -> float:
        return 1000 * self.target_cpu / self.probes if self.probes else math.nan


@dataclass
class DaemonRun:
    targets: int
    startup: float
    window: Window
    lateness_p99: float  # inf: beyond the last finite bucket
    lateness_max_bucket: str
    missed_window: float
    missed_total: float
    rss: int
    scrape_cpu: float
    exit_status: int
    log_problems: int
    rows: dict[str, int] = field(default_factory=dict)
    table_bytes: dict[str, int] = field(default_factory=dict)
    probed: int = 0  # targets with a probe_runs row
    target_hours: int = 0  # (target, clock hour) pairs with a probe
    probes_total: float = 0.0


@dataclass
class ExporterRun:
    targets: int
    window: Window
    rss: int
    driver: dict[str, float]


# --- the daemon ------------------------------------------------------------------------------


def write_config(path: Path, targets: int, base: str, args: argparse.Namespace, port: int) -> None:
    lines = [
        f"monitor: {{max_concurrency: {args.concurrency}}}",
        f'http: {{listen: "{HOST}:{port}"}}',
        f'storage: {{url: "sqlite+aiosqlite:///{path.parent / "bench.db"}"}}',
        "services:",
    ]
    probe = f"interval: {args.interval:g}, timeout: {args.timeout:g}"
    lines += [
        f'  - {{id: t{i:05d}, kind: mobile_api, probe: {{type: http, '
        f'url: "{base}{target_path(i)}", {probe}}}}}'
        for i in range(targets)
    ]
    path.write_text("\n".join(lines) + "\n")


def lateness_quantile(q: float, buckets: dict[float, float]) -> float:
    """PromQL's ``histogram_quantile`` on cumulative ``{le: count}``; inf past the last bound."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return math.nan
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return math.inf
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = bound, count
    return math.inf


def _buckets(samples: dict[str, float]) -> dict[float, float]:
    buckets = {}
    for name, value in samples.items():
        if name.startswith("sla_monitor_scheduler_lateness_seconds_bucket"):
            bound = name.partition('le="')[2].partition('"')[0]
            buckets[float(bound)] = value
    return buckets


def _sum(samples: dict[str, float], family: str, contains: str = "") -> float:
    return sum(v for k, v in samples.items() if k.startswith(family) and contains in k)


def run_daemon(targets: int, args: argparse.Namespace, server: Nginx | AiohttpTarget) -> DaemonRun:
    with tempfile.TemporaryDirectory(prefix="bench-probes-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        config = workdir / "config.yaml"
        write_config(config, targets, server.url(""), args, port)
        metrics = f"http://{HOST}:{port}/metrics"
        log_path = workdir / "daemon.log"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with log_path.open("wb") as log:
            launched = time.monotonic()
            process = subprocess.Popen(
                [sys.executable, "-m", "monitor", "-c", str(config), "run"],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            try:
                wait_for_http(metrics, within=600, process=process)
                startup = time.monotonic() - launched
                _sleep(args.warmup, process)
                # A scrape renders on the event loop in one go: its counters are a snapshot
                # taken during the request. The CPU window lies between the two scrapes.
                first, first_at = scrape(metrics, FAMILIES)
                start = Reading.take(process.pid, server)
                _sleep(args.duration, process)
                end = Reading.take(process.pid, server)
                rss = rss_bytes(process.pid)
                last, last_at = scrape(metrics, FAMILIES)
                # What the second scrape cost, less the probing going on meanwhile.
                busy = (end.user + end.system - start.user - start.system) / (end.at - start.at)
                spent = cpu_seconds(process.pid) - end.user - end.system
                scrape_cpu = spent - busy * (time.monotonic() - end.at)
            finally:
                status = _terminate(process)
                if status != 0:
                    tail = log_path.read_text(errors="replace").splitlines()[-10:]
                    print("\n".join(["  daemon log (end):", *tail]), file=sys.stderr)
        problems = [
            line
            for line in log_path.read_text(errors="replace").splitlines()
            if '"level": "warning"' in line or '"level": "error"' in line
        ]
        log_problems = len(problems)
        if problems:
            print(f"  daemon log: {len(problems)} warnings/errors, the first:", file=sys.stderr)
            for line in problems[:5]:
                print(f"    {_log_line(line)}", file=sys.stderr)
        results = "sla_monitor_probe_results_total"
        missed = "sla_monitor_scheduler_missed_runs_total"
        late = {
            bound: count - _buckets(first).get(bound, 0.0)
            for bound, count in _buckets(last).items()
        }
        # The smallest bucket bound that holds every start of the window: the worst lateness.
        highest = min((b for b, c in late.items() if c >= late[math.inf]), default=math.inf)
        scale = (end.at - start.at) / (last_at - first_at)
        run = DaemonRun(
            targets=targets,
            startup=startup,
            window=Window(
                start=start,
                end=end,
                # Counted between the two snapshots, scaled to the CPU window (a steady rate;
                # the scrapes take a fraction of a second each).
                probes=(_sum(last, results) - _sum(first, results)) * scale,
                failed=(
                    _sum(last, results) - _sum(last, results, 'state="up"')
                    - _sum(first, results) + _sum(first, results, 'state="up"')
                ),
            ),
            lateness_p99=lateness_quantile(0.99, late),
            lateness_max_bucket="+Inf" if math.isinf(highest) else f"{highest:g}",
            missed_window=_sum(last, missed) - _sum(first, missed),
            missed_total=_sum(last, missed),
            rss=rss,
            scrape_cpu=scrape_cpu,
            exit_status=status,
            log_problems=log_problems,
            probes_total=_sum(last, results),
        )
        _count_rows(workdir / "bench.db", run)
        return run


def _log_line(line: str) -> str:
    """A JSON log line as ``level logger: event``, with the end of its traceback if any."""
    try:
        event = json.loads(line)
    except ValueError:
        return line[:400]
    text = f"{event.get('level')} {event.get('logger')}: {event.get('event')}"
    trace = str(event.get("exception") or "").strip().splitlines()
    return "\n      ".join([text, *trace[-6:]])


def _sleep(seconds: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited with {process.returncode} during the run")
        time.sleep(min(left, 1.0))


def _terminate(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(120)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return -9


def _hours_spanned(first: str, last: str) -> int:
    start = dt.datetime.fromisoformat(first).replace(minute=0, second=0, microsecond=0)
    return int((dt.datetime.fromisoformat(last) - start) // dt.timedelta(hours=1)) + 1


def _count_rows(database: Path, run: DaemonRun) -> None:
    with sqlite3.connect(database) as connection:
        for table in HISTORY_TABLES:
            run.rows[table] = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        # Clock hours in which each target was probed: it stayed up, so its one run spans
        # them all (SQLite stores UTC as "YYYY-MM-DD HH:MM:SS.ffffff").
        spans = connection.execute(
            "SELECT min(first_at), max(last_at) FROM probe_runs GROUP BY target_id"
        ).fetchall()
        run.probed = len(spans)
        run.target_hours = sum(_hours_spanned(first, last) for first, last in spans)
        # Pages of each table and of its indexes (dbstat: what the file holds for it).
        owners = dict(connection.execute("SELECT name, tbl_name FROM sqlite_master"))
        for name, size in connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            table = owners.get(name, name)
            if table in HISTORY_TABLES:
                run.table_bytes[table] = run.table_bytes.get(table, 0) + size


# --- the blackbox exporter -------------------------------------------------------------------


def run_exporter(targets: int, args: argparse.Namespace, server: Nginx | AiohttpTarget) -> ExporterRun:
    with BlackboxExporter(args.timeout) as exporter:
        start = time.time() + args.warmup
        end = start + args.duration
        driver = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve().parent / "_blackbox.py"),
                f"--exporter={exporter.probe_url()}",
                f"--target-base={server.url('')}",
                f"--targets={targets}",
                f"--interval={args.interval}",
                f"--timeout={args.timeout}",
                f"--concurrency={args.concurrency}",
                f"--window-start={start}",
                f"--window-end={end}",
                f"--stop-at={end + 0.5}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        try:
            time.sleep(max(0.0, start - time.time()))
            first = Reading.take(exporter.pid, server, excluded=driver.pid)
            time.sleep(max(0.0, end - time.time()))
            last = Reading.take(exporter.pid, server, excluded=driver.pid)
            rss = exporter.rss_bytes()
            out, _ = driver.communicate(timeout=args.timeout + 60)
        finally:
            stop_process(driver)
        if driver.returncode != 0:
            raise RuntimeError(f"the exporter driver failed with {driver.returncode}")
        counts = json.loads(out)
        return ExporterRun(
            targets=targets,
            window=Window(
                start=first,
                end=last,
                probes=counts["window_ok"] + counts["window_failed"],
                failed=counts["window_failed"],
            ),
            rss=rss,
            driver=counts,
        )


# --- the report ------------------------------------------------------------------------------


def _seconds(value: float) -> str:
    return f"> {5:g}" if math.isinf(value) else f"{value:.3f}"


def print_daemon(runs: list[DaemonRun], args: argparse.Namespace, server: str) -> None:
    print(
        f"\nDaemon: interval {args.interval:g} s, timeout {args.timeout:g} s, max_concurrency "
        f"{args.concurrency}, warm-up {args.warmup:g} s, window {args.duration:g} s, "
        f"target {server}, {os.cpu_count()} CPUs. CPU % is of one CPU; others % is the rest "
        f"of the machine.\n"
    )
    header = (
        f"{'targets':>7} {'probes/s':>8} {'start s':>7} {'late p99 s':>10} {'<= s':>5} "
        f"{'missed':>6} {'CPU-s/1k':>8} {'CPU %':>5} {'sys %':>5} {'tgt CPU-s/1k':>12} "
        f"{'RSS MB':>6} {'MB/1k tgt':>9} {'scrape CPU-s':>12} {'others %':>8} {'steal %':>7} "
        f"{'failed':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        w = r.window
        print(
            f"{r.targets:>7} {w.probes / w.seconds:>8.1f} {r.startup:>7.1f} "
            f"{_seconds(r.lateness_p99):>10} {r.lateness_max_bucket:>5} "
            f"{r.missed_total:>6.0f} {w.cpu_per_1k:>8.3f} {100 * w.cpu / w.seconds:>5.1f} "
            f"{100 * w.system_share:>5.0f} {w.target_cpu_per_1k:>12.3f} {r.rss / MB:>6.0f} "
            f"{r.rss / MB / (r.targets / 1000):>9.2f} {r.scrape_cpu:>12.2f} "
            f"{100 * w.others / w.seconds:>8.1f} {100 * w.steal / w.seconds:>7.1f} "
            f"{w.failed:>6.0f}"
        )
    by_targets = {r.targets: r.rss for r in runs}
    if len(by_targets) > 1:
        low, high = min(by_targets), max(by_targets)
        slope = (by_targets[high] - by_targets[low]) / MB / ((high - low) / 1000)
        print(f"\nRSS growth from {low} to {high} targets: {slope:.1f} MB per 1,000 targets.")
    print(
        "\nlate p99: the window's increase of sla_monitor_scheduler_lateness_seconds, "
        "interpolated in its bucket;\n<= s: the bucket bound that holds every start of the "
        "window; missed: sla_monitor_scheduler_missed_runs_total\nat the end of the run; "
        "scrape CPU-s: one /metrics scrape (two series per target), outside the window."
    )


def rows_per_day(r: DaemonRun, interval: float) -> dict[str, tuple[float, float]]:
    """Rows and bytes per target-day, for a target that stays up."""
    per_row = {t: r.table_bytes.get(t, 0) / r.rows[t] if r.rows[t] else 0.0 for t in r.rows}
    probes_per_day = 86400 / interval
    rows = {
        # One run per stretch of equal state, updated in place: one row, whatever the length.
        "probe_runs": r.rows["probe_runs"] / max(r.probed, 1),
        # One row per target and clock hour with a probe, rewritten while the hour lasts.
        "latency_rollups": 24 * r.rows["latency_rollups"] / max(r.target_hours, 1),
        # One row per failed probe: the failure rate seen times the probes of a day.
        "probe_failures": probes_per_day * r.rows["probe_failures"] / max(r.probes_total, 1),
    }
    return {t: (n, n * per_row[t]) for t, n in rows.items()}


def print_storage(runs: list[DaemonRun], interval: float) -> None:
    print(
        "\nProbe history per target that stays up (SQLite; bytes = pages of the table and its "
        "indexes / rows). A day =\nprobe_runs rows per probed target (one per state change, "
        "updated in place: no growth with time)\n+ 24 x latency_rollups rows per (target, clock "
        "hour) probed + probe_failures rows per probe x probes a day.\n"
    )
    header = (
        f"{'targets':>7} {'runs':>7} {'failures':>8} {'rollups':>7} {'tgt-hours':>9} "
        f"{'B/run':>6} {'B/rollup':>8} {'rows/target/day':>15} {'bytes/target/day':>16}"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        day = rows_per_day(r, interval)
        per_row = {t: r.table_bytes.get(t, 0) / r.rows[t] if r.rows[t] else 0.0 for t in r.rows}
        print(
            f"{r.targets:>7} {r.rows['probe_runs']:>7} {r.rows['probe_failures']:>8} "
            f"{r.rows['latency_rollups']:>7} {r.target_hours:>9} {per_row['probe_runs']:>6.0f} "
            f"{per_row['latency_rollups']:>8.0f} {sum(n for n, _ in day.values()):>15.1f} "
            f"{sum(b for _, b in day.values()):>16.0f}"
        )


def print_comparison(
    pairs: list[tuple[DaemonRun, ExporterRun]], interval: float, server: str
) -> None:
    print(
        f"\nThe same load through prometheus-blackbox-exporter (module http, ip4, the same "
        f"{server}, {interval:g} s interval);\nthe exporter's own CPU only (its driver excluded); the "
        f"daemon column is the run just before it.\n"
    )
    header = (
        f"{'targets':>7} {'exporter CPU-s/1k':>17} {'daemon CPU-s/1k':>15} "
        f"{'daemon/exporter':>15} {'probes/s':>8} {'sys %':>5} {'failed':>6} {'RSS MB':>6} "
        f"{'tgt CPU-s/1k':>12} {'others %':>8} {'steal %':>7}"
    )
    print(header)
    print("-" * len(header))
    for daemon, exporter in pairs:
        w = exporter.window
        print(
            f"{exporter.targets:>7} {w.cpu_per_1k:>17.3f} {daemon.window.cpu_per_1k:>15.3f} "
            f"{daemon.window.cpu_per_1k / w.cpu_per_1k:>15.2f} {w.probes / w.seconds:>8.1f} "
            f"{100 * w.system_share:>5.0f} {w.failed:>6.0f} {exporter.rss / MB:>6.0f} "
            f"{w.target_cpu_per_1k:>12.3f} {100 * w.others / w.seconds:>8.1f} "
            f"{100 * w.steal / w.seconds:>7.1f}"
        )


def verdicts(
    runs: list[DaemonRun], pairs: list[tuple[DaemonRun, ExporterRun]], interval: float
) -> bool:
    print()
    ok = True

    def say(passed: bool, text: str) -> None:
        nonlocal ok
        ok = ok and passed
        print(f"{'OK  ' if passed else 'MISS'} {text}")

    for r in runs:
        say(r.exit_status == 0, f"{r.targets} targets: daemon exited {r.exit_status} on SIGTERM")
        say(r.window.failed == 0, f"{r.targets} targets: {r.window.failed:.0f} failed probes")
        day = sum(n for n, _ in rows_per_day(r, interval).values())
        say(day < ROWS_PER_DAY_LIMIT, f"{r.targets} targets: {day:.1f} rows per target-day "
            f"(< {ROWS_PER_DAY_LIMIT:g})")
        if r.targets == HEADLINE_TARGETS:
            say(r.lateness_p99 < LATENESS_LIMIT,
                f"{r.targets} targets at {interval:g} s: lateness p99 {_seconds(r.lateness_p99)} s "
                f"(< {LATENESS_LIMIT:g} s), {r.missed_total:.0f} missed runs")
            say(r.rss / MB < RSS_LIMIT_MB,
                f"{r.targets} targets: RSS {r.rss / MB:.0f} MB (< {RSS_LIMIT_MB:g} MB)")
    for daemon, exporter in pairs:
        say(daemon.window.cpu_per_1k <= exporter.window.cpu_per_1k,
            f"{daemon.targets} targets: daemon {daemon.window.cpu_per_1k:.3f} CPU-s per 1,000 "
            f"probes vs exporter {exporter.window.cpu_per_1k:.3f}")
    sustained = [
        r.targets for r in runs if r.lateness_p99 < LATENESS_LIMIT and r.missed_total == 0
    ]
    print(
        f"\nSustained at {interval:g} s with lateness p99 < {LATENESS_LIMIT:g} s and no missed "
        f"run: {max(sustained) if sustained else 'none'} of the target counts run "
        f"({', '.join(str(n) for n in sorted({r.targets for r in runs}))})."
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="5000,10000,20000",
                        help="target counts, comma-separated (default: 5000,10000,20000)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument("--timeout", type=float, default=5.0, help="probe timeout (default 5)")
    parser.add_argument("--duration", type=float, help="steady-state window, s (default 2 intervals)")
    parser.add_argument("--warmup", type=float, help="s before the window (default interval + 5)")
    parser.add_argument("--concurrency", type=int, default=2000, help="monitor.max_concurrency")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each target count")
    parser.add_argument("--compare", choices=("largest", "all", "none"), default="largest",
                        help="target counts also run through the blackbox exporter")
    parser.add_argument("--server", choices=("auto", "nginx", "aiohttp"), default="auto",
                        help="target server (auto: nginx if installed)")
    args = parser.parse_args()
    counts = [int(n) for n in args.targets.split(",")]
    if not all(0 < n <= 99_999 for n in counts) or args.repeat < 1:
        parser.error("--targets: 1 to 99,999 each; --repeat: at least 1")
    args.duration = args.duration or 2 * args.interval
    args.warmup = args.warmup if args.warmup is not None else args.interval + 5
    if args.warmup + args.duration > 3600:
        parser.error("--warmup + --duration: at most an hour")
    compared = {"largest": [max(counts)], "all": counts, "none": []}[args.compare]
    if compared and not BlackboxExporter.available():
        print("prometheus-blackbox-exporter is not installed: no comparison", file=sys.stderr)
        compared = []

    runs: list[DaemonRun] = []
    pairs: list[tuple[DaemonRun, ExporterRun]] = []
    if args.server == "nginx" and not Nginx.available():
        parser.error("--server nginx: nginx is not installed (apt-get install nginx-light)")
    server_class = {"auto": target_server, "nginx": Nginx, "aiohttp": AiohttpTarget}[args.server]
    with server_class() as server:
        print(f"target server: {server.name} on {server.url('/')}", file=sys.stderr)
        for targets in counts:
            for attempt in range(args.repeat):
                print(f"daemon, {targets} targets, run {attempt + 1}...", file=sys.stderr)
                run = run_daemon(targets, args, server)
                runs.append(run)
                if targets in compared:
                    print(f"blackbox exporter, {targets} targets...", file=sys.stderr)
                    pairs.append((run, run_exporter(targets, args, server)))
    print_daemon(runs, args, server.name)
    print_storage(runs, args.interval)
    if pairs:
        print_comparison(pairs, args.interval, server.name)
    return 0 if verdicts(runs, pairs, args.interval) else 1


if __name__ == "__main__":
    sys.exit(main())
