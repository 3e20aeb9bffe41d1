"""The contract's records over the API: claims (R-C1, D-4), tickets (L-4, L-5, R-P*) and
the ledger (L-1..L-6), the CLI's ``claim``, ``ticket`` and ``ledger`` commands over the
same actions; and a customer's own claims, tickets and balances under
``/api/v1/customers/ID/...`` (the actions' ``customer=``: another customer's record is
answered as one that does not exist).

Decisions: a customer's claim is submitted with the channel ``web`` (its API or page);
posting a claim for a month the customer has already claimed answers the claim made
(200, ``Idempotent-Replayed: true``): customer and month are the claim's natural key, so
a retried submission is safe without an ``Idempotency-Key`` (the page, where a person
submits, says it is a duplicate instead).
"""

from __future__ import annotations

from typing import Any

from monitor import actions
from monitor.actions import ClaimView, SiteAccount, TicketView
from monitor.errors import InputError
from monitor.http.routing import Call, Reply, Route
from monitor.http.schemas import (
    ClaimDecision,
    ClaimQuery,
    ClaimSubmit,
    CustomerClaim,
    CustomerNote,
    CustomerPriceApproval,
    CustomerTicket,
    Deposit,
    LedgerQuery,
    PriceApproval,
    Renewal,
    TicketDefer,
    TicketDiagnosis,
    TicketFollowUp,
    TicketNote,
    TicketOpen,
    TicketQuery,
    TicketReprice,
)
from monitor.notify.contract import ContractMailer
from monitor.present import parse_time

__all__ = ["ROUTES"]


def _at(call: Call, text: str | None) -> Any:
    return None if text is None else parse_time(text, call.web.settings.timezone, "at")


def _id(call: Call, name: str) -> int:
    return call.id(name)


def _mail(call: Call) -> ContractMailer:
    return ContractMailer(call.web.settings, call.web.clock.now())


def _customer(call: Call) -> str:
    customer = call.path("customer")
    if customer not in call.web.settings.topology.customers:
        raise InputError("customer", customer, "a configured customer id")
    return customer


# --- claims ------------------------------------------------------------------------------------


async def list_claims(call: Call) -> Reply:
    q: ClaimQuery = call.query
    return Reply(200, await actions.list_claims(
        call.web.db, call.web.settings, month=q.month, customer=q.customer, open_only=q.open,
        overdue=q.overdue, now=call.web.clock.now()))


async def show_claim(call: Call) -> Reply:
    return Reply(200, await actions.show_claim(
        call.web.db, call.web.settings, claim_id=_id(call, "claim_id"),
        now=call.web.clock.now()))


async def submit_claim(call: Call) -> Reply:
    b: ClaimSubmit = call.body
    return Reply(201, await actions.submit_claim(
        call.web.db, call.web.settings, customer=b.customer, month=b.month, site=b.site,
        channel=b.channel, note=b.note, at=_at(call, b.at), mail=_mail(call), actor=call.actor,
        now=call.web.clock.now()))


async def decide_claim(call: Call) -> Reply:
    b: ClaimDecision = call.body
    return Reply(200, await actions.decide_claim(
        call.web.db, call.web.settings, claim_id=_id(call, "claim_id"), decision=b.decision,
        days=b.days, reason=b.reason, at=_at(call, b.at), mail=_mail(call), actor=call.actor,
        now=call.web.clock.now()))


async def customer_claims(call: Call) -> Reply:
    return Reply(200, await actions.list_claims(
        call.web.db, call.web.settings, customer=_customer(call), now=call.web.clock.now()))


async def customer_claim(call: Call) -> Reply:
    return Reply(200, await actions.show_claim(
        call.web.db, call.web.settings, claim_id=_id(call, "claim_id"),
        customer=_customer(call), now=call.web.clock.now()))


async def customer_submit_claim(call: Call) -> Reply:
    b: CustomerClaim = call.body
    customer = _customer(call)
    context = call.web
    now = context.clock.now()
    made = await actions.find_claim(context.db, context.settings, customer=customer,
                                    month=b.month, now=now)
    if made is not None:  # the natural key: a retry answers the claim already made
        return Reply(200, made, {"Idempotent-Replayed": "true"})
    return Reply(201, await actions.submit_claim(
        context.db, context.settings, customer=customer, month=b.month, site=b.site,
        channel="web", note=b.note, mail=_mail(call), actor=call.actor, now=now))


# --- tickets -----------------------------------------------------------------------------------


async def list_tickets(call: Call) -> Reply:
    q: TicketQuery = call.query
    return Reply(200, await actions.list_tickets(
        call.web.db, call.web.settings, queue=q.queue, overdue=q.overdue, customer=q.customer,
        now=call.web.clock.now()))


async def show_ticket(call: Call) -> Reply:
    return Reply(200, await actions.show_ticket(
        call.web.db, call.web.settings, ticket_id=_id(call, "ticket_id"),
        now=call.web.clock.now()))


async def open_ticket(call: Call) -> Reply:
    b: TicketOpen = call.body
    return Reply(201, await actions.open_ticket(
        call.web.db, call.web.settings, customer=b.customer, service=b.service,
        channel=b.channel, summary=b.summary, site=b.site, type=b.type, at=_at(call, b.at),
        mail=_mail(call), actor=call.actor, now=call.web.clock.now()))


def _ticket_change(action: Any, *, mail: bool = False) -> Any:
    """A handler for one ticket command: the body's fields as the action's arguments."""

    async def handler(call: Call) -> Reply:
        body = call.body
        fields = body.model_dump()
        if "at" in fields:
            fields["at"] = _at(call, fields["at"])
        if mail:
            fields["mail"] = _mail(call)
        return Reply(200, await action(
            call.web.db, call.web.settings, ticket_id=_id(call, "ticket_id"),
            actor=call.actor, now=call.web.clock.now(), **fields))

    handler.__name__ = action.__name__
    return handler


async def customer_tickets(call: Call) -> Reply:
    return Reply(200, await actions.list_tickets(
        call.web.db, call.web.settings, customer=_customer(call), now=call.web.clock.now()))


async def customer_ticket(call: Call) -> Reply:
    return Reply(200, await actions.show_ticket(
        call.web.db, call.web.settings, ticket_id=_id(call, "ticket_id"),
        customer=_customer(call), now=call.web.clock.now()))


async def customer_open_ticket(call: Call) -> Reply:
    b: CustomerTicket = call.body
    return Reply(201, await actions.open_ticket(
        call.web.db, call.web.settings, customer=_customer(call), service=b.service,
        channel="web", summary=b.summary, site=b.site, type=b.type, mail=_mail(call),
        actor=call.actor, now=call.web.clock.now()))


def _customer_change(action: Any, **fixed: Any) -> Any:
    """A customer's own ticket command (L-4: a follow-up, a reply reopening a fix, an
    answer to a question; L-5: approving a raised price)."""

    async def handler(call: Call) -> Reply:
        fields = {**call.body.model_dump(), **fixed}
        return Reply(200, await action(
            call.web.db, call.web.settings, ticket_id=_id(call, "ticket_id"),
            customer=_customer(call), actor=call.actor, now=call.web.clock.now(), **fields))

    handler.__name__ = "customer_" + action.__name__
    return handler


# --- the ledger --------------------------------------------------------------------------------


async def ledger_show(call: Call) -> Reply:
    q: LedgerQuery = call.query
    return Reply(200, await actions.ledger_show(
        call.web.db, call.web.settings, customer=q.customer, site=q.site,
        now=call.web.clock.now()))


async def customer_ledger(call: Call) -> Reply:
    return Reply(200, await actions.ledger_show(
        call.web.db, call.web.settings, customer=_customer(call), now=call.web.clock.now()))


async def deposit(call: Call) -> Reply:
    b: Deposit = call.body
    return Reply(201, await actions.deposit(
        call.web.db, call.web.settings, site=b.site, amount=b.amount, reference=b.reference,
        actor=call.actor, now=call.web.clock.now()))


async def renew(call: Call) -> Reply:
    b: Renewal = call.body
    return Reply(201, await actions.renew(
        call.web.db, call.web.settings, site=b.site, until=b.until, actor=call.actor,
        now=call.web.clock.now()))


_ERRORS = {401: "Problem", 403: "Problem", 404: "Problem", 422: "Problem"}
_WRITE = {**_ERRORS, 409: "Problem", 413: "Problem", 415: "Problem"}
_TICKET = {"ticket_id": "ticket_id"}
_CLAIM = {"claim_id": "claim_id"}
_CUSTOMER = {"customer": "customer"}


def _ticket_route(verb: str, action: Any, model: type, summary: str, *,
                  mail: bool = False) -> Route:
    return Route("POST", f"/api/v1/tickets/{{ticket_id}}/{verb}",
                 _ticket_change(action, mail=mail), summary, "write", "tickets",
                 body=model, answers={200: TicketView, **_WRITE}, idempotent_key=True,
                 path_ids=_TICKET)


def _customer_ticket_route(verb: str, action: Any, model: type, summary: str,
                           **fixed: Any) -> Route:
    return Route("POST", f"/api/v1/customers/{{customer}}/tickets/{{ticket_id}}/{verb}",
                 _customer_change(action, **fixed), summary, "customer_write", "customers",
                 body=model, answers={200: TicketView, **_WRITE}, idempotent_key=True,
                 path_ids={**_TICKET, **_CUSTOMER})


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/claims", list_claims, "Claims (claim list; D-4)", "read", "claims",
          query=ClaimQuery, answers={200: list[ClaimView], **_ERRORS}),
    Route("POST", "/api/v1/claims", submit_claim,
          "Record a claim made by e-mail, phone or on the customer's behalf (claim submit; "
          "R-C1)", "write", "claims", body=ClaimSubmit, answers={201: ClaimView, **_WRITE},
          idempotent_key=True),
    Route("GET", "/api/v1/claims/{claim_id}", show_claim, "One claim (claim show)", "read",
          "claims", answers={200: ClaimView, **_ERRORS}, path_ids=_CLAIM),
    Route("POST", "/api/v1/claims/{claim_id}/decision", decide_claim,
          "Decide a claim (claim decide; R-C1, D-4, R-C3)", "write", "claims",
          body=ClaimDecision, answers={200: ClaimView, **_WRITE}, idempotent_key=True,
          path_ids=_CLAIM),
    Route("GET", "/api/v1/tickets", list_tickets, "Tickets (ticket list; L-4, D-5)", "read",
          "tickets", query=TicketQuery, answers={200: list[TicketView], **_ERRORS}),
    Route("POST", "/api/v1/tickets", open_ticket, "Open a ticket (ticket open; L-4, L-5)",
          "write", "tickets", body=TicketOpen, answers={201: TicketView, **_WRITE},
          idempotent_key=True),
    Route("GET", "/api/v1/tickets/{ticket_id}", show_ticket, "One ticket (ticket show)",
          "read", "tickets", answers={200: TicketView, **_ERRORS}, path_ids=_TICKET),
    _ticket_route("diagnose", actions.diagnose_ticket, TicketDiagnosis,
                  "Diagnose (ticket diagnose; R-P1, R-P2, L-5)"),
    _ticket_route("fix", actions.fix_ticket, TicketNote, "Fixed (ticket fix)"),
    _ticket_route("follow-up", actions.follow_up_ticket, TicketFollowUp,
                  "A customer's follow-up (ticket follow-up; L-4)"),
    _ticket_route("reopen", actions.reopen_ticket, TicketNote,
                  "A reply to a fixed ticket reopens it (ticket reopen; L-4)"),
    _ticket_route("ask", actions.ask_ticket, TicketNote,
                  "A question to the customer (ticket ask; L-4: pauses nothing)"),
    _ticket_route("answer", actions.answer_ticket, TicketNote,
                  "The customer's answer (ticket answer)"),
    _ticket_route("escalate", actions.escalate_ticket, TicketNote,
                  "To level 3 (ticket escalate; L-4)"),
    _ticket_route("return", actions.return_ticket, TicketNote,
                  "Back to level 2 (ticket return; L-4)"),
    _ticket_route("defer", actions.defer_ticket, TicketDefer,
                  "Fixed in the next release (ticket defer; R-P3)"),
    _ticket_route("reprice", actions.reprice_ticket, TicketReprice,
                  "A higher price, needing the customer's approval (ticket reprice; L-5)",
                  mail=True),
    _ticket_route("approve-price", actions.approve_price, PriceApproval,
                  "The customer's answer to a raised price (ticket approve-price; L-5)"),
    Route("GET", "/api/v1/ledger", ledger_show, "Sites' balances (ledger show; L-1..L-6)",
          "read", "ledger", query=LedgerQuery, answers={200: list[SiteAccount], **_ERRORS}),
    Route("POST", "/api/v1/ledger/deposits", deposit,
          "Support charge bought (ledger deposit; L-6)", "write", "ledger", body=Deposit,
          answers={201: actions.Deposited, **_WRITE}, idempotent_key=True),
    Route("POST", "/api/v1/ledger/renewals", renew, "A renewal (ledger renew; L-2)", "write",
          "ledger", body=Renewal, answers={201: actions.Renewed, **_WRITE},
          idempotent_key=True),
    # A customer's own.
    Route("GET", "/api/v1/customers/{customer}/claims", customer_claims,
          "A customer's claims with their deadlines", "customer_read", "customers",
          answers={200: list[ClaimView], **_ERRORS}, path_ids=_CUSTOMER),
    Route("POST", "/api/v1/customers/{customer}/claims", customer_submit_claim,
          "Claim an ended month's credit (R-C1; customer and month are the natural key)",
          "customer_write", "customers", body=CustomerClaim,
          answers={200: ClaimView, 201: ClaimView, **_WRITE}, path_ids=_CUSTOMER),
    Route("GET", "/api/v1/customers/{customer}/claims/{claim_id}", customer_claim,
          "One of a customer's claims", "customer_read", "customers",
          answers={200: ClaimView, **_ERRORS}, path_ids={**_CLAIM, **_CUSTOMER}),
    Route("GET", "/api/v1/customers/{customer}/tickets", customer_tickets,
          "A customer's tickets with their deadlines", "customer_read", "customers",
          answers={200: list[TicketView], **_ERRORS}, path_ids=_CUSTOMER),
    Route("POST", "/api/v1/customers/{customer}/tickets", customer_open_ticket,
          "Open a ticket (L-4: its number is e-mailed at once)", "customer_write",
          "customers", body=CustomerTicket, answers={201: TicketView, **_WRITE},
          idempotent_key=True, path_ids=_CUSTOMER),
    Route("GET", "/api/v1/customers/{customer}/tickets/{ticket_id}", customer_ticket,
          "One of a customer's tickets", "customer_read", "customers",
          answers={200: TicketView, **_ERRORS}, path_ids={**_TICKET, **_CUSTOMER}),
    _customer_ticket_route("follow-up", actions.follow_up_ticket, CustomerNote,
                           "Follow up a ticket (L-4)", channel="web"),
    _customer_ticket_route("reopen", actions.reopen_ticket, CustomerNote,
                           "Reply to a fixed ticket: it reopens (L-4)"),
    _customer_ticket_route("answer", actions.answer_ticket, CustomerNote,
                           "Answer the provider's question (L-4)"),
    _customer_ticket_route("approve-price", actions.approve_price, CustomerPriceApproval,
                           "Approve or decline a raised price (L-5)"),
    Route("GET", "/api/v1/customers/{customer}/ledger", customer_ledger,
          "A customer's sites' balances (L-1)", "customer_read", "customers",
          answers={200: list[SiteAccount], **_ERRORS}, path_ids=_CUSTOMER),
)
