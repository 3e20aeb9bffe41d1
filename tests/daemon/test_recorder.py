"""R-M7 probe history: runs of equal state, every failure, and exact hourly rollups that
survive several flushes and a restart. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.daemon.recorder import BUCKETS_MS, Recorder, pack_buckets, unpack_buckets
from monitor.store import Database, Tx, create_engine
from monitor.store.migrate import upgrade
from monitor.store.models import LatencyRollup, ProbeFailure, ProbeRun

HOUR = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)


@pytest.mark.slow
async def test_history_grows_with_state_changes_and_rollups_stay_exact(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade(engine)
        recorder = Recorder(Database(engine))
        await recorder.load()
        # 3 successes (20, 40, 600 ms), flush, 2 more (30, 3000 ms), a failure, flush.
        for second, latency in ((1, 20.0), (2, 40.0), (3, 600.0)):
            recorder.record("panel", "up", HOUR + dt.timedelta(seconds=second), latency)
        await recorder.flush()
        for second, latency in ((4, 30.0), (5, 3000.0)):
            recorder.record("panel", "up", HOUR + dt.timedelta(seconds=second), latency)
        recorder.record(
            "panel",
            "down",
            HOUR + dt.timedelta(seconds=6),
            5.0,
            {
                "failure_class": "http_status",
                "detail": "HTTP 503",
                "http_status": 503,
                "latency_ms": 5.0,
                "timings": None,
            },
        )
        await recorder.flush()

        # A restart: a new recorder continues the same run and the same hour.
        again = Recorder(Database(engine))
        await again.load()
        again.record(
            "panel",
            "down",
            HOUR + dt.timedelta(seconds=7),
            7.0,
            {
                "failure_class": "http_status",
                "detail": "HTTP 503",
                "http_status": 503,
                "latency_ms": 7.0,
                "timings": None,
            },
        )
        await again.flush()

        async with engine.connect() as connection:
            runs = (
                await connection.execute(
                    select(ProbeRun.state, ProbeRun.count).order_by(ProbeRun.id)
                )
            ).all()
            failures = (await connection.execute(select(ProbeFailure.detail))).all()
            rollup = (await connection.execute(select(LatencyRollup))).mappings().one()
        # R-M7: one row per run of equal state (5 ups, then 2 downs across the restart).
        assert [tuple(r) for r in runs] == [("up", 5), ("down", 2)]
        assert len(failures) == 2
        # The hour holds all 7 results, whatever the flushes and the restart.
        assert (rollup["count"], rollup["failures"]) == (7, 2)
        assert rollup["sum_ms"] == 20 + 40 + 600 + 30 + 3000 + 5 + 7
        assert (rollup["min_ms"], rollup["max_ms"]) == (5.0, 3000.0)
        # Buckets (upper bounds, ms): 5 and 7 -> 10; 20 -> 25; 30, 40 -> 50; 600 -> 1000;
        # 3000 -> 5000.
        assert rollup["buckets"] == {"10": 2, "25": 1, "50": 2, "1000": 1, "5000": 1}
    finally:
        await engine.dispose()


async def test_concurrent_flushes_write_each_new_run_once(sqlite_url: str) -> None:
    # stop() flushes while a scheduled flush may still be running: one insert per run.
    engine = create_engine(sqlite_url)
    try:
        await upgrade(engine)
        recorder = Recorder(Database(engine))
        for n in range(200):
            recorder.record(f"t{n}", "up", HOUR, 1.0)
        await asyncio.gather(recorder.flush(), recorder.flush(), recorder.flush())
        async with engine.connect() as connection:
            targets = (await connection.execute(select(ProbeRun.target_id))).scalars().all()
        assert len(targets) == 200 and len(set(targets)) == 200
    finally:
        await engine.dispose()


class Clocks:
    """The recorder's two clocks, moved by hand: checkpoints follow ``monotonic``, the
    forgetting of finished hours ``wall``."""

    def __init__(self, wall: dt.datetime) -> None:
        self.seconds = 0.0
        self.now = wall

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
        self.now += dt.timedelta(seconds=seconds)


@asynccontextmanager
async def checkpointed(url: str, start: dt.datetime
                       ) -> AsyncIterator[tuple[AsyncEngine, Recorder, Clocks]]:
    """A recorder with a 300 s checkpoint on :class:`Clocks` from ``start``, its database
    migrated; the engine disposed of on exit."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
        clocks = Clocks(start)
        yield engine, Recorder(Database(engine), checkpoint=300,
                               monotonic=lambda: clocks.seconds, wall=lambda: clocks.now), clocks
    finally:
        await engine.dispose()


@pytest.mark.slow
async def test_evidence_goes_out_at_once_what_only_grew_at_its_checkpoint(db_url: str) -> None:
    # R-M7 with storage.history_checkpoint: a new run and every failure at the next flush,
    # a continuing run's counters and the hour's roll-up at the target's checkpoint.
    async with checkpointed(db_url, HOUR + dt.timedelta(minutes=1)) as (engine, recorder, clocks):

        async def runs() -> list[tuple[str, int]]:
            async with engine.connect() as connection:
                found = await connection.execute(
                    select(ProbeRun.state, ProbeRun.count).order_by(ProbeRun.id)
                )
                return [(state, count) for state, count in found]

        async def rollup() -> tuple[int, int] | None:
            async with engine.connect() as connection:
                row = (await connection.execute(
                    select(LatencyRollup.count, LatencyRollup.failures)
                )).first()
                return None if row is None else (row[0], row[1])

        at = HOUR + dt.timedelta(minutes=1)
        recorder.record("panel", "up", at, 20.0)
        assert await recorder.flush() == 1  # the new run, at once
        assert await runs() == [("up", 1)] and await rollup() is None

        clocks.advance(30)
        recorder.record("panel", "up", at + dt.timedelta(seconds=30), 30.0)
        assert await recorder.flush() == 0  # it only grew: it waits for its checkpoint
        assert await runs() == [("up", 1)]

        clocks.advance(30)
        failure = {"failure_class": "http_status", "detail": "HTTP 503", "http_status": 503,
                   "latency_ms": 4.0, "timings": None}
        recorder.record("panel", "down", at + dt.timedelta(seconds=60), 4.0, failure)
        # A state change: the closed run with its final count, the new one, the failure.
        assert await recorder.flush() == 3
        assert await runs() == [("up", 2), ("down", 1)]
        assert await rollup() is None

        clocks.advance(240)  # 300 s after the target's first result: its checkpoint
        assert await recorder.flush() == 1  # the hour's roll-up, with all three results
        assert await rollup() == (3, 1)

        clocks.advance(30)
        recorder.record("panel", "down", at + dt.timedelta(seconds=330), 5.0, failure)
        assert await recorder.flush() == 1  # the failure; the run's count waits
        assert await runs() == [("up", 2), ("down", 1)]
        assert await recorder.flush(everything=True) == 2  # stop(): everything that grew
        assert await runs() == [("up", 2), ("down", 2)]
        assert await rollup() == (4, 2)


async def test_targets_queued_within_a_second_share_their_checkpoint(sqlite_url: str) -> None:
    # The checkpoint queue keeps one due time for the targets queued within QUEUE_GROUP
    # seconds of the first (memory per target): they are written together at the first
    # one's checkpoint, never after their own; a target queued later waits for its own.
    async with checkpointed(sqlite_url, HOUR + dt.timedelta(minutes=1)) as (engine, recorder, clocks):
        at = HOUR + dt.timedelta(minutes=1)
        recorder.record("a", "up", at, 20.0)
        clocks.advance(0.5)
        recorder.record("b", "up", at, 20.0)
        clocks.advance(1.5)
        recorder.record("c", "up", at, 20.0)
        assert await recorder.flush() == 3  # the three new runs, at once
        clocks.advance(297.9)  # 299.9 s after a's first result
        assert await recorder.flush() == 0
        clocks.advance(0.1)  # a's checkpoint: b's comes half a second early, with it
        assert await recorder.flush() == 2
        async with engine.connect() as connection:
            written = (await connection.execute(
                select(LatencyRollup.target_id).order_by(LatencyRollup.target_id)
            )).scalars().all()
        assert written == ["a", "b"]
        clocks.advance(1.9)
        assert await recorder.flush() == 0  # c's is 2 s after a's
        clocks.advance(0.1)
        assert await recorder.flush() == 1


async def test_a_finished_hour_is_written_whole_then_forgotten(sqlite_url: str) -> None:
    async with checkpointed(sqlite_url, HOUR + dt.timedelta(minutes=59)) as (engine, recorder, clocks):
        first = HOUR + dt.timedelta(minutes=59)
        for second in (0, 30):
            recorder.record("api", "up", first + dt.timedelta(seconds=second), 10.0)
        # A probe started before the hour's end reports after the next hour began.
        clocks.advance(61)
        recorder.record("api", "up", HOUR + dt.timedelta(hours=1, seconds=31), 10.0)
        recorder.record("api", "up", first + dt.timedelta(seconds=55), 10.0)  # late, same hour
        clocks.advance(300)
        await recorder.flush()
        # Past the hour's end + LATE and written: a result for it now is not folded in.
        clocks.advance(300)
        recorder.record("api", "up", HOUR + dt.timedelta(hours=1, seconds=361), 10.0)
        await recorder.flush()
        recorder.record("api", "up", first + dt.timedelta(seconds=58), 10.0)
        await recorder.flush(everything=True)
        async with engine.connect() as connection:
            hours = (await connection.execute(
                select(LatencyRollup.hour, LatencyRollup.count).order_by(LatencyRollup.hour)
            )).all()
        # 10:59:00, 10:59:30 and the late 10:59:55 in the first hour; 11:00:31 and 11:06:01
        # in the second; the 10:59:58 result came after the first hour was forgotten.
        assert [count for _, count in hours] == [3, 2]


async def test_history_of_targets_no_longer_held_is_dropped_and_said_in_one_line(
        sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """A cluster node back from a pause holds none of its targets any more (another node
    took them over: the fence, asked in the flush's transaction, allows none): their history
    is dropped unwritten and said once, with how many and the first of them, not in a line
    per target (a node of 45,000 targets would write 45,000 lines at once)."""
    engine = create_engine(sqlite_url)
    try:
        await upgrade(engine)

        async def taken_over(tx: Tx, wanted: set[str]) -> set[str]:
            return set()

        recorder = Recorder(Database(engine), fence=taken_over)
        await recorder.load()
        targets = [f"t{number:03}" for number in range(40)]
        for target_id in reversed(targets):
            recorder.record(target_id, "up", HOUR + dt.timedelta(seconds=1), 10.0)
        with caplog.at_level(logging.WARNING, logger="monitor.daemon.recorder"):
            assert await recorder.flush() == 0
        said = [r for r in caplog.records if "no longer holds" in r.getMessage()]
        assert len(said) == 1, [r.getMessage() for r in said]
        assert said[0].targets == 40  # type: ignore[attr-defined]
        assert said[0].first == targets[:10]  # type: ignore[attr-defined]
        async with engine.connect() as connection:
            assert (await connection.execute(select(ProbeRun))).all() == []
    finally:
        await engine.dispose()


def test_an_hours_bucket_counts_packed_in_one_int_come_back_each_its_own() -> None:
    counts = [0, 1, 2**32 - 1, 36_000, 0, 7, 0, 0, 0, 2**32 - 1, 5]
    assert len(counts) == len(BUCKETS_MS)
    assert unpack_buckets(pack_buckets(counts)) == counts  # a full bucket spills into none
    assert unpack_buckets(pack_buckets([0] * len(BUCKETS_MS))) == [0] * len(BUCKETS_MS)
