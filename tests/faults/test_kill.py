"""The daemon killed with ``kill -9`` (SPEC section 8) in the middle of an outage,
of a probe-history flush and of an outbox send, then started again. After each: nothing
recorded is lost, the history has no half-written flush and no duplicate, and a message the
SMTP server had not accepted goes out once. A message the server accepted just before the
kill (its acceptance not yet committed) goes out again with the same Message-ID: the one
window SMTP leaves (README, "E-mail duties"); the test shows it is that and nothing more.
On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from itertools import pairwise
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from monitor.store import Database, create_engine
from monitor.store.models import (
    Incident,
    Notification,
    OutboxMessage,
    ProbeFailure,
    ProbeRun,
    UnknownInterval,
)
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.support import DaemonProcess, eventually, rows

from .helpers import scenario, sqlite_locked

pytestmark = pytest.mark.slow

Start = Callable[[Path], DaemonProcess]


def write_config(tmp_path: Path, target: TargetServer, sink: SMTPSink, db_url: str) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(scenario(target, sink, db_url, f"storage: {{url: '{db_url}', history_checkpoint: 0s}}"))
    return config


def kill(daemon: DaemonProcess) -> None:
    daemon.signal(signal.SIGKILL)
    assert daemon.wait() == -signal.SIGKILL


async def history_is_consistent(engine) -> None:  # type: ignore[no-untyped-def]
    """No run overlaps another of its target, ids grow with time, no failure twice."""
    runs = await rows(engine, ProbeRun)
    by_target: dict[str, list[ProbeRun]] = {}
    for run in runs:
        assert run.first_at <= run.last_at and run.count >= 1
        by_target.setdefault(run.target_id, []).append(run)
    for target_runs in by_target.values():
        for earlier, later in pairwise(target_runs):
            assert earlier.last_at < later.first_at, (earlier.id, later.id)
    failures = Counter((f.target_id, f.at) for f in await rows(engine, ProbeFailure))
    assert [key for key, count in failures.items() if count > 1] == []


async def test_kill_9_in_an_outage_then_restart(
    tmp_path: Path, db_url: str, daemon_process: Start
) -> None:
    async with TargetServer() as target, SMTPSink() as sink:
        config = write_config(tmp_path, target, sink, db_url)
        engine = create_engine(db_url)
        try:
            first = daemon_process(config)
            first.start()
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.state == "up"), within=30)
            target.set_status(503)
            incident = (await eventually(lambda: rows(engine, Incident), within=30))[0]
            await sink.wait_for(2, within=30)  # the outage e-mail and the operators' copy

            async def recorded() -> bool:  # (a kill in a send is the test below)
                sent = await rows(engine, OutboxMessage, OutboxMessage.status == "sent")
                return len(sent) == 2

            await eventually(recorded, within=30)
            kill(first)
            killed_at = dt.datetime.now(dt.UTC)
            await asyncio.sleep(1.5)  # longer than unknown_after (1 s)
            target.set_status(200)
            second = daemon_process(config)
            second.start()
            closed = await eventually(
                lambda: rows(engine, Incident, Incident.end.is_not(None)), within=30)
            assert [i.id for i in closed] == [incident.id]  # the same incident, closed
            gaps = await rows(engine, UnknownInterval, UnknownInterval.reason == "daemon_down")
            assert len(gaps) == 1 and gaps[0].start <= killed_at <= gaps[0].end
            await sink.wait_for(4, within=30)  # and the recovery e-mails
            await asyncio.sleep(1.0)
            subjects = Counter(m.parsed()["Message-ID"] for m in sink.messages)
            assert len(subjects) == 4 and set(subjects.values()) == {1}  # nothing twice
            assert len(await rows(engine, Notification)) == 1
            second.signal(signal.SIGTERM)
            assert second.wait() == 0
            await history_is_consistent(engine)
        finally:
            await engine.dispose()


async def test_kill_9_in_a_history_flush(
    tmp_path: Path, db_url: str, daemon_process: Start
) -> None:
    async with TargetServer() as target, SMTPSink() as sink:
        config = write_config(tmp_path, target, sink, db_url)
        engine = create_engine(db_url)
        try:
            first = daemon_process(config)
            first.start()
            runs = await eventually(lambda: rows(engine, ProbeRun, ProbeRun.state == "up"),
                                    within=30)
            target.set_status(503)  # failures to write: runs, failure rows and roll-ups
            await eventually(lambda: rows(engine, ProbeFailure), within=30)
            await asyncio.sleep(0.5)

            async def written() -> int:
                """The failures written, read as the daemon's readers do (a deferred BEGIN
                on SQLite: ``rows``' session begins IMMEDIATE and would wait for a lock)."""
                async with Database(engine).reading() as tx:
                    return len((await tx.execute(select(ProbeFailure))).scalars().all())

            # What was written is counted once the lock is held: a flush that committed
            # before it counts, one that waits for it is the one killed.
            if db_url.startswith("sqlite"):
                database = Path(make_url(db_url).database or "")
                with sqlite_locked(database, 7.0):
                    flushed = await written()
                    await asyncio.sleep(6.0)  # a flush (every 5 s) now waits for the lock
                    kill(first)
            else:
                flushed = await kill_in_a_postgres_flush(db_url, first, written)
            await history_is_consistent(engine)  # nothing half-written
            assert len(await rows(engine, ProbeFailure)) == flushed
            target.set_status(200)
            second = daemon_process(config)
            second.start()
            restarted = dt.datetime.now(dt.UTC)
            await eventually(lambda: rows(engine, Incident, Incident.end.is_not(None)),
                             within=30)
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.state == "up",
                                          ProbeRun.last_at > restarted), within=30)
            second.signal(signal.SIGTERM)
            assert second.wait() == 0
            await history_is_consistent(engine)
            # The run of the first 'up' stretch is the same row, continued, never duplicated.
            ups = await rows(engine, ProbeRun, ProbeRun.state == "up")
            assert ups[0].id == runs[0].id
        finally:
            await engine.dispose()


async def kill_in_a_postgres_flush(db_url: str, daemon: DaemonProcess,
                                   written: Callable[[], Awaitable[int]]) -> int:
    """Lock the roll-up table, the flush's last step: the flush writes its runs and failures
    in its transaction, then waits; the kill comes while it waits. (``history_checkpoint:
    0s`` in this file's configuration: every flush writes the roll-ups, issue 12.) Returns
    what ``written`` counted once the lock was held (a flush that had the table
    before has committed by then; one waiting for it is not visible)."""
    dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    locker = await asyncpg.connect(dsn)
    watcher = await asyncpg.connect(dsn)
    try:
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute("LOCK TABLE latency_rollups IN ACCESS EXCLUSIVE MODE")
        counted = await written()

        async def waiting() -> bool:
            found = await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE '%latency_rollups%' "
                "AND pid <> $1", locker.get_server_pid())
            return bool(found)

        await eventually(waiting, within=20)  # a flush is inside its transaction, waiting
        kill(daemon)
        await asyncio.sleep(0.5)
        await transaction.rollback()
    finally:
        await locker.close()
        await watcher.close()
    return counted


@pytest.mark.parametrize("when", ["before-acceptance", "after-acceptance"])
async def test_kill_9_in_an_outbox_send(
    tmp_path: Path, db_url: str, daemon_process: Start, when: str
) -> None:
    async with TargetServer() as target, SMTPSink() as sink:
        config = write_config(tmp_path, target, sink, db_url)
        engine = create_engine(db_url)
        try:
            first = daemon_process(config)
            first.start()
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.state == "up"), within=30)
            if when == "before-acceptance":
                sink.rcpt_delay = 3.0  # the server is slow before it has the message
            else:
                sink.delay = 1.0  # time to lock the database while the message is sent
            target.set_status(503)

            async def sending() -> list[OutboxMessage]:
                return await rows(engine, OutboxMessage, OutboxMessage.status == "sending")

            await eventually(sending, within=30, every=0.05)
            if when == "before-acceptance":
                await asyncio.sleep(1.0)  # inside the slow step
                kill(first)
            else:
                # The server accepts; the acceptance cannot be committed; the process dies.
                await kill_before_the_commit(db_url, first, sink)
            sink.rcpt_delay = sink.delay = 0.0
            await asyncio.sleep(1.0)
            # Accepted by the server, their acceptance not committed: one, or both when the
            # outage e-mail and the operators' copy were claimed by two senders at once (CI
            # once saw two: each sender sends its own batch, in parallel).
            accepted_before = Counter(m.parsed()["Message-ID"] for m in sink.messages)
            if when == "before-acceptance":
                assert accepted_before == Counter()
            else:
                assert 1 <= len(accepted_before) <= 2 and set(accepted_before.values()) == {1}
            second = daemon_process(config)
            second.start()  # hands the dead process's leases back at once

            async def all_sent() -> bool:
                found = await rows(engine, OutboxMessage)
                return bool(found) and {m.status for m in found} == {"sent"}

            await eventually(all_sent, within=30)
            await asyncio.sleep(1.0)
            queued = await rows(engine, OutboxMessage)
            ids = Counter(m.parsed()["Message-ID"] for m in sink.messages)
            assert set(ids) == {m.message_id for m in queued}  # nothing lost
            twice = {mid: count for mid, count in ids.items() if count > 1}
            # Nothing the server accepted and the daemon recorded went out again; the window
            # SMTP leaves: each copy accepted but not recorded went out once more, carrying
            # the same Message-ID (none before acceptance).
            assert twice == {mid: 2 for mid in accepted_before}
            assert len(await rows(engine, Notification)) == 1  # one acceptance recorded
            assert "handed back" in second.output()
            second.signal(signal.SIGTERM)
            assert second.wait() == 0
        finally:
            await engine.dispose()


async def kill_before_the_commit(db_url: str, daemon: DaemonProcess, sink: SMTPSink) -> None:
    if db_url.startswith("sqlite"):
        with sqlite_locked(Path(make_url(db_url).database or ""), 6.0):
            await sink.wait_for(1, within=10)
            await asyncio.sleep(0.5)
            kill(daemon)
        return
    dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    locker = await asyncpg.connect(dsn)
    try:
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE")
        await sink.wait_for(1, within=10)
        await asyncio.sleep(0.5)
        kill(daemon)
        await transaction.rollback()
    finally:
        await locker.close()
