"""Claimed outbox messages through one transport connection, each outcome committed at once (D-2).

:class:`Courier` sends a batch in order and commits every outcome right after
the transport returns, before the next message is sent: acceptance
(``accepted_at``, the server's reply, each recipient's result, and through the
:class:`OutboxHooks` the ``notifications`` / ``maintenance_notices`` evidence), a
retry time, or a final failure. The outbox worker (:mod:`monitor.notify.outbox`)
claims the batches and hands them here; this module knows nothing of it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from monitor.clock import Clock
from monitor.errors import NotifyError, PermanentNotifyError
from monitor.notify.messages import build_email
from monitor.notify.metrics import NotifyMetrics
from monitor.notify.smtp import Delivery, RecipientsRefused, Transport, classify
from monitor.present import format_duration
from monitor.store import outbox as stored
from monitor.store.outbox import QueuedMessage

if TYPE_CHECKING:
    from monitor.config import Settings
    from monitor.store import Database, Tx

__all__ = ["Backoff", "Courier", "Envelope", "OutboxHooks"]

log = logging.getLogger("monitor.notify")


@dataclass(frozen=True)
class Envelope:
    """Who the mail is from: ``sender`` (envelope and From) and the display name."""

    sender: str
    sender_name: str

    @classmethod
    def of(cls, settings: Settings) -> Envelope:
        """The provider's mail identity: ``settings.sender`` (with SMTP or without) and its
        name. The one place every kind of e-mail takes its From from."""
        return cls(sender=settings.sender, sender_name=settings.provider.name)

    @property
    def domain(self) -> str:
        return self.sender.rpartition("@")[2] or "localhost"


@dataclass(frozen=True)
class Backoff:
    """Retry delays: ``initial × 2^(attempt-1)``, ± ``jitter``, capped at ``maximum``.

    After ``give_up_after`` seconds since the message was written, a transient
    failure is final. Tests use short values.

    >>> [Backoff(jitter=0).delay(n) for n in (1, 2, 3, 6, 7)]
    [30.0, 60.0, 120.0, 900.0, 900.0]
    """

    initial: float = 30.0
    maximum: float = 900.0
    jitter: float = 0.2
    give_up_after: float = 3 * 86400.0

    def delay(self, attempt: int) -> float:
        base = self.initial * 2.0 ** min(max(attempt - 1, 0), 30)
        spread = random.uniform(-self.jitter, self.jitter)  # noqa: S311  (spreading retries, not crypto)
        return max(0.0, min(self.maximum, base * (1 + spread)))


class OutboxHooks(Protocol):
    """What an accepted or given-up message means to the duties (see :mod:`monitor.notify.duties`).
    Both run inside the transaction that records the outcome."""

    async def on_accepted(self, tx: Tx, message: QueuedMessage, accepted_at: dt.datetime) -> None: ...

    async def on_failed(self, tx: Tx, message: QueuedMessage) -> None: ...


class Courier:
    """Sends claimed messages and records each outcome; ``retry_for`` is how long a commit is
    retried while the database is locked or away (an outcome must not be lost)."""

    def __init__(
        self,
        db: Database,
        transport: Transport,
        envelope: Envelope,
        clock: Clock,
        metrics: NotifyMetrics,
        hooks: OutboxHooks,
        backoff: Backoff,
        retry_for: float,
    ) -> None:
        self.db = db
        self.transport = transport
        self.envelope = envelope
        self.clock = clock
        self.metrics = metrics
        self.hooks = hooks
        self.backoff = backoff
        self.retry_for = retry_for

    async def release(self, ids: Sequence[int], at: dt.datetime, reason: str | None = None) -> None:
        """Hand claimed rows that were not attempted back, due at ``at`` (attempts unchanged)."""
        if ids:
            await self.db.run(
                lambda tx: stored.release(tx, ids, at, reason), retry_for=self.retry_for
            )

    async def send(
        self, batch: Sequence[QueuedMessage], *, stopping: Callable[[], bool]
    ) -> list[int]:
        """Send ``batch`` in order; returns the ids attempted (the rest were handed back).
        When ``stopping()`` turns true, what is not yet attempted is handed back at once."""
        attempted: list[int] = []
        async with self.transport.connect() as connection:
            for index, row in enumerate(batch):
                rest = [later.id for later in batch[index + 1 :]]
                if stopping():
                    await self.release([row.id, *rest], self.clock.now())
                    return attempted
                attempted.append(row.id)
                self.metrics.send_attempts.inc()
                try:
                    message = build_email(
                        sender=self.envelope.sender,
                        sender_name=self.envelope.sender_name,
                        recipients=row.recipients,
                        subject=row.subject,
                        text=row.body_text,
                        html=row.body_html,
                        message_id=row.message_id,
                        date=row.created_at,
                        kind=row.kind,
                        in_reply_to=row.in_reply_to,
                        attachments=row.attachments,
                    )
                    delivery = await connection.send(message, self.envelope.sender, row.recipients)
                except Exception as exc:
                    error = classify(exc)
                    retry_at = await self._record_failure(row, error)
                    if connection.broken:
                        # The server is unreachable: wait with this message rather than try each.
                        reason = f"not attempted: the message before it failed ({error})"
                        await self.release(rest, retry_at or self.clock.now(), reason[:2000])
                        return attempted
                else:
                    await self._record_acceptance(row, delivery)
        return attempted

    async def _record_acceptance(self, claimed: QueuedMessage, delivery: Delivery) -> None:
        accepted_at = self.clock.now()

        async def work(tx: Tx) -> bool:
            recorded = await stored.mark_sent(
                tx,
                claimed.id,
                accepted_at=accepted_at,
                response=delivery.response[:2000],
                error=_summary(delivery.refused) or None,
            )
            if not recorded:
                return False
            await stored.add_recipients(tx, claimed.id, claimed.recipients, delivery.refused)
            await self.hooks.on_accepted(tx, claimed, accepted_at)
            return True

        if not await self.db.run(work, retry_for=self.retry_for):
            log.warning("message was already recorded as sent", extra=_fields(claimed))
            return
        log.info("message accepted", extra=_fields(claimed, response=delivery.response[:200]))
        if delivery.refused:
            self.metrics.send_failures.labels("partial").inc()
            log.warning(
                "some recipients refused",
                extra=_fields(claimed, refused=_summary(delivery.refused)),
            )

    async def _record_failure(
        self, claimed: QueuedMessage, error: NotifyError
    ) -> dt.datetime | None:
        """Schedule a retry (returns its time) or give up (returns None) and alert operators."""
        now = self.clock.now()
        permanent = isinstance(error, PermanentNotifyError)

        async def work(tx: Tx) -> tuple[str, dt.datetime | None, int]:
            row = await stored.lock_sending(tx, claimed.id)
            if row is None:
                return "gone", None, 0
            attempts = row.attempts + 1
            message = str(error)[:2000]
            age = (now - row.created_at).total_seconds()
            if not permanent and age < self.backoff.give_up_after:
                retry = now + dt.timedelta(seconds=self.backoff.delay(attempts))
                await stored.retry_at(
                    tx, row.id, attempts=attempts, error=message, next_attempt_at=retry
                )
                return "retry", retry, attempts
            if not permanent:
                message = (
                    f"gave up after {attempts} attempts over {format_duration(age)}: {error}"
                )
            await stored.give_up(tx, row.id, attempts=attempts, error=message)
            if isinstance(error, RecipientsRefused):
                await stored.add_recipients(tx, row.id, row.recipients, error.refused)
            failed = dataclasses.replace(row, status="failed", attempts=attempts, last_error=message)
            await self.hooks.on_failed(tx, failed)
            return "failed", None, attempts

        outcome, retry_at, attempts = await self.db.run(work, retry_for=self.retry_for)
        fields = _fields(claimed, attempt=attempts, error=str(error)[:500])
        if outcome == "gone":
            log.warning("failed message is no longer ours to record", extra=fields)
            return None
        self.metrics.send_failures.labels("permanent" if permanent else "transient").inc()
        if retry_at is None:
            log.error("message given up", extra=fields)
        else:
            log.warning(
                "send failed; will retry", extra={**fields, "retry_at": retry_at.isoformat()}
            )
        return retry_at


def _fields(row: QueuedMessage, **more: object) -> dict[str, object]:
    return {"outbox_id": row.id, "kind": row.kind, "dedupe_key": row.dedupe_key, **more}


def _summary(refused: dict[str, tuple[int, str]]) -> str:
    return "; ".join(f"{address}: {code} {text}" for address, (code, text) in refused.items())
