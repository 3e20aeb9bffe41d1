"""D-2 / SPEC section 8: the outbox survives SMTP faults and crashes; nothing accepted is resent."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from monitor.clock import FakeClock, SystemClock
from monitor.notify import Backoff
from monitor.notify import outbox as outbox_worker
from monitor.notify.layout import Rendered
from monitor.notify.outbox import Draft, enqueue
from monitor.store import Database, create_engine, session_factory
from monitor.store.migrate import upgrade
from monitor.store.models import Notification, OutboxRecipient
from monitor.testing.smtp import SMTPSink
from tests.support import eventually, rows

from .conftest import NotifierFactory
from .helpers import T0, add_incident, make_config, outbox, sink_smtp

REAL_FAST = Backoff(initial=0.05, maximum=0.2, jitter=0.1)  # real seconds


def failures(registry: CollectorRegistry, failure_class: str) -> float:
    value = registry.get_sample_value(
        "sla_monitor_email_send_failures_total", {"class": failure_class}
    )
    return value or 0.0


@pytest.mark.slow
async def test_smtp_down_then_back_delivers_once_with_accepted_at(
    sessions: async_sessionmaker[AsyncSession], sink: SMTPSink, make_notifier: NotifierFactory
) -> None:
    registry = CollectorRegistry()
    notifier = make_notifier(
        make_config(sink_smtp(sink), provider={"operators": []}),
        clock=SystemClock(),
        registry=registry,
        backoff=REAL_FAST,
        poll_interval=0.02,
    )
    await sink.go_down()
    await notifier.start()
    await notifier.on_incident_opened(await add_incident(sessions))

    async def retried() -> bool:
        return max(m.attempts for m in await outbox(sessions)) >= 3

    await eventually(retried, every=0.02)
    assert sink.messages == []
    assert failures(registry, "transient") >= 3
    # While the server is unreachable one message probes it; the others wait behind it.
    queued = await outbox(sessions)
    assert all(m.status in ("pending", "sending") and m.last_error for m in queued)
    assert "cannot reach the SMTP server" in (queued[0].last_error or "")

    await sink.come_up()
    await sink.wait_for(2)
    await eventually(lambda: _all_sent(sessions), every=0.02)
    await asyncio.sleep(0.3)  # several poll intervals: nothing more goes out
    assert sorted(sorted(m.rcpt_tos) for m in sink.messages) == [
        ["ceo@acme.example", "tech@acme.example"],
        ["tech@bita.example"],
    ]
    for message in await outbox(sessions):
        assert message.accepted_at is not None and message.smtp_response
    assert registry.get_sample_value("sla_monitor_outbox_depth") == 0


async def _all_sent(sessions: async_sessionmaker[AsyncSession]) -> bool:
    return all(m.status == "sent" for m in await outbox(sessions))


async def test_4xx_is_retried_with_backoff_then_delivered(
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    registry = CollectorRegistry()
    notifier = make_notifier(
        make_config(sink_smtp(sink), provider={"operators": []}), registry=registry
    )
    sink.fail_next(2, code=451)
    await notifier.on_incident_opened(await add_incident(sessions))
    assert await notifier.run_once() == 2
    queued = await outbox(sessions)
    assert [(m.status, m.attempts) for m in queued] == [("pending", 1), ("pending", 1)]
    assert "451" in (queued[0].last_error or "")
    # First retry after Backoff.initial (60 s here): not before.
    assert queued[0].next_attempt_at == clock.now() + dt.timedelta(seconds=60)
    clock.advance(59)
    assert await notifier.run_once() == 0
    clock.advance(1)
    assert await notifier.run_once() == 2
    assert [(m.status, m.attempts) for m in await outbox(sessions)] == [("sent", 2), ("sent", 2)]
    assert len(sink.messages) == 2
    assert failures(registry, "transient") == 2
    assert registry.get_sample_value("sla_monitor_email_send_attempts_total") == 4


async def test_5xx_marks_failed_and_alerts_operators(
    sessions: async_sessionmaker[AsyncSession], sink: SMTPSink, make_notifier: NotifierFactory
) -> None:
    registry = CollectorRegistry()
    config = make_config(sink_smtp(sink))
    notifier = make_notifier(config, registry=registry, batch_size=1)
    incident_id = await add_incident(sessions)
    await notifier.on_incident_opened(incident_id)
    sink.fail_next(1, code=554)  # the first message (acme's) is refused permanently
    await notifier.run_once()
    by_key = {m.dedupe_key: m for m in await outbox(sessions)}
    failed = by_key[f"outage:{incident_id}:acme"]
    assert failed.status == "failed" and failed.accepted_at is None
    assert "554" in (failed.last_error or "")
    alert = by_key[f"ops_send_failure:{failed.id}"]
    assert alert.status == "sent" and alert.recipients == ["noc@rabit.example"]
    alert_mail = next(
        m.parsed() for m in sink.messages if m.parsed()["X-SLA-Monitor-Kind"] == "ops-send-failure"
    )
    assert alert_mail["Message-ID"] == alert.message_id
    text = alert_mail.get_body(("plain",)).get_content()
    assert "ACME Research (acme)" in text and "554" in text
    assert f"sla-monitor outbox retry {failed.id}" in text  # how to send it again
    assert failures(registry, "permanent") == 1
    # No R-N1 evidence for acme; bita's was accepted.
    assert [n.customer_id for n in await rows(sessions, Notification)] == ["bita"]


async def test_an_operator_alert_that_fails_is_not_alerted_again(
    sessions: async_sessionmaker[AsyncSession], sink: SMTPSink, make_notifier: NotifierFactory
) -> None:
    notifier = make_notifier(make_config(sink_smtp(sink)))
    sink.reject_all = 554
    await notifier.on_incident_opened(await add_incident(sessions))
    await notifier.run_once()
    kinds = sorted((m.kind, m.status) for m in await outbox(sessions))
    # 3 first messages failed; 2 alerts for the customer messages, none for the operator copy
    # and none for the alerts themselves (no loops).
    assert kinds == [
        ("ops_outage", "failed"),
        ("ops_send_failure", "failed"),
        ("ops_send_failure", "failed"),
        ("outage", "failed"),
        ("outage", "failed"),
    ]


async def test_recipient_refusals_are_recorded_per_recipient(
    sessions: async_sessionmaker[AsyncSession], sink: SMTPSink, make_notifier: NotifierFactory
) -> None:
    notifier = make_notifier(make_config(sink_smtp(sink)))
    sink.refuse_recipient("ceo@acme.example")
    sink.refuse_recipient("tech@bita.example")
    incident_id = await add_incident(sessions)
    await notifier.on_incident_opened(incident_id)
    await notifier.run_once()
    by_key = {m.dedupe_key: m for m in await outbox(sessions)}
    acme, bita = by_key[f"outage:{incident_id}:acme"], by_key[f"outage:{incident_id}:bita"]
    assert acme.status == "sent"  # partial: the technical contact accepted it
    assert bita.status == "failed"  # every recipient refused: permanent
    outcomes = sorted(
        (r.address, r.status, r.code)
        for r in await rows(sessions, OutboxRecipient)
        if r.outbox_id in (acme.id, bita.id)
    )
    assert outcomes == [
        ("ceo@acme.example", "refused", 550),
        ("tech@acme.example", "accepted", None),
        ("tech@bita.example", "refused", 550),
    ]
    assert [n.customer_id for n in await rows(sessions, Notification)] == ["acme"]
    assert f"ops_send_failure:{bita.id}" in by_key


@pytest.mark.slow
async def test_a_crashed_worker_and_a_new_one_deliver_exactly_once(
    db_url: str, sink: SMTPSink, make_notifier: NotifierFactory
) -> None:
    """A worker killed mid-retry (tasks cancelled, engine dropped) and a new process."""
    config = make_config(sink_smtp(sink), provider={"operators": []})
    first_engine = create_engine(db_url)
    await upgrade(first_engine)
    first_sessions = session_factory(first_engine)
    first = make_notifier(
        config,
        database=Database(first_engine),
        clock=SystemClock(),
        backoff=REAL_FAST,
        poll_interval=0.02,
        # Killed in this very process, whose pid stays alive: a message it held when
        # "killed" is taken over when the lease runs out, so the lease is short (the
        # default, 5 min, made this test wait out a send caught mid-flight).
        lease=2.0,
    )
    sink.fail_next(10_000)  # 4xx until further notice
    await first.start()
    await first.on_incident_opened(await add_incident(first_sessions))

    async def mid_retry() -> bool:
        return all(m.attempts >= 2 for m in await outbox(first_sessions))

    await eventually(mid_retry, every=0.02)
    for task in first.worker._tasks:  # kill -9: no stop(), no release of leases
        task.cancel()
    _, stuck = await asyncio.wait(first.worker._tasks, timeout=5)
    if stuck and db_url.startswith("postgresql"):
        # A task cancelled inside a transaction can leave its connection holding row locks
        # (its rollback cancelled too); a killed process's connections are dropped, and
        # with them its locks: drop them the same way.
        await _drop_connections(db_url)
        await asyncio.wait(stuck, timeout=10)
    first.worker._tasks = []
    await first_engine.dispose()

    sink.fail_next(0)
    second_engine = create_engine(db_url)
    second_sessions = session_factory(second_engine)
    second = make_notifier(
        config,
        database=Database(second_engine),
        clock=SystemClock(),
        backoff=REAL_FAST,
        poll_interval=0.02,
        lease=2.0,  # each send may take a quarter of the lease (0.5 s here)
    )
    try:
        await second.start()
        await sink.wait_for(2)
        await eventually(lambda: _all_sent(second_sessions), every=0.02)
        await second.stop()
        await asyncio.sleep(0.6)
        assert len(sink.messages) == 2
        assert len(await rows(second_sessions, Notification)) == 2
    finally:
        await second.stop()
        await second_engine.dispose()


@pytest.mark.slow
async def test_a_lease_held_by_a_dead_worker_expires_and_an_accepted_message_is_never_resent(
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    config = make_config(sink_smtp(sink), provider={"operators": []})
    dead = make_notifier(config, lease=300)
    await dead.on_incident_opened(await add_incident(sessions))
    claimed = await dead.worker._claim("dead")  # claimed, then the process died before sending
    assert claimed is not None and len(claimed[0]) == 2
    assert {m.status for m in await outbox(sessions)} == {"sending"}

    restarted = make_notifier(config, lease=300)
    assert await restarted.run_once() == 0  # the lease still holds
    clock.advance(300)
    assert await restarted.run_once() == 2
    assert len(sink.messages) == 2
    clock.advance(3600)
    assert await make_notifier(config).run_once() == 0  # accepted and committed: never again
    assert len(sink.messages) == 2
    ids = {m.parsed()["Message-ID"] for m in sink.messages}
    assert ids == {m.message_id for m in await outbox(sessions)}


@pytest.mark.slow
async def test_stop_lets_the_in_flight_send_finish_and_hands_back_the_rest(
    sessions: async_sessionmaker[AsyncSession], sink: SMTPSink, make_notifier: NotifierFactory
) -> None:
    notifier = make_notifier(
        make_config(sink_smtp(sink)), clock=SystemClock(), poll_interval=0.02, concurrency=1
    )
    await notifier.on_incident_opened(await add_incident(sessions))
    sink.delay = 0.3  # a slow server: the first message is in flight when stop() comes

    async def in_flight() -> bool:
        return any(m.status == "sending" for m in await outbox(sessions))

    await notifier.start()
    await eventually(in_flight, every=0.02)
    await asyncio.sleep(0.1)
    await notifier.stop()
    statuses = sorted(m.status for m in await outbox(sessions))
    assert statuses == ["pending", "pending", "sent"]  # finished, and the rest handed back
    assert len(sink.messages) == 1
    now = dt.datetime.now(dt.UTC)
    assert all(m.next_attempt_at <= now for m in await outbox(sessions) if m.status == "pending")


async def _drop_connections(db_url: str) -> None:
    """What the server does when a process is killed: its sessions on this database end."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    connection = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(
        hide_password=False))
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    finally:
        await connection.close()


async def test_send_now_goes_a_part_at_a_time_and_says_how_far(
    db: Database, engine: AsyncEngine, sink: SMTPSink, make_notifier: NotifierFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``statement send`` at month-end hands send_now 10,000 keys: each claim names only a
    part of them (it named them all, with every id attempted so far excluded: quadratic,
    and past PostgreSQL's 32,767 parameters at about 16,000), and the command's progress
    is told after each part."""
    monkeypatch.setattr(outbox_worker, "SEND_NOW_PART", 3)
    notifier = make_notifier(make_config(sink_smtp(sink)))
    keys = [f"bulk:{n}" for n in range(7)]
    async with db.transaction() as tx:
        await enqueue(tx, [Draft(key, "statement", ("tech@acme.example",),
                                 Rendered(f"statement {key}", "text", "<p>html</p>"))
                           for key in keys], now=T0, domain="rabit.example")
    named: list[int] = []  # how many of the keys each claim named

    def claims(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "outbox" in statement:
            named.append(sum(1 for value in parameters or () if value in keys))

    event.listen(engine.sync_engine, "before_cursor_execute", claims)
    told: list[tuple[int, int]] = []
    try:
        sent = await notifier.send_now(keys, progress=lambda done, total: told.append(
            (done, total)))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", claims)
    assert sorted(m.dedupe_key for m in sent) == sorted(keys)
    assert all(m.accepted_at is not None for m in sent)
    assert len(await sink.wait_for(7)) == 7
    assert told == [(0, 7), (3, 7), (6, 7), (7, 7)]
    assert named and max(named) <= 3


async def test_idle_senders_look_at_the_queue_once_per_interval_between_them(
    make_notifier: NotifierFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four idle senders polling each on its own made four rounds (a write transaction and
    two counts each) per interval: nearly half of an idle daemon's CPU. Between them they
    make about one; a message queued still goes at once (the tests above)."""
    rounds = 0
    real = outbox_worker.OutboxWorker.refresh_depth

    async def counted(self: outbox_worker.OutboxWorker) -> int:
        nonlocal rounds
        rounds += 1  # once per round
        return await real(self)

    monkeypatch.setattr(outbox_worker.OutboxWorker, "refresh_depth", counted)
    notifier = make_notifier(make_config(), clock=SystemClock(), poll_interval=0.1,
                             concurrency=4)
    await notifier.start()
    await asyncio.sleep(0.2)  # the first round of each sender, at once
    rounds = 0
    await asyncio.sleep(1.0)
    assert 2 <= rounds <= 1.0 / 0.1 + 3, rounds
