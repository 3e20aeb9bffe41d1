"""D-2 / R-N1: the 2 h notification duty, tracked, warned at 1 h 30 min, and reported breached."""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from monitor.actions import log_notification
from monitor.cli.common import flag
from monitor.clock import FakeClock
from monitor.config import Settings
from monitor.errors import InputError
from monitor.store import Database
from monitor.store.models import Notification
from monitor.testing.smtp import SMTPSink
from tests.support import rows

from .conftest import NotifierFactory
from .helpers import T0, add_incident, make_config, outbox, sink_smtp


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_smtp_down_past_the_deadline_warns_at_90_min_and_reports_a_breach(
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    registry = CollectorRegistry()
    notifier = make_notifier(make_config(sink_smtp(sink)), registry=registry)
    await sink.go_down()
    incident_id = await add_incident(sessions, start=T0)
    await notifier.on_incident_opened(incident_id)

    async def minute(at: dt.timedelta) -> None:
        clock.advance((T0 + at - clock.now()).total_seconds())
        await notifier.run_once()

    await minute(dt.timedelta(hours=1, minutes=29))
    check = await notifier.check_duties()
    assert {d.state for d in check.duties} == {"pending"}
    assert check.queued == 0

    await minute(dt.timedelta(hours=1, minutes=30))  # policy.notification_warning: 30 min left
    check = await notifier.check_duties()
    assert sorted(d.customer_id for d in check.in_state("at_risk")) == ["acme", "bita"]
    assert check.queued == 1
    assert sample(registry, "sla_monitor_duties_at_risk", duty="notification") == 2
    warning = next(m for m in await outbox(sessions) if m.kind == "ops_duty_warning")
    assert warning.recipients == ["noc@rabit.example"]
    assert warning.created_at == T0 + dt.timedelta(hours=1, minutes=30)
    assert "+98 21 5555 0101" in warning.body_text  # so a person can phone
    assert "notification deadline in 30 min" in warning.subject
    assert (await notifier.check_duties()).queued == 0  # alerted once

    # R-N1 Decision: notified at exactly 2 h is in time, so the duty is breached only once the
    # deadline has passed: one second after it (test_d2_boundary.py checks the instant itself).
    await minute(dt.timedelta(hours=2, seconds=1))
    check = await notifier.check_duties()
    assert sorted(d.customer_id for d in check.in_state("breached")) == ["acme", "bita"]
    assert sample(registry, "sla_monitor_duties_breached_total", duty="notification") == 2
    assert sample(registry, "sla_monitor_duties_at_risk", duty="notification") == 0
    assert await rows(sessions, Notification) == []  # no R-N1 evidence within 2 h

    # The server comes back: the e-mail is accepted late; still a breach, counted once.
    await sink.come_up()
    clock.advance(900)
    await notifier.run_once()
    notes = await rows(sessions, Notification)
    assert {n.notified_at for n in notes} == {clock.now()}
    check = await notifier.check_duties()
    late = check.in_state("breached")
    assert len(late) == 2 and all(d.latency_seconds == 2 * 3600 + 1 + 900 for d in late)
    assert sample(registry, "sla_monitor_duties_breached_total", duty="notification") == 2
    assert sample(registry, "sla_monitor_notification_latency_seconds_bucket", le="7200.0") == 0
    assert sample(registry, "sla_monitor_notification_latency_seconds_count") == 2


async def test_a_logged_phone_call_meets_the_duty(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    # The operator's path (sla-monitor incident notified): monitor.actions.log_notification,
    # its errors in the command line's words (the CLI renames fields to flags).
    config = make_config(sink_smtp(sink))
    settings = Settings.from_config(config)
    notifier = make_notifier(config)
    await sink.go_down()
    incident_id = await add_incident(sessions, start=T0)
    await notifier.on_incident_opened(incident_id)
    clock.advance(100 * 60)
    at = T0 + dt.timedelta(minutes=95)

    async def log(incident: int, customer: str, when: dt.datetime) -> None:
        try:
            await log_notification(Database(engine), settings, incident_id=incident, at=when,
                                   channel="phone", customers=[customer], note="spoke to Sara",
                                   actor="test", now=clock.now())
        except InputError as error:
            raise error.renamed(flag) from None

    await log(incident_id, "acme", at)
    check = await notifier.check_duties()
    states = {d.customer_id: (d.state, d.channel, d.latency_seconds) for d in check.duties}
    assert states == {"acme": ("done", "phone", 95 * 60.0), "bita": ("at_risk", None, None)}

    with pytest.raises(InputError, match="--customer: 'dorna-x'"):
        await log(incident_id, "dorna-x", at)
    with pytest.raises(InputError, match="ID: 999"):
        await log(999, "acme", at)
    with pytest.raises(InputError, match="a time after the incident start"):
        await log(incident_id, "acme", T0 - dt.timedelta(1))


async def test_check_duties_requeues_outage_mail_lost_before_it_was_queued(
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    make_notifier: NotifierFactory,
) -> None:
    # The daemon opened the incident and died before calling on_incident_opened.
    notifier = make_notifier(make_config(sink_smtp(sink)))
    await add_incident(sessions, start=T0)
    check = await notifier.check_duties()
    assert check.queued == 3
    await notifier.run_once()
    assert len(sink.messages) == 3
