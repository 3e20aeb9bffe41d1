"""The background loop that hands operator messages from the outbox to a path besides
e-mail (the webhook, the operators' channels): a round as soon as something is written
(:meth:`Relay.wake`), else every ``interval`` seconds; a failed round is logged (a database
away is said once, without a traceback) and the next one tries again."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from monitor.notify.outbox import honour_cancellation

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = ["Relay"]

log = logging.getLogger(__name__)


class Relay:
    """``await start()``, ``wake()`` when something was written, ``await stop()``;
    subclasses give :meth:`relay_once` (one round, also callable without the task)."""

    name = "relay"

    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._wakeup = asyncio.Event()
        self._stopping = False

    async def relay_once(self) -> int:
        raise NotImplementedError

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.close()

    async def close(self) -> None:
        """What the relay holds (a client session), let go at stop."""

    def wake(self) -> None:
        self._wakeup.set()

    async def _loop(self) -> None:
        while not self._stopping:
            honour_cancellation()
            self._wakeup.clear()
            try:
                await self.relay_once()
            except Exception as exc:
                if not self.db.outage(exc):  # the database away: said once, no traceback
                    log.exception("operator relay round failed; tried again",
                                  extra={"relay": self.name})
            try:  # asyncio.timeout, not wait_for: see monitor.notify.outbox (cancellation)
                async with asyncio.timeout(self.interval):
                    await self._wakeup.wait()
            except TimeoutError:
                pass
