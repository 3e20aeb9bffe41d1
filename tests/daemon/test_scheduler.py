"""Exact periods, even offsets, no overlap, counted misses (the probe tick's bookkeeping).

The wall clock is injected so these tests step time without sleeping; the
real APScheduler-driven tick runs in the end-to-end daemon tests.
"""

from __future__ import annotations

import asyncio
import itertools

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry

from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.scheduler import ProbeSchedule


class Wall:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(wall: Wall, run) -> ProbeSchedule:  # type: ignore[no-untyped-def]
    metrics = DaemonMetrics(CollectorRegistry())
    return ProbeSchedule(AsyncIOScheduler(), run, metrics, slot=0.05, wall=wall)


async def test_offsets_spread_evenly_and_periods_do_not_drift() -> None:
    started: list[tuple[str, float]] = []
    wall = Wall(999_990.0)  # a multiple of 30 s: offsets are relative to the Unix epoch

    async def run(target_id: str) -> None:
        started.append((target_id, wall.now))

    schedule = make(wall, run)
    schedule.set_targets([("a", 30.0), ("b", 30.0), ("c", 30.0)])
    # Step through 90 s in 50 ms slots; every start happens at offset + k*30 s.
    for _ in range(int(90 / 0.05)):
        await schedule.tick()
        await asyncio.sleep(0)
        wall.now += 0.05
    by_target: dict[str, list[float]] = {}
    for target_id, when in started:
        by_target.setdefault(target_id, []).append(when)
    # Offsets: a at 0, b at 10, c at 20 s within each 30 s period (ids in order).
    for index, target_id in enumerate("abc"):
        times = by_target[target_id]
        assert len(times) == 3
        for when in times:
            phase = (when - 10 * index) % 30
            assert min(phase, 30 - phase) <= 0.05 + 1e-6
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(abs(gap - 30) <= 0.05 + 1e-6 for gap in gaps)


async def test_a_probe_never_overlaps_itself() -> None:
    wall = Wall(2_000_000.0)
    release = asyncio.Event()
    runs = 0

    async def run(target_id: str) -> None:
        nonlocal runs
        runs += 1
        await release.wait()

    schedule = make(wall, run)
    schedule.set_targets([("slow", 1.0)])
    for _ in range(int(3.5 / 0.05)):
        await schedule.tick()
        await asyncio.sleep(0)
        wall.now += 0.05
    assert runs == 1  # still running: later dues are skipped...
    assert schedule.missed == 3  # ...and counted
    release.set()
    await schedule.stop(grace=1)


async def test_removed_targets_stop_and_unchanged_keep_their_slot() -> None:
    started: list[str] = []
    wall = Wall(3_000_000.0)

    async def run(target_id: str) -> None:
        started.append(target_id)

    schedule = make(wall, run)
    schedule.set_targets([("a", 10.0), ("b", 20.0)])
    schedule.set_targets([("a", 10.0)])
    for _ in range(int(25 / 0.05)):
        await schedule.tick()
        await asyncio.sleep(0)
        wall.now += 0.05
    assert "b" not in started
    assert started.count("a") in (2, 3)


async def test_a_target_removed_added_again_or_moved_runs_once_a_period() -> None:
    started: list[str] = []
    wall = Wall(3_000_000.0)

    async def run(target_id: str) -> None:
        started.append(target_id)

    schedule = make(wall, run)
    schedule.set_targets([("a", 10.0), ("b", 10.0), ("c", 20.0)])
    schedule.set_targets([("a", 10.0), ("c", 20.0)])  # b removed
    schedule.set_targets([("a", 10.0), ("b", 10.0), ("c", 20.0)])  # b again
    schedule.set_targets([("a", 10.0), ("b", 10.0), ("c", 10.0)])  # c moved: offsets shift
    assert schedule.intervals() == {"a": 10.0, "b": 10.0, "c": 10.0}
    assert schedule.offsets() == {"a": 0.0, "b": 10 / 3, "c": 20 / 3}
    for _ in range(int(40 / 0.05)):
        await schedule.tick()
        await asyncio.sleep(0)
        wall.now += 0.05
    # Once every 10 s each: the entries of before the changes start nothing.
    assert all(started.count(target) in (4, 5) for target in "abc"), started
    assert len(schedule._heap) == 3


async def test_no_more_probes_run_at_once_than_the_limit_and_the_rest_wait_in_order() -> None:
    """A tick starts a due probe only while fewer than ``limit`` run: a process short of CPU
    kept every due probe as a task waiting on the semaphore, tens of thousands of them that
    every full garbage collection walked (module docstring of monitor.daemon.scheduler)."""
    wall = Wall(3_000_000.0)
    release = asyncio.Event()
    started: list[str] = []

    async def run(target_id: str) -> None:
        started.append(target_id)
        await release.wait()

    metrics = DaemonMetrics(CollectorRegistry())
    # Ticks of 1 s and five targets at 0.5 s: offsets 0, 0.1 ... 0.4 s, all due at once.
    schedule = ProbeSchedule(AsyncIOScheduler(), run, metrics, slot=1.0, wall=wall, limit=2)
    schedule.set_targets([(f"t{i}", 0.5) for i in range(5)])
    await schedule.tick()
    await asyncio.sleep(0)
    assert started == ["t0", "t1"]  # before the bound: all five, each a task
    assert schedule.running == 2
    release.set()
    for _ in range(3):
        await asyncio.sleep(0)
    assert schedule.running == 0
    release.clear()
    await schedule.tick()  # the same moment: the three left are still due
    await asyncio.sleep(0)
    assert started == ["t0", "t1", "t2", "t3"]  # the next ones, in due order
    assert schedule.missed == 0
    release.set()
    await schedule.stop(grace=1)
