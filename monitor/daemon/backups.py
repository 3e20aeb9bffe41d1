"""Copies of the SQLite database the daemon makes itself (``storage.backup``): ``sla-monitor
db backup DIRECTORY --keep N`` on a schedule, and a gauge that says when the last one was
made, so that backups that stopped are an alert (``SlaMonitorBackupStale``), not a
discovery on the day one is needed.

The job looks every tenth of ``every`` (at most hourly, and at start): a copy is due when
the newest one in the directory (by its name's UTC time, so a restart changes nothing)
is ``every`` old or more, or there is none. A copy is SQLite's online backup in one step
(:mod:`monitor.store.backup`): the daemon's writes go on meanwhile. A failure (a full
disk, a directory gone) is logged in one line and counted; the next look tries again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from monitor import actions
from monitor.clock import Clock
from monitor.config.schema import BackupSettings
from monitor.errors import MonitorError
from monitor.store.backup import newest_backup
from monitor.store.migrate import sqlite_path

if TYPE_CHECKING:
    from monitor.daemon.metrics import DaemonMetrics
    from monitor.store import Database

__all__ = ["Backups", "look_interval"]

log = logging.getLogger(__name__)


def look_interval(settings: BackupSettings) -> float:
    """How often the job looks whether a copy is due: a tenth of ``every``, at most hourly."""
    return max(1.0, min(settings.every / 10, 3600.0))


class Backups:
    """The daemon's copies of its database (``storage.backup``)."""

    def __init__(self, db: Database, clock: Clock, settings: BackupSettings,
                 metrics: DaemonMetrics) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.last_success = metrics.backup_last_success
        self.failures = metrics.backup_failures
        metrics.backup_interval.set(settings.every if self.directory is not None else 0)

    @property
    def directory(self) -> Path | None:
        """Where the copies go: absolute, or relative to the SQLite database's directory."""
        if self.settings.directory is None:
            return None
        given = Path(self.settings.directory).expanduser()
        if given.is_absolute():
            return given
        database = sqlite_path(self.db.engine.url)
        return (database.parent if database is not None else Path.cwd()) / given

    def _due(self, directory: Path, now: dt.datetime) -> bool:
        """Whether a copy is due (the gauge set from the newest there); the directory made
        (owner-only) when one is."""
        newest = newest_backup(directory)
        if newest is not None:
            self.last_success.set(newest.timestamp())
            if (now - newest).total_seconds() < self.settings.every:
                return False
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return True

    async def run(self) -> None:
        """One look: a copy if one is due. Never raises (a job body)."""
        directory = self.directory
        if directory is None:
            return
        now = self.clock.now()
        try:
            if not await asyncio.to_thread(self._due, directory, now):
                return
            made = await actions.backup_database(self.db, backup_path=str(directory),
                                                 keep=self.settings.keep, now=now)
        except (MonitorError, OSError) as exc:
            self.failures.inc()
            log.error("database backup failed; tried again at the next look",
                      extra={"directory": str(directory), "error": str(exc)})
            return
        except Exception:
            self.failures.inc()
            log.exception("database backup failed; tried again at the next look")
            return
        self.last_success.set(now.timestamp())
        log.info("database backup written", extra={
            "path": made.target, "bytes": made.bytes, "seconds": round(made.seconds, 3),
            "chain_seq": made.chain_seq, "removed": len(made.removed)})
