"""The job table (:mod:`monitor.daemon.jobs`): one job run with a fake leader check, no
daemon built; the leader check in one place; a reload reschedules from the same table."""

from __future__ import annotations

import asyncio

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
