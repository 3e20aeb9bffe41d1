"""The job table (:mod:`monitor.daemon.jobs`): one job run with a fake leader check, no
daemon built; the leader check in one place; a reload reschedules from the same table."""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import CollectorRegistry

from monitor.config import Settings, parse_config
from monitor.daemon.jobs import Job, Jobs
from monitor.daemon.metrics import DaemonMetrics
from tests.support import eventually

SETTINGS = Settings.from_config(parse_config("http: {listen: '127.0.0.1:0'}\n"))


class Leader:
    """A leader check the test answers: True, False, or an error (the database away)."""

    def __init__(self, answer: bool | Exception) -> None:
        self.answer = answer
        self.asked = 0

    async def __call__(self) -> bool:
        self.asked += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def test_a_leader_only_job_runs_only_while_leading_and_says_when_skipped() -> None:
    ran: list[str] = []
    skipped: list[str] = []

    async def duties() -> str:
        ran.append("duties")
        return "done"

    job = Job("duties", 30.0, True, duties, skipped=lambda: skipped.append("duties"))
    leader = Leader(True)
    jobs = Jobs(lambda settings: [job], leader=leader)
    assert await jobs.run(job) == "done"
    leader.answer = False
    assert await jobs.run(job) is None
    leader.answer = ConnectionError("database away")  # a failing check skips: never twice
    assert await jobs.run(job) is None
    assert (ran, skipped, leader.asked) == (["duties"], ["duties", "duties"], 3)


async def test_a_job_for_everyone_never_asks_the_leader_check() -> None:
    ran: list[str] = []

    async def beat() -> None:
        ran.append("beat")

    leader = Leader(False)
    jobs = Jobs(lambda settings: [Job("heartbeat", 1.0, False, beat)], leader=leader)
    jobs.table = {job.id: job for job in jobs.table_of(SETTINGS)}
    await jobs.run_now("heartbeat")
    assert (ran, leader.asked) == (["beat"], 0)


async def test_the_scheduler_runs_the_table_and_a_reload_reschedules_it() -> None:
    ran: list[str] = []
    every = {"fast": 0.05}

    def record(name: str) -> Job:
        async def run() -> None:
            ran.append(name)
        return Job(name, every.get(name, 3600.0), name == "led", run,
                   at_start=name == "at-start", after_reload=name == "after-reload")

    def table(settings: Settings) -> list[Job]:
        return [record(name) for name in ("fast", "led", "at-start", "after-reload")]

    metrics = DaemonMetrics(CollectorRegistry())
    jobs = Jobs(table, leader=Leader(False), metrics=metrics)
    jobs.start(SETTINGS)
    try:
        await eventually(lambda: asyncio.sleep(0, ran.count("fast") >= 3), within=5)
        assert "at-start" in ran and "after-reload" not in ran and "led" not in ran
        assert jobs.scheduler.get_job("fast").trigger.interval.total_seconds() == 0.05
        every["fast"] = 7200.0
        jobs.apply(jobs.prepare(SETTINGS))  # the same table, read again
        assert jobs.scheduler.get_job("fast").trigger.interval.total_seconds() == 7200.0
        await eventually(lambda: asyncio.sleep(0, "after-reload" in ran), within=5)
        assert sorted(job.id for job in jobs.scheduler.get_jobs()) == sorted(jobs.table)
    finally:
        await jobs.stop(grace=1.0)
    assert not jobs.running


async def test_a_run_cut_short_by_the_stop_is_one_line_not_a_traceback(
        caplog: pytest.LogCaptureFixture) -> None:
    # A heartbeat whose database write was still going when the stop's grace ran out was
    # cancelled by the scheduler's shutdown, and APScheduler logged "Job ... raised an
    # exception" with a CancelledError traceback (seen on a SIGTERM in the sandbox test).
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(30)

    jobs = Jobs(lambda settings: [Job("heartbeat", 3600.0, False, slow, at_start=True)])
    jobs.start(SETTINGS)
    await asyncio.wait_for(started.wait(), 5)
    await jobs.stop(grace=0.1)
    await asyncio.sleep(0.05)  # the cancelled run ends on the loop's next turns
    assert not [r for r in caplog.records if r.exc_info or "raised an exception" in r.getMessage()]
    assert [r.getMessage() for r in caplog.records
            if r.name == "monitor.daemon.jobs"] == ["job cut short by the stop"]


@pytest.mark.slow
async def test_a_run_longer_than_its_period_is_said_once_not_at_every_tick(
        caplog: pytest.LogCaptureFixture) -> None:
    # With the database cut off, a heartbeat (every 0.2 s in the partition test) waited for
    # its connection for seconds, and APScheduler logged "skipped: maximum number of running
    # instances reached" at every tick: 49 lines in 6 s from one node. One line when a job
    # overruns, one when it ends with how many runs it skipped.
    caplog.set_level(logging.INFO, logger="monitor.daemon.jobs")
    # And at most once a minute: while the database is away every run overruns.
    release = asyncio.Event()
    started = asyncio.Event()
    runs = 0

    async def stuck() -> None:
        nonlocal runs
        runs += 1
        started.set()
        if runs <= 2:
            await release.wait()

    jobs = Jobs(lambda settings: [Job("heartbeat", 0.05, False, stuck, at_start=True)])
    jobs.start(SETTINGS)
    try:
        await asyncio.wait_for(started.wait(), 5)
        await asyncio.sleep(0.5)  # about ten periods
        release.set()
        release = asyncio.Event()
        await eventually(lambda: _true(runs == 2), within=5)
        await asyncio.sleep(0.3)  # the second run overruns too
        release.set()
        await eventually(lambda: _true(runs >= 3), within=5)
    finally:
        await jobs.stop(grace=1)
    said = [r for r in caplog.records if "running instances" in r.getMessage()
            or r.name == "monitor.daemon.jobs"]
    assert [r.getMessage() for r in said] == [
        "job still running after its period: its next runs are skipped until it ends",
        "job ended after overrunning its period"]
    assert said[0].overruns == 1  # type: ignore[attr-defined]  # the runs overrun since said
    ended = said[1]
    assert ended.job == "heartbeat"  # type: ignore[attr-defined]
    assert ended.skipped >= 5  # type: ignore[attr-defined]
    assert ended.seconds >= 0.5  # type: ignore[attr-defined]


async def _true(value: bool) -> bool:
    return value


@pytest.mark.slow
async def test_a_job_of_the_probe_schedule_is_not_said_as_one_of_the_table(
        caplog: pytest.LogCaptureFixture) -> None:
    # The probe schedule's tick shares the scheduler but not the table: its overrun (the
    # loop held during a reload) was said "job still running after its period" for
    # probe-tick, whose end nothing says: a line without its pair. It has its own lateness
    # and missed-runs metrics, and the watchdog.
    caplog.set_level(logging.INFO, logger="monitor.daemon.jobs")
    release = asyncio.Event()
    started = asyncio.Event()

    async def tick() -> None:
        started.set()
        await release.wait()

    jobs = Jobs(lambda settings: [])
    jobs.start(SETTINGS)
    from apscheduler.triggers.interval import IntervalTrigger

    jobs.scheduler.add_job(tick, IntervalTrigger(seconds=0.05), id="probe-tick",
                           coalesce=True, max_instances=1, misfire_grace_time=None)
    try:
        await asyncio.wait_for(started.wait(), 5)
        await asyncio.sleep(0.3)  # several ticks skipped while it runs
        release.set()
        await asyncio.sleep(0.1)
    finally:
        await jobs.stop(grace=1)
    assert [r.getMessage() for r in caplog.records if r.name == "monitor.daemon.jobs"] == []
