"""The daemon's one handle on the e-mail duties: :class:`Notifier`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from monitor.actions.links import LinkKeys
from monitor.clock import Clock
from monitor.config.settings import Settings
from monitor.notify.channels import Channel, OperatorChannels, channels_of
from monitor.notify.duties import Duties
from monitor.notify.maintenance import on_maintenance_cancelled, on_maintenance_created
from monitor.notify.metrics import NotifyMetrics
from monitor.notify.outbox import OutboxWorker
from monitor.notify.sending import Backoff, Envelope
from monitor.notify.smtp import MaildirTransport, SMTPTransport, Transport
from monitor.notify.subscribers import queue_subscriber_notices, subscription_keys
from monitor.notify.tracking import DutyCheck, DutyTracker
from monitor.notify.webhook import WebhookRelay, WebhookTarget
from monitor.store import maintenance, outbox, state_directory
from monitor.store.outbox import MessageState, QueuedMessage

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = ["Notifier", "NotifierPlan", "build_transport"]


def build_transport(settings: Settings) -> Transport:
    """SMTP when configured (the password is read here, once), else the local Maildir."""
    if settings.smtp is not None:
        return SMTPTransport.from_config(settings.smtp)
    maildir = settings.config.maildir
    return MaildirTransport(Path(maildir) if maildir else state_directory() / "Maildir")


@dataclass(frozen=True)
class NotifierPlan:
    """A configuration the notifier can switch to without failing (:meth:`Notifier.prepare`)."""

    settings: Settings
    envelope: Envelope
    transport: Transport | None  # None: keep the current one
    webhook: WebhookTarget | None  # None: no webhook configured
    channels: tuple[Channel, ...]  # the operators' channels (operators.notify)
    subscription_keys: LinkKeys | None = None  # sign the status page's subscribers' links


class Notifier:
    """Outage, recovery and maintenance e-mail, the outbox worker, and the D-2/D-3 duty checks.

    ::

        notifier = Notifier(settings, db, SystemClock(), registry)
        await notifier.start()                     # reads the SMTP secret; starts the worker
        await notifier.on_incident_opened(incident.id)
        await notifier.check_duties()              # periodically, e.g. every minute
        await notifier.on_incident_closed(incident.id)
        await notifier.stop()                      # in-flight sends finish first

    ``transport`` replaces the configured one (tests, the demo). ``backoff``,
    ``poll_interval``, ``lease`` and ``probe_interval`` (how often an unreachable SMTP
    server is probed) tune the worker; ``lookback`` is how far back
    past a deadline incidents and windows are still checked.
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
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
        probe_interval: float = 15.0,
        webhook_interval: float = 5.0,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.metrics = NotifyMetrics(registry)
        self.envelope = Envelope.of(settings)
        self.duties = Duties(settings, db, clock, self.metrics, self.envelope, self._wake)
        self.tracker = DutyTracker(self.duties, since=clock.now(), lookback=lookback)
        self.lookback = lookback
        # The status page's subscribers' links are signed with the link keys.
        self.subscription_keys = (subscription_keys(settings)
                                  if settings.status_page.subscriptions else None)
        self._transport = transport
        self._worker: OutboxWorker | None = None
        smtp_timeout = settings.smtp.timeout if settings.smtp is not None else 30.0
        self._backoff = backoff or Backoff()
        self._poll_interval = poll_interval
        # A lease must outlive the slowest send, or a message could be sent twice.
        self._lease = lease if lease is not None else max(300.0, 6 * smtp_timeout)
        self._concurrency = concurrency
        self._batch_size = batch_size
        self._probe_interval = probe_interval
        self.webhook = WebhookRelay(
            db,
            clock,
            self.metrics,
            None,
            smtp_unreachable_since=self._smtp_unreachable_since,
            interval=webhook_interval,
        )
        self.channels = OperatorChannels(db, clock, self.metrics, interval=webhook_interval)

    @property
    def worker(self) -> OutboxWorker:
        """The outbox worker; created (and the transport built) on first use."""
        if self._worker is None:
            transport = self._transport or build_transport(self.settings)
            self._worker = OutboxWorker(
                self.db,
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
                probe_interval=self._probe_interval,
            )
        return self._worker

    async def start(self) -> None:
        """Build the transport and the webhook target (a missing secret raises ConfigError
        here) and start sending."""
        webhook = self.settings.config.webhook
        self.webhook.target = WebhookTarget.from_config(webhook) if webhook else None
        operators = self.settings.config.operators
        self.channels.use(channels_of(operators), operators.timeout)
        await self.worker.refresh_depth()
        await self.worker.start()
        await self.webhook.start()
        await self.channels.start()

    async def stop(self) -> None:
        if self._worker is not None:
            await self._worker.stop()
        await self.webhook.stop()
        await self.channels.stop()

    def _smtp_unreachable_since(self) -> dt.datetime | None:
        return None if self._worker is None else self._worker.unreachable_since

    @property
    def transport(self) -> Transport | None:
        """What the worker sends through (None until it is built)."""
        return None if self._worker is None else self._worker.courier.transport

    async def on_incident_opened(self, incident_id: int) -> None:
        """One outage e-mail per affected eligible customer, and the operators' copy (R-N1);
        then the status page's subscribers' notices."""
        await self.duties.on_incident_opened(incident_id)
        await self.queue_subscriber_notices()

    async def on_incident_closed(self, incident_id: int) -> None:
        """A recovery e-mail, with the measured duration, to each customer told of the
        outage; then the status page's subscribers' notices."""
        await self.duties.on_incident_closed(incident_id)
        await self.queue_subscriber_notices()

    async def on_incident_reopened(self, incident_id: int) -> None:
        """The incident failed again within the flap window (R-M1): a "restored again"
        e-mail still waiting is withdrawn (:meth:`Duties.on_incident_reopened`)."""
        await self.duties.on_incident_reopened(incident_id)

    async def queue_subscriber_notices(self) -> int:
        """The notices the status page's confirmed subscribers are owed and have not been
        queued (:mod:`monitor.notify.subscribers`); how many were new."""
        added = await queue_subscriber_notices(self.settings, self.db, self.clock,
                                               keys=self.subscription_keys,
                                               lookback=self.lookback)
        if added:
            self._wake()
        return added

    async def on_maintenance_created(self, window_id: int) -> None:
        """Notices to technical contacts (D-3); operators warned when under 48 h ahead (R-EX1)."""
        await on_maintenance_created(self.duties, window_id)

    async def queue_new_windows(self) -> int:
        """D-3 for windows recorded or called off elsewhere (``sla-monitor maintenance
        add``, ``cancel``): each window that has not ended and has neither a queued notice
        nor a recorded one gets its notices now; each customer a cancelled window's notice
        reached, its cancellation. Returns how many windows were handled."""
        now = self.clock.now()
        async with self.db.reading() as tx:
            pending = await maintenance.without_notice(tx, now)
            cancelled = await maintenance.cancellations_owed(tx, now)
        for window_id in pending:
            await self.on_maintenance_created(window_id)
        for window_id, customers in cancelled.items():
            await on_maintenance_cancelled(self.duties, window_id, customers)
        # Subscribers: new windows, and the operators' updates posted by the CLI or the API.
        await self.queue_subscriber_notices()
        return len(pending) + len(cancelled)

    def prepare(self, settings: Settings) -> NotifierPlan:
        """Everything a reloaded configuration needs that can fail, before anything changes:
        a new SMTP secret is read here (ConfigError if it cannot be)."""
        transport = None
        if self._transport is None and self._worker is not None:
            transport = build_transport(settings)
        webhook = settings.config.webhook
        target = WebhookTarget.from_config(webhook) if webhook is not None else None
        keys = subscription_keys(settings) if settings.status_page.subscriptions else None
        return NotifierPlan(settings, Envelope.of(settings), transport, target,
                            channels_of(settings.config.operators), keys)

    def apply(self, plan: NotifierPlan) -> None:
        """Switch to a prepared configuration (SIGHUP); cannot fail. Customers, contacts,
        operators, policy, zone and SMTP settings apply to what is queued and sent from now
        on; queued messages keep their recipients and text."""
        self.settings = plan.settings
        self.envelope = plan.envelope
        self.duties.configure(plan.settings, plan.envelope)
        self.subscription_keys = plan.subscription_keys
        if self._worker is not None:
            self._worker.use(plan.transport, plan.envelope)
        self.webhook.target = plan.webhook
        self.channels.use(plan.channels, plan.settings.config.operators.timeout)

    def reconfigure(self, settings: Settings) -> None:
        """:meth:`prepare` then :meth:`apply`: a missing secret raises and changes nothing."""
        self.apply(self.prepare(settings))

    async def check_duties(self, now: dt.datetime | None = None) -> DutyCheck:
        """D-2/D-3: at-risk alerts, breach counts, and re-queueing of lost outage e-mails."""
        result = await self.tracker.check(now or self.clock.now())
        if self._worker is not None:
            await self._worker.refresh_depth()
        return result

    async def send_now(self, dedupe_keys: list[str], *, within: float = 60.0,
                       progress: Callable[[int, int], None] | None = None,
                       ) -> list[QueuedMessage]:
        """Send these queued messages now (``statement send``), waiting for those the
        daemon's worker holds; returns them as they then stand (``progress(done, total)``
        told as they go)."""
        return await self.worker.send_now(dedupe_keys, within=within, progress=progress)

    async def messages(self, dedupe_keys: list[str]) -> list[MessageState]:
        """Where the queued messages of these dedupe keys stand (read only)."""
        return await self.db.run(lambda tx: outbox.states(tx, dedupe_keys), readonly=True)

    async def run_once(self) -> int:
        """Send what is due now, without the background worker; returns messages attempted."""
        return await self.worker.run_once()

    def _wake(self) -> None:
        if self._worker is not None:
            self._worker.wake()
        self.webhook.wake()
        self.channels.wake()
