"""The daemon's periodic jobs as data: one table the scheduler, the leader check and the
tests all read.

A :class:`Job` is ``(id, every, leader_only, run)``; :class:`Jobs` runs a table of them on
APScheduler. The leader check lives here, once: a ``leader_only`` job runs only while
``leader()`` says so (in a cluster, the leader checked in the database at its epoch;
alone, always), and a failing check skips the run (exactly once, never twice); in a
cluster each of its write transactions checks the leader lease again (``guard``,
:func:`monitor.store.guarded`), so a leader that lost its lease mid-run writes nothing more. Each run's
lateness is measured (``sla_monitor_periodic_job_lateness_seconds``); at stop, a run in
progress (a flush inside its COMMIT) is waited for, never cancelled. A run longer than its
period (a heartbeat waiting for a database that is away) is said twice, when the first
run is skipped for it and when it ends with how many were skipped, in place of
APScheduler's warning at every skipped tick; and at most once a minute per job (while the
database is away every run overruns, each a second or so, and the store says the outage).

A reload is ``prepare(settings) -> JobsPlan`` then ``apply(plan)``: jobs whose period
changed are rescheduled, new ones added, dropped ones removed, and the jobs marked
``after_reload`` run at once.

>>> import asyncio
>>> ran = []
>>> async def beat() -> None:
...     ran.append("beat")
>>> async def refuse() -> bool:
...     return False
>>> jobs = Jobs(lambda settings: [Job("beat", 1.0, True, beat)], leader=refuse)
>>> asyncio.run(jobs.run(Job("beat", 1.0, True, beat))), ran
(None, [])
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Settings
from monitor.daemon.metrics import DaemonMetrics
from monitor.logs import SaidEvery
from monitor.store import guarded
from monitor.store.db import Guard

__all__ = ["Job", "Jobs", "JobsPlan", "LeaderCheck", "always"]

log = logging.getLogger(__name__)

#: Whether this daemon runs a leader-only job now (monitor.daemon.ownership).
LeaderCheck = Callable[[], Awaitable[bool]]


class _SkippedTicks(logging.Filter):
    """Drops APScheduler's "skipped: maximum number of running instances reached", logged
    at every tick a run overruns: :class:`Jobs` says it once and counts the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in record.getMessage()


SKIPPED_TICKS = _SkippedTicks()
#: Seconds between two "job still running after its period" lines of one job.
OVERRUN_SAID_EVERY = 60.0


async def always() -> bool:
    """The leader check of a daemon alone: it always leads."""
    return True


@dataclass(frozen=True)
class Job:
    """A periodic job: its id, its period in seconds, whether only the cluster's leader runs
    it, and what it runs."""

    id: str
    every: float
    leader_only: bool
    run: Callable[[], Awaitable[Any]] = field(compare=False)
    #: Also run once as soon as the daemon starts (not a period later).
    at_start: bool = False
    #: Run at once after a reload applied (new targets, customers, resolver settings).
    after_reload: bool = False
    #: Called instead of ``run`` when a leader-only run is skipped (not the leader).
    skipped: Callable[[], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class JobsPlan:
    """A new table, ready to apply without failing."""

    table: dict[str, Job]


Table = Callable[[Settings], list[Job]]


class Jobs:
    """The part that runs the job table (APScheduler underneath)."""

    def __init__(
        self,
        table: Table,
        leader: LeaderCheck = always,
        metrics: DaemonMetrics | None = None,
        scheduler: AsyncIOScheduler | None = None,
        outage: Callable[[BaseException], bool] = lambda exc: False,
        guard: Guard | None = None,
    ) -> None:
        self.table_of = table
        self.leader = leader
        # In a cluster: checked inside each write transaction of a leader-only job too
        # (the leader lease at its epoch), not only before the run.
        self.guard = guard
        # Whether an error is the database being away: said once by the store, no traceback.
        self.outage = outage
        self.metrics = metrics
        self.scheduler = scheduler or AsyncIOScheduler(timezone=dt.UTC)
        self.table: dict[str, Job] = {}
        self._running: set[asyncio.Task[Any]] = set()
        self._stopping = False
        # job id -> runs skipped because its run in progress overran its period
        self._overrun: dict[str, int] = {}
        # job id -> its "still running after its period" line, at most one a minute
        self._overrun_said: dict[str, SaidEvery] = {}
        self.scheduler.add_listener(self._skipped_tick, EVENT_JOB_MAX_INSTANCES)
        logging.getLogger("apscheduler.scheduler").addFilter(SKIPPED_TICKS)  # once: a set

    # --- one run -------------------------------------------------------------------------------

    async def run(self, job: Job) -> Any:
        """One run of ``job``: its result, or None when a leader-only job is skipped."""
        if job.leader_only and not await self._leads(job):
            if job.skipped is not None:
                job.skipped()
            return None
        if job.leader_only:
            with guarded(self.guard):
                return await job.run()
        return await job.run()

    async def run_now(self, job_id: str) -> Any:
        """One run of the job ``job_id`` of the table, outside its schedule."""
        return await self.run(self.table[job_id])

    async def _leads(self, job: Job) -> bool:
        try:
            return await self.leader()
        except Exception as exc:
            if not self.outage(exc):
                log.exception("leader check failed; job skipped", extra={"job": job.id})
            return False

    # --- the schedule ------------------------------------------------------------------------

    def open(self) -> None:
        """The scheduler runs (the probe schedules add their ticks to it)."""
        if not self.scheduler.running:
            self.scheduler.start()

    def start(self, settings: Settings) -> None:
        """The table of ``settings`` on the running scheduler."""
        self.open()
        self.apply(self.prepare(settings), starting=True)

    def prepare(self, settings: Settings) -> JobsPlan:
        return JobsPlan({job.id: job for job in self.table_of(settings)})

    def apply(self, plan: JobsPlan, starting: bool = False) -> None:
        now = dt.datetime.now(dt.UTC)
        for job_id in set(self.table) - set(plan.table):
            self.scheduler.remove_job(job_id)
        for job in plan.table.values():
            old = self.table.get(job.id)
            at_once = job.at_start if starting else job.after_reload
            if old is None or old.every != job.every or at_once:
                self._add(job, first=now if at_once else None)
        self.table = dict(plan.table)

    def _add(self, job: Job, first: dt.datetime | None) -> None:
        previous: list[float] = []

        async def run() -> None:
            now = time.monotonic()
            if previous and self.metrics is not None:
                self.metrics.job_lateness.labels(job.id).observe(
                    max(0.0, now - previous[0] - job.every)
                )
            previous[:] = [now]
            self._overrun.pop(job.id, None)
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await self.run(self.table.get(job.id, job))
            except asyncio.CancelledError:
                if not self._stopping:
                    raise
                # A run still going when the stop's grace ran out is cancelled by the
                # scheduler's shutdown: said once, not a traceback (SIGTERM stops cleanly).
                log.warning("job cut short by the stop", extra={"job": job.id})
            finally:
                if task is not None:
                    self._running.discard(task)
                skipped = self._overrun.pop(job.id, 0)
                said = self._overrun_said.get(job.id)
                if said is not None and said.said_at >= now:  # said during this run
                    log.info("job ended after overrunning its period", extra={
                        "job": job.id, "skipped": skipped,
                        "seconds": round(time.monotonic() - now, 3)})

        self.scheduler.add_job(
            run,
            IntervalTrigger(seconds=job.every),
            id=job.id,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            replace_existing=True,
            **({"next_run_time": first} if first is not None else {}),
        )

    def _skipped_tick(self, event: JobSubmissionEvent) -> None:
        if event.job_id not in self.table:
            # Another job of the scheduler (the probe schedule's tick: its lateness and
            # missed runs are its own metrics): its end is not this table's to say.
            return
        skipped = self._overrun.get(event.job_id, 0) + 1
        self._overrun[event.job_id] = skipped
        if skipped > 1:
            return  # one overrun a run
        said = self._overrun_said.get(event.job_id)
        if said is None:
            said = self._overrun_said[event.job_id] = SaidEvery(OVERRUN_SAID_EVERY)
        overruns = said.happened()
        if overruns:
            log.warning("job still running after its period: its next runs are skipped "
                        "until it ends", extra={"job": event.job_id, "overruns": overruns})

    def due_now(self) -> None:
        """Every job due now, then every period from there (after a wall-clock step:
        APScheduler times its jobs by the wall clock)."""
        now = dt.datetime.now(dt.UTC)
        for job in self.scheduler.get_jobs():
            job.modify(next_run_time=now)
        self.scheduler.wakeup()

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    async def stop(self, grace: float) -> None:
        """No new runs; one in progress is waited for (``grace`` seconds at most), never
        cancelled, before the scheduler goes."""
        if not self.scheduler.running:
            return
        self._stopping = True
        self.scheduler.pause()
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace)
        self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next turn
