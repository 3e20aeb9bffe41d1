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

import re
from typing import Any

from pydantic import BaseModel

from monitor import actions
from monitor.actions import ClaimView, SiteAccount, TicketView
from monitor.http.routing import READS, WRITES, Call, Input, Reply, Route, bind, path_id
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

__all__ = ["ROUTES"]


def _mail(call: Call) -> ContractMailer:
    return ContractMailer(call.web.settings, call.web.clock.now())


# Where the actions' arguments come from, besides the query's and the body's fields.
_MAILED: dict[str, Input] = {"mail": _mail, **WRITES}
_TICKET_ID: dict[str, Input] = {"ticket_id": path_id("ticket_id")}
_CUSTOMER: dict[str, Input] = {"customer": Call.customer}


async def customer_submit_claim(call: Call) -> Reply:
    """Customer and month are a claim's natural key: a retry answers the claim made."""
    b: CustomerClaim = call.body
    customer = call.customer()
    context = call.web
    at = context.clock.now()
    made = await actions.find_claim(context.db, context.settings, customer=customer,
                                    month=b.month, now=at)
    if made is not None:  # the natural key: a retry answers the claim already made
        return Reply(200, made, {"Idempotent-Replayed": "true"})
    return Reply(201, await actions.submit_claim(
        context.db, context.settings, customer=customer, month=b.month, site=b.site,
        channel="web", note=b.note, mail=_mail(call), actor=call.actor, now=at))


_ERRORS = {401: "Problem", 403: "Problem", 404: "Problem", 422: "Problem"}
_WRITE_ERRORS = {**_ERRORS, 409: "Problem", 413: "Problem", 415: "Problem"}
_TICKET = {"ticket_id": "ticket_id"}
_CLAIM = {"claim_id": "claim_id"}
_CUSTOMER_PATH = {"customer": "customer"}
_ID_IN_PATH = re.compile(r"\{(\w+_id)\}")


def _read(path: str, action: Any, view: Any, summary: str, tag: str = "customers", *,
          name: str | None = None) -> Route:
    """A GET of the action's result: the path's ids as its arguments; under a customer's
    path, only that customer's records (the customer's own routes)."""
    ids = {key: key for key in _ID_IN_PATH.findall(path)}
    own = "{customer}" in path
    inputs = {**{key: path_id(key) for key in ids}, **(_CUSTOMER if own else {}), **READS}
    return Route("GET", path, bind(action, name=name, inputs=inputs), summary,
                 "customer_read" if own else "read", tag, answers={200: view, **_ERRORS},
                 path_ids={**ids, **(_CUSTOMER_PATH if own else {})})


def _create(path: str, action: Any, model: type[BaseModel], view: Any, summary: str,
            tag: str) -> Route:
    """An operator's POST recording a contract record: 201, ``at`` read as a time, the
    customer e-mailed."""
    return Route("POST", path, bind(action, status=201, times=("at",), inputs=_MAILED),
                 summary, "write", tag, body=model, answers={201: view, **_WRITE_ERRORS},
                 idempotent_key=True)


def _ticket_route(verb: str, action: Any, model: type[BaseModel], summary: str, *,
                  mail: bool = False) -> Route:
    """A ticket command: the body's fields as the action's arguments."""
    return Route("POST", f"/api/v1/tickets/{{ticket_id}}/{verb}",
                 bind(action, times=("at",) if "at" in model.model_fields else (),
                      inputs={**_TICKET_ID, **(_MAILED if mail else WRITES)}),
                 summary, "write", "tickets", body=model,
                 answers={200: TicketView, **_WRITE_ERRORS}, idempotent_key=True,
                 path_ids=_TICKET)


def _customer_ticket_route(verb: str, action: Any, model: type, summary: str,
                           **fixed: Any) -> Route:
    """A customer's own ticket command (L-4: a follow-up, a reply reopening a fix, an
    answer to a question; L-5: approving a raised price)."""
    return Route("POST", f"/api/v1/customers/{{customer}}/tickets/{{ticket_id}}/{verb}",
                 bind(action, name="customer_" + action.__name__,
                      inputs={**_TICKET_ID, **_CUSTOMER, **WRITES}, fixed=fixed),
                 summary, "customer_write", "customers", body=model,
                 answers={200: TicketView, **_WRITE_ERRORS}, idempotent_key=True,
                 path_ids={**_TICKET, **_CUSTOMER_PATH})


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/claims",
          bind(actions.list_claims, rename={"open": "open_only"}, inputs=READS),
          "Claims (claim list; D-4)", "read", "claims",
          query=ClaimQuery, answers={200: list[ClaimView], **_ERRORS}),
    _create("/api/v1/claims", actions.submit_claim, ClaimSubmit, ClaimView,
            "Record a claim made by e-mail, phone or on the customer's behalf (claim submit; "
            "R-C1)", "claims"),
    _read("/api/v1/claims/{claim_id}", actions.show_claim, ClaimView,
          "One claim (claim show)", "claims"),
    Route("POST", "/api/v1/claims/{claim_id}/decision",
          bind(actions.decide_claim, times=("at",), inputs={"claim_id": path_id("claim_id"), **_MAILED}),
          "Decide a claim (claim decide; R-C1, D-4, R-C3)", "write", "claims",
          body=ClaimDecision, answers={200: ClaimView, **_WRITE_ERRORS}, idempotent_key=True,
          path_ids=_CLAIM),
    Route("GET", "/api/v1/tickets", bind(actions.list_tickets, inputs=READS),
          "Tickets (ticket list; L-4, D-5)", "read", "tickets", query=TicketQuery,
          answers={200: list[TicketView], **_ERRORS}),
    _create("/api/v1/tickets", actions.open_ticket, TicketOpen, TicketView,
            "Open a ticket (ticket open; L-4, L-5)", "tickets"),
    _read("/api/v1/tickets/{ticket_id}", actions.show_ticket, TicketView,
          "One ticket (ticket show)", "tickets"),
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
    Route("GET", "/api/v1/ledger", bind(actions.ledger_show, inputs=READS),
          "Sites' balances (ledger show; L-1..L-6)", "read", "ledger", query=LedgerQuery,
          answers={200: list[SiteAccount], **_ERRORS}),
    Route("POST", "/api/v1/ledger/deposits", bind(actions.deposit, status=201, inputs=WRITES),
          "Support charge bought (ledger deposit; L-6)", "write", "ledger", body=Deposit,
          answers={201: actions.Deposited, **_WRITE_ERRORS}, idempotent_key=True),
    Route("POST", "/api/v1/ledger/renewals", bind(actions.renew, status=201, inputs=WRITES),
          "A renewal (ledger renew; L-2)", "write", "ledger", body=Renewal,
          answers={201: actions.Renewed, **_WRITE_ERRORS}, idempotent_key=True),
    # A customer's own.
    _read("/api/v1/customers/{customer}/claims", actions.list_claims, list[ClaimView],
          "A customer's claims with their deadlines", name="customer_claims"),
    Route("POST", "/api/v1/customers/{customer}/claims", customer_submit_claim,
          "Claim an ended month's credit (R-C1; customer and month are the natural key)",
          "customer_write", "customers", body=CustomerClaim,
          answers={200: ClaimView, 201: ClaimView, **_WRITE_ERRORS}, path_ids=_CUSTOMER_PATH),
    _read("/api/v1/customers/{customer}/claims/{claim_id}", actions.show_claim, ClaimView,
          "One of a customer's claims", name="customer_claim"),
    _read("/api/v1/customers/{customer}/tickets", actions.list_tickets, list[TicketView],
          "A customer's tickets with their deadlines", name="customer_tickets"),
    Route("POST", "/api/v1/customers/{customer}/tickets",
          bind(actions.open_ticket, name="customer_open_ticket", status=201,
               inputs={**_CUSTOMER, "mail": _mail, **WRITES}, fixed={"channel": "web"}),
          "Open a ticket (L-4: its number is e-mailed at once)", "customer_write",
          "customers", body=CustomerTicket, answers={201: TicketView, **_WRITE_ERRORS},
          idempotent_key=True, path_ids=_CUSTOMER_PATH),
    _read("/api/v1/customers/{customer}/tickets/{ticket_id}", actions.show_ticket,
          TicketView, "One of a customer's tickets", name="customer_ticket"),
    _customer_ticket_route("follow-up", actions.follow_up_ticket, CustomerNote,
                           "Follow up a ticket (L-4)", channel="web"),
    _customer_ticket_route("reopen", actions.reopen_ticket, CustomerNote,
                           "Reply to a fixed ticket: it reopens (L-4)"),
    _customer_ticket_route("answer", actions.answer_ticket, CustomerNote,
                           "Answer the provider's question (L-4)"),
    _customer_ticket_route("approve-price", actions.approve_price, CustomerPriceApproval,
                           "Approve or decline a raised price (L-5)"),
    _read("/api/v1/customers/{customer}/ledger", actions.ledger_show, list[SiteAccount],
          "A customer's sites' balances (L-1)", name="customer_ledger"),
)
