"""The persistent outbox (D-2): write every message first, then send it, and keep the proof.

:func:`enqueue` inserts ``outbox`` rows; a ``dedupe_key`` (for example
``outage:{incident_id}:{customer_id}``) makes queueing idempotent, so a duty is
never queued twice. :class:`OutboxWorker` sends due rows:

1. **Claim** a batch in one write transaction (``BEGIN IMMEDIATE`` on SQLite,
   ``FOR UPDATE SKIP LOCKED`` on PostgreSQL): ``status='sending'`` and
   ``next_attempt_at = now + lease``. A worker that dies holding a lease loses
   it when the lease runs out; the rows are then due again. A process of this
   host that is gone (``kill -9``) loses it at once: the next process that
   finds its lease (the daemon's senders every few seconds, ``statement send``)
   releases it (how "gone" is known: :mod:`monitor.notify.owners`).
   A message that follows another one (a recovery, its outage e-mail) is not
   claimed while that one is still pending or being sent: it goes right after
   it, never before, and never later than needed.
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

**Back within a minute**: when a send finds the server
unreachable, ``sla_monitor_smtp_up`` drops to 0 and the worker probes the server
every ``probe_interval`` (15 s: connect, greet, log in, quit). The first probe it
answers releases every message waiting out a retry delay (the backoff reaches
15 minutes) and wakes the senders, so the queue goes out within seconds of the
server's return instead of at the next scheduled retry.

Each claim is a lease held by one worker (``claimed_by``), renewed while its batch
is sent (:mod:`monitor.notify.sending`): two workers never send the same row.

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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.clock import Clock
from monitor.errors import NotifyError
from monitor.notify.layout import Rendered
from monitor.notify.messages import new_message_id
from monitor.notify.metrics import NotifyMetrics
from monitor.notify.owners import alive, this_process
from monitor.notify.sending import Backoff, Courier, Envelope, OutboxHooks
from monitor.notify.smtp import Transport
from monitor.store import outbox as stored
from monitor.store.outbox import Attachment, NewMessage, QueuedMessage

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = ["Backoff", "Draft", "OutboxWorker", "enqueue"]

log = logging.getLogger(__name__)

#: Dedupe keys per part of :meth:`OutboxWorker.send_now`: every claim of a part names its
#: keys and excludes the ids it attempted, so one part for a month's 10,000 statements made
#: each of about 200 claims carry up to 20,000 parameters (quadratic, and past
#: PostgreSQL's 32,767 at about 16,000 customers).
SEND_NOW_PART = 500


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
    # A status-page subscriber's notice: its one-click unsubscribe address (RFC 8058).
    list_unsubscribe: str | None = None


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
                list_unsubscribe=draft.list_unsubscribe,
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
        probe_interval: float = 15.0,
        orphan_check_interval: float = 5.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.metrics = metrics
        self.poll_interval = poll_interval
        self.lease = lease
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.stop_timeout = stop_timeout
        self.probe_interval = probe_interval
        self.courier = Courier(
            db, transport, envelope, clock, metrics, hooks, backoff or Backoff(), lease, self
        )
        self.stopping = False
        self.unreachable_since: dt.datetime | None = None
        self._server_down = asyncio.Event()
        self._stopped = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # Each sender is a lease holder of its own, named after this process (host, pid and
        # start time: monitor.notify.owners), so that any process of this host can tell the
        # leases of a dead one (kill -9) from live ones.
        process = this_process()
        self._host_prefix = process.prefix
        self._name = process.name
        self.orphan_check_interval = orphan_check_interval
        self._orphans_checked = -float("inf")  # loop time of the last check
        self._polled_at = -float("inf")  # loop time of the senders' last round

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
        self._stopped.clear()
        await self.release_orphans()
        self._tasks = [
            asyncio.create_task(self._loop(f"{self._name}-{n}"), name=f"outbox-sender-{n}")
            for n in range(self.concurrency)
        ]
        self._tasks.append(asyncio.create_task(self._watch_server(), name="outbox-smtp-probe"))

    async def stop(self) -> None:
        self.stopping = True
        self._stopped.set()
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
        owner = f"{self._name}-once"
        await self.release_orphans()
        while claimed := await self._claim(owner, exclude=attempted):
            batch, leased_until = claimed
            # Rows handed back unattempted (behind an unreachable server) may come again.
            attempted.update(
                await self.courier.send(
                    batch, stopping=self._stopping, owner=owner, leased_until=leased_until
                )
            )
        await self.refresh_depth()
        return len(attempted)

    async def send_now(
        self, dedupe_keys: Sequence[str], *, within: float = 60.0, poll: float = 0.2,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[QueuedMessage]:
        """Send the messages of ``dedupe_keys`` now, once each (also one waiting out a retry
        delay: an operator asks), and return them as they then stand: accepted
        (``accepted_at``), failed, or still pending with the error of the attempt (a
        transient failure: the daemon's outbox retries it). A message another
        sender holds (the daemon's worker) is waited for, up to ``within`` seconds (for each
        part of :data:`SEND_NOW_PART` keys): the same message is never sent by both (its
        lease). The keys go :data:`SEND_NOW_PART` at a time, so that every query stays small
        however many there are (a month's 10,000 statements), and ``progress(done, total)``
        is told after each part."""
        keys = sorted(set(dedupe_keys))
        owner = f"{self._name}-now"
        await self.release_orphans()
        found: list[QueuedMessage] = []
        if progress is not None and keys:
            progress(0, len(keys))
        for start in range(0, len(keys), SEND_NOW_PART):
            found += await self._send_part(keys[start:start + SEND_NOW_PART], owner,
                                           within, poll)
            if progress is not None:
                progress(min(start + SEND_NOW_PART, len(keys)), len(keys))
        return found

    async def _send_part(self, keys: list[str], owner: str, within: float,
                         poll: float) -> list[QueuedMessage]:
        attempted: set[int] = set()
        loop = asyncio.get_running_loop()
        give_up = loop.time() + within
        while True:
            claimed = await self._claim(owner, exclude=attempted, only=keys, waiting_too=True)
            if claimed:
                batch, leased_until = claimed
                attempted.update(
                    await self.courier.send(
                        batch, stopping=self._stopping, owner=owner, leased_until=leased_until
                    )
                )
                continue
            found = await self.db.run(lambda tx: stored.find(tx, keys), readonly=True)
            held = [m for m in found if m.status == "sending" and m.id not in attempted]
            if not held or loop.time() > give_up:
                return found
            # Held by a process that has died since (kill -9): released, then sent here.
            if await self.release_orphans(every=1.0):
                continue
            await asyncio.sleep(poll)

    async def release_orphans(self, every: float = 0.0) -> int:
        """Leases held by a process of this host that is gone (``kill -9`` in a send): handed
        back now rather than when they run out (up to the lease, 5 minutes); how "gone" is
        known: :mod:`monitor.notify.owners`. Called at start, by the senders every
        ``orphan_check_interval``, and by ``statement send`` (:meth:`send_now`); with
        ``every``, not again within that many seconds. The message may then go out twice:
        the unavoidable window, with the same Message-ID. Returns how many were released."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._orphans_checked < every:
            return 0
        self._orphans_checked = loop.time()
        holders = await self.db.run(
            lambda tx: stored.lease_holders(tx, self._host_prefix), readonly=True
        )
        dead = [owner for owner in holders if not alive(owner, self._host_prefix)]
        if not dead:
            return 0
        now = self.clock.now()
        released = await self.db.run(
            lambda tx: stored.release_orphans(tx, self._host_prefix, dead, now)
        )
        log.warning(
            "messages claimed by a process that is gone handed back",
            extra={"released": released, "holders": sorted(dead)},
        )
        return released

    async def refresh_depth(self) -> int:
        now = self.clock.now()

        async def work(tx: Tx) -> tuple[int, dt.datetime | None]:
            return await stored.depth(tx), await stored.oldest_waiting(tx, now)

        depth, waiting_since = await self.db.run(work, readonly=True)
        self.metrics.outbox_depth.set(depth)
        waited = (now - waiting_since).total_seconds() if waiting_since is not None else 0.0
        self.metrics.outbox_oldest_waiting.set(max(0.0, waited))
        return depth

    # --- the server's reachability (D-2: back within a minute) ---------------------------------

    def unreachable(self, error: NotifyError) -> None:
        """A send could not reach the server: probe it until it answers."""
        if self.unreachable_since is None:
            self.unreachable_since = self.clock.now()
            self.metrics.smtp_up.set(0)
            log.error(
                "SMTP server unreachable; queued messages wait, the server is probed every "
                f"{self.probe_interval:g} s",
                extra={"error": str(error)[:500]},
            )
        self._server_down.set()

    def reachable(self) -> None:
        """A message was accepted."""
        if self.unreachable_since is not None:
            self._back(released=0)

    def _back(self, released: int) -> None:
        since = self.unreachable_since
        self.unreachable_since = None
        self._server_down.clear()
        self.metrics.smtp_up.set(1)
        log.warning(
            "SMTP server answers again; waiting messages released",
            extra={
                "released": released,
                "unreachable_since": since.isoformat() if since is not None else None,
            },
        )

    async def probe_server(self) -> bool:
        """Probe the server once; when it answers, release what waits and wake the senders."""
        try:
            async with asyncio.timeout(self.lease / 4):  # not wait_for (see run())
                await self.courier.transport.probe()
        except Exception as exc:
            log.info("SMTP server still unreachable", extra={"error": str(exc)[:300]})
            return False
        now = self.clock.now()
        released = await self.db.run(
            lambda tx: stored.release_delayed(tx, now), retry_for=self.lease / 4
        )
        self.metrics.released.inc(released)
        if self.unreachable_since is not None:
            self._back(released)
        self.wake()
        return True

    async def _watch_server(self) -> None:
        """While the server is unreachable, probe it every ``probe_interval``."""
        while await self._until_stopped(self._server_down.wait()):
            if not await self._until_stopped(asyncio.sleep(self.probe_interval)):
                return
            try:
                await self.probe_server()
            except Exception as exc:
                if not self.db.outage(exc):  # the database away: said once, no traceback
                    log.exception("SMTP server probe failed; tried again")

    async def _until_stopped(self, awaitable: Awaitable[object]) -> bool:
        """Wait for ``awaitable``; False when :meth:`stop` came first."""
        waiting = asyncio.ensure_future(awaitable)
        stopped = asyncio.ensure_future(self._stopped.wait())
        done, pending = await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return waiting in done and not self._stopped.is_set()

    def _stopping(self) -> bool:
        return self.stopping

    async def _loop(self, owner: str) -> None:
        """One sender. Idle, the senders look at the queue once per ``poll_interval``
        between them, not each of them (four rounds of a write transaction and two counts
        every two seconds were, measured with py-spy, nearly half of an idle daemon's CPU);
        a round that claimed a whole batch (more may be due) or a :meth:`wake` sets every
        idle sender going at once."""
        loop = asyncio.get_running_loop()
        due = True  # the first round at once
        while not self.stopping:
            honour_cancellation()
            self._wakeup.clear()
            batch: list[QueuedMessage] = []
            if due:
                self._polled_at = loop.time()
                try:
                    await self.release_orphans(every=self.orphan_check_interval)
                    claimed = await self._claim(owner)
                    if claimed:
                        batch, leased_until = claimed
                        if len(batch) >= self.batch_size:
                            self._wakeup.set()  # more may be due: the idle senders too
                        await self.courier.send(
                            batch, stopping=self._stopping, owner=owner,
                            leased_until=leased_until
                        )
                    await self.refresh_depth()
                except Exception as exc:
                    if not self.db.outage(exc):  # the database away: said once, no traceback
                        log.exception("outbox round failed; retrying after the poll interval")
                    batch = []
            if batch:
                due = True
                continue
            if self.stopping:
                break
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that arrives as its timeout fires, and this loop would run on
            # after stop() or a kill cancelled it (seen: a stop that never ended).
            try:
                async with asyncio.timeout(self.poll_interval):
                    await self._wakeup.wait()
                due = True
            except TimeoutError:
                # Another sender's round within the interval looked for this one.
                due = loop.time() - self._polled_at >= self.poll_interval * 0.99

    async def _claim(
        self,
        owner: str,
        exclude: set[int] | None = None,
        only: Sequence[str] | None = None,
        waiting_too: bool = False,
    ) -> tuple[list[QueuedMessage], dt.datetime] | None:
        """A batch claimed by ``owner``, and when its lease runs out; None when nothing is due."""
        if self.stopping and not exclude:
            return None
        now = self.clock.now()
        batch = await self.db.run(
            lambda tx: stored.claim(
                tx,
                now=now,
                lease=self.lease,
                limit=self.batch_size,
                owner=owner,
                exclude=exclude or (),
                only=only,
                waiting_too=waiting_too,
            )
        )
        return (batch, now + dt.timedelta(seconds=self.lease)) if batch else None


def honour_cancellation() -> None:
    """Raise the cancellation of the running task if something below swallowed it.

    A library under a round (the database driver's bridge, a timeout racing the cancel on
    Python 3.11) can eat a :class:`asyncio.CancelledError`; the task stays "cancelling" and
    a ``while`` loop would run on for ever, so that ``stop()`` (or a test's kill) never
    ended. Each round looks first.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
