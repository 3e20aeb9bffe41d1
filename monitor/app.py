"""The daemon, wired in one place: what ``sla-monitor run`` starts, in order.

    config ─► Settings (Topology, engine Policy) ─► Watch (probes ─► detector) ─► store
                                                       └─► Notifier (outbox, duties)
    Recorder (probe history), Heartbeat (R-M3)          HTTP: /metrics /healthz /readyz
    APScheduler: probe tick (50 ms slots), certificate tick, heartbeat, history flush,
                 duty checks (new maintenance windows, D-2 at-risk alerts)

Start-up fails fast on a bad configuration or an unreachable database.
SIGTERM/SIGINT stop cleanly: no new probes, running ones finish or are cut at
their timeout, the history is flushed, the session is closed.

SIGHUP reloads the configuration as **prepare, then swap**: the file is parsed
off the event loop, then everything the new configuration needs is built
(settings, every new or changed probe with its ``tls.ca_file``, the SMTP
transport with its secret, the schedules' targets) before anything running is
touched. Any error refuses the reload and the old configuration stays fully
in force; only then are the pieces swapped in, which cannot fail. Added,
changed and removed targets take effect without losing detector state.
Under systemd (``Type=notify``) the daemon reports READY/RELOADING/STOPPING and
feeds the watchdog (:mod:`monitor.daemon.systemd`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from monitor import early
from monitor.clock import Clock, SteadyClock
from monitor.config import Config, Settings, load_config
from monitor.daemon.clocksteps import ClockSteps
from monitor.daemon.heartbeat import Heartbeat
from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.recorder import Recorder
from monitor.daemon.scheduler import ProbeSchedule
from monitor.daemon.systemd import SystemdNotifier, Watchdog
from monitor.daemon.watch import Watch, WatchPlan
from monitor.errors import MonitorError
from monitor.http import make_app
from monitor.notify import Notifier, NotifierPlan
from monitor.notify.smtp import Transport
from monitor.probes import ProbeSessions, build_certificate_check, build_probe
from monitor.store import Database

log = logging.getLogger("monitor.daemon")

DUTY_CHECK_INTERVAL = 30.0  # seconds; the D-2 warning comes 30 min before a 2 h deadline


@dataclass(frozen=True)
class Reload:
    """A new configuration, built and checked, ready to swap in."""

    settings: Settings
    watch: WatchPlan
    notifier: NotifierPlan
    intervals: list[tuple[str, float]]


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

    async def start(self) -> None:
        settings = self.settings = Settings.from_config(self.config)
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
        self.heartbeat = Heartbeat(self.db, self.clock, settings.monitor.unknown_after)
        await self.heartbeat.start()
        self.recorder = Recorder(self.db, dropped=self.metrics.results_dropped)
        await self.recorder.load()
        self.sessions = ProbeSessions(settings.monitor.max_concurrency, clock=self.clock)
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
        )
        await self.watch.load_state()
        self.scheduler = AsyncIOScheduler(timezone=dt.UTC)
        self.scheduler.start()
        # Due times on the daemon's steady clock: a wall-clock step moves no probe (issue 13).
        def wall() -> float:
            return self.clock.now().timestamp()

        self.schedule = ProbeSchedule(
            self.scheduler, self.watch.run_probe, self.metrics, self.slot, wall=wall
        )
        self.schedule.set_targets(_intervals(settings))
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
        self._every(self.flush_interval, self.flush, "flush")
        self._every(DUTY_CHECK_INTERVAL, self.check_duties, "duties")
        self.clock_steps: ClockSteps | None = None
        if isinstance(self.clock, SteadyClock):  # a FakeClock in tests never steps
            self.clock_steps = ClockSteps(self.clock, self.metrics, self._clock_stepped)
            await self.clock_steps.start()
        await self._start_http()
        log.info(
            "daemon started",
            extra={"targets": len(settings.topology.targets()), "http_port": self.http_port},
        )

    def _every(self, seconds: float, job: Any, job_id: str) -> None:
        self.scheduler.add_job(
            job,
            IntervalTrigger(seconds=seconds),
            id=job_id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )

    def _clock_stepped(self, step: float) -> None:
        """APScheduler times its jobs by the wall clock: after a step, each is due now and
        then every interval from there (a step back would hold them for its length)."""
        now = dt.datetime.now(dt.UTC)
        for job in self.scheduler.get_jobs():
            job.modify(next_run_time=now)
        self.scheduler.wakeup()

    async def _beat(self) -> None:
        try:
            beat = await self.heartbeat.beat()
            self.metrics.heartbeat.set(beat.timestamp())
        except Exception:
            log.exception("heartbeat failed")

    async def flush(self) -> None:
        try:
            self.metrics.flush_rows.inc(await self.recorder.flush())
        except Exception:
            self.metrics.flush_errors.inc()
            log.exception("probe history flush failed; kept for the next one")

    async def check_duties(self) -> None:
        """D-2 and D-3: notices for new maintenance windows, at-risk alerts, breaches."""
        try:
            await self.notifier.queue_new_windows()
            await self.notifier.check_duties()
        except Exception:
            log.exception("duty check failed; tried again at the next one")

    async def _start_http(self) -> None:
        host, _, port = self.settings.http.listen.rpartition(":")
        self._runner = web.AppRunner(make_app(self.registry, self.ready), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host.strip("[]"), int(port))
        await site.start()
        server = site._server  # aiohttp keeps the bound sockets there
        sockets = getattr(server, "sockets", None) or []
        self.http_port = sockets[0].getsockname()[1] if sockets else int(port)

    async def ready(self) -> dict[str, bool]:
        return {
            "database": await self.db.ping(),
            "scheduler": bool(self.scheduler.running),
            # Issue 13: incident changes waiting too long for the database (not lost).
            "incidents": not self.watch.journal.stuck,
        }

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
            # Parsing 20,000 targets takes seconds: never on the event loop that probes.
            config = await asyncio.to_thread(load_config, self.config_path)
            prepared = self.prepare(config)
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
        if config.storage != self.config.storage or config.http != self.config.http:
            raise MonitorError("storage and http settings change only with a restart")
        settings = Settings.from_config(config)
        return Reload(
            settings,
            self.watch.prepare(settings),  # every new or changed probe, with its tls.ca_file
            self.notifier.prepare(settings),  # a new SMTP transport, with its secret
            _intervals(settings),
        )

    def swap(self, prepared: Reload) -> None:
        """Put a prepared configuration in force; nothing here can fail half-way."""
        self.config = prepared.settings.config
        self.settings = prepared.settings
        self.notifier.apply(prepared.notifier)
        self.watch.apply(prepared.watch)
        self.schedule.set_targets(prepared.intervals)
        self.certificate_schedule.set_targets(self.watch.certificate_targets())
        self.metrics.config_reloads.labels("applied").inc()
        log.info(
            "configuration reloaded", extra={"targets": len(prepared.settings.topology.targets())}
        )

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
        self.scheduler.shutdown(wait=False)
        await self.flush()
        # Each step runs even when the one before fails (the database may be full or gone,
        # issue 13): a SIGTERM always ends in a clean exit, with the failures logged.
        await self._step("incident changes and unknown time", self.watch.close(self.clock.now()))
        await self._step("the heartbeat's last beat", self.heartbeat.stop())
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


def _intervals(settings: Settings) -> list[tuple[str, float]]:
    return [(t.id, t.probe.interval) for t in settings.topology.targets()]
