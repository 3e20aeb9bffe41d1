"""A closed month's stored revision (R-C3) read back typed, on SQLite and PostgreSQL: the
hand-worked October of :mod:`tests.actions.statements_world` as the database returns it,
and what a new revision says changed, in the JSON's own forms."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

from monitor import actions
from monitor.actions.reports import (
    FrozenWindow,
    RevisionEvidence,
    customer_changes,
    frozen_revision,
)
from monitor.sla import MonthReport
from monitor.sla.report import iso_utc
from monitor.store import Database, evidence, reports

from .statements_world import NOW, at, record_october, settings

SETTINGS = settings()


async def stored_october(db: Database) -> dict[str, Any]:
    await record_october(db, SETTINGS)
    await actions.close_month(db, SETTINGS, month="2026-10", now=NOW)
    async with db.reading() as tx:
        revision = await reports.latest_revision(tx, "gregorian", "2026-10")
    assert revision is not None and revision.revision == 1
    return revision.report


async def test_a_closed_month_reads_back_typed_and_writes_the_same_json(db: Database) -> None:
    """R-C3: the stored JSON, typed and written again, is the same document, key for key and
    number for number (an int stays an int, 80.0 stays 80.0)."""
    stored = await stored_october(db)
    report = MonthReport.from_json(stored)
    assert report.to_json() == stored
    assert json.dumps(report.to_json(), sort_keys=True) == json.dumps(stored, sort_keys=True)
    # The world's hand-worked figures, typed: 7,200 + 1,800 s counted; (2,678,400 - 9,000)
    # / 2,678,400 = 99.66397...% shown 99.663 (R-M6); 8 days worth 80.00 EUR (R-T2).
    acme = report.customer("acme")
    assert (acme.downtime_seconds, acme.excluded_by_reason["maintenance"]) == (9000, 3600)
    assert acme.availability_percent == Decimal("99.663")
    assert (acme.tier, acme.credit_days_total, acme.credit_value) == ("1w", 8, Decimal(80))
    assert [(i.id, i.start, i.counted_seconds) for i in acme.incidents] == [
        (1, at(5, 10), 7200), (2, at(12, 0, 30), 0), (3, at(20, 8), 1800)]
    assert acme.notification_breaches == (3,)
    assert report.period.label == "2026-10" and report.period.start == at(1)


async def test_what_changed_is_said_in_the_json_forms(db: Database) -> None:
    """``report close`` lists what a new revision changed as the JSON shows each value (a
    number with the digits it was frozen with, a list, a UTC time), as it always has."""
    stored = await stored_october(db)
    revised: Any = copy.deepcopy(stored)
    acme = next(c for c in revised["customers"] if c["customer"] == "acme")
    acme.update(availability_percent=99.93, credit_value=10.0, credit_days_total=1,
                notification_breaches=[], tier=None)
    acme["incidents"] = [dict(i, start="2026-10-20T08:10:00Z") if i["id"] == 3 else i
                         for i in acme["incidents"] if i["id"] != 1]
    before = MonthReport.from_json(stored).customer("acme")
    after = MonthReport.from_json(revised).customer("acme")
    before_end = MonthReport.from_json(stored).period.end
    assert [str(change) for change in customer_changes(before, after, before_end)] == [
        "availability_percent 99.663 -> 99.93",
        "tier '1w' -> None",
        "credit_days_total 8 -> 1",
        "credit_value 80.0 -> 10.0",
        "notification_breaches [3] -> []",
        "incident 1: no longer counted in this month",
        "incident 3: start '2026-10-20T08:00:00Z' -> '2026-10-20T08:10:00Z'",
    ]
    assert customer_changes(before, MonthReport.from_json(stored).customer("acme"),
                            before_end) == []


async def test_an_incident_that_ends_after_the_month_changes_nothing_the_month_says(
        db: Database) -> None:
    """A month closed while an incident ran froze it open; when it ends, in the next month,
    the month's inputs differ (a new revision, R-C3) but the month's figures do not: the
    customer is owed no correction (a statement that "corrected" only an end the month
    never saw). An end inside the month is a change."""
    stored = await stored_october(db)
    month_end = MonthReport.from_json(stored).period.end
    assert iso_utc(month_end) == "2026-11-01T00:00:00Z"
    frozen_open: Any = copy.deepcopy(stored)
    ended_later: Any = copy.deepcopy(stored)
    ended_inside: Any = copy.deepcopy(stored)
    for document, end in ((frozen_open, None), (ended_later, "2026-11-01T02:00:00Z"),
                          (ended_inside, "2026-10-31T23:00:00Z")):
        acme = next(c for c in document["customers"] if c["customer"] == "acme")
        acme["incidents"][0]["end"] = end
    before = MonthReport.from_json(frozen_open)
    assert customer_changes(before.customer("acme"),
                            MonthReport.from_json(ended_later).customer("acme"), month_end) == []
    [change] = customer_changes(before.customer("acme"),
                                MonthReport.from_json(ended_inside).customer("acme"), month_end)
    assert str(change).endswith("end None -> '2026-10-31T23:00:00Z'")


async def test_a_revision_read_as_its_stored_text_types_each_customer_as_the_whole(
        db: Database) -> None:
    """The statements read a revision's report as the text the database keeps (SQLite's
    text, PostgreSQL's ``json`` cast to text) and type one customer at a time from where its
    part lies: the same customers as the whole document parsed and typed, by position and
    by id, with ids that need escapes in JSON and Persian ones."""
    stored = await stored_october(db)
    awkward: Any = copy.deepcopy(stored)
    for number, (part, name) in enumerate(zip(awkward["customers"], [
            'a "quoted" ]},{ name', "بیتا\u200cجان", "back\\slash\nline"], strict=False)):
        part["customer"] = f"{name} {number}"
    async with db.transaction() as tx:
        await reports.add_revision(tx, reports.RevisionRecord(
            "gregorian", "2026-10", 2, NOW, "0" * 64, awkward))
    for number, document in ((1, stored), (2, awkward)):
        async with db.reading() as tx:
            text = await reports.revision_text(tx, "gregorian", "2026-10", number)
        assert text is not None and text.revision == number
        assert text.report == evidence.encoded_document(document)  # as written
        read = frozen_revision(text).report
        whole = MonthReport.from_json(document)
        assert tuple(read.customers) == whole.customers
        assert [read.customer(c.customer) for c in reversed(whole.customers)] == list(
            reversed(whole.customers))
    async with db.reading() as tx:
        latest = await reports.revision_text(tx, "gregorian", "2026-10")
        assert latest is not None and latest.revision == 2
        assert await reports.revision_text(tx, "gregorian", "2026-10", 3) is None


def test_a_customers_maintenance_windows_come_with_its_services_in_each_windows_order() -> None:
    """A statement lists each window on the customer's services with those of its services
    the customer depends on, in the window's own order (a server's window lists every
    project on it): what scanning each window's services gives, found by service."""
    at = NOW
    windows = (FrozenWindow(1, ("srv-1", "p-9", "p-1", "p-2"), at, at, "kernel", {}),
               FrozenWindow(2, ("panel",), at, at, "upgrade", {}),
               FrozenWindow(3, ("p-2", "p-1"), at, at, "move", {}))
    evidence = RevisionEvidence(windows)
    depends_on = frozenset({"p-1", "p-2", "srv-1"})
    assert [(w.id, services) for w, services in evidence.windows_on(depends_on)] == [
        (w.id, tuple(s for s in w.services if s in depends_on))
        for w in windows if depends_on & set(w.services)] == [
        (1, ("srv-1", "p-1", "p-2")), (3, ("p-2", "p-1"))]
    assert evidence.windows_on({"nothing"}) == []
