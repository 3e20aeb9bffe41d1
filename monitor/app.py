"""The daemon, wired in one place: what ``sla-monitor run`` starts, in order.

    config ─► Settings (Topology, engine Policy) ─► Watch (probes ─► detector) ─► store
                                                       └─► Notifier (outbox, duties)
    Recorder (probe history), Heartbeat (R-M3)          HTTP: pages, API, /metrics, health
    RunningMonth ─► SLARefresher: per-customer SLA metrics of the running month
    Cluster (issue 15, optional): leases divide the targets among the nodes of a vantage,
             votes of several vantages open incidents, the leader runs the singleton jobs
    APScheduler: probe tick (50 ms slots), certificate tick, heartbeat, history flush,
                 duty checks (new maintenance windows, D-2 at-risk alerts), SLA metrics,
                 statements (``statements.auto``: close each month, send, remind; issue 14)
                 resolver canary (R-M2), history retention (R-M7)

Start-up fails fast on a bad configuration or an unreachable database.
SIGTERM/SIGINT stop cleanly: no new probes, running ones finish or are cut at
their timeout; the periodic jobs are paused and a flush (or any job) already
running is waited for, never cancelled (a flush cancelled inside its COMMIT
would leave the recorder believing it failed while the rows were written);
then the history is flushed and the session closed.

After start-up and after each reload, ``gc.freeze()`` moves everything built
so far (the configuration, tens of thousands of probes, detectors and their
state) out of the garbage collector's sight: a full collection then walks only
what changed since, instead of every long-lived object several times a minute
(measured: the README's "Benchmarks").

SIGHUP reloads the configuration as **prepare, then swap**: the file is parsed
off the event loop, then everything the new configuration needs is built
(settings, every new or changed probe with its ``tls.ca_file``, the SMTP
transport with its secret, the schedules' targets) before anything running is
touched, the API tokens and link keys re-read. Any error refuses the reload and
the old configuration stays fully in force; only then are the pieces swapped in,
which cannot fail. Added,
changed and removed targets take effect without losing detector state.
Under systemd (``Type=notify``) the daemon reports READY/RELOADING/STOPPING and
feeds the watchdog (:mod:`monitor.daemon.systemd`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from monitor import actions, early
from monitor.actions.links import LinkKeys, load_link_keys
from monitor.actions.standing import RunningMonth
from monitor.clock import Clock, SteadyClock
from monitor.config import Config, Settings
from monitor.config.isolated import load_config_async
from monitor.daemon.clocksteps import ClockSteps
from monitor.daemon.cluster import Cluster
from monitor.daemon.heartbeat import Heartbeat
from monitor.daemon.loop import give_back_memory, running_loop_name
from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.recorder import Recorder
from monitor.daemon.retention import Retention
from monitor.daemon.scheduler import ProbeSchedule
from monitor.daemon.sla_metrics import SLARefresher
from monitor.daemon.systemd import SystemdNotifier, Watchdog
from monitor.daemon.watch import Watch, WatchPlan
from monitor.daemon.workers import ProbeWorkers, cpus, probes_here, worker_count
from monitor.errors import MonitorError
from monitor.http import Readiness, Web, make_app
from monitor.http.auth import TokenSet, load_tokens
from monitor.http.serving import CappedTCPSite, runner_options
from monitor.notify import Notifier, NotifierPlan
from monitor.notify.contract import ContractMailer
from monitor.notify.smtp import Transport
from monitor.present.statement import check_pdf
from monitor.probes import ProbeSessions, build_certificate_check, build_probe
from monitor.store import Database

log = logging.getLogger("monitor.daemon")

DUTY_CHECK_INTERVAL = 30.0  # seconds; the D-2 warning comes 30 min before a 2 h deadline
STATEMENT_CHECK_INTERVAL = 60.0  # seconds; statements are due a day after the month ends
#: /readyz answers within about this: a database that cannot take a write by then (locked
#: by another writer, or away) is "not ready" (503), never a hanging probe.
READY_TIMEOUT = 2.0
NOTHING_MONITORED = "no targets configured: nothing is monitored"
# On SIGTERM, a periodic job already running (a flush waiting for a locked database) is
# waited for this long at most before the daemon goes on stopping.
JOB_STOP_GRACE = 60.0


@dataclass(frozen=True)
class Reload:
    """A new configuration, built and checked, ready to swap in."""

    settings: Settings
    watch: WatchPlan
    notifier: NotifierPlan
    intervals: list[tuple[str, float]]
    resolver: Any  # a new resolver for the probes (monitor.resolver changed), or None
    tokens: TokenSet
    links: LinkKeys | None
    shards: list[list[dict[str, Any]]]  # each probe worker's targets (prepared there)


class Daemon:
    def __init__(
        self,
        config: Config,
        config_path: Path | None = None,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
        flush_interval: float = 5.0,
        slot: float = 0.05,
        transport: Transport | None = None,
        notifier_options: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.clock = clock or SteadyClock()
        self.registry = registry or CollectorRegistry()
        self.flush_interval = flush_interval
        self.slot = slot
        self.transport = transport  # None: SMTP as configured, else the local Maildir
        self.notifier_options = notifier_options or {}
        self.http_port: int | None = None
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.systemd = SystemdNotifier.from_environment()  # a no-op outside systemd
        self.watchdog: Watchdog | None = None
        self._refusal = "see the log"
        self._jobs_running: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        settings = self.settings = Settings.from_config(self.config)
        # Secrets of the HTTP edge, read once (a missing or bad one stops the start: exit 2).
        tokens = load_tokens(settings.http, frozenset(settings.topology.customers))
        links = load_link_keys(settings.http)
        if settings.statements.auto:
            # Fail fast: a daemon that must send statements can render them (exit 2 names
            # the packages to install).
            await asyncio.to_thread(check_pdf)
        self.db = Database.open(settings.storage.url, settings.storage.busy_timeout)
        await self.db.upgrade()  # a no-op when the schema is current
        self.metrics = DaemonMetrics(self.registry)
        self.notifier = Notifier(
            settings,
            self.db,
            self.clock,
            self.registry,
            self.transport,
            **self.notifier_options,
        )
        await self.notifier.start()  # reads the SMTP secret: a missing one fails here (exit 2)
        # Issue 15: one node of a cluster on one PostgreSQL (monitor.daemon.cluster).
        self.cluster: Cluster | None = None
        if self.config.cluster is not None:
            self.cluster = Cluster(self.config.cluster, self.db, self.registry)
        node = self.cluster.node if self.cluster is not None else None
        self.heartbeat = Heartbeat(self.db, self.clock, settings.monitor.unknown_after, node)
        await self.heartbeat.start()
        self.recorder = Recorder(self.db, checkpoint=settings.storage.history_checkpoint,
                                 dropped=self.metrics.results_dropped,
                                 fence=self.cluster.fence_history if self.cluster else None)
        self.retention = Retention(self.db, self.metrics, self.clock, settings.storage.retention)
        await self.recorder.load()
        # Probe workers (monitor.daemon.workers): decided once, at start. *Decision:* none in a
        # cluster (issue 15): a node probes only the targets it leases, which change while it
        # runs, and more nodes are the cluster's way to add cores.
        workers = 0 if self.cluster is not None else worker_count(
            settings.monitor.probe_workers, len(settings.topology.targets()), cpus()
        )
        self.sessions = ProbeSessions(
            max(1, settings.monitor.max_concurrency // (workers + 1)),
            clock=self.clock,
            resolver=settings.monitor.resolver,
            max_body_memory=settings.monitor.max_body_memory,
        )
        await self.sessions.__aenter__()
        self.watch = Watch(
            settings,
            self.db,
            self.recorder,
            self.metrics,
            self.clock,
            probe_factory=lambda target: build_probe(target.id, target.probe, self.sessions),
            certificate_check_factory=lambda target: build_certificate_check(
                target.id, target.probe, self.sessions
            ),
            listener=self.notifier,
            resolver_lookup=self.sessions.lookup,
            cluster=self.cluster,
            probes_here=probes_here(workers) if workers else None,
        )
        await self.watch.load_state()
        if self.cluster is not None:
            self.watch.blindness.scope = {"node": self.cluster.node,
                                          "vantage": self.cluster.vantage}
            self.watch.leases_changed(await self.cluster.start())
        self.scheduler = AsyncIOScheduler(timezone=dt.UTC)
        self.scheduler.start()
        # Due times on the daemon's steady clock: a wall-clock step moves no probe (issue 13).
        def wall() -> float:
            return self.clock.now().timestamp()

        self.schedule = ProbeSchedule(
            self.scheduler, self.watch.run_probe, self.metrics, self.slot, wall=wall
        )
        self.workers: ProbeWorkers | None = None
        own = settings.topology.targets()
        if workers:
            self.workers = ProbeWorkers(
                workers,
                self.watch.handle,
                self.metrics,
                self._worker_hello(settings, workers),
                event_loop=settings.monitor.event_loop,
                log_level=logging.getLevelName(logging.getLogger().level),
                daemon_stopping=self._stopping.is_set,
            )
            own, shards = self.workers.split(list(own))
            await self.workers.start(shards)
            self.metrics.probe_workers.set(workers)
        self.schedule.set_targets([(t.id, t.probe.interval) for t in own])
        self.schedule.start()
        # Certificates are read at their own, slower cadence (tls.cert_check_interval).
        self.certificate_schedule = ProbeSchedule(
            self.scheduler,
            self.watch.run_certificate_check,
            self.metrics,
            slot=1.0,
            wall=wall,
            job_id="certificate-tick",
        )
        self.certificate_schedule.set_targets(self.watch.certificate_targets())
        self.certificate_schedule.start()
        self._every(settings.monitor.heartbeat_interval, self._beat, "heartbeat")
        if self.cluster is not None:
            # Renewed every quarter of the timeout: at most half of it apart even when one
            # cycle is late (monitor.daemon.cluster).
            self._every(self.cluster.lease_timeout / 4, self._lease_cycle, "cluster-leases")
        self._every(self.flush_interval, self.flush, "flush")
        self._every(DUTY_CHECK_INTERVAL, self.check_duties, "duties")
        self._every(STATEMENT_CHECK_INTERVAL, self.check_statements, "statements")
        self.scheduler.add_job(self.check_statements, id="statements-at-start")
        self._every(settings.storage.retention.interval, self.prune, "retention")
        self._schedule_resolver_canary(settings)
        self.clock_steps: ClockSteps | None = None
        if isinstance(self.clock, SteadyClock):  # a FakeClock in tests never steps
            self.clock_steps = ClockSteps(self.clock, self.metrics, self._clock_stepped)
            await self.clock_steps.start()
        self.running_month = RunningMonth(self.db, settings)
        self.sla_metrics = SLARefresher(self.running_month, self.clock, self.registry)
        await self.sla_metrics.refresh()  # the per-customer series from the first scrape on
        self._every(settings.monitor.sla_metrics_interval, self.sla_metrics.refresh, "sla-metrics")
        self.web = Web(self.db, settings, self.clock, tokens, links)
        await self._start_http()
        # Everything built so far lives as long as the configuration: out of the collector's
        # sight (the module docstring).
        gc.collect()
        gc.freeze()
        give_back_memory()
        log.info(
            "daemon started",
            extra={
                "targets": len(settings.topology.targets()),
                "probe_workers": workers,
                "http_port": self.http_port,
                "event_loop": running_loop_name(),
            },
        )
        self._warn_if_nothing_monitored()

    def _worker_hello(self, settings: Settings, workers: int) -> dict[str, Any]:
        """What every probe worker shares with the daemon (monitor.daemon.probe_worker)."""
        clock = self.clock
        base = (
            [clock._base_wall, clock._base_steady] if isinstance(clock, SteadyClock) else None
        )
        return {
            # Shared out between the processes (monitor.daemon.workers).
            "max_concurrency": max(1, settings.monitor.max_concurrency // (workers + 1)),
            "max_body_memory": settings.monitor.max_body_memory,
            "resolver": settings.monitor.resolver.model_dump(mode="json"),
            "slot": self.slot,
            "clock": base,
        }

    def _warn_if_nothing_monitored(self) -> None:
        """A daemon with no targets runs (so that a reload can add them) but says so."""
        if self.settings.topology.targets():
            return
        source = str(self.config_path) if self.config_path else "the embedded defaults"
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

    def _every(
        self,
        seconds: float,
        job: Callable[[], Awaitable[Any]],
        job_id: str,
        first: dt.datetime | None = None,
    ) -> None:
        """A periodic job: how late each run starts is measured
        (``sla_monitor_periodic_job_lateness_seconds``), and a run in progress is waited for,
        never cancelled, when the daemon stops."""
        previous: list[float] = []

        async def run() -> None:
            now = time.monotonic()
            if previous:
                self.metrics.job_lateness.labels(job_id).observe(
                    max(0.0, now - previous[0] - seconds)
                )
            previous[:] = [now]
            task = asyncio.current_task()
            if task is not None:
                self._jobs_running.add(task)
            try:
                await job()
            finally:
                if task is not None:
                    self._jobs_running.discard(task)

        self.scheduler.add_job(
            run,
            IntervalTrigger(seconds=seconds),
            id=job_id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            replace_existing=True,
            **({"next_run_time": first} if first is not None else {}),
        )

    def _schedule_resolver_canary(self, settings: Settings) -> None:
        """The resolver canary's lookup every ``canary_interval``, the first at once (R-M2)."""
        if self.scheduler.get_job("resolver-canary") is not None:
            self.scheduler.remove_job("resolver-canary")
        resolver = settings.monitor.resolver
        if resolver.canary is not None:
            self._every(
                resolver.canary_interval,
                self._check_resolver,
                "resolver-canary",
                first=dt.datetime.now(dt.UTC),
            )

    async def _check_resolver(self) -> None:
        try:
            await self.watch.check_resolver()
        except Exception as exc:
            if not self.db.outage(exc):  # the database away: said once, no traceback
                log.exception("resolver canary check failed; tried again at the next one")
    def _clock_stepped(self, step: float) -> None:
        """APScheduler times its jobs by the wall clock: after a step, each is due now and
        then every interval from there (a step back would hold them for its length)."""
        now = dt.datetime.now(dt.UTC)
        for job in self.scheduler.get_jobs():
            job.modify(next_run_time=now)
        self.scheduler.wakeup()

    async def _beat(self) -> None:
        self.metrics.event_loop_tasks.set(len(asyncio.all_tasks()))
        try:
            beat = await self.heartbeat.beat()
            self.metrics.heartbeat.set(beat.timestamp())
        except Exception as exc:
            if not self.db.outage(exc):  # the database away: said once, no traceback
                log.exception("heartbeat failed")

    async def _lease_cycle(self) -> None:
        assert self.cluster is not None
        self.watch.leases_changed(await self.cluster.cycle())

    async def _singleton(self, job: str) -> bool:
        """Whether this daemon runs ``job`` now: always alone; in a cluster only the leader,
        checked in the database at its epoch (issue 15: exactly once)."""
        if self.cluster is None:
            return True
        try:
            return await self.cluster.still_leading()
        except Exception as exc:
            if not self.db.outage(exc):  # the database away: said once, no traceback
                log.exception("leader check failed; job skipped", extra={"job": job})
            return False

    async def flush(self, everything: bool = False) -> None:
        """Write the probe history that is due (at stop: ``everything``)."""
        started = time.monotonic()
        try:
            # Shielded: whoever cancels the job, a flush that began writes to its end (or fails
            # and keeps everything for the next one); the recorder flushes one at a time.
            written = await asyncio.shield(self.recorder.flush(everything))
            self.metrics.flush_rows.inc(written)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.metrics.flush_errors.inc()
            if not self.db.outage(exc):  # the database away: said once, no traceback
                log.exception("probe history flush failed; kept for the next one")
        finally:
            self.metrics.flush_duration.observe(time.monotonic() - started)

    async def prune(self) -> None:
        """R-M7: old probe history out, in small batches (monitor.daemon.retention)."""
        if not await self._singleton("retention"):
            return
        try:
            await self.retention.run()
        except Exception as exc:
            if not self.db.outage(exc):  # the database away: said once, no traceback
                log.exception("probe history retention failed; tried again at the next run")

    async def check_duties(self) -> None:
        """D-2 to D-5: notices for new maintenance windows, at-risk alerts, breaches; and
        what time decides in the ledger (L-5 price requests, L-6 expiries). In a cluster,
        only the leader."""
        if not await self._singleton("duties"):
            self.notifier.metrics.forget_duties()
            return
        try:
            await self.notifier.queue_new_windows()
            await self.notifier.check_duties()
            settled = await actions.settle(self.db, self.settings, now=self.clock.now())
            if settled.expiries or settled.closed:
                log.info("ledger settled", extra={"expiries": len(settled.expiries),
                                                  "tickets_closed": list(settled.closed)})
        except Exception as exc:
            if not self.db.outage(exc):  # the database away: said once, no traceback
                log.exception("duty check failed; tried again at the next one")

    async def check_statements(self) -> actions.AutoStatements | None:
        """Issue 14, with ``statements.auto``: close each month the configured delay after it
        ends and queue its statements, then the claim reminders that are due. A stop request
        is honoured between customers; the next run (after a restart too) resumes."""
        if not self.settings.statements.auto or not await self._singleton("statements"):
            return None
        try:
            now = self.clock.now()
            done = await actions.auto_statements(
                self.db, self.settings, mail=ContractMailer(self.settings, now), now=now,
                stopping=self._stopping.is_set)
        except Exception as exc:
            if not self.db.outage(exc):  # the database away: said once, no traceback
                log.exception("statement check failed; tried again at the next one")
            return None
        for sent in done.sent:
            if sent.queued:
                self.notifier.worker.wake()
            log.info("statements queued", extra={
                "month": sent.month, "revision": sent.revision, "frozen": sent.frozen,
                "queued": [item.customer for item in sent.queued]})
        for month, customers in done.reminded.items():
            self.notifier.worker.wake()
            log.info("claim reminders queued", extra={"month": month, "customers": customers})
        return done

    async def _start_http(self) -> None:
        host, _, port = self.settings.http.listen.rpartition(":")
        # No access log: a query string may hold a customer link's signature.
        http = self.settings.http
        self._runner = web.AppRunner(
            make_app(self.registry, self.ready, self.web), access_log=None,
            **runner_options(http),
        )
        await self._runner.setup()
        # The header timeout and the connection cap (monitor.http.serving).
        site = CappedTCPSite(self._runner, host.strip("[]"), int(port),
                             max_connections=http.max_connections, registry=self.registry)
        await site.start()
        server = site._server  # aiohttp keeps the bound sockets there
        sockets = getattr(server, "sockets", None) or []
        self.http_port = sockets[0].getsockname()[1] if sockets else int(port)
        self.web.bound_url = f"http://{host}:{self.http_port}"

    async def ready(self) -> Readiness:
        """``/readyz``: the database takes a write within :data:`READY_TIMEOUT`, the scheduler
        runs; how many targets are monitored (zero is a warning, not unready)."""
        targets = len(self.settings.topology.targets())
        checks = {
            "database": await self.db.ping(READY_TIMEOUT),
            "scheduler": bool(self.scheduler.running),
            # Issue 13: incident changes waiting too long for the database (not lost).
            "incidents": not self.watch.journal.stuck,
        }
        if self.cluster is not None:
            checks["cluster"] = self.cluster.sure()  # our leases are certainly ours
        return Readiness(
            checks=checks,
            targets=targets,
            warnings=[] if targets else [NOTHING_MONITORED],
            cluster=self.cluster.describe() if self.cluster is not None else None,
        )

    # --- reload: prepare, then swap ------------------------------------------------------------

    async def reload(self) -> bool:
        """SIGHUP: apply a new configuration, or refuse it and keep the old one.

        systemd hears RELOADING=1 before and READY=1 after, either way; the
        STATUS= line says which.
        """
        self.systemd.reloading()
        self._refusal = "see the log"
        applied = False
        try:
            applied = await self._reload()
        finally:
            note = "configuration reloaded" if applied else f"reload refused: {self._refusal}"
            self.systemd.ready(self._status(note))
        return applied

    def _status(self, note: str = "") -> str:
        """The one-line STATUS= that ``systemctl status`` shows."""
        host = self.config.http.listen.rpartition(":")[0]
        targets = len(self.settings.topology.targets())
        text = f"monitoring {targets} targets; HTTP on {host}:{self.http_port}"
        return f"{text}; {note}" if note else text

    async def _reload(self) -> bool:
        """The reload itself: prepare, then swap."""
        if self.config_path is None:
            log.warning("reload requested but the daemon runs on embedded defaults")
            return False
        try:
            # Parsing 40,000 targets takes seconds of CPU and hundreds of MB: in a child process
            # on the other core, validated here a chunk at a time (monitor.config.isolated).
            config = await load_config_async(self.config_path)
            if config.statements.auto and not self.settings.statements.auto:
                # Turning statements.auto on: PDF must render here (RenderError refuses).
                await asyncio.to_thread(check_pdf)
            prepared = self.prepare(config)
            if self.workers is not None:
                # Each worker builds its new shard before anything is swapped (never half-applied).
                await self.workers.prepare(
                    prepared.shards, config.monitor.resolver.model_dump(mode="json")
                )
        except MonitorError as exc:
            return self._refuse(str(exc))
        except Exception as exc:  # anything unforeseen refuses too: never half-applied
            log.exception("configuration reload failed while preparing")
            return self._refuse(f"{type(exc).__name__}: {exc}")
        self.swap(prepared)
        return True

    def prepare(self, config: Config) -> Reload:
        """Build everything ``config`` needs, touching nothing that runs. Raises
        :class:`MonitorError` (a ConfigError naming the setting) when it cannot be."""
        if (config.storage != self.config.storage or config.http != self.config.http
                or config.cluster != self.config.cluster):
            raise MonitorError("storage, http and cluster settings change only with a restart")
        settings = Settings.from_config(config)
        resolver = None
        if config.monitor.resolver.nameservers != self.config.monitor.resolver.nameservers:
            resolver = self.sessions.prepare_resolver(config.monitor.resolver)
        own = settings.topology.targets()
        shards: list[list[dict[str, Any]]] = []
        if self.workers is not None:
            own, shards = self.workers.split(list(own))
        return Reload(
            settings,
            self.watch.prepare(settings),  # every new or changed probe, with its tls.ca_file
            self.notifier.prepare(settings),  # a new SMTP transport, with its secret
            [(t.id, t.probe.interval) for t in own],
            resolver,
            # Tokens and link keys are re-read: removing a line revokes it (README).
            load_tokens(settings.http, frozenset(settings.topology.customers)),
            load_link_keys(settings.http),
            shards,
        )

    def swap(self, prepared: Reload) -> None:
        """Put a prepared configuration in force; nothing here can fail half-way."""
        self.config = prepared.settings.config
        self.settings = prepared.settings
        if prepared.resolver is not None:
            self.sessions.use_resolver(prepared.resolver)
        self.notifier.apply(prepared.notifier)
        self.watch.apply(prepared.watch)
        self.schedule.set_targets(prepared.intervals)
        if self.workers is not None:
            self.workers.commit(prepared.shards)
        self.certificate_schedule.set_targets(self.watch.certificate_targets())
        self.web.settings = prepared.settings
        self.web.tokens = prepared.tokens
        self.web.links = prepared.links
        self.running_month.apply(prepared.settings)
        # A customer the reload added has its series at the next scrape, not a refresh later.
        self.scheduler.modify_job("sla-metrics", next_run_time=dt.datetime.now(dt.UTC))
        self._schedule_resolver_canary(prepared.settings)
        # The new probes and configuration live until the next reload (the module docstring);
        # what the old ones leave behind is freed by reference counting.
        gc.freeze()
        give_back_memory()
        self.metrics.config_reloads.labels("applied").inc()
        log.info(
            "configuration reloaded", extra={"targets": len(prepared.settings.topology.targets())}
        )
        self._warn_if_nothing_monitored()

    def _refuse(self, reason: str) -> bool:
        self._refusal = reason
        self.metrics.config_reloads.labels("rejected").inc()
        log.error(
            "configuration reload refused; the old one keeps running", extra={"reason": reason}
        )
        return False

    # --- stop ----------------------------------------------------------------------------------

    def request_stop(self) -> None:
        self.systemd.stopping()
        self._stopping.set()

    def _announce_ready(self) -> None:
        """READY=1 once started and the signal handlers are in place (a SIGHUP sent by
        ``systemctl reload`` right after start must find its handler); then the watchdog."""
        self.systemd.ready(self._status())
        if self.systemd.watchdog_interval is not None:
            schedule = self.schedule
            self.watchdog = Watchdog(
                self.systemd, self.systemd.watchdog_interval, lambda: schedule.ticks
            )
            self.watchdog.start()

    async def stop(self) -> None:
        if self.watchdog is not None:
            await self.watchdog.stop()
        if self.clock_steps is not None:
            await self.clock_steps.stop()
        targets = self.settings.topology.targets()
        grace = max((t.probe.timeout for t in targets), default=1.0) + 1.0
        await self.certificate_schedule.stop(grace)
        await self.schedule.stop(grace)
        if self.workers is not None:
            await self.workers.stop(grace)
        # No new runs of the periodic jobs; one already running (a flush inside its COMMIT)
        # is waited for, not cancelled, before the scheduler goes (the module docstring).
        self.scheduler.pause()
        if self._jobs_running:
            await asyncio.wait(set(self._jobs_running), timeout=JOB_STOP_GRACE)
        self.scheduler.shutdown(wait=False)
        await self.flush(everything=True)
        # Each step runs even when the one before fails (the database may be full or gone,
        # issue 13): a SIGTERM always ends in a clean exit, with the failures logged.
        await self._step("incident changes and unknown time", self.watch.close(self.clock.now()))
        await self._step("the heartbeat's last beat", self.heartbeat.stop())
        if self.cluster is not None:
            await self._step("the cluster leases handed back", self.cluster.stop())
        await self._step("the outbox", self.notifier.stop())
        if self._runner is not None:
            await self._runner.cleanup()
        await self.sessions.__aexit__(None, None, None)
        await self.db.dispose()
        log.info("daemon stopped")

    async def _step(self, what: str, step: Awaitable[None]) -> None:
        try:
            await step
        except Exception:
            log.exception(f"stopping: {what} could not be completed")

    async def serve(self) -> None:
        """Run until SIGTERM/SIGINT; SIGHUP reloads.

        The handlers are in place before :meth:`start` and stay until the very end (issue
        13): a SIGTERM while starting stops the daemon once started; a SIGHUP while
        starting (or before, :mod:`monitor.early`) reloads once started; a SIGHUP while
        stopping is logged and ignored. Reloads run one at a time, and a SIGHUP during a
        reload asks for one more after it, which reads the file as it is then: after a
        storm of SIGHUPs the last configuration written is the one in force.
        """
        loop = asyncio.get_running_loop()
        self._reload_wanted = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)
        if signal.SIGHUP in early.take():
            self._reload_wanted.set()
        try:
            await self.start()
        except BaseException:
            self._remove_handlers(loop)
            raise
        reloader = loop.create_task(self._reloader(), name="reloader")
        try:
            if not self._stopping.is_set():
                self._announce_ready()
            await self._stopping.wait()
        finally:
            reloader.cancel()  # a reload being prepared changes nothing until its swap
            await asyncio.gather(reloader, return_exceptions=True)
            try:
                await self.stop()
            finally:
                self._remove_handlers(loop)
                self.systemd.close()

    def _on_hup(self) -> None:
        if self._stopping.is_set():
            log.warning("SIGHUP ignored: the daemon is stopping")
            return
        self._reload_wanted.set()

    async def _reloader(self) -> None:
        while True:
            await self._reload_wanted.wait()
            self._reload_wanted.clear()
            await self.reload()

    def _remove_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the last instants before exit

