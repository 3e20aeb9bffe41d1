"""The contract's e-mails at a real SMTP server (L-4, L-5, R-C1, D-4) and the claim and
ticket deadlines the daemon tracks (D-4, D-5): metrics and operator e-mails."""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry

from monitor import actions
from monitor.clock import FakeClock
from monitor.config import Settings, parse_config
from monitor.notify.contract import ContractMailer
from monitor.store import Database
from monitor.store.models import Claim, OutboxMessage, Ticket
from monitor.testing.smtp import SMTPSink
from tests.actions.contract import NOW, yaml
from tests.support import rows

from .conftest import NotifierFactory

HOUR = dt.timedelta(hours=1)


def config(sink: SMTPSink, timezone: str = "UTC", calendar: str = "gregorian"):  # type: ignore[no-untyped-def]
    return parse_config(yaml(timezone, calendar) + f"""
smtp: {{host: {sink.host}, port: {sink.port}, tls: none, sender: sla@rabit.example, timeout: 5}}
""")


async def test_ticket_number_receipt_and_decision_reach_the_smtp_sink(
    db: Database, sink: SMTPSink, make_notifier: NotifierFactory,
) -> None:
    tehran = config(sink, "Asia/Tehran", "jalali")
    settings = Settings.from_config(tehran)
    clock = FakeClock(NOW)
    notifier = make_notifier(tehran, clock=clock)
    mail = ContractMailer(settings, NOW)
    opened = NOW - HOUR  # 2026-11-30 11:00Z = 14:30 in Tehran, 9 Azar 1405
    ticket = await actions.open_ticket(db, settings, customer="bita", service="panel",
                                       channel="email", summary="فرم پرسشنامه ذخیره نمی‌شود",
                                       at=opened, mail=mail, actor="ops", now=NOW)
    # Aban 1405 ended 1 Azar (2026-11-22 Tehran); its claims close 14 days later.
    claim = await actions.submit_claim(db, settings, customer="bita", month="1405-08",
                                       channel="web", mail=mail, actor="customer:bita", now=NOW)
    await actions.decide_claim(db, settings, claim_id=claim.claim.id, decision="rejected",
                               reason="no outage of ours in Aban", mail=mail, actor="ops",
                               now=NOW)
    clock.advance(5)
    assert await notifier.run_once() == 3
    received = await sink.wait_for(3)
    assert [m.rcpt_tos for m in received] == [("it@bita.example",)] * 3
    parsed = [m.parsed() for m in received]
    assert [p["X-SLA-Monitor-Kind"] for p in parsed] == [
        "ticket-number", "claim-receipt", "claim-decision"]
    assert parsed[0]["Subject"].startswith(f"[Rabit Hosting] Ticket #{ticket.ticket.id}: ")
    assert parsed[1]["Subject"] == (
        f"[Rabit Hosting] Credit claim #{claim.claim.id} for 1405-08 received")
    assert parsed[2]["Subject"] == (
        f"[Rabit Hosting] Credit claim #{claim.claim.id} for 1405-08: rejected")
    number = parsed[0].get_body(("plain",)).get_content()
    # Times in the provider's zone and calendar: opened 14:30 Tehran on 9 Azar 1405, the
    # diagnosis due 48 h later (R-P1), 11 Azar.
    assert "Opened:           1405/09/09 14:30 Asia/Tehran (UTC+03:30; Gregorian 2026-11-30)" in number
    assert "1405/09/11 14:30 Asia/Tehran" in number
    # The customer reads English (the provider's default): left to right, the Persian name
    # kept whole (SPEC section 7: the language decides the direction, not the name).
    html = parsed[1].get_body(("html",)).get_content()
    assert '<html lang="en" dir="auto">' in html and "شرکت بیتا نظرسنجی" in html
    assert "no outage of ours in Aban" in parsed[2].get_body(("plain",)).get_content()
    # The SMTP acceptance is the evidence (L-4, D-4).
    (stored_ticket,) = await rows(db, Ticket)
    (stored_claim,) = await rows(db, Claim)
    accepted = NOW + dt.timedelta(seconds=5)
    assert stored_ticket.number_sent_at == accepted
    assert (stored_claim.receipt_sent_at, stored_claim.decision_sent_at) == (accepted, accepted)
    shown = await actions.show_claim(db, settings, claim_id=claim.claim.id, now=accepted)
    assert (shown.receipt, shown.decision) == ("done", "done")


def sample(registry: CollectorRegistry, name: str, duty: str) -> float | None:
    return registry.get_sample_value(name, {"duty": duty})


async def test_d4_d5_deadlines_at_risk_and_overdue_are_metrics_and_operator_mail(
    db: Database, sink: SMTPSink, make_notifier: NotifierFactory,
) -> None:
    cfg = config(sink)
    settings = Settings.from_config(cfg)
    registry = CollectorRegistry()
    clock = FakeClock(NOW)
    notifier = make_notifier(cfg, clock=clock, registry=registry)
    mail = ContractMailer(settings, NOW)
    # A claim of 2026-11-05 10:00: receipt due 2026-11-07 23:59:59, decision due 11-19 10:00.
    claim = await actions.submit_claim(db, settings, customer="acme", month="2026-10",
                                       site="acme.example",
                                       at=dt.datetime(2026, 11, 5, 10, tzinfo=dt.UTC),
                                       mail=mail, actor="ops", now=NOW)
    # Diagnosis due in 1 h (at risk within policy.deadline_warning, 4 h), and one 2 h late.
    soon = await actions.open_ticket(db, settings, customer="acme", service="panel",
                                     channel="email", summary="export button", at=NOW - 47 * HOUR,
                                     mail=mail, actor="ops", now=NOW)
    late = await actions.open_ticket(db, settings, customer="acme", service="mobile-api",
                                     channel="phone", summary="sync hangs", at=NOW - 50 * HOUR,
                                     mail=mail, actor="ops", now=NOW)
    check = await notifier.check_duties(NOW)
    states = {(d.duty, d.about): d.state for d in check.duties if d.duty.startswith(("claim", "ticket"))}
    assert states == {("claim_receipt", claim.claim.id): "breached",
                      ("claim_decision", claim.claim.id): "breached",
                      ("ticket_diagnosis", soon.ticket.id): "at_risk",
                      ("ticket_diagnosis", late.ticket.id): "breached"}
    overdue = "sla_monitor_duties_overdue"
    assert sample(registry, overdue, "claim_decision") == 1
    assert sample(registry, overdue, "ticket_diagnosis") == 1
    assert sample(registry, "sla_monitor_duties_at_risk", "ticket_diagnosis") == 1
    # A cluster's former leader stops checking: its figures fall to 0 rather than stand
    # stale beside the new leader's (the shipped rules take max by (duty)); the next
    # check (as leader again) puts them back.
    notifier.metrics.forget_duties()
    assert sample(registry, overdue, "claim_decision") == 0
    assert sample(registry, "sla_monitor_duties_at_risk", "ticket_diagnosis") == 0
    await notifier.check_duties(NOW)
    assert sample(registry, overdue, "claim_decision") == 1
    operator = sorted(m.dedupe_key for m in await rows(db, OutboxMessage)
                      if m.kind == "ops_contract_duty")
    assert operator == sorted([
        f"ops_overdue:claim_receipt:{claim.claim.id}", f"ops_overdue:claim_decision:{claim.claim.id}",
        f"ops_due_soon:ticket_diagnosis:{soon.ticket.id}",
        f"ops_overdue:ticket_diagnosis:{late.ticket.id}"])
    assert (await notifier.check_duties(NOW)).queued == 0  # each e-mail once
    await notifier.run_once()
    to_operators = {m.parsed()["Subject"] for m in sink.messages
                    if m.rcpt_tos == ("noc@rabit.example",)}
    assert f"[Rabit Hosting] ACTION: ticket #{soon.ticket.id} diagnosis due in 1 h" in to_operators
    assert f"[Rabit Hosting] OVERDUE: claim #{claim.claim.id} decision was due 11 d 2 h ago" in (
        to_operators)
    # Done (late or not), the duties leave the overdue gauge.
    await actions.decide_claim(db, settings, claim_id=claim.claim.id, decision="rejected",
                               reason="no outage in October", mail=mail, actor="ops", now=NOW)
    for ticket in (soon, late):
        await actions.diagnose_ticket(db, settings, ticket_id=ticket.ticket.id,
                                      provider_fault=False, finding="request", actor="ops",
                                      now=NOW)
    check = await notifier.check_duties(NOW)
    assert sample(registry, overdue, "claim_decision") == 0
    assert sample(registry, overdue, "ticket_diagnosis") == 0
    assert sample(registry, overdue, "claim_receipt") == 0  # its receipt went out in run_once
