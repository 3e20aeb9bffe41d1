"""The persistent outbox (D-2): write every message first, then send it, and keep the proof.

:func:`enqueue` inserts ``outbox`` rows; a ``dedupe_key`` (for example
``outage:{incident_id}:{customer_id}``) makes queueing idempotent, so a duty is
never queued twice. :class:`OutboxWorker` sends due rows:

1. **Claim** a batch in one write transaction (``BEGIN IMMEDIATE`` on SQLite,
   ``FOR UPDATE SKIP LOCKED`` on PostgreSQL): ``status='sending'`` and
   ``next_attempt_at = now + lease``. A worker that dies holding a lease loses
   it when the lease runs out; the rows are then due again.
2. **Send** through one transport connection per batch
   (:class:`monitor.notify.sending.Courier`).
3. **Commit the outcome at once**, one message at a time: ``accepted_at``
   (the evidence), ``smtp_response``, per-recipient ``outbox_recipients``, and
   what the acceptance proves (a ``notifications`` or ``maintenance_notices``
   row, through :class:`~monitor.notify.sending.OutboxHooks`) in the same
   transaction. This commit is retried while the database is locked or gone
   for a while.

Transient failures are retried with capped exponential backoff and jitter
(:class:`~monitor.notify.sending.Backoff`); permanent ones mark the row
``failed`` and the hooks alert operators.

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
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.clock import Clock
from monitor.notify.layout import Rendered
from monitor.notify.messages import new_message_id
from monitor.notify.metrics import NotifyMetrics
from monitor.notify.sending import Backoff, Courier, Envelope, OutboxHooks
from monitor.notify.smtp import Transport
from monitor.store import outbox as stored
from monitor.store.outbox import Attachment, NewMessage, QueuedMessage

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = ["Backoff", "Draft", "OutboxWorker", "enqueue"]

log = logging.getLogger("monitor.notify")


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
    # The dedupe key of the message this one follows up (a recovery: its outage e-mail):
    # it is sent with In-Reply-To/References naming that message's Message-ID.
    follows: str | None = None
    attachments: tuple[Attachment, ...] = ()  # files sent with it (a statement's PDF, CSV)


async def enqueue(tx: Tx, drafts: Sequence[Draft], *, now: dt.datetime, domain: str) -> int:
    """Queue the drafts not queued before (by ``dedupe_key``); returns how many are new.

    Each gets its Message-ID now, kept for every retry (the duplicate window above); a
    draft that ``follows`` another gets that message's Message-ID as its parent."""
    parents = await stored.message_ids(tx, (d.follows for d in drafts if d.follows))
    return await stored.enqueue(
        tx,
        [
            NewMessage(
                dedupe_key=draft.dedupe_key,
                message_id=new_message_id(draft.kind, domain),
                kind=draft.kind,
                recipients=draft.recipients,
                subject=draft.rendered.subject,
                body_text=draft.rendered.text,
                body_html=draft.rendered.html,
                created_at=now,
                next_attempt_at=max(now, draft.not_before or now),
                customer_id=draft.customer_id,
                incident_id=draft.incident_id,
                window_id=draft.window_id,
                claim_id=draft.claim_id,
                ticket_id=draft.ticket_id,
                in_reply_to=parents.get(draft.follows) if draft.follows else None,
                attachments=draft.attachments,
            )
            for draft in drafts
        ],
    )


class OutboxWorker:
    """Sends due outbox rows in the background: ``await start()``, ``await stop()``.

    ``stop()`` lets each in-flight send finish and commit, hands unsent claimed
    rows back, and returns. ``run_once()`` sends what is due now, once, without
    the background task (tests drive time with a ``FakeClock``).
    """

    def __init__(
        self,
        db: Database,
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
        self.db = db
        self.clock = clock
        self.metrics = metrics
        self.poll_interval = poll_interval
        self.lease = lease
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.stop_timeout = stop_timeout
        # An outcome the server already gave is committed for up to half the lease.
        self.courier = Courier(
            db, transport, envelope, clock, metrics, hooks, backoff or Backoff(), lease / 2
        )
        self.stopping = False
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def use(self, transport: Transport | None, envelope: Envelope) -> None:
        """A reloaded configuration: send what comes next through ``transport`` (None: keep
        the current one) from ``envelope``."""
        if transport is not None:
            self.courier.transport = transport
        self.courier.envelope = envelope

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
            attempted.update(await self.courier.send(batch, stopping=self._stopping))
        await self.refresh_depth()
        return len(attempted)

    async def send_now(
        self, dedupe_keys: Sequence[str], *, within: float = 60.0, poll: float = 0.2
    ) -> list[QueuedMessage]:
        """Send the messages of ``dedupe_keys`` now, once each, and return them as they then
        stand: accepted (``accepted_at``), failed, or still pending with the error of the
        attempt (a transient failure: the daemon's outbox retries it). A message another
        sender holds (the daemon's worker) is waited for, up to ``within`` seconds: the
        same message is never sent by both (its lease)."""
        keys = sorted(set(dedupe_keys))
        attempted: set[int] = set()
        loop = asyncio.get_running_loop()
        give_up = loop.time() + within
        while True:
            batch = await self.db.run(
                functools.partial(stored.claim, now=self.clock.now(), lease=self.lease,
                                  limit=self.batch_size, exclude=attempted, only=keys)
            )
            if batch:
                attempted.update(await self.courier.send(batch, stopping=self._stopping))
                continue
            found = await self.db.run(lambda tx: stored.find(tx, keys), readonly=True)
            held = [m for m in found if m.status == "sending" and m.id not in attempted]
            if not held or loop.time() > give_up:
                return found
            await asyncio.sleep(poll)

    async def refresh_depth(self) -> int:
        depth = await self.db.run(stored.depth, readonly=True)
        self.metrics.outbox_depth.set(depth)
        return depth

    def _stopping(self) -> bool:
        return self.stopping

    async def _loop(self) -> None:
        while not self.stopping:
            self._wakeup.clear()
            try:
                batch = await self._claim()
                if batch:
                    await self.courier.send(batch, stopping=self._stopping)
                await self.refresh_depth()
            except Exception:
                log.exception("outbox round failed; retrying after the poll interval")
                batch = []
            if not batch and not self.stopping:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self.poll_interval)
                except TimeoutError:
                    pass

    async def _claim(self, exclude: set[int] | None = None) -> list[QueuedMessage]:
        if self.stopping and not exclude:
            return []
        now = self.clock.now()
        return await self.db.run(
            lambda tx: stored.claim(
                tx, now=now, lease=self.lease, limit=self.batch_size, exclude=exclude or ()
            )
        )
