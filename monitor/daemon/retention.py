"""The probe history stays bounded (R-M7): old rows pruned in small batches, off the hot path.

Every ``storage.retention.interval`` the daemon runs :meth:`Retention.run`: for each
kind of old row a few batches of :data:`BATCH` rows, each its own short
transaction, yielding to the event loop in between, and stopping after
:data:`MAX_BATCHES` per kind (what is left waits for the next run). A day of
40,000 targets' hourly roll-ups (960,000 rows) is merged into daily rows in a
few minutes this way, never holding the database for long:

* failures and probe runs older than ``evidence`` (at least 13 months);
* hourly latency roll-ups older than ``hourly_rollups``: merged into one row
  per target and day (:func:`monitor.store.retention.compact_hours`);
* daily roll-ups older than ``daily_rollups``.

Incidents, notifications, maintenance windows and reports are the contract's
records and are never pruned here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING

from monitor.clock import Clock
from monitor.config.schema import RetentionSettings
from monitor.daemon.metrics import DaemonMetrics
from monitor.store import retention

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = ["BATCH", "MAX_BATCHES", "Retention"]

log = logging.getLogger(__name__)

BATCH = 2000  # rows per transaction
MAX_BATCHES = 10  # per kind of row and run
COMPACT_TARGETS = BATCH // 24  # targets per compaction batch: about BATCH hourly rows


class Retention:
    def __init__(
        self, db: Database, metrics: DaemonMetrics, clock: Clock, settings: RetentionSettings
    ) -> None:
        self.db = db
        self.metrics = metrics
        self.clock = clock
        self.settings = settings

    async def run(self) -> dict[str, int]:
        """One round of pruning; returns the rows removed per table (compacted hours count
        as removed from ``latency_rollups``)."""
        now = self.clock.now()
        settings = self.settings
        evidence = now - dt.timedelta(seconds=settings.evidence)
        removed = {
            "probe_failures": await self._batches(retention.prune_failures, evidence),
            "probe_runs": await self._batches(retention.prune_runs, evidence),
            "latency_rollups": await self._compact(
                now - dt.timedelta(seconds=settings.hourly_rollups)
            ),
            "latency_rollups_daily": await self._batches(
                retention.prune_daily, now - dt.timedelta(seconds=settings.daily_rollups)
            ),
        }
        for table, count in removed.items():
            if count:
                self.metrics.pruned_rows.labels(table).inc(count)
        if any(removed.values()):
            log.info("old probe history pruned", extra={"removed": removed})
        return removed

    async def _batches(self, prune: retention.Prune, before: dt.datetime) -> int:
        total = 0
        for _ in range(MAX_BATCHES):
            async with self.db.transaction() as tx:
                count = await prune(tx, before, BATCH)
            total += count
            if count < BATCH:
                break
            await asyncio.sleep(0)
        return total

    async def _compact(self, before: dt.datetime) -> int:
        total = 0
        for _ in range(MAX_BATCHES):
            async with self.db.transaction() as tx:
                days, hours = await retention.compact_hours(tx, before, COMPACT_TARGETS)
            total += hours
            if not days:
                break
            await asyncio.sleep(0)
        return total
