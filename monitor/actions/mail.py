"""The e-mails the contract's actions send, as the actions see them: :class:`ContractMail`.

An action that owes the customer an e-mail (a ticket's number, a claim's receipt or
decision, a price-change request) queues it *in its own transaction*, through the
``mail`` it is given: the record and its e-mail are committed together, so neither
exists without the other, and the outbox sends it at once (D-2's outbox, D-4, L-4).
The actions sit below the e-mail duties in the house's layers, so they name only
this protocol; :class:`monitor.notify.contract.ContractMailer` implements it, and each
edge (the CLI, the HTTP API) hands one in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from monitor.present.statement import Statement
    from monitor.store import Tx
    from monitor.store.claims import ClaimRecord
    from monitor.store.tickets import TicketRecord

__all__ = ["ContractMail", "StatementFiles", "StatementMail"]


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
