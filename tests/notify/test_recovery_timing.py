"""A recovery e-mail goes out right after its outage e-mail, never minutes later (D-2).

The defect: a recovery queued while its outage e-mail was being sent took that message's
``next_attempt_at`` as its "not before", and while a message is being sent that column is
the end of its outbox lease, 5 minutes ahead. Five customers' projects broken and fixed
within seconds: the recovery e-mails of the outage e-mails still in flight (4 of 5, one
sender's batch) went out exactly 5 minutes late. Now the recovery is due at once and is
only held back, at claim time, while the e-mail it follows is pending or being sent."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.app import Daemon
from monitor.clock import FakeClock
from monitor.config import parse_config
from monitor.store import Database, create_engine
from monitor.store import outbox as stored
from monitor.store.models import Incident, OutboxMessage
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer
from tests.support import FAST, MONITOR, eventually, rows

from .conftest import NotifierFactory
from .helpers import add_incident, make_config, outbox, sink_smtp

OTHER = "elsewhere/00000000:1:1:cafe00-0"  # a sender of another host, holding a lease


async def test_a_recovery_waits_for_its_outage_mail_in_flight_then_goes_at_once(
    sessions: async_sessionmaker[AsyncSession],
    db: Database,
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    notifier = make_notifier(make_config(sink_smtp(sink), provider={"operators": []}))
    incident_id = await add_incident(sessions, "srv-1")
    await notifier.on_incident_opened(incident_id)
    # Another sender has the outage e-mails in flight: leased for 300 s.
    taken = await db.run(lambda tx: stored.claim(tx, now=clock.now(), lease=300.0, limit=10,
                                                 owner=OTHER))
    assert {m.kind for m in taken} == {"outage"} and len(taken) == 2
    clock.advance(30)
    async with sessions() as session, session.begin():
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        incident.end = clock.now()
    await notifier.on_incident_closed(incident_id)
    recoveries = [m for m in await outbox(sessions) if m.kind == "recovery"]
    assert len(recoveries) == 2
    # Due now, not at the end of the outage e-mail's lease (5 minutes on).
    assert all(m.next_attempt_at <= clock.now() for m in recoveries)
    assert await notifier.run_once() == 0  # never before the outage e-mail it follows
    assert sink.messages == []
    for message in taken:  # the other sender's server accepts them
        await db.run(lambda tx, m=message: stored.record_acceptance(
            tx, m.id, accepted_at=clock.now(), response="250 ok", error=None, owner=OTHER,
            recipients=m.recipients, refused={}))
    clock.advance(1)
    assert await notifier.run_once() == 2  # at once
    assert {m.parsed()["X-SLA-Monitor-Kind"] for m in sink.messages} == {"recovery"}


def five_customers(targets: list[TargetServer], sink: SMTPSink, db_url: str) -> str:
    servers = "\n".join(
        f"  - id: s{i}\n    probe: {{type: tcp, host: 127.0.0.1, port: {t.port}, {FAST}}}"
        for i, t in enumerate(targets))
    services = "\n".join(
        f"  - id: p{i}\n    kind: project\n    server: s{i}\n"
        f"    probe: {{type: http, url: \"{t.url('/')}\", {FAST}}}"
        for i, t in enumerate(targets))
    customers = "\n".join(
        f"  - id: c{i}\n    name: Customer {i}\n"
        f"    contacts: {{technical: {{email: tech@c{i}.example}}}}\n"
        f"    fee: {{amount: 1000, currency: EUR}}\n    services: [p{i}]\n"
        f"    sites: [{{domain: c{i}.example}}]"
        for i in range(len(targets)))
    return f"""
{MONITOR}
provider: {{name: Rabit Hosting, operators: [noc@rabit.example]}}
servers:
{servers}
services:
{services}
customers:
{customers}
smtp: {{host: 127.0.0.1, port: {sink.port}, tls: none, sender: sla@rabit.example, timeout: 5s}}
http: {{listen: "127.0.0.1:0"}}
storage: {{url: "{db_url}"}}
"""


@pytest.mark.slow
async def test_five_customers_restored_mails_arrive_within_seconds_of_the_recovery(
    db_url: str,
) -> None:
    targets = [TargetServer() for _ in range(5)]
    for target in targets:
        await target.__aenter__()
    try:
        async with SMTPSink() as sink:
            daemon = Daemon(parse_config(five_customers(targets, sink, db_url)))
            await daemon.start()
            engine = create_engine(db_url)
            try:
                await asyncio.sleep(1.5)
                sink.delay = 2.0  # an SMTP server that takes its time
                for target in targets:
                    target.set_status(503)

                async def in_flight() -> list[OutboxMessage]:
                    if len(await rows(engine, Incident)) < 5:
                        return []
                    return await rows(engine, OutboxMessage, OutboxMessage.kind == "outage",
                                      OutboxMessage.status == "sending")

                await eventually(in_flight, within=30, every=0.05)
                for target in targets:  # fixed while the outage e-mails are being sent
                    target.set_status(200)
                closed = await eventually(lambda: _all_closed(engine), within=30)
                recovered_at = max(i.end for i in closed)
                sink.delay = 0.0

                def restored() -> list[object]:
                    return [m for m in sink.messages
                            if m.parsed()["X-SLA-Monitor-Kind"] == "recovery"]

                await eventually(lambda: _async(len(restored()) == 5), within=30)
                late = [(m.rcpt_tos, (m.received_at - recovered_at).total_seconds())
                        for m in restored()]
                assert all(seconds < 15 for _, seconds in late), late
                # Each customer reads its outage e-mail first.
                arrived = {(m.parsed()["X-SLA-Monitor-Kind"], m.rcpt_tos): m.received_at
                           for m in sink.messages}
                for i in range(5):
                    address = (f"tech@c{i}.example",)
                    assert arrived[("outage", address)] < arrived[("recovery", address)]
            finally:
                await daemon.stop()
                await engine.dispose()
    finally:
        for target in targets:
            await target.__aexit__(None, None, None)


async def _all_closed(engine) -> list[Incident]:  # type: ignore[no-untyped-def]
    found = await rows(engine, Incident)
    return found if len(found) == 5 and all(i.end is not None for i in found) else []


async def _async(value: object) -> object:
    return value


