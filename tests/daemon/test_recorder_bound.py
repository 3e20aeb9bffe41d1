"""Probe results that cannot be stored: while the database refuses
writes, failures are kept up to a bound; beyond it they are counted and their span becomes
unknown time (``store_unavailable``, R-M3) at the next flush that succeeds, never silently
up and never an unbounded memory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter

from monitor.daemon.recorder import Recorder
from monitor.store import Database, create_engine
from monitor.store.migrate import upgrade
from monitor.store.models import ProbeFailure, UnknownInterval
from tests.faults.helpers import sqlite_locked
from tests.support import rows

T0 = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)


def failure(n: int) -> dict[str, object]:
    return {"failure_class": "http_status", "detail": f"HTTP 503 #{n}", "http_status": 503,
            "latency_ms": 5.0, "timings": {}}


async def test_failures_beyond_the_bound_become_unknown_time(tmp_path: Path) -> None:
    database = tmp_path / "sla-monitor.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}", busy_timeout=0.2)
    await upgrade(engine)
    dropped = Counter("dropped", "x", registry=CollectorRegistry())
    recorder = Recorder(Database(engine), max_pending_failures=5, dropped=dropped)
    try:
        with sqlite_locked(database, 30.0) as locker:
            for n in range(12):
                recorder.record("panel", "down", T0 + dt.timedelta(seconds=n), 5.0, failure(n))
            with pytest.raises(Exception, match="database is locked"):
                await recorder.flush()
            assert dropped._value.get() == 7  # 5 kept, 7 beyond the bound
            locker.kill()
        assert await recorder.flush() > 0
        kept = await rows(engine, ProbeFailure)
        assert [f.detail for f in kept] == [f"HTTP 503 #{n}" for n in range(5)]
        unknown = await rows(engine, UnknownInterval)
        assert [(u.reason, u.start, u.end) for u in unknown] == [
            ("store_unavailable", T0 + dt.timedelta(seconds=5), T0 + dt.timedelta(seconds=11))]
        assert unknown[0].detail == "7 probe failures could not be stored (database unavailable)"
        assert await recorder.flush() == 0  # recorded once
    finally:
        await engine.dispose()
