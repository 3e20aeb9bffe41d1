"""The daemon, wired in one place: what ``sla-monitor run`` starts, in order.

    config ─► Settings ─► build_runtime ─► Runtime (monitor.daemon.runtime): its parts
    store ─ HTTP edge ─ Notifier ─ ownership (alone | probe workers | cluster leases)
    ─ Heartbeat ─ Recorder ─ Watch (probes ─► detector ─► journal) ─ Jobs (the job table,
    monitor.daemon.routine) ─ probe schedules ─ clock steps ─ SLA metrics

:class:`Daemon` is the runtime with signals, systemd notifications and reloads around it.
Start-up fails fast on a bad configuration or an unreachable database, and stops whatever
it started before the step that failed. SIGTERM/SIGINT stop cleanly: no new probes,
running ones finish or are cut at their timeout; the periodic jobs are paused and a flush
(or any job) already running is waited for, never cancelled (a flush cancelled inside its
COMMIT would leave the recorder believing it failed while the rows were written); then the
history is flushed and the session closed.

SIGHUP reloads the configuration as **prepare, then apply**: the file is parsed off the
event loop, then every part prepares what the new configuration needs (settings, every new
or changed probe with its ``tls.ca_file``, the SMTP transport with its secret, the
schedules' targets, the probe workers' shards, the API tokens and link keys re-read) before
anything running is touched. Any error refuses the reload and the old configuration stays
fully in force; only then does every part apply its plan, which cannot fail. Added, changed
and removed targets take effect without losing detector state. Under systemd
(``Type=notify``) the daemon reports READY/RELOADING/STOPPING and feeds the watchdog
(:mod:`monitor.daemon.systemd`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from monitor import actions, early
from monitor.clock import Clock, SteadyClock
from monitor.config import Config, Settings
from monitor.config.isolated import load_config_async
from monitor.daemon import routine
from monitor.daemon.loop import running_loop_name
from monitor.daemon.runtime import NOTHING_MONITORED, READY_TIMEOUT, Options, Runtime, build_runtime
from monitor.daemon.systemd import SystemdNotifier, Watchdog
from monitor.errors import MonitorError
from monitor.notify.smtp import Transport
from monitor.store import error_line

log = logging.getLogger(__name__)

__all__ = ["NOTHING_MONITORED", "READY_TIMEOUT", "Daemon"]


def _part(name: str) -> Any:
    """A part of the running daemon's runtime, read through the daemon (tests, the demo)."""
    return property(lambda daemon: getattr(daemon.runtime, name), doc=f"The runtime's {name}.")


class Daemon:
    """``sla-monitor run``: a runtime (:mod:`monitor.daemon.runtime`) with signals, systemd
    notifications and reloads around it."""

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
        self.config_path = config_path
        self._config = config
        self._stopping = asyncio.Event()
        self.options = Options(
            clock=clock or SteadyClock(), registry=registry or CollectorRegistry(),
            flush_interval=flush_interval, slot=slot, transport=transport,
            notifier_options=notifier_options or {}, stopping=self._stopping,
        )
        self.clock = self.options.clock
        self.registry = self.options.registry
        self.systemd = SystemdNotifier.from_environment()  # a no-op outside systemd
        self.watchdog: Watchdog | None = None
        self._refusal = "see the log"
        self._runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        assert self._runtime is not None, "start() first"
        return self._runtime

    @property
    def config(self) -> Config:
        return self._runtime.config if self._runtime is not None else self._config

    settings = _part("settings")
    db = _part("db")
    metrics = _part("metrics")
    notifier = _part("notifier")
    heartbeat = _part("heartbeat")
    recorder = _part("recorder")
    retention = _part("retention")
    sessions = _part("sessions")
    watch = _part("watch")
    schedule = _part("schedule")
    certificate_schedule = _part("certificate_schedule")
    clock_steps = _part("clock_steps")
    running_month = _part("running_month")
    sla_metrics = _part("sla_metrics")
    web = _part("web")

    @property
    def workers(self) -> Any:
        return self.runtime.ownership.workers

    @property
    def scheduler(self) -> Any:
        return self.runtime.jobs.scheduler

    @property
    def http_port(self) -> int | None:
        return self._runtime.edge.port if self._runtime is not None else None

    async def start(self) -> None:
        """Build the runtime, then start its parts in order (a failure stops those started)."""
        runtime = self._runtime = build_runtime(Settings.from_config(self._config), self.options)
        runtime.clock_stepped = self._clock_stepped  # type: ignore[method-assign]
        await runtime.start()
        log.info("daemon started", extra={
            "targets": len(runtime.settings.topology.targets()),
            "probe_workers": runtime.ownership.processes, "http_port": self.http_port,
            "event_loop": running_loop_name()})
        self._warn_about_configuration()

    def _clock_stepped(self, step: float) -> None:
        self.runtime.jobs.due_now()

    def _warn_about_configuration(self) -> None:
        self.runtime.warn_about_configuration(self.config_path)

    async def flush(self, everything: bool = False) -> None:
        """Write the probe history that is due (at stop: ``everything``)."""
        await routine.flush(self.runtime, everything)

    async def check_statements(self) -> actions.AutoStatements | None:
        """One run of the ``statements`` job (``statements.auto``; in a cluster, the leader)."""
        if "statements" not in self.runtime.jobs.table:
            return None
        done: actions.AutoStatements | None = await self.runtime.jobs.run_now("statements")
        return done

    # --- reload: prepare, then apply -------------------------------------------------------------

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
            # The file is the daemon's own: its path would only push the reason past
            # the STATUS= line's length.
            reason = self._refusal.removeprefix(f"{self.config_path}: ")
            note = "configuration reloaded" if applied else f"reload refused: {reason}"
            self.systemd.ready(self._status(note))
        return applied

    def _status(self, note: str = "") -> str:
        """The one-line STATUS= that ``systemctl status`` shows."""
        host = self.config.http.listen.rpartition(":")[0]
        targets = len(self.settings.topology.targets())
        text = f"monitoring {targets} targets; HTTP on {host}:{self.http_port}"
        return f"{text}; {note}" if note else text

    async def _reload(self) -> bool:
        """The reload itself: every part prepares, then every part applies."""
        if self.config_path is None:
            log.warning("reload requested but the daemon runs on embedded defaults")
            return False
        try:
            # Parsing 40,000 targets takes seconds of CPU and hundreds of MB: in a child process
            # on the other core, validated here a chunk at a time (monitor.config.isolated).
            config = await load_config_async(self.config_path)
            plan = await self.runtime.prepare(config)
        except MonitorError as exc:
            return self._refuse(str(exc))
        except Exception as exc:  # anything unforeseen refuses too: never half-applied
            log.exception("configuration reload failed while preparing")
            return self._refuse(f"{type(exc).__name__}: {exc}")
        self.runtime.apply(plan)
        self.metrics.config_reloads.labels("applied").inc()
        log.info("configuration reloaded", extra={"targets": len(plan.settings.topology.targets())})
        try:
            await self.runtime.end_removed_incidents()
        except Exception as exc:  # in force already; the next heartbeat that reaches the
            # database ends them, at this reload's time (Runtime.end_removed_incidents)
            log.warning("open incidents of removed targets not ended now; ended at the "
                        "reload's time once the database answers again",
                        extra={"error": error_line(exc)})
        self._warn_about_configuration()
        return True

    def _refuse(self, reason: str) -> bool:
        self._refusal = reason
        self.metrics.config_reloads.labels("rejected").inc()
        log.error(
            "configuration reload refused; the old one keeps running", extra={"reason": reason}
        )
        return False

    # --- stop ----------------------------------------------------------------------------------

    def request_stop(self, signum: int) -> None:
        if not self._stopping.is_set():  # said at once: what is in flight finishes first
            log.info("stopping", extra={"signal": signal.Signals(signum).name})
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
        """Every part stopped in the reverse order of its start (monitor.daemon.runtime)."""
        if self.watchdog is not None:
            await self.watchdog.stop()
        if self._runtime is not None:  # a start that failed has already unwound itself
            await self._runtime.stop()
        log.info("daemon stopped")

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
        loop.add_signal_handler(signal.SIGTERM, self.request_stop, signal.SIGTERM)
        loop.add_signal_handler(signal.SIGINT, self.request_stop, signal.SIGINT)
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

