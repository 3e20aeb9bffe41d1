"""D-2 / R-N1 Decision: notified at exactly 2 h after the incident start is in time, and the
duty tracker and the month's report agree on it, because both ask the engine's one boundary
(monitor.sla.duty_state). Real SMTP acceptances through the outbox, the real store and
engine; runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.actions import month_report
from monitor.clock import FakeClock
from monitor.config import Settings
from monitor.store import Database
from monitor.testing.smtp import SMTPSink

from .conftest import NotifierFactory
from .helpers import T0, add_incident, make_config, sink_smtp

DEADLINE = 2 * 3600  # policy.notification_deadline (R-N1)
END_OF_MAY = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("accepted_after", "tracked", "breaches"),
    [
        (DEADLINE, "done", ()),  # exactly 2 h: in time, in both
        (DEADLINE + 1, "breached", "the incident"),  # one second later: late, in both
    ],
)
async def test_notified_at_the_deadline_is_in_time_for_the_tracker_and_the_report(
    db: Database,
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
    accepted_after: int,
    tracked: str,
    breaches: object,
) -> None:
    config = make_config(sink_smtp(sink))
    notifier = make_notifier(config)
    await sink.go_down()
    # 30 min on srv-1 (acme and bita): under every tier, so only R-N1 can earn a credit.
    incident = await add_incident(sessions, "srv-1", T0, T0 + dt.timedelta(minutes=30))
    await notifier.on_incident_opened(incident)

    # The tracker at the deadline instant, nothing accepted yet: not breached, since a
    # notice at this very instant would still be in time.
    clock.advance(DEADLINE)
    at_deadline = await notifier.check_duties()
    assert {d.customer_id: d.state for d in at_deadline.duties} == {
        "acme": "at_risk", "bita": "at_risk"}

    await sink.come_up()
    clock.advance(accepted_after - DEADLINE)
    await notifier.run_once()  # accepted now, at start + accepted_after (the R-N1 evidence)
    check = await notifier.check_duties()
    assert {d.customer_id: (d.state, d.latency_seconds) for d in check.duties} == {
        "acme": (tracked, float(accepted_after)), "bita": (tracked, float(accepted_after))}

    settings = Settings.from_config(config)
    report = await month_report(db, settings, month="2026-05", now=END_OF_MAY)
    for customer in ("acme", "bita"):
        found = report.customer(customer)
        assert found.incidents[0].notified_after_seconds == accepted_after
        expected = (incident,) if breaches else ()
        assert found.notification_breaches == expected
        assert found.notification_credit_days == len(expected)  # R-N1: 1 day per breach


async def test_the_report_at_the_deadline_instant_has_no_breach_yet(
    db: Database, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # A report of the running month computed at the deadline instant agrees with the
    # tracker above: nothing accepted yet, not breached yet; one second later, breached.
    settings = Settings.from_config(make_config())
    incident = await add_incident(sessions, "srv-1", T0, T0 + dt.timedelta(minutes=30))
    deadline = T0 + dt.timedelta(seconds=DEADLINE)
    at = await month_report(db, settings, month="2026-05", customer="acme", now=deadline)
    assert at.customer("acme").notification_breaches == ()
    after = await month_report(
        db, settings, month="2026-05", customer="acme", now=deadline + dt.timedelta(seconds=1))
    assert after.customer("acme").notification_breaches == (incident,)
