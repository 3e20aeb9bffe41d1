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
from typing import TYPE_CHECKING

from monitor import __version__
from monitor.clock import Clock
from monitor.store import unknown

if TYPE_CHECKING:
    from monitor.store import Database

log = logging.getLogger(__name__)

#: A start this much earlier than the last heartbeat recorded is a wall clock set back
#: (the steady clock's own step threshold, :mod:`monitor.daemon.clocksteps`).
CLOCK_BEHIND = dt.timedelta(seconds=1)


class Heartbeat:
    def __init__(
        self, db: Database, clock: Clock, unknown_after: float, node: str | None = None
    ) -> None:
        self.db = db
        self.node = node  # in a cluster: only this node's open intervals end
        self.clock = clock
        self.unknown_after = dt.timedelta(seconds=unknown_after)
        self.session_id: int | None = None
        self.last_beat: dt.datetime | None = None

    async def start(self) -> dt.timedelta | None:
        """Open this run's session; returns the unknown gap recorded, if any."""
        now = self.clock.now()
        gap: dt.timedelta | None = None
        async with self.db.transaction() as tx:
            previous = await unknown.last_beat(tx)
            if previous is not None:
                await unknown.end_open_unknown(tx, previous, self.node)
                if now - previous > self.unknown_after:
                    gap = now - previous
                    await unknown.add_unknown(
                        tx,
                        start=previous,
                        end=now,
                        reason="daemon_down",
                        detail=f"no heartbeat for {int(gap.total_seconds())} s",
                    )
            self.session_id = await unknown.add_session(
                tx,
                started_at=now,
                hostname=socket.gethostname(),
                pid=os.getpid(),
                version=__version__,
            )
        self.last_beat = now
        if previous is not None and previous - now > CLOCK_BEHIND:
            # The steady clock keeps a run's own times in order; a start takes the wall
            # clock as it finds it (monitor.daemon.clocksteps), here earlier than records.
            log.error(
                "the wall clock is behind the last heartbeat recorded: it was set back since "
                "the last run (or is wrong now); what this run records comes before what is "
                "recorded already; check the clock (timedatectl) and the times of the "
                "incidents open across the restart",
                extra={"last_heartbeat": previous.isoformat(), "now": now.isoformat(),
                       "behind_seconds": round((previous - now).total_seconds())},
            )
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
        assert self.session_id is not None, "start() first"
        async with self.db.transaction() as tx:
            await unknown.beat(tx, self.session_id, now)
        self.last_beat = now
        return now

    async def stop(self) -> None:
        now = self.clock.now()
        if self.session_id is None:
            return
        async with self.db.transaction() as tx:
            await unknown.beat(tx, self.session_id, now, stopped=True)
