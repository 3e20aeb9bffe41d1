"""Claims through the service layer (R-C1, D-4, R-C3), on SQLite and PostgreSQL: the
deadline instant, receipts across the weekend and a holiday, decisions and what they add
to the ledger, a lapsed site, a revision's review, and bad input refused with nothing
changed. Every number is worked out by hand, citing its rule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from monitor import actions
from monitor.cli.claim import _row as claim_row
from monitor.cli.claim import _summary as claim_lines
from monitor.notify.contract import ContractMailer
from monitor.present.html import environment, render
from monitor.present.language import language
from monitor.sla.report import iso_utc
from monitor.store import Database
from monitor.store import claims as stored_claims
from monitor.store.models import AuditEvent, Claim, LedgerEntry, OutboxMessage
from tests.support import rows

from .contract import HOUR, MAIL, NOW, SETTINGS, at, refused, settings

OCTOBER_OUTAGE = (at(10, 8, month=10), at(10, 11, month=10))  # 3 h of the web panel


async def submit(db: Database, **changes: Any) -> actions.ClaimView:
    values: dict[str, Any] = {"customer": "acme", "month": "2026-10", "site": "acme.example",
                              "at": at(5, 10), "mail": MAIL, "actor": "ops", "now": NOW,
                              **changes}
    return await actions.submit_claim(db, values.pop("settings", SETTINGS), **values)


async def decide(db: Database, claim_id: int, decision: str = "approved",
                 **changes: Any) -> actions.ClaimView:
    values: dict[str, Any] = {"claim_id": claim_id, "decision": decision, "mail": MAIL,
                              "actor": "ops", "now": NOW, **changes}
    return await actions.decide_claim(db, SETTINGS, **values)


async def panel_outage(db: Database) -> int:
    # 3 h of the shared panel in October (31 days), never notified: every customer's
    # credit is tier 1w, 7 days (R-T1: 3 h >= 1.5 h, availability 99.596 % < 99.8 %), plus
    # 1 day for the missed notification (R-N1): 8 days.
    incident = await actions.add_incident(db, SETTINGS, service="panel", start=OCTOBER_OUTAGE[0],
                                          end=OCTOBER_OUTAGE[1], actor="ops", now=NOW)
    return incident.id


async def test_r_c1_gregorian_claim_at_the_deadline_instant_and_a_minute_later(db: Database) -> None:
    # October 2026 in UTC ends 2026-11-01T00:00Z; claims until 2026-11-15T00:00Z inclusive.
    view = await submit(db, at=at(15))
    assert view.claim.submitted_at == at(15) and view.claim_deadline == at(15)
    await refused(db, lambda: submit(db, customer="bita", site=None, at=at(15, 0, 1)), "month",
                  "2026-10", "claims for 2026-10 were accepted until 2026-11-15T00:00:00Z")


async def test_r_c1_jalali_claim_at_the_deadline_instant_and_a_minute_later(db: Database) -> None:
    # Mehr 1405 ends 1 Aban = 2026-10-23 00:00 Tehran = 2026-10-22T20:30Z; 14 days on,
    # 2026-11-06 00:00 Tehran = 2026-11-05T20:30Z is the last instant in time.
    tehran = settings("Asia/Tehran", "jalali")
    view = await submit(db, settings=tehran, month="1405-07", at=at(5, 20, 30))
    assert (view.claim.month, view.claim.calendar) == ("1405-07", "jalali")
    await refused(db, lambda: submit(db, settings=tehran, customer="bita", site=None,
                                     month="1405-07", at=at(5, 20, 31)),
                  "month", "1405-07", "accepted until 2026-11-05T20:30:00Z")


async def test_d4_receipt_due_across_a_friday_and_a_holiday(db: Database) -> None:
    # Thursday 2026-11-05: Friday is the weekend, so Saturday 7th's last second (R-C1 Decision).
    thursday = await submit(db, at=at(5, 10))
    assert thursday.claim.receipt_due_at.isoformat() == "2026-11-07T23:59:59+00:00"
    # Sunday 2026-11-08: Monday 9th is a configured holiday, so Tuesday 10th.
    sunday = await submit(db, customer="bita", site=None, at=at(8, 10))
    assert sunday.claim.receipt_due_at.isoformat() == "2026-11-10T23:59:59+00:00"
    # The decision is due 14 days after the submission (R-C1).
    assert sunday.claim.decision_due_at == at(22, 10)
    # The receipt is queued at once, to the technical contact only.
    queued = await rows(db, OutboxMessage)
    assert [(m.kind, m.claim_id, m.recipients) for m in queued] == [
        ("claim_receipt", thursday.claim.id, ["tech@acme.example"]),
        ("claim_receipt", sunday.claim.id, ["it@bita.example"])]


async def test_d4_decision_overdue_is_flagged(db: Database) -> None:
    late = await submit(db, at=at(5, 10))  # decision due 2026-11-19T10:00Z
    decided = await submit(db, customer="bita", site=None, at=at(6, 10))
    async with db.transaction() as tx:  # both receipts accepted by the mail server in time
        for claim in (late, decided):
            await stored_claims.receipt_sent(tx, claim.claim.id, claim.claim.submitted_at + HOUR)
    await decide(db, decided.claim.id, "rejected", reason="no outage of ours", at=at(7))
    late = await actions.show_claim(db, SETTINGS, claim_id=late.claim.id, now=NOW)
    assert (late.receipt, late.decision, late.overdue) == ("done", "breached", True)
    overdue = await actions.list_claims(db, SETTINGS, overdue=True, now=NOW)
    assert [v.claim.id for v in overdue] == [late.claim.id]
    # At the due instant itself it is not yet missed (the one boundary, D-4).
    on_time = await actions.show_claim(db, SETTINGS, claim_id=late.claim.id, now=at(19, 10))
    assert on_time.decision == "at_risk" and not on_time.overdue
    assert [v.claim.id for v in await actions.list_claims(db, SETTINGS, open_only=True, now=NOW)
            ] == [late.claim.id]


async def test_r_c1_approval_adds_entries_effective_a_month_later(db: Database) -> None:
    incident = await panel_outage(db)
    view = await submit(db)
    computed = view.computed
    # 8 days x 12,000,000 / 365 = 263,013.70 IRR (R-T2).
    assert (computed.tier, computed.credit_days_total) == ("1w", Decimal(8))
    assert computed.credit_value == Decimal(8) * 12_000_000 / 365
    decided = await decide(db, view.claim.id, at=at(20))
    # R-C1: approved at 2026-11-20T00:00Z, credited one month (credit_delay, 30 d) later.
    assert decided.claim.decision == "approved" and decided.claim.credited_at == at(20, month=12)
    entries = await rows(db, LedgerEntry)
    assert [(e.site_domain, e.kind, e.rule, e.days, e.effective_at, e.evidence["incidents"],
             e.claim_id) for e in entries] == [
        ("acme.example", "days", "R-T1", Decimal(7), at(20, month=12), [incident], view.claim.id),
        ("acme.example", "days", "R-N1", Decimal(1), at(20, month=12), [incident], view.claim.id)]
    # In the ledger the days are pending until then, and in effect from then.
    (acme,) = await actions.ledger_show(db, SETTINGS, site="acme.example", now=NOW)
    assert (acme.credit_days, acme.credit_days_pending) == (0, 8)
    (later,) = await actions.ledger_show(db, SETTINGS, site="acme.example", now=at(20, month=12))
    assert (later.credit_days, later.credit_days_pending) == (8, 0)
    assert [m.kind for m in await rows(db, OutboxMessage)] == ["claim_receipt", "claim_decision"]


async def test_r_c1_partly_approved_claim(db: Database) -> None:
    await panel_outage(db)
    view = await submit(db)
    await refused(db, lambda: decide(db, view.claim.id, "partly", days=Decimal("8")), "days", "8",
                  "fewer days than the computed credit (8")
    await refused(db, lambda: decide(db, view.claim.id, "partly", days=Decimal("2.25")),
                  "days", "2.25", "whole or a half")
    decided = await decide(db, view.claim.id, "partly", days=Decimal("3.5"),
                           reason="the second hour was announced by phone")
    assert (decided.claim.decision, decided.granted_days) == ("partly", Decimal("3.5"))
    assert [(e.rule, e.days) for e in await rows(db, LedgerEntry)] == [("R-C1", Decimal("3.5"))]
    # The basis is the engine's credit, 8 days, for comparing later revisions (R-C3).
    assert decided.claim.basis_days == 8


async def test_deciding_twice_and_bad_decisions_are_refused(db: Database) -> None:
    view = await submit(db)
    # Omitted, the reason is missing (not "'' is not valid"); typed blank, it is refused as typed.
    missing = await refused(db, lambda: decide(db, view.claim.id, "rejected"), "reason", None,
                            "why the claim is rejected")
    assert str(missing) == ("reason: missing; needed: why the claim is rejected "
                            "(it is e-mailed)"), str(missing)
    await refused(db, lambda: decide(db, view.claim.id, "rejected", reason=" "), "reason", " ",
                  "why the claim is rejected")
    await refused(db, lambda: decide(db, 999), "claim_id", 999, "an existing claim id")
    await refused(db, lambda: decide(db, view.claim.id, "maybe"), "decision", "maybe",
                  "one of: approved, partly, rejected")
    await refused(db, lambda: decide(db, view.claim.id, at=at(4)), "at", iso_utc(at(4)),
                  "a time not before claim")
    await refused(db, lambda: decide(db, view.claim.id, at=NOW + HOUR), "at",
                  iso_utc(NOW + HOUR), "a time not after now")
    await decide(db, view.claim.id, "rejected", reason="no outage of ours")
    await refused(db, lambda: decide(db, view.claim.id), "claim_id", view.claim.id,
                  "a claim is decided once")


async def test_bad_claims_are_refused_and_nothing_is_stored(db: Database) -> None:
    await submit(db)
    await refused(db, lambda: submit(db), "month", "2026-10",
                  "claim 1 for 2026-10 was submitted at 2026-11-05T10:00:00Z")
    await refused(db, lambda: submit(db, customer="bita", site="acme.example"), "site",
                  "acme.example", "one of bita's domains: bita.example")  # never whose it is
    await refused(db, lambda: submit(db, customer="acme", site=None), "site",
                  None, "one of acme's domains")
    await refused(db, lambda: submit(db, customer="nobody"), "customer", "nobody",
                  "one of the configured customers")
    await refused(db, lambda: submit(db, month="2026-11", at=NOW), "month", "2026-11",
                  "a month that has ended (R-C1): 2026-11 ends 2026-12-01T00:00:00Z")
    await refused(db, lambda: submit(db, month="2026-13"), "month", "2026-13",
                  "a month YYYY-MM, MM 01 to 12")
    await refused(db, lambda: submit(db, month="2026-09", at=NOW + HOUR), "at",
                  iso_utc(NOW + HOUR), "a time not after now")
    await refused(db, lambda: submit(db, month="2026-09", channel="fax"), "channel", "fax",
                  "one of: email, web, phone")


async def test_one_claim_per_customer_and_month_is_the_databases_rule(db: Database) -> None:
    view = await submit(db)
    fields = {"customer_id": "acme", "month": "2026-10", "calendar": "gregorian",
              "site_domain": "shop.acme.example", "channel": "web", "note": None,
              "submitted_by": "customer", "submitted_at": at(6), "receipt_due_at": at(7),
              "decision_due_at": at(20)}
    async with db.transaction() as tx:  # the store says so, and the transaction goes on
        assert await stored_claims.add(tx, **fields) is None
        assert (await stored_claims.find(tx, "acme", "2026-10")).id == view.claim.id  # type: ignore[union-attr]
    with pytest.raises(IntegrityError):  # and so does the database, to anyone
        async with db.transaction() as tx:
            await tx.execute(insert(Claim).values(**fields))
    assert len(await rows(db, Claim)) == 1


async def test_a_lapsed_site_earns_nothing_until_renewed(db: Database) -> None:
    await panel_outage(db)
    # old.acme.example lapsed on 2026-09-30 (R-EX5): approving a claim credited to it is
    # refused, and nothing is stored.
    view = await submit(db, site="old.acme.example")
    assert view.computed.credit_days_total == 8  # acme itself still has paid sites
    await refused(db, lambda: decide(db, view.claim.id), "decision", "approved",
                  "a lapsed site gains no credit until renewed (R-EX5, L-2)")
    await refused(db, lambda: actions.open_ticket(
        db, SETTINGS, customer="acme", service="panel", channel="email", summary="broken form",
        site="old.acme.example", mail=MAIL, actor="ops", now=NOW),
        "site", "old.acme.example", "record its yearly renewal first")
    # A customer whose every site lapsed (gone, since 2026-06-30) earns nothing at all:
    gone = await submit(db, customer="gone", site=None)
    assert (gone.computed.credit_days_total, gone.computed.ineligible_reason) == (
        0, "R-EX5 non-payment")
    await decide(db, gone.claim.id)
    assert await rows(db, LedgerEntry) == []
    # Renewed (L-2), the site gains the credit.
    await actions.renew(db, SETTINGS, site="old.acme.example", until=at(30, month=9).date()
                        .replace(year=2027), actor="ops", now=NOW)
    decided = await decide(db, view.claim.id)
    assert decided.granted_days == 8
    assert [e.kind for e in await rows(db, LedgerEntry)] == ["renewal", "days", "days"]


@pytest.mark.slow
async def test_r_c3_a_revision_of_an_approved_month_adds_an_adjusting_entry(db: Database) -> None:
    incident = await panel_outage(db)
    view = await submit(db)
    await decide(db, view.claim.id, at=at(20))
    first = await actions.close_month(db, SETTINGS, month="2026-10", now=at(21))
    assert (first.revision, first.reviews) == (1, [])  # the same credit as decided
    granted = [(e.id, e.days, e.effective_at, e.reason) for e in await rows(db, LedgerEntry)]
    # The operator finds the call made 30 minutes in: R-N1 was met, the credit is 7 days.
    await actions.log_notification(db, SETTINGS, incident_id=incident,
                                   at=OCTOBER_OUTAGE[0] + HOUR / 2, channel="phone",
                                   actor="ops", now=at(22))
    second = await actions.close_month(db, SETTINGS, month="2026-10", now=at(23))
    assert second.revision == 2
    assert [(r.claim_id, r.days_before, r.days_now) for r in second.reviews] == [
        (view.claim.id, Decimal(8), Decimal(7))]
    marked = await actions.show_claim(db, SETTINGS, claim_id=view.claim.id, now=at(23))
    assert (marked.claim.review_revision, marked.review_days) == (2, Decimal(-1))
    reviewed = await decide(db, view.claim.id, at=at(24))
    adjusting = (await rows(db, LedgerEntry))[2:]
    assert [(e.rule, e.days, e.evidence["revision"], e.adjusts_id, e.effective_at)
            for e in adjusting] == [("R-C3", Decimal(-1), 2, granted[-1][0], at(24, month=12))]
    assert reviewed.granted_days == 7 and reviewed.claim.review_revision is None
    # What was granted first is untouched (R-C3: entries are never edited).
    assert [(e.id, e.days, e.effective_at, e.reason) for e in await rows(db, LedgerEntry)][:2] == (
        granted)
    await refused(db, lambda: decide(db, view.claim.id), "claim_id", view.claim.id,
                  "a claim is decided once")
    kinds = [m.dedupe_key for m in await rows(db, OutboxMessage) if m.kind == "claim_decision"]
    assert kinds == [f"claim_decision:{view.claim.id}",
                     f"claim_decision:{view.claim.id}:review:2"]


async def test_the_customer_sees_only_its_own_claims(db: Database) -> None:
    view = await submit(db)
    await refused(db, lambda: actions.show_claim(db, SETTINGS, claim_id=view.claim.id, now=NOW,
                                                 customer="bita"),
                  "claim_id", view.claim.id, "an existing claim id")
    found = await actions.find_claim(db, SETTINGS, customer="acme", month="2026-10", now=NOW)
    assert found is not None and found.claim.id == view.claim.id
    web = ContractMailer(SETTINGS, NOW)
    by_web = await submit(db, customer="bita", site=None, channel="web", mail=web,
                          actor="customer:bita")
    assert (by_web.claim.channel, by_web.claim.submitted_by) == ("web", "customer:bita")


@pytest.mark.slow
async def test_r_c3_the_decision_on_a_review_is_the_one_the_customer_reads(db: Database) -> None:
    """The e-mail of a review's decision said the first decision and its reason ("Credit
    claim #1 for 2026-10: partly approved", "Reason: the first answer"), whatever the
    operator decided on the review and why; and the audit kept no reason for either."""
    incident = await panel_outage(db)
    view = await submit(db)
    await decide(db, view.claim.id, "partly", days=Decimal(6), reason="the first answer",
                 at=at(20))
    await actions.close_month(db, SETTINGS, month="2026-10", now=at(21))
    # R-N1 met after all (a call 30 minutes in): the credit is 7 days, not 8 (R-C3 review).
    await actions.log_notification(db, SETTINGS, incident_id=incident,
                                   at=OCTOBER_OUTAGE[0] + HOUR / 2, channel="phone",
                                   actor="ops", now=at(22))
    await actions.close_month(db, SETTINGS, month="2026-10", now=at(23))
    await decide(db, view.claim.id, "rejected", reason="the review's own reason", at=at(24))

    mails = {m.dedupe_key: m for m in await rows(db, OutboxMessage)}
    first = mails[f"claim_decision:{view.claim.id}"]
    review = mails[f"claim_decision:{view.claim.id}:review:2"]
    assert first.subject.endswith(": partly approved") and "the first answer" in first.body_text
    assert review.subject.endswith(": rejected"), review.subject
    assert "the review's own reason" in review.body_text
    assert "the first answer" not in review.body_text
    decided = [(a.detail or {}) for a in await rows(db, AuditEvent)
               if a.action == "claim.decide"]
    assert [(d.get("decision"), d.get("review"), d.get("reason"), d.get("at"))
            for d in decided] == [
        ("partly", None, "the first answer", at(20).isoformat()),
        ("rejected", 2, "the review's own reason", at(24).isoformat())]
    # The claim as operators and the customer read it shows the review's decision beside
    # the first one (its record keeps the first): when, what, why, and what it changed.
    shown = await actions.show_claim(db, SETTINGS, claim_id=view.claim.id, now=at(25))
    assert (shown.claim.decision, shown.claim.decision_reason) == ("partly", "the first answer")
    assert [(r.revision, r.decided_at, r.decision, r.reason, r.days, r.amount)
            for r in shown.reviews] == [
        (2, at(24), "rejected", "the review's own reason", Decimal(0), Decimal(0))]
    shown_text = "\n".join(claim_lines(SETTINGS, shown))  # what `claim show` prints
    # `claim list`'s decision and granted cells: the latest decision (it said "partly").
    assert claim_row(SETTINGS, shown)[8:11] == ["rejected", "6 days", "-"]
    assert "reason: the first answer" in shown_text
    assert ("reviewed      after revision 2: rejected at 2026-11-24 00:00 UTC, adjusted by "
            "0 days; reason: the review's own reason") in shown_text, shown_text
    # The customer's page of the claim said only the first decision too.
    # Each reason says whose it is.
    for code, heading, first, again in (
            ("en", "Decision after revision 2 of the month", "Reason:",
             "Reason for the decision after revision 2:"),
            ("fa", "تصمیم پس از نسخه‌ی ۲ گزارش ماه", "علت:", "علت تصمیم پس از نسخه‌ی ۲:")):
        page = render("claim.html", view=shown, customer="acme", timezone="UTC",
                      calendar="gregorian", language=language(code), refresh=None,
                      provider="Rabit Hosting")
        assert heading in page, code
        assert f"<strong>{first}</strong> the first answer" in page, code
        assert f"<strong>{again}</strong> the review&#39;s own reason" in page, code  # escaped



async def test_a_claims_page_says_where_it_stands_not_received_once_decided(
        db: Database) -> None:
    """The claim's page was titled "Credit claim #1 for October 2026: received" (in Persian
    "... دریافت شد") through its decision and its review (R-C3), and the customer's list of
    claims said the first decision (as "partly", where the decision's e-mail says "partly
    approved") after a review had rejected it. Each now says where the claim stands: received,
    its latest decision, or under review since a revision changed its credit."""
    incident = await panel_outage(db)
    view = await submit(db)

    pages: dict[str, str] = {}

    def shown(view: actions.ClaimView, code: str) -> tuple[str, str]:
        page = render("claim.html", view=view, customer="acme", timezone="UTC",
                      calendar="gregorian", language=language(code), refresh=None,
                      provider="Rabit Hosting")
        pages[code] = page
        title = page.split('<h1 id="receipt-title">', 1)[1].split("</h1>", 1)[0]
        listed = environment().from_string(
            '{% import "_labels.html" as labels with context %}{{ labels.claim_standing(view) }}'
        ).render(view=view, timezone="UTC", calendar="gregorian", language=language(code))
        return title, listed.strip()

    async def again(now: dt.datetime) -> actions.ClaimView:
        return await actions.show_claim(db, SETTINGS, claim_id=view.claim.id, now=now)

    prefix = "درخواست اعتبار سرویس شماره‌ی ۱ برای اکتبر ۲۰۲۶: "
    # D-4: the decision was due by 2026-11-19 10:00 (NOW is after it).
    assert shown(view, "en") == ("Credit claim #1 for 2026-10: received",
                                 "overdue by 2026-11-19 10:00 UTC")
    assert shown(view, "fa")[0] == prefix + "دریافت شد"
    await decide(db, view.claim.id, "partly", days=Decimal(6), reason="the first answer",
                 at=at(20))
    assert shown(await again(at(20)), "en") == (
        "Credit claim #1 for 2026-10: partly approved",  # the decision e-mail's words
        "partly approved on 2026-11-20 00:00 UTC")
    assert shown(await again(at(20)), "fa") == (
        prefix + "بخشی از آن پذیرفته شد", "بخشی از آن پذیرفته شد در ۲۰۲۶/۱۱/۲۰ ۰۰:۰۰")
    await actions.close_month(db, SETTINGS, month="2026-10", now=at(21))
    # R-N1 met after all: the credit changes, the claim is up for review (R-C3).
    await actions.log_notification(db, SETTINGS, incident_id=incident,
                                   at=OCTOBER_OUTAGE[0] + HOUR / 2, channel="phone",
                                   actor="ops", now=at(22))
    await actions.close_month(db, SETTINGS, month="2026-10", now=at(23))
    assert shown(await again(at(23)), "en") == (
        "Credit claim #1 for 2026-10: under review",
        "under review since 2026-11-23 00:00 UTC (revision 2 of the month)")
    assert shown(await again(at(23)), "fa") == (
        prefix + "در حال بازبینی", "در حال بازبینی از ۲۰۲۶/۱۱/۲۳ ۰۰:۰۰ (نسخه‌ی ۲ گزارش ماه)")
    # The page says it in a row of its own too, where the review's decision will stand.
    assert ('<dt>تصمیم پس از نسخه‌ی ۲ گزارش ماه</dt><dd class="review">در حال بازبینی از '
            '۲۰۲۶/۱۱/۲۳ ۰۰:۰۰</dd>') in pages["fa"]
    await decide(db, view.claim.id, "rejected", reason="the review's own reason", at=at(24))
    assert shown(await again(at(24)), "en") == (
        "Credit claim #1 for 2026-10: rejected", "rejected on 2026-11-24 00:00 UTC")
    assert shown(await again(at(24)), "fa") == (prefix + "رد شد", "رد شد در ۲۰۲۶/۱۱/۲۴ ۰۰:۰۰")


async def test_claim_list_gives_each_claim_its_own_entries(db: Database) -> None:
    # The list reads the ledger entries of all its claims together (a few hundred claims a
    # statement), where it read them a claim a round trip: each view keeps its own.
    await panel_outage(db)
    acme = await submit(db)
    bita = await submit(db, customer="bita", site=None, at=at(6, 10))
    listed = {v.claim.id: v for v in await actions.list_claims(db, SETTINGS, now=NOW)}
    assert [list(listed[c.claim.id].entries) for c in (acme, bita)] == [[], []]
    await decide(db, acme.claim.id, at=at(20))
    await decide(db, bita.claim.id, "partly", days=Decimal("3.5"), reason="shared", at=at(20))
    listed = {v.claim.id: v for v in await actions.list_claims(db, SETTINGS, now=NOW)}
    # acme approved: R-T1's 7 days and R-N1's 1 (the panel's 3 h, never notified); bita
    # partly: the 3.5 days granted (R-C1).
    assert [[(e.rule, e.days) for e in listed[c.claim.id].entries] for c in (acme, bita)] == [
        [("R-T1", Decimal(7)), ("R-N1", Decimal(1))], [("R-C1", Decimal("3.5"))]]
    assert [listed[c.claim.id].granted_days for c in (acme, bita)] == [Decimal(8),
                                                                        Decimal("3.5")]
