"""Frozen report revisions (R-C3): the only writer of ``report_revisions``.

A revision is the month's report as it stood when it was closed, with the hash of
the inputs it was computed from; revisions are never edited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Text, bindparam, cast, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from monitor import collector
from monitor.store import evidence
from monitor.store.db import Tx, inserted_id
from monitor.store.models import MonthTermsRecord, ReportRevision

__all__ = ["EncodedReport", "RevisionRecord", "RevisionText", "add_month_terms",
           "add_revision", "has_terms", "latest_hash", "latest_revision",
           "month_terms", "revision_terms", "revision_text"]


@dataclass(frozen=True, slots=True)
class RevisionRecord:
    calendar: str
    month: str
    revision: int
    closed_at: dt.datetime
    inputs_hash: str
    report: dict[str, Any]  # the SPEC section 7 JSON report
    # What statements show besides the report; None before statements existed.
    evidence: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RevisionText:
    """A revision with its report as the text stored (:func:`revision_text`)."""

    calendar: str
    month: str
    revision: int
    closed_at: dt.datetime
    inputs_hash: str
    report: str  # the SPEC section 7 JSON report's text, as written
    evidence: dict[str, Any] | None = None


def _record(row: ReportRevision) -> RevisionRecord:
    return RevisionRecord(row.calendar, row.month, row.revision, row.closed_at,
                          row.inputs_hash, row.report, row.evidence)


async def latest_revision(tx: Tx, calendar: str, month: str) -> RevisionRecord | None:
    """A month's latest revision, or None. Its report is parsed with the garbage
    collector paused (:mod:`monitor.collector`): tens of megabytes of JSON at 10,000
    customers."""
    with collector.paused():
        row = (
            await tx.scalars(
                select(ReportRevision)
                .where(ReportRevision.calendar == calendar, ReportRevision.month == month)
                .order_by(ReportRevision.revision.desc())
                .limit(1)
            )
        ).first()
        return None if row is None else _record(row)


async def latest_hash(tx: Tx, calendar: str, month: str,
                      closed_by: dt.datetime | None = None) -> tuple[int, str] | None:
    """(number, inputs hash) of a month's latest revision (closed at or before ``closed_by``
    when given), or None: without its report, which is tens of megabytes at 10,000
    customers."""
    query = (select(ReportRevision.revision, ReportRevision.inputs_hash)
             .where(ReportRevision.calendar == calendar, ReportRevision.month == month))
    if closed_by is not None:
        query = query.where(ReportRevision.closed_at <= closed_by)
    row = (await tx.execute(query.order_by(ReportRevision.revision.desc()).limit(1))).first()
    return None if row is None else (int(row[0]), str(row[1]))


async def revision_terms(tx: Tx, calendar: str, month: str, number: int) -> Any:
    """The terms revision ``number`` of a month keeps in its evidence (JSON values), or None
    (a revision frozen before they were). Only they are read, not the report nor the rest of
    the evidence (megabytes of notices at 10,000 customers)."""
    return (await tx.execute(
        select(ReportRevision.evidence["terms"])
        .where(ReportRevision.calendar == calendar, ReportRevision.month == month,
               ReportRevision.revision == number))).scalar()


async def month_terms(tx: Tx, calendar: str, month: str) -> Any:
    """The terms the daemon kept of a month when it saw it end (JSON values), or None."""
    return (await tx.execute(
        select(MonthTermsRecord.terms)
        .where(MonthTermsRecord.calendar == calendar, MonthTermsRecord.month == month))
    ).scalar()


async def has_terms(tx: Tx, calendar: str, month: str) -> bool:
    """Whether a month has terms kept (:func:`add_month_terms`) or a revision (which froze
    its own)."""
    return (await tx.execute(
        select(MonthTermsRecord.month)
        .where(MonthTermsRecord.calendar == calendar, MonthTermsRecord.month == month)
        .union_all(select(ReportRevision.month)
                   .where(ReportRevision.calendar == calendar, ReportRevision.month == month))
        .limit(1))).first() is not None


async def add_month_terms(tx: Tx, calendar: str, month: str, at: dt.datetime,
                          terms: dict[str, Any]) -> None:
    """Keep ``terms`` as the month's (once: the month and calendar are its key)."""
    await tx.execute(insert(MonthTermsRecord).values(calendar=calendar, month=month,
                                                     recorded_at=at, terms=terms))


async def revision_text(tx: Tx, calendar: str, month: str,
                        number: int | None = None) -> RevisionText | None:
    """Revision ``number`` of a month (None: its latest), or None, with its report as the
    text stored: not parsed (tens of megabytes at 10,000 customers, several times that as
    JSON values; :meth:`monitor.sla.MonthReport.from_text` reads it a customer at a time).
    A JSON column keeps its text as written on SQLite and PostgreSQL alike (``json``, not
    ``jsonb``), and read cast to text it is that text (asyncpg's codec would parse it)."""
    query = (select(ReportRevision.calendar, ReportRevision.month, ReportRevision.revision,
                    ReportRevision.closed_at, ReportRevision.inputs_hash,
                    cast(ReportRevision.report, Text), ReportRevision.evidence)
             .where(ReportRevision.calendar == calendar, ReportRevision.month == month))
    query = (query.order_by(ReportRevision.revision.desc()).limit(1) if number is None
             else query.where(ReportRevision.revision == number))
    row = (await tx.execute(query)).first()
    return None if row is None else RevisionText(*row)


class EncodedReport:
    """A report's canonical text and its customers' digests
    (:func:`monitor.store.evidence.encoded_report`), made before its revision is written and
    handed over to :func:`add_revision`, which takes the text out: it is let go while the
    revision is chained (tens of megabytes at 10,000 customers, not in memory beside the
    chain's copy)."""

    __slots__ = ("_text", "digests")

    def __init__(self, text: str, digests: list[str]) -> None:
        self._text: str | None = text
        self.digests = digests

    @property
    def text(self) -> str:
        if self._text is None:
            raise RuntimeError("the report's text was handed over to its revision")
        return self._text

    def take(self) -> str:
        """The text, no longer held here."""
        text = self.text
        self._text = None
        return text


class _Encoded(TypeDecorator[str]):
    """A JSON column's value given already encoded: the text is bound as it is (the
    driver's JSON parameter is text on SQLite and asyncpg alike)."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


async def add_revision(tx: Tx, revision: RevisionRecord,
                       encoded: EncodedReport | None = None) -> None:
    """Revision numbers are unique per month (a constraint): two closes racing make one.

    The report (tens of megabytes at 10,000 customers) is encoded once, in the evidence
    chain's canonical form (:func:`monitor.store.evidence.encoded_document`: sorted keys,
    no spaces), and that text is both the stored column and the chain's copy: the
    revision is chained from the values written, not read back. Readers parse it (the
    order of keys is no part of the document). Each customer's part is encoded once, for
    the report's text and its statement's digest alike
    (:func:`monitor.store.evidence.encoded_report`).

    ``encoded``: that text and those digests already made (a month's close encodes each
    customer's part as it is written), the text taken out of it; ``revision.report`` then
    stands for the document (its ``customers`` for theirs) and only says whether it lists
    customers."""
    if encoded is None:
        report_text, digests = evidence.encoded_report(revision.report)
    else:
        report_text, digests = encoded.take(), encoded.digests
    texts = {"report": report_text}
    if revision.evidence is not None:
        texts["evidence"] = evidence.encoded_document(revision.evidence)
    row = {"calendar": revision.calendar, "month": revision.month,
           "revision": revision.revision, "closed_at": revision.closed_at,
           "inputs_hash": revision.inputs_hash, "report": revision.report,
           "evidence": revision.evidence}
    # The texts are bound when the statement runs, not put in it: SQLAlchemy keeps the
    # first statement of each shape in its compiled cache, values and all (the report of
    # the process's first close, tens of megabytes, for as long as the process).
    connection = await tx.connection()
    result = await connection.execute(
        insert(ReportRevision).values({
            **row, **{name: bindparam(f"{name}_text", type_=_Encoded()) for name in texts}}),
        {f"{name}_text": text for name, text in texts.items()})
    revision_id = inserted_id(result)
    # The chain's entry takes the texts over: the report's is let go once the entry is
    # made, before it is written (its copy and the entry's, tens of megabytes each, are not
    # in memory together, nor with what the driver makes of the entry).
    handed = iter([texts])
    del result, texts, report_text
    await evidence.append_inserted(tx, "report.revision", "report_revisions",
                                   [revision_id], [row], encoded=handed)
    await evidence.record_statements(tx, revision_id, revision.report, digested=digests)
    if connection.dialect.name == "sqlite":
        # SQLite keeps a statement's bound values until it runs again, and Python's sqlite3
        # keeps its statements for the connection's life: the report's text and the chain
        # entry's (tens of megabytes each at 10,000 customers) would stay with this
        # connection as long as the process (`statement send` renders for minutes after its
        # close). It is closed instead of reused, the next time the pool hands it out.
        (await connection.get_raw_connection()).invalidate(soft=True)
