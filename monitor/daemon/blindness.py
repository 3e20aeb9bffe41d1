"""When the monitor itself cannot see (R-M2): results are ``unknown``, not ``down``.

Two signs that a failure is ours, not the target's:

* **Canaries** (``monitor.canaries``): reference endpoints outside the provider.
  When at least ``canary_quorum`` of them fail, our own connectivity is gone.
* **The resolver**: :data:`RESOLVER_QUORUM` distinct targets failing DNS in a
  row, and no other result, means our resolver is broken, not theirs.

While blind, results count as unknown: no incident opens, and the time is
stored as an unknown interval (``canaries_failed`` or ``resolver_failed``)
until we can see again. Before a target's failure streak would open an
incident, :meth:`Blindness.confirm` checks the canaries *now*, so a network
blip on our side never becomes a customer incident.

The ordinary Iran-wide internet cut-offs that the SLA itself lists (004) are
the reason this exists: they must not produce a flood of false incidents.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from monitor.daemon.metrics import DaemonMetrics
from monitor.probes import ProbeResult
from monitor.store import unknown

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = ["RESOLVER_QUORUM", "Blindness"]

log = logging.getLogger("monitor.monitor")

# R-M2: this many distinct targets failing DNS in a row, and no other result, means
# our resolver is broken, not theirs.
RESOLVER_QUORUM = 3
PERSIST_FOR = 60.0  # seconds an unknown interval's write is retried


class Blindness:
    """Whether the monitor is blind, and the unknown intervals that record it (R-M2)."""

    def __init__(self, db: Database, metrics: DaemonMetrics) -> None:
        self.db = db
        self.metrics = metrics
        self.reason: str | None = None  # canaries_failed | resolver_failed, None: we can see
        self.canary_states: dict[str, str] = {}
        self._canaries: tuple[str, ...] = ()
        self._quorum = 1.0
        self._watched = 0
        self._interval_id: int | None = None
        self._dns_streak: set[str] = set()
        self._confirming = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()

    def configure(self, canaries: Iterable[str], quorum: float, watched: int) -> None:
        """The canary ids, the fraction of them that must fail, and how many other targets
        are watched (a configuration, or a reload of one)."""
        self._canaries = tuple(canaries)
        self._quorum = quorum
        self._watched = watched
        for gone in set(self.canary_states) - set(self._canaries):
            del self.canary_states[gone]

    @property
    def blind(self) -> bool:
        return self.reason is not None

    async def canary_result(self, result: ProbeResult) -> None:
        """A canary's result: blind when the quorum fails, seeing again when it does not."""
        self.canary_states[result.target_id] = result.state
        failing = sum(1 for c in self._canaries if self.canary_states.get(c) == "down")
        blind = bool(self._canaries) and failing / len(self._canaries) >= self._quorum
        if blind and self.reason is None:
            await self._set("canaries_failed", result.at)
        elif not blind and self.reason == "canaries_failed":
            await self._set(None, result.at)

    async def confirm(self, check_canaries: Callable[[], Awaitable[None]]) -> bool:
        """Check the canaries now (once for concurrent callers, through ``check_canaries``,
        which feeds their results back to :meth:`canary_result`); True if we are blind."""
        if self.reason is not None:
            return True
        if not self._canaries:
            return False
        async with self._confirming:
            if self.reason is None:
                await check_canaries()
        return self.reason is not None

    def failure(self, result: ProbeResult) -> None:
        """A target failed: a DNS failure extends the resolver streak, anything else ends it."""
        if result.failure_class != "dns":
            self._dns_streak.clear()
            return
        self._dns_streak.add(result.target_id)
        watched = self._watched
        if (
            self.reason is None
            and len(self._dns_streak) >= min(RESOLVER_QUORUM, watched)
            and watched >= RESOLVER_QUORUM
        ):
            self._spawn(self._set("resolver_failed", result.at))

    async def success(self, at: dt.datetime) -> None:
        """A target answered: the resolver works again."""
        self._dns_streak.clear()
        if self.reason == "resolver_failed":
            await self._set(None, at)

    async def close(self, at: dt.datetime) -> None:
        """On shutdown, the unknown interval ends with us (the heartbeat gap takes over)."""
        if self.reason is not None:
            await self._set(None, at)

    async def _set(self, reason: str | None, at: dt.datetime) -> None:
        previous, self.reason = self.reason, reason
        if reason == previous:
            return
        self.metrics.monitor_blind.set(1 if reason else 0)

        async def work(tx: Tx) -> int | None:
            if self._interval_id is not None:
                await unknown.end_unknown(tx, self._interval_id, at)
            if reason is None:
                return None
            return await unknown.add_unknown(tx, start=at, end=None, reason=reason, detail=None)

        # Unknown time must not be lost to a database that is briefly locked or away (R-M3,
        # issue 13): retried for a while, as the outbox's outcomes are.
        self._interval_id = await self.db.run(work, retry_for=PERSIST_FOR)
        if reason is not None:
            self.metrics.unknown_intervals.labels(reason).inc()
        log.warning(
            "monitor blind" if reason else "monitor can see again",
            extra={"reason": reason or previous, "at": at.isoformat()},
        )

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
