"""R-N1 / D-2: one outage e-mail per affected eligible customer, the operators' copy, recovery."""

from __future__ import annotations

import datetime as dt
import email.utils

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.clock import FakeClock
from monitor.store.models import Notification
from monitor.testing.smtp import SMTPSink
from tests.support import rows

from .conftest import NotifierFactory
from .helpers import T0, add_incident, make_config, outbox, sink_smtp


async def test_outage_mails_each_eligible_customer_once_and_operators(
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    notifier = make_notifier(make_config(sink_smtp(sink)))
    incident_id = await add_incident(sessions, "srv-1")
    # acme, bita and the operators' copy; none for lapsed (R-EX5) nor dorna (R-EX6).
    await notifier.on_incident_opened(incident_id)
    await notifier.on_incident_opened(incident_id)  # never queued twice
    assert len(await outbox(sessions)) == 3
    clock.advance(5)
    assert await notifier.run_once() == 3

    received = {tuple(sorted(m.rcpt_tos)): m for m in sink.messages}
    assert sorted(received) == [
        ("ceo@acme.example", "tech@acme.example"),
        ("noc@rabit.example",),
        ("tech@bita.example",),
    ]
    acme = received[("ceo@acme.example", "tech@acme.example")].parsed()
    assert acme["From"] == "Rabit Hosting <sla@rabit.example>"
    assert acme["Subject"] == (
        "[Rabit Hosting] Outage: Tehran host 1 (srv-1) is unavailable (ACME Research)"
    )
    assert acme["Message-ID"].endswith("@rabit.example>")
    assert email.utils.parsedate_to_datetime(acme["Date"]) == T0 + dt.timedelta(seconds=0)
    assert acme["List-Id"] == '"Rabit Hosting notices" <sla-notices.rabit.example>'
    assert acme["Auto-Submitted"] == "auto-generated"
    assert acme.get_content_type() == "multipart/alternative"
    text = acme.get_body(("plain",)).get_content()
    html = acme.get_body(("html",)).get_content()
    assert "Dear ACME Research," in text
    assert "acme-survey" in text  # the customer's project on the failed server
    assert "Down since:" in text and "2026-05-01 08:00 UTC" in text
    assert "bita" not in text  # nothing about other customers
    assert '<html lang="en" dir="auto">' in html
    ops = received[("noc@rabit.example",)].parsed()
    assert ops["List-Id"] == '"Rabit Hosting operators" <sla-operators.rabit.example>'
    ops_text = ops.get_body(("plain",)).get_content()
    assert "Lapsed Ltd (lapsed): subscription lapsed (R-EX5)" in ops_text
    assert "Dorna Statistics (dorna): runs a clone of the platform (R-EX6)" in ops_text

    # R-N1 evidence: one notifications row per customer, at the SMTP acceptance time.
    notes = sorted(await rows(sessions, Notification), key=lambda n: n.customer_id)
    assert [(n.customer_id, n.channel, n.notified_at) for n in notes] == [
        ("acme", "email", T0 + dt.timedelta(seconds=5)),
        ("bita", "email", T0 + dt.timedelta(seconds=5)),
    ]
    sent = {m.dedupe_key: m for m in await outbox(sessions)}
    assert notes[0].outbox_id == sent[f"outage:{incident_id}:acme"].id
    assert sent[f"outage:{incident_id}:acme"].message_id == acme["Message-ID"]
    assert all(m.status == "sent" and m.accepted_at is not None for m in sent.values())
    assert all(m.smtp_response and "accepted" in m.smtp_response for m in sent.values())


async def test_recovery_mail_carries_the_measured_duration(
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    notifier = make_notifier(make_config(sink_smtp(sink)))
    incident_id = await add_incident(sessions, "srv-1")
    await notifier.on_incident_opened(incident_id)
    await notifier.run_once()
    async with sessions() as session, session.begin():
        from monitor.store.models import Incident

        incident = await session.get(Incident, incident_id)
        assert incident is not None
        incident.end = T0 + dt.timedelta(hours=1, minutes=30)
    clock.advance(95 * 60)
    await notifier.on_incident_closed(incident_id)
    assert len(await outbox(sessions)) == 6  # recoveries for acme, bita, and the operators
    await notifier.run_once()
    recoveries = [m.parsed() for m in sink.messages[3:]]
    subjects = sorted(m["Subject"] for m in recoveries)
    assert subjects[0] == (
        f"[Rabit Hosting] Recovered #{incident_id}: Tehran host 1 (srv-1) after 1 h 30 min"
    )
    assert all("after 1 h 30 min" in s for s in subjects)
    acme = next(m for m in recoveries if "tech@acme.example" in m["To"])
    # (the labels' column is as wide as its widest label: words, not spaces, are checked)
    text = " ".join(acme.get_body(("plain",)).get_content().split())
    assert "Measured duration: 1 h 30 min" in text
    await notifier.on_incident_closed(incident_id)
    assert len(await outbox(sessions)) == 6


async def test_a_server_outage_is_one_mail_per_customer_not_per_project(
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    make_notifier: NotifierFactory,
) -> None:
    # acme runs two projects on srv-1: still one e-mail naming both.
    config = make_config(sink_smtp(sink))
    data = config.model_dump(by_alias=True)
    data["services"].append(
        {
            "id": "acme-hr",
            "kind": "project",
            "server": "srv-1",
            "probe": data["services"][0]["probe"],
        }
    )
    data["customers"][0]["services"].append("acme-hr")
    notifier = make_notifier(type(config).model_validate(data))
    await notifier.on_incident_opened(await add_incident(sessions, "srv-1"))
    await notifier.run_once()
    acme = [m for m in sink.messages if "tech@acme.example" in m.rcpt_tos]
    assert len(acme) == 1
    text = acme[0].parsed().get_body(("plain",)).get_content()
    assert "acme-hr, acme-survey" in text
