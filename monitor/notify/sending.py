"""One batch of claimed outbox rows through one transport connection (D-2).

Each outcome is committed right after the transport returns, before the next
message is sent: acceptance (``accepted_at``, the server's reply, each
recipient's result, and through the hooks the ``notifications`` /
``maintenance_notices`` evidence), a retry time, or a final failure.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.errors import NotifyError, PermanentNotifyError
from monitor.notify.layout import format_span
from monitor.notify.messages import build_email
from monitor.notify.smtp import Delivery, RecipientsRefused, classify
from monitor.store.models import OutboxMessage, OutboxRecipient

if TYPE_CHECKING:
    from monitor.notify.outbox import OutboxWorker

__all__ = ["Envelope", "send_batch"]

log = logging.getLogger("monitor.notify")


@dataclass(frozen=True)
class Envelope:
    """Who the mail is from: ``sender`` (envelope and From) and the display name."""

    sender: str
    sender_name: str

    @property
    def domain(self) -> str:
        return self.sender.rpartition("@")[2] or "localhost"


async def send_batch(worker: OutboxWorker, batch: Sequence[OutboxMessage]) -> list[int]:
    """Send ``batch`` in order; returns the ids attempted (the rest were handed back)."""
    attempted: list[int] = []
    async with worker.transport.connect() as connection:
        for index, row in enumerate(batch):
            rest = [later.id for later in batch[index + 1 :]]
            if worker.stopping:  # stop(): hand back what was not attempted, due at once
                await worker.release([row.id, *rest], worker.clock.now())
                return attempted
            attempted.append(row.id)
            worker.metrics.send_attempts.inc()
            try:
                message = build_email(
                    sender=worker.envelope.sender,
                    sender_name=worker.envelope.sender_name,
                    recipients=row.recipients,
                    subject=row.subject,
                    text=row.body_text,
                    html=row.body_html,
                    message_id=row.message_id,
                    date=row.created_at,
                    kind=row.kind,
                )
                delivery = await connection.send(message, worker.envelope.sender, row.recipients)
            except Exception as exc:
                error = classify(exc)
                retry_at = await _record_failure(worker, row, error)
                if connection.broken:
                    # The server is unreachable: wait with this message rather than try each.
                    reason = f"not attempted: the message before it failed ({error})"
                    await worker.release(rest, retry_at or worker.clock.now(), reason[:2000])
                    return attempted
            else:
                await _record_acceptance(worker, row, delivery)
    return attempted


def _fields(row: OutboxMessage, **more: object) -> dict[str, object]:
    return {"outbox_id": row.id, "kind": row.kind, "dedupe_key": row.dedupe_key, **more}


async def _record_acceptance(
    worker: OutboxWorker, claimed: OutboxMessage, delivery: Delivery
) -> None:
    accepted_at = worker.clock.now()

    async def work(session: AsyncSession) -> bool:
        # Few statements: on SQLite every one is a trip to the driver's thread.
        result: Any = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == claimed.id, OutboxMessage.status == "sending")
            .values(
                status="sent",
                attempts=OutboxMessage.attempts + 1,
                accepted_at=accepted_at,
                smtp_response=delivery.response[:2000],
                last_error=_summary(delivery.refused) or None,
            )
        )
        if result.rowcount != 1:
            return False
        await _add_recipients(session, claimed, delivery.refused)
        await worker.hooks.on_accepted(session, claimed, accepted_at)
        return True

    if not await worker.transaction(work, persist=True):
        log.warning("message was already recorded as sent", extra=_fields(claimed))
        return
    log.info("message accepted", extra=_fields(claimed, response=delivery.response[:200]))
    if delivery.refused:
        worker.metrics.send_failures.labels("partial").inc()
        log.warning(
            "some recipients refused", extra=_fields(claimed, refused=_summary(delivery.refused))
        )


async def _record_failure(
    worker: OutboxWorker, claimed: OutboxMessage, error: NotifyError
) -> dt.datetime | None:
    """Schedule a retry (returns its time) or give up (returns None) and alert operators."""
    now = worker.clock.now()
    permanent = isinstance(error, PermanentNotifyError)

    async def work(session: AsyncSession) -> tuple[str, dt.datetime | None, int]:
        row = await session.get(
            OutboxMessage, claimed.id, with_for_update=True, populate_existing=True
        )
        if row is None or row.status != "sending":
            return "gone", None, 0
        row.attempts += 1
        row.last_error = str(error)[:2000]
        age = (now - row.created_at).total_seconds()
        if not permanent and age < worker.backoff.give_up_after:
            row.status = "pending"
            row.next_attempt_at = now + dt.timedelta(seconds=worker.backoff.delay(row.attempts))
            return "retry", row.next_attempt_at, row.attempts
        if not permanent:
            row.last_error = (
                f"gave up after {row.attempts} attempts over {format_span(age)}: {error}"
            )
        row.status = "failed"
        if isinstance(error, RecipientsRefused):
            await _add_recipients(session, row, error.refused)
        await worker.hooks.on_failed(session, row)
        return "failed", None, row.attempts

    outcome, retry_at, attempts = await worker.transaction(work, persist=True)
    fields = _fields(claimed, attempt=attempts, error=str(error)[:500])
    if outcome == "gone":
        log.warning("failed message is no longer ours to record", extra=fields)
        return None
    worker.metrics.send_failures.labels("permanent" if permanent else "transient").inc()
    if retry_at is None:
        log.error("message given up", extra=fields)
    else:
        log.warning("send failed; will retry", extra={**fields, "retry_at": retry_at.isoformat()})
    return retry_at


async def _add_recipients(
    session: AsyncSession, row: OutboxMessage, refused: dict[str, tuple[int, str]]
) -> None:
    outcomes = []
    for address in dict.fromkeys(row.recipients):
        code, text = refused.get(address, (None, None))
        status = "accepted" if code is None else "refused"
        outcomes.append(
            {
                "outbox_id": row.id,
                "address": address,
                "status": status,
                "code": code,
                "message": text,
            }
        )
    await session.execute(insert(OutboxRecipient), outcomes)


def _summary(refused: dict[str, tuple[int, str]]) -> str:
    return "; ".join(f"{address}: {code} {text}" for address, (code, text) in refused.items())
