"""Probe history (R-M7): runs of equal state, every failure as evidence, hourly latency
roll-ups. The only writer of ``probe_runs``, ``probe_failures`` and ``latency_rollups``;
:class:`monitor.daemon.recorder.Recorder` decides what to write, in one transaction per flush.

Rows go in as plain dicts of column values: a flush at start-up, or in a mass outage,
writes a row per target (20,000 here), and building ORM objects for them would cost more
than the statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from monitor.store import evidence
from monitor.store.db import Tx, dialect_insert
from monitor.store.models import LatencyRollup, ProbeFailure, ProbeRun

__all__ = [
    "RUN_COLUMNS",
    "ProbeRunRecord",
    "RollupRecord",
    "add_failures",
    "chain_closed_runs",
    "first_failure",
    "insert_runs",
    "latency_hours",
    "latest_runs",
    "latest_states",
    "rollups_since",
    "update_runs",
    "upsert_rollups",
]

RUN_COLUMNS = (
    "state",
    "first_at",
    "last_at",
    "count",
    "latency_min_ms",
    "latency_max_ms",
    "latency_sum_ms",
)
_ROLLUP_COLUMNS = ("count", "failures", "sum_ms", "min_ms", "max_ms", "buckets")


@dataclass(frozen=True, slots=True)
class ProbeRunRecord:
    id: int
    target_id: str
    state: str
    first_at: dt.datetime
    last_at: dt.datetime
    count: int
    latency_min_ms: float | None
    latency_max_ms: float | None
    latency_sum_ms: float


@dataclass(frozen=True, slots=True)
class RollupRecord:
    target_id: str
    hour: dt.datetime
    count: int
    failures: int
    sum_ms: float
    min_ms: float
    max_ms: float
    buckets: dict[str, Any]  # latency bucket upper bound (ms) -> count


async def latest_runs(tx: Tx) -> list[ProbeRunRecord]:
    """Each target's latest run (ids grow with time, so its highest id)."""
    runs = ProbeRun.__table__
    latest = (
        select(runs.c.target_id, func.max(runs.c.id).label("id"))
        .group_by(runs.c.target_id)
        .subquery()
    )
    connection = await tx.connection()
    rows = await connection.execute(select(runs).join(latest, runs.c.id == latest.c.id))
    return [
        ProbeRunRecord(
            run["id"],
            run["target_id"],
            run["state"],
            run["first_at"],
            run["last_at"],
            run["count"],
            run["latency_min_ms"],
            run["latency_max_ms"],
            run["latency_sum_ms"],
        )
        for run in rows.mappings()
    ]


async def latest_states(
    tx: Tx, target_ids: Sequence[str]
) -> dict[str, tuple[str, dt.datetime]]:
    """Target id -> (state of its latest run, when that run was last seen), for the few
    targets named (the public services of the status page)."""
    if not target_ids:
        return {}
    runs = ProbeRun.__table__
    latest = (
        select(func.max(runs.c.id).label("id"))
        .where(runs.c.target_id.in_(list(target_ids)))
        .group_by(runs.c.target_id)
        .subquery()
    )
    connection = await tx.connection()
    rows = await connection.execute(
        select(runs.c.target_id, runs.c.state, runs.c.last_at).where(
            runs.c.id.in_(select(latest.c.id))
        )
    )
    return {target_id: (state, last_at) for target_id, state, last_at in rows}


async def rollups_since(tx: Tx, since: dt.datetime) -> list[RollupRecord]:
    rows = await tx.scalars(select(LatencyRollup).where(LatencyRollup.hour >= since))
    return [
        RollupRecord(
            r.target_id, r.hour, r.count, r.failures, r.sum_ms, r.min_ms, r.max_ms, r.buckets or {}
        )
        for r in rows
    ]


async def latency_hours(
    tx: Tx, target_ids: Sequence[str], since: dt.datetime, until: dt.datetime
) -> list[RollupRecord]:
    """The hourly roll-ups of ``target_ids`` for the hours starting in [since, until), by
    target and hour (the status page's response-time charts)."""
    if not target_ids:
        return []
    rows = await tx.scalars(
        select(LatencyRollup)
        .where(LatencyRollup.target_id.in_(list(target_ids)),
               LatencyRollup.hour >= since, LatencyRollup.hour < until)
        .order_by(LatencyRollup.target_id, LatencyRollup.hour)
    )
    return [
        RollupRecord(
            r.target_id, r.hour, r.count, r.failures, r.sum_ms, r.min_ms, r.max_ms, r.buckets or {}
        )
        for r in rows
    ]


_INSERT_RUN = insert(ProbeRun).returning(ProbeRun.target_id, ProbeRun.id)
# Each failure's id and target: a multi-row INSERT numbers its rows in the order given (on
# SQLite and PostgreSQL), checked against the targets before chaining from the values.
_INSERT_FAILURE = insert(ProbeFailure).returning(ProbeFailure.id, ProbeFailure.target_id)

# One executemany keyed by id (a Core connection has no ORM "bulk update by primary key").
_UPDATE_RUN = (
    update(ProbeRun)
    .where(ProbeRun.id == bindparam("run_id"))
    .values({name: bindparam(name) for name in RUN_COLUMNS})
)


async def insert_runs(tx: Tx, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """New runs, each target at most once: one multi-row ``INSERT ... RETURNING`` (at start-up
    every target has a new run, and 20,000 single inserts held the write lock for about
    20 s, measured). Returns target id -> the new run's id."""
    connection = await tx.connection()
    result = await connection.execute(_INSERT_RUN, list(rows))
    return {target_id: run_id for target_id, run_id in result}


async def update_runs(tx: Tx, rows: Sequence[dict[str, Any]]) -> None:
    """Runs that grew: each row holds ``run_id`` and :data:`RUN_COLUMNS`."""
    connection = await tx.connection()
    await connection.execute(_UPDATE_RUN, list(rows))


async def add_failures(tx: Tx, rows: Sequence[dict[str, Any]]) -> None:
    """Failed or unknown results with their errors: the R-M7 evidence, chained."""
    connection = await tx.connection()
    given = list(rows)
    written = sorted((int(i), t) for i, t in await connection.execute(_INSERT_FAILURE, given))
    ids = [i for i, _ in written]
    if [t for _, t in written] == [r["target_id"] for r in given]:
        # Chained from the values inserted (reading the rows back was half the chain's
        # cost); `evidence check` still compares each chained form with its row.
        await evidence.append_inserted(tx, "probe.failure", "probe_failures", ids, given)
    else:  # the ids' order is not the rows': chain the rows as read back
        await evidence.append(tx, "probe.failure", "probe_failures", ids)


async def chain_closed_runs(tx: Tx, new_run_ids: Sequence[int]) -> None:
    """Chain the run each of these new runs followed: it is closed and will not grow again
    (a run still growing is chained when it closes; call after the flush's updates)."""
    if not new_run_ids:
        return
    connection = await tx.connection()
    runs = ProbeRun.__table__
    later = runs.alias("later")
    # Each new run's predecessor of its target (a run that began and ended within one flush
    # is one of them too).
    previous = (
        select(func.max(runs.c.id))
        .join(later, (later.c.target_id == runs.c.target_id) & (runs.c.id < later.c.id))
        .where(later.c.id.in_(list(new_run_ids)))
        .group_by(later.c.id)
    )
    closed = sorted({int(i) for i in await connection.scalars(previous) if i is not None})
    await evidence.append(tx, "probe.run", "probe_runs", closed)


async def first_failure(
    tx: Tx, target_id: str, start: dt.datetime, until: dt.datetime
) -> tuple[str, str] | None:
    """The class and detail of ``target_id``'s first failure stored from ``start`` to
    ``until`` (the one that opened an incident starting at ``start``, R-M1), at any of its
    vantages (``ID@VANTAGE``); None when none is stored."""
    found = (await tx.execute(
        select(ProbeFailure.failure_class, ProbeFailure.detail)
        .where((ProbeFailure.target_id == target_id)
               | ProbeFailure.target_id.startswith(target_id + "@", autoescape=True),
               ProbeFailure.at >= start, ProbeFailure.at <= until,
               ProbeFailure.state == "down")
        .order_by(ProbeFailure.at, ProbeFailure.id).limit(1))).first()
    return None if found is None else (found[0], found[1])


async def last_failure_at(tx: Tx, target_id: str, since: dt.datetime) -> dt.datetime | None:
    """When the latest failure of ``target_id`` stored from ``since`` on was seen (the
    daemon's own target, not a vantage's); None when none is stored."""
    found: dt.datetime | None = await tx.scalar(
        select(func.max(ProbeFailure.at)).where(
            ProbeFailure.target_id == target_id, ProbeFailure.at >= since,
            ProbeFailure.state == "down"))
    return found


async def upsert_rollups(tx: Tx, rows: Sequence[dict[str, Any]]) -> None:
    """Whole (cumulative) hours per target: each replaces what an earlier flush wrote, so the
    latency histogram stays exact across flushes and restarts."""
    connection = await tx.connection()
    statement = dialect_insert(tx)(LatencyRollup)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["target_id", "hour"],
        set_={name: excluded[name] for name in _ROLLUP_COLUMNS},
    )
    await connection.execute(statement, list(rows))
