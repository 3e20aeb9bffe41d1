"""A lease held by a process that is gone is released by the next process that finds it
(D-2's outbox; how "gone" is known: :mod:`monitor.notify.owners`): the daemon's senders
find it within seconds, not when the lease runs out 5 minutes later. Another host's lease
(a cluster) waits for its end as before."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.clock import SystemClock
from monitor.notify import owners
from monitor.store import Database
from monitor.store.models import OutboxMessage
from monitor.testing.smtp import SMTPSink
from tests.support import eventually

from .conftest import NotifierFactory
from .helpers import add_incident, make_config, outbox, sink_smtp


def a_dead_process() -> tuple[int, int]:
    """The pid and start time of a process that has run and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = owners.start_ticks(child.pid)
        assert start is not None
    finally:
        child.kill()
        child.wait()
    return child.pid, start


def test_who_is_gone() -> None:
    me = owners.this_process()
    assert len(me.name) + len("-once") <= 64  # fits outbox.claimed_by
    assert owners.alive(f"{me.name}-0", me.prefix)  # this very process
    pid, start = a_dead_process()
    assert not owners.alive(f"{me.prefix}{pid}:{start}:abcdef-0", me.prefix)
    # A pid given to another process since: its start time is not the holder's.
    assert not owners.alive(f"{me.prefix}{me.pid}:{me.start + 1}:abcdef-0", me.prefix)
    # Another host (or container, or boot): not ours to judge; its lease runs out.
    assert owners.alive(f"elsewhere/00000000:{pid}:{start}:abcdef-0", me.prefix)
    assert owners.alive(f"{me.prefix}not-a-pid:1:x-0", me.prefix)
    assert owners.alive(f"{me.prefix}١٢:1:x-0", me.prefix)  # ASCII digits only


@pytest.mark.slow
async def test_the_running_worker_releases_a_dead_senders_lease_within_seconds(
    sessions: async_sessionmaker[AsyncSession],
    db: Database,
    sink: SMTPSink,
    make_notifier: NotifierFactory,
) -> None:
    notifier = make_notifier(make_config(sink_smtp(sink)), clock=SystemClock(),
                             poll_interval=0.2)
    worker = notifier.worker
    worker.orphan_check_interval = 0.5
    await notifier.start()
    me = owners.this_process()
    pid, start = a_dead_process()
    dead = f"{me.prefix}{pid}:{start}:abcdef-now"
    other_host = "elsewhere/00000000:1:1:abcdef-0"
    incident_id = await add_incident(sessions, "srv-1", start=dt.datetime.now(dt.UTC))
    # Queued and leased for 5 minutes in one transaction, as two senders that then died
    # would have left them: one of this host, one of another host.
    async with db.transaction() as tx:
        await notifier.duties.on_incident_opened(incident_id)
        until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        for holder, kind in ((dead, "outage"), (other_host, "ops_outage")):
            await tx.execute(update(OutboxMessage).where(OutboxMessage.kind == kind).values(
                status="sending", claimed_by=holder, next_attempt_at=until))
    notifier.duties.wake()

    async def sent() -> list[OutboxMessage]:
        return [m for m in await outbox(sessions) if m.status == "sent"]

    released = await eventually(sent, within=10)
    assert {m.kind for m in released} == {"outage"}  # acme's and bita's, sent now
    await asyncio.sleep(1.0)
    waiting = [m for m in await outbox(sessions) if m.status != "sent"]
    assert [(m.kind, m.status, m.claimed_by) for m in waiting] == [
        ("ops_outage", "sending", other_host)]  # another host's lease runs out
    assert {tuple(m.rcpt_tos) for m in sink.messages} == {
        ("tech@acme.example", "ceo@acme.example"), ("tech@bita.example",)}
