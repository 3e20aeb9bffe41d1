"""Credit claims (R-C1, D-4, R-C3): submitted by the customer (the web form, e-mail, or a
call an operator records), received, decided from the engine's numbers, credited to one
site a month after approval, and reviewed when a new revision of the closed month
changes the credit.

One claim per customer and month: the natural key (customer, month) is unique in the
database, so a retried submission can never make a second claim; the refusal names
the claim that exists. When a customer acts (``customer=``, the web form and the API),
it sees and submits only its own claims.

**Decisions (ours)**: the credit goes to one site (``site``, the customer's only one by
default), since balances are per site and never split or moved (L-1); approving a
claim whose site has lapsed is refused until its renewal is recorded (R-EX5, L-2); the
credit a claim is decided on is the engine's for the month as known at the decision
time (it is stored as the decision's *basis*, which a later revision is compared with).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, cast

from pydantic import BaseModel

from monitor.actions.common import (
    MAX_ID,
    FreeText,
    checks_text,
    half_days,
    known,
    not_before,
    not_blank,
    not_future,
    one_of,
)
from monitor.actions.inputs import month_customer_ids, month_inputs
from monitor.actions.ledger import account, site_of
from monitor.actions.mail import ContractMail
from monitor.config import Settings
from monitor.errors import InputError, NotFound, time_mark
from monitor.logs import Progress, no_progress
from monitor.sla import (
    CLAIM_CHANNELS,
    DECISIONS,
    CalendarName,
    CreditLine,
    CustomerReport,
    Decision,
    DutyState,
    Grant,
    MonthPeriod,
    claim_deadline,
    claim_grants,
    claim_in_time,
    credit_effective_at,
    decision_due,
    duty_state,
    granted_totals,
    month_ended,
    month_period,
    receipt_due,
    review_grants,
)
from monitor.sla.report import JSON, shown_figure
from monitor.store import audit, claims, ledger
from monitor.store.audit import AuditRecord
from monitor.store.claims import ClaimRecord
from monitor.store.ledger import EntryRecord, NewEntry

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = [
    "ClaimRecord",
    "ClaimStanding",
    "ClaimView",
    "ComputedCredit",
    "NotACustomerThen",
    "decide_claim",
    "find_claim",
    "latest_decision",
    "list_claims",
    "show_claim",
    "submit_claim",
]


class NotACustomerThen(InputError):
    """A claim for a month whose terms do not name the customer (it became one later,
    :mod:`monitor.sla.terms`): nothing of that month is owed to it."""


@dataclass(frozen=True)
class ComputedCredit:
    """What the contract says the claim's month is worth to the customer (the engine's
    month report), with the evidence of every line (R-C3)."""

    tier: str | None
    tier_credit_days: int
    notification_credit_days: int
    partial_credit_days: Decimal  # R-P1
    credit_days_total: Decimal
    credit_value: Decimal  # R-T2: days x fee / 365
    refund_amount: Decimal  # R-P2
    currency: str
    downtime_seconds: int
    availability_percent: Decimal
    ineligible_reason: str | None
    credit_lines: tuple[CreditLine, ...]

    def to_json(self) -> dict[str, JSON]:
        """The figures as the month's report gives them (SPEC section 7): one rounding for
        one figure (:func:`~monitor.sla.report.shown_figure`), so that a claim and its
        month's report say the same number."""
        return {item.name: shown_figure(item.name, getattr(self, item.name))
                for item in fields(self)}

    @classmethod
    def of(cls, report: CustomerReport) -> ComputedCredit:
        return cls(report.tier, report.tier_credit_days, report.notification_credit_days,
                   report.partial_credit_days, report.credit_days_total, report.credit_value,
                   report.refund_amount, report.currency, report.downtime_seconds,
                   report.availability_percent, report.ineligible_reason, report.credit_lines)


@dataclass(frozen=True)
class ClaimStanding:
    """Where a claim stands (:func:`standing_of`): ``state`` is ``received``,
    ``under_review`` or a decision (:data:`~monitor.sla.DECISIONS`); ``at`` since when (None
    while received: the receipt and decision have their own deadlines); ``revision`` the
    month's revision a review is of."""

    state: str
    at: dt.datetime | None
    revision: int | None = None


@dataclass(frozen=True)
class ClaimView:
    """A claim, its deadlines as known at one instant, the engine's credit for its month,
    what was granted, and (R-C3) a pending review's difference."""

    claim: ClaimRecord
    claim_deadline: dt.datetime  # R-C1: the last instant it could be submitted
    receipt: DutyState  # D-4
    decision: DutyState  # D-4
    computed: ComputedCredit
    granted_days: Decimal
    granted_amount: Decimal
    entries: tuple[EntryRecord, ...]  # the ledger entries of its decisions
    review_days: Decimal | None  # computed now minus the basis, while a review is pending
    review_amount: Decimal | None
    overdue: bool  # D-4: the receipt or the decision is late and not done
    # R-C3: each review decided, oldest first (the claim's record keeps its first decision).
    reviews: tuple[ReviewDecided, ...] = ()
    # Where it stands, as its page and the customer's list say it (:func:`standing_of`).
    standing: ClaimStanding = ClaimStanding("received", None)


def standing_of(claim: ClaimRecord, reviews: Sequence[ReviewDecided]) -> ClaimStanding:
    """Where ``claim`` stands: received (no decision yet), under review since a revision of
    its month changed its credit (R-C3), or its latest decision (the last review's, else
    the first)."""
    if claim.review_revision is not None:
        return ClaimStanding("under_review", claim.review_noted_at, claim.review_revision)
    return latest_decision(claim, reviews) or ClaimStanding("received", None)


def latest_decision(claim: ClaimRecord,
                    reviews: Sequence[ReviewDecided]) -> ClaimStanding | None:
    """The claim's latest decision, when, and after which revision: the last review's
    (R-C3), else the first (the claim's record keeps it); None before any."""
    if reviews:
        latest = reviews[-1]
        return ClaimStanding(latest.decision, latest.decided_at, latest.revision)
    if claim.decision is not None and claim.decided_at is not None:
        return ClaimStanding(claim.decision, claim.decided_at)
    return None


@dataclass(frozen=True)
class ReviewDecided:
    """R-C3: the decision on a review after revision ``revision`` of the claim's month, and
    what it granted (or adjusted by: negative takes back)."""

    revision: int
    decided_at: dt.datetime
    decision: str
    reason: str | None
    days: Decimal
    amount: Decimal

    @classmethod
    def of(cls, event: AuditRecord) -> ReviewDecided | None:
        """The review a ``claim.decide`` event records (:class:`_Decided`); None for a
        first decision. Events written before they kept the decision's own time and reason
        show the time of recording and no reason."""
        decided = _Decided.model_validate(event.detail)
        if decided.review is None:
            return None
        return cls(decided.review, decided.at or event.at, decided.decision, decided.reason,
                   decided.days, decided.amount)


class _Decided(BaseModel):
    """The detail of a ``claim.decide`` audit event, as :func:`decide_claim` writes it."""

    decision: str
    review: int | None = None
    reason: str | None = None
    at: dt.datetime | None = None
    days: Decimal = Decimal(0)
    amount: Decimal = Decimal(0)


def _period(settings: Settings, claim: ClaimRecord) -> MonthPeriod:
    """The claim's month in the calendar it was claimed in."""
    return month_period(claim.month, cast(CalendarName, claim.calendar), settings.timezone)


async def _reports(db: Database, settings: Settings, found: Sequence[ClaimRecord],
                   now: dt.datetime, progress: Progress
                   ) -> dict[tuple[str, str], CustomerReport]:
    """(calendar, month) of each claim -> its month's report, computed once per month for
    the customers that claimed it (one customer's claims read one customer's month);
    ``progress`` is told each month's reading and computing."""
    computed: dict[tuple[str, str], dict[str, CustomerReport]] = {}
    claimants: dict[tuple[str, str], set[str]] = {}
    for claim in found:
        if claim.customer_id in settings.topology.customers:
            claimants.setdefault((claim.calendar, claim.month), set()).add(claim.customer_id)
    for claim in found:
        key = (claim.calendar, claim.month)
        if key not in computed:
            period = _period(settings, claim)
            progress(0, 0, f"reading {period.label}'s records")
            inputs = await month_inputs(db, settings, period, now, claimants.get(key, set()))
            report = inputs.compute(now, partial(progress, step=f"computing {period.label}'s "
                                                 "reports"))
            computed[key] = {c.customer: c for c in report.customers}
    return {(claim.customer_id, claim.month): computed[(claim.calendar, claim.month)][
        claim.customer_id] for claim in found if claim.customer_id in
        computed[(claim.calendar, claim.month)]}


def _view(settings: Settings, claim: ClaimRecord, report: CustomerReport,
          entries: list[EntryRecord], reviews: Sequence[ReviewDecided],
          now: dt.datetime) -> ClaimView:
    warning = settings.deadline_warning_seconds
    days = sum((e.days for e in entries if e.days is not None), Decimal(0))
    amount = sum((e.amount for e in entries if e.amount is not None), Decimal(0))
    review_days = review_amount = None
    if claim.review_revision is not None:
        review_days = report.credit_days_total - (claim.basis_days or Decimal(0))
        review_amount = report.refund_amount - (claim.basis_amount or Decimal(0))
    receipt = duty_state(claim.receipt_sent_at, claim.receipt_due_at, now, warning)
    decision = duty_state(claim.decided_at, claim.decision_due_at, now, warning)
    overdue = (receipt == "breached" and claim.receipt_sent_at is None) or (
        decision == "breached" and claim.decided_at is None)
    return ClaimView(
        claim, claim_deadline(_period(settings, claim), settings.policy), receipt, decision,
        ComputedCredit.of(report), days, amount, tuple(entries), review_days, review_amount,
        overdue, tuple(reviews), standing_of(claim, reviews),
    )


async def _views(db: Database, settings: Settings, found: Sequence[ClaimRecord],
                 now: dt.datetime, progress: Progress = no_progress) -> list[ClaimView]:
    reports = await _reports(db, settings, found, now, progress)
    progress(0, 0, "reading the ledger entries and decisions")
    async with db.reading() as tx:
        entries = await ledger.for_claims(tx, (claim.id for claim in found))
        decided = await audit.events(tx, action="claim.decide", object_type="claim",
                                     object_ids=(claim.id for claim in found))
    reviews: dict[str, list[ReviewDecided]] = {}
    for event in decided:
        review = ReviewDecided.of(event)
        if review is not None:
            reviews.setdefault(event.object_id, []).append(review)
    return [_view(settings, claim, reports[(claim.customer_id, claim.month)],
                  entries.get(claim.id, []), reviews.get(str(claim.id), ()), now)
            for claim in found if (claim.customer_id, claim.month) in reports]


async def _claim(tx: Tx, claim_id: int, customer: str | None = None) -> ClaimRecord:
    """The claim (the customer's, when one acts); an id no database holds, another
    customer's claim and a missing one get the same answer."""
    claim = await claims.get(tx, claim_id) if 1 <= claim_id <= MAX_ID else None
    if claim is None or (customer is not None and claim.customer_id != customer):
        raise NotFound("claim_id", claim_id, "an existing claim id (see: claim list)")
    return claim


@checks_text
async def submit_claim(
    db: Database,
    settings: Settings,
    *,
    customer: str,
    month: str,
    site: str | None = None,
    channel: str = "email",
    note: FreeText | None = None,
    at: dt.datetime | None = None,
    mail: ContractMail,
    actor: str,
    now: dt.datetime,
) -> ClaimView:
    """R-C1: a claim for an ended month, no later than its deadline (inclusive), one per
    customer and month; its receipt is e-mailed at once to the technical contact."""
    policy = settings.policy
    known(customer, settings.topology.customers, "customer", "customers")
    one_of(channel, CLAIM_CHANNELS, "channel")
    submitted_at = now if at is None else at
    not_future(submitted_at, now, "at")
    period = settings.month(month)
    if not month_ended(period, submitted_at):
        raise InputError("month", month, "a month that has ended (R-C1): "
                         f"{period.label} ends {time_mark(period.end)}")
    if not claim_in_time(submitted_at, period, policy):
        raise InputError("month", month, "a month whose claim deadline has not passed (R-C1): "
                         f"claims for {period.label} were accepted until "
                         f"{time_mark(claim_deadline(period, policy))}")
    members = await month_customer_ids(db, period, now)
    if members is not None and customer not in members:
        raise NotACustomerThen("month", month, f"a month {customer} was a customer in (the "
                               f"terms of {period.label} do not name it: it became one later)")
    domain = site_of(settings, customer, site)
    async with db.transaction() as tx:
        existing = await claims.find(tx, customer, period.label)
        claim_id = None if existing is not None else await claims.add(
            tx, customer_id=customer, month=period.label, calendar=period.calendar,
            site_domain=domain, channel=channel, note=note, submitted_by=actor,
            submitted_at=submitted_at,
            receipt_due_at=receipt_due(submitted_at, settings.timezone, policy),
            decision_due_at=decision_due(submitted_at, policy))
        if claim_id is None:
            existing = existing or await claims.find(tx, customer, period.label)
            assert existing is not None
            raise InputError("month", month, f"a month {customer} has not claimed yet: claim "
                             f"{existing.id} for {period.label} was submitted at "
                             f"{time_mark(existing.submitted_at)} (one claim per customer and "
                             "month)")
        claim = await _claim(tx, claim_id)
        await mail.claim_receipt(tx, claim)
        await audit.record(tx, at=now, actor=actor, action="claim.submit", object_type="claim",
                           object_id=claim_id, detail={"customer": customer,
                                                       "month": period.label, "site": domain,
                                                       "channel": channel})
    return (await _views(db, settings, [claim], now))[0]


@checks_text
async def decide_claim(
    db: Database,
    settings: Settings,
    *,
    claim_id: int,
    decision: str,
    days: Decimal | None = None,
    reason: FreeText | None = None,
    at: dt.datetime | None = None,
    mail: ContractMail,
    actor: str,
    now: dt.datetime,
) -> ClaimView:
    """R-C1: approve (every credit line of the month), approve partly (``days`` days of
    service instead of the computed days) or reject (with a reason), once; the decision is
    e-mailed, and an approval adds ledger entries effective ``policy.credit_delay`` later.

    A claim marked for review by a new revision of its month (R-C3) is decided again:
    approving takes the revision's credit, partly sets the days, rejecting keeps what was
    granted; each difference is an adjusting entry, and nothing granted is edited.
    """
    one_of(decision, DECISIONS, "decision")
    if decision == "partly":
        if days is None:
            raise InputError("days", None, "the days of service granted by a partial approval")
        half_days(days, "days")
    elif days is not None:
        raise InputError("days", str(days), "no days unless the approval is partial")
    if decision == "rejected":
        why = "why the claim is rejected (it is e-mailed)"
        if reason is None:
            raise InputError("reason", None, why)
        not_blank(reason, "reason", why)
    decided_at = now if at is None else at
    not_future(decided_at, now, "at")
    async with db.reading() as tx:
        claim = await _claim(tx, claim_id)
    if claim.decided_at is not None and claim.review_revision is None:
        raise InputError("claim_id", claim_id, f"an undecided claim: claim {claim_id} was "
                         f"decided ({claim.decision}) at {time_mark(claim.decided_at)}; a claim "
                         "is decided once, unless a new revision of its month reopens it (R-C3)")
    not_before(decided_at, claim.submitted_at, "at", f"claim {claim_id}'s submission")
    period = _period(settings, claim)
    report = (await month_inputs(db, settings, period, decided_at)).compute(decided_at).customer(
        claim.customer_id)
    review = claim.review_revision
    async with db.transaction() as tx:
        entries = await ledger.for_claim(tx, claim_id)
        if review is None:
            grants = () if decision == "rejected" else claim_grants(
                report, days if decision == "partly" else None)
        else:
            granted = granted_totals(
                Grant("", e.days, e.amount) for e in entries)
            grants = review_grants(granted[0], granted[1], report, cast(Decision, decision), days)
        if (decision == "partly" and review is None and days is not None
                and not days < report.credit_days_total):
            raise InputError("days", str(days), "fewer days than the computed credit "
                             f"({report.credit_days_total}; approve it whole instead)")
        gain = granted_totals(grants)
        if any((g.days is not None and g.days > 0) or (g.amount is not None and g.amount > 0)
               for g in grants):
            state = account(settings, claim.site_domain,
                            await ledger.entries(tx, sites=[claim.site_domain]), decided_at)
            if state.lapsed:
                raise InputError("decision", decision, "a rejection, or an approval once the "
                                 f"site is renewed: {claim.site_domain} was paid until "
                                 f"{state.paid_until} and a lapsed site gains no credit until "
                                 "renewed (R-EX5, L-2)")
        effective = credit_effective_at(decided_at, settings.policy)
        if review is None:
            recorded = await claims.decide(
                tx, claim_id, decision=decision, reason=reason, decided_at=decided_at,
                decided_by=actor, credit_days=gain[0], refund_amount=gain[1],
                credited_at=effective if grants else None,
                basis_days=report.credit_days_total, basis_amount=report.refund_amount)
            if not recorded:
                raise InputError("claim_id", claim_id, "an undecided claim: it was decided a "
                                 "moment ago")
        elif not await claims.review_done(tx, claim_id, revision=review,
                                          basis_days=report.credit_days_total,
                                          basis_amount=report.refund_amount):
            raise InputError("claim_id", claim_id, "a claim awaiting review: it was reviewed a "
                             "moment ago")
        adjusts = entries[-1].id if entries and review is not None else None
        currency = settings.topology.customers[claim.customer_id].fee.currency
        for grant in grants:
            await ledger.append(tx, _entry(claim, grant, review, effective, currency, adjusts),
                                actor=actor, created_at=now)
        claim = await _claim(tx, claim_id)
        # This decision's own words: a review's (R-C3) are not the claim's first, which its
        # record keeps.
        await mail.claim_decision(tx, claim, decision=decision, reason=reason, days=gain[0],
                                  amount=gain[1], review=review)
        await audit.record(tx, at=now, actor=actor, action="claim.decide", object_type="claim",
                           object_id=claim_id, detail={"decision": decision, "review": review,
                                                       "reason": reason,
                                                       "at": decided_at.isoformat(),
                                                       "days": str(gain[0]),
                                                       "amount": str(gain[1])})
    return (await _views(db, settings, [claim], now))[0]


def _entry(claim: ClaimRecord, grant: Grant, review: int | None, effective: dt.datetime,
           currency: str, adjusts: int | None) -> NewEntry:
    what = f"claim {claim.id} for {claim.month}"
    reason = (f"{what}: {grant.rule}" if review is None
              else f"{what}: adjusted after revision {review} of the month")
    evidence: dict[str, object] = {
        "claim": claim.id, "month": claim.month, "incidents": list(grant.incidents),
        "maintenance": list(grant.maintenance), "tickets": list(grant.tickets)}
    if review is not None:
        evidence["revision"] = review
    return NewEntry(
        claim.customer_id, claim.site_domain, "days" if grant.amount is None else "refund",
        reason=reason, rule=grant.rule, effective_at=effective, days=grant.days,
        amount=grant.amount, currency=None if grant.amount is None else currency,
        evidence=evidence, claim_id=claim.id, adjusts_id=adjusts)


async def find_claim(db: Database, settings: Settings, *, customer: str, month: str,
                     now: dt.datetime) -> ClaimView | None:
    """The claim of ``customer`` for ``month`` (the natural key), if any."""
    known(customer, settings.topology.customers, "customer", "customers")
    period = settings.month(month)
    async with db.reading() as tx:
        claim = await claims.find(tx, customer, period.label)
    return None if claim is None else (await _views(db, settings, [claim], now))[0]


async def list_claims(
    db: Database, settings: Settings, *, month: str | None = None, customer: str | None = None,
    open_only: bool = False, overdue: bool = False, now: dt.datetime,
    progress: Progress = no_progress,
) -> list[ClaimView]:
    """Claims by submission; ``open_only``: undecided or awaiting review; ``overdue``: a
    receipt or decision deadline passed unmet (D-4). Each with its month's computed credit
    (seconds at thousands of claims: ``progress`` is told each step)."""
    label = None if month is None else settings.month(month).label
    if customer is not None:
        known(customer, settings.topology.customers, "customer", "customers")
    progress(0, 0, "reading the claims")
    async with db.reading() as tx:
        found = await claims.listed(tx, month=label, customer_id=customer,
                                    undecided_only=open_only)
    views = await _views(db, settings, found, now, progress)
    return [view for view in views if view.overdue] if overdue else views


async def show_claim(db: Database, settings: Settings, *, claim_id: int, now: dt.datetime,
                     customer: str | None = None) -> ClaimView:
    """One claim with its deadlines, computed credit and evidence, and granted entries."""
    async with db.reading() as tx:
        claim = await _claim(tx, claim_id, customer)
    return (await _views(db, settings, [claim], now))[0]
