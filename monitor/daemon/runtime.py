"""The daemon's runtime as parts: built in one place, started in order, stopped in reverse.

:func:`build_runtime` only builds (no socket, no task, no connection): the settings, the
store, the notifier, the probe ownership strategy (:mod:`monitor.daemon.ownership`), the
heartbeat, the recorder, the probe sessions and their resolver, the
:class:`~monitor.daemon.watch.Watch`, the
job table (:mod:`monitor.daemon.jobs`), the probe schedules and the HTTP edge.
:meth:`Runtime.start` starts them in order on an :class:`contextlib.AsyncExitStack`: each
part's teardown is registered as soon as it has started, at the place where, run in
reverse, it stops in the right order (the HTTP runner is set up and its port bound early, so
that a port already taken fails before anything runs, and served last, so it serves until
the end; the incident journal closes before the heartbeat's last beat, which
comes before the cluster leases are handed back). When a step fails, everything started
before it is stopped, in reverse, and the error goes on; :meth:`Runtime.stop` unwinds the
same stack.

After start-up and after each reload, ``gc.freeze()`` moves everything built so far (the
configuration, tens of thousands of probes, detectors and their state) out of the garbage
collector's sight: a full collection then walks only what changed since, instead of every
long-lived object several times a minute (measured: ``benchmarks/HISTORY.md``).

A reload is ``prepare`` (build everything the new configuration needs, touching nothing
that runs; any part may refuse) then ``apply`` (every part's ``apply``, which cannot fail):
each field of :class:`Plan` is one part's plan (the watch, the notifier, the probe
ownership, the probes' resolver, the HTTP edge, the job table, the SLA metrics).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from monitor import actions, collector
from monitor.actions.config_check import public_url_warning
from monitor.actions.evidence_keys import load_signing_key
from monitor.actions.standing import RunningMonth
from monitor.clock import Clock, SteadyClock
from monitor.config import Config, Settings
from monitor.daemon import routine
from monitor.daemon.backups import Backups
from monitor.daemon.clocksteps import ClockSteps
from monitor.daemon.edge import EdgePlan, HTTPEdge
from monitor.daemon.evidence import EvidenceWatch
from monitor.daemon.heartbeat import Heartbeat
from monitor.daemon.jobs import Jobs, JobsPlan
from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.ownership import OwnershipPlan, choose, session_limits
from monitor.daemon.recorder import Recorder
from monitor.daemon.resolver import ProbeResolver, ResolverPlan
from monitor.daemon.retention import Retention
from monitor.daemon.scheduler import ProbeSchedule
from monitor.daemon.sla_metrics import SLARefresher
from monitor.daemon.watch import Watch, WatchPlan
from monitor.errors import MonitorError, shortened
from monitor.http import Readiness, Web
from monitor.notify import Notifier, NotifierPlan
from monitor.notify.smtp import Transport
from monitor.present.statement import check_pdf
from monitor.probes import ProbeSessions, build_certificate_check, build_probe
from monitor.redact import redact_value
from monitor.store import Database

__all__ = ["NOTHING_MONITORED", "Options", "Plan", "Runtime", "build_runtime"]

log = logging.getLogger(__name__)

#: /readyz answers within about this: a database that cannot take a write by then (locked
#: by another writer, or away) is "not ready" (503), never a hanging probe.
READY_TIMEOUT = 2.0
NOTHING_MONITORED = "no targets configured: nothing is monitored"
# On SIGTERM, a periodic job already running (a flush waiting for a locked database) is
# waited for this long at most before the daemon goes on stopping.
JOB_STOP_GRACE = 60.0
#: The settings a reload refuses to change (a section, or one setting in it): the database,
#: the listening socket, the probe ownership strategy (chosen once, at start), and what the
#: start reads once: the event loop and the probe worker processes.
RESTART_ONLY = ("storage", "http", "cluster", "monitor.event_loop", "monitor.probe_workers")


def restart_only_changes(old: Config, new: Config) -> list[str]:
    """Each setting of :data:`RESTART_ONLY` that differs, as ``path (old, now new)``, by its
    full path (``cluster.lease_timeout``), in order; values shown redacted (a
    ``storage.url``'s password) and shortened."""
    changes: list[str] = []

    def walk(path: str, was: object, now: object) -> None:
        if was == now:
            return
        if isinstance(was, BaseModel) and type(was) is type(now):
            for name in type(was).model_fields:
                walk(f"{path}.{name}", getattr(was, name), getattr(now, name))
            return
        changes.append(f"{path} ({shortened(redact_value(was))!r}, now "
                       f"{shortened(redact_value(now))!r})")

    for path in RESTART_ONLY:
        was, now = old, new
        for name in path.split("."):
            was, now = getattr(was, name), getattr(now, name)
        walk(path, was, now)
    return sorted(changes)


@dataclass
class Options:
    """What the caller adds to the configuration (tests: a clock, a registry, fast flushes)."""

    clock: Clock = field(default_factory=SteadyClock)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    flush_interval: float = 5.0
    slot: float = 0.05
    transport: Transport | None = None  # None: SMTP as configured
    notifier_options: dict[str, Any] = field(default_factory=dict)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class Plan:
    """A new configuration, built and checked by every part, ready to apply."""

    settings: Settings
    watch: WatchPlan
    notifier: NotifierPlan
    ownership: OwnershipPlan
    resolver: ResolverPlan
    edge: EdgePlan
    jobs: JobsPlan
    sla_metrics: Settings


def build_runtime(settings: Settings, options: Options | None = None) -> Runtime:
    """Every part of the daemon for ``settings``, built and not started. Reads the HTTP
    edge's secrets (a missing or bad one fails here: exit 2)."""
    return Runtime(settings, options or Options())


class Runtime:
    def __init__(self, settings: Settings, options: Options) -> None:
        self.settings = settings
        self.options = options
        self.clock = clock = options.clock
        self.registry = registry = options.registry
        self.flush_interval = options.flush_interval
        self.removals: list[tuple[dt.datetime, frozenset[str]]] = []  # see end_removed_incidents
        self.stopping = options.stopping
        edge = HTTPEdge.secrets(settings)
        # Every PostgreSQL session of the daemon is bounded (monitor.store.db.SessionLimits):
        # in a cluster by the lease timeout, so a frozen node's locks never outlive its leases.
        limits, name = session_limits(settings.config)
        self.db = Database.open(settings.storage.url, settings.storage.busy_timeout,
                                limits=limits, application_name=name)
        self.metrics = DaemonMetrics(registry)
        self.notifier = Notifier(settings, self.db, clock, registry, options.transport,
                                 **options.notifier_options)
        self.ownership = choose(settings.config, settings, self.db, registry, self.metrics,
                                self._worker_hello, self.stopping.is_set, routine.step)
        self.heartbeat = Heartbeat(self.db, clock, settings.monitor.unknown_after,
                                   self.ownership.node)
        self.recorder = Recorder(self.db, checkpoint=settings.storage.history_checkpoint,
                                 dropped=self.metrics.results_dropped,
                                 fence=self.ownership.history_fence())
        self.retention = Retention(self.db, self.metrics, clock, settings.storage.retention)
        self.backups = Backups(self.db, clock, settings.storage.backup, self.metrics)
        self.sessions = sessions = ProbeSessions(
            self._concurrency(settings), clock=clock, resolver=settings.monitor.resolver,
            max_body_memory=settings.monitor.max_body_memory,
        )
        self.resolver = ProbeResolver(sessions, settings.monitor.resolver)
        self.watch = Watch(
            settings, self.db, self.recorder, self.metrics, clock,
            probe_factory=lambda target: build_probe(target.id, target.probe, sessions),
            certificate_check_factory=lambda target: build_certificate_check(
                target.id, target.probe, sessions),
            listener=self.notifier, resolver_lookup=sessions.lookup, ownership=self.ownership,
        )
        self.metrics.follow_targets(self.watch.targets)  # probe_state's kind label
        self.evidence = EvidenceWatch(self.db, clock, self.metrics.evidence_chain_ok,
                                      load_signing_key(settings))
        self.jobs = Jobs(routine.table(self), self.ownership.leader, self.metrics,
                         outage=self.db.outage, guard=self.ownership.leader_guard())
        # Due times on the daemon's steady clock: a wall-clock step moves no probe.
        scheduler = self.jobs.scheduler
        # No bound on the probes in flight here (monitor.daemon.scheduler): a run in the
        # daemon includes handling its result, which may wait (a flush before an outage
        # e-mail, a server checked at once); the probe workers' schedules have one.
        self.schedule = ProbeSchedule(scheduler, self.watch.run_probe, self.metrics,
                                      options.slot, wall=self._wall)
        # Certificates are read at their own, slower cadence (tls.cert_check_interval).
        self.certificate_schedule = ProbeSchedule(
            scheduler, self.watch.run_certificate_check, self.metrics, slot=1.0,
            wall=self._wall, job_id="certificate-tick")
        self.clock_steps = (ClockSteps(clock, self.metrics, self.clock_stepped)
                            if isinstance(clock, SteadyClock) else None)  # a FakeClock never steps
        self.running_month = RunningMonth(self.db, settings)
        self.sla_metrics = SLARefresher(self.running_month, clock, registry)
        self.web = Web(self.db, settings, clock, edge.tokens, edge.links)
        self.web.pushes = sessions.pushes  # what push targets' jobs send, as checked
        self.web.evidence_key = self.evidence.key
        self.edge = HTTPEdge(self.web, registry, self.ready)
        self._stack = AsyncExitStack()

    @property
    def config(self) -> Config:
        return self.settings.config

    def _wall(self) -> float:
        return self.clock.now().timestamp()

    def _concurrency(self, settings: Settings) -> int:
        """``monitor.max_concurrency``, shared out between the processes that probe."""
        return max(1, settings.monitor.max_concurrency // (self.ownership.processes + 1))

    def _worker_hello(self, processes: int) -> dict[str, Any]:
        """What every probe worker shares with the daemon (monitor.daemon.probe_worker)."""
        settings, clock = self.settings, self.clock
        return {
            "max_concurrency": max(1, settings.monitor.max_concurrency // (processes + 1)),
            "max_body_memory": settings.monitor.max_body_memory,
            "resolver": settings.monitor.resolver.model_dump(mode="json"),
            "slot": self.options.slot,
            "clock": list(clock.base()) if isinstance(clock, SteadyClock) else None,
        }

    def clock_stepped(self, step: float) -> None:
        """APScheduler times its jobs by the wall clock: after a step, each is due now and
        then every interval from there (a step back would hold them for its length)."""
        self.jobs.due_now()

    def warn_about_configuration(self, config_path: Path | None) -> None:
        """What the configuration leaves wanting, said at start and after each reload: links
        customers cannot open (no ``http.public_url``, as ``check-config`` says), and no
        targets (the daemon runs, so that a reload can add them)."""
        unreachable = public_url_warning(self.config)
        if unreachable is not None:
            log.warning(unreachable)
        if self.settings.topology.targets():
            return
        source = str(config_path) if config_path else "the embedded defaults"
        log.warning(
            NOTHING_MONITORED,
            extra={
                "config": source,
                "hint": "describe your servers and services (with their probes) and customers "
                "in the configuration file (see config.example.yaml), check it with "
                "`sla-monitor -c CONFIG check-config`, then reload (SIGHUP, systemctl reload) "
                "or restart",
            },
        )

    # --- start and stop ------------------------------------------------------------------------

    async def start(self) -> None:
        """Every part started, in order; on a failure, those started are stopped again."""
        settings = self.settings
        self.metrics.started.set(self.clock.now().timestamp())
        if settings.statements.auto:
            # Fail fast: a daemon that must send statements can render them (exit 2 names
            # the packages to install).
            await asyncio.to_thread(check_pdf)
        async with AsyncExitStack() as stack:
            stack.push_async_callback(self.db.dispose)
            await self.db.upgrade()  # a no-op when the schema is current
            stack.push_async_callback(self.sessions.close)
            stack.push_async_callback(self.edge.cleanup)
            await self.edge.setup()
            await self.edge.bind()  # a port already taken fails here, before anything runs
            stack.push_async_callback(routine.step, "the outbox", self.notifier.stop)
            await self.notifier.start()  # reads the SMTP secret: a missing one fails (exit 2)
            stack.push_async_callback(self.ownership.close)  # after the heartbeat's last beat
            stack.push_async_callback(routine.step, "the heartbeat's last beat",
                                      self.heartbeat.stop)
            await self.heartbeat.start()
            await self.recorder.load()
            await self.watch.load_state()
            await self.end_removed_incidents()
            stack.push_async_callback(routine.step, "incident changes and unknown time",
                                      self._close_watch)
            stack.push_async_callback(routine.flush, self, True)
            stack.push_async_callback(self.jobs.stop, JOB_STOP_GRACE)
            self.jobs.open()
            stack.push_async_callback(self._stop_probing)
            if self.clock_steps is not None:
                stack.push_async_callback(self.clock_steps.stop)
                await self.clock_steps.start()
            await self.sla_metrics.refresh()  # the per-customer series from the first scrape
            # Last of what can fail: a cluster node joins (registers, takes its leases) only
            # once its port is bound and the rest has started, so a node that cannot start
            # takes nothing from the others.
            intervals = await self.ownership.start(self.watch, settings)
            self.schedule.set_targets(intervals)
            self.schedule.start()
            stack.push_async_callback(self._stop_schedule, self.schedule)
            self.certificate_schedule.set_targets(self.watch.certificate_targets())
            self.certificate_schedule.start()
            stack.push_async_callback(self._stop_schedule, self.certificate_schedule)
            self.jobs.start(settings)
            await self.edge.listen()
            self._stack = stack.pop_all()  # started: unwound by stop()
        # Everything built so far lives as long as the configuration: out of the collector's
        # sight (the module docstring).
        gc.collect()
        gc.freeze()
        collector.give_back()

    def _grace(self) -> float:
        targets = self.settings.topology.targets()
        return max((t.probe.timeout for t in targets), default=1.0) + 1.0

    async def _stop_schedule(self, schedule: ProbeSchedule) -> None:
        await schedule.stop(self._grace())

    async def _stop_probing(self) -> None:
        await self.ownership.stop_probing(self._grace())

    async def _close_watch(self) -> None:
        await self.watch.close(self.clock.now())

    async def stop(self) -> None:
        """Every part stopped, in the reverse order of :meth:`start`; each step runs even
        when one before it failed (the database may be full or gone)."""
        await self._stack.aclose()

    async def ready(self) -> Readiness:
        """``/readyz``: the database takes a write within :data:`READY_TIMEOUT`, the scheduler
        runs; how many targets are monitored (zero is a warning, not unready)."""
        targets = len(self.settings.topology.targets())
        checks = {
            "database": await self.db.ping(READY_TIMEOUT),
            "scheduler": self.jobs.running,
            # Incident changes waiting too long for the database (not lost).
            "incidents": not self.watch.journal.stuck,
            **self.ownership.checks(),
        }
        return Readiness(checks=checks, targets=targets,
                         warnings=[] if targets else [NOTHING_MONITORED],
                         cluster=self.ownership.describe())

    async def end_removed_incidents(self) -> None:
        """The open incidents of targets the configuration has no more are ended now
        (:meth:`~monitor.daemon.incident_book.IncidentBook.end_unconfigured`): at start
        (removed while the daemon was stopped) and after a reload applied. What a reload
        could not end (the database away) stays in :attr:`removals`, with the reload's time
        and the targets configured then, and is ended at that time by the first heartbeat
        that reaches the database (R-M1: when the target was removed), not at the next start."""
        self.removals.append((self.clock.now(), frozenset(self.watch.targets)))
        await self.end_pending_removals()

    async def end_pending_removals(self) -> None:
        """The removals :meth:`end_removed_incidents` could not end yet, in their order."""
        while self.removals:
            at, configured = self.removals[0]
            await self.watch.book.end_unconfigured(configured, at)
            self.removals.pop(0)

    # --- reload: prepare, then apply ---------------------------------------------------------

    async def prepare(self, config: Config) -> Plan:
        """Build everything ``config`` needs, touching nothing that runs. Raises
        :class:`MonitorError` (a ConfigError naming the setting) when it cannot be."""
        old = self.config
        changes = restart_only_changes(old, config)
        if changes:
            raise MonitorError("change only with a restart: " + ", ".join(changes))
        if config.statements.auto and not old.statements.auto:
            # Turning statements.auto on: PDF must render here (RenderError refuses).
            await asyncio.to_thread(check_pdf)
        settings = Settings.from_config(config)
        resolver = self.resolver.prepare(settings)  # new name servers: a new resolver
        watch = self.watch.prepare(settings)  # every new or changed probe, with tls.ca_file
        notifier = self.notifier.prepare(settings)  # a new SMTP transport, with its secret
        edge = self.edge.prepare(settings)  # the API tokens and link keys, re-read
        jobs = self.jobs.prepare(settings)
        sla_metrics = self.sla_metrics.prepare(settings)
        # Last: probe workers build their new shards (refused: they abort, nothing changed).
        ownership = await self.ownership.prepare(settings)
        return Plan(settings, watch, notifier, ownership, resolver, edge, jobs, sla_metrics)

    def apply(self, plan: Plan) -> None:
        """Put a prepared configuration in force; nothing here can fail half-way."""
        self.settings = plan.settings
        self.resolver.apply(plan.resolver)
        self.notifier.apply(plan.notifier)
        self.watch.apply(plan.watch)
        self.sessions.pushes.keep_only(set(actions.push_targets(plan.settings)))
        self.schedule.set_targets(plan.ownership.intervals)
        self.ownership.apply(plan.ownership)
        self.certificate_schedule.set_targets(self.watch.certificate_targets())
        self.edge.apply(plan.edge)
        self.sla_metrics.apply(plan.sla_metrics)
        # A customer the reload added has its series at the next scrape, not a refresh later.
        self.jobs.apply(plan.jobs)
        # The new probes and configuration live until the next reload (the module docstring); what
        # the old ones leave behind is freed by reference counting.
        gc.freeze()
        collector.give_back()
