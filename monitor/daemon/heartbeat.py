"""The daemon records that it is running; a gap is unknown time (R-M3).

At start the previous sessions' last heartbeat is read: if more than
``unknown_after`` has passed, the gap is written as an ``unknown`` interval
(``daemon_down``): the monitor did not run, so nothing is known of that time,
and it is never counted as up. A blind interval the previous run left open
(it was killed while blind) ends at its last heartbeat.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor import __version__
from monitor.clock import Clock
from monitor.store.db import inserted_id
from monitor.store.models import DaemonSession, UnknownInterval

log = logging.getLogger("monitor.heartbeat")


class Heartbeat:
    def __init__(self, engine: AsyncEngine, clock: Clock, unknown_after: float) -> None:
        self.engine = engine
        self.clock = clock
        self.unknown_after = dt.timedelta(seconds=unknown_after)
        self.session_id: int | None = None
        self.last_beat: dt.datetime | None = None

    async def start(self) -> dt.timedelta | None:
        """Open this run's session; returns the unknown gap recorded, if any."""
        now = self.clock.now()
        gap: dt.timedelta | None = None
        async with self.engine.begin() as connection:
            previous = (
                await connection.execute(select(func.max(DaemonSession.last_beat_at)))
            ).scalar()
            if previous is not None:
                await connection.execute(
                    update(UnknownInterval)
                    .where(UnknownInterval.end.is_(None))
                    .values(end=previous)
                )
                if now - previous > self.unknown_after:
                    gap = now - previous
                    await connection.execute(
                        insert(UnknownInterval).values(
                            start=previous,
                            end=now,
                            reason="daemon_down",
                            detail=f"no heartbeat for {int(gap.total_seconds())} s",
                        )
                    )
            result = await connection.execute(
                insert(DaemonSession).values(
                    started_at=now,
                    last_beat_at=now,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    version=__version__,
                )
            )
            self.session_id = inserted_id(result)
        self.last_beat = now
        if gap is not None:
            log.warning(
                "daemon was not running: gap recorded as unknown time",
                extra={
                    "since": previous.isoformat() if previous else None,
                    "seconds": int(gap.total_seconds()),
                },
            )
        return gap

    async def beat(self) -> dt.datetime:
        now = self.clock.now()
        async with self.engine.begin() as connection:
            await connection.execute(
                update(DaemonSession)
                .where(DaemonSession.id == self.session_id)
                .values(last_beat_at=now)
            )
        self.last_beat = now
        return now

    async def stop(self) -> None:
        now = self.clock.now()
        async with self.engine.begin() as connection:
            await connection.execute(
                update(DaemonSession)
                .where(DaemonSession.id == self.session_id)
                .values(last_beat_at=now, stopped_at=now)
            )
