"""What the database holds and how fast the probe history grows (``sla-monitor db stats``).

R-M7 wants storage to grow with state changes and failures, not with probes: a target
that stays up costs one run row and 24 hourly roll-ups a day, and after
``storage.retention.hourly_rollups`` one daily roll-up. :func:`database_stats` shows
each table's rows and bytes, and for the probe-history tables the rows added in the
last day (or since the history began, if younger) per target and day, with the bytes
that makes at the table's average row size.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from monitor.config import Settings
from monitor.errors import InputError, UsageError
from monitor.store import Database, stats
from monitor.store.backup import (
    BackupMade,
    backup_name,
    backup_sqlite,
    partial_path,
    prune_backups,
)
from monitor.store.migrate import sqlite_path

__all__ = ["BackupMade", "DatabaseStats", "TableStats", "backup_database", "database_stats"]

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class TableStats:
    table: str
    rows: int
    bytes: int | None
    bytes_per_row: float | None
    # Probe-history tables only (None for the others): added in the window, per target-day.
    rows_per_target_day: float | None
    bytes_per_target_day: float | None


@dataclass(frozen=True)
class DatabaseStats:
    database: str  # the URL without its password
    dialect: str
    targets: int  # configured probe targets (canaries included)
    window_start: dt.datetime | None  # what the growth was measured over (None: no history)
    window_end: dt.datetime
    tables: list[TableStats]  # the probe history first, then the rest by name
    rows: int  # all tables together
    bytes: int | None
    rows_per_target_day: float | None  # the probe history together
    bytes_per_target_day: float | None


def _total(values: list[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return sum(found) if found else None


async def database_stats(db: Database, settings: Settings, *, now: dt.datetime) -> DatabaseStats:
    """Rows and bytes per table, and the probe history's growth per target-day over the last
    day (or since the history began)."""
    targets = len(settings.topology.targets())
    async with db.reading() as tx:
        sizes = await stats.table_sizes(tx)
        oldest = await stats.oldest_history(tx)
        start = None if oldest is None else max(oldest, now - DAY)
        added = await stats.history_rows_since(tx, start) if start is not None else {}
    days = (now - start) / DAY if start is not None else 0.0
    tables = []
    history = list(stats.HISTORY_TIMES)
    order = {name: (0, history.index(name)) for name in history}
    for size in sorted(sizes, key=lambda s: order.get(s.table, (1, s.table))):
        per_row = size.bytes / size.rows if size.bytes is not None and size.rows else None
        rows_per_day = bytes_per_day = None
        if size.table in stats.HISTORY_TIMES and targets and days > 0:
            # A table younger than a day: its rows so far, scaled to a day.
            rows_per_day = added.get(size.table, 0) / targets / max(days, 1 / 24)
            bytes_per_day = rows_per_day * per_row if per_row is not None else None
        tables.append(
            TableStats(size.table, size.rows, size.bytes, per_row, rows_per_day, bytes_per_day)
        )
    sizes_known = all(t.bytes is not None for t in tables)
    return DatabaseStats(
        database=db.where(),
        dialect=db.dialect,
        targets=targets,
        window_start=start,
        window_end=now,
        tables=tables,
        rows=sum(t.rows for t in tables),
        bytes=sum(t.bytes or 0 for t in tables) if sizes_known else None,
        rows_per_target_day=_total([t.rows_per_target_day for t in tables]),
        bytes_per_target_day=_total([t.bytes_per_target_day for t in tables]),
    )


async def backup_database(db: Database, *, backup_path: str, keep: int | None = None,
                          now: dt.datetime) -> BackupMade:
    """A copy of the SQLite database at ``backup_path``, made while the daemon runs
    (:mod:`monitor.store.backup`: one consistent read, checked, synced, then named).

    ``backup_path`` names a file that does not exist yet, in a directory that does (a backup
    never replaces a file: an older backup, or the database itself); or a directory, where
    the copy is named by its UTC time (``sla-monitor-20261206T212742Z.db``, what a timer
    runs), and ``keep`` then removes all but the newest ``keep`` backups so named, once
    the new one is whole. A PostgreSQL database is refused: it is backed up with its own
    tools (``pg_dump``)."""
    source = sqlite_path(db.engine.url)
    if source is None:
        raise UsageError(
            f"db backup copies an SQLite database; the configured one is {db.where()}: back "
            "PostgreSQL up with its own tools, pg_dump and pg_restore (README, Backups)")
    if keep is not None and keep < 1:
        raise InputError("keep", str(keep), "1 or more: the backups kept, the new one among "
                         "them")
    return await asyncio.to_thread(_backup, source, backup_path, keep, now)


def _backup(source: Path, backup_path: str, keep: int | None, now: dt.datetime) -> BackupMade:
    """:func:`backup_database` once the database is known to be an SQLite file (the file
    system's checks and the copy, off the event loop)."""
    if not source.exists():
        raise UsageError(f"no database at {source} to back up (sla-monitor db upgrade "
                         "creates it)")
    given = Path(backup_path).expanduser().absolute() if backup_path.strip() else None
    if given is None or given.name in ("", ".", ".."):
        raise InputError("backup_path", backup_path, "the file to write the copy to, or a "
                         "directory to write it into")
    if given.is_dir():
        target = given / backup_name(now)
        if target.exists():
            raise InputError("backup_path", backup_path, f"a directory without a backup of "
                             f"this second ({target.name} is there)")
    else:
        target = given
        if keep is not None:
            raise InputError("keep", str(keep), "a directory as {backup_path} (the backups "
                             "kept are those named by their time in it)")
        if target.exists():
            raise InputError("backup_path", backup_path, "a file that does not exist yet (a "
                             "backup never replaces a file), or a directory")
        if not target.parent.is_dir():
            raise InputError("backup_path", backup_path, "a file in a directory that exists "
                             f"({target.parent} does not)")
        if partial_path(target) == source:
            raise InputError("backup_path", backup_path, "another file than the database's")
    made = backup_sqlite(source, target)
    if keep is None:
        return made
    removed = prune_backups(target.parent, keep)
    return dataclasses.replace(made, removed=tuple(str(path) for path in removed))
