"""A closed month keeps the terms it was closed with (R-C3, :mod:`monitor.sla.terms`).

The month is ``statements_world``'s October 2026, worked by hand there: ``acme``
(3,650 EUR a year) counted 9,000 s (incidents 1 and 3 of ``acme-survey``), tier 1w, 7
days (R-T1), one late notification, 1 day (R-N1: incident 3 phoned 2 h 30 min in,
against 2 h), 8 days worth 8 x 3,650 / 365 = 80.00 EUR (R-T2); ``srv-1``'s incident 2
(3,600 s) inside maintenance window 1 noticed 72 h ahead is excluded (R-EX1). Then, in
November, the provider changes what the configuration says: ``acme``'s fee doubles to
7,300 EUR, ``acme-survey`` moves to ``srv-2``, ``bita`` leaves, ``erin`` joins and the
notification deadline becomes 3 h. None of it was October's.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from monitor import actions
from monitor.actions.claims import NotACustomerThen
from monitor.actions.evidence_archive import export_month, verify_archive
from monitor.actions.inputs import revision_customer_ids
from monitor.config import Settings, parse_config
from monitor.errors import NotFound, StoreError
from monitor.notify.contract import ContractMailer
from monitor.sla import Policy
from monitor.sla import terms as terms_module
from monitor.sla.inputs import CustomerInput
from monitor.sla.policy import Tier
from monitor.sla.terms import MonthTerms
from monitor.store import Database, evidence
from monitor.store.models import Claim, ReportRevision
from tests.actions import statements_world as world
from tests.support import report_reads, rows

BEFORE_NOVEMBER = 3650  # EUR a year: 10 EUR a day (R-T2)
ACME_DAYS = 7 + 1  # R-T1 tier 1w, R-N1 one late notification
ERIN = """  - id: erin
    name: Erin Labs
    contacts: {technical: {email: it@erin.example}}
    fee: {amount: 3650, currency: EUR}
    services: [erin-app]
    sites: [{domain: erin.example, paid_until: 2099-06-30}]
"""


def _november() -> Settings:
    """The configuration after October, changed as the module says."""
    text = world.yaml("policy: {notification_deadline: 3h}")
    for old, new in (
        ("fee: {amount: 3650, currency: EUR}\n    services: [acme-survey]",
         "fee: {amount: 7300, currency: EUR}\n    services: [acme-survey]"),
        ("kind: project, server: srv-1, name: ACME", "kind: project, server: srv-2, name: ACME"),
        ("{id: bita-poll,", "{id: erin-app,"),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    start = text.index("  - id: bita\n")
    text = text[:start] + ERIN + text[text.index("  - id: gone\n"):]
    return Settings.from_config(parse_config(text))


async def _closed_october(db: Database) -> Settings:
    october = world.settings()
    await world.record_october(db, october)
    closing = await actions.close_month(db, october, month="2026-10", now=world.NOW)
    assert (closing.revision, closing.created) == (1, True)
    return october


async def test_a_closed_month_keeps_its_terms_when_the_configuration_changes(
        db: Database) -> None:
    await _closed_october(db)
    november = _november()
    later = world.NOW.replace(day=20)
    before = len(await rows(db, ReportRevision))
    again = await actions.close_month(db, november, month="2026-10", now=later)
    # R-C3: the records did not change, and the terms are October's: nothing to freeze.
    assert (again.revision, again.created, again.changes) == (1, False, [])
    assert len(await rows(db, ReportRevision)) == before
    # What it kept out is said, for the operator to decide (report close --configured-terms).
    assert again.terms_differ == [
        "acme: fee_per_year 3650 -> 7300; services srv-1 -> srv-2",
        "bita: a customer of the month, no longer configured",
        "erin: not a customer of the month (configured since)",
        "policy: notification_deadline_seconds 7200 -> 10800"]

    report = await actions.month_report(db, november, month="2026-10", now=later)
    assert [c.customer for c in report.customers] == ["acme", "bita", "dorna", "gone"]
    acme = report.customer("acme")
    assert acme.credit_days_total == ACME_DAYS
    # R-T2 at October's fee, not November's 160.00.
    assert acme.credit_value == Decimal(ACME_DAYS * BEFORE_NOVEMBER) / 365
    # R-EX1: srv-1's window still covers acme-survey, which ran on srv-1 in October.
    assert acme.excluded_by_reason["maintenance"] == acme.excluded_seconds == 3600
    # R-N1 against October's 2 h deadline: incident 3, phoned 2 h 30 min in, is late.
    assert acme.notification_breaches == (3,)
    # bita stays in October's report; no statement can go to it, and the run says why.
    planned = await actions.send_statements(db, november, month="2026-10", dry_run=True,
                                            mail=ContractMailer(november, later), actor="ops",
                                            now=later)
    assert {(item.customer, item.status, item.why) for item in planned.items
            if item.customer == "bita"} == {
        ("bita", "withheld", "no longer configured: no address to send its statement to")}
    # The operators' summary names it as it was named in the month.
    summary = await actions.month_summary(db, november, month="2026-10", now=later)
    assert [(row.customer, row.name) for row in summary.rows][:2] == [
        ("acme", "ACME Research"), ("bita", world.BITA)]
    # Its own report of the month, as any customer's.
    gone = await actions.month_report(db, november, month="2026-10", customer="bita",
                                      now=later)
    assert gone.customer("bita") == report.customer("bita")
    with pytest.raises(NotFound) as refused:
        await actions.month_report(db, november, month="2026-10", customer="bitta", now=later)
    assert ("one of the configured customers or the month's: acme, bita, dorna, erin, gone"
            in str(refused.value))
    # Its evidence archive of the month, which verifies (a dispute after it left).
    archive = await export_month(db, november, customer="bita", month="2026-10")
    assert verify_archive(archive).ok
    # One customer's report (its page, its statement) reads the same terms.
    alone = await actions.month_report(db, november, month="2026-10", customer="acme",
                                       now=later)
    assert alone.customer("acme") == acme


async def test_the_configurations_terms_are_taken_when_asked_for(db: Database) -> None:
    await _closed_october(db)
    november = _november()
    later = world.NOW.replace(day=20)
    corrected = await actions.close_month(db, november, month="2026-10", now=later,
                                          configured_terms=True)
    assert (corrected.revision, corrected.created) == (2, True)
    # 8 x 7,300 / 365 = 160.00 EUR; acme-survey on srv-2 is outside window 1 (on srv-1);
    # 3 h makes incident 3's notification in time: 7 days, 70 x 2 = 140.00 EUR.
    assert "acme: credit_value 80.0 -> 140.0" in corrected.changes
    report = await actions.month_report(db, november, month="2026-10", now=later)
    assert [c.customer for c in report.customers] == ["acme", "dorna", "erin", "gone"]
    assert report.customer("acme").excluded_seconds == 0
    assert report.customer("acme").notification_breaches == ()
    # From then on the month keeps the corrected terms, whatever comes next.
    back = await actions.close_month(db, world.settings(), month="2026-10",
                                     now=later.replace(day=21))
    assert (back.revision, back.created) == (2, False)


async def test_the_terms_kept_as_the_month_ended_are_its_until_it_is_closed(
        db: Database) -> None:
    october = world.settings()
    await world.record_october(db, october)
    # The daemon's check, a minute after October ended: October's terms, once.
    ended = world.at(1, 0, 1, month=11)
    assert await actions.keep_month_terms(db, october, now=ended) == "2026-10"
    assert await actions.keep_month_terms(db, _november(), now=ended.replace(minute=2)) is None
    # November's prices came in on the 1st, before October was closed: not October's.
    first = await actions.close_month(db, _november(), month="2026-10", now=world.NOW)
    assert (first.revision, first.created) == (1, True)
    assert first.terms_differ[0] == "acme: fee_per_year 3650 -> 7300; services srv-1 -> srv-2"
    report = await actions.month_report(db, _november(), month="2026-10", now=world.NOW)
    assert report.customer("acme").credit_value == Decimal(ACME_DAYS * BEFORE_NOVEMBER) / 365
    assert [c.customer for c in report.customers] == ["acme", "bita", "dorna", "gone"]


async def test_a_month_without_kept_terms_takes_the_configuration_as_it_is(
        db: Database) -> None:
    # No daemon saw October end (its terms were not kept), and it was never closed.
    october = world.settings()
    await world.record_october(db, october)
    first = await actions.close_month(db, _november(), month="2026-10", now=world.NOW)
    assert (first.revision, first.created) == (1, True)
    report = await actions.month_report(db, october, month="2026-10", now=world.NOW)
    # Closed under November's terms (documented), and kept so from then on.
    assert report.customer("acme").credit_value == Decimal(7 * 7300) / 365
    # A closed month's terms are its revision's: the check keeps none for it.
    assert await actions.keep_month_terms(db, october, now=world.at(1, 0, 30, month=11)) is None


async def test_a_daemon_that_starts_long_after_the_month_ended_keeps_none_of_its_terms(
        db: Database) -> None:
    # A new installation on 3 November (or a daemon stopped over the month's end): the
    # configuration then is no more October's than at its close. Within the hour: kept.
    october = world.settings()
    assert await actions.keep_month_terms(db, october, now=world.NOW) is None
    assert await actions.keep_month_terms(db, october, now=world.at(1, 1, 1, month=11)) is None
    assert await actions.keep_month_terms(db, october, now=world.at(1, 1, month=11)) == "2026-10"


async def test_a_revision_frozen_before_terms_were_kept_takes_the_configurations(
        db: Database) -> None:
    await _closed_october(db)
    async with db.transaction() as tx:  # as an earlier version froze it: windows alone
        stored = (await tx.execute(select(ReportRevision.evidence))).scalar_one()
        await tx.execute(update(ReportRevision).values(
            evidence={"maintenance": stored["maintenance"]}))
    again = await actions.close_month(db, _november(), month="2026-10",
                                      now=world.NOW.replace(day=20))
    assert (again.revision, again.created) == (2, True)
    assert "acme: credit_value 80.0 -> 140.0" in again.changes


async def test_a_revisions_customers_are_those_of_its_terms_or_else_of_its_report(
        db: Database) -> None:
    """What a customer's page asks of each closed month (is it one of its customers?) is
    answered from the terms the revision froze, without reading its report; a revision
    frozen before terms were kept answers from its report."""
    await _closed_october(db)
    async with db.transaction() as tx:  # as an earlier version froze it: windows alone
        stored = (await tx.execute(select(ReportRevision.evidence))).scalar_one()
        await tx.execute(update(ReportRevision).values(
            evidence={"maintenance": stored["maintenance"]}))
    with report_reads() as reads:
        async with db.reading() as tx:
            [first] = await evidence.signed_revisions(tx, "gregorian", limit=1)
            assert first.revision == 1
            assert await revision_customer_ids(db, tx, first) == {
                "acme", "bita", "dorna", "gone"}  # October's, as the statements' world has them
    assert len(reads) == 1
    # Closed again, the month takes the configuration's terms (none were kept): bita has
    # left, erin has joined. Revision 2 names them from its terms alone.
    await actions.close_month(db, _november(), month="2026-10", now=world.NOW.replace(day=20))
    with report_reads() as reads:
        async with db.reading() as tx:
            [second] = await evidence.signed_revisions(tx, "gregorian", limit=1)
            assert second.revision == 2
            assert await revision_customer_ids(db, tx, second) == {
                "acme", "dorna", "erin", "gone"}
            assert await revision_customer_ids(db, tx, second) == {
                "acme", "dorna", "erin", "gone"}  # kept: asked again, nothing read
    assert reads == []
    sibling = db.sibling()  # as each page of the daemon reads: kept for it too
    try:
        with report_reads("report", "evidence") as reads:
            async with sibling.reading() as tx:
                assert await revision_customer_ids(sibling, tx, second) == {
                    "acme", "dorna", "erin", "gone"}
    finally:
        await sibling.dispose()
    assert reads == []  # neither its report nor its terms read again


async def test_a_customer_who_joined_later_cannot_claim_the_month(db: Database) -> None:
    await _closed_october(db)
    november = _november()
    later = world.NOW.replace(day=5)
    mail = ContractMailer(november, later)
    with pytest.raises(NotACustomerThen) as refused:
        await actions.submit_claim(db, november, customer="erin", month="2026-10", mail=mail,
                                   actor="ops", now=later)
    assert refused.value.field == "month" and "it became one later" in refused.value.allowed
    assert await rows(db, Claim) == []
    made = await actions.submit_claim(db, november, customer="acme", month="2026-10",
                                      mail=mail, actor="ops", now=later)
    assert made.claim.customer_id == "acme"


def test_terms_round_trip_exactly() -> None:
    from datetime import UTC, date, datetime
    terms = MonthTerms(
        (CustomerInput("c-1", "شرکت بیتا", Decimal("1234567890123.45"), "IRR",
                       frozenset({"panel", "p-1", "srv-9"}),
                       datetime(2026, 6, 30, 20, 30, 0, 123456, tzinfo=UTC), clone=True),
         CustomerInput("c-0", "Zero", Decimal("0"), "EUR", frozenset(),
                       unsupported_version=True)),
        Policy(target_percent=Decimal("99.95"), tiers=(Tier("a", 60, 1), Tier("b", 120, 3)),
               partial_penalty_fraction=Decimal("0.3333"), weekend_days=frozenset({4, 5}),
               holidays=frozenset({date(2026, 3, 21)}), claim_deadline_seconds=86400 * 10),
        {"srv-9": frozenset({"p-1", "p-2"})})
    again = MonthTerms.from_json(terms.to_json())
    # Every field of the policy is kept and compared (one added to Policy fails here).
    assert set(terms_module._POLICY_FIELDS) == {f.name for f in dataclasses.fields(Policy)}
    assert again.differences(terms) == []
    assert sorted(again.customers, key=lambda c: c.id) == sorted(terms.customers,
                                                                 key=lambda c: c.id)
    assert again.policy == terms.policy and again.hosted == terms.hosted


@pytest.mark.parametrize(("path", "value", "said"), [
    (("customers", 0, "fee_per_year"), "ten", "evidence.terms.customers[0].fee_per_year is "
                                               "'ten', expected a decimal number as text"),
    (("customers", 0, "clone"), "no", "evidence.terms.customers[0].clone is 'no', "
                                      "expected true or false"),
    (("policy", "target_percent"), "250", "evidence.terms: target_percent 250: must be in "
                                          "(0, 100]"),
])
def test_stored_terms_that_are_wrong_are_named(path: tuple[object, ...], value: object,
                                               said: str) -> None:
    document = MonthTerms((CustomerInput("c", "C", Decimal(1), "EUR", frozenset()),),
                          Policy(), {}).to_json()
    place: object = document
    for step in path[:-1]:
        place = place[step]  # type: ignore[index]
    place[path[-1]] = value  # type: ignore[index]
    with pytest.raises(StoreError) as refused:
        MonthTerms.from_json(document)
    assert said in str(refused.value)
