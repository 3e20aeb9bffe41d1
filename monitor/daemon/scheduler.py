"""When each probe runs: exact periods, stable even offsets, no overlap.

**Granularity (measured, see README):** APScheduler 3.11's asyncio scheduler
runs one *tick* job every ``slot`` seconds (default 50 ms); each tick starts
every probe due in that slot from a heap. One APScheduler job per probe
costs about 0.33 CPU-ms a run here, the tick about 0.08 per probe, which is
what lets one daemon run 20,000 targets at a 30 s interval. APScheduler also
runs the daemon's other periodic jobs (heartbeat, flush, duties).

* **Exact period, no drift:** due times are ``offset + k × interval`` on the
  wall clock, computed, never accumulated; APScheduler's ``jitter`` is not
  used because its delays accumulate.
* **Even, stable offsets:** probes that share an interval are spread evenly
  over it in the order of their ids, so a restart keeps them where they were.
* **No overlap:** a probe still running when it is due again is skipped and
  counted in ``sla_monitor_scheduler_missed_runs_total``; lateness (start −
  due) goes to ``sla_monitor_scheduler_lateness_seconds``.
* **Bounded in flight** (``limit``; a probe worker's is its ``max_concurrency``, the
  probes' semaphore): a tick starts a due probe only while fewer than ``limit`` run; the
  others stay in the heap, in due order, for the next tick, and their lateness is
  counted when they really start (a run pushed past its next due time is a missed
  run). Without the bound, a process short of CPU started every due probe as a task
  that waited on the semaphore: tens of thousands of waiting tasks, each a
  coroutine, a future and its callbacks, that every full garbage collection walked,
  so the collector took the CPU the probes needed, the queue grew further, and
  almost no result came out (measured: a probe worker of 100,000 targets held to
  30 % of a CPU sent about 0 results a second instead of about 2,000, 36 % of its
  samples in ``gc_collect_main``; ``benchmarks/HISTORY.md``). The daemon's own schedule has
  no bound: there a run also handles its result, which may wait (a flush before an
  outage e-mail, a server checked at once, R-M4), and a bound would hold back other
  targets' probes meanwhile.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

if TYPE_CHECKING:
    # Not at run time: a probe worker passes figures of its own (monitor.daemon.probe_worker)
    # and never imports prometheus_client (with its dependencies, about 5 MB of a worker).
    from monitor.daemon.metrics import DaemonMetrics

log = logging.getLogger(__name__)

RunProbe = Callable[[str], Awaitable[None]]


class ProbeSchedule:
    def __init__(
        self,
        scheduler: AsyncIOScheduler,
        run_probe: RunProbe,
        metrics: DaemonMetrics,
        slot: float = 0.05,
        wall: Callable[[], float] = time.time,
        job_id: str = "probe-tick",
        limit: int | None = None,
    ) -> None:
        self.job_id = job_id
        self.limit = limit  # probes running at once at most (module docstring); None: no bound
        self.scheduler = scheduler
        self.run_probe = run_probe
        self.metrics = metrics
        self.slot = slot
        self.wall = wall
        # (due, generation, target id, interval): a target's interval travels with its
        # entry, and its offset is its place in its interval's sorted ids (set_targets), so
        # that a target costs a dict entry and a heap entry, not three dict entries and two
        # floats (about 80 bytes less each: 12 MB at 150,000 targets, measured).
        self._heap: list[tuple[float, int, str, float]] = []
        self._groups: dict[float, list[str]] = {}  # interval -> its targets' ids, sorted
        self._generation: dict[str, int] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._job: Any = None
        self.started = 0
        self.missed = 0
        self.ticks = 0  # ticks run: the systemd watchdog pings only while this advances

    def set_targets(self, targets: Iterable[tuple[str, float]]) -> None:
        """(id, interval) of every target; changes keep unchanged targets' due times."""
        wanted = dict(targets)
        groups: dict[float, list[str]] = {}
        for target_id, interval in wanted.items():
            groups.setdefault(interval, []).append(target_id)
        for ids in groups.values():
            ids.sort()
        before = self._groups
        # The interval and offset each target had, for the intervals whose targets changed
        # (in the others every target keeps its place: nothing to compare).
        had = {
            target_id: (interval, interval * index / len(ids))
            for interval, ids in before.items()
            if groups.get(interval) != ids
            for index, target_id in enumerate(ids)
        }
        for target_id in had:
            if target_id not in wanted:  # removed: its entries in the heap become inert
                self._generation[target_id] = self._generation.get(target_id, 0) + 1
        now = self.wall()
        for interval, ids in groups.items():
            if before.get(interval) == ids:
                continue
            for index, target_id in enumerate(ids):
                offset = interval * index / len(ids)
                if had.get(target_id) == (interval, offset):
                    continue
                # New or changed: a new generation makes stale heap entries inert.
                generation = self._generation.get(target_id, 0) + 1
                self._generation[target_id] = generation
                due = offset + math.ceil((now - offset) / interval) * interval
                heapq.heappush(self._heap, (due, generation, target_id, interval))
        self._groups = groups

    def intervals(self) -> dict[str, float]:
        """The targets scheduled and the interval of each."""
        return {target_id: interval for interval, ids in self._groups.items() for target_id in ids}

    def offsets(self) -> dict[str, float]:
        """The targets scheduled and the offset of each in its interval (seconds)."""
        return {target_id: interval * index / len(ids)
                for interval, ids in self._groups.items() for index, target_id in enumerate(ids)}

    def start(self) -> None:
        self._job = self.scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self.slot),
            id=self.job_id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )

    async def tick(self) -> None:
        """Start every probe due before the middle of the next slot.

        A coroutine on purpose: APScheduler's asyncio executor runs plain
        functions in a thread pool, coroutines on the event loop.
        """
        self.ticks += 1
        now = self.wall()
        horizon = now + self.slot / 2
        heap = self._heap
        running = self._running
        limit = self.limit
        while heap and heap[0][0] <= horizon:
            if limit is not None and len(running) >= limit:
                break  # every slot taken: the due probes wait here, in order (module docstring)
            due, generation, target_id, interval = heapq.heappop(heap)
            if self._generation.get(target_id) != generation:
                continue  # removed or rescheduled
            following = due + interval
            if following <= now:  # the loop stalled past whole periods: skip, count them
                skipped = math.floor((now - due) / interval)
                self.missed += skipped
                self.metrics.scheduler_missed.inc(skipped)
                following = due + (skipped + 1) * interval
            heapq.heappush(heap, (following, generation, target_id, interval))
            if target_id in running:
                self.missed += 1
                self.metrics.scheduler_missed.inc()
                continue
            self.metrics.scheduler_lateness.observe(max(0.0, now - due))
            task = asyncio.get_running_loop().create_task(self._run(target_id))
            running[target_id] = task
            self.started += 1

    async def _run(self, target_id: str) -> None:
        try:
            await self.run_probe(target_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("probe run failed", extra={"target": target_id})
        finally:
            self._running.pop(target_id, None)

    async def stop(self, grace: float) -> None:
        """Stop starting probes; let running ones finish for up to ``grace`` seconds."""
        if self._job is not None:
            self._job.remove()
            self._job = None
        running = list(self._running.values())
        if running:
            _, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    @property
    def running(self) -> int:
        return len(self._running)
