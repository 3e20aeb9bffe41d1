"""The per-site ledger (L-1..L-6, R-C3, R-P4): the only writer of ``ledger_entries``.

Append-only: this module has no function that changes or removes an entry, and the
database refuses UPDATE and DELETE on the table (triggers of revision initial_schema). A
correction is a new entry, pointing at what it adjusts (``adjusts_id``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select

from monitor.store import evidence
from monitor.store.db import Tx, inserted_id, rows_by, selected_in
from monitor.store.models import LedgerEntry

__all__ = ["EntryRecord", "NewEntry", "append", "charged_entries", "entries", "for_claim",
           "for_claims", "for_ticket", "for_tickets", "renewals", "renewals_mark"]


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry to append: days of service, money, or a renewal (``paid_until``)."""

    customer_id: str
    site_domain: str
    kind: str  # days | charge | refund | renewal
    reason: str
    rule: str
    effective_at: dt.datetime
    days: Decimal | None = None
    amount: Decimal | None = None
    currency: str | None = None
    paid_until: dt.date | None = None
    period_end: dt.datetime | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    claim_id: int | None = None
    ticket_id: int | None = None
    reference: str | None = None
    adjusts_id: int | None = None


@dataclass(frozen=True, slots=True)
class EntryRecord:
    """One entry as stored."""

    id: int
    customer_id: str
    site_domain: str
    kind: str
    days: Decimal | None
    amount: Decimal | None
    currency: str | None
    paid_until: dt.date | None
    period_end: dt.datetime | None
    reason: str
    rule: str
    evidence: dict[str, Any]
    claim_id: int | None
    ticket_id: int | None
    reference: str | None
    actor: str
    created_at: dt.datetime
    effective_at: dt.datetime
    adjusts_id: int | None


def _record(row: LedgerEntry) -> EntryRecord:
    return EntryRecord(
        row.id, row.customer_id, row.site_domain, row.kind, row.days, row.amount, row.currency,
        row.paid_until, row.period_end, row.reason, row.rule, dict(row.evidence), row.claim_id,
        row.ticket_id, row.reference, row.actor, row.created_at, row.effective_at,
        row.adjusts_id,
    )


async def append(tx: Tx, entry: NewEntry, *, actor: str, created_at: dt.datetime) -> int:
    """Append one entry; returns its id."""
    result = await tx.execute(insert(LedgerEntry).values(
        customer_id=entry.customer_id, site_domain=entry.site_domain, kind=entry.kind,
        days=entry.days, amount=entry.amount, currency=entry.currency,
        paid_until=entry.paid_until, period_end=entry.period_end, reason=entry.reason,
        rule=entry.rule, evidence=dict(entry.evidence), claim_id=entry.claim_id,
        ticket_id=entry.ticket_id, reference=entry.reference, actor=actor,
        created_at=created_at, effective_at=entry.effective_at, adjusts_id=entry.adjusts_id,
    ))
    entry_id = inserted_id(result)
    await evidence.append(tx, f"ledger.{entry.kind}", "ledger_entries", [entry_id])
    return entry_id


async def entries(
    tx: Tx, *, sites: Iterable[str] | None = None, customer_id: str | None = None
) -> list[EntryRecord]:
    """Entries by id (the order they were written), for some sites (a few hundred a
    statement: a statement may bind about 32,000 values) or one customer."""
    query = select(LedgerEntry).order_by(LedgerEntry.id)
    if customer_id is not None:
        query = query.where(LedgerEntry.customer_id == customer_id)
    return await selected_in(tx, query, _record, LedgerEntry.site_domain, sites)


async def charged_entries(tx: Tx) -> list[EntryRecord]:
    """Every entry, by id, of the sites with a support charge entry (L-5, L-6): the only
    sites an L-6 expiry can be due for, since only charge expires. The daemon settles every
    30 s; at 10,000 sites with renewals and no charge it read all their entries each time."""
    charged = select(LedgerEntry.site_domain).where(LedgerEntry.kind == "charge")
    query = (select(LedgerEntry).where(LedgerEntry.site_domain.in_(charged))
             .order_by(LedgerEntry.id))
    return [_record(row) for row in await tx.scalars(query)]


async def for_claim(tx: Tx, claim_id: int) -> list[EntryRecord]:
    return (await for_claims(tx, [claim_id])).get(claim_id, [])


async def for_claims(tx: Tx, claim_ids: Iterable[int]) -> dict[int, list[EntryRecord]]:
    """Each claim's entries, by id (a claim without one is absent), a few hundred claims a
    statement: ``claim list`` read them one claim a statement, a round trip each."""
    return await rows_by(tx, LedgerEntry.claim_id, claim_ids, _record)


async def for_ticket(tx: Tx, ticket_id: int) -> list[EntryRecord]:
    return (await for_tickets(tx, [ticket_id])).get(ticket_id, [])


async def for_tickets(tx: Tx, ticket_ids: Iterable[int]) -> dict[int, list[EntryRecord]]:
    """Each ticket's entries, by id (a ticket without one is absent), as :func:`for_claims`
    reads claims': ``ticket list`` read them one ticket a statement."""
    return await rows_by(tx, LedgerEntry.ticket_id, ticket_ids, _record)


async def renewals_mark(tx: Tx, *, before: dt.datetime | None = None
                        ) -> tuple[int, int | None]:
    """How many renewal entries are in effect before ``before`` (all when None), and the
    last one's id: the ledger is only ever appended to (an entry is never updated or
    deleted), so an unchanged mark means the same renewals, and a refresh need not read
    them all again."""
    query = (select(func.count(LedgerEntry.id), func.max(LedgerEntry.id))
             .where(LedgerEntry.kind == "renewal"))
    if before is not None:
        query = query.where(LedgerEntry.effective_at < before)
    row = (await tx.execute(query)).one()
    return int(row[0]), row[1]


async def renewals(tx: Tx, *, before: dt.datetime | None = None,
                   customers: Collection[str] | None = None) -> list[EntryRecord]:
    """Renewal entries (L-2) recorded (in effect) before ``before``, by id; only
    ``customers``' when given (one customer's page read all 10,000 of a provider a year on,
    0.4 s a read)."""
    query = select(LedgerEntry).where(LedgerEntry.kind == "renewal").order_by(LedgerEntry.id)
    if before is not None:
        query = query.where(LedgerEntry.effective_at < before)
    return await selected_in(tx, query, _record, LedgerEntry.customer_id, customers)
