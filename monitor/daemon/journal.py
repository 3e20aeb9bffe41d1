"""Incident changes as durable intents: kept in order and retried until written.

The detector decides an incident opened, closed or reopened at once, from the probe
results (R-M1); writing that to the database can fail (SQLite locked by another
writer past its busy timeout, a full disk, PostgreSQL restarting). Before, the
write was tried once and the change was lost for good: no incident row, no outage
e-mail, although the detector believed the incident open. Now each change is an
:class:`Intent` appended to the :class:`IncidentJournal`, which performs them **in
order**, one at a time, and retries the head with backoff until it succeeds, so the
incident, its start (the first failed probe, kept in the intent) and its e-mails all
happen late rather than never.

* **Bounded, and said**: ``sla_monitor_incident_writes_pending`` counts the
  intents waiting. Once the oldest has waited ``stuck_after`` seconds (default
  60) the journal is *stuck*: one error log line, ``/readyz`` answers 503
  (``"incidents": false``), and it stays so until the head is written. Nothing is
  dropped: a monitor that cannot record must say so, not forget.
* **Two steps**: the write, then the listener (the outage or recovery e-mail
  queued). A write is retried without limit; the listener ``notify_attempts``
  times (its e-mails are idempotent by their dedupe keys, and the duty tracker
  re-queues a lost outage e-mail within a minute anyway), so that a listener bug
  cannot hold every later incident back.
* **What a restart loses**: intents still in memory when the process is killed
  (``kill -9``) during a long database outage. On SIGTERM the journal is given
  ``stop_grace`` seconds to drain, and whatever is left is logged, each change with
  its target and times, so an operator can record it by hand
  (``sla-monitor incident add``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from monitor.daemon.detector import Closed, Event, Opened
from monitor.store import error_line

__all__ = ["IncidentJournal", "Intent"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Intent:
    """One incident change the detector decided, waiting to be written and announced."""

    target_id: str
    event: Event
    #: In a cluster, the lease epoch the change was decided under (None: not held then); a
    #: vote is fenced at it, not at the epoch held when it is written (monitor.daemon.cluster).
    epoch: int | None = None
    queued_at: float = field(default_factory=time.monotonic)
    incident_id: int | None = None
    written: bool = False
    notified: bool = False
    failures: int = 0
    notify_failures: int = 0

    def describe(self) -> dict[str, Any]:
        """The change in a log line's fields (times in UTC)."""
        fields: dict[str, Any] = {"target": self.target_id, "change": type(self.event).__name__}
        if isinstance(self.event, Opened):
            fields["start"] = self.event.start.isoformat()
            fields["detected_at"] = self.event.detected_at.isoformat()
        elif isinstance(self.event, Closed):
            fields["end"] = self.event.end.isoformat()
        return fields


Perform = Callable[[Intent], Awaitable[None]]


class IncidentJournal:
    """Performs intents in order, retrying the head until it succeeds.

    ``perform(intent)`` does the next step of an intent (write, then notify) and
    raises when it cannot; it sets ``intent.written`` / ``intent.notified`` as the
    steps succeed, so that a retry continues where it stopped.
    """

    def __init__(
        self,
        perform: Perform,
        *,
        pending_gauge: Any = None,
        stuck_after: float = 60.0,
        retry_initial: float = 0.2,
        retry_max: float = 5.0,
        notify_attempts: int = 5,
        stop_grace: float = 10.0,
    ) -> None:
        self.perform = perform
        self.pending_gauge = pending_gauge
        self.stuck_after = stuck_after
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.notify_attempts = notify_attempts
        self.stop_grace = stop_grace
        self.pending: deque[Intent] = deque()
        self._task: asyncio.Task[None] | None = None
        self._drained = asyncio.Event()
        self._drained.set()
        self._reported_stuck = False
        self.failures = 0  # failed attempts, for tests and the log

    def add(self, intent: Intent) -> None:
        """Queue a change; the journal performs it as soon as those before it are done."""
        self.pending.append(intent)
        self._drained.clear()
        self._gauge()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._drain(), name="incident-journal"
            )

    @property
    def oldest_age(self) -> float:
        """Seconds the oldest waiting intent has waited (0 when none waits)."""
        return time.monotonic() - self.pending[0].queued_at if self.pending else 0.0

    @property
    def stuck(self) -> bool:
        """The oldest intent has waited longer than ``stuck_after``: the daemon is not ready."""
        return self.oldest_age > self.stuck_after

    async def settle(self, within: float) -> bool:
        """Wait until every intent is done; False if some still wait after ``within`` s."""
        try:
            await asyncio.wait_for(self._drained.wait(), within)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """On stop: give the intents ``stop_grace`` seconds, then log what is left."""
        if not await self.settle(self.stop_grace):
            for intent in self.pending:
                log.error(
                    "incident change not written before the daemon stopped; record it with "
                    "`sla-monitor incident add`",
                    extra=intent.describe(),
                )
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _drain(self) -> None:
        delay = self.retry_initial
        while self.pending:
            intent = self.pending[0]
            try:
                await self.perform(intent)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                intent.failures += 1
                if intent.written:
                    intent.notify_failures += 1
                    if intent.notify_failures >= self.notify_attempts:
                        log.exception(
                            "incident written, but its notifications could not be queued; "
                            "the duty tracker queues a missing outage e-mail again",
                            extra=intent.describe(),
                        )
                        self._done()
                        continue
                self._report(exc, intent)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            delay = self.retry_initial
            if intent.written and intent.notified:
                self._done()
        self._drained.set()

    def _done(self) -> None:
        intent = self.pending.popleft()
        self._gauge()
        if self._reported_stuck and not self.stuck:
            self._reported_stuck = False
            log.warning(
                "incident changes are written again",
                extra={
                    **intent.describe(),
                    "waited_seconds": round(time.monotonic() - intent.queued_at, 1),
                    "still_pending": len(self.pending),
                },
            )

    def _report(self, exc: Exception, intent: Intent) -> None:
        fields = {**intent.describe(), "error": error_line(exc), "pending": len(self.pending)}
        if self.stuck and not self._reported_stuck:
            self._reported_stuck = True
            log.error(
                "incident changes cannot be written: kept in memory in order and retried; "
                "the daemon reports not ready until they are",
                extra={**fields, "waited_seconds": round(self.oldest_age, 1)},
            )
        elif intent.failures == 1:
            log.warning("incident change not written yet; retrying", extra=fields)

    def _gauge(self) -> None:
        if self.pending_gauge is not None:
            self.pending_gauge.set(len(self.pending))

