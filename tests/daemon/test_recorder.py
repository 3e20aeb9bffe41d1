"""R-M7 probe history: runs of equal state, every failure, and exact hourly rollups that
survive several flushes and a restart. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from monitor.daemon.recorder import Recorder
from monitor.store import Database, create_engine
from monitor.store.migrate import upgrade
from monitor.store.models import LatencyRollup, ProbeFailure, ProbeRun

HOUR = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)


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
