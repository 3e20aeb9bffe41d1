"""A copy of an SQLite database made while the daemon runs (``sla-monitor db backup``).

SQLite's online backup (:meth:`sqlite3.Connection.backup`) copies the database as one read
transaction sees it: with the daemon's WAL journal, its writes go on meanwhile (they are
not in the copy) and nothing it does is blocked but a checkpoint. The copy is made in one
step, not page by page: a step-wise backup starts again whenever another connection writes
(SQLite's rule), which a daemon writing every second would make endless.

The copy is written beside its final name (``NAME.partial``, readable by its owner only:
it holds the customers' data and the evidence), checked (``PRAGMA quick_check``), switched
to a rollback journal (one self-contained file, no ``-wal`` beside it), synced to disk
and only then renamed to its name: a backup killed half-way leaves no file that looks
whole. The copy says what it holds: its schema revision and the evidence chain's last
entry, which a restore is checked against (``sla-monitor evidence check``).

PostgreSQL is backed up with its own tools (``pg_dump``); this module copies SQLite only.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import StoreError

__all__ = ["BackupMade", "backup_name", "backup_sqlite", "newest_backup", "partial_path",
           "prune_backups"]

#: A backup's name in a directory of backups (:func:`backup_name`): its UTC time, which
#: sorts as the times do; :func:`prune_backups` removes no other file.
_NAMED = re.compile(r"sla-monitor-([0-9]{8}T[0-9]{6}Z)\.db")


@dataclass(frozen=True)
class BackupMade:
    """A backup written whole: where from and to, its size, what it holds, how long."""

    source: str
    target: str
    bytes: int
    revision: str | None  # the schema's (alembic_version)
    chain_seq: int | None  # the evidence chain's last entry in the copy (None: empty chain)
    chain_hash: str | None
    seconds: float
    removed: tuple[str, ...] = ()  # older backups removed from its directory (keep)


def backup_name(at: dt.datetime) -> str:
    """The name of a backup made at ``at`` in a directory of backups.

    >>> backup_name(dt.datetime(2026, 12, 6, 21, 27, 42, tzinfo=dt.UTC))
    'sla-monitor-20261206T212742Z.db'
    """
    return f"sla-monitor-{at.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}.db"


def newest_backup(directory: Path) -> dt.datetime | None:
    """The time of the newest backup named by :func:`backup_name` in ``directory`` (by its
    name: copied or restored files keep it), None if none or no such directory."""
    if not directory.is_dir():
        return None
    times = [found[1] for path in directory.iterdir()
             if (found := _NAMED.fullmatch(path.name)) is not None]
    if not times:
        return None
    return dt.datetime.strptime(max(times), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def prune_backups(directory: Path, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest backups named by :func:`backup_name` in
    ``directory`` (no other file); the removed, oldest first."""
    found = sorted(path for path in directory.iterdir()
                   if _NAMED.fullmatch(path.name) and path.is_file())
    removed = found[:max(0, len(found) - keep)]
    for path in removed:
        path.unlink(missing_ok=True)
    if removed:
        _sync(directory)
    return removed


def partial_path(target: Path) -> Path:
    """Where the copy is written before it is whole (``NAME.partial``)."""
    return target.with_name(target.name + ".partial")


def backup_sqlite(source: Path, target: Path, *, busy_timeout: float = 30.0) -> BackupMade:
    """Copy the SQLite database ``source`` to ``target`` (which must not exist: the caller
    has checked), as one transaction sees it. A failure leaves no ``target`` (and no
    partial file); it is a :class:`StoreError` saying what failed."""
    began = time.perf_counter()
    partial = partial_path(target)
    partial.unlink(missing_ok=True)  # a backup killed before its rename: ours to replace
    # Created empty with the owner's permissions only, before SQLite writes into it.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        _copy(source, partial, busy_timeout)
        revision, head = _held(partial)
        _sync(partial)
        os.replace(partial, target)
        _sync(target.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupMade(str(source), str(target), target.stat().st_size, revision,
                      None if head is None else head[0], None if head is None else head[1],
                      time.perf_counter() - began)


def _copy(source: Path, partial: Path, busy_timeout: float) -> None:
    try:
        reading = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True, timeout=busy_timeout)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the database {source}: {exc}") from None
    try:
        copy = sqlite3.connect(partial, timeout=busy_timeout)
        try:
            reading.backup(copy)  # one step: a consistent copy (see the module's docstring)
            try:
                found = copy.execute("PRAGMA quick_check").fetchall()
            except sqlite3.DatabaseError as exc:  # damaged past what the check can list
                found = [(str(exc),)]
            if found != [("ok",)]:
                problems = "; ".join(str(row[0]) for row in found[:5])
                raise StoreError(f"the copy of {source} fails SQLite's check (the database "
                                 f"itself is damaged; nothing was written): {problems}")
            # One self-contained file: no -wal or -shm beside it once closed.
            copy.execute("PRAGMA journal_mode=DELETE").fetchall()
        finally:
            copy.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot copy the database {source} to {partial}: {exc}") from None
    finally:
        reading.close()


def _held(path: Path) -> tuple[str | None, tuple[int, str] | None]:
    """The copy's schema revision and the evidence chain's last entry (seq, hash)."""
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        revision = None
        if "alembic_version" in tables:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = None if row is None else str(row[0])
        head = None
        if "evidence_chain" in tables:
            row = connection.execute(
                "SELECT seq, hash FROM evidence_chain ORDER BY seq DESC LIMIT 1").fetchone()
            head = None if row is None else (int(row[0]), str(row[1]))
        return revision, head
    finally:
        connection.close()


def _sync(path: Path) -> None:
    """Flush ``path`` (a file, or a directory after a rename in it) to the disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
