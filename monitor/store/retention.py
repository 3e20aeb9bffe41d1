"""Retention of the probe history (R-M7, ``storage.retention``), in small batches.

Each function does one bounded step in the caller's transaction, so that the
daemon's retention job (:mod:`monitor.daemon.retention`) holds the write lock
for a few milliseconds at a time, between the flushes and the probes:

* :func:`prune_failures`, :func:`prune_runs`: evidence older than
  ``evidence`` (at least 13 months), oldest first. A run is pruned by its
  *end* (``last_at``): a target up for two years keeps its one run;
* :func:`compact_hours`: the hourly roll-ups of the oldest day past
  ``hourly_rollups``, for a batch of targets, merged into one daily row each
  (counts and sums added, minimum and maximum kept, histogram buckets added)
  and deleted, in the same transaction;
* :func:`prune_daily`: daily roll-ups older than ``daily_rollups``.

This module is the only writer of ``latency_rollups_daily`` and, with
:mod:`monitor.store.history`, of the probe-history tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import delete, func, select, tuple_

from monitor.store import evidence
from monitor.store.db import Tx, dialect_insert
from monitor.store.models import LatencyRollup, LatencyRollupDaily, ProbeFailure, ProbeRun

__all__ = ["Prune", "compact_hours", "prune_daily", "prune_failures", "prune_runs"]

DAY = dt.timedelta(days=1)

Prune = Callable[[Tx, dt.datetime, int], Awaitable[int]]
"""A pruning step: (transaction, before, at most so many rows) -> rows deleted."""


async def prune_failures(tx: Tx, before: dt.datetime, limit: int) -> int:
    """Failures (evidence) recorded before ``before``, oldest first, at most ``limit``;
    returns how many were deleted."""
    chosen = select(ProbeFailure.id).where(ProbeFailure.at < before)
    keys = list(await tx.scalars(chosen.order_by(ProbeFailure.at).limit(limit)))
    if keys:
        await tx.execute(delete(ProbeFailure).where(ProbeFailure.id.in_(keys)))
        await evidence.record_pruned(tx, "probe_failures", keys)
    return len(keys)


async def prune_runs(tx: Tx, before: dt.datetime, limit: int) -> int:
    """Runs that ended before ``before``, oldest first, at most ``limit``."""
    chosen = select(ProbeRun.id).where(ProbeRun.last_at < before)
    keys = list(await tx.scalars(chosen.order_by(ProbeRun.last_at).limit(limit)))
    if keys:
        await tx.execute(delete(ProbeRun).where(ProbeRun.id.in_(keys)))
        await evidence.record_pruned(tx, "probe_runs", keys)
    return len(keys)


async def prune_daily(tx: Tx, before: dt.datetime, limit: int) -> int:
    """Daily roll-ups of days that began before ``before``, oldest first, at most ``limit``."""
    daily = LatencyRollupDaily
    chosen = (
        select(daily.target_id, daily.day)
        .where(daily.day < before)
        .order_by(daily.day)
        .limit(limit)
    )
    keys = [(target, day) for target, day in await tx.execute(chosen)]
    if keys:
        await tx.execute(delete(daily).where(tuple_(daily.target_id, daily.day).in_(keys)))
    return len(keys)


async def compact_hours(tx: Tx, before: dt.datetime, targets: int) -> tuple[int, int]:
    """Merge the hours of the oldest day that ended by ``before`` into daily rows, for at
    most ``targets`` targets; returns (daily rows written, hourly rows deleted)."""
    hourly = LatencyRollup
    oldest = (await tx.execute(select(func.min(hourly.hour)))).scalar()
    if oldest is None:
        return 0, 0
    if oldest.tzinfo is None:  # SQLite keeps naive UTC; this query reads it raw
        oldest = oldest.replace(tzinfo=dt.UTC)
    day = oldest.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if day + DAY > before:
        return 0, 0
    in_day = (hourly.hour >= day, hourly.hour < day + DAY)
    chosen = (
        select(hourly.target_id)
        .where(*in_day)
        .group_by(hourly.target_id)
        .order_by(hourly.target_id)
        .limit(targets)
    )
    names = list(await tx.scalars(chosen))
    hours = list(await tx.scalars(select(hourly).where(*in_day, hourly.target_id.in_(names))))
    merged: dict[str, dict[str, Any]] = {}
    for hour in hours:
        into = merged.get(hour.target_id)
        if into is None:
            into = merged[hour.target_id] = {
                "target_id": hour.target_id,
                "day": day,
                "count": 0,
                "failures": 0,
                "sum_ms": 0.0,
                "min_ms": None,
                "max_ms": 0.0,
                "buckets": {},
            }
        into["count"] += hour.count
        into["failures"] += hour.failures
        into["sum_ms"] += hour.sum_ms
        if hour.count:  # an hour with no latency has min_ms 0.0 as a placeholder
            into["min_ms"] = hour.min_ms if into["min_ms"] is None else min(into["min_ms"],
                                                                            hour.min_ms)
        into["max_ms"] = max(into["max_ms"], hour.max_ms)
        for bound, count in (hour.buckets or {}).items():
            into["buckets"][bound] = into["buckets"].get(bound, 0) + int(count)
    daily = list(merged.values())
    for row in daily:
        row["min_ms"] = row["min_ms"] if row["min_ms"] is not None else 0.0
    if daily:
        await _merge_daily(tx, daily)
    await tx.execute(delete(hourly).where(*in_day, hourly.target_id.in_(names)))
    return len(daily), len(hours)


async def _merge_daily(tx: Tx, rows: list[dict[str, Any]]) -> None:
    """Upsert daily rows, adding to a row a previous compaction of the same day wrote (hours
    of that day written after it, e.g. by a daemon whose clock was behind)."""
    daily = LatencyRollupDaily
    existing = {
        target: row
        for target, *row in await tx.execute(
            select(
                daily.target_id,
                daily.count,
                daily.failures,
                daily.sum_ms,
                daily.min_ms,
                daily.max_ms,
                daily.buckets,
            ).where(
                daily.day == rows[0]["day"],
                daily.target_id.in_([row["target_id"] for row in rows]),
            )
        )
    }
    for row in rows:
        found = existing.get(row["target_id"])
        if found is None:
            continue
        count, failures, sum_ms, min_ms, max_ms, buckets = found
        if count:
            row["min_ms"] = min(row["min_ms"], min_ms) if row["count"] else min_ms
        row["count"] += count
        row["failures"] += failures
        row["sum_ms"] += sum_ms
        row["max_ms"] = max(row["max_ms"], max_ms)
        for bound, n in (buckets or {}).items():
            row["buckets"][bound] = row["buckets"].get(bound, 0) + int(n)
    connection = await tx.connection()
    statement = dialect_insert(tx)(daily)
    statement = statement.on_conflict_do_update(
        index_elements=["target_id", "day"],
        set_={
            name: statement.excluded[name]
            for name in ("count", "failures", "sum_ms", "min_ms", "max_ms", "buckets")
        },
    )
    await connection.execute(statement, rows)
