"""The per-site ledger through the service layer (L-1..L-6), on SQLite and PostgreSQL:
separate balances per domain, payments, renewals that re-activate a lapsed site, the
expiry of left-over charge at a period's end, and an append-only table."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from monitor import actions
from monitor.actions.inputs import month_customers
from monitor.notify.contract import ContractMailer
from monitor.store import Database, ledger
from monitor.store.models import LedgerEntry
from tests.support import rows

from .contract import DAY, NOW, SETTINGS, at, refused


async def deposit(db: Database, site: str, amount: int | str, now: dt.datetime = NOW,
                  reference: str = "bank 1") -> actions.Deposited:
    return await actions.deposit(db, SETTINGS, site=site, amount=Decimal(amount),
                                 reference=reference, actor="ops", now=now)


async def test_l1_two_domains_of_one_customer_keep_separate_balances(db: Database) -> None:
    mail = ContractMailer(SETTINGS, NOW)
    await deposit(db, "acme.example", 3_000_000)
    await deposit(db, "shop.acme.example", 1_000_000)
    # A 2,500,000 ticket on shop.acme.example is refused although acme.example could pay:
    # a balance is never used for another domain (L-1).
    await refused(db, lambda: actions.open_ticket(
        db, SETTINGS, customer="acme", service="panel", channel="email", summary="reinstall",
        site="shop.acme.example", type="reinstall", mail=mail, actor="ops", now=NOW),
        "type", "reinstall", "the balance is 1000000 IRR")
    await actions.open_ticket(db, SETTINGS, customer="acme", service="panel", channel="email",
                              summary="payment receipt", site="shop.acme.example",
                              type="receipt", mail=mail, actor="ops", now=NOW)
    accounts = await actions.ledger_show(db, SETTINGS, customer="acme", now=NOW)
    assert [(a.site, a.charge, a.lapsed) for a in accounts] == [
        ("acme.example", 3_000_000, False), ("old.acme.example", 0, True),
        ("shop.acme.example", 500_000, False)]  # 1,000,000 - 500,000 (L-5)


async def test_deposits_are_positive_money_in_the_sites_currency(db: Database) -> None:
    await refused(db, lambda: deposit(db, "acme.example", -5), "amount", "-5",
                  "an amount above 0 IRR")
    await refused(db, lambda: deposit(db, "acme.example", "10.5"), "amount", "10.5",
                  "an amount in IRR with whole units")
    await refused(db, lambda: deposit(db, "bita.example", "10.555"), "amount", "10.555",
                  "an amount in EUR with at most 2 decimal places")
    await refused(db, lambda: deposit(db, "acme.example", 5, reference=" "), "reference", " ",
                  "the payment's reference")
    await refused(db, lambda: deposit(db, "nowhere.example", 5), "site", "nowhere.example",
                  "one of the configured sites (domains)")
    await refused(db, lambda: deposit(db, "old.acme.example", 5), "site", "old.acme.example",
                  "record its yearly renewal first (L-2)")
    done = await deposit(db, "bita.example", "12.50")
    assert (done.entry.amount, done.entry.currency, done.account.charge) == (
        Decimal("12.50"), "EUR", Decimal("12.50"))


async def test_l2_renewal_reactivates_a_lapsed_site(db: Database) -> None:
    (before,) = await actions.ledger_show(db, SETTINGS, site="old.acme.example", now=NOW)
    assert (before.paid_until, before.lapsed) == (dt.date(2026, 9, 30), True)
    await refused(db, lambda: actions.renew(db, SETTINGS, site="old.acme.example",
                                            until=dt.date(2026, 11, 1), actor="ops", now=NOW),
                  "until", "2026-11-01", "a date after the current paid period (2026-09-30) and "
                  "after today (2026-11-30)")
    renewed = await actions.renew(db, SETTINGS, site="old.acme.example",
                                  until=dt.date(2027, 11, 30), actor="ops", now=NOW)
    assert (renewed.previous_paid_until, renewed.reactivated) == (dt.date(2026, 9, 30), True)
    assert (renewed.account.paid_until, renewed.account.lapsed) == (dt.date(2027, 11, 30), False)
    await deposit(db, "old.acme.example", 100)  # support can be bought again


async def test_every_site_shown_holds_its_own_entries_and_its_customer_its_renewals(
    db: Database,
) -> None:
    # ledger show of every site reads the entries once and hands each site its own (it
    # scanned every entry and every customer's sites for each site: 15 s at 10,000 sites);
    # a month's customers take each its own renewals (L-2) the same way.
    await deposit(db, "acme.example", 3_000_000)
    await deposit(db, "bita.example", "12.50")
    await deposit(db, "shop.acme.example", 1_000_000)
    await actions.renew(db, SETTINGS, site="bita.example", until=dt.date(2027, 12, 31),
                        actor="ops", now=NOW)
    await actions.renew(db, SETTINGS, site="old.acme.example", until=dt.date(2027, 11, 30),
                        actor="ops", now=NOW)
    every = await actions.ledger_show(db, SETTINGS, now=NOW)
    assert [(a.site, a.customer, a.charge, [e.kind for e in a.entries]) for a in every] == [
        ("acme.example", "acme", 3_000_000, ["charge"]),
        ("bita.example", "bita", Decimal("12.50"), ["charge", "renewal"]),
        ("gone.example", "gone", 0, []),
        ("old.acme.example", "acme", 0, ["renewal"]),
        ("shop.acme.example", "acme", 1_000_000, ["charge"])]
    assert every == [(await actions.ledger_show(db, SETTINGS, site=a.site, now=NOW))[0]
                     for a in every]
    renewals = [e for a in every for e in a.entries if e.kind == "renewal"]
    lapses = {c.id: c.paid_until for c in month_customers(SETTINGS, renewals)}
    # R-EX5: suspended when the last site's paid day ends (UTC here): acme's own sites run
    # to 2099-06-30 (its renewal of old.acme.example changes nothing), bita's renewal to
    # 2027-12-31 moves its end from 2026-12-16, gone renewed nothing.
    assert lapses == {"acme": dt.datetime(2099, 7, 1, tzinfo=dt.UTC),
                      "bita": dt.datetime(2028, 1, 1, tzinfo=dt.UTC),
                      "gone": dt.datetime(2026, 7, 1, tzinfo=dt.UTC)}


async def test_entries_of_many_sites_are_read_in_parts_and_kept_in_order(db: Database) -> None:
    # A statement binds about 32,000 values at most (SQLite, asyncpg): the sites asked about
    # are read a few hundred at a time, and their entries still come in the order written.
    # 1,200 other names sort between acme.example and shop.acme.example: different parts.
    await deposit(db, "acme.example", 100)
    await deposit(db, "shop.acme.example", 200)
    await deposit(db, "acme.example", 300)
    asked = ["acme.example", "shop.acme.example", *(f"b{n:04}.example" for n in range(1200))]
    async with db.reading() as tx:
        found = await ledger.entries(tx, sites=asked)
        charged = await ledger.charged_entries(tx)
    assert [(e.site_domain, e.amount) for e in found] == [
        ("acme.example", 100), ("shop.acme.example", 200), ("acme.example", 300)]
    assert [e.id for e in found] == sorted(e.id for e in found)
    assert charged == found  # only these two sites hold charge (L-6 can expire nothing else)


async def test_l6_top_ups_expire_with_their_yearly_period(db: Database) -> None:
    # bita.example is paid until 2026-12-15: its period ends 2026-12-16T00:00Z (UTC).
    period_end = at(16, month=12)
    await deposit(db, "bita.example", "100.00", now=at(1))
    await deposit(db, "bita.example", "25.00", now=at(20))
    assert (await actions.settle(db, SETTINGS, now=period_end - DAY)).expiries == ()
    # What is left at the end, 125 EUR, expires (000: not carried into the next period).
    (shown,) = await actions.ledger_show(db, SETTINGS, site="bita.example", now=period_end)
    assert (shown.charge, shown.expiry_unrecorded) == (0, Decimal(125))  # due, not yet written
    settled = await actions.settle(db, SETTINGS, now=period_end)
    assert len(settled.expiries) == 1
    (expiry,) = [e for e in await rows(db, LedgerEntry) if e.rule == "L-6" and e.amount < 0]
    assert (expiry.amount, expiry.effective_at, expiry.period_end) == (
        Decimal(-125), period_end, period_end)
    assert (await actions.settle(db, SETTINGS, now=period_end + DAY)).expiries == ()  # once
    # Renewed, the site starts its new period with what it pays then.
    await actions.renew(db, SETTINGS, site="bita.example", until=dt.date(2027, 12, 15),
                        actor="ops", now=period_end + DAY)
    done = await deposit(db, "bita.example", "40.00", now=period_end + DAY)
    assert done.account.charge == 40


async def test_ledger_entries_are_never_updated_or_deleted(db: Database) -> None:
    await deposit(db, "acme.example", 3_000_000)
    before = [(e.id, e.amount, e.reason) for e in await rows(db, LedgerEntry)]
    for statement in (update(LedgerEntry).values(amount=Decimal(1)), delete(LedgerEntry)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.transaction() as tx:
                await tx.execute(statement)
    assert [(e.id, e.amount, e.reason) for e in await rows(db, LedgerEntry)] == before


async def test_ledger_show_validates_its_filters(db: Database) -> None:
    await refused(db, lambda: actions.ledger_show(db, SETTINGS, customer="nobody", now=NOW),
                  "customer", "nobody", "one of the configured customers")
    await refused(db, lambda: actions.ledger_show(db, SETTINGS, customer="bita",
                                                  site="acme.example", now=NOW),
                  "site", "acme.example", "one of bita's domains")
