"""How many targets one daemon probes at a 30 s interval, at what cost, against the blackbox exporter.

Run: ``python benchmarks/bench_probes.py --targets 40000 --compare largest --json out.json``
(about 4 minutes per target count, plus the exporter). Without ``--targets`` it runs 20,000,
40,000 and 60,000 (the headline is 40,000: ``--headline``). ``--compare all`` runs the
exporter at every count; ``--repeat 3`` runs each count again; ``--variant NAME:YAML`` (repeatable)
runs each count once per variant with YAML merged into the daemon's ``monitor:`` section (a
``storage`` key in it goes to ``storage:``), e.g.
``--variant 'asyncio:{event_loop: asyncio}' --variant 'uvloop:{event_loop: uvloop}'`` measures
both loops in the same run. ``--reload`` adds a target to the file half-way through the window
and sends SIGHUP: the lateness then includes a reload.

``--probe dns`` makes every target a DNS probe instead: a name of a zone that dnsmasq
answers on 127.0.0.1 (``t00042.bench.test``, its A record expected), asked over UDP, and
the exporter's ``dns`` prober asks it the same way; a failing target's name is under
``f.bench.test``, which dnsmasq answers NXDOMAIN.

``--failing FRACTION`` makes that share of the targets (spread evenly: every 1/FRACTION-th)
answer ``503`` from the target server (``/f/...``): each of their probes is a failure the
daemon stores as evidence (R-M7) and chains (a variant's ``failing`` key sets it for that
variant; the exporter's targets all answer 200). A variant whose settings hold ``chain: false``
runs the daemon with the evidence chain's appends replaced by no-ops (the rows are written,
nothing is chained: a benchmark-only launcher, no setting of the daemon), so
``--variant 'chain:{failing: 0.05, chain: true}' --variant 'nochain:{failing: 0.05,
chain: false}'`` measures what the chain costs on the probe path in one run (a variant that
names ``chain`` starts through the same launcher either way). With failing
targets the window begins once each of them has its incident open and written (the daemon's
``sla_monitor_open_incidents`` and ``sla_monitor_incident_writes_pending``; the seconds waited
are printed): it measures targets that fail all the time, not the one-time opening of their
incidents (a journal of 2,000 incident writes, each chained, that otherwise fell partly in
the window, more of it the slower the variant drained it).

The daemon is the **installed** ``sla-monitor``: the console script next to ``sys.executable``
(run this file with the venv's python), never the checkout's source. For each target count N it
runs as a subprocess so that /proc measures it alone, with every process it starts (probe
workers included): N ``mobile_api`` services (no D-1 restriction), each ``type: http`` to its
own path on a local nginx (``http://127.0.0.1:PORT/t/00042``; an aiohttp server in a process of
its own when nginx is not installed, or with ``--server aiohttp``), ``interval`` 30 s,
``timeout`` 5 s, ``max_concurrency`` 2000, SQLite in a temporary directory. After ``--warmup``
(default: one interval plus 5 s) comes the steady-state window (``--duration``, default two
intervals):

* scheduling lateness p99, estimated from the buckets of the daemon's own
  ``sla_monitor_scheduler_lateness_seconds`` (the window's increase, interpolated inside the
  bucket like PromQL's ``histogram_quantile``), and ``sla_monitor_scheduler_missed_runs_total``
  over the whole run; how late the heartbeat and the history flush ran
  (``sla_monitor_periodic_job_lateness_seconds``) and the longest flush;
* CPU-seconds per 1,000 probes: utime + stime of the daemon and all its descendant processes
  (all their threads) from /proc over the window, over the increase of
  ``sla_monitor_probe_results_total``. The window lies between two /metrics scrapes, whose own
  cost (a page of two series per target) is reported apart; the target server's CPU is reported
  separately, and so are the rest of the machine's busy time (others %) and the time stolen by
  the hypervisor (steal %), both in percent of one CPU: they show a disturbed measurement;
* probes a second as nginx counted the requests it served (``stub_status``, read with each
  CPU reading, so over exactly the CPU window; not with ``--server aiohttp``), printed beside
  the daemon's count with the CPU per 1,000 of them, and in the JSON (``served_per_s``,
  ``cpu_s_per_1k_served``). The verdicts keep the daemon's count; where the two differ,
  results were lost or held up between the probe and the daemon (so it found a probe
  worker that lost 2-8 % of its results: 4,700 counted of 5,000 served a second at
  150,000 targets, until fixed);
* VmRSS at the end of the window, of the daemon and its descendants together;
* after SIGTERM (exit status must be 0): rows and bytes of ``probe_runs``, ``probe_failures``
  and ``latency_rollups`` (bytes from SQLite's ``dbstat``: pages of the table and its indexes),
  extrapolated to one target-day as the printed table says.

Then Prometheus' blackbox exporter does the same work: the same N URLs, the same interval, the
same target server, driven like Prometheus would by a separate process (:mod:`_blackbox`); only
the exporter's own CPU is measured, over a window of the same length after the same warm-up.

Targets, at the headline count (``--headline``; the aim is 150,000 at 30 s; with ``--probe
dns``, the first two and no dearer than the exporter's dns prober): lateness
p99 < 1 s and no missed run; at most 0.15 CPU-s per 1,000 probes for all the daemon's
processes together and at most 0.3x the exporter's in the same run (compared at 40,000); RSS
at most 4 KB per target in total; at every count without ``--failing`` < 50 rows and < 8 KB
per stable target-day. The largest count sustained (p99 < 1 s, no missed run, and at least 97 %
of the owed probes a second completed in the window) is reported: where
the daemon stops keeping up. The machine has 2 cores and is shared: look at the others % and
steal % columns, and repeat a disturbed run.

``--json PATH`` writes a JSON array with one object per daemon run: ``targets``,
``interval_s``, ``lateness_p99_s``, ``missed_runs``, ``daemon_cpu_s_per_1k``,
``exporter_cpu_s_per_1k`` (null if the exporter did not run at that count), ``rss_mb``,
``rows_per_target_day``, ``bytes_per_target_day``, ``others_busy_percent``, ``steal_percent``
(both in percent of one CPU), and more (``variant``, ``probes_per_s``, ``owed_probes_per_s``,
``processes``, ``exit_status``...). The README's table is made from it
(``python benchmarks/bench_probes.py --table out.json`` prints it as Markdown).
"""

from __future__ import annotations

import argparse
import contextlib
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _blackbox import BlackboxExporter, target_path
from _quota import CpuQuota
from _targets import (
    DNS_ADDRESS,
    DNS_ZONE,
    HOST,
    AiohttpTarget,
    Dnsmasq,
    Nginx,
    TargetServer,
    cpu_seconds,
    free_port,
    machine_cpu,
    rss_bytes,
    scrape,
    stop_process,
    target_server,
    tree_cpu_times,
    tree_pids,
    tree_rss_bytes,
    wait_for_http,
)

# The installed daemon: the console script of the venv whose python runs this file.
DAEMON = Path(sys.executable).parent / "sla-monitor"
HISTORY_TABLES = ("probe_runs", "probe_failures", "latency_rollups")
FAMILIES = (
    "sla_monitor_probe_results_total",
    "sla_monitor_scheduler_lateness_seconds_bucket",
    "sla_monitor_scheduler_missed_runs_total",
    "sla_monitor_store_rows_written_total",
    "sla_monitor_periodic_job_lateness_seconds_bucket",
    "sla_monitor_store_flush_duration_seconds_bucket",
    "sla_monitor_config_reloads_total",
    "sla_monitor_open_incidents",
    "sla_monitor_incident_writes_pending",
)
LATENESS_LIMIT = 1.0
RSS_LIMIT_PER_TARGET = 4 * 1024  # bytes, all processes together
CPU_LIMIT_PER_1K = 0.15
EXPORTER_RATIO_LIMIT = 0.3
#: DNS probes (--probe dns) have no target of the issue's (its figures are HTTP's): they
#: are to cost no more than the exporter's dns prober doing the same.
DNS_EXPORTER_RATIO_LIMIT = 1.0
ROWS_PER_DAY_LIMIT = 50.0
BYTES_PER_DAY_LIMIT = 8 * 1024
KEEP_PACE = 0.97  # completed / owed probes per second in the window
MB = 1024 * 1024
MAX_TARGETS = 200_000  # the target ids and paths have room for 6 digits


@dataclass(frozen=True)
class Reading:
    """CPU counters at one moment: the measured processes, the target server, the machine."""

    at: float  # time.monotonic()
    user: float
    system: float
    target: float
    machine: float
    steal: float
    excluded: float  # helpers that are neither measured nor "others" (the exporter's driver)
    served: int | None = None  # requests the target server counted (nginx), this reading's own included

    @classmethod
    def take(cls, pid: int, server: TargetServer, excluded: int | None = None) -> Reading:
        user, system = tree_cpu_times(pid)
        machine, steal = machine_cpu()
        return cls(
            at=time.monotonic(),
            user=user,
            system=system,
            target=server.cpu_seconds(),
            machine=machine,
            steal=steal,
            excluded=cpu_seconds(excluded) if excluded is not None else 0.0,
            served=server.requests(),
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
    def served_per_s(self) -> float | None:
        """Probes a second as the target server counted them (nginx), the readings' own two
        requests left out: where they arrive, independent of when a scrape read a counter."""
        if self.start.served is None or self.end.served is None:
            return None
        return (self.end.served - self.start.served - 1) / self.seconds

    @property
    def others(self) -> float:
        """Busy CPU-seconds of everything else on the machine (kernel softirq included)."""
        machine = self.end.machine - self.start.machine
        excluded = self.end.excluded - self.start.excluded
        return machine - self.cpu - self.target_cpu - excluded

    @property
    def others_percent(self) -> float:
        return 100 * self.others / self.seconds

    @property
    def steal(self) -> float:
        return self.end.steal - self.start.steal

    @property
    def steal_percent(self) -> float:
        return 100 * self.steal / self.seconds

    @property
    def cpu_per_1k(self) -> float:
        return 1000 * self.cpu / self.probes if self.probes else math.nan

    @property
    def target_cpu_per_1k(self) -> float:
        return 1000 * self.target_cpu / self.probes if self.probes else math.nan


@dataclass
class DaemonRun:
    targets: int
    variant: str
    startup: float
    window: Window
    lateness_p99: float  # inf: beyond the last finite bucket
    lateness_max_bucket: str
    missed_window: float
    missed_total: float
    rss: int
    processes: int
    scrape_cpu: float
    exit_status: int
    log_problems: int
    job_lateness: dict[str, str] = field(default_factory=dict)  # job -> bound holding all
    flush_max: str = "?"
    reloads: str = "-"  # with --reload: applied/rejected in the window
    rows: dict[str, int] = field(default_factory=dict)
    table_bytes: dict[str, int] = field(default_factory=dict)
    probed: int = 0  # targets with a probe_runs row
    target_hours: int = 0  # (target, clock hour) pairs with a probe
    probes_total: float = 0.0
    failing: int = 0  # targets answering 503 (--failing)
    chained: bool = True  # False: the evidence chain's appends were no-ops
    chain_entries: int = 0  # rows of evidence_chain at the end
    settle: float = 0.0  # s past the warm-up until the failing targets' incidents were written
    started: float = math.nan  # probes started in the window (the lateness histogram's count)
    scrapes: list[float] = field(default_factory=list)  # the two scrapes' durations, s
    opened_in_window: float = 0.0  # incidents opened in the window (0 once settled)
    exporter: ExporterRun | None = None
    rss_each: list[int] = field(default_factory=list)  # the daemon's, then each worker's
    cpu_quota: float | None = None  # --cpu-quota: the CPUs its processes may use together
    probe: str = "http"  # --probe: the targets' kind of probe


@dataclass
class ExporterRun:
    targets: int
    window: Window
    rss: int
    driver: dict[str, float]


# --- the daemon ------------------------------------------------------------------------------


def write_config(
    path: Path, targets: int, base: str, args: argparse.Namespace, port: int, extra: dict[str, Any]
) -> None:
    extra = dict(extra)
    extra.pop("chain", None)  # the launcher's, not the daemon's (see daemon_command)
    failing = failing_share(extra, args)
    extra.pop("failing", None)  # the target server's, not the daemon's
    storage = {"url": f"sqlite+aiosqlite:///{path.parent / 'bench.db'}", **extra.pop("storage", {})}
    monitor = {"max_concurrency": args.concurrency, **extra}
    lines = [
        # JSON is YAML: the merged sections written as flow mappings.
        f"monitor: {json.dumps(monitor)}",
        f'http: {{listen: "{HOST}:{port}"}}',
        f"storage: {json.dumps(storage)}",
        "services:",
    ]
    probe = f"interval: {args.interval:g}, timeout: {args.timeout:g}"
    if args.probe == "dns":  # each target a name of the zone; a failing one under f.
        lines += [
            f"  - {{id: t{i:05d}, kind: mobile_api, probe: {{type: dns, server: {HOST}, "
            f"port: {port_of(base)}, name: t{i:05d}.{'f.' if fails(i, failing) else ''}"
            f"{DNS_ZONE}, expected: [{DNS_ADDRESS}], {probe}}}}}"
            for i in range(targets)
        ]
    else:
        lines += [
            f'  - {{id: t{i:05d}, kind: mobile_api, probe: {{type: http, '
            f'url: "{base}{target_path(i, failing=fails(i, failing))}", {probe}}}}}'
            for i in range(targets)
        ]
    path.write_text("\n".join(lines) + "\n")


def port_of(base: str) -> int:
    """The port of a target server's base URL (``http://127.0.0.1:PORT``, ``dns://...``)."""
    return int(base.rstrip("/").rpartition(":")[2])


def fails(index: int, fraction: float) -> bool:
    """Whether target ``index`` is one of the failing share: every 1/fraction-th, evenly."""
    return fraction > 0 and int(index * fraction) != int((index + 1) * fraction)


def failing_share(extra: dict[str, Any], args: argparse.Namespace) -> float:
    """``--failing``, or the variant's own ``failing`` share."""
    share = float(extra.get("failing", args.failing))
    if not 0 <= share < 1:
        raise SystemExit(f"failing: {share:g}; expected a fraction from 0 to below 1")
    return share


def failing_count(targets: int, fraction: float) -> int:
    return sum(fails(i, fraction) for i in range(targets))


# The daemon through the venv's python (the same installed package); with ``chain: false``
# the evidence chain's appends are no-ops: rows are written, nothing chained.
LAUNCHER = """\
import sys
if {no_chain}:
    import monitor.store.evidence as evidence
    async def _not_chained(*args, **kwargs):
        return None
    evidence.append = evidence.append_inserted = _not_chained
from monitor.__main__ import main
sys.argv[0] = "sla-monitor"
sys.exit(main())
"""


def daemon_command(config: Path, extra: dict[str, Any]) -> list[str]:
    """The installed daemon; a variant that names ``chain`` (true or false) goes through the
    launcher, the chain left out with ``chain: false``: both sides of a comparison start
    the same way (measured: two identical runs of the console script differ by up to 6 %,
    and the console script against the launcher, nothing chained by either, by 17 %)."""
    if "chain" in extra:
        code = LAUNCHER.format(no_chain=extra["chain"] is False)
        return [sys.executable, "-c", code, "-c", str(config), "run"]
    return [str(DAEMON), "-c", str(config), "run"]


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


def _buckets(samples: dict[str, float], family: str, contains: str = "") -> dict[float, float]:
    buckets = {}
    for name, value in samples.items():
        if name.startswith(family + "_bucket") and contains in name:
            bound = name.partition('le="')[2].partition('"')[0]
            buckets[float(bound)] = value
    return buckets


def _increase(
    first: dict[str, float], last: dict[str, float], family: str, contains: str = ""
) -> dict[float, float]:
    before = _buckets(first, family, contains)
    return {b: c - before.get(b, 0.0) for b, c in _buckets(last, family, contains).items()}


def _highest(buckets: dict[float, float]) -> str:
    """The smallest bucket bound that holds every observation: the worst one, as a label."""
    if not buckets or buckets.get(math.inf, 0.0) <= 0:
        return "-"
    highest = min(b for b, c in buckets.items() if c >= buckets[math.inf])
    return "+Inf" if math.isinf(highest) else f"{highest:g}"


def _sum(samples: dict[str, float], family: str, contains: str = "") -> float:
    return sum(v for k, v in samples.items() if k.startswith(family + "{") and contains in k)


def run_daemon(
    targets: int,
    args: argparse.Namespace,
    server: TargetServer,
    variant: str,
    extra: dict[str, Any],
) -> DaemonRun:
    with tempfile.TemporaryDirectory(prefix="bench-probes-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        config = workdir / "config.yaml"
        write_config(config, targets, server.url(""), args, port, extra)
        metrics = f"http://{HOST}:{port}/metrics"
        log_path = workdir / "daemon.log"
        with log_path.open("wb") as log:
            launched = time.monotonic()
            process = subprocess.Popen(
                daemon_command(config, extra),
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            if args.quota is not None:  # before it starts its probe workers: they inherit it
                args.quota.add(process.pid)
            try:
                wait_for_http(metrics, within=600, process=process)
                startup = time.monotonic() - launched
                _sleep(args.warmup, process)
                settle = _settle(metrics, failing_count(targets, failing_share(extra, args)),
                                 process)
                # A scrape renders on the event loop in one go: its counters are a snapshot
                # taken during the request. The CPU window lies between the two scrapes.
                scraped = time.monotonic()
                first, first_at = scrape(metrics, FAMILIES)
                scrapes = [2 * (first_at - scraped)]  # each scrape's duration, s
                start = Reading.take(process.pid, server)
                if args.reload:
                    # Half-way: one more target in the file, and SIGHUP (a reload mid-window).
                    _sleep(args.duration / 2, process)
                    write_config(config, targets + 1, server.url(""), args, port, extra)
                    process.send_signal(signal.SIGHUP)
                    _sleep(args.duration / 2, process)
                else:
                    _sleep(args.duration, process)
                end = Reading.take(process.pid, server)
                rss = tree_rss_bytes(process.pid)
                rss_each = [rss_bytes(pid) for pid in tree_pids(process.pid)]
                processes = len(tree_pids(process.pid))
                scraped = time.monotonic()
                last, last_at = scrape(metrics, FAMILIES)
                scrapes.append(2 * (last_at - scraped))
                # What the second scrape cost, less the probing going on meanwhile.
                busy = (end.user + end.system - start.user - start.system) / (end.at - start.at)
                spent = sum(tree_cpu_times(process.pid)) - end.user - end.system
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
        if problems:
            print(f"  daemon log: {len(problems)} warnings/errors, the first:", file=sys.stderr)
            for line in problems[:5]:
                print(f"    {_log_line(line)}", file=sys.stderr)
        results = "sla_monitor_probe_results_total"
        missed = "sla_monitor_scheduler_missed_runs_total"
        late = _increase(first, last, "sla_monitor_scheduler_lateness_seconds")
        scale = (end.at - start.at) / (last_at - first_at)
        run = DaemonRun(
            targets=targets,
            variant=variant,
            probe=args.probe,
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
            lateness_p99=lateness_quantile(0.99, late) if late else math.nan,
            lateness_max_bucket=_highest(late),
            missed_window=_sum(last, missed) - _sum(first, missed),
            started=max(late.values(), default=math.nan) * scale,
            scrapes=scrapes,
            missed_total=_sum(last, missed),
            rss=rss,
            rss_each=rss_each,
            processes=processes,
            scrape_cpu=scrape_cpu,
            exit_status=status,
            log_problems=len(problems),
            job_lateness={
                job: _highest(
                    _increase(first, last, "sla_monitor_periodic_job_lateness_seconds", f'job="{job}"')
                )
                for job in ("heartbeat", "flush")
            },
            flush_max=_highest(_increase(first, last, "sla_monitor_store_flush_duration_seconds")),
            reloads=(
                f"{_sum(last, 'sla_monitor_config_reloads_total', 'applied'):.0f} applied, "
                f"{_sum(last, 'sla_monitor_config_reloads_total', 'rejected'):.0f} rejected"
                if args.reload else "-"
            ),
            probes_total=_sum(last, results),
            failing=failing_count(targets, failing_share(extra, args)),
            chained=extra.get("chain", True) is not False,
            settle=settle,
            opened_in_window=(_sum(last, "sla_monitor_open_incidents")
                              - _sum(first, "sla_monitor_open_incidents")),
        )
        _count_rows(workdir / "bench.db", run)
        return run


def _settle(metrics: str, failing: int, process: subprocess.Popen[bytes],
            within: float = 900.0) -> float:
    """With failing targets, wait past the warm-up until each has its incident open and
    written (``sla_monitor_open_incidents`` reached ``failing``, nothing in the incident
    journal): the window then measures targets that fail all the time, the probe path
    (R-M7's failures and their chain entries), not the one-time opening of 2,000
    incidents, whose writes (each chained) would otherwise fall in the window or not
    depending on how fast the journal drained them. Returns the seconds waited."""
    if not failing:
        return 0.0
    began = time.monotonic()
    while True:
        samples, _ = scrape(metrics, ("sla_monitor_open_incidents",
                                      "sla_monitor_incident_writes_pending"))
        if (_sum(samples, "sla_monitor_open_incidents") >= failing
                and samples.get("sla_monitor_incident_writes_pending", 0.0) == 0):
            return time.monotonic() - began
        if time.monotonic() - began > within:
            raise RuntimeError(f"{failing} failing targets: their incidents were not all "
                               f"written within {within:.0f} s of the warm-up")
        _sleep(1.0, process)


def _log_line(line: str) -> str:
    """A JSON log line as ``level logger: event``, with the end of its traceback if any."""
    try:
        event = json.loads(line)
    except ValueError:
        return line[:400]
    text = f"{event.get('level')} {event.get('logger')}: {event.get('event')}"
    said = {"level", "logger", "event", "exception", "time", "ts", "timestamp"}
    extra = {k: v for k, v in event.items() if k not in said}
    if extra:  # which job, target or worker it was about
        text += " " + json.dumps(extra, ensure_ascii=False)[:200]
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
        run.chain_entries = connection.execute("SELECT count(*) FROM evidence_chain").fetchone()[0]
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


def run_exporter(targets: int, args: argparse.Namespace, server: TargetServer) -> ExporterRun:
    with BlackboxExporter(args.timeout, args.probe) as exporter:
        start = time.time() + args.warmup
        end = start + args.duration
        driver = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve().parent / "_blackbox.py"),
                f"--exporter={exporter.probe_url()}",
                f"--target-base={server.url('')}",
                f"--module={args.probe}",
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
            # The driver ends its probes within timeout + 10 s of the window; a loaded
            # machine (the driver is Python) can take longer to wind down.
            out, _ = driver.communicate(timeout=args.timeout + 240)
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
    if math.isnan(value):
        return "-"
    return "> 5" if math.isinf(value) else f"{value:.3f}"


def _keeps_pace(r: DaemonRun, interval: float) -> bool:
    """Completed probes per second at least KEEP_PACE of those owed: the scheduler's lateness
    is taken when a run starts, before it waits for a ``max_concurrency`` slot, so a daemon
    that falls behind can show a small lateness and no missed run within a short window while
    its probes queue; the rate shows it."""
    return r.window.probes / r.window.seconds >= KEEP_PACE * r.targets / interval


def _sustained(r: DaemonRun, interval: float) -> bool:
    return r.lateness_p99 < LATENESS_LIMIT and r.missed_total == 0 and _keeps_pace(r, interval)


def print_daemon(runs: list[DaemonRun], args: argparse.Namespace, server: str) -> None:
    print(
        f"\nDaemon ({DAEMON}): interval {args.interval:g} s, timeout {args.timeout:g} s, "
        f"max_concurrency {args.concurrency}, warm-up {args.warmup:g} s, window "
        f"{args.duration:g} s, target {server}, {os.cpu_count()} CPUs"
        f"{f', the daemon held to {args.cpu_quota:g} CPU' if args.cpu_quota else ''}. "
        f"CPU, others and steal % "
        f"are of one CPU; CPU and RSS are of all the daemon's processes (procs).\n"
    )
    header = (
        f"{'targets':>7} {'variant':>8} {'procs':>5} {'probes/s':>8} {'start s':>7} "
        f"{'late p99 s':>10} {'<= s':>5} {'missed':>6} {'CPU-s/1k':>8} {'CPU %':>5} {'sys %':>5} "
        f"{'tgt CPU-s/1k':>12} {'RSS MB':>6} {'MB/1k tgt':>9} {'beat<=':>6} {'flush<=':>7} "
        f"{'flush s<=':>9} {'scrape CPU-s':>12} {'others %':>8} {'steal %':>7} {'failed':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        w = r.window
        print(
            f"{r.targets:>7} {r.variant or '-':>8} {r.processes:>5} {w.probes / w.seconds:>8.1f} "
            f"{r.startup:>7.1f} {_seconds(r.lateness_p99):>10} {r.lateness_max_bucket:>5} "
            f"{r.missed_total:>6.0f} {w.cpu_per_1k:>8.3f} {100 * w.cpu / w.seconds:>5.1f} "
            f"{100 * w.system_share:>5.0f} {w.target_cpu_per_1k:>12.3f} {r.rss / MB:>6.0f} "
            f"{r.rss / MB / (r.targets / 1000):>9.2f} {r.job_lateness.get('heartbeat', '?'):>6} "
            f"{r.job_lateness.get('flush', '?'):>7} {r.flush_max:>9} {r.scrape_cpu:>12.2f} "
            f"{w.others_percent:>8.1f} {w.steal_percent:>7.1f} {w.failed:>6.0f}"
        )
    print(
        "\nlate p99: the window's increase of sla_monitor_scheduler_lateness_seconds, "
        "interpolated in its bucket;\n<= s: the bucket bound that holds every start of the "
        "window; missed: sla_monitor_scheduler_missed_runs_total\nat the end of the run; "
        "beat<= / flush<=: the bucket bound holding every lateness of the heartbeat and the\n"
        "history flush in the window; flush s<=: the longest flush; scrape CPU-s: one /metrics "
        "scrape (two series per target), outside the window."
    )
    for r in runs:
        if r.rss_each:
            print(f"{r.targets} targets ({r.variant or '-'}): RSS by process, the daemon then each "
                  f"worker: {' + '.join(f'{b / MB:.0f}' for b in r.rss_each)} MB")
        served = r.window.served_per_s
        if served is not None:
            w = r.window
            print(f"{r.targets} targets ({r.variant or '-'}): {served:.1f} probes/s served, as "
                  f"the target server counted them ({w.probes / w.seconds:.1f} results/s "
                  f"counted by the daemon, {r.started / w.seconds:.1f} started as its scheduler "
                  f"counted them); {w.cpu / (served * w.seconds) * 1000:.3f} CPU-s per "
                  f"1,000 probes served; the scrapes took "
                  f"{' and '.join(f'{d:.2f}' for d in r.scrapes)} s")
    for r in runs:
        if r.failing:
            print(f"{r.targets} targets ({r.variant or '-'}): {r.failing} failing; the window "
                  f"began {r.settle:.0f} s after the warm-up, once their incidents were all "
                  f"written; {r.opened_in_window:.0f} opened in the window")


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
        f"{'targets':>7} {'variant':>8} {'runs':>7} {'failures':>8} {'rollups':>7} "
        f"{'tgt-hours':>9} {'B/run':>6} {'B/rollup':>8} {'rows/target/day':>15} "
        f"{'bytes/target/day':>16}"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        day = rows_per_day(r, interval)
        per_row = {t: r.table_bytes.get(t, 0) / r.rows[t] if r.rows[t] else 0.0 for t in r.rows}
        print(
            f"{r.targets:>7} {r.variant or '-':>8} {r.rows['probe_runs']:>7} "
            f"{r.rows['probe_failures']:>8} {r.rows['latency_rollups']:>7} {r.target_hours:>9} "
            f"{per_row['probe_runs']:>6.0f} {per_row['latency_rollups']:>8.0f} "
            f"{sum(n for n, _ in day.values()):>15.1f} {sum(b for _, b in day.values()):>16.0f}"
        )


def print_comparison(runs: list[DaemonRun], interval: float, server: str, module: str) -> None:
    print(
        f"\nThe same load through prometheus-blackbox-exporter (module {module}, ip4, the same "
        f"{server}, {interval:g} s interval);\nthe exporter's own CPU only (its driver excluded); the "
        f"daemon column is the run just before it.\n"
    )
    header = (
        f"{'targets':>7} {'variant':>8} {'exporter CPU-s/1k':>17} {'daemon CPU-s/1k':>15} "
        f"{'daemon/exporter':>15} {'probes/s':>8} {'sys %':>5} {'failed':>6} {'RSS MB':>6} "
        f"{'tgt CPU-s/1k':>12} {'others %':>8} {'steal %':>7}"
    )
    print(header)
    print("-" * len(header))
    for daemon in runs:
        exporter = daemon.exporter
        if exporter is None:
            continue
        w = exporter.window
        print(
            f"{exporter.targets:>7} {daemon.variant or '-':>8} {w.cpu_per_1k:>17.3f} "
            f"{daemon.window.cpu_per_1k:>15.3f} {daemon.window.cpu_per_1k / w.cpu_per_1k:>15.2f} "
            f"{w.probes / w.seconds:>8.1f} {100 * w.system_share:>5.0f} {w.failed:>6.0f} "
            f"{exporter.rss / MB:>6.0f} {w.target_cpu_per_1k:>12.3f} {w.others_percent:>8.1f} "
            f"{w.steal_percent:>7.1f}"
        )


def print_chain_cost(runs: list[DaemonRun]) -> None:
    """Each run without the evidence chain against the chained runs of the same count
    (``chain: false`` variants): the chain's share of the CPU on the probe path."""
    for bare in (r for r in runs if not r.chained):
        for chained in (
            r for r in runs
            if r.chained and r.targets == bare.targets and r.failing == bare.failing
        ):
            w, b = chained.window, bare.window
            print(
                f"evidence chain, {bare.targets} targets, {bare.failing} failing "
                f"({w.failed:.0f} and {b.failed:.0f} failures in the windows, "
                f"{chained.chain_entries} and {bare.chain_entries} chain entries at the end): "
                f"{w.cpu_per_1k:.3f} CPU-s/1k with it ({chained.variant or '-'}), "
                f"{b.cpu_per_1k:.3f} without ({bare.variant}): "
                f"{100 * (w.cpu_per_1k / b.cpu_per_1k - 1):+.1f} % "
                f"(others {w.others_percent:.0f} and {b.others_percent:.0f} %, steal "
                f"{w.steal_percent:.1f} and {b.steal_percent:.1f} %)"
            )


def verdicts(runs: list[DaemonRun], args: argparse.Namespace) -> bool:
    print()
    ok = True

    def say(passed: bool, text: str) -> None:
        nonlocal ok
        ok = ok and passed
        print(f"{'OK  ' if passed else 'MISS'} {text}")

    interval = args.interval
    for r in runs:
        name = f"{r.targets} targets{f' ({r.variant})' if r.variant else ''}"
        say(r.exit_status == 0, f"{name}: daemon exited {r.exit_status} on SIGTERM")
        if args.reload:
            say(r.reloads.startswith("1 applied"), f"{name}: SIGHUP mid-window: {r.reloads}")
        # With --failing, the failing share's probes and no others fail (within 2 % of the
        # window's probes: a probe in flight at either scrape is counted by one of them).
        owed = r.window.probes * r.failing / r.targets
        say(abs(r.window.failed - owed) <= max(0.02 * r.window.probes, 1) if r.failing
            else r.window.failed == 0,
            f"{name}: {r.window.failed:.0f} failed probes ({owed:.0f} owed by --failing)")
        day = rows_per_day(r, interval).values()
        rows, size = sum(n for n, _ in day), sum(b for _, b in day)
        if not r.failing:  # a stable target's: failures are all kept (R-M7)
            say(rows < ROWS_PER_DAY_LIMIT and size < BYTES_PER_DAY_LIMIT,
                f"{name}: {rows:.1f} rows and {size:,.0f} bytes per target-day "
                f"(< {ROWS_PER_DAY_LIMIT:g} and < {BYTES_PER_DAY_LIMIT:,})")
        if r.targets != args.headline:
            continue
        say(r.lateness_p99 < LATENESS_LIMIT and r.missed_total == 0,
            f"{name} at {interval:g} s: lateness p99 {_seconds(r.lateness_p99)} s "
            f"(< {LATENESS_LIMIT:g} s), {r.missed_total:.0f} missed runs (0)")
        say(_keeps_pace(r, interval),
            f"{name}: {r.window.probes / r.window.seconds:,.0f} of the "
            f"{r.targets / interval:,.0f} probes a second owed completed "
            f"(>= {KEEP_PACE:.0%})")
        say(r.job_lateness.get("heartbeat") not in ("+Inf", "?")
            and r.job_lateness.get("flush") not in ("+Inf", "?"),
            f"{name}: heartbeat ran at most {r.job_lateness.get('heartbeat')} s late, "
            f"flush at most {r.job_lateness.get('flush')} s late")
        http = r.probe == "http"
        cpu = (f"{name}: {r.window.cpu_per_1k:.3f} CPU-s per 1,000 probes, all "
               f"{r.processes} processes")
        rss = (f"{name}: RSS {r.rss / MB:.0f} MB in total, {r.rss / r.targets / 1024:.1f} KB "
               "per target")
        if http:
            say(r.window.cpu_per_1k <= CPU_LIMIT_PER_1K, f"{cpu} (<= {CPU_LIMIT_PER_1K:g})")
            say(r.rss / r.targets <= RSS_LIMIT_PER_TARGET,
                f"{rss} (<= {RSS_LIMIT_PER_TARGET / 1024:g} KB)")
        else:
            print(f"     {cpu}\n     {rss}")
        if r.exporter is not None:
            ratio = r.window.cpu_per_1k / r.exporter.window.cpu_per_1k
            limit = EXPORTER_RATIO_LIMIT if http else DNS_EXPORTER_RATIO_LIMIT
            say(ratio <= limit,
                f"{name}: daemon {r.window.cpu_per_1k:.3f} vs exporter "
                f"{r.exporter.window.cpu_per_1k:.3f} CPU-s per 1,000 probes: "
                f"{ratio:.2f}x (<= {limit:g}x)")
    print_chain_cost(runs)
    counts = sorted({r.targets for r in runs})
    sustained = sorted({r.targets for r in runs if _sustained(r, interval)})
    failing = sorted({r.targets for r in runs if not _sustained(r, interval)})
    print(
        f"\nSustained at {interval:g} s with lateness p99 < {LATENESS_LIMIT:g} s, no missed "
        f"run and {KEEP_PACE:.0%} of the owed probes a second: "
        f"{max(sustained) if sustained else 'none'} of the target counts run "
        f"({', '.join(str(n) for n in counts)})"
        + (f"; stops keeping up at {min(failing)}." if failing else ".")
    )
    return ok


def as_json(r: DaemonRun, interval: float) -> dict[str, Any]:
    def number(value: float, digits: int = 3) -> float | None:
        return None if math.isnan(value) or math.isinf(value) else round(value, digits)

    w = r.window
    day = rows_per_day(r, interval).values()
    return {
        "targets": r.targets,
        "variant": r.variant or None,
        "probe": r.probe,
        "interval_s": interval,
        "lateness_p99_s": number(r.lateness_p99),
        "lateness_max_bucket_s": r.lateness_max_bucket,
        "missed_runs": r.missed_total,
        "daemon_cpu_s_per_1k": number(w.cpu_per_1k),
        "exporter_cpu_s_per_1k": (
            number(r.exporter.window.cpu_per_1k) if r.exporter is not None else None
        ),
        "rss_mb": round(r.rss / MB, 1),
        "rss_mb_by_process": [round(b / MB, 1) for b in r.rss_each],
        "cpu_quota": r.cpu_quota,
        "rows_per_target_day": round(sum(n for n, _ in day), 2),
        "bytes_per_target_day": round(sum(b for _, b in day)),
        "others_busy_percent": round(w.others_percent, 1),
        "steal_percent": round(w.steal_percent, 1),
        "probes_per_s": round(w.probes / w.seconds, 1),
        "served_per_s": number(w.served_per_s, 1) if w.served_per_s is not None else None,
        "started_per_s": number(r.started / w.seconds, 1),
        "scrape_seconds": [round(d, 2) for d in r.scrapes],
        "cpu_s_per_1k_served": (number(w.cpu / (w.served_per_s * w.seconds) * 1000)
                                if w.served_per_s else None),
        "owed_probes_per_s": round(r.targets / interval, 1),
        "processes": r.processes,
        "daemon_cpu_percent": round(100 * w.cpu / w.seconds, 1),
        "failed_probes": w.failed,
        "failing_targets": r.failing,
        "evidence_chain": r.chained,
        "evidence_chain_entries": r.chain_entries,
        "heartbeat_late_max_bucket_s": r.job_lateness.get("heartbeat"),
        "flush_late_max_bucket_s": r.job_lateness.get("flush"),
        "flush_duration_max_bucket_s": r.flush_max,
        "startup_s": round(r.startup, 1),
        "settle_s": round(r.settle, 1),
        "incidents_opened_in_window": r.opened_in_window,
        "reloads": r.reloads,
        "exit_status": r.exit_status,
        "log_problems": r.log_problems,
        "exporter_others_busy_percent": (
            round(r.exporter.window.others_percent, 1) if r.exporter is not None else None
        ),
        "exporter_steal_percent": (
            round(r.exporter.window.steal_percent, 1) if r.exporter is not None else None
        ),
        "exporter_probes_per_s": (
            round(r.exporter.window.probes / r.exporter.window.seconds, 1)
            if r.exporter is not None
            else None
        ),
        "exporter_driver_unfinished": (
            r.exporter.driver.get("unfinished") if r.exporter is not None else None
        ),
        "sustained": _sustained(r, interval),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def markdown(path: Path) -> str:
    """The README's table, from a ``--json`` file."""
    runs = json.loads(path.read_text())
    lines = [
        "| targets | variant | probes/s done (owed) | late p99 s | missed | CPU-s/1k daemon "
        "| exporter | ratio | RSS MB | procs | rows/target-day | bytes/target-day | others % "
        "| steal % |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
    ]
    for r in runs:
        exporter = r["exporter_cpu_s_per_1k"]
        ratio = f"{r['daemon_cpu_s_per_1k'] / exporter:.2f}" if exporter else "-"
        late = r["lateness_p99_s"]
        lines.append(
            f"| {r['targets']:,} | {r['variant'] or '-'} | "
            f"{r['probes_per_s']:,.0f} ({r['owed_probes_per_s']:,.0f}) | "
            f"{'> 5' if late is None else f'{late:.2f}'} | {r['missed_runs']:,.0f} | "
            f"{r['daemon_cpu_s_per_1k']:.3f} | {'-' if exporter is None else f'{exporter:.3f}'} | "
            f"{ratio} | {r['rss_mb']:.0f} | {r['processes']} | {r['rows_per_target_day']:.1f} | "
            f"{r['bytes_per_target_day']:,} | {r['others_busy_percent']:.0f} | "
            f"{r['steal_percent']:.1f} |"
        )
    return "\n".join(lines)


def _variant(text: str) -> tuple[str, dict[str, Any]]:
    import yaml  # sla-monitor's own dependency, in the venv that runs this file

    name, _, settings = text.partition(":")
    value = yaml.safe_load(settings) if settings.strip() else {}
    if not name or not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME:{{monitor settings}}")
    return name, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="20000,40000,60000",
                        help="target counts, comma-separated (default: 20000,40000,60000)")
    parser.add_argument("--headline", type=int, default=40_000,
                        help="the count the issue's figures apply to (default 40000)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument("--timeout", type=float, default=5.0, help="probe timeout (default 5)")
    parser.add_argument("--duration", type=float, help="steady-state window, s (default 2 intervals)")
    parser.add_argument("--warmup", type=float, help="s before the window (default interval + 5)")
    parser.add_argument("--concurrency", type=int, default=2000, help="monitor.max_concurrency")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each target count")
    parser.add_argument("--variant", type=_variant, action="append", default=[],
                        metavar="NAME:YAML", help="monitor settings to run with (repeatable)")
    parser.add_argument("--compare", choices=("largest", "all", "none"), default="largest",
                        help="target counts also run through the blackbox exporter")
    parser.add_argument("--server", choices=("auto", "nginx", "aiohttp"), default="auto",
                        help="target server (auto: nginx if installed)")
    parser.add_argument("--probe", choices=("http", "dns"), default="http",
                        help="the targets' probe: http (default), or dns: a name of a zone "
                             "dnsmasq answers, asked by UDP (and the exporter's dns prober)")
    parser.add_argument("--failing", type=float, default=0.0, metavar="FRACTION",
                        help="share of the targets answering 503 (default 0)")
    parser.add_argument("--reload", action="store_true",
                        help="half-way through the window, add a target and send SIGHUP")
    parser.add_argument("--cpu-quota", type=float, metavar="CPUS",
                        help="hold the daemon and its probe workers together to this many CPUs "
                             "(a cgroup's CFS quota, e.g. 0.8; needs root): a busy host")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the runs as JSON")
    parser.add_argument("--table", type=Path, metavar="PATH",
                        help="print the Markdown table of a --json file and exit")
    args = parser.parse_args()
    if args.table is not None:
        print(markdown(args.table))
        return 0
    if not DAEMON.exists():
        parser.error(f"{DAEMON} not found: run this with the python of a venv where "
                     "sla-monitor is installed (pip install .)")
    counts = [int(n) for n in args.targets.split(",")]
    if not all(0 < n <= MAX_TARGETS for n in counts) or args.repeat < 1:
        parser.error(f"--targets: 1 to {MAX_TARGETS:,} each; --repeat: at least 1")
    if not 0 <= args.failing < 1:
        parser.error(f"--failing: {args.failing:g}; expected a fraction from 0 to below 1")
    args.duration = args.duration or 2 * args.interval
    args.warmup = args.warmup if args.warmup is not None else args.interval + 5
    if args.warmup + args.duration > 3600:
        parser.error("--warmup + --duration: at most an hour")
    compared = {"largest": [max(counts)], "all": counts, "none": []}[args.compare]
    if compared and not BlackboxExporter.available():
        print("prometheus-blackbox-exporter is not installed: no comparison", file=sys.stderr)
        compared = []
    variants = args.variant or [("", {})]

    if args.server == "nginx" and not Nginx.available():
        parser.error("--server nginx: nginx is not installed (apt-get install nginx-light)")
    server_class = {"auto": target_server, "nginx": Nginx, "aiohttp": AiohttpTarget}[args.server]
    if args.probe == "dns":
        if not Dnsmasq.available():
            parser.error("--probe dns: dnsmasq is not installed (apt-get install dnsmasq-base)")
        server_class = Dnsmasq
    if args.cpu_quota is not None and not 0.01 <= args.cpu_quota <= (os.cpu_count() or 1):
        parser.error(f"--cpu-quota: {args.cpu_quota:g}; expected 0.01 to {os.cpu_count()} CPUs")
    with contextlib.ExitStack() as held:
        args.quota = (held.enter_context(CpuQuota(args.cpu_quota))
                      if args.cpu_quota is not None else None)
        held.enter_context(server := server_class())
        return _measure(args, server, counts, compared, variants)


def _measure(args: argparse.Namespace, server: TargetServer, counts: list[int],
             compared: list[int], variants: list[tuple[str, dict[str, Any]]]) -> int:
    runs: list[DaemonRun] = []
    print(f"target server: {server.name} on {server.url('/')}", file=sys.stderr)
    for targets in counts:
        for attempt in range(args.repeat):
            exporter = None
            for name, extra in variants:
                print(f"daemon, {targets} targets{f', {name}' if name else ''}, run "
                      f"{attempt + 1}... (load {os.getloadavg()[0]:.2f})", file=sys.stderr)
                run = run_daemon(targets, args, server, name, extra)
                run.cpu_quota = args.cpu_quota
                runs.append(run)
                if targets in compared:
                    if exporter is None:
                        print(f"blackbox exporter, {targets} targets...", file=sys.stderr)
                        exporter = run_exporter(targets, args, server)
                    run.exporter = exporter
                if args.json is not None:  # written as it goes: a long run keeps its figures
                    args.json.write_text(
                        json.dumps([as_json(r, args.interval) for r in runs], indent=2) + "\n"
                    )
    print_daemon(runs, args, server.name)
    print_storage(runs, args.interval)
    if any(r.exporter is not None for r in runs):
        print_comparison(runs, args.interval, server.name, args.probe)
    return 0 if verdicts(runs, args) else 1


if __name__ == "__main__":
    sys.exit(main())
