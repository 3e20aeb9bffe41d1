"""The daemon's one handle on the e-mail duties: :class:`Notifier`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.clock import Clock
from monitor.config.schema import Config
from monitor.config.topology import Topology
from monitor.notify.duties import Duties
from monitor.notify.maintenance import on_maintenance_created
from monitor.notify.metrics import NotifyMetrics
from monitor.notify.outbox import Backoff, OutboxWorker
from monitor.notify.sending import Envelope
from monitor.notify.smtp import MaildirTransport, SMTPTransport, Transport
from monitor.notify.tracking import DutyCheck, DutyTracker
from monitor.store.db import state_directory
from monitor.store.models import MaintenanceNotice, MaintenanceWindow, OutboxMessage

__all__ = ["MAILDIR_SENDER", "Notifier", "build_transport"]

# Without SMTP there is no real sender; the Maildir copy still needs a From.
MAILDIR_SENDER = "sla-monitor@localhost"


def build_transport(config: Config) -> Transport:
    """SMTP when configured (the password is read here, once), else the local Maildir."""
    if config.smtp is not None:
        return SMTPTransport.from_config(config.smtp)
    return MaildirTransport(
        Path(config.maildir) if config.maildir else state_directory() / "Maildir"
    )


def _envelope(config: Config) -> Envelope:
    sender = config.smtp.sender if config.smtp is not None else MAILDIR_SENDER
    return Envelope(sender=sender, sender_name=config.provider.name)


class Notifier:
    """Outage, recovery and maintenance e-mail, the outbox worker, and the D-2/D-3 duty checks.

    ::

        notifier = Notifier(config, topology, session_factory(engine), SystemClock(), registry)
        await notifier.start()                     # reads the SMTP secret; starts the worker
        await notifier.on_incident_opened(incident.id)
        await notifier.check_duties()              # periodically, e.g. every minute
        await notifier.on_incident_closed(incident.id)
        await notifier.stop()                      # in-flight sends finish first

    ``transport`` replaces the configured one (tests, the demo). ``backoff``,
    ``poll_interval`` and ``lease`` tune the worker; ``lookback`` is how far back
    past a deadline incidents and windows are still checked.
    """

    def __init__(
        self,
        config: Config,
        topology: Topology,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        registry: CollectorRegistry,
        transport: Transport | None = None,
        *,
        backoff: Backoff | None = None,
        poll_interval: float = 2.0,
        lease: float | None = None,
        concurrency: int = 4,
        batch_size: int = 20,
        lookback: float = 86400.0,
    ) -> None:
        self.config = config
        self.clock = clock
        self.metrics = NotifyMetrics(registry)
        self.envelope = _envelope(config)
        self.duties = Duties(
            config, topology, session_factory, clock, self.metrics, self.envelope, self._wake
        )
        self.tracker = DutyTracker(self.duties, since=clock.now(), lookback=lookback)
        self._sessions = session_factory
        self._transport = transport
        self._worker: OutboxWorker | None = None
        smtp_timeout = config.smtp.timeout if config.smtp is not None else 30.0
        self._backoff = backoff or Backoff()
        self._poll_interval = poll_interval
        # A lease must outlive the slowest send, or a message could be sent twice.
        self._lease = lease if lease is not None else max(300.0, 6 * smtp_timeout)
        self._concurrency = concurrency
        self._batch_size = batch_size

    @property
    def worker(self) -> OutboxWorker:
        """The outbox worker; created (and the transport built) on first use."""
        if self._worker is None:
            transport = self._transport or build_transport(self.config)
            self._worker = OutboxWorker(
                self._sessions,
                transport,
                self.clock,
                self.metrics,
                self.duties,
                self.envelope,
                backoff=self._backoff,
                poll_interval=self._poll_interval,
                lease=self._lease,
                concurrency=self._concurrency,
                batch_size=self._batch_size,
            )
        return self._worker

    async def start(self) -> None:
        """Build the transport (a missing SMTP secret raises ConfigError here) and start sending."""
        await self.worker.refresh_depth()
        await self.worker.start()

    async def stop(self) -> None:
        if self._worker is not None:
            await self._worker.stop()

    async def on_incident_opened(self, incident_id: int) -> None:
        """One outage e-mail per affected eligible customer, and the operators' copy (R-N1)."""
        await self.duties.on_incident_opened(incident_id)

    async def on_incident_closed(self, incident_id: int) -> None:
        """A recovery e-mail, with the measured duration, to each customer told of the outage."""
        await self.duties.on_incident_closed(incident_id)

    async def on_maintenance_created(self, window_id: int) -> None:
        """Notices to technical contacts (D-3); operators warned when under 48 h ahead (R-EX1)."""
        await on_maintenance_created(self.duties, window_id)

    async def queue_new_windows(self) -> int:
        """D-3 for windows recorded elsewhere (``sla-monitor maintenance add``): each window
        that has not ended and has neither a queued notice nor a recorded one gets its
        notices now. Returns how many windows were handled."""
        now = self.clock.now()
        async with self._sessions() as session:
            pending = list(
                (
                    await session.execute(
                        select(MaintenanceWindow.id)
                        .where(
                            MaintenanceWindow.end > now,
                            MaintenanceWindow.cancelled_at.is_(None),
                            MaintenanceWindow.id.not_in(
                                select(OutboxMessage.window_id).where(
                                    OutboxMessage.window_id.is_not(None)
                                )
                            ),
                            MaintenanceWindow.id.not_in(select(MaintenanceNotice.window_id)),
                        )
                        .order_by(MaintenanceWindow.id)
                    )
                ).scalars()
            )
        for window_id in pending:
            await self.on_maintenance_created(window_id)
        return len(pending)

    def reconfigure(self, config: Config, topology: Topology) -> None:
        """A reloaded configuration (SIGHUP): customers, contacts, operators, policy, zone and
        SMTP settings apply to what is queued and sent from now on; queued messages keep their
        recipients and text. A new SMTP secret is read here: if it cannot be, ConfigError is
        raised and nothing changes."""
        transport = None
        if self._transport is None and self._worker is not None:
            transport = build_transport(config)
        self.config = config
        self.envelope = _envelope(config)
        self.duties.configure(config, topology, self.envelope)
        if self._worker is not None:
            self._worker.envelope = self.envelope
            if transport is not None:
                self._worker.transport = transport

    async def check_duties(self, now: dt.datetime | None = None) -> DutyCheck:
        """D-2/D-3: at-risk alerts, breach counts, and re-queueing of lost outage e-mails."""
        result = await self.tracker.check(now or self.clock.now())
        if self._worker is not None:
            await self._worker.refresh_depth()
        return result

    async def run_once(self) -> int:
        """Send what is due now, without the background worker; returns messages attempted."""
        return await self.worker.run_once()

    def _wake(self) -> None:
        if self._worker is not None:
            self._worker.wake()
