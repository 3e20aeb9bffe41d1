"""``sla-monitor ticket ...``: partial problems and priced requests (R-P1..R-P4, L-4, L-5)."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from monitor import actions
from monitor.actions import TicketView
from monitor.actions.common import not_future
from monitor.actions.tickets import DEFER_REASONS, QUEUES, TICKET_CHANNELS
from monitor.cli.commands import summary
from monitor.cli.common import (
    Run,
    actor,
    add_at,
    add_format,
    command,
    due_time,
    local_time,
    parse_decimal,
    whole_number,
)
from monitor.config import Settings
from monitor.notify.contract import ContractMailer
from monitor.present import format_days, format_money, text_table
from monitor.sla import FINDINGS


def _deadlines(settings: Settings, view: TicketView) -> list[str]:
    ticket = view.ticket
    lines = [f"  diagnosis due {due_time(settings, view.diagnosis_due, view.diagnosis)}"
             + (f", done {local_time(settings, ticket.diagnosed_at)}" if ticket.diagnosed_at else "")]
    if view.fix_due is not None:
        state = view.fix or ("deferred to the next release (R-P3)" if ticket.next_release
                             else "closed")
        lines.append(f"  fix due       {due_time(settings, view.fix_due, state)}"
                     + (f", fixed {local_time(settings, ticket.fixed_at)}" if ticket.fixed_at else ""))
    if view.penalty is not None:
        line = view.penalty
        owed = format_days(line.days) if line.days is not None else format_money(
            line.amount or Decimal(0), settings.topology.customers[ticket.customer_id].fee.currency)
        lines.append(f"  penalty       {owed} so far ({line.rule})")
    if view.charged:
        lines.append(f"  charged       {format_money(view.charged, ticket.currency or '')} (L-5)")
    if ticket.price_requested is not None:
        lines.append(f"  new price     {format_money(ticket.price_requested, ticket.currency or '')} "
                     "awaiting the customer's approval")
    if view.waiting_for_answer:
        lines.append("  waiting for the customer's answer (the deadlines run on, L-4)")
    return lines


def _summary(settings: Settings, view: TicketView) -> str:
    ticket = view.ticket
    rules = "mobile app rules, R-P2" if ticket.kind == "mobile" else "web panel rules, R-P1"
    head = (f"ticket {ticket.id}: {ticket.customer_id} on {ticket.service_id} ({rules}), "
            f"level {ticket.level}, {ticket.status}: {ticket.title}")
    return "\n".join([head, *_deadlines(settings, view)])


def _shown(run: Run, view: TicketView) -> int:
    return run.show(view, lambda: _summary(run.settings, view))


@command
async def _open(run: Run) -> int:
    args, settings = run.args, run.settings
    at = run.at()
    view = await run.act(
        actions.open_ticket, settings, customer=args.customer, service=args.service,
        channel=args.channel, summary=args.summary, site=args.site, type=args.type,
        at=at, mail=ContractMailer(settings, run.now), actor=actor(), now=run.now)
    if args.format != "json":
        start = "now" if at is None else "at " + local_time(settings, view.ticket.opened_at)
        print(f"ticket {view.ticket.id} recorded; its number is queued for the customer's "
              f"technical contact (L-4: the clocks start {start})")
    return _shown(run, view)


def _change(call: Callable[..., Awaitable[TicketView]], **fixed: Any,
            ) -> Callable[[argparse.Namespace], int]:
    """A ticket command: ``ID``, ``--at``, the action's own arguments (from ``fixed``: a
    name maps to a function of the parsed arguments, the settings and the time)."""

    @command
    async def handler(run: Run) -> int:
        at = run.at()
        extra = {name: value(run.args, run.settings, run.now) for name, value in fixed.items()}
        view = await run.act(call, run.settings, ticket_id=run.args.id, at=at, actor=actor(),
                             now=run.now, **extra)
        return _shown(run, view)

    return handler


def _as_of(run: Run) -> dt.datetime:
    """``--at T`` of a read: the instant deadlines are judged at (not in the future)."""
    at = run.at()
    if at is None:
        return run.now
    not_future(at, run.now, "at")
    return at


def _listed(settings: Settings, views: list[TicketView]) -> str:
    rows = [[
        v.ticket.id, v.ticket.customer_id, v.ticket.service_id, v.ticket.level,
        v.ticket.channel, local_time(settings, v.ticket.opened_at), v.ticket.status,
        due_time(settings, v.diagnosis_due, v.diagnosis),
        "-" if v.fix_due is None else due_time(settings, v.fix_due, v.fix or "-"),
        v.ticket.title,
    ] for v in views]
    return text_table(["id", "customer", "service", "level", "channel", "opened", "status",
                       "diagnosis due", "fix due", "summary"], rows)


@command
async def _list(run: Run) -> int:
    args = run.args
    views = await run.act(actions.list_tickets, run.settings, queue=args.queue,
                          overdue=args.overdue, customer=args.customer, now=_as_of(run))
    return run.show(views, lambda: _listed(run.settings, views))


@command
async def _show(run: Run) -> int:
    settings = run.settings
    view = await run.act(actions.show_ticket, settings, ticket_id=run.args.id, now=_as_of(run))
    return run.show(view, lambda: "\n".join([_summary(settings, view), text_table(
        ["at", "event", "channel", "by", "note"],
        [[local_time(settings, e.at), e.kind, e.channel or "", e.actor, e.note or ""]
         for e in view.events])]))


def _with_id(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("id", metavar="ID", type=whole_number, help="ticket id")
    add_at(parser, what)
    add_format(parser)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "ticket", help=summary("ticket"),
        description="Tickets (SPEC section 5): a defect of part of a service, with a diagnosis "
        "deadline and, when it is the provider's fault, a fix deadline (R-P1, R-P2); support "
        "levels 2 and 3 (L-4); priced requests (L-5). Every command takes --at T.")
    sub = parser.add_subparsers(dest="ticket_command", metavar="COMMAND", required=True)
    mail = lambda args, settings, now: ContractMailer(settings, now)  # noqa: E731

    opened = sub.add_parser(
        "open", help="record a ticket and e-mail its number",
        description="Level 1 records a ticket and e-mails its number to the customer's "
        "technical contact at once (that starts the clocks, L-4). A --type with a price "
        "debits the site's support balance (L-5); refused when the balance is short.")
    opened.add_argument("--customer", required=True, help="customer id")
    opened.add_argument("--service", required=True, help="the service with the problem")
    opened.add_argument("--channel", required=True, help=" or ".join(TICKET_CHANNELS))
    opened.add_argument("--summary", required=True, help="the one request of this ticket")
    opened.add_argument("--site", help="the domain (required for a priced type when the "
                        "customer has several)")
    opened.add_argument("--type", help="a ticket type of the configuration (ticket_types)")
    add_at(opened, "the ticket was recorded")
    add_format(opened)
    opened.set_defaults(handler=_open)

    diagnose = sub.add_parser(
        "diagnose", help="record the diagnosis",
        description="The diagnosis (due 48 h after opening). --provider-fault starts the fix "
        "clock (R-P1, R-P2); a finding of defect, installation-error or document gives a "
        "priced ticket's price back (L-5).")
    fault = diagnose.add_mutually_exclusive_group(required=True)
    fault.add_argument("--provider-fault", dest="fault", action="store_true", default=None)
    fault.add_argument("--not-provider-fault", dest="fault", action="store_false")
    diagnose.add_argument("--finding", help="one of: " + ", ".join(FINDINGS))
    _with_id(diagnose, "it was diagnosed")
    diagnose.set_defaults(handler=_change(
        actions.diagnose_ticket, provider_fault=lambda a, c, n: a.fault,
        finding=lambda a, c, n: a.finding))

    fix = sub.add_parser("fix", help="record the fix (or the resolution)",
                         description="The fix; needs a diagnosis.")
    fix.add_argument("--note", help="what was done")
    _with_id(fix, "it was fixed")
    fix.set_defaults(handler=_change(actions.fix_ticket, note=lambda a, c, n: a.note))

    follow = sub.add_parser("follow-up", help="log the customer's follow-up (L-4)",
                            description="The customer followed up by replying or calling.")
    follow.add_argument("--channel", required=True, help=" or ".join(TICKET_CHANNELS))
    follow.add_argument("--note", help="what they said")
    _with_id(follow, "they followed up")
    follow.set_defaults(handler=_change(
        actions.follow_up_ticket, channel=lambda a, c, n: a.channel, note=lambda a, c, n: a.note))

    reopen = sub.add_parser("reopen", help="a reply to a fixed ticket reopens it",
                            description="The customer replied that a fixed ticket is not fixed: "
                            "it reopens and the fix clock runs again; the history is kept (L-4).")
    reopen.add_argument("--note", help="what they said")
    _with_id(reopen, "they replied")
    reopen.set_defaults(handler=_change(actions.reopen_ticket,
                                                  note=lambda a, c, n: a.note))

    for name, call, text, what in (
        ("ask", actions.ask_ticket, "a question to the customer (pauses no deadline)",
         "it was asked"),
        ("answer", actions.answer_ticket, "the customer's answer to the open question",
         "they answered"),
        ("escalate", actions.escalate_ticket, "hand the ticket to level 3", "it was escalated"),
        ("return", actions.return_ticket, "level 3 hands its result back to level 2",
         "it was returned"),
    ):
        step = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + " (L-4).")
        step.add_argument("--note", help="free text kept in the history")
        _with_id(step, what)
        step.set_defaults(handler=_change(call, note=lambda a, c, n: a.note))

    defer = sub.add_parser(
        "defer", help="fixed in the next release (R-P3: no R-P2 penalty)",
        description="A mobile-app fix that needs system-wide changes, or a defect that came with "
        "a new release, is fixed in the next release: no R-P2 refund (R-P3).")
    defer.add_argument("--reason", required=True, help=" or ".join(DEFER_REASONS))
    defer.add_argument("--note", required=True, help="what the next release changes")
    _with_id(defer, "it was deferred")
    defer.set_defaults(handler=_change(
        actions.defer_ticket, reason=lambda a, c, n: a.reason, note=lambda a, c, n: a.note))

    reprice = sub.add_parser(
        "reprice", help="ask the customer to approve a higher price (L-5)",
        description="The work costs more than the ticket's price: the new price is e-mailed "
        "and needs the customer's approval (ticket approve-price); without it within "
        "policy.price_approval_deadline the ticket is closed undone and its price given back.")
    reprice.add_argument("--price", required=True, help="the new price, in the site's currency")
    _with_id(reprice, "the new price was asked")
    reprice.set_defaults(handler=_change(
        actions.reprice_ticket, price=lambda a, c, n: parse_decimal(a.price, "price", args=a),
        mail=mail))

    approve = sub.add_parser(
        "approve-price", help="record the customer's approval of the new price (L-5)",
        description="The customer approved the new price (the difference is debited), or with "
        "--declined refused it (the ticket is closed undone and its price given back).")
    approve.add_argument("--declined", action="store_true", help="the customer refused it")
    _with_id(approve, "they answered")
    approve.set_defaults(handler=_change(
        actions.approve_price, declined=lambda a, c, n: a.declined))

    lst = sub.add_parser("list", help="tickets, or a level's queue",
                         description="Tickets; --queue level2 is level 2's queue in the order it "
                         "is handled: by receipt, e-mail-submitted first (L-4).")
    lst.add_argument("--queue", help=" or ".join(QUEUES))
    lst.add_argument("--customer", help="only this customer's")
    lst.add_argument("--overdue", action="store_true",
                     help="only those whose diagnosis or fix is past due (D-5)")
    add_at(lst, "the deadlines are judged")
    add_format(lst)
    lst.set_defaults(handler=_list)

    show = sub.add_parser("show", help="one ticket and every event with its time",
                          description="One ticket: deadlines, cost, and its whole history (L-4).")
    show.add_argument("id", metavar="ID", type=whole_number, help="ticket id")
    add_at(show, "the deadlines are judged")
    add_format(show)
    show.set_defaults(handler=_show)
