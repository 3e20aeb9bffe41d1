"""Probe history that grows with state changes and failures, not with probes (R-M7).

Results are folded in memory and written in one transaction per flush (the rows
through :mod:`monitor.store.history`, the only writer of these tables):

* a :class:`~monitor.store.models.ProbeRun` per stretch of equal state (first,
  last, count, latency min/max/sum): an up-all-day target updates one row;
* a :class:`~monitor.store.models.ProbeFailure` per failed or unknown result,
  with its error: the evidence;
* a :class:`~monitor.store.models.LatencyRollup` per target and hour, merged
  additively so that a restart in the middle of an hour loses nothing that
  was flushed.

What a ``kill -9`` can lose is the fold since the last flush (``flush_interval``,
a few seconds of counters); incidents are written at once, not here.

**Bounded while the database is away** (issue 13): a failed flush keeps everything
for the next one, but failures waiting to be written are capped
(``max_pending_failures``, 200,000: some 100 MB). Beyond it new failures are not kept:
they are counted (``sla_monitor_probe_results_dropped_total``), logged once, and the
span they covered is written as unknown time (``store_unavailable``, R-M3) by the
first flush that succeeds, so results that could not be stored are never silently
counted as up. Runs and roll-ups are per target and hour, bounded already.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from monitor.store import history, unknown

if TYPE_CHECKING:
    from monitor.store import Database

log = logging.getLogger("monitor.recorder")

# Finished hours stay in memory this long, for results that arrive late for their hour.
ROLLUP_KEPT = dt.timedelta(hours=1)


def _hour(at: dt.datetime) -> dt.datetime:
    return at.replace(minute=0, second=0, microsecond=0)


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

    def __init__(
        self,
        db: Database,
        *,
        max_pending_failures: int = 200_000,
        dropped: Any = None,
    ) -> None:
        self.db = db
        self.max_pending_failures = max_pending_failures
        self.dropped_counter = dropped  # a Prometheus counter, or None
        # Failures not kept while the database was away: (count, first at, last at).
        self._dropped: tuple[int, dt.datetime, dt.datetime] | None = None
        self._runs: dict[str, _Run] = {}
        self._closed: list[tuple[str, _Run]] = []
        self._failures: list[dict[str, Any]] = []
        # Cumulative per target and hour; written whole (not as deltas) when dirty, so the
        # latency histogram stays exact across flushes. ``load`` restores the recent hours.
        self._rollups: dict[tuple[str, dt.datetime], _Rollup] = {}
        self._dirty_rollups: set[tuple[str, dt.datetime]] = set()
        self.rows_written = 0
        # One flush at a time: a scheduled flush may still run when stop() flushes, and two
        # would both insert the same new run (its id is set only when the insert returns).
        self._flushing = asyncio.Lock()

    async def load(self) -> None:
        """Continue each target's last run after a restart (same state → same row)."""
        # The hour in progress continues from what was flushed before a restart.
        since = _hour(dt.datetime.now(dt.UTC)) - ROLLUP_KEPT
        async with self.db.reading() as tx:
            runs = await history.latest_runs(tx)
            rollups = await history.rollups_since(tx, since)
        for run in runs:
            self._runs[run.target_id] = _Run(
                id=run.id,
                state=run.state,
                first_at=run.first_at,
                last_at=run.last_at,
                count=run.count,
                latency_min_ms=run.latency_min_ms,
                latency_max_ms=run.latency_max_ms,
                latency_sum_ms=run.latency_sum_ms,
                dirty=False,
            )
        for r in rollups:
            self._rollups[(r.target_id, r.hour)] = _Rollup(
                count=r.count,
                failures=r.failures,
                sum_ms=r.sum_ms,
                min_ms=r.min_ms if r.count else float("inf"),
                max_ms=r.max_ms,
                buckets=[int(r.buckets.get(str(b), 0)) for b in BUCKETS_MS],
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
            if len(self._failures) < self.max_pending_failures:
                self._failures.append(
                    {"target_id": target_id, "at": at, "state": state, **failure}
                )
            else:
                self._drop(at)
        hour = _hour(at)
        key = (target_id, hour)
        rollup = self._rollups.get(key)
        if rollup is None:
            rollup = self._rollups[key] = _Rollup()
        self._dirty_rollups.add(key)
        rollup.count += 1
        if state != "up":
            rollup.failures += 1
        if latency_ms is not None:
            rollup.sum_ms += latency_ms
            rollup.min_ms = min(rollup.min_ms, latency_ms)
            rollup.max_ms = max(rollup.max_ms, latency_ms)
            rollup.buckets[bisect_left(BUCKETS_MS, latency_ms)] += 1

    def _drop(self, at: dt.datetime) -> None:
        if self._dropped is None:
            log.error(
                "probe failures cannot be stored and are no longer kept; the span they cover "
                "becomes unknown time once the database takes writes again",
                extra={"kept": len(self._failures), "since": at.isoformat()},
            )
            self._dropped = (1, at, at)
        else:
            count, first, last = self._dropped
            self._dropped = (count + 1, min(first, at), max(last, at))
        if self.dropped_counter is not None:
            self.dropped_counter.inc()

    def forget(self, target_id: str) -> None:
        """A target removed from the configuration: its open run is flushed and dropped."""
        run = self._runs.pop(target_id, None)
        if run is not None:
            self._closed.append((target_id, run))

    async def flush(self) -> int:
        """Write everything folded since the last flush; returns the rows written."""
        async with self._flushing:
            return await self._flush()

    async def _flush(self) -> int:
        closed, self._closed = self._closed, []
        pending = closed + [(t, r) for t, r in self._runs.items() if r.dirty]
        failures, self._failures = self._failures, []
        dirty, self._dirty_rollups = self._dirty_rollups, set()
        rollups = {key: self._rollups[key] for key in dirty}
        dropped, self._dropped = self._dropped, None
        if not (pending or failures or rollups or dropped):
            return 0
        new = [(t, r) for t, r in pending if r.id is None]
        old = [(t, r) for t, r in pending if r.id is not None]
        try:
            async with self.db.transaction() as tx:
                for wave in _waves(new):
                    # One multi-row INSERT per wave, not a statement per run (store.history).
                    ids = await history.insert_runs(
                        tx, [{"target_id": t, **_run_values(r)} for t, r in wave]
                    )
                    for target_id, run in wave:
                        run.id = ids[target_id]
                if old:
                    await history.update_runs(
                        tx, [{"run_id": r.id, **_run_values(r)} for _, r in old]
                    )
                if failures:
                    await history.add_failures(tx, failures)
                if rollups:
                    await history.upsert_rollups(tx, _rollup_rows(rollups))
                if dropped is not None:
                    count, first, last = dropped
                    await unknown.add_unknown(
                        tx,
                        start=first,
                        end=max(last, first + dt.timedelta(seconds=1)),
                        reason="store_unavailable",
                        detail=f"{count} probe failures could not be stored (database unavailable)",
                    )
        except BaseException:
            # Keep what could not be written for the next flush; the open runs stay
            # dirty in place, new runs get their ids then.
            for _, run in new:
                run.id = None
            self._closed[:0] = closed
            self._failures[:0] = failures
            self._dirty_rollups |= dirty
            if dropped is not None:
                count, first, last = dropped
                if self._dropped is not None:  # more were dropped meanwhile
                    more, more_first, more_last = self._dropped
                    dropped = (count + more, min(first, more_first), max(last, more_last))
                self._dropped = dropped
            raise
        for _, run in pending:
            run.dirty = False
        self._prune_rollups()
        written = len(pending) + len(failures) + len(rollups)
        self.rows_written += written
        if dropped is not None:
            log.warning(
                "probe failures that could not be stored recorded as unknown time",
                extra={"dropped": dropped[0], "start": dropped[1].isoformat(),
                       "end": dropped[2].isoformat()},
            )
        return written

    def _prune_rollups(self) -> None:
        """Forget finished hours once written; they are only ever read from the store."""
        if not self._rollups:
            return
        keep_from = max(hour for _, hour in self._rollups) - ROLLUP_KEPT
        for key in [k for k in self._rollups if k[1] < keep_from and k not in self._dirty_rollups]:
            del self._rollups[key]

def _waves(runs: list[tuple[str, _Run]]) -> list[list[tuple[str, _Run]]]:
    """Split new runs so that a target appears at most once per wave, in order.

    A target that changed state more than once since the last flush has several
    new runs; its earlier ones go in earlier waves, so ids keep growing with time
    for each target (what :meth:`Recorder.load` relies on), and within a wave
    the id RETURNING gives back is matched by target.
    """
    waves: list[list[tuple[str, _Run]]] = []
    seen: dict[str, int] = {}
    for target_id, run in runs:
        index = seen.get(target_id, 0)
        seen[target_id] = index + 1
        if index == len(waves):
            waves.append([])
        waves[index].append((target_id, run))
    return waves


def _rollup_rows(rollups: dict[tuple[str, dt.datetime], _Rollup]) -> list[dict[str, Any]]:
    return [
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
