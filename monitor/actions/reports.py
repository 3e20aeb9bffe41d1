"""Monthly reports: a month's inputs gathered from the store and the configuration, handed
to the pure engine (:mod:`monitor.sla`), and frozen as revisions (R-C3).

This is the thin shell around the engine: it reads, converts and writes; every
rule lives in :mod:`monitor.sla`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from monitor import collector
from monitor.actions.common import iso_utc
from monitor.actions.evidence import sign_head_in
from monitor.actions.evidence_keys import load_signing_key
from monitor.actions.inputs import (
    FrozenWindow,
    MonthInputs,
    RevisionEvidence,
    month_inputs,
    terms_differ,
)
from monitor.config import Settings
from monitor.errors import InputError, time_mark
from monitor.logs import Progress, no_progress
from monitor.sla import MonthPeriod, MonthReport, month_settled
from monitor.sla.report import JSON, CustomerReport, IncidentLine, VantageProblemLine
from monitor.store import audit, claims, evidence, reports
from monitor.store import cluster as cluster_store
from monitor.store.reports import EncodedReport, RevisionRecord, RevisionText

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = [
    "COMPARED",
    "COMPARED_INCIDENT",
    "Change",
    "Closing",
    "FrozenRevision",
    "FrozenWindow",
    "ReviewNoted",
    "RevisionEvidence",
    "closable_from",
    "close_month",
    "customer_changes",
    "frozen_revision",
    "month_report",
]


async def month_report(
    db: Database,
    settings: Settings,
    *,
    month: str,
    customer: str | None = None,
    now: dt.datetime,
    progress: Progress | None = None,
) -> MonthReport:
    """The SLA report of ``month`` (YYYY-MM in the provider's calendar) as known at ``now``:
    every customer's, or only ``customer``'s. A running month is a projection.

    The garbage collector is paused meanwhile (:mod:`monitor.collector`). ``progress`` is
    told each step, as by :func:`close_month`."""
    with collector.paused():
        return await _month_report(db, settings, month, customer, now, progress or no_progress)


async def _month_report(db: Database, settings: Settings, month: str, customer: str | None,
                        now: dt.datetime, progress: Progress) -> MonthReport:
    period = settings.month(month)
    if now < period.start:
        # Nothing of it has been seen: no report (not 100 % of an empty month).
        raise InputError(
            "month", month, f"a month that has begun (this one begins {time_mark(period.start)})"
        )
    # One customer: a configured one, or one of a closed month's who left since
    # (month_inputs refuses any other, naming the nearest).
    chosen = None if customer is None else [customer]
    progress(0, 0, READING)
    inputs = await month_inputs(db, settings, period, now, chosen)
    if customer is not None:
        report = inputs.compute(now)  # one customer: milliseconds
    else:
        # Every customer: seconds at 10,000 customers; off the event loop (the daemon's
        # probes share it when the HTTP API asks).
        report = await collector.in_thread(
            inputs.compute, now, lambda done, total: progress(done, total, COMPUTING))
    if settings.config.cluster is not None:
        report = await _with_vantages(db, report)
    return report


async def _with_vantages(db: Database, report: MonthReport) -> MonthReport:
    """Which vantages confirmed each incident, and the month's vantage problems."""
    ids = {line.id for c in report.customers for line in c.incidents}
    async with db.reading() as tx:
        confirmed = await cluster_store.confirmations(tx, ids)
        problems = await cluster_store.open_problems(tx, since=report.period.start)
    return dataclasses.replace(
        report,
        confirmed_by={i: tuple(v) for i, v in confirmed.items()},
        vantage_problems=tuple(
            VantageProblemLine(t, v, s, e) for t, v, s, e in problems if s < report.period.end
        ),
    )


@dataclass(frozen=True)
class ReviewNoted:
    """R-C3: an approved claim whose month's credit this revision changed."""

    claim_id: int
    customer: str
    days_before: Decimal  # the credit the decision was based on
    days_now: Decimal
    amount_before: Decimal
    amount_now: Decimal


@dataclass(frozen=True)
class Closing:
    month: str
    revision: int
    created: bool  # False: inputs unchanged since the last revision
    digest: str
    changes: list[str]  # what differs from the previous revision
    reviews: list[ReviewNoted] = dataclasses.field(default_factory=list)
    # What the configuration now says otherwise than the month's terms, which the month
    # keeps (monitor.sla.terms): taken only when asked for (configured_terms).
    terms_differ: list[str] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class FrozenRevision:
    """A closed month's revision as stored (R-C3), its report read back typed
    (:meth:`MonthReport.from_json`): the figures as the JSON shows them (R-M6). Read from the
    store (:func:`frozen_revision`), its report's customers are typed one at a time, when
    read (:meth:`MonthReport.from_text`)."""

    calendar: str
    month: str
    revision: int
    closed_at: dt.datetime
    inputs_hash: str
    report: MonthReport
    # What statements show besides the report; None before statements existed.
    evidence: RevisionEvidence | None = None
    # The evidence chain's head signed with the revision: (entry seq, hash, key id); None
    # without a signing key (evidence.signing_key).
    checkpoint: tuple[int, str, str] | None = None


def frozen_revision(record: RevisionText) -> FrozenRevision:
    """``record`` with its SPEC section 7 JSON and its evidence read back typed (the
    garbage collector paused meanwhile, :mod:`monitor.collector`): the report's text is
    kept and each customer typed from it when read (:meth:`MonthReport.from_text`)."""
    with collector.paused():
        return FrozenRevision(record.calendar, record.month, record.revision, record.closed_at,
                              record.inputs_hash, MonthReport.from_text(record.report),
                              None if record.evidence is None
                              else RevisionEvidence.from_json(record.evidence))


#: What a new revision compares with the previous one, per customer: each figure by its
#: name in the report's JSON, and how to read it.
COMPARED: tuple[tuple[str, Callable[[CustomerReport], object]], ...] = (
    ("downtime_seconds", lambda c: c.downtime_seconds),
    ("excluded_seconds", lambda c: c.excluded_seconds),
    ("unknown_seconds", lambda c: c.unknown_seconds),
    ("availability_percent", lambda c: c.availability_percent),
    ("tier", lambda c: c.tier),
    ("credit_days_total", lambda c: c.credit_days_total),
    ("credit_value", lambda c: c.credit_value),
    ("partial_credit_days", lambda c: c.partial_credit_days),
    ("refund_amount", lambda c: c.refund_amount),
    ("notification_breaches", lambda c: c.notification_breaches),
    ("detection_breaches", lambda c: c.detection_breaches),
)

#: What a new revision compares of an incident both revisions count.
COMPARED_INCIDENT: tuple[tuple[str, Callable[[IncidentLine], object]], ...] = (
    ("counted_seconds", lambda i: i.counted_seconds),
    ("cause", lambda i: i.cause),
    ("start", lambda i: i.start),
    ("end", lambda i: i.end),
)


def _differences(old: MonthReport, new: MonthReport) -> list[str]:
    before = {c.customer: c for c in old.customers}
    changes = []
    for customer in new.customers:
        previous = before.get(customer.customer)
        if previous is None:
            changes.append(f"{customer.customer}: new in this revision")
            continue
        changes += [f"{customer.customer}: {change}"  # the operator's: every change
                    for change in customer_changes(previous, customer, None)]
    return changes


class Change(NamedTuple):
    """One difference between two revisions' records of a customer: a figure
    (``incident`` None) or an incident's (``field`` "added"/"removed" for the whole), its
    values as the revisions froze them (:meth:`MonthReport.from_json`)."""

    field: str
    before: object
    after: object
    incident: int | None = None

    def __str__(self) -> str:
        if self.field == "added":
            return f"incident {self.incident}: new in this revision"
        if self.field == "removed":
            return f"incident {self.incident}: no longer counted in this month"
        prefix = "" if self.incident is None else f"incident {self.incident}: "
        return f"{prefix}{self.field} {_as_json(self.before)} -> {_as_json(self.after)}"


def _as_json(value: object) -> str:
    """A frozen value as the report's JSON writes it: ``99.663``, ``[3]``,
    ``'2026-10-05T10:00:00Z'`` (a number read back keeps the digits JSON showed)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return repr(list(value))
    if isinstance(value, dt.datetime):
        return repr(iso_utc(value))
    return repr(value)


def customer_changes(old: CustomerReport | None, new: CustomerReport,
                     month_end: dt.datetime | None) -> list[Change]:
    """What differs between two revisions' records of one customer (``old`` None: the
    earlier revision did not have it): each :data:`COMPARED` figure, then each incident
    that appeared, went or changed its counted time, cause or times. Empty when the
    customer's figures and incidents are the same (a corrected statement is owed only
    then). With ``month_end`` (what the customer is told), an incident's end at or after
    it is, for the month, no end: a month closed while an incident ran froze it open, and
    its end in the next month changes no figure of this one (a new revision of the
    inputs, R-C3, but no correction owed). Without it (what the operator is told at the
    close), every change of the inputs' incidents."""
    changes = [Change(name, None if old is None else read(old), read(new))
               for name, read in COMPARED
               if (None if old is None else read(old)) != read(new)]
    before = {} if old is None else {i.id: _in_month(i, month_end) for i in old.incidents}
    after = {i.id: _in_month(i, month_end) for i in new.incidents}
    for incident_id in sorted(before.keys() | after.keys()):
        was, now = before.get(incident_id), after.get(incident_id)
        if was is None:
            changes.append(Change("added", None, after[incident_id], incident_id))
        elif now is None:
            changes.append(Change("removed", was, None, incident_id))
        else:
            changes += [Change(name, read(was), read(now), incident_id)
                        for name, read in COMPARED_INCIDENT if read(was) != read(now)]
    return changes


def _in_month(incident: IncidentLine, month_end: dt.datetime | None) -> IncidentLine:
    """The incident as its month sees it: an end after the month is not seen."""
    if month_end is not None and incident.end is not None and incident.end >= month_end:
        return IncidentLine(incident.id, incident.service, incident.start, None,
                            incident.counted_seconds, incident.cause,
                            incident.detection_seconds, incident.notified_after_seconds)
    return incident


#: The steps a month's close and report tell their ``progress`` (:class:`Progress`).
READING = "reading the month's records"
HASHING = "hashing the month's inputs"
COMPUTING = "computing each customer's report"
ENCODING = "encoding the report"
FREEZING = "freezing the revision"


async def close_month(
    db: Database, settings: Settings, *, month: str, now: dt.datetime,
    progress: Progress | None = None, configured_terms: bool = False,
) -> Closing:
    """Freeze a revision of an ended month with the hash of its inputs (R-C3).

    Closing again with the same inputs changes nothing; with changed inputs it
    makes revision N+1 and lists what differs. A month once closed keeps its terms (its
    customers, their fees and dependencies, the policy: :mod:`monitor.sla.terms`) whatever
    the configuration says later; ``configured_terms`` takes them from the configuration
    instead (a correction of the terms themselves). Credits already granted are not
    edited: an approved claim whose credit the revision changed is marked for review
    (:class:`ReviewNoted`), and the operator's decision on it adds adjusting entries
    (:func:`monitor.actions.claims.decide_claim`).

    The garbage collector is paused meanwhile (:mod:`monitor.collector`): until the
    month's inputs and report are let go, so that it does not walk them when it resumes.
    ``progress`` is told each step (:data:`READING` ... :data:`FREEZING`; the customers
    computed, from a worker thread): tens of seconds at 10,000 customers.
    """
    with collector.paused():
        return await _close_month(db, settings, month, now, progress or no_progress,
                                  configured_terms)


async def _close_month(db: Database, settings: Settings, month: str,
                       now: dt.datetime, progress: Progress, configured_terms: bool) -> Closing:
    period = settings.month(month)
    require_closable(settings, period, now)
    key = load_signing_key(settings)  # a key that cannot be read: said before anything
    progress(0, 0, READING)
    inputs = await month_inputs(db, settings, period, now, configured_terms=configured_terms)
    progress(0, 0, HASHING)
    digest = await asyncio.to_thread(inputs.digest)
    differ = terms_differ(inputs, settings)
    async with db.reading() as tx:
        standing = await reports.latest_hash(tx, period.calendar, period.label)
    if standing is not None and standing[1] == digest:
        # Unchanged inputs (the daemon and `statement send` close every time): nothing to
        # compute. The write transaction below says the same if a close raced this one.
        return Closing(period.label, standing[0], False, digest, [], terms_differ=differ)
    computed = await asyncio.to_thread(_computed, inputs, now, progress)
    # The month's records are let go before the revision is written: encoding and
    # inserting a report of 10,000 customers is the close's peak of memory.
    del inputs
    progress(0, 0, FREEZING)
    async with db.transaction() as tx:
        latest = await reports.latest_revision(tx, period.calendar, period.label)
        if latest is not None and latest.inputs_hash == digest:
            return Closing(period.label, latest.revision, False, digest, [],
                           terms_differ=differ)
        revision = 1 if latest is None else latest.revision + 1
        changes = [] if latest is None else await asyncio.to_thread(
            _changes, latest.report, computed.encoded.text)
        del latest
        await reports.add_revision(
            tx,
            RevisionRecord(period.calendar, period.label, revision, now, digest,
                           computed.head, computed.evidence),
            computed.encoded,  # the report's text is handed over (it is let go meanwhile)
        )
        reviews = await _note_reviews(tx, period, computed.credits, revision, now)
        if key is not None:  # the frozen revision and what it changed, signed with it
            await sign_head_in(tx, key, now, "revision",
                               await evidence.revision_id(tx, period.calendar, period.label,
                                                          revision))
    return Closing(period.label, revision, True, digest, changes, reviews, differ)


def closable_from(settings: Settings, period: MonthPeriod) -> dt.datetime:
    """When ``period`` can be closed: once it has ended and its last notification deadline
    has passed (:func:`monitor.sla.month_settled`: 2 h after its end by default)."""
    return month_settled(period.end, settings.policy)


def require_closable(settings: Settings, period: MonthPeriod, now: dt.datetime) -> None:
    """An InputError naming when ``period`` can be closed, unless it can be at ``now``."""
    closable = closable_from(settings, period)
    if now < period.end:
        raise InputError("month", period.label, f"a month that has ended (this one ends "
                         f"{time_mark(period.end)}; it can be closed from "
                         f"{time_mark(closable)})")
    if now < closable:
        raise InputError("month", period.label, "a month whose notification deadlines have "
                         "passed (R-N1: an incident of its last hours may still be notified "
                         f"in time); this one can be closed from {time_mark(closable)}")


class _Computed(NamedTuple):
    """What a close freezes of the month it computed (:func:`_computed`)."""

    head: dict[str, JSON]  # the report's JSON, its customers an empty list standing for them
    # The whole report's canonical JSON and each customer's part's digest, as
    # record_statements chains them (monitor.store.evidence.encoded_report).
    encoded: EncodedReport
    evidence: dict[str, JSON]  # RevisionEvidence.to_json
    credits: dict[str, tuple[Decimal, Decimal]]  # _credits of the report


def _computed(inputs: MonthInputs, now: dt.datetime, progress: Progress) -> _Computed:
    """The month's report, its SPEC section 7 JSON encoded in the canonical form a revision
    stores (one trip off the event loop: encoding tens of megabytes takes seconds). Each
    customer's part is encoded as it is written and then let go, and so is the typed
    report once read: at 10,000 customers the document as JSON values was ~150 MB."""
    computed = inputs.compute(now, lambda done, total: progress(done, total, COMPUTING))
    progress(0, 0, ENCODING)
    head = computed.to_json(customers=[])
    texts = evidence.line_texts()  # lines alike in many customers' parts written once
    text, digests = evidence.encoded_report(head, (
        computed.customer_json(customer) if computed.confirmed_by is not None  # a cluster's
        else evidence.encoded_customer(customer.to_json(incidents=False), customer.incidents,
                                       texts)
        for customer in computed.customers))
    return _Computed(head, EncodedReport(text, digests), inputs.evidence().to_json(),
                     _credits(computed))


def _changes(before: dict[str, JSON], after: str) -> list[str]:
    """What differs from the previous revision (``before`` as stored, ``after`` the new
    revision's text), as the revisions froze them (:meth:`MonthReport.from_json`)."""
    with collector.paused():
        return _differences(MonthReport.from_json(before),
                            MonthReport.from_json(json.loads(after)))


def _credits(report: MonthReport) -> dict[str, tuple[Decimal, Decimal]]:
    """Customer id -> (credit days in all, refund amount) of a computed report: what
    :func:`_note_reviews` compares with each approved claim's basis."""
    return {customer.customer: (customer.credit_days_total, customer.refund_amount)
            for customer in report.customers}


async def _note_reviews(
    tx: Tx, period: MonthPeriod, credits: dict[str, tuple[Decimal, Decimal]], revision: int,
    now: dt.datetime,
) -> list[ReviewNoted]:
    """R-C3: approved claims of the month whose credit the new revision changed
    (``credits``: :func:`_credits` of its report; marked and audited in one statement each,
    not one per claim)."""
    noted = []
    for claim in await claims.listed(tx, month=period.label):
        if claim.decision not in ("approved", "partly") or claim.calendar != period.calendar:
            continue
        after = credits.get(claim.customer_id)
        if after is None:
            continue
        before = (claim.basis_days or Decimal(0), claim.basis_amount or Decimal(0))
        if before == after:
            continue
        noted.append(ReviewNoted(claim.id, claim.customer_id, before[0], after[0], before[1],
                                 after[1]))
    await claims.mark_review(tx, [review.claim_id for review in noted], revision=revision,
                             at=now)
    await audit.record_many(tx, [
        {"at": now, "actor": "sla-monitor", "action": "claim.review", "object_type": "claim",
         "object_id": review.claim_id,
         "detail": {"revision": revision, "days": str(review.days_now),
                    "amount": str(review.amount_now)}}
        for review in noted])
    return noted
