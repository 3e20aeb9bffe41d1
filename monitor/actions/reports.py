"""Monthly reports: a month's inputs gathered from the store and the configuration, handed
to the pure engine (:mod:`monitor.sla`), and frozen as revisions (R-C3).

This is the thin shell around the engine: it reads, converts and writes; every
rule lives in :mod:`monitor.sla`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from monitor.actions.common import iso_utc, known
from monitor.actions.inputs import month_inputs
from monitor.config import Settings
from monitor.errors import InputError
from monitor.sla import (
    MonthReport,
)
from monitor.sla.report import VantageProblemLine
from monitor.store import audit, claims, reports
from monitor.store import cluster as cluster_store
from monitor.store.reports import RevisionRecord

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = [
    "COMPARED",
    "Change",
    "Closing",
    "ReviewNoted",
    "close_month",
    "customer_changes",
    "month_report",
]


async def month_report(
    db: Database,
    settings: Settings,
    *,
    month: str,
    customer: str | None = None,
    now: dt.datetime,
) -> MonthReport:
    """The SLA report of ``month`` (YYYY-MM in the provider's calendar) as known at ``now``:
    every customer's, or only ``customer``'s. A running month is a projection."""
    period = settings.month(month)
    if customer is not None:
        known(customer, settings.topology.customers, "customer", "customers")
    chosen = None if customer is None else [customer]
    inputs = await month_inputs(db, settings, period, now, chosen)
    if customer is not None:
        report = inputs.compute(now)  # one customer: milliseconds
    else:
        # Every customer: seconds at 10,000 customers; off the event loop (the daemon's
        # probes share it when the HTTP API asks).
        report = await asyncio.to_thread(inputs.compute, now)
    if settings.config.cluster is not None:
        report = await _with_vantages(db, report)
    return report


async def _with_vantages(db: Database, report: MonthReport) -> MonthReport:
    """Issue 15: which vantages confirmed each incident, and the month's vantage problems."""
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


#: What a new revision compares with the previous one, per customer.
COMPARED = (
    "downtime_seconds",
    "excluded_seconds",
    "unknown_seconds",
    "availability_percent",
    "tier",
    "credit_days_total",
    "credit_value",
    "partial_credit_days",
    "refund_amount",
    "notification_breaches",
    "detection_breaches",
)


def _differences(old: Mapping[str, object], new: Mapping[str, object]) -> list[str]:
    before = {c["customer"]: c for c in _customers(old)}
    changes = []
    for customer in _customers(new):
        previous = before.get(customer["customer"])
        if previous is None:
            changes.append(f"{customer['customer']}: new in this revision")
            continue
        changes += [f"{customer['customer']}: {change}"
                    for change in customer_changes(previous, customer)]
    return changes


class Change(NamedTuple):
    """One difference between two revisions' records of a customer: a figure
    (``incident`` None) or an incident's (``field`` "added"/"removed" for the whole)."""

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
        return f"{prefix}{self.field} {self.before!r} -> {self.after!r}"


def customer_changes(old: Mapping[str, object], new: Mapping[str, object]) -> list[Change]:
    """What differs between two revisions' records of one customer (the SPEC section 7
    JSON): each :data:`COMPARED` figure, then each incident that appeared, went or changed
    its counted time or cause. Empty when the customer's figures and incidents are the same
    (a corrected statement is owed only then, issue 14)."""
    changes = [Change(key, old.get(key), new.get(key))
               for key in COMPARED if old.get(key) != new.get(key)]
    before, after = _incidents(old), _incidents(new)
    for incident_id in sorted(before.keys() | after.keys()):
        was, now = before.get(incident_id), after.get(incident_id)
        if was is None:
            changes.append(Change("added", None, after[incident_id], incident_id))
        elif now is None:
            changes.append(Change("removed", was, None, incident_id))
        else:
            changes += [Change(key, was.get(key), now.get(key), incident_id)
                        for key in ("counted_seconds", "cause", "start", "end")
                        if was.get(key) != now.get(key)]
    return changes


def _incidents(customer: Mapping[str, object]) -> dict[int, dict[str, object]]:
    found = customer.get("incidents", [])
    if not isinstance(found, list):
        return {}
    return {i["id"]: i for i in found if isinstance(i, dict) and isinstance(i.get("id"), int)}


def _customers(report: Mapping[str, object]) -> list[dict[str, object]]:
    customers = report.get("customers", [])
    return [c for c in customers if isinstance(c, dict)] if isinstance(customers, list) else []


async def close_month(
    db: Database, settings: Settings, *, month: str, now: dt.datetime
) -> Closing:
    """Freeze a revision of an ended month with the hash of its inputs (R-C3).

    Closing again with the same inputs changes nothing; with changed inputs it
    makes revision N+1 and lists what differs. Credits already granted are not
    edited: an approved claim whose credit the revision changed is marked for review
    (:class:`ReviewNoted`), and the operator's decision on it adds adjusting entries
    (:func:`monitor.actions.claims.decide_claim`).
    """
    period = settings.month(month)
    if now < period.end:
        raise InputError(
            "month", month, f"a month that has ended (this one ends {iso_utc(period.end)})"
        )
    inputs = await month_inputs(db, settings, period, now)
    digest = inputs.digest()
    computed = await asyncio.to_thread(inputs.compute, now)
    report = await asyncio.to_thread(computed.to_json)
    async with db.transaction() as tx:
        latest = await reports.latest_revision(tx, period.calendar, period.label)
        if latest is not None and latest.inputs_hash == digest:
            return Closing(period.label, latest.revision, False, digest, [])
        revision = 1 if latest is None else latest.revision + 1
        changes = [] if latest is None else _differences(latest.report, report)
        await reports.add_revision(
            tx,
            RevisionRecord(period.calendar, period.label, revision, now, digest, report,
                           inputs.evidence()),
        )
        reviews = await _note_reviews(tx, computed, revision, now)
    return Closing(period.label, revision, True, digest, changes, reviews)


async def _note_reviews(
    tx: Tx, report: MonthReport, revision: int, now: dt.datetime
) -> list[ReviewNoted]:
    """R-C3: approved claims of the month whose credit the new revision changed."""
    noted = []
    for claim in await claims.listed(tx, month=report.period.label):
        if claim.decision not in ("approved", "partly") or claim.calendar != report.period.calendar:
            continue
        try:
            customer = report.customer(claim.customer_id)
        except KeyError:
            continue
        before = (claim.basis_days or Decimal(0), claim.basis_amount or Decimal(0))
        after = (customer.credit_days_total, customer.refund_amount)
        if before == after:
            continue
        await claims.mark_review(tx, claim.id, revision=revision, at=now)
        await audit.record(tx, at=now, actor="sla-monitor", action="claim.review",
                           object_type="claim", object_id=claim.id,
                           detail={"revision": revision, "days": str(after[0]),
                                   "amount": str(after[1])})
        noted.append(ReviewNoted(claim.id, claim.customer_id, before[0], after[0], before[1],
                                 after[1]))
    return noted
