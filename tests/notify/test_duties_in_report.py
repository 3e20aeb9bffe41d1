"""The e-mail duties feed the SLA report: a maintenance notice accepted 48 h ahead excludes
the window (R-EX1), a late one does not, and an outage notice that SMTP could not deliver
within 2 h earns the 1-day credit (R-N1). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from monitor.actions import month_inputs
from monitor.clock import FakeClock
from monitor.config import Settings
from monitor.store import Database
from monitor.testing.smtp import SMTPSink

from .conftest import NotifierFactory
from .helpers import T0, add_incident, add_window, make_config, sink_smtp

END_OF_MAY = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


async def report_for(engine: AsyncEngine, config, customer: str):  # type: ignore[no-untyped-def]
    settings = Settings.from_config(config)
    inputs = await month_inputs(Database(engine), settings, settings.month("2026-05"), END_OF_MAY)
    return inputs.compute(END_OF_MAY).customer(customer)


async def test_window_noticed_three_days_ahead_is_excluded(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    config = make_config(sink_smtp(sink))
    notifier = make_notifier(config)
    start = T0 + dt.timedelta(days=3)
    window_id = await add_window(sessions, start, hours=2)
    await notifier.on_maintenance_created(window_id)
    await notifier.run_once()  # accepted at T0: 72 h ahead
    # The server is down for exactly the announced 2 h.
    await add_incident(sessions, "srv-1", start, start + dt.timedelta(hours=2))
    acme = await report_for(engine, config, "acme")
    assert (acme.downtime_seconds, acme.excluded_seconds) == (0, 2 * 3600)
    assert acme.excluded_by_reason["maintenance"] == 2 * 3600
    assert acme.tier is None


@pytest.mark.slow
async def test_window_noticed_24_hours_ahead_is_counted(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    config = make_config(sink_smtp(sink))
    notifier = make_notifier(config)
    start = T0 + dt.timedelta(hours=24)
    window_id = await add_window(sessions, start, hours=2)
    await notifier.on_maintenance_created(window_id)
    await notifier.run_once()  # accepted at T0: only 24 h ahead (R-EX1 needs 48 h)
    incident = await add_incident(sessions, "srv-1", start, start + dt.timedelta(hours=2))
    acme = await report_for(engine, config, "acme")
    # Counted: 2 h >= 1.5 h gives the 1-week tier (R-T1).
    assert (acme.downtime_seconds, acme.excluded_seconds) == (2 * 3600, 0)
    assert acme.tier == "1w" and acme.tier_credit_days == 7
    assert incident in acme.notification_breaches  # not notified as an outage either (R-N1)


async def test_smtp_down_past_two_hours_earns_the_one_day_credit(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    config = make_config(sink_smtp(sink))
    notifier = make_notifier(config)
    await sink.go_down()
    # A 30-minute server outage: below every tier, so any credit is the R-N1 day.
    incident = await add_incident(sessions, "srv-1", T0, T0 + dt.timedelta(minutes=30))
    await notifier.on_incident_opened(incident)
    clock.advance(3600)
    await notifier.run_once()  # still down at 1 h
    await sink.come_up()
    clock.advance(3600 + 60)  # 2 h 1 min after the start
    await notifier.run_once()
    acme = await report_for(engine, config, "acme")
    assert acme.downtime_seconds == 30 * 60 and acme.tier is None
    assert acme.notification_breaches == (incident,)
    assert acme.notification_credit_days == 1 and acme.credit_days_total == 1
    assert [line.rule for line in acme.credit_lines] == ["R-N1"]
    assert dict(acme.incidents[0]._asdict())["notified_after_seconds"] == 2 * 3600 + 60
