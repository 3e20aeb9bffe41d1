"""The persistent outbox (D-2): write every message first, then send it, and keep the proof.

:func:`enqueue` inserts ``outbox`` rows; a ``dedupe_key`` (for example
``outage:{incident_id}:{customer_id}``) makes queueing idempotent, so a duty is
never queued twice. :class:`OutboxWorker` sends due rows:

1. **Claim** a batch in one write transaction (``BEGIN IMMEDIATE`` on SQLite,
   ``FOR UPDATE SKIP LOCKED`` on PostgreSQL): ``status='sending'`` and
   ``next_attempt_at = now + lease``. A worker that dies holding a lease loses
   it when the lease runs out; the rows are then due again.
2. **Send** through one transport connection per batch.
3. **Commit the outcome at once**, one message at a time: ``accepted_at``
   (the evidence), ``smtp_response``, per-recipient ``outbox_recipients``, and
   what the acceptance proves (a ``notifications`` or ``maintenance_notices``
   row, through :class:`OutboxHooks`) in the same transaction. This commit is
   retried while the database is locked or gone for a while.

Transient failures are retried with capped exponential backoff and jitter
(:class:`Backoff`); permanent ones mark the row ``failed`` and the hooks alert
operators.

**The one unavoidable window**: the server accepted the message and the process
died (``kill -9``, power) before step 3 committed, or the server's reply to the
end of DATA was lost on the wire. The lease runs out (or the timeout counts as
a transient failure) and the message is sent again. SMTP offers no way to ask a
server whether it has a message, so the Message-ID is stored with the row and
reused on every attempt: the duplicate carries the same Message-ID, and the
recipient's mail system (or person) can recognise it. Everything else is
exactly once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.clock import Clock
from monitor.notify.layout import Rendered
from monitor.notify.messages import new_message_id
from monitor.notify.metrics import NotifyMetrics
from monitor.notify.sending import Envelope, send_batch
from monitor.notify.smtp import Transport
from monitor.store.models import OutboxMessage

__all__ = ["ACTIVE", "Backoff", "Draft", "OutboxHooks", "OutboxWorker", "enqueue", "outbox_depth"]

log = logging.getLogger("monitor.notify")
T = TypeVar("T")

ACTIVE = ("pending", "sending")  # not yet accepted nor given up
_CHUNK = 500  # rows per INSERT, well under SQLite's bound-parameter limit


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


@dataclass(frozen=True)
class Draft:
    """A message to queue; ``dedupe_key`` names the duty it fulfils (queued at most once)."""

    dedupe_key: str
    kind: str
    recipients: tuple[str, ...]
    rendered: Rendered
    customer_id: str | None = None
    incident_id: int | None = None
    window_id: int | None = None
    claim_id: int | None = None
    ticket_id: int | None = None
    not_before: dt.datetime | None = None


class OutboxHooks(Protocol):
    """What an accepted or given-up message means to the duties (see :mod:`monitor.notify.duties`)."""

    async def on_accepted(
        self, session: AsyncSession, message: OutboxMessage, accepted_at: dt.datetime
    ) -> None: ...

    async def on_failed(self, session: AsyncSession, message: OutboxMessage) -> None: ...


async def enqueue(
    session: AsyncSession, drafts: Sequence[Draft], *, now: dt.datetime, domain: str
) -> int:
    """Insert the drafts not queued before (by ``dedupe_key``); returns how many are new."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    added = 0
    for start in range(0, len(drafts), _CHUNK):
        rows = [_row(draft, now, domain) for draft in drafts[start : start + _CHUNK]]
        statement = (
            insert(OutboxMessage).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        result: Any = await session.execute(statement)
        added += max(result.rowcount or 0, 0)
    return added


def _row(draft: Draft, now: dt.datetime, domain: str) -> dict[str, Any]:
    recipients = list(dict.fromkeys(draft.recipients))
    return {
        "dedupe_key": draft.dedupe_key,
        "message_id": new_message_id(draft.kind, domain),
        "kind": draft.kind,
        "customer_id": draft.customer_id,
        "incident_id": draft.incident_id,
        "window_id": draft.window_id,
        "claim_id": draft.claim_id,
        "ticket_id": draft.ticket_id,
        "recipients": recipients,
        "subject": draft.rendered.subject,
        "body_text": draft.rendered.text,
        "body_html": draft.rendered.html,
        "created_at": now,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": max(now, draft.not_before or now),
    }


async def outbox_depth(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_(ACTIVE))
    )
    return int(count or 0)


class OutboxWorker:
    """Sends due outbox rows in the background: ``await start()``, ``await stop()``.

    ``stop()`` lets each in-flight send finish and commit, hands unsent claimed
    rows back, and returns. ``run_once()`` sends what is due now, once, without
    the background task (tests drive time with a ``FakeClock``).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        transport: Transport,
        clock: Clock,
        metrics: NotifyMetrics,
        hooks: OutboxHooks,
        envelope: Envelope,
        *,
        backoff: Backoff | None = None,
        poll_interval: float = 2.0,
        lease: float = 300.0,
        concurrency: int = 4,
        batch_size: int = 20,
        stop_timeout: float = 60.0,
    ) -> None:
        self.sessions = sessions
        self.transport = transport
        self.clock = clock
        self.metrics = metrics
        self.hooks = hooks
        self.envelope = envelope
        self.backoff = backoff or Backoff()
        self.poll_interval = poll_interval
        self.lease = lease
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.stop_timeout = stop_timeout
        self.stopping = False
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if self._tasks:
            return
        self.stopping = False
        self._tasks = [
            asyncio.create_task(self._loop(), name=f"outbox-sender-{n}")
            for n in range(self.concurrency)
        ]

    async def stop(self) -> None:
        self.stopping = True
        self._wakeup.set()
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=self.stop_timeout)
        for task in late:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def wake(self) -> None:
        """New messages were queued: look now instead of at the next poll."""
        self._wakeup.set()

    async def run_once(self) -> int:
        """Send every message due now once; returns how many were attempted."""
        attempted: set[int] = set()
        while batch := await self._claim(exclude=attempted):
            # Rows handed back unattempted (behind an unreachable server) may come again.
            attempted.update(await send_batch(self, batch))
        await self.refresh_depth()
        return len(attempted)

    async def refresh_depth(self) -> int:
        depth = await self.transaction(outbox_depth, readonly=True)
        self.metrics.outbox_depth.set(depth)
        return depth

    async def _loop(self) -> None:
        while not self.stopping:
            self._wakeup.clear()
            try:
                batch = await self._claim()
                if batch:
                    await send_batch(self, batch)
                await self.refresh_depth()
            except Exception:
                log.exception("outbox round failed; retrying after the poll interval")
                batch = []
            if not batch and not self.stopping:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self.poll_interval)
                except TimeoutError:
                    pass

    async def _claim(self, exclude: set[int] | None = None) -> list[OutboxMessage]:
        async def claim(session: AsyncSession) -> list[OutboxMessage]:
            now = self.clock.now()
            query = (
                select(OutboxMessage)
                .where(OutboxMessage.status.in_(ACTIVE), OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            if exclude:
                query = query.where(OutboxMessage.id.not_in(exclude))
            rows = list((await session.scalars(query)).all())
            for row in rows:
                row.status = "sending"
                row.next_attempt_at = now + dt.timedelta(seconds=self.lease)
            return rows

        if self.stopping and not exclude:
            return []
        return await self.transaction(claim)

    async def release(self, ids: Sequence[int], at: dt.datetime, reason: str | None = None) -> None:
        """Hand claimed rows that were not attempted back, due at ``at`` (attempts unchanged)."""
        if not ids:
            return
        values: dict[str, Any] = {"status": "pending", "next_attempt_at": at}
        if reason is not None:
            values["last_error"] = reason

        async def work(session: AsyncSession) -> None:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "sending")
                .values(**values)
            )

        await self.transaction(work, persist=True)

    async def transaction(
        self,
        work: Callable[[AsyncSession], Awaitable[T]],
        *,
        persist: bool = False,
        readonly: bool = False,
    ) -> T:
        """Run ``work`` in one transaction. With ``persist``, keep retrying while the database
        is locked or unreachable (up to half the lease): an outcome the SMTP server already
        gave must not be lost (SPEC section 8)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.lease / 2
        delay = 0.05
        while True:
            try:
                async with self.sessions() as session:
                    if readonly:  # a deferred BEGIN on SQLite: readers do not queue on the lock
                        await session.connection(execution_options={"readonly": True})
                    result = await work(session)
                    await session.commit()
                    return result
            except DBAPIError as exc:
                retryable = (
                    isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated
                )
                if not (persist and retryable) or loop.time() > give_up:
                    raise
                log.warning(
                    "database unavailable; retrying the outbox commit",
                    extra={"error": str(exc.orig), "retry_in": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
