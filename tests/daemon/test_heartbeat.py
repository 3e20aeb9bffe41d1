"""The heartbeat at start (R-M3): a wall clock found behind the last heartbeat recorded is
said at once, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from monitor.clock import FakeClock
from monitor.daemon.heartbeat import Heartbeat
from monitor.store import Database

T0 = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)


async def test_a_start_on_a_wall_clock_behind_the_last_heartbeat_says_so(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The run before beat last an hour "later" than this start: its clock ran ahead and was
    set right meanwhile (or this one's is wrong). What this run records now comes before
    what is already recorded (an open incident's start, the probe history): the operator
    hears it when the daemon starts, not when a number looks wrong. Before, nothing was
    said (the gap, being negative, was not one)."""
    ahead = Heartbeat(db, FakeClock(T0 + dt.timedelta(hours=1)), unknown_after=5)
    await ahead.start()
    await ahead.beat()
    caplog.set_level(logging.INFO, logger="monitor.daemon.heartbeat")
    behind = Heartbeat(db, FakeClock(T0), unknown_after=5)
    assert await behind.start() is None  # no unknown gap: nothing was unwatched
    assert "the wall clock is behind the last heartbeat recorded" in caplog.text
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.behind_seconds == 3600

    # A restart on a clock past every heartbeat says nothing of the kind.
    caplog.clear()
    again = Heartbeat(db, FakeClock(T0 + dt.timedelta(hours=1, seconds=2)), unknown_after=5)
    await again.start()
    assert "behind" not in caplog.text
