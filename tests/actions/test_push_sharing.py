"""Push targets' pushes shared through the store (monitor.actions.share_pushes): the node
that took a push writes it, every other node (and the daemon after a restart) reads it,
and of two pushes of a target the later wins, whichever was written last."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import OperationalError

from monitor import actions
from monitor.actions.push_book import Push, PushBook
from monitor.store import Database, create_engine
from monitor.store.models import LastPush
from tests.support import row_counts, rows

T = dt.datetime(2026, 12, 31, 23, 58, tzinfo=dt.UTC)  # the month's last minutes


async def test_a_push_one_node_took_is_read_by_another_and_the_later_wins(db: Database) -> None:
    here, there = PushBook(), PushBook()
    here.record("backup", Push(T, True, "ok"))
    assert await actions.share_pushes(db, here, now=T) == 1  # its own, read back
    assert await row_counts(db, (LastPush,)) == {"LastPush": 1}
    await actions.share_pushes(db, there, now=T + dt.timedelta(seconds=1))
    assert there.last("backup") == Push(T, True, "ok")
    # A later push on the other node; then an earlier one written late here (its write
    # came after): the store and both books keep the later.
    there.record("backup", Push(T + dt.timedelta(seconds=30), False, "disk full"))
    here.record("backup", Push(T + dt.timedelta(seconds=20), True, "late"))
    await actions.share_pushes(db, there, now=T + dt.timedelta(seconds=31))
    await actions.share_pushes(db, here, now=T + dt.timedelta(seconds=32))
    [row] = await rows(db, LastPush)
    assert (row.target_id, row.received_at, row.up, row.message) == (
        "backup", T + dt.timedelta(seconds=30), False, "disk full")
    assert here.last("backup") == Push(T + dt.timedelta(seconds=30), False, "disk full")
    await actions.share_pushes(db, there, now=T + dt.timedelta(seconds=33))
    assert there.last("backup") == Push(T + dt.timedelta(seconds=30), False, "disk full")
    # A daemon started afresh reads every target's last push at once.
    restarted = PushBook()
    assert await actions.share_pushes(db, restarted, now=T + dt.timedelta(hours=1)) == 1
    assert restarted.last("backup") == Push(T + dt.timedelta(seconds=30), False, "disk full")


async def test_pushes_not_written_are_kept_for_the_next_share(db: Database) -> None:
    book = PushBook()
    book.record("queue", Push(T, True))
    broken = Database(create_engine("sqlite+aiosqlite:////nonexistent-directory/x.db"))
    try:
        with pytest.raises(OperationalError):  # the store away: the push waits
            await actions.share_pushes(broken, book, now=T)
    finally:
        await broken.engine.dispose()
    assert await actions.share_pushes(db, book, now=T) == 1
    [row] = await rows(db, LastPush)
    assert (row.target_id, row.received_at) == ("queue", T)
