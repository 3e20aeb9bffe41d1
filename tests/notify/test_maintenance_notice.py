"""D-3 / R-EX1: maintenance notices reach technical contacts; late windows warn operators."""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from monitor import actions
from monitor.clock import FakeClock
from monitor.store import Database
from monitor.store.models import MaintenanceNotice
from monitor.testing.smtp import SMTPSink
from tests.support import rows

from .conftest import NotifierFactory
from .helpers import T0, add_window, make_config, outbox, sink_smtp

NOTICE = dt.timedelta(hours=48)


async def test_a_window_three_days_ahead_is_noticed_in_time(
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    notifier = make_notifier(make_config(sink_smtp(sink)))
    start = T0 + dt.timedelta(days=3)
    window_id = await add_window(sessions, start)
    await notifier.on_maintenance_created(window_id)
    assert len(await outbox(sessions)) == 2  # acme, bita; no warning
    clock.advance(10)
    await notifier.run_once()
    # D-3: to the technical contact only; none for the lapsed or clone customers.
    assert sorted(m.rcpt_tos for m in sink.messages) == [
        ("tech@acme.example",),
        ("tech@bita.example",),
    ]
    mail = sink.messages[0].parsed()
    assert "Scheduled maintenance on 2026-05-04 08:00 UTC" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    assert "Kernel upgrade" in text and "Tehran host 1 (srv-1)" in text
    notices = await rows(sessions, MaintenanceNotice)
    assert sorted(n.customer_id for n in notices) == ["acme", "bita"]
    for notice in notices:
        # R-EX1 evidence: sent_at is the SMTP acceptance, at least 48 h before the start.
        assert notice.sent_at == T0 + dt.timedelta(seconds=10)
        assert start - notice.sent_at >= NOTICE
        assert notice.channel == "email" and notice.outbox_id is not None
    clock.advance(24 * 3600)  # the duty is checked from shortly before its deadline on
    check = await notifier.check_duties()
    assert [d.state for d in check.duties if d.duty == "maintenance_notice"] == ["done", "done"]


async def test_a_window_24_hours_ahead_is_noticed_and_operators_warned(
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    registry = CollectorRegistry()
    notifier = make_notifier(make_config(sink_smtp(sink)), registry=registry)
    window_id = await add_window(sessions, T0 + dt.timedelta(hours=24))
    await notifier.on_maintenance_created(window_id)
    assert len(await outbox(sessions)) == 3
    await notifier.run_once()
    kinds = sorted(m.parsed()["X-SLA-Monitor-Kind"] for m in sink.messages)
    assert kinds == ["maintenance", "maintenance", "ops-maintenance-late"]
    warning = next(m for m in sink.messages if m.rcpt_tos == ("noc@rabit.example",)).parsed()
    assert "will count as downtime for 2 customer(s)" in warning["Subject"]
    text = warning.get_body(("plain",)).get_content()
    assert "ACME Research (acme)" in text and "R-EX1" in text
    # The notice was still sent and recorded, but it is late: the duty is breached.
    assert len(await rows(sessions, MaintenanceNotice)) == 2
    check = await notifier.check_duties()
    assert {d.customer_id for d in check.in_state("breached", "maintenance_notice")} == {
        "acme",
        "bita",
    }
    assert (
        registry.get_sample_value(
            "sla_monitor_duties_breached_total", {"duty": "maintenance_notice"}
        )
        == 2
    )
    await notifier.check_duties()  # counted once, warned once
    assert (
        registry.get_sample_value(
            "sla_monitor_duties_breached_total", {"duty": "maintenance_notice"}
        )
        == 2
    )
    assert sum(m.kind == "ops_maintenance_late" for m in await outbox(sessions)) == 1


async def test_a_notice_not_accepted_by_the_48h_mark_warns_operators(
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    notifier = make_notifier(make_config(sink_smtp(sink)))
    window_id = await add_window(sessions, T0 + dt.timedelta(hours=49))
    await sink.go_down()
    await notifier.on_maintenance_created(window_id)
    await notifier.run_once()
    clock.advance(30 * 60)  # 30 min before the 48 h mark: at risk
    check = await notifier.check_duties()
    assert len(check.in_state("at_risk", "maintenance_notice")) == 2
    # The 48 h mark passes without acceptance (R-EX1: a notice at the mark itself is in time,
    # so the duty is breached one second after it).
    clock.advance(30 * 60 + 1)
    check = await notifier.check_duties()
    assert len(check.in_state("breached", "maintenance_notice")) == 2
    await sink.come_up()
    clock.advance(3600)
    await notifier.run_once()
    kinds = sorted(m.parsed()["X-SLA-Monitor-Kind"] for m in sink.messages)
    assert kinds == ["maintenance", "maintenance", "ops-maintenance-late"]


async def test_a_notice_of_a_servers_window_names_the_customers_own_projects_on_it(
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    # The notice named only the server ("Tehran host 1 (srv-1)"), a host the customer may
    # never have heard of; the outage e-mail of the same server names the customer's own
    # projects on it, and so does the notice now (only its own: not its neighbours').
    notifier = make_notifier(make_config(sink_smtp(sink)))
    window_id = await add_window(sessions, T0 + dt.timedelta(days=3))
    await notifier.on_maintenance_created(window_id)
    await notifier.run_once()
    texts = {m.rcpt_tos: m.parsed().get_body(("plain",)).get_content() for m in sink.messages}
    acme = " ".join(texts[("tech@acme.example",)].split())
    assert "Your services affected: acme-survey" in acme, acme
    assert "bita-poll" not in acme
    bita = " ".join(texts[("tech@bita.example",)].split())
    assert "Your services affected: bita-poll" in bita and "acme-survey" not in bita, bita


async def test_a_window_called_off_is_said_to_those_its_notice_reached_once(
    db: Database,
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    notifier = make_notifier(make_config(sink_smtp(sink)))
    window_id = await add_window(sessions, T0 + dt.timedelta(days=3))
    await notifier.queue_new_windows()  # as the daemon's duty job: the notices
    await notifier.run_once()
    notices = {m.rcpt_tos: m.parsed() for m in sink.messages}
    assert set(notices) == {("tech@acme.example",), ("tech@bita.example",)}
    clock.advance(3600)
    cancelled = await actions.cancel_maintenance(db, window_id=window_id, actor="ops",
                                                 now=clock.now())
    assert (cancelled.withdrawn, cancelled.told) == (0, ("acme", "bita"))
    assert await notifier.queue_new_windows() == 1  # the cancellations, not new notices
    assert await notifier.queue_new_windows() == 0  # once
    await notifier.run_once()
    sent = sink.messages[len(notices):]
    # D-3: to the technical contacts the notice reached, in the notice's thread.
    assert sorted(m.rcpt_tos for m in sent) == sorted(notices)
    for message in sent:
        mail = message.parsed()
        assert mail["X-SLA-Monitor-Kind"] == "maintenance-cancelled"
        assert mail["Subject"].endswith("Scheduled maintenance on 2026-05-04 08:00 UTC cancelled")
        assert mail["In-Reply-To"] == notices[message.rcpt_tos]["Message-ID"]
        text = " ".join(mail.get_body(("plain",)).get_content().split())
        assert "will not take place" in text and "Tehran host 1 (srv-1)" in text
    clock.advance(3600)
    assert await notifier.queue_new_windows() == 0


async def test_notices_still_waiting_when_a_window_is_called_off_are_never_sent(
    db: Database,
    sessions: async_sessionmaker[AsyncSession],
    sink: SMTPSink,
    clock: FakeClock,
    make_notifier: NotifierFactory,
) -> None:
    notifier = make_notifier(make_config(sink_smtp(sink)))
    # 24 h ahead: the notices and the operators' late warning, all waiting (SMTP down).
    window_id = await add_window(sessions, T0 + dt.timedelta(hours=24))
    await sink.go_down()
    await notifier.queue_new_windows()
    await notifier.run_once()
    assert sorted(m.kind for m in await outbox(sessions)) == [
        "maintenance", "maintenance", "ops_maintenance_late"]
    cancelled = await actions.cancel_maintenance(db, window_id=window_id, actor="ops",
                                                 now=clock.now())
    assert (cancelled.withdrawn, cancelled.told) == (3, ())
    assert await outbox(sessions) == []
    await sink.come_up()
    clock.advance(3600)
    assert await notifier.queue_new_windows() == 0  # neither notices again nor a cancellation
    await notifier.run_once()
    assert sink.messages == []
    assert await rows(sessions, MaintenanceNotice) == []
