"""Claimed outbox messages through one transport connection, each outcome committed at once (D-2).

:class:`Courier` sends a batch in order and commits every outcome right after
the transport returns, before the next message is sent: acceptance
(``accepted_at``, the server's reply, each recipient's result, and through the
:class:`OutboxHooks` the ``notifications`` / ``maintenance_notices`` evidence), a
retry time, or a final failure. The outbox worker (:mod:`monitor.notify.outbox`)
claims the batches and hands them here; this module knows nothing of it.

**Never sent twice by two workers** (a batch of 20 through a
server answering in 17 s outlived its 300 s lease, another worker re-claimed the
rest and both sent them). A claim is a lease of length ``L`` held by one worker
(``claimed_by``). Before each message the courier checks what is left of its lease:
with less than ``L/2`` left it renews the lease of the rest of its batch *in the
database*, which also tells it which rows are still its own (a row whose lease ran
out may have been claimed by another worker; it is skipped and counted in
``sla_monitor_outbox_leases_lost_total``). Each send is cut after ``L/4`` (a
transient failure) and its outcome is committed within ``L/4`` more, so a message
is sent and recorded while its lease, renewed at most ``L/2`` before, still holds:
no other worker can have claimed it. Every outcome is recorded only by the row's
owner.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from monitor.clock import Clock
from monitor.errors import NotifyError, PermanentNotifyError, TransientNotifyError
from monitor.notify.messages import build_email
from monitor.notify.metrics import NotifyMetrics
from monitor.notify.smtp import Connection, Delivery, RecipientsRefused, Transport, classify
from monitor.present import format_duration
from monitor.store import outbox as stored
from monitor.store.outbox import QueuedMessage

if TYPE_CHECKING:
    from monitor.config import Settings
    from monitor.store import Database, Tx

__all__ = ["Backoff", "Courier", "Envelope", "OutboxHooks", "Reachability"]

log = logging.getLogger(__name__)


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

    After ``give_up_after`` seconds since the message was written (or last sent again by an
    operator, ``outbox retry``), a transient failure is final. Tests use short values.

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


class Reachability(Protocol):
    """Told whether the server answers: the outbox worker probes it while it does not (D-2)."""

    def unreachable(self, error: NotifyError) -> None: ...

    def reachable(self) -> None: ...


class Courier:
    """Sends claimed messages and records each outcome, under the lease of the worker that
    claimed them (``lease`` seconds; see the module's docstring)."""

    def __init__(
        self,
        db: Database,
        transport: Transport,
        envelope: Envelope,
        clock: Clock,
        metrics: NotifyMetrics,
        hooks: OutboxHooks,
        backoff: Backoff,
        lease: float,
        reachability: Reachability | None = None,
    ) -> None:
        self.db = db
        self.transport = transport
        self.envelope = envelope
        self.clock = clock
        self.metrics = metrics
        self.hooks = hooks
        self.backoff = backoff
        self.lease = lease
        # How long a commit is retried while the database is locked or away (an outcome the
        # server gave must not be lost), and how long one send may take: a quarter each.
        self.retry_for = lease / 4
        self.send_limit = lease / 4
        self.reachability = reachability

    async def release(
        self, ids: Sequence[int], at: dt.datetime, reason: str | None = None, *, owner: str
    ) -> None:
        """Hand claimed rows that were not attempted back, due at ``at`` (attempts unchanged)."""
        if ids:
            await self.db.run(
                lambda tx: stored.release(tx, ids, at, reason, owner=owner),
                retry_for=self.retry_for,
            )

    async def send(
        self,
        batch: Sequence[QueuedMessage],
        *,
        stopping: Callable[[], bool],
        owner: str,
        leased_until: dt.datetime,
    ) -> list[int]:
        """Send ``batch``, claimed by ``owner`` until ``leased_until``, in order; returns the
        ids attempted (the rest were handed back, or found to be another worker's). When
        ``stopping()`` turns true, what is not yet attempted is handed back at once."""
        attempted: list[int] = []
        lost: set[int] = set()
        async with self.transport.connect() as connection:
            for index, row in enumerate(batch):
                rest = [later.id for later in batch[index + 1 :] if later.id not in lost]
                if stopping():
                    await self.release([row.id, *rest], self.clock.now(), owner=owner)
                    return attempted
                now = self.clock.now()
                if (leased_until - now).total_seconds() < self.lease / 2:
                    leased_until = now + dt.timedelta(seconds=self.lease)
                    lost |= await self._renew([row.id, *rest], owner, leased_until)
                if row.id in lost:
                    continue
                attempted.append(row.id)
                self.metrics.send_attempts.inc()
                try:
                    delivery = await self._send_one(connection, row)
                except Exception as exc:
                    error = classify(exc)
                    retry_at = await self._record_failure(row, error, owner)
                    if connection.broken:
                        # The server is unreachable: wait with this message rather than try each.
                        if self.reachability is not None and isinstance(
                            error, TransientNotifyError
                        ):
                            self.reachability.unreachable(error)
                        reason = f"not attempted: the message before it failed ({error})"
                        await self.release(
                            [i for i in rest if i not in lost],
                            retry_at or self.clock.now(),
                            reason[:2000],
                            owner=owner,
                        )
                        return attempted
                else:
                    if self.reachability is not None:
                        self.reachability.reachable()
                    await self._record_acceptance(row, delivery, owner)
        return attempted

    async def _renew(self, ids: list[int], owner: str, until: dt.datetime) -> set[int]:
        """Renew the lease on ``ids``; returns those no longer ours (logged and counted)."""
        owned = await self.db.run(
            lambda tx: stored.renew(tx, ids, owner=owner, until=until), retry_for=self.retry_for
        )
        lost = set(ids) - owned
        if lost:
            self.metrics.leases_lost.inc(len(lost))
            log.warning(
                "outbox lease ran out: these messages are another worker's now",
                extra={"outbox_ids": sorted(lost), "worker": owner},
            )
        return lost

    async def _send_one(self, connection: Connection, row: QueuedMessage) -> Delivery:
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
            list_unsubscribe=row.list_unsubscribe,
        )
        try:
            async with asyncio.timeout(self.send_limit):
                return await connection.send(message, self.envelope.sender, row.recipients)
        except TimeoutError:
            # Cut inside the session: it is in an unknown state. The lease still holds.
            connection.broken = True
            raise TransientNotifyError(
                f"timed out: no answer within {format_duration(self.send_limit)} "
                "(a quarter of the outbox lease)"
            ) from None

    async def _record_acceptance(
        self, claimed: QueuedMessage, delivery: Delivery, owner: str
    ) -> None:
        accepted_at = self.clock.now()

        async def work(tx: Tx) -> bool:
            recorded = await stored.record_acceptance(
                tx,
                claimed.id,
                accepted_at=accepted_at,
                response=delivery.response[:2000],
                error=_summary(delivery.refused) or None,
                owner=owner,
                recipients=claimed.recipients,
                refused=delivery.refused,
            )
            if not recorded:
                return False
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
        self, claimed: QueuedMessage, error: NotifyError, owner: str
    ) -> dt.datetime | None:
        """Schedule a retry (returns its time) or give up (returns None) and alert operators."""
        now = self.clock.now()
        permanent = isinstance(error, PermanentNotifyError)

        async def work(tx: Tx) -> tuple[str, dt.datetime | None, int]:
            row = await stored.lock_sending(tx, claimed.id, owner=owner)
            if row is None:
                return "gone", None, 0
            attempts = row.attempts + 1
            message = str(error)[:2000]
            # Retried for ``give_up_after`` from its queueing, or from when an operator
            # last sent it again (``outbox retry``).
            age = (now - (row.requeued_at or row.created_at)).total_seconds()
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
