"""Probe history that grows with state changes and failures, not with probes (R-M7).

Results are folded in memory and written in one transaction per flush (the rows
through :mod:`monitor.store.history`, the only writer of these tables):

* a :class:`~monitor.store.models.ProbeRun` per stretch of equal state (first,
  last, count, latency min/max/sum): an up-all-day target updates one row;
* a :class:`~monitor.store.models.ProbeFailure` per failed or unknown result,
  with its error: the evidence;
* a :class:`~monitor.store.models.LatencyRollup` per target and hour, written
  whole (cumulative) so that it stays exact across flushes and a restart.

**What is written when.** Evidence goes out at the next flush (every few
seconds): every failure, every new run (a state change) and the run it closed.
What only grew, a run that continues and the hour's latency roll-up, is
written at the target's *checkpoint*, at most every ``checkpoint`` seconds
(``storage.history_checkpoint``, default 5 min), spread over the flushes as
the targets' results arrive. At 40,000 targets that is about 270 rows a
second instead of 2,700 (measured: a 5 s flush wrote 13,000 rows and, with
the loop busy, took up to 10 s; ``benchmarks/HISTORY.md``). A finished hour is
written at its target's next checkpoint and then forgotten; a result that
arrives for an hour already forgotten (a probe started before the hour's end
and finished long after) is not added to that hour's roll-up (**Decision**:
roll-ups are for charts; the result itself is in its run and, if it failed,
in the evidence).

What a ``kill -9`` can lose: failures and state changes since the last flush,
and up to ``checkpoint`` seconds of a continuing run's counters and latency.
Incidents are written at once, not here; the heartbeat marks the time the
daemon was gone as unknown (R-M3).

**Bounded while the database is away**: a failed flush keeps everything
for the next one, but failures waiting to be written are capped
(``max_pending_failures``, 200,000: some 100 MB). Beyond it new failures are not kept:
they are counted (``sla_monitor_probe_results_dropped_total``), logged once, and the
span they covered is written as unknown time (``store_unavailable``, R-M3) by the
first flush that succeeds, so results that could not be stored are never silently
counted as up. Runs and roll-ups are per target and hour, bounded already.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from monitor.store import history, unknown

if TYPE_CHECKING:
    from monitor.store import Database, Tx

log = logging.getLogger(__name__)

HOUR = dt.timedelta(hours=1)
# A finished hour stays in memory this long after its end, for results that arrive late.
LATE = dt.timedelta(minutes=5)

# Targets queued for a checkpoint within this many seconds share one due time (Recorder).
QUEUE_GROUP = 1.0

# Rows per statement of a flush (module docstring of _flush's transaction).
STATEMENT_ROWS = 1000

T = TypeVar("T")

# Latency histogram bucket upper bounds in milliseconds, for the hourly rollups.
BUCKETS_MS = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, float("inf"))
# An hour's bucket counts are one int, BUCKET_BITS bits a bucket (_Rollup.buckets): about 72
# bytes instead of a list of 11 (144 bytes a target, 21 MB at 150,000 targets, measured).
# A bucket holds at most 2**32 - 1 results an hour; the shortest interval (0.1 s) makes 36,000.
BUCKET_BITS = 32
_BUCKET_MASK = (1 << BUCKET_BITS) - 1
_BUCKET_ONE = tuple(1 << (BUCKET_BITS * index) for index in range(len(BUCKETS_MS)))


def pack_buckets(counts: list[int]) -> int:
    """The bucket counts (in the order of BUCKETS_MS) as one int."""
    return sum(count << (BUCKET_BITS * index) for index, count in enumerate(counts))


def unpack_buckets(packed: int) -> list[int]:
    """:func:`pack_buckets` undone: the count of each bucket, in the order of BUCKETS_MS."""
    return [(packed >> (BUCKET_BITS * index)) & _BUCKET_MASK for index in range(len(BUCKETS_MS))]


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
    hour: dt.datetime
    count: int = 0
    failures: int = 0
    sum_ms: float = 0.0
    min_ms: float = float("inf")
    max_ms: float = 0.0
    buckets: int = 0  # the counts, packed (pack_buckets)
    dirty: bool = True


@dataclass(slots=True)
class _Target:
    """What the recorder holds for one target: its run, this hour and the last one."""

    run: _Run | None = None
    rollup: _Rollup | None = None  # the hour of the latest result
    finished: _Rollup | None = None  # the hour before, until written and past LATE
    queued: bool = False  # waiting in the checkpoint queue


class Recorder:
    """Folds results in memory; :meth:`flush` writes them in one transaction.

    ``checkpoint`` (seconds, 0: every flush) is how long what only grew may wait;
    ``monotonic`` and ``wall`` are the clocks (tests pass their own);
    ``max_pending_failures`` bounds the failures kept while the database is away and
    ``dropped`` counts those beyond it.
    """

    def __init__(
        self,
        db: Database,
        checkpoint: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        *,
        max_pending_failures: int = 200_000,
        dropped: Any = None,
        fence: Callable[[Tx, set[str]], Awaitable[set[str]]] | None = None,
    ) -> None:
        self.db = db
        # In a cluster: the targets whose history this node may still write,
        # asked inside each flush's transaction (monitor.daemon.cluster.Cluster.fence_history).
        self.fence = fence
        self.checkpoint = checkpoint
        self._monotonic = monotonic
        self._wall = wall
        self.max_pending_failures = max_pending_failures
        self.dropped_counter = dropped  # a Prometheus counter, or None
        # Failures not kept while the database was away: (count, first at, last at).
        self._dropped: tuple[int, dt.datetime, dt.datetime] | None = None
        # Targets' stretches without a probe (R-M3 per target), written by the next flush:
        # (the history key they are fenced by, add_unknown's keywords).
        self._unprobed: list[tuple[str, dict[str, Any]]] = []
        self._targets: dict[str, _Target] = {}
        self._closed: list[tuple[str, _Run]] = []
        self._failures: list[dict[str, Any]] = []
        self._urgent: set[str] = set()  # targets with a new run: written at the next flush
        # Roll-ups no target holds any more that still need their last write (a removed
        # target's, or a finished hour pushed out by the next one before it was written).
        self._detached: list[tuple[str, _Rollup]] = []
        # (due, target ids), in due order: the checkpoint is the same for every target. The
        # targets queued within QUEUE_GROUP seconds share the first one's due time (written
        # at most that much before their own, never after): a tuple and a float per target
        # were about 80 bytes, 12 MB at 150,000 targets (measured).
        self._queue: collections.deque[tuple[float, list[str]]] = collections.deque()
        self._hours: dict[dt.datetime, dt.datetime] = {}  # one datetime object per hour
        self.rows_written = 0
        # One flush at a time: a scheduled flush may still run when stop() flushes, and two
        # would both insert the same new run (its id is set only when the insert returns).
        self._flushing = asyncio.Lock()

    async def load(self) -> None:
        """Continue each target's last run after a restart (same state → same row), and
        the hours in progress from what was flushed before."""
        since = self._hour(self._wall()) - HOUR
        async with self.db.reading() as tx:
            runs = await history.latest_runs(tx)
            rollups = await history.rollups_since(tx, since)
        for run in runs:
            self._state(run.target_id).run = _Run(
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
        for r in sorted(rollups, key=lambda r: r.hour):
            target = self._state(r.target_id)
            if target.rollup is not None:
                target.finished = target.rollup
            target.rollup = _Rollup(
                hour=self._hours.setdefault(r.hour, r.hour),
                count=r.count,
                failures=r.failures,
                sum_ms=r.sum_ms,
                min_ms=r.min_ms if r.count else float("inf"),
                max_ms=r.max_ms,
                buckets=pack_buckets([int(r.buckets.get(str(b), 0)) for b in BUCKETS_MS]),
                dirty=False,
            )

    def _state(self, target_id: str) -> _Target:
        target = self._targets.get(target_id)
        if target is None:
            target = self._targets[target_id] = _Target()
        return target

    def _hour(self, at: dt.datetime) -> dt.datetime:
        hour = at.replace(minute=0, second=0, microsecond=0)
        return self._hours.setdefault(hour, hour)

    def record(
        self,
        target_id: str,
        state: str,
        at: dt.datetime,
        latency_ms: float | None,
        failure: dict[str, Any] | None = None,
    ) -> None:
        """Fold one result. ``failure`` carries the evidence of a failed or unknown result."""
        target = self._state(target_id)
        run = target.run
        if run is None or run.state != state:
            if run is not None:
                self._closed.append((target_id, run))
            run = target.run = _Run(id=None, state=state, first_at=at, last_at=at)
            self._urgent.add(target_id)
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
        self._fold_rollup(target_id, target, at, state, latency_ms)
        if not target.queued:
            target.queued = True
            due = self._monotonic() + self.checkpoint
            queue = self._queue
            if queue and queue[-1][0] >= due - QUEUE_GROUP:
                queue[-1][1].append(target_id)
            else:
                queue.append((due, [target_id]))

    def _fold_rollup(
        self,
        target_id: str,
        target: _Target,
        at: dt.datetime,
        state: str,
        latency_ms: float | None,
    ) -> None:
        hour = self._hour(at)
        rollup = target.rollup
        if rollup is None or rollup.hour != hour:
            if target.finished is not None and target.finished.hour == hour:
                rollup = target.finished  # a late result for the hour before
            elif rollup is not None and hour < rollup.hour:
                return  # an hour already written and forgotten (module docstring)
            else:
                if rollup is not None:
                    # The hour just finished waits for its last write; an older one not yet
                    # written goes out with the next flush.
                    if target.finished is not None and target.finished.dirty:
                        self._detached.append((target_id, target.finished))
                    target.finished = rollup
                rollup = target.rollup = _Rollup(hour=hour)
        rollup.dirty = True
        rollup.count += 1
        if state != "up":
            rollup.failures += 1
        if latency_ms is not None:
            rollup.sum_ms += latency_ms
            if latency_ms < rollup.min_ms:
                rollup.min_ms = latency_ms
            if latency_ms > rollup.max_ms:
                rollup.max_ms = latency_ms
            rollup.buckets += _BUCKET_ONE[bisect_left(BUCKETS_MS, latency_ms)]

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

    def unprobed(self, target_id: str, start: dt.datetime, end: dt.datetime, detail: str,
                 scope: dict[str, str], key: str | None = None) -> None:
        """``target_id`` went unprobed from ``start`` to ``end`` (R-M3 per target,
        :func:`monitor.sla.unprobed`): its unknown time, written by the next flush that
        succeeds; ``scope``: the node and vantage in a cluster; ``key``: the target's history
        key (default its id). In a cluster the row is fenced like the target's history (README
        "Fencing"): written only while this node holds the target at its epoch, in the
        flush's transaction. It is not dropped by :meth:`discard`: a lease lost while the
        database was away and renewed at the same epoch (nobody probed the target meanwhile)
        still owes the stretch measured before (R-M3); the fence decides at the write."""
        self._unprobed.append((key or target_id, {
            "start": start, "end": end, "reason": "not_probed", "detail": detail,
            "target_id": target_id, **scope}))

    def forget(self, target_id: str) -> None:
        """A target removed from the configuration: its open run is flushed and dropped."""
        target = self._targets.pop(target_id, None)
        if target is None:
            return
        if target.run is not None:
            self._closed.append((target_id, target.run))
        for rollup in (target.finished, target.rollup):
            if rollup is not None and rollup.dirty:
                self._detached.append((target_id, rollup))

    def discard(self, target_id: str) -> None:
        """A target this node no longer probes (or takes anew): what it folded is
        dropped unwritten, and the next result starts a new run."""
        if self._targets.pop(target_id, None) is None and target_id not in self._urgent:
            return
        self._urgent.discard(target_id)
        self._closed = [(t, r) for t, r in self._closed if t != target_id]
        self._detached = [(t, r) for t, r in self._detached if t != target_id]
        self._failures = [f for f in self._failures if f["target_id"] != target_id]

    async def flush(self, everything: bool = False) -> int:
        """Write what is due (module docstring), or ``everything`` folded so far (at stop);
        returns the rows written."""
        async with self._flushing:
            return await self._flush(everything)

    async def _flush(self, everything: bool) -> int:
        now = self._monotonic()
        wall = self._wall()
        urgent, self._urgent = self._urgent, set()
        queue = self._queue
        if everything or self.checkpoint <= 0:
            due = list(self._targets)
            queue.clear()
        else:
            due = []
            while queue and queue[0][0] <= now:
                due += queue.popleft()[1]
        closed, self._closed = self._closed, []
        detached, self._detached = self._detached, []
        failures, self._failures = self._failures, []
        unprobed, self._unprobed = self._unprobed, []
        runs: list[tuple[str, _Run]] = list(closed)
        rollups: list[tuple[str, _Rollup]] = list(detached)
        targets = self._targets
        for target_id in urgent:  # a state change: the new run (its first row) at once
            target = targets.get(target_id)
            if target is not None and target.run is not None and target.run.dirty:
                runs.append((target_id, target.run))
        for target_id in due:  # a checkpoint: everything that grew
            target = targets.get(target_id)
            if target is None:
                continue
            target.queued = False
            if target_id not in urgent and target.run is not None and target.run.dirty:
                runs.append((target_id, target.run))
            for rollup in (target.finished, target.rollup):
                if rollup is not None and rollup.dirty:
                    rollups.append((target_id, rollup))
        dropped, self._dropped = self._dropped, None
        if not (runs or failures or rollups or dropped or unprobed):
            return 0
        new = [(t, r) for t, r in runs if r.id is None]
        old = [(t, r) for t, r in runs if r.id is not None]
        stale: set[str] = set()
        try:
            async with self.db.transaction() as tx:
                if self.fence is not None:
                    # Fencing: only what this node still holds, at its epoch.
                    wanted = ({t for t, _ in runs} | {f["target_id"] for f in failures}
                              | {t for t, _ in rollups} | {t for t, _ in unprobed})
                    stale = wanted - await self.fence(tx, wanted)
                    if stale:
                        new = [(t, r) for t, r in new if t not in stale]
                        old = [(t, r) for t, r in old if t not in stale]
                        runs = [(t, r) for t, r in runs if t not in stale]
                        rollups = [(t, r) for t, r in rollups if t not in stale]
                        failures = [f for f in failures if f["target_id"] not in stale]
                        # R-M3: no unknown time of a target another node holds.
                        unprobed = [(t, gap) for t, gap in unprobed if t not in stale]
                await _write(tx, new, old, failures, rollups, [gap for _, gap in unprobed],
                             dropped)
        except BaseException:
            # Keep what could not be written for the next flush: the runs and roll-ups stay
            # dirty in place (new runs get their ids then), the rest goes back in line.
            for _, run in new:
                run.id = None
            self._closed[:0] = closed
            self._detached[:0] = detached
            self._failures[:0] = failures
            self._unprobed[:0] = unprobed
            self._urgent |= urgent
            again = []
            for target_id in due:  # first in line for the next flush
                target = targets.get(target_id)
                if target is not None and not target.queued:
                    target.queued = True
                    again.append(target_id)
            if again:
                queue.appendleft((now, again))
            if dropped is not None:
                count, first, last = dropped
                if self._dropped is not None:  # more were dropped meanwhile
                    more, more_first, more_last = self._dropped
                    dropped = (count + more, min(first, more_first), max(last, more_last))
                self._dropped = dropped
            raise
        for _, run in runs:
            run.dirty = False
        for _, rollup in rollups:
            rollup.dirty = False
        if stale:
            # One line for them all: a node back from a pause has lost every target at once.
            log.warning("probe history not written: this node no longer holds these targets",
                        extra={"targets": len(stale), "first": sorted(stale)[:10]})
        for target_id in stale:
            self.discard(target_id)
        self._forget_finished_hours(due, wall)
        written = len(runs) + len(failures) + len(rollups) + len(unprobed)
        self.rows_written += written
        if dropped is not None:
            log.warning(
                "probe failures that could not be stored recorded as unknown time",
                extra={"dropped": dropped[0], "start": dropped[1].isoformat(),
                       "end": dropped[2].isoformat()},
            )
        return written

    def _forget_finished_hours(self, written: list[str], wall: dt.datetime) -> None:
        """Finished hours, once written and past :data:`LATE`, are only read from the store."""
        for target_id in written:
            target = self._targets.get(target_id)
            if target is None:
                continue
            finished = target.finished
            if finished is not None and not finished.dirty and finished.hour + HOUR + LATE <= wall:
                target.finished = None
        if len(self._hours) > 48:
            keep = self._hour(wall) - 24 * HOUR
            self._hours = {hour: hour for hour in self._hours if hour >= keep}


def _parts(rows: list[T]) -> list[list[T]]:
    return [rows[start : start + STATEMENT_ROWS] for start in range(0, len(rows), STATEMENT_ROWS)]


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


def _rollup_rows(rollups: list[tuple[str, _Rollup]]) -> list[dict[str, Any]]:
    return [
        {
            "target_id": target_id,
            "hour": r.hour,
            "count": r.count,
            "failures": r.failures,
            "sum_ms": r.sum_ms,
            "min_ms": r.min_ms if r.count and r.min_ms != float("inf") else 0.0,
            "max_ms": r.max_ms,
            "buckets": {str(b): n for b, n in zip(BUCKETS_MS, unpack_buckets(r.buckets),
                                                  strict=True) if n},
        }
        for target_id, r in rollups
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


async def _write(tx: Tx, new: list[tuple[str, _Run]], old: list[tuple[str, _Run]],
                 failures: list[dict[str, Any]], rollups: list[tuple[str, _Rollup]],
                 unprobed: list[dict[str, Any]],
                 dropped: tuple[int, dt.datetime, dt.datetime] | None) -> None:
    """One flush's rows, in its transaction (:meth:`Recorder.flush`)."""
    # In statements of at most STATEMENT_ROWS rows (one transaction still): the
    # driver's parameters for 40,000 rows at once (the first flush after a start,
    # a mass outage) would be a peak of memory the daemon never gives back.
    for wave in _waves(new):
        for part in _parts(wave):
            # One multi-row INSERT, not a statement per run (store.history).
            ids = await history.insert_runs(
                tx, [{"target_id": t, **_run_values(r)} for t, r in part]
            )
            for target_id, run in part:
                run.id = ids[target_id]
    for grown in _parts(old):
        await history.update_runs(
            tx, [{"run_id": r.id, **_run_values(r)} for _, r in grown]
        )
    for wave in _parts(new):
        # The runs these new ones follow are closed: chained now, as they end.
        await history.chain_closed_runs(
            tx, [r.id for _, r in wave if r.id is not None])
    for evidence in _parts(failures):
        await history.add_failures(tx, evidence)
    for hours in _parts(rollups):
        await history.upsert_rollups(tx, _rollup_rows(hours))
    for gap in unprobed:
        await unknown.add_unknown(tx, **gap)
    if dropped is not None:
        count, first, last = dropped
        await unknown.add_unknown(
            tx,
            start=first,
            end=max(last, first + dt.timedelta(seconds=1)),
            reason="store_unavailable",
            detail=f"{count} probe failures could not be stored (database unavailable)",
        )
