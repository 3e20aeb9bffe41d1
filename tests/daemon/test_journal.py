"""The incident journal: changes performed in order, the head retried
until it succeeds, nothing dropped; stuck after a bound (the daemon is not ready); a
listener that keeps failing does not hold later incidents back. And the write a retry
repeats is idempotent, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest
from prometheus_client import CollectorRegistry, Gauge

from monitor.daemon.detector import Closed, Opened
from monitor.daemon.journal import IncidentJournal, Intent
from monitor.store import Database, incidents
from monitor.store.models import Incident
from tests.support import rows

T0 = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)


def opened(target: str) -> Intent:
    return Intent(target, Opened(T0, None, T0 + dt.timedelta(seconds=2)))


async def test_changes_are_performed_in_order_and_the_head_is_retried() -> None:
    done: list[str] = []
    failures_left = {"a": 3}

    async def perform(intent: Intent) -> None:
        if failures_left.get(intent.target_id, 0) > 0:
            failures_left[intent.target_id] -= 1
            raise OSError("database is locked")
        intent.written = intent.notified = True
        done.append(intent.target_id)

    gauge = Gauge("pending", "x", registry=CollectorRegistry())
    journal = IncidentJournal(perform, pending_gauge=gauge, retry_initial=0.01)
    for target in ("a", "b", "c"):
        journal.add(opened(target))
    assert gauge._value.get() == 3
    assert await journal.settle(5.0)
    assert done == ["a", "b", "c"]  # b and c waited behind a: order kept
    assert journal.failures == 3 and gauge._value.get() == 0


@pytest.mark.slow
async def test_a_journal_that_cannot_write_is_stuck_and_keeps_everything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def perform(intent: Intent) -> None:
        raise OSError("database or disk is full")

    journal = IncidentJournal(perform, stuck_after=0.2, retry_initial=0.02, retry_max=0.05,
                              stop_grace=0.2)
    with caplog.at_level(logging.WARNING, logger="monitor.daemon.journal"):
        journal.add(opened("a"))
        journal.add(Intent("a", Closed(T0 + dt.timedelta(minutes=5), None)))
        assert not await journal.settle(0.5)
        assert journal.stuck and len(journal.pending) == 2  # nothing forgotten
        assert caplog.text.count("incident changes cannot be written") == 1  # said once
        await journal.close()  # stopping: each change left is logged for the operator
    assert caplog.text.count("incident change not written before the daemon stopped") == 2


async def test_a_listener_that_keeps_failing_does_not_hold_later_incidents_back() -> None:
    done: list[str] = []

    async def perform(intent: Intent) -> None:
        intent.written = True
        if intent.target_id == "a":
            raise RuntimeError("listener bug")
        intent.notified = True
        done.append(intent.target_id)

    journal = IncidentJournal(perform, retry_initial=0.01, notify_attempts=3)
    journal.add(opened("a"))
    journal.add(opened("b"))
    assert await journal.settle(5.0)
    assert done == ["b"] and journal.failures == 3


async def test_repeating_a_committed_open_writes_nothing_twice(db: Database) -> None:
    # A retry after a commit whose answer was lost (a connection dropped) finds the row.
    async def open_once() -> int:
        async with db.transaction() as tx:
            return await incidents.open_probe_incident(
                tx, service_id="panel", start=T0, start_bound=None, detected_at=T0,
                created_at=T0)

    first, again = await open_once(), await open_once()
    assert first == again and len(await rows(db, Incident)) == 1
    await asyncio.sleep(0)
