"""Probe history that grows with state changes and failures, not with probes (R-M7).

Results are folded in memory and written in one transaction per flush:

* a :class:`~monitor.store.models.ProbeRun` per stretch of equal state (first,
  last, count, latency min/max/sum): an up-all-day target updates one row;
* a :class:`~monitor.store.models.ProbeFailure` per failed or unknown result,
  with its error: the evidence;
* a :class:`~monitor.store.models.LatencyRollup` per target and hour, merged
  additively so that a restart in the middle of an hour loses nothing that
  was flushed.

What a ``kill -9`` can lose is the fold since the last flush (``flush_interval``,
a few seconds of counters); incidents are written at once, not here.
"""

from __future__ import annotations

import datetime as dt
import logging
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.store.db import inserted_id
from monitor.store.models import LatencyRollup, ProbeFailure, ProbeRun

log = logging.getLogger("monitor.recorder")

# Latency histogram bucket upper bounds in milliseconds, for the hourly rollups.
BUCKETS_MS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, float("inf"))


@dataclass(slots=True)
class _Run:
    id: int | None  # None until inserted
    state: str
    first_at: dt.datetime
    last_at: dt.datetime
    count: int = 0
    latency_min_ms: float | None = None
    latency_max_ms: float | None = None
    latency_sum_ms: float = 0.0
    dirty: bool = True


@dataclass(slots=True)
class _Rollup:
    count: int = 0
    failures: int = 0
    sum_ms: float = 0.0
    min_ms: float = float("inf")
    max_ms: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS_MS))


class Recorder:
    """Folds results in memory; :meth:`flush` writes them in one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._runs: dict[str, _Run] = {}
        self._closed: list[tuple[str, _Run]] = []
        self._failures: list[dict[str, Any]] = []
        self._rollups: dict[tuple[str, dt.datetime], _Rollup] = {}
        self.rows_written = 0

    async def load(self) -> None:
        """Continue each target's last run after a restart (same state → same row)."""
        # Ids grow with time, so each target's highest id is its latest run.
        latest = (
            select(ProbeRun.target_id, func.max(ProbeRun.id).label("id"))
            .group_by(ProbeRun.target_id)
            .subquery()
        )
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(ProbeRun).join(latest, ProbeRun.id == latest.c.id)
            )
            for run in rows.mappings():
                self._runs[run["target_id"]] = _Run(
                    id=run["id"],
                    state=run["state"],
                    first_at=run["first_at"],
                    last_at=run["last_at"],
                    count=run["count"],
                    latency_min_ms=run["latency_min_ms"],
                    latency_max_ms=run["latency_max_ms"],
                    latency_sum_ms=run["latency_sum_ms"],
                    dirty=False,
                )

    def record(
        self,
        target_id: str,
        state: str,
        at: dt.datetime,
        latency_ms: float | None,
        failure: dict[str, Any] | None = None,
    ) -> None:
        """Fold one result. ``failure`` carries the evidence of a failed or unknown result."""
        run = self._runs.get(target_id)
        if run is None or run.state != state:
            if run is not None:
                self._closed.append((target_id, run))
            run = _Run(id=None, state=state, first_at=at, last_at=at)
            self._runs[target_id] = run
        run.last_at = at
        run.count += 1
        run.dirty = True
        if latency_ms is not None:
            run.latency_sum_ms += latency_ms
            if run.latency_min_ms is None or latency_ms < run.latency_min_ms:
                run.latency_min_ms = latency_ms
            if run.latency_max_ms is None or latency_ms > run.latency_max_ms:
                run.latency_max_ms = latency_ms
        if failure is not None:
            self._failures.append({"target_id": target_id, "at": at, "state": state, **failure})
        hour = at.replace(minute=0, second=0, microsecond=0)
        rollup = self._rollups.get((target_id, hour))
        if rollup is None:
            rollup = self._rollups[(target_id, hour)] = _Rollup()
        rollup.count += 1
        if state != "up":
            rollup.failures += 1
        if latency_ms is not None:
            rollup.sum_ms += latency_ms
            rollup.min_ms = min(rollup.min_ms, latency_ms)
            rollup.max_ms = max(rollup.max_ms, latency_ms)
            rollup.buckets[bisect_left(BUCKETS_MS, latency_ms)] += 1

    def forget(self, target_id: str) -> None:
        """A target removed from the configuration: its open run is flushed and dropped."""
        run = self._runs.pop(target_id, None)
        if run is not None:
            self._closed.append((target_id, run))

    async def flush(self) -> int:
        """Write everything folded since the last flush; returns the rows written."""
        closed, self._closed = self._closed, []
        pending = closed + [(t, r) for t, r in self._runs.items() if r.dirty]
        failures, self._failures = self._failures, []
        rollups, self._rollups = self._rollups, {}
        if not (pending or failures or rollups):
            return 0
        new = [(t, r) for t, r in pending if r.id is None]
        old = [(t, r) for t, r in pending if r.id is not None]
        try:
            async with self.engine.begin() as connection:
                for target_id, run in new:
                    result = await connection.execute(
                        insert(ProbeRun).values(target_id=target_id, **_run_values(run))
                    )
                    run.id = inserted_id(result)
                if old:
                    await connection.execute(
                        _UPDATE_RUN, [{"run_id": r.id, **_run_values(r)} for _, r in old]
                    )
                if failures:
                    await connection.execute(insert(ProbeFailure), failures)
                if rollups:
                    await connection.execute(*self._rollup_upsert(rollups))
        except BaseException:
            # Keep what could not be written for the next flush; the open runs stay
            # dirty in place, new runs get their ids then.
            for _, run in new:
                run.id = None
            self._closed[:0] = closed
            self._failures[:0] = failures
            for key, rollup in rollups.items():
                self._merge_back(key, rollup)
            raise
        for _, run in pending:
            run.dirty = False
        written = len(pending) + len(failures) + len(rollups)
        self.rows_written += written
        return written

    def _merge_back(self, key: tuple[str, dt.datetime], rollup: _Rollup) -> None:
        current = self._rollups.get(key)
        if current is None:
            self._rollups[key] = rollup
            return
        current.count += rollup.count
        current.failures += rollup.failures
        current.sum_ms += rollup.sum_ms
        current.min_ms = min(current.min_ms, rollup.min_ms)
        current.max_ms = max(current.max_ms, rollup.max_ms)
        current.buckets = [a + b for a, b in zip(current.buckets, rollup.buckets, strict=True)]

    def _rollup_upsert(
        self, rollups: dict[tuple[str, dt.datetime], _Rollup]
    ) -> tuple[Any, list[dict[str, Any]]]:
        rows = [
            {
                "target_id": target_id,
                "hour": hour,
                "count": r.count,
                "failures": r.failures,
                "sum_ms": r.sum_ms,
                "min_ms": r.min_ms if r.count and r.min_ms != float("inf") else 0.0,
                "max_ms": r.max_ms,
                "buckets": {str(b): n for b, n in zip(BUCKETS_MS, r.buckets, strict=True) if n},
            }
            for (target_id, hour), r in rollups.items()
        ]
        dialect_insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        statement = dialect_insert(LatencyRollup)
        table = LatencyRollup.__table__
        excluded = statement.excluded
        # Additive merge: a restart mid-hour adds to what was flushed before (R-M7).
        statement = statement.on_conflict_do_update(
            index_elements=["target_id", "hour"],
            set_={
                "count": table.c.count + excluded.count,
                "failures": table.c.failures + excluded.failures,
                "sum_ms": table.c.sum_ms + excluded.sum_ms,
                "min_ms": _least(self.engine, table.c.min_ms, excluded.min_ms),
                "max_ms": _greatest(self.engine, table.c.max_ms, excluded.max_ms),
                "buckets": excluded.buckets,
            },
        )
        return statement, rows


def _least(engine: AsyncEngine, a: Any, b: Any) -> Any:
    return func.least(a, b) if engine.dialect.name == "postgresql" else func.min(a, b)


def _greatest(engine: AsyncEngine, a: Any, b: Any) -> Any:
    return func.greatest(a, b) if engine.dialect.name == "postgresql" else func.max(a, b)


# One executemany keyed by id (a Core connection has no ORM "bulk update by primary key").
_UPDATE_RUN = (
    update(ProbeRun)
    .where(ProbeRun.id == bindparam("run_id"))
    .values({name: bindparam(name) for name in (
        "state", "first_at", "last_at", "count", "latency_min_ms", "latency_max_ms",
        "latency_sum_ms")})
)


def _run_values(run: _Run) -> dict[str, Any]:
    return {
        "state": run.state,
        "first_at": run.first_at,
        "last_at": run.last_at,
        "count": run.count,
        "latency_min_ms": run.latency_min_ms,
        "latency_max_ms": run.latency_max_ms,
        "latency_sum_ms": run.latency_sum_ms,
    }
