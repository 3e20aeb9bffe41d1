"""The database's reachability, said once per change (monitor.store.db.Availability): a
transaction that never reached the database (nothing to write) is no sign it answers.

Seen with a node cut off from PostgreSQL: "database unavailable" / "database available again
after 0.0 s" six times in eight seconds, because a flush with nothing to write completed
"successfully" without a connection and was taken for the database answering."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from monitor.store import Database
from monitor.store.db import WRITES_SETTLE, Availability
from tests.faults.helpers import TcpProxy


@pytest.mark.slow
async def test_an_empty_transaction_during_an_outage_is_no_answer(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    real = make_url(pg_url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    await proxy.start()
    db = Database.open(real.set(host="127.0.0.1", port=proxy.port)
                       .render_as_string(hide_password=False))
    caplog.set_level(logging.INFO, logger="monitor.store.db")
    try:
        async with db.transaction() as tx:
            await tx.execute(text("SELECT 1"))
        await proxy.stop()
        await db.engine.dispose()  # no pooled connection survives the cut
        with pytest.raises(Exception) as raised:
            async with db.transaction() as tx:
                await tx.execute(text("SELECT 1"))
        assert db.outage(raised.value)
        async with db.transaction():
            pass  # nothing to write: no connection asked for
        assert db.availability.down
        await proxy.start()
        async with db.transaction() as tx:
            await tx.execute(text("SELECT 1"))
        assert not db.availability.down
    finally:
        await proxy.stop()
        await db.dispose()
    said = [r.getMessage().split(":")[0].split(" after")[0] for r in caplog.records]
    assert said == ["database unavailable", "database available again"]


def test_a_database_that_answers_some_transactions_and_not_others_is_not_said_each_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SQLite on a full disk: reads (and a write that fits the WAL) answer, the flush's
    writes fail. Before, every round said it anew: 37 "database unavailable" (ERROR) and
    36 "database available again" lines in a minute, seen live on a full 2 MB tmpfs. A
    failure within a minute of the back line is the same outage going on: said by the
    reminder at most once a minute, as an outage is, and its end then said once."""
    now = [0.0]
    availability = Availability("test.db", clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="monitor.store.db")

    def at(seconds: float, answered: bool) -> None:
        now[0] = seconds
        if answered:
            availability.answered()
        else:
            availability.failed(OSError("database or disk is full"))

    at(0, answered=False)
    at(2, answered=True)  # said at once: nothing tells a flap from the end of an outage yet
    for second in range(3, 60):  # then writes fail and reads answer, each second
        at(second, answered=second % 2 == 0)
    assert availability.down
    at(62, answered=False)  # a minute since the last line: reminded, from the first failure
    at(63, answered=True)
    assert not availability.down
    at(200, answered=False)  # long after: another outage, said as one
    at(201, answered=True)
    said = [(r.getMessage().split(":")[0].split(" after")[0], r.down_seconds)  # type: ignore[attr-defined]
            for r in caplog.records]
    assert said == [
        ("database unavailable", 0.0),
        ("database available again", 2.0),
        ("database still unavailable", 62.0),
        ("database available again", 63.0),
        ("database unavailable", 0.0),
        ("database available again", 1.0),
    ], said


def test_reads_that_answer_while_writes_fail_end_no_outage_and_readiness_waits() -> None:
    """SQLite on a full disk or locked by another writer: reads answer, writes fail. A read
    said "database available again" (and /readyz said the database took writes) while every
    flush failed; a write that commits ends the outage, and writes count as going through
    once none failed for WRITES_SETTLE seconds."""
    now = [0.0]
    availability = Availability("test.db", clock=lambda: now[0])
    availability.failed(OSError("database or disk is full"), write=True)
    assert availability.down and availability.writes_failing
    now[0] = 1.0
    availability.answered()  # a read
    assert availability.down and availability.writes_failing
    now[0] = 2.0
    availability.answered(write=True)  # a small write that fit
    assert not availability.down
    assert availability.writes_failing  # not yet: a write failed two seconds ago
    now[0] = 1.0 + WRITES_SETTLE
    assert not availability.writes_failing
