"""Credit claims (R-C1, D-4): the only writer of ``claims``.

The database keeps one claim per customer and month (``uq_claims_customer_month``):
:func:`add` returns None when that key is taken, even by a claim another process
committed a moment ago, and the transaction stays usable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from monitor.store import evidence
from monitor.store.db import Tx, inserted_id
from monitor.store.models import Claim

_CHUNK = 5000  # ids per IN (...) list, well under SQLite's bound-parameter limit

__all__ = [
    "ClaimRecord",
    "add",
    "decide",
    "decision_sent",
    "find",
    "get",
    "listed",
    "mark_review",
    "open_duties",
    "receipt_sent",
    "review_done",
]


@dataclass(frozen=True, slots=True)
class ClaimRecord:
    """One claim as stored (SPEC section 2)."""

    id: int
    customer_id: str
    month: str  # YYYY-MM in the calendar below
    calendar: str
    site_domain: str  # credited here (L-1)
    channel: str  # email | web | phone
    note: str | None
    submitted_by: str
    submitted_at: dt.datetime
    receipt_due_at: dt.datetime
    decision_due_at: dt.datetime
    receipt_sent_at: dt.datetime | None
    decided_at: dt.datetime | None
    decided_by: str | None
    decision: str | None  # approved | partly | rejected
    decision_reason: str | None
    credit_days: Decimal | None
    refund_amount: Decimal | None
    credited_at: dt.datetime | None  # when the granted credit takes effect
    basis_days: Decimal | None  # the engine's credit the decision or last review was based on
    basis_amount: Decimal | None
    decision_sent_at: dt.datetime | None
    review_revision: int | None  # R-C3: a revision changed the credit; awaiting a decision
    review_noted_at: dt.datetime | None


def _record(row: Claim) -> ClaimRecord:
    return ClaimRecord(
        row.id, row.customer_id, row.month, row.calendar, row.site_domain, row.channel,
        row.note, row.submitted_by, row.submitted_at, row.receipt_due_at, row.decision_due_at,
        row.receipt_sent_at, row.decided_at, row.decided_by, row.decision, row.decision_reason,
        row.credit_days, row.refund_amount, row.credited_at, row.basis_days, row.basis_amount,
        row.decision_sent_at,
        row.review_revision, row.review_noted_at,
    )


async def get(tx: Tx, claim_id: int) -> ClaimRecord | None:
    row = await tx.get(Claim, claim_id, populate_existing=True)
    return None if row is None else _record(row)


async def find(tx: Tx, customer_id: str, month: str) -> ClaimRecord | None:
    """The claim of ``customer_id`` for ``month``, if one was submitted."""
    row = (await tx.scalars(select(Claim).where(
        Claim.customer_id == customer_id, Claim.month == month))).first()
    return None if row is None else _record(row)


async def add(
    tx: Tx,
    *,
    customer_id: str,
    month: str,
    calendar: str,
    site_domain: str,
    channel: str,
    note: str | None,
    submitted_by: str,
    submitted_at: dt.datetime,
    receipt_due_at: dt.datetime,
    decision_due_at: dt.datetime,
) -> int | None:
    """A new claim; None when the customer already has one for the month (the database's
    unique key decides, so two submissions racing make one claim)."""
    try:
        async with tx.begin_nested():
            result = await tx.execute(insert(Claim).values(
                customer_id=customer_id, month=month, calendar=calendar,
                site_domain=site_domain, channel=channel, note=note,
                submitted_by=submitted_by, submitted_at=submitted_at,
                receipt_due_at=receipt_due_at, decision_due_at=decision_due_at,
            ))
    except IntegrityError:
        return None
    claim_id = inserted_id(result)
    await evidence.append(tx, "claim.submit", "claims", [claim_id])
    return claim_id


async def listed(
    tx: Tx, *, month: str | None = None, customer_id: str | None = None,
    undecided_only: bool = False,
) -> list[ClaimRecord]:
    """Claims by submission time then id."""
    query = select(Claim).order_by(Claim.submitted_at, Claim.id)
    if month is not None:
        query = query.where(Claim.month == month)
    if customer_id is not None:
        query = query.where(Claim.customer_id == customer_id)
    if undecided_only:
        query = query.where(or_(Claim.decided_at.is_(None), Claim.review_revision.is_not(None)))
    return [_record(row) for row in await tx.scalars(query)]


async def open_duties(tx: Tx) -> list[ClaimRecord]:
    """Claims with a D-4 duty still open: no receipt accepted, or no decision."""
    query = select(Claim).where(
        or_(Claim.receipt_sent_at.is_(None), Claim.decided_at.is_(None))
    ).order_by(Claim.id)
    return [_record(row) for row in await tx.scalars(query)]


async def decide(
    tx: Tx,
    claim_id: int,
    *,
    decision: str,
    reason: str | None,
    decided_at: dt.datetime,
    decided_by: str,
    credit_days: Decimal | None,
    refund_amount: Decimal | None,
    credited_at: dt.datetime | None,
    basis_days: Decimal,
    basis_amount: Decimal,
) -> bool:
    """Record the decision once: False when the claim was already decided."""
    result = await tx.execute(
        update(Claim)
        .where(Claim.id == claim_id, Claim.decided_at.is_(None))
        .values(decision=decision, decision_reason=reason, decided_at=decided_at,
                decided_by=decided_by, credit_days=credit_days, refund_amount=refund_amount,
                credited_at=credited_at, basis_days=basis_days, basis_amount=basis_amount)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await evidence.append(tx, "claim.decide", "claims", [claim_id])
    return True


async def receipt_sent(tx: Tx, claim_id: int, at: dt.datetime) -> None:
    """D-4 evidence: the SMTP server accepted the receipt (the first acceptance counts)."""
    await tx.execute(update(Claim).where(Claim.id == claim_id, Claim.receipt_sent_at.is_(None))
                     .values(receipt_sent_at=at))
    await evidence.append(tx, "claim.receipt_sent", "claims", [claim_id])


async def decision_sent(tx: Tx, claim_id: int, at: dt.datetime) -> None:
    await tx.execute(update(Claim).where(Claim.id == claim_id, Claim.decision_sent_at.is_(None))
                     .values(decision_sent_at=at))
    await evidence.append(tx, "claim.decision_sent", "claims", [claim_id])


async def mark_review(tx: Tx, claim_ids: Sequence[int], *, revision: int,
                      at: dt.datetime) -> None:
    """R-C3: revision ``revision`` of the claims' month changed their credit (one statement
    and one chain append for all of them: a month close may note thousands)."""
    if not claim_ids:
        return
    for index in range(0, len(claim_ids), _CHUNK):
        await tx.execute(update(Claim).where(Claim.id.in_(claim_ids[index:index + _CHUNK]))
                         .values(review_revision=revision, review_noted_at=at))
    await evidence.append(tx, "claim.review", "claims", claim_ids)


async def review_done(
    tx: Tx, claim_id: int, *, revision: int, basis_days: Decimal, basis_amount: Decimal
) -> bool:
    """The operator decided the review of ``revision``, on the engine's new credit; False if
    no review of it was pending."""
    result = await tx.execute(
        update(Claim).where(Claim.id == claim_id, Claim.review_revision == revision)
        .values(review_revision=None, basis_days=basis_days, basis_amount=basis_amount))
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await evidence.append(tx, "claim.review_done", "claims", [claim_id])
    return True
