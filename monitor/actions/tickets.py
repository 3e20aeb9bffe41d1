"""Tickets: partial problems with deadlines and penalties (R-P1..R-P4), the support levels
that handle them (L-4), and priced requests (L-5).

A ticket is about one service the customer uses. Its kind follows the service: the web
design panel and customers' projects (004 part 1 groups them) are ``web_panel`` tickets
(R-P1: a late fix earns days); the mobile API's are ``mobile`` tickets (R-P2: a late fix
refunds a share of the fee). Level 1 records the ticket and e-mails its number at once
(L-4: the clocks start then, at ``opened_at``); it then waits in level 2's queue, may be
escalated to level 3 and returned. Every change is an event with its time; a question
to the customer never pauses a deadline (nothing here reads questions when computing
one). Penalties are the engine's (:func:`monitor.sla.ticket_credit`), in the report of
the month of the fix deadline, granted through that month's claim.

**Decisions (ours)**, where the contract is silent:

* the clocks start at ``opened_at`` (``--at``, default now), the instant the number
  e-mail is queued in the same transaction; its SMTP acceptance is kept as evidence
  (``number_sent_at``) but a slow mail server never moves a deadline;
* ``fix`` needs a diagnosis, and a provider-fault diagnosis is what starts the fix clock;
  a finding, when given, must agree with the fault (a defect or an installation error
  is the provider's; a document or a request is not);
* a reopen (the customer's reply to a fixed ticket) undoes the fix: the deadline set at
  the diagnosis stands and the delay runs to the next fix (the clock runs again);
* R-P3 deferral is for mobile-app tickets only (it is part of the mobile-app rules);
* support needs a running paid period (000): a ticket on a lapsed site is refused until
  its renewal is recorded (L-2), and so is one of a customer whose sites have all lapsed;
* L-5: a priced ticket names the site whose balance pays (the customer's only site by
  default); a raised price is approved or declined by the customer, and a request not
  approved within ``policy.price_approval_deadline`` is declined by silence
  (:mod:`monitor.actions.settlement` closes it); a lower price needs no approval and is
  not a reprice.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from monitor.actions.common import (
    MAX_ID,
    FreeText,
    checks_text,
    known,
    money,
    not_before,
    not_blank,
    not_future,
    one_of,
)
from monitor.actions.inputs import month_customers, ticket_input
from monitor.actions.ledger import (
    account,
    charge_balance,
    customer_lapse,
    settle_site,
    site_of,
)
from monitor.actions.mail import ContractMail
from monitor.config import Settings
from monitor.errors import InputError, NotFound, time_mark
from monitor.present import format_money
from monitor.sla import (
    FINDINGS,
    NOT_PROVIDER_FAULT,
    CreditLine,
    DutyState,
    diagnosis_due,
    duty_state,
    fix_deferred,
    fix_due,
    month_containing,
    price_refunded,
    price_request_lapsed,
    ticket_credit,
)
from monitor.store import audit, ledger, tickets
from monitor.store.ledger import NewEntry
from monitor.store.tickets import EventRecord, TicketRecord

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = [
    "DEFER_REASONS",
    "QUEUES",
    "TICKET_CHANNELS",
    "EventRecord",
    "TicketRecord",
    "TicketView",
    "answer_ticket",
    "approve_price",
    "ask_ticket",
    "close_undone",
    "defer_ticket",
    "diagnose_ticket",
    "escalate_ticket",
    "fix_ticket",
    "follow_up_ticket",
    "list_tickets",
    "open_ticket",
    "reopen_ticket",
    "reprice_ticket",
    "return_ticket",
    "show_ticket",
    "ticket_kind",
]

# L-4: the customer reports and follows up by e-mail or phone; "web" is the customer's own
# API or page (written, like an e-mail: level 2 takes it with the e-mailed ones).
TICKET_CHANNELS = ("email", "phone", "web")
QUEUES = ("level2", "level3")  # L-4
DEFER_REASONS = ("system-wide", "new-release")  # R-P3
_TICKET_SERVICE_KINDS = ("web_panel", "project", "mobile_api")


def ticket_kind(service_kind: str) -> Literal["web_panel", "mobile"]:
    """R-P1 for the design panel and projects (004 part 1 groups them), R-P2 for the app."""
    return "mobile" if service_kind == "mobile_api" else "web_panel"


@dataclass(frozen=True)
class TicketView:
    """A ticket, its history, its deadlines as known at one instant, and what it cost."""

    ticket: TicketRecord
    events: tuple[EventRecord, ...]
    diagnosis_due: dt.datetime  # R-P1 / R-P2: 48 h after opening
    diagnosis: DutyState
    fix_due: dt.datetime | None  # after a provider-fault diagnosis
    fix: DutyState | None  # None: no fix duty (not the provider's fault, deferred, closed)
    waiting_for_answer: bool  # a question to the customer is open (it pauses nothing)
    charged: Decimal  # L-5: debited and not given back
    penalty: CreditLine | None  # R-P1 days or R-P2 money so far (the engine's)
    overdue: bool  # D-5: the diagnosis or the fix is late and not done


def _waiting(events: list[EventRecord]) -> bool:
    waiting = False
    for event in events:
        if event.kind == "asked":
            waiting = True
        elif event.kind == "answered":
            waiting = False
    return waiting


def _charged(entries: list[ledger.EntryRecord]) -> Decimal:
    return -sum((e.amount for e in entries if e.kind == "charge" and e.amount is not None),
                Decimal(0))


async def _view(tx: Tx, settings: Settings, ticket: TicketRecord, now: dt.datetime) -> TicketView:
    events = await tickets.events(tx, ticket.id)
    entries = await ledger.for_ticket(tx, ticket.id)
    renewals = await ledger.renewals(tx, customers=[ticket.customer_id])
    return _view_of(settings, ticket, events, entries, renewals, now)


def _view_of(settings: Settings, ticket: TicketRecord, events: list[EventRecord],
             entries: list[ledger.EntryRecord], renewals: list[ledger.EntryRecord],
             now: dt.datetime) -> TicketView:
    """The ticket's view; ``renewals``: its customer's (L-2), of which those recorded before
    the end of its fix deadline's month count for the penalty, as in that month's report
    (:func:`monitor.actions.inputs.month_customers`)."""
    policy = settings.policy
    engine_ticket = ticket_input(ticket)
    diagnosis_at = diagnosis_due(engine_ticket, policy)
    fix_at = fix_due(engine_ticket, policy)
    closed = ticket.status == "closed"
    diagnosis = duty_state(ticket.diagnosed_at, diagnosis_at, now, settings.deadline_warning_seconds)
    fix: DutyState | None = None
    penalty = None
    if fix_at is not None and not closed:
        if not fix_deferred(engine_ticket):
            fix = duty_state(ticket.fixed_at, fix_at, now, settings.deadline_warning_seconds)
        period = month_containing(fix_at, settings.config.provider.calendar, settings.timezone)
        [customer] = month_customers(
            settings, [r for r in renewals if r.effective_at < period.end], [ticket.customer_id])
        penalty = ticket_credit(engine_ticket, customer, period, now, policy)
    if closed and ticket.diagnosed_at is None:
        diagnosis = "done"  # closed undone (L-5): nothing left to diagnose
    overdue = (diagnosis == "breached" and ticket.diagnosed_at is None) or (
        fix == "breached" and ticket.fixed_at is None)
    return TicketView(ticket, tuple(events), diagnosis_at, diagnosis, fix_at, fix,
                      _waiting(events), _charged(entries), penalty, overdue)


# --- opening (L-4, L-5) ------------------------------------------------------------------------


@checks_text
async def open_ticket(
    db: Database,
    settings: Settings,
    *,
    customer: str,
    service: str,
    channel: str,
    summary: FreeText,
    site: str | None = None,
    type: str | None = None,  # the contract's word (L-5: a ticket type)
    at: dt.datetime | None = None,
    mail: ContractMail,
    actor: str,
    now: dt.datetime,
) -> TicketView:
    """Level 1 records a ticket and e-mails its number to the technical contact at once
    (L-4); a priced type debits the site's support balance (L-5)."""
    topology = settings.topology
    known(customer, topology.customers, "customer", "customers")
    usable = sorted(s for s in topology.dependencies(customer)
                    if s in topology.services and topology.services[s].kind in _TICKET_SERVICE_KINDS)
    known(service, usable, "service", f"services {customer} uses")
    one_of(channel, TICKET_CHANNELS, "channel")
    not_blank(summary, "summary", "a non-empty summary of the one request (L-5: one per ticket)")
    ticket_type = None
    if type is not None:
        known(type, settings.ticket_types, "type", "ticket types")
        ticket_type = settings.ticket_types[type]
    opened_at = now if at is None else at
    not_future(opened_at, now, "at")
    priced = ticket_type is not None and ticket_type.price > 0
    domain: str | None = None
    if priced or site is not None or len(topology.customers[customer].sites) == 1:
        domain = site_of(settings, customer, site)
    currency = topology.customers[customer].fee.currency
    async with db.transaction() as tx:
        if domain is not None:
            state = account(settings, domain, await ledger.entries(tx, sites=[domain]), opened_at)
            if state.lapsed:
                raise InputError("site", domain, "a site whose support period is running: "
                                 f"{domain} was paid until {state.paid_until}; record its yearly "
                                 "renewal first (L-2; 000: support only while paid)")
        else:
            lapse = customer_lapse(settings, customer,
                                   await ledger.renewals(tx, customers=[customer]))
            if lapse is not None and opened_at >= lapse:
                raise InputError("customer", customer, "a customer with a site whose support "
                                 "period is running: every site of it has lapsed (R-EX5; "
                                 "renew one, L-2)")
        if priced:
            assert domain is not None and ticket_type is not None
            await settle_site(tx, settings, domain, now=now, actor=actor)
            held = await charge_balance(tx, settings, domain, opened_at)
            if held < ticket_type.price:
                raise InputError("type", type, f"a ticket type {domain}'s support balance "
                                 f"covers: {type} costs {format_money(ticket_type.price, currency)} and "
                                 f"the balance is {format_money(held, currency)} (ledger deposit)")
        ticket_id = await tickets.add(
            tx, customer_id=customer, site_domain=domain, service_id=service,
            kind=ticket_kind(topology.services[service].kind), type_id=type, title=summary,
            channel=channel, opened_at=opened_at,
            price=ticket_type.price if ticket_type is not None else None,
            currency=currency if ticket_type is not None else None, actor=actor)
        if priced:
            assert domain is not None and ticket_type is not None
            await ledger.append(tx, NewEntry(
                customer, domain, "charge", reason=f"ticket {ticket_id}: {ticket_type.name}",
                rule="L-5", effective_at=opened_at, amount=-ticket_type.price, currency=currency,
                ticket_id=ticket_id, evidence={"ticket": ticket_id, "type": type},
            ), actor=actor, created_at=now)
        ticket = await _ticket(tx, ticket_id)
        await mail.ticket_number(tx, ticket)
        await audit.record(tx, at=now, actor=actor, action="ticket.open", object_type="ticket",
                           object_id=ticket_id, detail={"customer": customer, "service": service,
                                                        "type": type, "channel": channel})
        return await _view(tx, settings, ticket, now)


# --- what level 2 and 3 do (L-4), diagnosis and fix (R-P1, R-P2) -------------------------------


_TicketChange = Callable[["Tx", TicketRecord, dt.datetime], Awaitable[None]]


async def _change(
    db: Database, settings: Settings, ticket_id: int, *, at: dt.datetime | None,
    actor: str, now: dt.datetime, action: str,
    check: Callable[[TicketRecord, list[EventRecord]], None], change: _TicketChange,
    customer: str | None = None,
) -> TicketView:
    """One change of a ticket in one transaction: refused (nothing written) unless the
    ticket exists (and belongs to ``customer`` when a customer acts), ``check`` passes and
    ``at`` is neither in the future nor before its last event (events happen in order)."""
    when = now if at is None else at
    not_future(when, now, "at")
    async with db.transaction() as tx:
        ticket = await _ticket(tx, ticket_id, customer)
        events = await tickets.events(tx, ticket_id)
        check(ticket, events)
        last = events[-1]
        not_before(when, last.at, "at", f"ticket {ticket_id}'s last event, {last.kind}")
        await change(tx, ticket, when)
        await audit.record(tx, at=now, actor=actor, action=f"ticket.{action}",
                           object_type="ticket", object_id=ticket_id, detail={"at": when.isoformat()})
        return await _view(tx, settings, await _ticket(tx, ticket_id), now)


def _refuse(ticket: TicketRecord, allowed: str) -> InputError:
    return InputError("ticket_id", ticket.id, allowed)


def _active(ticket: TicketRecord, events: list[EventRecord] | None = None) -> None:
    if ticket.status == "closed":
        raise _refuse(ticket, f"an active ticket: ticket {ticket.id} was closed undone at "
                      f"{time_mark(ticket.closed_at) if ticket.closed_at else '?'}")


def _open(ticket: TicketRecord, events: list[EventRecord] | None = None) -> None:
    _active(ticket)
    if ticket.status == "fixed":
        raise _refuse(ticket, f"an open ticket: ticket {ticket.id} was fixed at "
                      f"{time_mark(ticket.fixed_at) if ticket.fixed_at else '?'} (reopen it)")


async def diagnose_ticket(
    db: Database, settings: Settings, *, ticket_id: int, provider_fault: bool,
    finding: str | None = None, at: dt.datetime | None = None, actor: str, now: dt.datetime,
) -> TicketView:
    """R-P1 / R-P2: the diagnosis (due 48 h after opening). A provider fault starts the
    fix clock; a finding of a defect, an installation error or a document gives a priced
    ticket's price back (L-5)."""
    if finding is not None:
        one_of(finding, FINDINGS, "finding")
        theirs = finding in NOT_PROVIDER_FAULT
        if provider_fault and theirs:
            raise InputError("finding", finding, "defect or installation-error with a "
                             "provider-fault diagnosis")
        if not provider_fault and not theirs:
            raise InputError("finding", finding, "document or request when the fault is not "
                             "the provider's")

    def check(ticket: TicketRecord, events: list[EventRecord]) -> None:
        _open(ticket)
        if ticket.diagnosed_at is not None:
            raise _refuse(ticket, f"a ticket not yet diagnosed: ticket {ticket.id} was "
                          f"diagnosed at {time_mark(ticket.diagnosed_at)}")

    async def change(tx: Tx, ticket: TicketRecord, when: dt.datetime) -> None:
        await tickets.change(tx, ticket.id, diagnosed_at=when, provider_fault=provider_fault,
                             finding=finding)
        fault = "provider's fault" if provider_fault else "not the provider's fault"
        await tickets.add_event(tx, ticket.id, at=when, kind="diagnosed", actor=actor,
                                note=fault + (f"; {finding}" if finding else ""))
        if price_refunded(finding):  # type: ignore[arg-type]
            await _give_back(tx, settings, ticket, when, f"diagnosis found {finding}",
                             actor=actor, now=now)

    return await _change(db, settings, ticket_id, at=at, actor=actor, now=now,
                         action="diagnose", check=check, change=change)


@checks_text
async def fix_ticket(
    db: Database, settings: Settings, *, ticket_id: int, note: FreeText | None = None,
    at: dt.datetime | None = None, actor: str, now: dt.datetime,
) -> TicketView:
    """The fix (or, for a ticket that was not the provider's fault, the resolution)."""

    def check(ticket: TicketRecord, events: list[EventRecord]) -> None:
        _open(ticket)
        if ticket.diagnosed_at is None:
            raise _refuse(ticket, f"a diagnosed ticket: ticket {ticket.id} has no diagnosis yet "
                          "(ticket diagnose)")
        if ticket.price_requested is not None:
            raise _refuse(ticket, f"a ticket without a pending price change: ticket {ticket.id}'s "
                          f"price {ticket.price_requested} awaits the customer's approval (L-5)")

    async def change(tx: Tx, ticket: TicketRecord, when: dt.datetime) -> None:
        await tickets.change(tx, ticket.id, fixed_at=when, status="fixed")
        await tickets.add_event(tx, ticket.id, at=when, kind="fixed", actor=actor, note=note)

    return await _change(db, settings, ticket_id, at=at, actor=actor, now=now, action="fix",
                         check=check, change=change)


@checks_text
async def reopen_ticket(
    db: Database, settings: Settings, *, ticket_id: int, note: FreeText | None = None,
    at: dt.datetime | None = None, actor: str, now: dt.datetime, customer: str | None = None,
) -> TicketView:
    """L-4: a reply to a fixed ticket reopens it; the fix clock runs again from the deadline
    set at the diagnosis (the earlier fix stays in the history)."""

    def check(ticket: TicketRecord, events: list[EventRecord]) -> None:
        _active(ticket)
        if ticket.status != "fixed":
            raise _refuse(ticket, f"a fixed ticket: ticket {ticket.id} is {ticket.status}")

    async def change(tx: Tx, ticket: TicketRecord, when: dt.datetime) -> None:
        await tickets.change(tx, ticket.id, fixed_at=None, status="open")
        await tickets.add_event(tx, ticket.id, at=when, kind="reopened", actor=actor, note=note)

    return await _change(db, settings, ticket_id, at=at, actor=actor, now=now, action="reopen",
                         check=check, change=change, customer=customer)


@checks_text
async def follow_up_ticket(
    db: Database, settings: Settings, *, ticket_id: int, channel: str, note: FreeText | None = None,
    at: dt.datetime | None = None, actor: str, now: dt.datetime, customer: str | None = None,
) -> TicketView:
    """L-4: the customer followed up by replying or calling; every follow-up is logged."""
    one_of(channel, TICKET_CHANNELS, "channel")

    async def change(tx: Tx, ticket: TicketRecord, when: dt.datetime) -> None:
        await tickets.add_event(tx, ticket.id, at=when, kind="follow_up", channel=channel,
                                actor=actor, note=note)

    return await _change(db, settings, ticket_id, at=at, actor=actor, now=now,
                         action="follow_up", check=_active, change=change, customer=customer)


@checks_text
async def ask_ticket(
    db: Database, settings: Settings, *, ticket_id: int, note: FreeText | None = None,
    at: dt.datetime | None = None, actor: str, now: dt.datetime,
) -> TicketView:
    """L-4: a question to the customer; waiting for the answer never pauses a deadline."""

    def check(ticket: TicketRecord, events: list[EventRecord]) -> None:
        _open(ticket)

    async def change(tx: Tx, ticket: TicketRecord, when: dt.datetime) -> None:
        await tickets.add_event(tx, ticket.id, at=when, kind="asked", actor=actor, note=note)

    return await _change(db, settings, ticket_id, at=at, actor=actor, now=now, action="ask",
                         check=check, change=change)


@checks_text
async def answer_ticket(
    db: Database, settings: Settings, *, ticket_id: int, note: FreeText | None = None,
    at: dt.datetime | None = None, actor: str, now: dt.datetime, customer: str | None = None,
) -> TicketView:
    """The customer's answer to the open question."""

    def check(ticket: TicketRecord, events: list[EventRecord]) -> None:
        _active(ticket)
        if not _waiting(events):
            raise _refuse(ticket, f"a ticket with an open question: ticket {ticket.id} has none "
                          "(ticket ask)")

    async def change(tx: Tx, ticket: TicketRecord, when: dt.datetime) -> None:
        await tickets.add_event(tx, ticket.id, at=when, kind="answered", actor=actor, note=note)

    return await _change(db, settings, ticket_id, at=at, actor=actor, now=now, action="answer",
                         check=check, change=change, customer=customer)


@checks_text
async def escalate_ticket(
    db: Database, settings: Settings, *, ticket_id: int, note: FreeText | None = None,
    at: dt.datetime | None = None, actor: str, now: dt.datetime,
) -> TicketView:
    """L-4: level 2 hands what it cannot solve (e.g. the program's source) to level 3."""

    def check(ticket: TicketRecord, events: list[EventRecord]) -> None:
        _open(ticket)
        if ticket.level != 2:
            raise _refuse(ticket, f"a ticket at level 2: ticket {ticket.id} is at level {ticket.level}")

    async def change(tx: Tx, ticket: TicketRecord, when: dt.datetime) -> None:
        await tickets.change(tx, ticket.id, level=3)
        await tickets.add_event(tx, ticket.id, at=when, kind="escalated", actor=actor, note=note)

    return await _change(db, settings, ticket_id, at=at, actor=actor, now=now,
                         action="escalate", check=check, change=change)


@checks_text
async def return_ticket(
    db: Database, settings: Settings, *, ticket_id: int, note: FreeText | None = None,
    at: dt.datetime | None = None, actor: str, now: dt.datetime,
) -> TicketView:
    """L-4: level 3 hands its result back to level 2, who tells the customer."""

    def check(ticket: TicketRecord, events: list[EventRecord]) -> None:
        _active(ticket)
        if ticket.level != 3:
            raise _refuse(ticket, f"a ticket at level 3: ticket {ticket.id} is at level {ticket.level}")

    async def change(tx: Tx, ticket: TicketRecord, when: dt.datetime) -> None:
        await tickets.change(tx, ticket.id, level=2)
        await tickets.add_event(tx, ticket.id, at=when, kind="returned", actor=actor, note=note)

    return await _change(db, settings, ticket_id, at=at, actor=actor, now=now, action="return",
                         check=check, change=change)


@checks_text
async def defer_ticket(
    db: Database, settings: Settings, *, ticket_id: int, reason: str, note: FreeText,
    at: dt.datetime | None = None, actor: str, now: dt.datetime,
) -> TicketView:
    """R-P3: the fix needs system-wide changes, or the defect came with a new release: it
    is fixed in the next release and earns no R-P2 refund."""
    one_of(reason, DEFER_REASONS, "reason")
    not_blank(note, "note", "what the next release will change (shown with the ticket)")

    def check(ticket: TicketRecord, events: list[EventRecord]) -> None:
        _open(ticket)
        if ticket.kind != "mobile":
            raise _refuse(ticket, f"a mobile-app ticket: R-P3 covers the mobile app's fixes, and "
                          f"ticket {ticket.id} is a {ticket.kind} ticket")
        if not ticket.provider_fault:
            raise _refuse(ticket, f"a ticket diagnosed as the provider's fault: ticket "
                          f"{ticket.id} has no fix deadline to defer")
        if ticket.next_release:
            raise _refuse(ticket, f"a ticket not yet deferred: ticket {ticket.id} was deferred "
                          f"({ticket.next_release_reason})")

    async def change(tx: Tx, ticket: TicketRecord, when: dt.datetime) -> None:
        await tickets.change(tx, ticket.id, next_release=True, next_release_reason=reason)
        await tickets.add_event(tx, ticket.id, at=when, kind="deferred", actor=actor,
                                note=f"{reason}: {note}")

    return await _change(db, settings, ticket_id, at=at, actor=actor, now=now, action="defer",
                         check=check, change=change)


# --- prices (L-5) ------------------------------------------------------------------------------


async def _give_back(tx: Tx, settings: Settings, ticket: TicketRecord, when: dt.datetime,
                     why: str, *, actor: str, now: dt.datetime) -> None:
    """L-5: the ticket's price, all of it that was debited, back to the site's balance."""
    charged = _charged(await ledger.for_ticket(tx, ticket.id))
    if charged <= 0 or ticket.site_domain is None:
        return
    await ledger.append(tx, NewEntry(
        ticket.customer_id, ticket.site_domain, "charge",
        reason=f"ticket {ticket.id}: price given back ({why})", rule="L-5", effective_at=when,
        amount=charged, currency=ticket.currency, ticket_id=ticket.id,
        evidence={"ticket": ticket.id, "why": why},
    ), actor=actor, created_at=now)


async def close_undone(tx: Tx, settings: Settings, ticket: TicketRecord, when: dt.datetime,
                       why: str, *, actor: str, now: dt.datetime) -> None:
    """L-5: a raised price the customer did not approve: closed undone, price given back."""
    await _give_back(tx, settings, ticket, when, why, actor=actor, now=now)
    await tickets.change(tx, ticket.id, status="closed", closed_at=when, price_requested=None)
    await tickets.add_event(tx, ticket.id, at=when, kind="closed_undone", actor=actor, note=why)


async def reprice_ticket(
    db: Database, settings: Settings, *, ticket_id: int, price: Decimal,
    at: dt.datetime | None = None, mail: ContractMail, actor: str, now: dt.datetime,
) -> TicketView:
    """L-5: the work costs more than the ticket's price; the new price waits for the
    customer's recorded approval (the request is e-mailed)."""

    def check(ticket: TicketRecord, events: list[EventRecord]) -> None:
        _open(ticket)
        if ticket.price is None or ticket.currency is None:
            raise _refuse(ticket, f"a priced ticket: ticket {ticket.id} has no type, so no price")
        if ticket.price_requested is not None:
            raise _refuse(ticket, "a ticket without a pending price change: "
                          f"{format_money(ticket.price_requested, ticket.currency)} awaits approval since "
                          f"{time_mark(ticket.price_requested_at) if ticket.price_requested_at else '?'}")
        money(price, ticket.currency, "price")
        if price <= ticket.price:
            raise InputError("price", str(price), "a price above the current "
                             f"{format_money(ticket.price, ticket.currency)} (a lower one needs "
                             "no approval)")

    async def change(tx: Tx, ticket: TicketRecord, when: dt.datetime) -> None:
        await tickets.change(tx, ticket.id, price_requested=price, price_requested_at=when)
        await tickets.add_event(tx, ticket.id, at=when, kind="repriced", actor=actor,
                                note=f"{format_money(ticket.price or Decimal(0), ticket.currency or '')}"
                                f" -> {format_money(price, ticket.currency or '')}")
        await mail.price_change(tx, await _ticket(tx, ticket.id))

    return await _change(db, settings, ticket_id, at=at, actor=actor, now=now, action="reprice",
                         check=check, change=change)


async def approve_price(
    db: Database, settings: Settings, *, ticket_id: int, declined: bool = False,
    at: dt.datetime | None = None, actor: str, now: dt.datetime, customer: str | None = None,
) -> TicketView:
    """L-5: the customer's recorded answer to a raised price. Approved: the difference is
    debited; declined: the ticket is closed undone and its price given back."""
    policy = settings.policy

    def check(ticket: TicketRecord, events: list[EventRecord]) -> None:
        _open(ticket)
        if ticket.price_requested is None or ticket.price_requested_at is None:
            raise _refuse(ticket, f"a ticket with a pending price change: ticket {ticket.id} "
                          "has none (ticket reprice)")
        if price_request_lapsed(ticket.price_requested_at, now if at is None else at, policy):
            raise _refuse(ticket, "a price change still awaiting approval: the request of "
                          f"{time_mark(ticket.price_requested_at)} lapsed unapproved (L-5: the "
                          "ticket is closed undone and its price given back)")

    async def change(tx: Tx, ticket: TicketRecord, when: dt.datetime) -> None:
        assert ticket.price_requested is not None and ticket.price is not None
        if declined:
            await close_undone(tx, settings, ticket, when, "the customer declined the new price",
                               actor=actor, now=now)
            return
        extra = ticket.price_requested - ticket.price
        if ticket.site_domain is not None:
            held = await charge_balance(tx, settings, ticket.site_domain, when)
            if held < extra:
                raise InputError("ticket_id", ticket.id, f"a ticket whose site's balance covers "
                                 f"the raise: {format_money(extra, ticket.currency or '')} more, and "
                                 f"{ticket.site_domain} holds {format_money(held, ticket.currency or '')} "
                                 "(ledger deposit)")
            await ledger.append(tx, NewEntry(
                ticket.customer_id, ticket.site_domain, "charge",
                reason=f"ticket {ticket.id}: approved price raise", rule="L-5",
                effective_at=when, amount=-extra, currency=ticket.currency, ticket_id=ticket.id,
                evidence={"ticket": ticket.id, "price": str(ticket.price_requested)},
            ), actor=actor, created_at=now)
        await tickets.change(tx, ticket.id, price=ticket.price_requested, price_requested=None)
        await tickets.add_event(tx, ticket.id, at=when, kind="price_approved", actor=actor,
                                note=format_money(ticket.price_requested, ticket.currency or ""))

    return await _change(db, settings, ticket_id, at=at, actor=actor, now=now,
                         action="approve_price", check=check, change=change, customer=customer)


# --- reading -----------------------------------------------------------------------------------


async def _ticket(tx: Tx, ticket_id: int, customer: str | None = None) -> TicketRecord:
    """The ticket (the customer's, when one acts); an id no database holds, another
    customer's ticket and a missing one get the same answer."""
    ticket = await tickets.get(tx, ticket_id) if 1 <= ticket_id <= MAX_ID else None
    if ticket is None or (customer is not None and ticket.customer_id != customer):
        raise NotFound("ticket_id", ticket_id, "an existing ticket id (see: ticket list)")
    return ticket


def _queue_order(view: TicketView) -> tuple[bool, dt.datetime, int]:
    # L-4: level 2 takes tickets in order of receipt, those submitted by e-mail (or written
    # through the web) first.
    ticket = view.ticket
    return (ticket.channel not in ("email", "web"), ticket.opened_at, ticket.id)


async def list_tickets(
    db: Database, settings: Settings, *, queue: str | None = None, overdue: bool = False,
    customer: str | None = None, now: dt.datetime,
) -> list[TicketView]:
    """Tickets by id; with ``queue``, the active tickets at that level in the order they
    are handled (L-4); ``overdue``: a diagnosis or fix deadline has passed unmet (D-5)."""
    if queue is not None:
        one_of(queue, QUEUES, "queue")
    if customer is not None:
        known(customer, settings.topology.customers, "customer", "customers")
    async with db.reading() as tx:
        found = await tickets.listed(tx, customer_id=customer, active_only=queue is not None)
        ids = [ticket.id for ticket in found]
        events = await tickets.events_of(tx, ids)
        entries = await ledger.for_tickets(tx, ids)
        renewed: dict[str, list[ledger.EntryRecord]] = defaultdict(list)
        for renewal in await ledger.renewals(tx, customers={t.customer_id for t in found}):
            renewed[renewal.customer_id].append(renewal)
    views = [_view_of(settings, ticket, events.get(ticket.id, []), entries.get(ticket.id, []),
                      renewed[ticket.customer_id], now) for ticket in found]
    if queue is not None:
        level = int(queue.removeprefix("level"))
        views = sorted((v for v in views if v.ticket.level == level), key=_queue_order)
    if overdue:
        views = [v for v in views if v.overdue]
    return views


async def show_ticket(
    db: Database, settings: Settings, *, ticket_id: int, now: dt.datetime,
    customer: str | None = None,
) -> TicketView:
    """One ticket with every event and its time (L-4), deadlines and cost."""
    async with db.reading() as tx:
        return await _view(tx, settings, await _ticket(tx, ticket_id, customer), now)
