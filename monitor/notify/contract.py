"""The e-mails the contract's actions owe the customer (L-4, L-5, R-C1, D-4):
:class:`ContractMailer`, the :class:`monitor.actions.ContractMail` every edge hands to
the actions.

Each message is queued in the action's own transaction (its record and its e-mail are
committed together) and goes to the customer's technical contact; the outbox worker
sends it at once. The SMTP acceptance is the evidence
(:meth:`monitor.notify.duties.Duties.on_accepted`): a ticket's ``number_sent_at``, a
claim's ``receipt_sent_at`` and ``decision_sent_at``. These are answers to the
customer's own requests, so, unlike outage alerts, they go out whatever the customer's
eligibility (a lapsed customer may still claim a month it paid for).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from monitor.actions.inputs import ticket_input
from monitor.actions.mail import customer_recipients
from monitor.config import Settings
from monitor.notify import templates
from monitor.notify.layout import Rendered, Style
from monitor.notify.leads import Leads
from monitor.notify.messages import one_line
from monitor.notify.outbox import Draft, enqueue
from monitor.notify.sending import Envelope
from monitor.sla import diagnosis_due
from monitor.store.claims import ClaimRecord
from monitor.store.outbox import Attachment
from monitor.store.tickets import TicketRecord

if TYPE_CHECKING:
    from monitor.actions.mail import StatementFiles
    from monitor.present.statement import Statement
    from monitor.store import Tx

__all__ = ["ContractMailer"]


class ContractMailer:
    """Queues the contract's customer e-mails; ``now`` is when they are queued (the
    edge's clock)."""

    def __init__(self, settings: Settings, now: dt.datetime) -> None:
        self.settings = settings
        self.now = now
        provider = settings.provider
        self.style = Style(provider.name, provider.timezone, provider.calendar)
        self.envelope = Envelope.of(settings)
        self.leads = Leads(settings)

    def _draft(self, key: str, kind: str, customer_id: str, rendered: Rendered,
               **about: Any) -> Draft:
        """``customer_id``'s e-mail of ``kind``, to the contacts that kind goes to."""
        customer = self.settings.topology.customers[customer_id]
        return Draft(key, kind, customer_recipients(kind, customer), rendered,
                     customer_id=customer_id, **about)

    def _style(self, customer_id: str) -> Style:
        """The style of ``customer_id``'s e-mails: in the language it reads (SPEC 7),
        leading to its own page (:mod:`monitor.notify.leads`)."""
        return self.leads.customer_style(self.style, customer_id, self.now)

    def _name(self, customer_id: str) -> str:
        return self.settings.topology.customers[customer_id].name

    async def _queue(self, tx: Tx, draft: Draft) -> None:
        await enqueue(tx, [draft], now=self.now, domain=self.envelope.domain)

    def _service(self, service_id: str) -> str:
        service = self.settings.topology.services.get(service_id)
        name = service.name if service is not None else None
        return f"{one_line(name, 120)} ({service_id})" if name else service_id

    async def ticket_number(self, tx: Tx, ticket: TicketRecord) -> None:
        price = None
        if ticket.price and ticket.currency:
            price = self.settings.reader(ticket.customer_id).money(ticket.price, ticket.currency)
        rendered = templates.ticket_number(
            self._style(ticket.customer_id), customer_name=self._name(ticket.customer_id), ticket_id=ticket.id,
            title=ticket.title, service=self._service(ticket.service_id),
            opened_at=ticket.opened_at,
            diagnosis_due=diagnosis_due(ticket_input(ticket), self.settings.policy), price=price)
        await self._queue(tx, self._draft(f"ticket_number:{ticket.id}", "ticket_number",
                                          ticket.customer_id, rendered, ticket_id=ticket.id))

    async def claim_receipt(self, tx: Tx, claim: ClaimRecord) -> None:
        rendered = templates.claim_receipt(
            self._style(claim.customer_id), customer_name=self._name(claim.customer_id), claim_id=claim.id,
            month=claim.month, site=claim.site_domain, submitted_at=claim.submitted_at,
            decision_due=claim.decision_due_at)
        await self._queue(tx, self._draft(f"claim_receipt:{claim.id}", "claim_receipt",
                                          claim.customer_id, rendered, claim_id=claim.id))

    async def claim_decision(
        self, tx: Tx, claim: ClaimRecord, *, decision: str, reason: str | None, days: Decimal,
        amount: Decimal, review: int | None = None,
    ) -> None:
        currency = self.settings.topology.customers[claim.customer_id].fee.currency
        rendered = templates.claim_decision(
            self._style(claim.customer_id), customer_name=self._name(claim.customer_id), claim_id=claim.id,
            month=claim.month, decision=decision, reason=reason or "",
            credit_days=days, refund=amount, currency=currency,
            effective_at=claim.credited_at if review is None else None, revision=review)
        key = f"claim_decision:{claim.id}" + ("" if review is None else f":review:{review}")
        await self._queue(tx, self._draft(key, "claim_decision", claim.customer_id, rendered,
                                          claim_id=claim.id))

    async def price_change(self, tx: Tx, ticket: TicketRecord) -> None:
        assert ticket.price_requested is not None and ticket.price_requested_at is not None
        currency = ticket.currency or ""
        answer_by = ticket.price_requested_at + dt.timedelta(
            seconds=self.settings.policy.price_approval_seconds)
        reader = self.settings.reader(ticket.customer_id)
        rendered = templates.price_change(
            self._style(ticket.customer_id), customer_name=self._name(ticket.customer_id),
            ticket_id=ticket.id, title=ticket.title,
            old_price=reader.money(ticket.price or Decimal(0), currency),
            new_price=reader.money(ticket.price_requested, currency),
            requested_at=ticket.price_requested_at, answer_by=answer_by)
        key = f"price_change:{ticket.id}:{ticket.price_requested_at.isoformat()}"
        await self._queue(tx, self._draft(key, "price_change", ticket.customer_id, rendered,
                                          ticket_id=ticket.id))

    async def statement(self, tx: Tx, statement: Statement, files: StatementFiles) -> str:
        """The statement (HTML body, PDF and CSV attached) to the technical and
        executive contacts, once per customer and revision (the dedupe key)."""
        return (await self.statements(tx, [(statement, files)]))[0]

    async def statements(
        self, tx: Tx, batch: Sequence[tuple[Statement, StatementFiles]]
    ) -> list[str]:
        """:meth:`statement` for each of ``batch``, queued together (a month's run)."""
        drafts = []
        for statement, files in batch:
            key = (f"statement:{statement.calendar}:{statement.month}:{statement.customer}:"
                   f"{statement.revision}")
            rendered = templates.statement(self.style, statement, files.html)
            attachments = (
                Attachment(f"{statement.filename}.pdf", "application/pdf", files.pdf),
                Attachment(f"{statement.filename}.csv", "text/csv", files.csv.encode("utf-8")),
            )
            drafts.append(self._draft(key, "statement", statement.customer, rendered,
                                      attachments=attachments))
        await enqueue(tx, drafts, now=self.now, domain=self.envelope.domain)
        return [draft.dedupe_key for draft in drafts]

    async def claim_reminder(self, tx: Tx, statement: Statement) -> str:
        """R-C1: once per customer and month, to the technical and executive
        contacts."""
        key = f"claim_reminder:{statement.calendar}:{statement.month}:{statement.customer}"
        rendered = templates.claim_reminder(self.style, statement)
        await self._queue(tx, self._draft(key, "claim_reminder", statement.customer, rendered))
        return key
