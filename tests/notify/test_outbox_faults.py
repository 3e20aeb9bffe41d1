"""The outbox under SMTP faults (defects 2 and 7; SPEC section 8, D-2): a slow
server and two workers send each message once; a worker whose lease ran out sends and
records nothing; a server down longer than the retry schedule gets the queue within
seconds of answering again, not at the next retry (up to 15 minutes later). After each:
nothing lost, nothing the server accepted sent twice, and a metric and a log line say
what happened. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.clock import FakeClock, SystemClock
from monitor.errors import TransientNotifyError
from monitor.notify import Backoff
from monitor.notify.layout import Rendered
from monitor.notify.outbox import Draft, enqueue
from monitor.store import Database, create_engine
from monitor.testing.smtp import SMTPSink
from tests.support import eventually, free_port

from .conftest import NotifierFactory
from .helpers import make_config, outbox, sink_smtp


async def queue(db: Database, count: int, now: dt.datetime) -> None:
    drafts = [
        Draft(
            dedupe_key=f"fault-test:{n}",
            kind="outage",
            recipients=(f"tech{n}@customer{n}.example",),
            rendered=Rendered(f"Outage {n}", f"Message {n}", f"<p>Message {n}</p>"),
        )
        for n in range(count)
    ]
    async with db.transaction() as tx:
        assert await enqueue(tx, drafts, now=now, domain="rabit.example") == count


def value(registry: CollectorRegistry, name: str, labels: dict[str, str] | None = None) -> float:
    found = registry.get_sample_value(name, labels)
    assert found is not None, name
    return found


def delivered_once(sink: SMTPSink, count: int) -> None:
    ids = [m.parsed()["Message-ID"] for m in sink.messages]
    assert len(ids) == count and len(set(ids)) == count, ids


@pytest.mark.slow
async def test_a_slow_server_and_two_workers_send_each_message_once(
    db: Database,
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    make_notifier: NotifierFactory,
) -> None:
    # 40 customers, a server answering in 17 s, a 300 s lease, batches of 20: a
    # batch outlived its lease, the other worker re-claimed the rest, 44 messages went out
    # for 40. Here, to scale: answers in 0.6 s, an 8 s lease (each send may take a quarter of
    # it: 2 s, so that a loaded machine's pauses do not time out a send the server accepted,
    # the window SMTP leaves), one batch of 16 (9.6 s, longer than the lease).
    config = make_config(sink_smtp(sink), provider={"operators": []})
    await queue(db, 16, dt.datetime.now(dt.UTC))
    sink.delay = 0.6
    workers = [
        make_notifier(config, clock=SystemClock(), lease=8.0, poll_interval=0.05, concurrency=1,
                      registry=CollectorRegistry())
        for _ in range(2)
    ]
    for worker in workers:
        await worker.start()

    async def all_sent() -> bool:
        return {m.status for m in await outbox(sessions)} == {"sent"}

    await eventually(all_sent, within=40, every=0.05)
    await asyncio.sleep(8.5)  # longer than a lease: a stray second copy would arrive now
    delivered_once(sink, 16)
    assert sorted(m.rcpt_tos[0] for m in sink.messages) == sorted(
        f"tech{n}@customer{n}.example" for n in range(16))
    assert all(m.claimed_by is None and m.attempts == 1 for m in await outbox(sessions))


async def test_a_worker_whose_lease_ran_out_sends_and_records_nothing(
    db: Database,
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = make_config(sink_smtp(sink), provider={"operators": []})
    await queue(db, 3, clock.now())
    registry = CollectorRegistry()
    slow = make_notifier(config, lease=300, registry=registry)
    claimed = await slow.worker._claim("slow-worker")  # claimed; then this worker stalls
    assert claimed is not None
    batch, leased_until = claimed
    clock.advance(301)  # its lease ran out: the rows are due again
    other = make_notifier(config, lease=300)
    assert await other.run_once() == 3
    delivered_once(sink, 3)
    # The stalled worker wakes up and goes on with its batch: it checks its lease first.
    with caplog.at_level(logging.WARNING, logger="monitor.notify"):
        attempted = await slow.worker.courier.send(
            batch, stopping=lambda: False, owner="slow-worker", leased_until=leased_until)
    assert attempted == []
    delivered_once(sink, 3)
    assert value(registry, "sla_monitor_outbox_leases_lost_total") == 3
    assert "outbox lease ran out" in caplog.text
    assert [m.status for m in await outbox(sessions)] == ["sent"] * 3


@pytest.mark.slow
async def test_smtp_down_longer_than_the_retry_schedule_then_back_within_seconds(
    db: Database,
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    make_notifier: NotifierFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The backoff doubles from 1 s: after about 7 s down the next retry is 8 s away (with
    # production values, 15 minutes). Probing every 0.5 s finds the server back first.
    config = make_config(sink_smtp(sink), provider={"operators": []})
    registry = CollectorRegistry()
    notifier = make_notifier(
        config, clock=SystemClock(), registry=registry, poll_interval=0.05, probe_interval=0.5,
        backoff=Backoff(initial=1.0, maximum=900.0, jitter=0.0),
    )
    await sink.go_down()
    await queue(db, 3, dt.datetime.now(dt.UTC))
    caplog.set_level(logging.INFO, logger="monitor.notify")
    await notifier.start()

    async def waiting_long() -> dt.datetime | None:
        rows = await outbox(sessions)
        attempts = max(m.attempts for m in rows)
        return max(m.next_attempt_at for m in rows) if attempts >= 4 else None

    next_retry = await eventually(waiting_long, within=30, every=0.1)
    assert value(registry, "sla_monitor_smtp_up") == 0
    assert "SMTP server unreachable" in caplog.text
    # Nothing given up: each still waits, or is in an attempt right now (a worker holds it).
    assert all(m.status in ("pending", "sending") for m in await outbox(sessions))
    await sink.come_up()
    back = dt.datetime.now(dt.UTC)
    assert (next_retry - back).total_seconds() > 3  # the schedule alone would wait this long
    await sink.wait_for(3, within=10)
    took = (max(m.received_at for m in sink.messages) - back).total_seconds()
    assert took < 3, took  # a probe interval and the sends, not the next scheduled retry
    await eventually(lambda: _all_sent(sessions), within=10)
    delivered_once(sink, 3)
    assert value(registry, "sla_monitor_smtp_up") == 1
    assert value(registry, "sla_monitor_outbox_released_total") >= 1
    assert "SMTP server answers again" in caplog.text
    await notifier.worker.refresh_depth()
    assert value(registry, "sla_monitor_outbox_oldest_waiting_seconds") == 0


async def _async(value: object) -> object:
    return value


async def _all_sent(sessions: async_sessionmaker[AsyncSession]) -> bool:
    return {m.status for m in await outbox(sessions)} == {"sent"}


async def test_the_oldest_waiting_message_is_exported_and_later_notices_are_not_waiting(
    db: Database, sink: SMTPSink, clock: FakeClock, make_notifier: NotifierFactory
) -> None:
    registry = CollectorRegistry()
    notifier = make_notifier(make_config(sink_smtp(sink)), registry=registry)
    later = Draft("notice:later", "maintenance", ("tech@acme.example",),
                  Rendered("Notice", "text", "<p>text</p>"),
                  not_before=clock.now() + dt.timedelta(days=2))
    async with db.transaction() as tx:
        await enqueue(tx, [later], now=clock.now(), domain="rabit.example")
    clock.advance(600)
    await notifier.worker.refresh_depth()
    assert value(registry, "sla_monitor_outbox_depth") == 1
    assert value(registry, "sla_monitor_outbox_oldest_waiting_seconds") == 0  # not due yet
    await queue(db, 1, clock.now())
    clock.advance(90)  # due for 90 s, never sent (nothing ran the worker)
    await notifier.worker.refresh_depth()
    assert value(registry, "sla_monitor_outbox_oldest_waiting_seconds") == 90


async def test_a_server_that_closes_the_session_after_each_message_gets_them_all_at_once(
    db: Database,
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server that takes one message a session and then closes it (or drops a session
    between two messages) is not down: the next message goes on a new session, at once.
    Before, it was sent on the closed one, failed ("Connection lost"), waited out a retry
    delay (30 s and more) and declared the server unreachable: ``sla_monitor_smtp_up`` 0,
    "SMTP server unreachable" logged, and the operators' webhook alert, for a server that
    had just accepted a message (D-2)."""
    config = make_config(sink_smtp(sink), provider={"operators": []})
    registry = CollectorRegistry()
    notifier = make_notifier(config, registry=registry)
    sink.close_after_accept = True
    await queue(db, 4, clock.now())
    caplog.set_level(logging.INFO, logger="monitor.notify")
    assert await notifier.run_once() == 4
    delivered_once(sink, 4)
    assert {m.status for m in await outbox(sessions)} == {"sent"}
    assert "SMTP server unreachable" not in caplog.text
    assert "send failed" not in caplog.text
    assert value(registry, "sla_monitor_email_send_failures_total", {"class": "transient"}) == 0


async def test_the_smtp_probe_with_the_database_away_says_nothing_but_the_outage(
    sink: SMTPSink, make_notifier: NotifierFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """While the SMTP server is unreachable it is probed every ``probe_interval``; when it
    answers, what waits is released in the database. With the database away then, the
    probe logged "SMTP server probe failed; tried again" at ERROR with a traceback, each
    round, besides the database's own line (README "One line per change of the
    database"). Now the database's line says it, once, and the probe goes on."""
    away = Database(create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/x"))
    config = make_config(sink_smtp(sink), provider={"operators": []})
    notifier = make_notifier(config, database=away, clock=SystemClock(), probe_interval=0.05,
                             lease=4)
    worker = notifier.worker
    caplog.set_level(logging.INFO, logger="monitor")
    worker.unreachable(TransientNotifyError("cannot reach the SMTP server: test"))
    watching = asyncio.create_task(worker._watch_server())
    try:
        await eventually(lambda: _async(caplog.text.count("database still unavailable") >= 1
                                        or caplog.text.count("database unavailable") >= 1),
                         within=10)
        await asyncio.sleep(0.3)  # several more rounds
    finally:
        await worker.stop()
        await watching
        await away.dispose()
    assert "SMTP server probe failed" not in caplog.text
    assert "Traceback" not in caplog.text
    assert caplog.text.count("database unavailable") == 1
