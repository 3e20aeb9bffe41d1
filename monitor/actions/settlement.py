"""What time alone decides, written down: L-6 expiries and L-5 price requests left
unapproved. The daemon runs :func:`settle` with its duty checks (every minute); the
ledger and ticket actions settle the site they touch first, so a balance is never read
past an expiry that is due. Running it again writes nothing new (each expiry and each
closing happens once)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from monitor.actions.ledger import settle_site
from monitor.actions.tickets import close_undone
from monitor.config import Settings
from monitor.sla import price_request_lapsed
from monitor.store import audit, ledger, tickets
from monitor.store.ledger import EntryRecord

if TYPE_CHECKING:
    from monitor.store import Database

__all__ = ["Settled", "settle"]

SYSTEM_ACTOR = "sla-monitor"


@dataclass(frozen=True)
class Settled:
    expiries: tuple[int, ...]  # ledger entry ids of L-6 expiries written now
    closed: tuple[int, ...]  # tickets closed undone (L-5: price not approved in time)


async def settle(db: Database, settings: Settings, *, now: dt.datetime,
                 actor: str = SYSTEM_ACTOR) -> Settled:
    """Write every L-6 expiry that is due and close every ticket whose raised price was
    not approved within ``policy.price_approval_deadline`` (L-5)."""
    policy = settings.policy
    closed: list[int] = []
    expiries: list[int] = []
    async with db.transaction() as tx:
        for ticket in await tickets.price_requests(tx):
            assert ticket.price_requested_at is not None
            if not price_request_lapsed(ticket.price_requested_at, now, policy):
                continue
            # Closed the second the approval period ran out, not whenever this ran.
            when = ticket.price_requested_at.replace(microsecond=0) + timedelta(
                seconds=policy.price_approval_seconds + 1)
            await close_undone(tx, settings, ticket, when,
                               "the new price was not approved in time", actor=actor, now=now)
            await audit.record(tx, at=now, actor=actor, action="ticket.close_undone",
                               object_type="ticket", object_id=ticket.id,
                               detail={"at": when.isoformat()})
            closed.append(ticket.id)
        # One read of the entries of the sites holding charge (only charge expires, L-6); a
        # site is written to only when an expiry is due.
        by_site: dict[str, list[EntryRecord]] = defaultdict(list)
        for entry in await ledger.charged_entries(tx):
            by_site[entry.site_domain].append(entry)
        for customer in settings.topology.customers.values():
            for site in customer.sites:
                if site.paid_until is not None and site.domain in by_site:
                    expiries += await settle_site(tx, settings, site.domain, now=now,
                                                  actor=actor, entries=by_site[site.domain])
    return Settled(tuple(expiries), tuple(closed))
