"""Tickets through the service layer (R-P1..R-P4, L-4, L-5, D-5), on SQLite and PostgreSQL:
late fixes and what the month's report makes of them, questions that pause nothing,
reopening, the support levels' queue, priced tickets and their refunds, and bad input
refused with nothing changed. Numbers are worked out by hand, citing the rule."""

from __future__ import annotations

import datetime as dt
from datetime import UTC
from decimal import Decimal
from typing import Any

import pytest

from monitor import actions
from monitor.actions.inputs import month_inputs
from monitor.config import Settings, parse_config
from monitor.sla.report import iso_utc
from monitor.store import Database
from monitor.store.models import LedgerEntry, OutboxMessage
from tests.support import rows

from .contract import DAY, HOUR, MAIL, NOW, SETTINGS, at, refused, yaml

OPENED = at(1, 9, month=10)  # Thursday 2026-10-01 09:00 UTC
DIAGNOSED = at(2, 9, month=10)  # within the 48 h diagnosis deadline (R-P1, R-P2)
FIX_DUE = at(5, 9, month=10)  # 3 days after the diagnosis (R-P1, R-P2)


async def open_ticket(db: Database, **changes: Any) -> actions.TicketView:
    values: dict[str, Any] = {"customer": "acme", "service": "panel", "channel": "email",
                              "summary": "the questionnaire editor loses answers",
                              "at": OPENED, "mail": MAIL, "actor": "ops", "now": NOW, **changes}
    return await actions.open_ticket(db, SETTINGS, **values)


async def act(db: Database, call: Any, ticket_id: int, **values: Any) -> actions.TicketView:
    values = {"actor": "ops", "now": NOW, **values}
    return await call(db, SETTINGS, ticket_id=ticket_id, **values)  # type: ignore[no-any-return]


async def diagnosed(db: Database, **changes: Any) -> int:
    view = await open_ticket(db, **changes)
    await act(db, actions.diagnose_ticket, view.ticket.id, provider_fault=True, at=DIAGNOSED)
    return view.ticket.id


async def october(db: Database) -> Any:
    return (await actions.month_report(db, SETTINGS, month="2026-10", customer="acme",
                                       now=NOW)).customers[0]


async def test_r_p1_web_panel_fix_10h_late_earns_a_quarter_of_the_2w_tier(db: Database) -> None:
    ticket = await diagnosed(db)
    view = await act(db, actions.fix_ticket, ticket, at=FIX_DUE + 10 * HOUR)
    assert (view.fix_due, view.fix, view.penalty.days) == (FIX_DUE, "breached", Decimal("3.5"))  # type: ignore[union-attr]
    # R-P1 Decision: a full outage of 10 h earns the 2-week tier (>= 8 h): 14 / 4 = 3.5 days,
    # in the report of October, the month of the fix deadline, with the ticket as evidence.
    report = await october(db)
    assert report.partial_credit_days == Decimal("3.5") and report.credit_days_total == Decimal("3.5")
    assert [(line.rule, line.days, line.tickets) for line in report.credit_lines] == [
        ("R-P1", Decimal("3.5"), (ticket,))]
    assert report.to_json()["partial_credit_days"] == 3.5


async def test_r_p1_fixed_on_time_earns_nothing(db: Database) -> None:
    ticket = await diagnosed(db)
    view = await act(db, actions.fix_ticket, ticket, at=FIX_DUE)  # exactly at the deadline
    assert (view.fix, view.penalty) == ("done", None)
    assert (await october(db)).credit_lines == ()


async def test_r_p2_mobile_fix_2_5_days_late_refunds_3_started_days(db: Database) -> None:
    ticket = await diagnosed(db, service="mobile-api")
    await act(db, actions.fix_ticket, ticket, at=FIX_DUE + 2 * DAY + 12 * HOUR)
    # 2.5 days late: 3 started days x 1 % of the 12,000,000 IRR yearly fee = 360,000 (R-P2).
    report = await october(db)
    assert report.refund_amount == Decimal(360_000) and report.credit_days_total == 0
    assert [(line.rule, line.amount, line.tickets) for line in report.credit_lines] == [
        ("R-P2", Decimal(360_000), (ticket,))]


async def test_r_p3_deferred_mobile_fix_earns_nothing(db: Database) -> None:
    ticket = await diagnosed(db, service="mobile-api")
    view = await act(db, actions.defer_ticket, ticket, reason="new-release",
                     note="came with app 5.2; fixed in 5.3", at=DIAGNOSED + HOUR)
    assert view.ticket.next_release and view.fix is None  # no fix duty (D-5) while deferred
    await act(db, actions.fix_ticket, ticket, at=FIX_DUE + 5 * DAY)
    assert (await october(db)).refund_amount == 0
    panel = await diagnosed(db)
    await refused(db, lambda: act(db, actions.defer_ticket, panel, reason="system-wide",
                                  note="x", at=DIAGNOSED + HOUR),
                  "ticket_id", panel, "a mobile-app ticket")


async def test_l4_an_unanswered_question_does_not_move_the_deadlines(db: Database) -> None:
    view = await open_ticket(db)
    ticket = view.ticket.id
    asked = await act(db, actions.ask_ticket, ticket, note="which browser?", at=OPENED + HOUR)
    assert asked.waiting_for_answer and asked.diagnosis_due == OPENED + 48 * HOUR
    # Two days without an answer: the diagnosis deadline passed all the same.
    two_days = await actions.show_ticket(db, SETTINGS, ticket_id=ticket,
                                         now=OPENED + HOUR + 2 * DAY)
    assert (two_days.diagnosis_due, two_days.diagnosis, two_days.overdue) == (
        OPENED + 48 * HOUR, "breached", True)
    await act(db, actions.answer_ticket, ticket, note="Firefox", at=OPENED + 3 * DAY)
    done = await act(db, actions.diagnose_ticket, ticket, provider_fault=True,
                     at=OPENED + 3 * DAY + HOUR)
    # R-P1 (our Decision): a late diagnosis does not push the fix deadline back either.
    assert done.fix_due == OPENED + 48 * HOUR + 3 * DAY and not done.waiting_for_answer
    await refused(db, lambda: act(db, actions.answer_ticket, ticket, at=OPENED + 4 * DAY),
                  "ticket_id", ticket, "a ticket with an open question")


async def test_l4_reopen_after_a_fix_restarts_the_fix_clock_and_keeps_the_history(
    db: Database,
) -> None:
    ticket = await diagnosed(db)
    fixed = await act(db, actions.fix_ticket, ticket, at=FIX_DUE - HOUR)
    assert (fixed.fix, fixed.penalty) == ("done", None)
    # The customer replies that it is not fixed: the ticket reopens, the deadline set at
    # the diagnosis stands, and the clock runs again until the next fix.
    reopened = await act(db, actions.reopen_ticket, ticket, note="still broken",
                         at=FIX_DUE + 2 * HOUR)
    assert (reopened.ticket.status, reopened.ticket.fixed_at, reopened.fix) == (
        "open", None, "breached")
    again = await act(db, actions.fix_ticket, ticket, at=FIX_DUE + 10 * HOUR)
    assert again.penalty is not None and again.penalty.days == Decimal("3.5")  # 10 h: 14 / 4
    assert [(e.kind, e.at) for e in again.events] == [
        ("opened", OPENED), ("diagnosed", DIAGNOSED), ("fixed", FIX_DUE - HOUR),
        ("reopened", FIX_DUE + 2 * HOUR), ("fixed", FIX_DUE + 10 * HOUR)]
    assert (await october(db)).partial_credit_days == Decimal("3.5")


async def test_l4_level_2_queue_takes_email_first_in_order_of_receipt(db: Database) -> None:
    phone = await open_ticket(db, channel="phone", at=at(1, 8))
    first = await open_ticket(db, at=at(1, 10))
    second = await open_ticket(db, at=at(1, 11), service="mobile-api")
    queue = await actions.list_tickets(db, SETTINGS, queue="level2", now=NOW)
    assert [v.ticket.id for v in queue] == [first.ticket.id, second.ticket.id, phone.ticket.id]
    await act(db, actions.escalate_ticket, first.ticket.id, note="needs the source", at=at(2))
    assert [v.ticket.id for v in await actions.list_tickets(db, SETTINGS, queue="level3",
                                                            now=NOW)] == [first.ticket.id]
    back = await act(db, actions.return_ticket, first.ticket.id, note="patched", at=at(3))
    assert back.ticket.level == 2
    await act(db, actions.follow_up_ticket, phone.ticket.id, channel="phone", note="any news?",
              at=at(3))
    shown = await actions.show_ticket(db, SETTINGS, ticket_id=phone.ticket.id, now=NOW)
    assert [(e.kind, e.channel) for e in shown.events] == [("opened", "phone"),
                                                          ("follow_up", "phone")]


async def test_the_list_gives_each_ticket_its_own_events_and_charges(db: Database) -> None:
    # ticket list reads every listed ticket's events and ledger entries a few hundred
    # tickets a statement (store.tickets.events_of, store.ledger.for_tickets): each view
    # must still hold its own, in the order written, as one ticket shown alone does.
    await actions.deposit(db, SETTINGS, site="acme.example", amount=Decimal(6_000_000),
                          reference="bank 7781", actor="ops", now=at(1, month=10))
    priced = await open_ticket(db, type="reinstall", site="acme.example")
    plain = await open_ticket(db, channel="phone", at=at(1, 10, month=10))
    refunded = await open_ticket(db, type="reinstall", site="acme.example",
                                 at=at(1, 11, month=10))
    await act(db, actions.diagnose_ticket, refunded.ticket.id, provider_fault=True,
              finding="defect", at=DIAGNOSED)
    await act(db, actions.follow_up_ticket, plain.ticket.id, channel="phone",
              note="any news?", at=DIAGNOSED)
    listed = await actions.list_tickets(db, SETTINGS, now=NOW)
    assert [(v.ticket.id, [e.kind for e in v.events], v.charged) for v in listed] == [
        (priced.ticket.id, ["opened"], 2_500_000),  # L-5: the price debited
        (plain.ticket.id, ["opened", "follow_up"], 0),
        (refunded.ticket.id, ["opened", "diagnosed"], 0)]  # debited, then given back (L-5)
    assert listed == [await actions.show_ticket(db, SETTINGS, ticket_id=v.ticket.id, now=NOW)
                      for v in listed]


async def test_one_customers_inputs_take_its_own_tickets_and_renewals(db: Database) -> None:
    # A customer's page reads its month alone (month_inputs with customers): its
    # provider-fault tickets and renewals only, not every customer's (10,000 renewals read
    # for each page, 0.4 s). What it reads must be what the month's whole read gives it.
    acme = await diagnosed(db)
    bita = await diagnosed(db, customer="bita", at=OPENED + HOUR)
    for site, until in (("bita.example", dt.date(2027, 12, 31)),
                        ("old.acme.example", dt.date(2027, 11, 30))):
        await actions.renew(db, SETTINGS, site=site, until=until, actor="ops", now=NOW)
    for month, now in (("2026-10", NOW), ("2026-12", NOW)):
        period = SETTINGS.month(month)
        whole = await month_inputs(db, SETTINGS, period, now)
        for customer in ("acme", "bita"):
            alone = await month_inputs(db, SETTINGS, period, now, [customer])
            assert alone.customers == [c for c in whole.customers if c.id == customer]
            assert alone.tickets == [t for t in whole.tickets if t.customer_id == customer]
    october = SETTINGS.month("2026-10")  # R-P1: both fixes due 2026-10-05, October's
    assert [t.id for t in (await month_inputs(db, SETTINGS, october, NOW)).tickets] == [
        acme, bita]
    assert [t.id for t in (await month_inputs(db, SETTINGS, october, NOW, ["bita"])).tickets
            ] == [bita]
    december = await month_inputs(db, SETTINGS, SETTINGS.month("2026-12"), NOW, ["bita"])
    # R-EX5 with L-2: bita.example renewed to 2027-12-31, suspended when that day ends.
    assert [c.paid_until for c in december.customers] == [dt.datetime(2028, 1, 1, tzinfo=UTC)]


async def test_a_customer_whose_every_site_lapsed_is_refused_support_until_renewed(
    db: Database,
) -> None:
    # R-EX5, L-2: here gone has two sites, both lapsed (2026-06-30 and 2026-05-31); a
    # ticket naming neither asks whether any is paid. Another customer's renewal does not
    # revive it (each customer's own renewals are read); its own does.
    two = "sites: [{domain: gone.example, paid_until: 2026-06-30}]"
    assert two in yaml()
    settings = Settings.from_config(parse_config(yaml().replace(two, (
        "sites: [{domain: gone.example, paid_until: 2026-06-30}, "
        "{domain: www.gone.example, paid_until: 2026-05-31}]"))))
    ticket = {"customer": "gone", "service": "panel", "channel": "email",
              "summary": "the panel is slow", "at": OPENED, "mail": MAIL, "actor": "ops",
              "now": NOW}
    await actions.renew(db, settings, site="bita.example", until=dt.date(2027, 12, 31),
                        actor="ops", now=NOW)
    await refused(db, lambda: actions.open_ticket(db, settings, **ticket), "customer", "gone",
                  "a customer with a site whose support period is running: every site of it "
                  "has lapsed (R-EX5; renew one, L-2)")
    await actions.renew(db, settings, site="www.gone.example", until=dt.date(2027, 6, 30),
                        actor="ops", now=NOW)
    opened = await actions.open_ticket(db, settings, **ticket)
    assert (opened.ticket.customer_id, opened.ticket.site_domain) == ("gone", None)


async def test_a_renewed_customers_late_fix_shows_the_penalty_its_report_gives(
        db: Database) -> None:
    # gone's only site was paid until 2026-06-30 in the configuration; renewed in the
    # ledger on 1 October (L-2), it is not suspended in October (R-EX5). Its late fix earns
    # R-P1's penalty in October's report, and the ticket shows the same: it showed none,
    # judging the configured date alone.
    await actions.renew(db, SETTINGS, site="gone.example", until=dt.date(2027, 6, 30),
                        actor="ops", now=at(1, month=10))
    ticket = await diagnosed(db, customer="gone")
    view = await act(db, actions.fix_ticket, ticket, at=FIX_DUE + 10 * HOUR)
    # R-P1 Decision: 10 h late is the 2-week tier's quarter: 14 / 4 = 3.5 days.
    assert view.penalty is not None and view.penalty.days == Decimal("3.5")
    report = (await actions.month_report(db, SETTINGS, month="2026-10", customer="gone",
                                         now=NOW)).customers[0]
    assert report.partial_credit_days == Decimal("3.5")
    [listed] = await actions.list_tickets(db, SETTINGS, customer="gone", now=NOW)
    assert listed.penalty == view.penalty


async def test_l5_priced_ticket_debited_then_refunded_on_a_defect(db: Database) -> None:
    await actions.deposit(db, SETTINGS, site="acme.example", amount=Decimal(3_000_000),
                          reference="bank 7781", actor="ops", now=at(1, month=10))
    view = await open_ticket(db, type="reinstall", site="acme.example")
    assert view.charged == 2_500_000
    (before,) = await actions.ledger_show(db, SETTINGS, site="acme.example", now=NOW)
    assert before.charge == 500_000  # 3,000,000 - 2,500,000 (L-5)
    await act(db, actions.diagnose_ticket, view.ticket.id, provider_fault=True,
              finding="defect", at=DIAGNOSED)
    (after,) = await actions.ledger_show(db, SETTINGS, site="acme.example", now=NOW)
    assert after.charge == 3_000_000  # the price given back: a real defect (L-5)
    assert [(e.rule, e.amount, e.ticket_id) for e in after.entries] == [
        ("L-6", Decimal(3_000_000), None), ("L-5", Decimal(-2_500_000), view.ticket.id),
        ("L-5", Decimal(2_500_000), view.ticket.id)]
    # The other domain of the customer pays nothing and holds nothing (L-1).
    (shop,) = await actions.ledger_show(db, SETTINGS, site="shop.acme.example", now=NOW)
    assert (shop.charge, shop.entries) == (0, ())


async def test_l5_raised_price_not_approved_closes_the_ticket_undone_and_refunds(
    db: Database,
) -> None:
    await actions.deposit(db, SETTINGS, site="acme.example", amount=Decimal(3_000_000),
                          reference="bank 7781", actor="ops", now=at(1, month=10))
    view = await open_ticket(db, type="reinstall", site="acme.example")
    asked = at(2, 12, month=10)
    await act(db, actions.reprice_ticket, view.ticket.id, price=Decimal(4_000_000), at=asked,
              mail=MAIL)
    assert [m.kind for m in await rows(db, OutboxMessage)] == ["ticket_number", "price_change"]
    # 7 days to approve (policy.price_approval_deadline); the last second is in time.
    assert (await actions.settle(db, SETTINGS, now=asked + 7 * DAY)).closed == ()
    settled = await actions.settle(db, SETTINGS, now=asked + 7 * DAY + HOUR)
    assert settled.closed == (view.ticket.id,)
    closed = await actions.show_ticket(db, SETTINGS, ticket_id=view.ticket.id, now=NOW)
    assert (closed.ticket.status, closed.ticket.closed_at, closed.charged) == (
        "closed", asked + 7 * DAY + HOUR / 3600, 0)
    assert closed.events[-1].kind == "closed_undone"
    (site,) = await actions.ledger_show(db, SETTINGS, site="acme.example", now=NOW)
    assert site.charge == 3_000_000
    assert (await actions.settle(db, SETTINGS, now=NOW)).closed == ()  # once


async def test_l5_raised_price_approved_debits_the_difference(db: Database) -> None:
    await actions.deposit(db, SETTINGS, site="acme.example", amount=Decimal(3_000_000),
                          reference="bank 7781", actor="ops", now=at(1, month=10))
    view = await open_ticket(db, type="reinstall", site="acme.example")
    await act(db, actions.reprice_ticket, view.ticket.id, price=Decimal(3_500_000),
              at=DIAGNOSED, mail=MAIL)
    # 1,000,000 more is needed and 500,000 is left: refused until the customer pays.
    await refused(db, lambda: act(db, actions.approve_price, view.ticket.id,
                                  at=DIAGNOSED + HOUR),
                  "ticket_id", view.ticket.id, "1000000 IRR more, and acme.example holds 500000 IRR")
    await actions.deposit(db, SETTINGS, site="acme.example", amount=Decimal(1_000_000),
                          reference="bank 7790", actor="ops", now=DIAGNOSED + HOUR)
    approved = await act(db, actions.approve_price, view.ticket.id, at=DIAGNOSED + 2 * HOUR)
    assert (approved.ticket.price, approved.charged) == (3_500_000, 3_500_000)


@pytest.mark.slow
async def test_bad_ticket_input_is_refused_and_nothing_changes(db: Database) -> None:
    await refused(db, lambda: open_ticket(db, type="reinstall", site="acme.example"), "type",
                  "reinstall", "reinstall costs 2500000 IRR and the balance is 0 IRR")
    await refused(db, lambda: open_ticket(db, type="reinstall"), "site", None,
                  "one of acme's domains")
    await refused(db, lambda: open_ticket(db, customer="bita", service="acme-survey"),
                  "service", "acme-survey", "one of the configured services bita uses: panel")
    await refused(db, lambda: open_ticket(db, site="bita.example"), "site", "bita.example",
                  "one of acme's domains: acme.example, shop.acme.example, old.acme.example")
    await refused(db, lambda: open_ticket(db, channel="fax"), "channel", "fax",
                  "one of: email, phone")
    await refused(db, lambda: open_ticket(db, type="gold"), "type", "gold",
                  "one of the configured ticket types: receipt, reinstall")
    await refused(db, lambda: open_ticket(db, summary="  "), "summary", "  ", "a non-empty summary")
    await refused(db, lambda: open_ticket(db, at=NOW + HOUR), "at", iso_utc(NOW + HOUR),
                  "a time not after now")
    await refused(db, lambda: open_ticket(db, customer="gone"), "site", "gone.example",
                  "record its yearly renewal first")
    view = await open_ticket(db)
    ticket = view.ticket.id
    await refused(db, lambda: act(db, actions.fix_ticket, ticket), "ticket_id", ticket,
                  "a diagnosed ticket")
    await refused(db, lambda: act(db, actions.fix_ticket, 999), "ticket_id", 999,
                  "an existing ticket id")
    await refused(db, lambda: act(db, actions.diagnose_ticket, ticket, provider_fault=True,
                                  finding="request"), "finding", "request",
                  "defect or installation-error with a provider-fault diagnosis")
    await refused(db, lambda: act(db, actions.diagnose_ticket, ticket, provider_fault=True,
                                  at=OPENED - HOUR), "at", iso_utc(OPENED - HOUR),
                  "a time not before ticket")
    await refused(db, lambda: act(db, actions.reprice_ticket, ticket, price=Decimal(5),
                                  mail=MAIL), "ticket_id", ticket, "a priced ticket")
    await refused(db, lambda: act(db, actions.return_ticket, ticket), "ticket_id", ticket,
                  "a ticket at level 3")
    await refused(db, lambda: actions.list_tickets(db, SETTINGS, queue="level9", now=NOW),
                  "queue", "level9", "one of: level2, level3")


async def test_bad_money_is_refused(db: Database) -> None:
    await actions.deposit(db, SETTINGS, site="acme.example", amount=Decimal(3_000_000),
                          reference="bank 7781", actor="ops", now=at(1, month=10))
    view = await open_ticket(db, type="reinstall", site="acme.example")
    ticket = view.ticket.id
    await refused(db, lambda: act(db, actions.reprice_ticket, ticket, price=Decimal("2600000.5"),
                                  mail=MAIL), "price", "2600000.5", "an amount in IRR with whole units")
    await refused(db, lambda: act(db, actions.reprice_ticket, ticket, price=Decimal(-1),
                                  mail=MAIL), "price", "-1", "an amount above 0 IRR")
    await refused(db, lambda: act(db, actions.reprice_ticket, ticket, price=Decimal(2_000_000),
                                  mail=MAIL), "price", "2000000", "a price above the current")
    assert [e.kind for e in await rows(db, LedgerEntry)] == ["charge", "charge"]
