"""The e-mails the contract's actions send, as the actions see them: :class:`ContractMail`.

An action that owes the customer an e-mail (a ticket's number, a claim's receipt or
decision, a price-change request) queues it *in its own transaction*, through the
``mail`` it is given: the record and its e-mail are committed together, so neither
exists without the other, and the outbox sends it at once (D-2's outbox, D-4, L-4).
The actions sit below the e-mail duties in the house's layers, so they name only
this protocol; :class:`monitor.notify.contract.ContractMailer` implements it, and each
edge (the CLI, the HTTP API) hands one in.

Whom each kind of e-mail goes to is decided here once (:func:`customer_recipients`,
:func:`recipients_now`): by the e-mail duties when they queue a message, and by
``outbox retry`` when it sends a given-up one again to whom the configuration now names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from monitor.config import Customer, Settings
    from monitor.present.statement import Statement
    from monitor.store import Tx
    from monitor.store.claims import ClaimRecord
    from monitor.store.tickets import TicketRecord

__all__ = [
    "OPERATOR_KINDS_PREFIX",
    "TECHNICAL_ONLY",
    "ContractMail",
    "StatementFiles",
    "StatementMail",
    "customer_recipients",
    "is_operator_kind",
    "recipients_now",
]

#: Kinds of messages for the provider's own staff start with this; they go to
#: ``provider.operators`` and are never alerted about themselves (no alert loops, D-2).
OPERATOR_KINDS_PREFIX = "ops_"

#: The customer e-mails that go to the technical contact alone: the maintenance notice
#: (D-3) and its cancellation, and the answers about one request (a ticket's number, L-4; a claim's receipt and
#: decision, R-C1 / D-4; a price change, L-5). Every other customer e-mail (an outage and
#: its end, D-2; a statement or its correction; the claim reminder, R-C1) goes to the
#: technical and the executive contact.
TECHNICAL_ONLY = frozenset({"maintenance", "maintenance_cancelled", "ticket_number",
                            "claim_receipt", "claim_decision", "price_change"})


def is_operator_kind(kind: str) -> bool:
    return kind.startswith(OPERATOR_KINDS_PREFIX)


def customer_recipients(kind: str, customer: Customer) -> tuple[str, ...]:
    """Whom ``customer``'s e-mail of ``kind`` goes to (:data:`TECHNICAL_ONLY`), each
    address once."""
    contacts = customer.contacts
    chosen = ([contacts.technical] if kind in TECHNICAL_ONLY
              else [contacts.technical, contacts.executive])
    return tuple(dict.fromkeys(c.email for c in chosen if c is not None))


def recipients_now(settings: Settings, kind: str,
                   customer_id: str | None) -> tuple[str, ...] | None:
    """Whom a message of ``kind`` (about ``customer_id``) would be sent to now: an
    operators' message to ``provider.operators``, a customer's to its contacts of that
    kind. None where the configuration names nobody for it: a status-page subscriber's
    notice (its address is the subscription), a customer no longer configured, no
    operators."""
    if is_operator_kind(kind):
        return tuple(dict.fromkeys(settings.provider.operators)) or None
    customer = None if customer_id is None else settings.topology.customers.get(customer_id)
    return None if customer is None else customer_recipients(kind, customer)


class ContractMail(Protocol):
    async def ticket_number(self, tx: Tx, ticket: TicketRecord) -> None:
        """L-4: the ticket's number to the customer's technical contact (starts the clocks)."""

    async def claim_receipt(self, tx: Tx, claim: ClaimRecord) -> None:
        """R-C1 / D-4: the receipt of a claim to the technical contact."""

    async def claim_decision(
        self, tx: Tx, claim: ClaimRecord, *, decision: str, reason: str | None, days: Decimal,
        amount: Decimal, review: int | None = None,
    ) -> None:
        """R-C1 / D-4: the decision (or, with ``review``, the decision on a revision's
        review, R-C3: the claim's record keeps its first decision and reason), ``decision``
        and ``reason`` this one's; ``days`` and ``amount`` are what it grants (or adjusts
        by)."""

    async def price_change(self, tx: Tx, ticket: TicketRecord) -> None:
        """L-5: a raised price that needs the customer's approval."""


@dataclass(frozen=True)
class StatementFiles:
    """A statement as its e-mail carries it: the HTML body, and the PDF and CSV attached."""

    html: str
    pdf: bytes
    csv: str


class StatementMail(Protocol):
    async def statement(self, tx: Tx, statement: Statement, files: StatementFiles) -> str:
        """Queue a monthly statement (or a correction) to the customer's technical and
        executive contacts; returns its outbox dedupe key (one per customer and revision)."""

    async def statements(
        self, tx: Tx, batch: Sequence[tuple[Statement, StatementFiles]]
    ) -> list[str]:
        """:meth:`statement` for each of ``batch``, in one go (a month's run queues a batch
        per transaction); their dedupe keys, in order."""

    async def claim_reminder(self, tx: Tx, statement: Statement) -> str:
        """Queue the reminder to claim a month's credit (one per customer and month)."""
