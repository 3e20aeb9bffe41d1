"""A recovery e-mail after an incident that reopened (the flap decision, R-M1: a failure
within five minutes of the recovery reopens the incident; its up time counts as down).

Before, the customer read "Restored: ... available again after 40 min" and then nothing:
the service failed again a minute later and came back, the incident grew, and the
recovery's dedupe key was spent. Now the end of a reopened incident is told again,
"Restored again", with the whole measured duration, once it has stayed up for the flap
window: a reopening within it withdraws that e-mail, so a service that flaps for an hour
sends one, not one per flap."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.clock import FakeClock
from monitor.notify import Notifier
from monitor.sla import FLAP_WINDOW
from monitor.store import Database, incidents
from monitor.store.models import Incident
from monitor.testing.smtp import SMTPSink

from .conftest import NotifierFactory
from .helpers import T0, add_incident, make_config, outbox, sink_smtp


async def _end(sessions: async_sessionmaker[AsyncSession], incident_id: int,
               end: dt.datetime) -> None:
    async with sessions() as session, session.begin():
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        incident.end = end


async def _reopen(db: Database, notifier: Notifier, incident_id: int, at: dt.datetime) -> None:
    async with db.transaction() as tx:  # as the daemon's incident book does it
        await incidents.reopen(tx, incident_id, at=at)
    await notifier.on_incident_reopened(incident_id)


async def _down_then_restored(sessions: async_sessionmaker[AsyncSession], notifier: Notifier,
                              clock: FakeClock, *, minutes: int) -> int:
    """srv-1 down from T0 for ``minutes``: its outage and recovery e-mails sent."""
    incident_id = await add_incident(sessions, "srv-1")
    await notifier.on_incident_opened(incident_id)
    await notifier.run_once()
    await _end(sessions, incident_id, T0 + dt.timedelta(minutes=minutes))
    clock.advance(minutes * 60)
    await notifier.on_incident_closed(incident_id)
    await notifier.run_once()
    return incident_id


def _subjects(sink: SMTPSink, to: str) -> list[str]:
    return [m.parsed()["Subject"] for m in sink.messages if to in m.rcpt_tos]


async def test_the_end_of_a_reopened_incident_is_told_again_once_it_stays_up(
    sessions: async_sessionmaker[AsyncSession], db: Database, sink: SMTPSink,
    make_notifier: NotifierFactory, clock: FakeClock,
) -> None:
    notifier = make_notifier(make_config(sink_smtp(sink)))
    incident_id = await _down_then_restored(sessions, notifier, clock, minutes=40)
    assert [s for s in _subjects(sink, "tech@acme.example") if "Restored" in s] == [
        "[Rabit Hosting] Restored: Tehran host 1 (srv-1) is available again after 40 min "
        "(ACME Research)"]

    # Down again a minute later (within the flap window): the same incident, reopened...
    clock.advance(90)
    await _reopen(db, notifier, incident_id, clock.now())
    # ... up again 10 minutes later: 52 minutes in all.
    await _end(sessions, incident_id, T0 + dt.timedelta(minutes=52))
    clock.advance(11 * 60)
    await notifier.on_incident_closed(incident_id)
    await notifier.run_once()
    assert len([s for s in _subjects(sink, "tech@acme.example") if "Restored" in s]) == 1
    # It stays up for the flap window: now it is told, threaded under the outage e-mail.
    clock.advance(FLAP_WINDOW.total_seconds())
    await notifier.run_once()
    restored = [m.parsed() for m in sink.messages if "tech@acme.example" in m.rcpt_tos
                and "Restored" in m.parsed()["Subject"]]
    assert [m["Subject"] for m in restored] == [
        "[Rabit Hosting] Restored: Tehran host 1 (srv-1) is available again after 40 min "
        "(ACME Research)",
        "[Rabit Hosting] Restored again: Tehran host 1 (srv-1) is available after 52 min in "
        "all (ACME Research)"]
    text = restored[1].get_body(("plain",)).get_content()
    assert "failed again after our last message" in text
    outage = next(m.parsed() for m in sink.messages if "tech@acme.example" in m.rcpt_tos
                  and "Outage" in m.parsed()["Subject"])
    assert restored[1]["In-Reply-To"] == outage["Message-ID"]
    # Each customer told of the outage is told again, no other; the operators' copy of the
    # recovery is not repeated (they watch the incident itself).
    again = sorted((m.customer_id, m.status) for m in await outbox(sessions)
                   if m.dedupe_key.startswith(f"recovery:{incident_id}:") and ":again-" in
                   m.dedupe_key)
    told = sorted(m.customer_id for m in await outbox(sessions) if m.kind == "outage")
    assert again == [(customer, "sent") for customer in told]
    assert len([m for m in await outbox(sessions) if m.kind == "ops_recovery"]) == 1


async def test_a_service_that_flaps_sends_one_restored_again_not_one_per_flap(
    sessions: async_sessionmaker[AsyncSession], db: Database, sink: SMTPSink,
    make_notifier: NotifierFactory, clock: FakeClock,
) -> None:
    notifier = make_notifier(make_config(sink_smtp(sink)))
    incident_id = await _down_then_restored(sessions, notifier, clock, minutes=10)
    for _ in range(6):  # down a minute, up two, for 18 minutes
        clock.advance(120)
        await _reopen(db, notifier, incident_id, clock.now())
        clock.advance(60)
        end = clock.now()
        await _end(sessions, incident_id, end)
        await notifier.on_incident_closed(incident_id)
        await notifier.run_once()
    clock.advance(FLAP_WINDOW.total_seconds())
    await notifier.run_once()
    subjects = [s for s in _subjects(sink, "tech@acme.example") if "Restored" in s]
    assert subjects == [
        "[Rabit Hosting] Restored: Tehran host 1 (srv-1) is available again after 10 min "
        "(ACME Research)",
        "[Rabit Hosting] Restored again: Tehran host 1 (srv-1) is available after 28 min in "
        "all (ACME Research)"]
    # The withdrawn ones are gone from the outbox, not left pending or failed.
    pending = [m for m in await outbox(sessions) if m.status in ("pending", "sending")]
    assert pending == []
