"""The per-site ledger (SPEC section 2; L-1..L-6, R-C3, R-P4): what each site holds,
payments of support charge, yearly renewals.

Each domain has its own ledger (L-1): balances are never moved between a customer's
domains and never paid out (L-3), so there is no action that does either. A site's
*paid period* ends on its ``paid_until`` day in the provider's zone: the configuration's,
or the latest recorded renewal's (L-2); after it the site is lapsed. What the rules
compute (balances, L-6 expiry) is the engine's (:mod:`monitor.sla.ledger`); here it is
read and written.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from monitor.actions.common import FreeText, checks_text, known, money, not_blank
from monitor.config import Settings
from monitor.config.schema import Customer, Site
from monitor.errors import InputError, day_mark
from monitor.sla import LedgerLine, balance, charge_expiries, lapse_instant
from monitor.store import audit, ledger
from monitor.store.ledger import EntryRecord, NewEntry

if TYPE_CHECKING:
    from monitor.store import Database, Tx

__all__ = [
    "Deposited",
    "EntryRecord",
    "Renewed",
    "SiteAccount",
    "account",
    "customer_lapse",
    "deposit",
    "ledger_show",
    "owner",
    "renew",
    "settle_site",
    "site_of",
    "sites_paid_until",
]


@dataclass(frozen=True)
class SiteAccount:
    """One site's ledger as known at one instant."""

    site: str
    customer: str
    currency: str
    paid_until: dt.date | None  # the configuration's, or the latest renewal's (L-2)
    lapsed: bool  # R-EX5: no credit, no support until renewed
    credit_days: Decimal  # days of service in effect (R-C1: from a month after approval)
    credit_days_pending: Decimal  # approved, not yet in effect
    service_until: dt.date | None  # paid_until extended by the credit days in effect
    charge: Decimal  # the support balance (L-5, L-6), expiries applied
    expiry_unrecorded: Decimal  # L-6 expiries already due, not yet written (the daemon writes them)
    refunds: Decimal  # R-P2 refunds granted (money the contract gives back of the fee)
    entries: tuple[EntryRecord, ...]


@dataclass(frozen=True)
class Deposited:
    entry: EntryRecord
    account: SiteAccount


@dataclass(frozen=True)
class Renewed:
    entry: EntryRecord
    previous_paid_until: dt.date | None
    reactivated: bool  # the site had lapsed (L-2)
    account: SiteAccount


def owner(settings: Settings, domain: str) -> tuple[Customer, Site] | None:
    """The customer a domain belongs to (L-1: exactly one), and the site."""
    return settings.topology.site_owner(domain)


def site_of(settings: Settings, customer_id: str, site: str | None, field: str = "site") -> str:
    """The customer's site named ``site``; without one, its only site. Refuses a domain of
    another customer (L-1) and, for a customer with several, no domain at all.

    *Decision:* a domain of another customer is refused with the same words as one that
    does not exist (the customer's own domains, nothing about the other's), from every
    edge: a customer on its page or token must not learn who owns a domain (SPEC
    section 8), and one answer everywhere is simpler than an operator's variant (the
    operator has ``ledger show --site`` to see whose a domain is)."""
    customer = settings.topology.customers[customer_id]
    domains = [s.domain for s in customer.sites]
    if site is None:
        if len(domains) == 1:
            return domains[0]
        raise InputError(field, None, f"one of {customer_id}'s domains: {', '.join(domains)} "
                         "(each domain keeps its own balance, L-1)")
    if site not in domains:
        raise InputError(field, site, f"one of {customer_id}'s domains: {', '.join(domains)}")
    return site


def _renewals(entries: list[EntryRecord]) -> list[EntryRecord]:
    return [e for e in entries if e.kind == "renewal" and e.paid_until is not None]


def _paid_until(site: Site, entries: list[EntryRecord], before: dt.datetime | None = None
                ) -> dt.date | None:
    dates = [e.paid_until for e in _renewals(entries)
             if e.paid_until is not None and (before is None or e.effective_at < before)]
    if site.paid_until is None:
        return None
    return max([site.paid_until, *dates])


def customer_lapse(settings: Settings, customer_id: str, renewals: Sequence[EntryRecord]
                   ) -> dt.datetime | None:
    """R-EX5 Decision with renewals (L-2): the customer is suspended when every site has
    lapsed, each site paid until the later of its configured date and its renewals in
    ``renewals``."""
    customer = settings.topology.customers[customer_id]
    dates = [_paid_until(site, [r for r in renewals if r.site_domain == site.domain])
             for site in customer.sites]
    return lapse_instant(dates, settings.timezone)


def sites_paid_until(settings: Settings, customer_id: str, renewals: Sequence[EntryRecord]
                     ) -> list[tuple[str, dt.date]]:
    """Each of the customer's sites that has a paid support period, in the configuration's
    order, with the date it is paid until given ``renewals`` (L-2): the dates
    :func:`customer_lapse` judges by, as a customer is told them."""
    paid = []
    for site in settings.topology.customers[customer_id].sites:
        until = _paid_until(site, [r for r in renewals if r.site_domain == site.domain])
        if until is not None:
            paid.append((site.domain, until))
    return paid


def _period_ends(settings: Settings, site: Site, entries: list[EntryRecord]) -> list[dt.datetime]:
    """L-6: the ends of the site's yearly periods: its configured paid_until and each
    renewal's."""
    dates = {site.paid_until} | {e.paid_until for e in _renewals(entries)}
    ends = (lapse_instant([d], settings.timezone) for d in dates if d is not None)
    return sorted(e for e in ends if e is not None)


def _lines(entries: list[EntryRecord]) -> list[LedgerLine]:
    return [LedgerLine(e.kind, e.effective_at, e.days, e.amount, e.period_end)  # type: ignore[arg-type]
            for e in entries]


def account(settings: Settings, domain: str, entries: list[EntryRecord], at: dt.datetime
            ) -> SiteAccount:
    """The site's balances at ``at`` from its entries (the engine's rules)."""
    found = owner(settings, domain)
    assert found is not None
    customer, site = found
    mine = [e for e in entries if e.site_domain == domain]
    lines = _lines(mine)
    due = charge_expiries(lines, _period_ends(settings, site, mine), at)
    paid_until = _paid_until(site, mine)
    lapse = None if paid_until is None else lapse_instant([paid_until], settings.timezone)
    credit = balance(lines, "days", at)
    all_days = sum((line.days for line in lines if line.kind == "days" and line.days is not None),
                   Decimal(0))
    service_until = None
    if paid_until is not None:
        # Credit days extend the service; half a day still reaches into the next day.
        service_until = paid_until + dt.timedelta(days=int(-(-credit // 1)))
    return SiteAccount(
        site=domain,
        customer=customer.id,
        currency=customer.fee.currency,
        paid_until=paid_until,
        lapsed=lapse is not None and at >= lapse,
        credit_days=credit,
        credit_days_pending=all_days - credit,
        service_until=service_until,
        charge=balance([*lines, *due], "charge", at),
        expiry_unrecorded=-sum((line.amount or Decimal(0) for line in due), Decimal(0)),
        refunds=balance(lines, "refund", at),
        entries=tuple(mine),
    )


async def settle_site(tx: Tx, settings: Settings, domain: str, *, now: dt.datetime,
                      actor: str, entries: list[EntryRecord] | None = None) -> list[int]:
    """Write the L-6 expiries of the site's periods that ended by ``now`` (none twice);
    ``entries``: the site's entries when the caller has read them already."""
    found = owner(settings, domain)
    assert found is not None
    customer, site = found
    if entries is None:
        entries = await ledger.entries(tx, sites=[domain])
    due = charge_expiries(_lines(entries), _period_ends(settings, site, entries), now)
    written = []
    for line in due:
        assert line.period_end is not None and line.amount is not None
        written.append(await ledger.append(tx, NewEntry(
            customer.id, domain, "charge", reason=(
                "support charge left at the end of the yearly period expires (not carried "
                "into the next period)"),
            rule="L-6", effective_at=line.period_end, amount=line.amount,
            currency=customer.fee.currency, period_end=line.period_end,
            evidence={"period_end": line.period_end.isoformat()},
        ), actor=actor, created_at=now))
    return written


async def charge_balance(tx: Tx, settings: Settings, domain: str, at: dt.datetime) -> Decimal:
    """The site's support balance at ``at`` (L-5), expiries applied (L-6)."""
    entries = await ledger.entries(tx, sites=[domain])
    return account(settings, domain, entries, at).charge


def _known_site(settings: Settings, domain: str) -> tuple[Customer, Site]:
    found = owner(settings, domain)
    if found is None:
        domains = sorted(s.domain for c in settings.topology.customers.values() for s in c.sites)
        known(domain, domains, "site", "sites (domains)")
        raise AssertionError  # known() raised
    return found


@checks_text
async def deposit(
    db: Database, settings: Settings, *, site: str, amount: Decimal, reference: FreeText,
    actor: str, now: dt.datetime,
) -> Deposited:
    """A payment of support charge into the site's balance (L-6: a top-up), with its
    reference. A lapsed site is renewed first (000: support only after a yearly renewal)."""
    customer, _ = _known_site(settings, site)
    currency = customer.fee.currency
    money(amount, currency, "amount")
    not_blank(reference, "reference", "the payment's reference (a receipt or transaction number)")
    async with db.transaction() as tx:
        entries = await ledger.entries(tx, sites=[site])
        if account(settings, site, entries, now).lapsed:
            raise InputError("site", site, "a site whose support period is running: "
                             f"{site} lapsed; record its yearly renewal first (L-2)")
        await settle_site(tx, settings, site, now=now, actor=actor)
        entry_id = await ledger.append(tx, NewEntry(
            customer.id, site, "charge", reason="payment of support charge", rule="L-6",
            effective_at=now, amount=amount, currency=currency, reference=reference,
            evidence={"reference": reference},
        ), actor=actor, created_at=now)
        await audit.record(tx, at=now, actor=actor, action="ledger.deposit", object_type="site",
                           object_id=site, detail={"amount": str(amount), "reference": reference})
        entries = await ledger.entries(tx, sites=[site])
    entry = next(e for e in entries if e.id == entry_id)
    return Deposited(entry, account(settings, site, entries, now))


# Decision: a renewal pays for at most ten years ahead (L-2 renews yearly; a decade covers
# any prepayment). Past it a date is a typing mistake, and the year 9999 left no room for
# the day after the paid period, when the site lapses.
MAX_RENEWAL_YEARS = 10


def _years_after(day: dt.date, years: int) -> dt.date:
    """``day`` ``years`` later (29 February: the 28th), before the last year a date holds."""
    year = min(day.year + years, dt.MAXYEAR - 1)
    return day.replace(year=year, day=min(day.day, 28) if day.month == 2 else day.day)


async def renew(
    db: Database, settings: Settings, *, site: str, until: dt.date, actor: str, now: dt.datetime,
) -> Renewed:
    """A yearly renewal (L-2): the site is paid until ``until`` and, if it had lapsed, is
    active again. ``until`` must extend the current period."""
    customer, configured = _known_site(settings, site)
    if configured.paid_until is None:
        raise InputError("site", site, "a site with a paid support period (paid_until in the "
                         f"configuration); {site} has none, so it never lapses")
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    async with db.transaction() as tx:
        entries = await ledger.entries(tx, sites=[site])
        before = account(settings, site, entries, now)
        assert before.paid_until is not None
        start = max(before.paid_until, today)
        latest = _years_after(start, MAX_RENEWAL_YEARS)
        if not start < until <= latest:
            raise InputError("until", until.isoformat(), "a date after the current paid period "
                             f"({day_mark(before.paid_until)}) and after today "
                             f"({day_mark(today)}), at most {MAX_RENEWAL_YEARS} years after "
                             f"them ({day_mark(latest)})")
        # The ended period's left-over charge expires before the new one begins (L-6).
        await settle_site(tx, settings, site, now=now, actor=actor)
        entry_id = await ledger.append(tx, NewEntry(
            customer.id, site, "renewal", reason="yearly renewal of support", rule="L-2",
            effective_at=now, paid_until=until, currency=customer.fee.currency,
            evidence={"previous_paid_until": before.paid_until.isoformat(),
                      "reactivated": before.lapsed},
        ), actor=actor, created_at=now)
        await audit.record(tx, at=now, actor=actor, action="ledger.renew", object_type="site",
                           object_id=site, detail={"until": until.isoformat()})
        entries = await ledger.entries(tx, sites=[site])
    entry = next(e for e in entries if e.id == entry_id)
    return Renewed(entry, before.paid_until, before.lapsed, account(settings, site, entries, now))


async def ledger_show(
    db: Database, settings: Settings, *, customer: str | None = None, site: str | None = None,
    now: dt.datetime,
) -> list[SiteAccount]:
    """Every site's balances and entries (one customer's, or one site's), by domain."""
    if customer is not None:
        known(customer, settings.topology.customers, "customer", "customers")
        if site is not None:
            site_of(settings, customer, site)  # another's domain is answered as no domain
    elif site is not None:
        _known_site(settings, site)
    domains = sorted(
        s.domain for c in settings.topology.customers.values() for s in c.sites
        if (customer is None or c.id == customer) and (site is None or s.domain == site))
    async with db.reading() as tx:
        entries = await ledger.entries(tx, sites=domains)
    by_site: dict[str, list[EntryRecord]] = defaultdict(list)
    for entry in entries:  # each site's own, once: not every entry scanned for each site
        by_site[entry.site_domain].append(entry)
    return [account(settings, domain, by_site[domain], now) for domain in domains]
