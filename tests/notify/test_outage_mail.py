"""R-N1 / D-2: one outage e-mail per affected eligible customer, the operators' copy, recovery."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import threading

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor.clock import FakeClock
from monitor.config import Settings
from monitor.notify.duties import Duties
from monitor.notify.outbox import Draft
from monitor.store import Database, ledger
from monitor.store.ledger import NewEntry
from monitor.store.models import Notification
from monitor.testing.smtp import SMTPSink
from tests.support import rows

from .conftest import NotifierFactory
from .helpers import T0, add_incident, add_window, make_config, outbox, sink_smtp


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


async def test_a_customer_that_renewed_its_lapsed_site_is_told_of_outages_and_windows(
    db: Database,
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    """R-EX5 with L-2: ``lapsed``'s site was paid until 2026-01-01 in the configuration and
    is renewed to 2027-01-01 in the ledger (``ledger renew``: the configuration keeps its old
    date). It is not suspended, so it is told of an outage (R-N1) and of a window (D-3) as any
    customer is; the notifier read the configured date alone, told it nothing, and the
    month's report, which reads the renewal, then owed it a day of credit per incident."""
    notifier = make_notifier(make_config(sink_smtp(sink)))
    async with db.transaction() as tx:
        await ledger.append(tx, NewEntry(
            "lapsed", "lapsed.example", "renewal", reason="yearly renewal of support",
            rule="L-2", effective_at=T0 - dt.timedelta(days=1),
            paid_until=dt.date(2027, 1, 1)), actor="ops", created_at=T0 - dt.timedelta(days=1))
    incident_id = await add_incident(sessions, "srv-1")
    await notifier.on_incident_opened(incident_id)
    keys = sorted(m.dedupe_key for m in await outbox(sessions))
    assert keys == [f"ops_outage:{incident_id}",
                    *(f"outage:{incident_id}:{c}" for c in ("acme", "bita", "lapsed"))], keys
    window_id = await add_window(sessions, T0 + dt.timedelta(days=3))
    # Each in a daemon of its own: each reads the renewals itself.
    await make_notifier(make_config(sink_smtp(sink))).on_maintenance_created(window_id)
    notices = sorted(m.dedupe_key for m in await outbox(sessions) if "maintenance" in m.dedupe_key)
    assert [k.rsplit(":", 1)[-1] for k in notices] == ["acme", "bita", "lapsed"], notices
    # D-2: its notification is a duty the tracker follows, as acme's and bita's are.
    restarted = make_notifier(make_config(sink_smtp(sink)))
    check = await restarted.check_duties(T0 + dt.timedelta(minutes=5))
    assert sorted(s.customer_id for s in check.duties if s.duty == "notification") == [
        "acme", "bita", "lapsed"]


async def test_drafts_are_rendered_off_the_event_loop_with_one_configuration(
    sink: SMTPSink, make_notifier: NotifierFactory,
) -> None:
    """An outage of a shared server renders an e-mail per customer (10,000: a second), on a
    worker thread, not the event loop (where probe results and the HTTP API wait); a
    configuration reloaded meanwhile (SIGHUP) is the next outage's: the one being drafted
    keeps the configuration it began with, whole."""
    config = make_config(sink_smtp(sink))
    renamed = config.model_dump(by_alias=True)
    renamed["provider"]["name"] = "Renamed Hosting"
    notifier = make_notifier(config)
    before = notifier.duties.settings
    loop = asyncio.get_running_loop()
    seen: list[object] = []

    def draft(duties: Duties) -> list[Draft]:
        seen.append(threading.current_thread() is threading.main_thread())
        reloaded = asyncio.run_coroutine_threadsafe(reload(), loop)
        reloaded.result(timeout=10)  # the loop ran while this thread drafted
        seen.extend([duties.settings is before, duties.style.provider_name])
        return []

    async def reload() -> None:
        notifier.reconfigure(Settings.from_config(type(config).model_validate(renamed)))

    assert await notifier.duties.drafted(draft) == []
    assert seen == [False, True, "Rabit Hosting"]
    assert notifier.duties.style.provider_name == "Renamed Hosting"  # the next one's
