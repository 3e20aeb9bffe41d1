"""A frozen report's text (tens of megabytes at 10,000 customers) is bound when its revision
is written, never put in the statement: SQLAlchemy keeps the first statement of each shape
in its compiled cache, and a value inside it would stay in memory as long as the process
(measured: the 86 MB report of the first close, for good)."""

from __future__ import annotations

import datetime as dt
import gc
import json
import sys

from monitor.store import Database, reports

NOW = dt.datetime(2026, 4, 2, tzinfo=dt.UTC)


async def test_the_report_text_is_not_kept_once_its_revision_is_written(db: Database) -> None:
    report = {"month": "2026-03", "calendar": "gregorian", "customers": [
        {"customer": "c1", "incidents": [{"id": number} for number in range(50)]}]}
    text = json.dumps(report, sort_keys=True, separators=(",", ":"))
    digests = ["0" * 64]
    held = sys.getrefcount(text)
    async with db.transaction() as tx:
        await reports.add_revision(
            tx, reports.RevisionRecord("gregorian", "2026-03", 1, NOW, "f" * 64,
                                       {**report, "customers": []}),
            reports.EncodedReport(text, digests))
    gc.collect()
    assert sys.getrefcount(text) == held
    async with db.reading() as tx:
        stored = await reports.latest_revision(tx, "gregorian", "2026-03")
    assert stored is not None and stored.report == report
