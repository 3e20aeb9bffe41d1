"""One customer's view (the customer page and ``GET /api/v1/customers/ID``): its
services and their states, the running month so far and the last month from the engine,
with every incident, cause and exclusion; its claims and tickets with their deadlines
(D-4, D-5), its sites' ledger balances (L-1), and the months its claim form offers with
what a claim for each would meet (R-C1: open until its deadline, late after it, or not
ended yet; one per month).

The figures are :func:`monitor.actions.month_report`'s for this customer alone: its
dependencies' incidents and windows, its notices and notifications (a few rows, however
many customers the provider has). The running month is a projection, as in the report:
availability against the whole month (R-M6), counted downtime so far, the tier and credit
that would apply if nothing else happened (R-T0, R-T1, R-T2).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from monitor.actions.claims import ClaimView, list_claims
from monitor.actions.common import known
from monitor.actions.inputs import month_customer_ids, month_inputs, revision_customer_ids
from monitor.actions.ledger import SiteAccount, ledger_show
from monitor.actions.status import ServiceState, service_states
from monitor.actions.tickets import TicketView, list_tickets
from monitor.config import Settings
from monitor.sla import (
    CustomerReport,
    MonthPeriod,
    claim_deadline,
    claim_in_time,
    error_budget_seconds,
    month_containing,
    month_ended,
    next_tier,
)
from monitor.store import evidence, history, incidents, maintenance

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = [
    "CLAIM_FORM_MONTHS",
    "ClaimMonth",
    "CustomerOverview",
    "CustomerService",
    "MonthEvidence",
    "MonthStanding",
    "NextTier",
    "SiteInfo",
    "customer_ids",
    "customer_overview",
]


@dataclass(frozen=True)
class SiteInfo:
    domain: str
    paid_until: dt.date | None
    version: str | None


@dataclass(frozen=True)
class CustomerService:
    id: str
    name: str
    kind: str  # server | web_panel | project | mobile_api
    state: ServiceState
    since: dt.datetime | None


@dataclass(frozen=True)
class NextTier:
    """The next credit tier this month would reach and the counted downtime still missing."""

    tier: str
    seconds: int


@dataclass(frozen=True)
class MonthStanding:
    """A month of the provider's calendar as the engine sees it for one customer."""

    month: str
    period_start: dt.datetime
    period_end: dt.datetime
    ended: bool
    report: CustomerReport  # its SPEC section 7 JSON in the API
    error_budget_seconds: int  # R-T0: counted downtime left before the target is missed
    next_tier: NextTier | None


@dataclass(frozen=True)
class ClaimMonth:
    """A month the claim form offers, and what a claim for it would meet (R-C1)."""

    month: str
    deadline: dt.datetime  # the last instant a claim is in time (inclusive)
    # not_customer: the month's terms do not name the customer (it became one later).
    state: Literal["open", "late", "not_ended", "claimed", "not_customer"]


@dataclass(frozen=True)
class MonthEvidence:
    """A closed month's statement as the evidence chain signed it: the latest revision, its
    signed chain entry (seq, SHA-256, key id; None when closed without a signing key), and
    the month's evidence archive is a download of the customer's page."""

    month: str
    revision: int
    seq: int | None
    hash: str | None
    key_id: str | None


#: The customer page lists the evidence of this many newest closed months.
EVIDENCE_MONTHS = 12

#: The claim form offers the running month and the three before it, so that a refusal
#: (not ended, late) is explained rather than impossible to ask.
CLAIM_FORM_MONTHS = 4


@dataclass(frozen=True)
class CustomerOverview:
    customer: str
    name: str
    timezone: str
    calendar: str
    generated_at: dt.datetime
    sites: tuple[SiteInfo, ...]
    services: tuple[CustomerService, ...]
    month: MonthStanding  # the running month, so far
    previous: MonthStanding  # the month before: the one a claim is made for (R-C1)
    claims: tuple[ClaimView, ...]
    tickets: tuple[TicketView, ...]
    accounts: tuple[SiteAccount, ...]  # each site's balances (L-1)
    claim_months: tuple[ClaimMonth, ...]  # newest first
    evidence: tuple[MonthEvidence, ...] = ()  # closed months with the customer, newest first
    # False: the previous month's terms do not name the customer (it became one later), so
    # its figures are none of its own (monitor.sla.terms).
    customer_last_month: bool = True


def customer_ids(settings: Settings) -> list[str]:
    return sorted(settings.topology.customers)


def _standing(settings: Settings, period: MonthPeriod, report: CustomerReport,
              now: dt.datetime) -> MonthStanding:
    coming = None
    if report.ineligible_reason is None:
        found = next_tier(report.downtime_seconds, period.seconds, settings.policy)
        coming = None if found is None else NextTier(found[0].name, found[1])
    return MonthStanding(
        period.label, period.start, period.end, now >= period.end, report,
        error_budget_seconds(report.downtime_seconds, period.seconds, settings.policy), coming,
    )


async def customer_overview(
    db: Database, settings: Settings, *, customer: str, now: dt.datetime
) -> CustomerOverview:
    """``customer``'s services, its running month and the previous one (an unknown id is an
    :class:`~monitor.errors.InputError` naming ``customer``)."""
    topology = settings.topology
    known(customer, topology.customers, "customer", "customers")
    calendar, tz = settings.calendar, settings.timezone
    current = month_containing(now, calendar, tz)  # type: ignore[arg-type]
    previous = month_containing(current.start - dt.timedelta(seconds=1), calendar, tz)  # type: ignore[arg-type]
    this_month = (await month_inputs(db, settings, current, now, [customer])).compute(now)
    last_month = (await month_inputs(db, settings, previous, now, [customer])).compute(now)
    depended = sorted(topology.dependencies(customer))
    async with db.reading() as tx:
        open_now = await incidents.find(tx, open_only=True)
        windows = await maintenance.current_and_upcoming(tx, now)
        probes = await history.latest_states(tx, depended)
        closed = [r for r in await evidence.signed_revisions(tx, calendar, limit=EVIDENCE_MONTHS)
                  if customer in await revision_customer_ids(db, tx, r)]
    states = service_states(topology, depended, open_now, windows, probes, now)
    config = topology.customers[customer]
    claimed = await list_claims(db, settings, customer=customer, now=now)
    tickets = await list_tickets(db, settings, customer=customer, now=now)
    accounts = await ledger_show(db, settings, customer=customer, now=now)
    made = {c.claim.month for c in claimed}
    offered = []
    period = current
    for _ in range(CLAIM_FORM_MONTHS):
        deadline = claim_deadline(period, settings.policy)
        members = await month_customer_ids(db, period, now)
        state: Literal["open", "late", "not_ended", "claimed", "not_customer"] = (
            "claimed" if period.label in made
            else "not_ended" if not month_ended(period, now)
            else "not_customer" if members is not None and customer not in members
            else "open" if claim_in_time(now, period, settings.policy)
            else "late"
        )
        offered.append(ClaimMonth(period.label, deadline, state))
        period = month_containing(period.start - dt.timedelta(seconds=1), calendar, tz)  # type: ignore[arg-type]

    def kind(service_id: str) -> str:
        service = topology.services.get(service_id)
        return service.kind if service is not None else "server"

    def name(service_id: str) -> str:
        found = topology.services.get(service_id) or topology.servers.get(service_id)
        return (found.name if found is not None else None) or service_id

    order = {"web_panel": 0, "mobile_api": 1, "project": 2, "server": 3}
    services = sorted(depended, key=lambda s: (order[kind(s)], s))
    return CustomerOverview(
        customer=customer,
        name=config.name,
        timezone=tz,
        calendar=calendar,
        generated_at=now,
        sites=tuple(SiteInfo(s.domain, s.paid_until, s.version) for s in config.sites),
        services=tuple(CustomerService(s, name(s), kind(s), *states[s]) for s in services),
        month=_standing(settings, current, this_month.customer(customer), now),
        previous=_standing(settings, previous, last_month.customer(customer), now),
        claims=tuple(claimed),
        tickets=tuple(tickets),
        accounts=tuple(accounts),
        claim_months=tuple(offered),
        customer_last_month=offered[1].state != "not_customer",
        evidence=tuple(
            MonthEvidence(r.month, r.revision, *((r.checkpoint.seq, r.checkpoint.hash,
                                                  r.checkpoint.key_id)
                                                 if r.checkpoint is not None else (None,) * 3))
            for r in closed),
    )
