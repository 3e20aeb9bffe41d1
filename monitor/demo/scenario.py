"""The demo's story, step by step, against the real daemon.

1. Start the stage (:mod:`monitor.demo.stage`): targets, SMTP sink, ``config.yaml``.
2. Load that file with :func:`monitor.config.load_config` and start
   :class:`monitor.app.Daemon`, the object ``sla-monitor run`` serves, in this
   process (**Decision**: in-process rather than a ``sla-monitor run``
   subprocess: one process to stop on Ctrl-C, no port or child left behind if
   the demo is killed, and the code that runs is the same; only ``run``'s
   signal wiring is not exercised, the demo owns the signals). Its JSON log
   goes to ``daemon.log`` in the state directory, not to the terminal.
3. Watch what a user would watch: ``/metrics`` (probe states, failure classes),
   the incidents (through :mod:`monitor.demo.data`), the SMTP sink's inbox.
   Every new fact is one line of progress.
4. Break ``acme-survey`` (it answers HTTP 503), wait for the incident and the
   outage e-mails, keep it broken for ``Pacing.outage`` seconds, fix it, wait
   for the recovery and its e-mails, stop the daemon.
5. The operator's side (**Decision**): a seconds-long outage earns no credit
   (R-T1's lowest tier is 1.5 h), and a newcomer should see what earns one. So,
   through the same service functions as ``incident add`` and
   ``incident notified``, the demo records a 2 h outage of the same project
   earlier in the month that the customer reported by phone (clearly labelled in
   the output), and the call-back 20 minutes in (R-N1 met). The month's report
   then shows the 1-week tier with its days and money, and what the live outage
   alone would have earned (nothing, and why). When the month is too young to
   hold a 2 h outage before the demo, none is recorded and the output says so.
   The phoned-in outage lies in the part of the month before the daemon first ran,
   which no monitor watched: R-M3 makes that time unknown, and an operator's
   manual incident is how it is covered; the report shows the rest as unknown.
6. The month's report, in the configured calendar, for the current month.

Every wait is bounded (``Pacing.patience``): the demo ends, with the reason
and the daemon's last errors, rather than hanging.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import Config, Settings, load_config
from monitor.demo import data
from monitor.demo.stage import BROKEN, Pacing, Stage, open_stage
from monitor.errors import MonitorError
from monitor.logs import JSONFormatter
from monitor.present import format_duration, format_elapsed, format_time
from monitor.sla import MonthPeriod, MonthReport, month_containing, seconds_between
from monitor.store import Database

__all__ = [
    "DemoInterrupted",
    "DemoOptions",
    "DemoResult",
    "DemoStuck",
    "Mail",
    "PhonedOutage",
    "phoned_outage_window",
    "run_demo",
]

Say = Callable[[str], None]

PHONED_DURATION = dt.timedelta(hours=2)
CALLED_BACK_AFTER = dt.timedelta(minutes=20)
#: The phoned-in outage ends at least this long before the demo starts.
PHONED_MARGIN = dt.timedelta(minutes=10)


class DemoStuck(MonitorError):
    """Something the demo waited for did not happen in time (exit code 1)."""


class DemoInterrupted(MonitorError):
    """Ctrl-C or SIGTERM: the story stopped at a step boundary and everything was cleaned up."""

    exit_code = 130


@dataclass(frozen=True)
class DemoOptions:
    keep: Path | None = None  # keep the state directory here; None: a temporary one, removed
    pacing: Pacing = field(default_factory=Pacing)
    calendar: str = "gregorian"
    timezone: str = "UTC"


@dataclass(frozen=True)
class Mail:
    """One message the SMTP sink accepted."""

    kind: str  # X-SLA-Monitor-Kind: outage, ops-outage, recovery, ops-recovery
    subject: str
    to: tuple[str, ...]
    received_at: dt.datetime
    file: Path | None = None  # the .eml file, with --keep


@dataclass(frozen=True)
class PhonedOutage:
    """The manual incident of step 5, or why there is none."""

    incident_id: int | None
    start: dt.datetime | None
    end: dt.datetime | None
    called_at: dt.datetime | None
    reason_none: str | None = None


@dataclass
class DemoResult:
    directory: Path
    kept: bool
    config_path: Path
    config: Config
    endpoints: dict[str, str]  # target id -> URL; "smtp", "metrics"
    ports: list[int]
    incident: data.IncidentView
    phoned: PhonedOutage
    mail: list[Mail]
    report: dict[str, Any]  # the SPEC section 7 JSON
    month_report: MonthReport  # the same, typed, for the presenter
    customer: str
    daemon_started_at: dt.datetime  # before it, nothing watched this month (R-M3)
    live_alone_tier: str | None  # the tier the live outage alone would reach (R-T1)
    pacing: Pacing
    events: list[tuple[float, str]] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def incident_duration(self) -> int:
        """Seconds from the live incident's start to its end (R-M1)."""
        return _seconds(self.incident.start, self.incident.end)


def phoned_outage_window(
    now: dt.datetime, period: MonthPeriod, tz: str
) -> tuple[dt.datetime, dt.datetime] | None:
    """When the phoned-in outage happened: 10:00 local time a week before ``now``, moved
    to the start of the month if that is earlier; None if a 2 h outage ending
    ``PHONED_MARGIN`` before ``now`` does not fit in the month.

    >>> import datetime as dt; from monitor.sla import month_period
    >>> march = month_period("2026-03", "gregorian", "UTC")
    >>> at = dt.datetime(2026, 3, 20, 15, 0, tzinfo=dt.UTC)
    >>> [t.isoformat() for t in phoned_outage_window(at, march, "UTC")]
    ['2026-03-13T10:00:00+00:00', '2026-03-13T12:00:00+00:00']
    >>> phoned_outage_window(dt.datetime(2026, 3, 1, 1, 0, tzinfo=dt.UTC), march, "UTC")
    """
    local = (now - dt.timedelta(days=7)).astimezone(ZoneInfo(tz))
    start = local.replace(hour=10, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    start = max(start, period.start)
    if start + PHONED_DURATION > now - PHONED_MARGIN:
        return None  # only in the first 2 h 10 min of a month
    return start, start + PHONED_DURATION


class Observer:
    """Watches /metrics, the incidents and the SMTP sink; says each new fact once."""

    def __init__(
        self,
        say: Say,
        started: float,
        http: aiohttp.ClientSession,
        metrics_url: str,
        db: Database,
        stage: Stage,
        config: Config,
        settings: Settings,
        since: dt.datetime,
    ) -> None:
        self._say = say
        self.settings = settings
        self.started = started
        self.http = http
        self.metrics_url = metrics_url
        self.db = db
        self.stage = stage
        self.tz = config.provider.timezone
        self.calendar = config.provider.calendar
        self.detection_deadline = config.policy.detection_deadline
        self.since = since
        self.states: dict[str, float] = {}
        self.failure_classes: Counter[str] = Counter()
        self.incidents: dict[int, data.IncidentView] = {}
        self.mail: list[Mail] = []
        self.events: list[tuple[float, str]] = []

    def say(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        self.events.append((elapsed, text))
        self._say(f"[{format_elapsed(elapsed)}] {text}")

    def time(self, instant: dt.datetime | None) -> str:
        return format_time(instant, self.tz, self.calendar, seconds=True)

    async def poll(self) -> None:
        await self._metrics()
        await self._incidents()
        self._mail()

    async def _metrics(self) -> None:
        async with self.http.get(self.metrics_url) as response:
            text = await response.text()
        states: dict[str, float] = {}
        classes: Counter[str] = Counter()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "sla_monitor_probe_state":
                    states[sample.labels["target"]] = sample.value
                elif sample.name == "sla_monitor_probe_results_total" and (
                    sample.labels.get("state") == "down"
                ):
                    classes[sample.labels.get("failure_class", "")] = int(sample.value)
        new_classes = sorted(c for c in classes if classes[c] > self.failure_classes[c])
        self.failure_classes = classes
        for target, value in states.items():
            before = self.states.get(target)
            if value == before:
                continue
            if value == 1 and before is None:
                self.say(f"{target} is up: its first probe succeeded")
            elif value == 1:
                self.say(f"{target} answers again (sla_monitor_probe_state 1)")
            elif value == 0:
                why = f"; failure class {', '.join(new_classes)}" if new_classes else ""
                self.say(f"{target} is down on /metrics (sla_monitor_probe_state 0{why})")
            else:
                self.say(f"{target} is unknown (the monitor cannot tell, R-M2)")
        self.states = states

    async def _incidents(self) -> None:
        for incident in await data.incidents_since(self.db, self.settings, self.since):
            before = self.incidents.get(incident.id)
            self.incidents[incident.id] = incident
            if before is None:
                detected = (
                    f", detected {format_duration(_seconds(incident.start, incident.detected_at))} "
                    f"later (D-1 allows {format_duration(self.detection_deadline)})"
                    if incident.detected_at
                    else ""
                )
                self.say(
                    f"incident #{incident.id} opened on {incident.service}: "
                    f"started {self.time(incident.start)}{detected}"
                )
            if incident.end is not None and (before is None or before.end is None):
                self.say(
                    f"incident #{incident.id} closed: ended {self.time(incident.end)}, "
                    f"down {format_duration(_seconds(incident.start, incident.end))}"
                )

    def _mail(self) -> None:
        for message in self.stage.sink.messages[len(self.mail) :]:
            parsed = message.parsed()
            mail = Mail(
                kind=str(parsed.get("X-SLA-Monitor-Kind", "")),
                subject=str(parsed.get("Subject", "")),
                to=message.rcpt_tos,
                received_at=message.received_at,
            )
            self.mail.append(mail)
            self.say(f'e-mail accepted: "{mail.subject}" to {", ".join(mail.to)}')

    def mail_of(self, kind: str) -> list[Mail]:
        return [m for m in self.mail if m.kind == kind]

    def incident_on(self, service: str) -> data.IncidentView | None:
        found = [i for i in self.incidents.values() if i.service == service]
        return found[-1] if found else None


def _seconds(start: dt.datetime, end: dt.datetime | None) -> int:
    """Whole seconds between two instants, each cut to its second as the engine does
    (R-M6), so the demo's durations agree with the report's to the second."""
    return 0 if end is None else seconds_between(start, end)


class Steps:
    """Bounded waits that keep the observer polling (and saying what it sees)."""

    def __init__(
        self, observer: Observer, patience: float, log_path: Path, stop: asyncio.Event
    ) -> None:
        self.observer = observer
        self.patience = patience
        self.log_path = log_path
        self.stop = stop

    async def until(self, what: str, done: Callable[[], object]) -> None:
        await self.observer.poll()
        if done():
            return
        self.observer.say(f"waiting for {what} (at most {self.patience:g} s)")
        deadline = time.monotonic() + self.patience
        while True:
            _checkpoint(self.stop)
            await self.observer.poll()
            if done():
                return
            if time.monotonic() > deadline:
                raise DemoStuck(
                    f"gave up waiting for {what} after {self.patience:g} s"
                    + _log_tail(self.log_path)
                )
            await asyncio.sleep(0.1)

    async def hold(self, seconds: float) -> None:
        """Let ``seconds`` pass, still reporting what happens."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            _checkpoint(self.stop)
            await self.observer.poll()
            await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _checkpoint(stop: asyncio.Event) -> None:
    """Where the story may end early: between steps, never inside a cleanup."""
    if stop.is_set():
        raise DemoInterrupted("interrupted")


def _log_tail(path: Path, lines: int = 5) -> str:
    """The daemon's last errors (with the last line of their traceback), for a demo that got
    stuck; empty when there are none."""
    try:
        events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, ValueError):
        return ""
    errors = [e for e in events if e.get("level") in ("error", "critical")][-lines:]
    described = []
    for event in errors:
        traceback = str(event.get("exception", "")).strip().splitlines()
        described.append(str(event.get("event")) + (f" ({traceback[-1]})" if traceback else ""))
    return "; the daemon's last errors: " + " | ".join(described) if described else ""


def _state_directory(options: DemoOptions, stack: AsyncExitStack) -> Path:
    if options.keep is not None:
        options.keep.mkdir(parents=True, exist_ok=True)
        return options.keep.resolve()
    directory = Path(tempfile.mkdtemp(prefix="sla-monitor-demo-"))
    stack.callback(shutil.rmtree, directory, ignore_errors=True)
    return directory


def _daemon_log(directory: Path, stack: AsyncExitStack) -> Path:
    """The daemon's JSON log lines go to ``daemon.log``, not to the demo's terminal."""
    path = directory / "daemon.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the SMTP sink's session chatter

    def restore() -> None:
        root.handlers[:], level = saved
        root.setLevel(level)
        handler.close()

    stack.callback(restore)
    return path


async def run_demo(options: DemoOptions, say: Say, stop: asyncio.Event) -> DemoResult:
    """Run the story; everything started here is stopped before this returns or raises.

    ``stop`` (set by the Ctrl-C / SIGTERM handler) ends the story at the next step
    boundary with :class:`DemoInterrupted`; cleanups are never interrupted, so
    nothing is left running, listening or on disk (except the ``--keep`` directory).
    """
    from monitor.app import Daemon  # the daemon's imports are needed by this command only

    started = time.monotonic()
    pacing = options.pacing
    async with AsyncExitStack() as stack:
        directory = _state_directory(options, stack)
        log_path = _daemon_log(directory, stack)
        say(
            f"State directory: {directory} "
            + ("(kept: --keep)" if options.keep else "(temporary, removed at the end)")
        )
        stage = await open_stage(stack, directory, pacing, options.calendar, options.timezone)
        _checkpoint(stop)
        if options.keep is not None:
            stack.callback(_save_mail, stage, directory)  # runs before the sink stops
        endpoints = {target_id: stage.describe(target_id) for target_id in stage.targets}
        endpoints["smtp"] = f"smtp://{stage.sink.host}:{stage.sink.port}"
        say("Local servers (127.0.0.1, ports picked by the kernel):")
        say(f"  web panel    panel        {endpoints['panel']}  (every customer depends on it)")
        say(f"  server       srv-1        {endpoints['srv-1']}  (hosts both projects)")
        say(f"  project      acme-survey  {endpoints['acme-survey']}  (customer acme)")
        say(f"  project      bita-poll    {endpoints['bita-poll']}  (customer bita)")
        say(f"  SMTP server               {endpoints['smtp']}  (receives every e-mail)")
        say(f"Configuration: {stage.config_path}")
        say(
            f"  probes every {pacing.interval:g} s, timeout {pacing.timeout:g} s; "
            f"{pacing.fail_after} failures open an incident, {pacing.recover_after} "
            f"successes close it (worst-case detection {pacing.worst_detection:g} s, D-1)"
        )

        config = load_config(stage.config_path)  # the loader `sla-monitor run` uses
        settings = Settings.from_config(config)
        say("Starting the daemon (the same Daemon that `sla-monitor run` serves) ...")
        daemon = Daemon(config, stage.config_path)
        since = dt.datetime.now(dt.UTC)
        running = True

        async def stop_daemon() -> None:
            nonlocal running
            if running:
                running = False
                await daemon.stop()

        try:
            await daemon.start()
        except BaseException:
            with suppress(Exception):  # a half-started daemon: release what it holds
                await daemon.stop()
            raise
        stack.push_async_callback(stop_daemon)
        _checkpoint(stop)
        metrics_url = f"http://127.0.0.1:{daemon.http_port}/metrics"
        endpoints["metrics"] = metrics_url
        endpoints["status"] = f"http://127.0.0.1:{daemon.http_port}/"
        say(f"  metrics: {metrics_url}  (open it while the demo runs)")
        say(f"  status page: {endpoints['status']}")
        say(f"  its JSON log: {log_path}")

        db = Database.open(config.storage.url)
        stack.push_async_callback(db.dispose)
        http = await stack.enter_async_context(aiohttp.ClientSession())
        observer = Observer(say, started, http, metrics_url, db, stage, config, settings, since)
        steps = Steps(observer, pacing.patience, log_path, stop)
        customer, project = BROKEN
        all_targets = set(stage.targets)

        await steps.until(
            "the first probe of every target",
            lambda: all(observer.states.get(t) == 1 for t in all_targets),
        )
        observer.say(
            f"all {len(all_targets)} targets are up; {project} breaks in {pacing.calm:g} s "
            "(open the metrics URL to watch sla_monitor_probe_state)"
        )
        await steps.hold(pacing.calm)

        broken_at = time.monotonic()
        stage.targets[project].set_status(503, "Service Unavailable")
        observer.say(f"BREAKING {project}: it now answers HTTP 503 (srv-1 and the rest stay up)")
        await steps.until(
            f"the incident on {project} ({pacing.fail_after} failed probes in a row)",
            lambda: observer.incident_on(project),
        )
        await steps.until(
            "the outage e-mails (customer and operators)",
            lambda: observer.mail_of("outage") and observer.mail_of("ops-outage"),
        )
        await steps.hold(pacing.outage - (time.monotonic() - broken_at))
        stage.targets[project].set_status(200, "ok")
        observer.say(
            f"FIXING {project}: it answers HTTP 200 again after "
            f"{time.monotonic() - broken_at:.0f} s broken"
        )

        def closed() -> object:
            incident = observer.incident_on(project)
            return incident is not None and incident.end is not None

        await steps.until(f"the recovery ({pacing.recover_after} good probes in a row)", closed)
        await steps.until(
            "the recovery e-mails",
            lambda: observer.mail_of("recovery") and observer.mail_of("ops-recovery"),
        )
        observer.say("stopping the daemon (what SIGTERM does: flush, close, exit)")
        await stop_daemon()
        observer.say("daemon stopped")
        incident = observer.incident_on(project)
        assert incident is not None
        _checkpoint(stop)

        now = dt.datetime.now(dt.UTC)
        phoned = await _record_phoned_outage(db, settings, config, project, now)
        month_report = await data.month_report(db, settings, dt.datetime.now(dt.UTC))
        report = month_report.to_json()
        period_seconds = month_report.period.seconds
        live_counted = _seconds(incident.start, incident.end)
        alone = data.tier_reached(settings, live_counted, period_seconds)
        _checkpoint(stop)
        mail = observer.mail
        if options.keep is not None:
            mail = [
                Mail(m.kind, m.subject, m.to, m.received_at, directory / "mail" / f"{n:03d}.eml")
                for n, m in enumerate(mail, start=1)
            ]
        ports = [server.port for server in stage.targets.values()]
        ports += [stage.sink.port, int(daemon.http_port or 0)]
        result = DemoResult(
            directory=directory,
            kept=options.keep is not None,
            config_path=stage.config_path,
            config=config,
            endpoints=endpoints,
            ports=ports,
            incident=incident,
            phoned=phoned,
            mail=mail,
            report=report,
            month_report=month_report,
            customer=customer,
            daemon_started_at=since,
            live_alone_tier=alone,
            pacing=pacing,
            events=observer.events,
        )
        observer.say("stopping the targets and the SMTP server")
    result.elapsed = time.monotonic() - started
    return result


async def _record_phoned_outage(
    db: Database, settings: Settings, config: Config, project: str, now: dt.datetime
) -> PhonedOutage:
    provider = config.provider
    period = month_containing(now, provider.calendar, provider.timezone)
    window = phoned_outage_window(now, period, provider.timezone)
    if window is None:
        return PhonedOutage(
            None,
            None,
            None,
            None,
            f"month {period.label} began less than "
            f"{format_duration((PHONED_DURATION + PHONED_MARGIN).total_seconds())} ago: "
            "no room for an earlier outage in it",
        )
    start, end = window
    called_at = start + CALLED_BACK_AFTER
    incident_id = await data.record_phoned_outage(
        db, settings, service=project, start=start, end=end, called_at=called_at, now=now
    )
    return PhonedOutage(incident_id, start, end, called_at)


def _save_mail(stage: Stage, directory: Path) -> None:
    stage.sink.save(directory / "mail")
