"""A customer's monthly SLA statement, and the operators' summary of a month, as
people read them: HTML from one Jinja2 template, PDF from the same HTML, CSV.

The service layer (:mod:`monitor.actions.statements`) fills a :class:`Statement` from a
frozen report revision (R-C3) and the configuration; this module only shows it. Times are
shown in the provider's zone and calendar (R-M5), durations and money through the one
formatter; the CSV keeps machine forms (UTC instants with ``Z``, integer seconds, plain
decimal numbers).

*Decision (direction):* a statement is laid out right to left (``dir="rtl"``) when the
customer's name is written in Arabic script (Persian), as the e-mails are; the operators'
summary when the provider's name is. The labels are English, as in every e-mail: each
label and figure is isolated (``<bdi>``, ``dir="ltr"``) so that an RTL page never reorders
an English sentence or a time, and Persian names keep their own order inside it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from monitor.errors import RenderError
from monitor.present.html import render
from monitor.present.labels import CAUSE_LABELS, EXCLUSION_NAMES, TIER_NAMES
from monitor.present.language import N_, Language, language
from monitor.sla.ledger import minor_units, money_shown
from monitor.sla.report import iso_utc, shown_days

__all__ = [
    "CAUSE_LABELS",
    "STATEMENT_PRINT",
    "CreditRow",
    "IncidentRow",
    "MaintenanceRow",
    "Statement",
    "Summary",
    "SummaryRow",
    "check_pdf",
    "money_cell",
    "pdf",
    "statement_csv",
    "statement_html",
    "statement_pdf",
    "summary_html",
]


@dataclass(frozen=True)
class IncidentRow:
    """An incident of a service the customer depends on, as frozen in the revision."""

    id: int
    service: str  # "Name (id)"
    start: dt.datetime
    end: dt.datetime | None
    counted_seconds: int
    cause: str
    notified_at: dt.datetime | None  # R-N1: the first notification that reached the customer
    notified_after_seconds: int | None
    notification_late: bool  # an R-N1 breach: a day of credit (R-N1)
    detection_seconds: int | None

    @property
    def cause_label(self) -> str:
        return CAUSE_LABELS.get(self.cause, self.cause)


@dataclass(frozen=True)
class MaintenanceRow:
    """A maintenance window on a service the customer depends on (R-EX1, D-3)."""

    id: int
    services: tuple[str, ...]
    start: dt.datetime
    end: dt.datetime
    reason: str
    notice_at: dt.datetime | None  # when its notice reached the customer's technical contact
    notice_due: dt.datetime  # the last instant a notice was in time (48 h ahead)
    excluded: bool  # noticed in time: outages inside it are excluded (R-EX1)


@dataclass(frozen=True)
class CreditRow:
    """A credit line with its evidence (R-C3)."""

    rule: str
    what: str
    days: Decimal | None
    amount: Decimal | None
    evidence: str


@dataclass(frozen=True)
class Statement:
    """One customer's month as frozen in one report revision (R-C3), with what the customer
    needs to act on it (the claim deadline and how to claim, R-C1)."""

    provider: str
    customer: str
    customer_name: str
    month: str
    calendar: str
    timezone: str
    period_start: dt.datetime
    period_end: dt.datetime
    revision: int
    inputs_hash: str
    closed_at: dt.datetime
    period_seconds: int
    downtime_seconds: int
    excluded_seconds: int
    excluded_by_reason: dict[str, int]
    unknown_seconds: int
    availability_percent: Decimal  # as frozen: three decimals, rounded down (R-M6)
    target_percent: Decimal
    tier: str | None
    tier_credit_days: int
    notification_credit_days: int
    partial_credit_days: Decimal
    refund_amount: Decimal
    credit_days_total: Decimal
    credit_value: Decimal
    currency: str
    fee_per_year: Decimal
    ineligible_rule: str | None  # R-EX5 | R-EX6 | R-EX7
    no_credit_because: str | None  # the sentence the statement says about it
    incidents: tuple[IncidentRow, ...]
    maintenance: tuple[MaintenanceRow, ...]
    credit_lines: tuple[CreditRow, ...]
    detection_breaches: tuple[int, ...]
    claim_deadline: dt.datetime
    how_to_claim: tuple[str, ...]  # sentences; the first gives claim_link when there is one
    claim: str | None  # the customer's claim for the month, if any, in one sentence
    corrects: int | None = None  # a correction: the revision of the statement it replaces
    changes: tuple[str, ...] = ()  # what the correction changed
    generated_at: dt.datetime | None = None
    maintenance_recorded: bool = True  # False: a revision frozen before statements existed
    rtl: bool = False
    claim_link: str | None = None  # the signed link to the customer's claim form (R-C1)
    claim_link_expires: dt.datetime | None = None
    # The evidence chain's head signed with the revision (sla-monitor evidence verify).
    evidence_seq: int | None = None
    evidence_hash: str | None = None
    evidence_key_id: str | None = None
    # The customer's language (SPEC section 7): how the statement is shown, not in its JSON.
    language: Language = field(default_factory=lambda: language("en"), compare=False,
                               metadata={"json": False})

    @property
    def below_target(self) -> bool:
        return self.availability_percent < self.target_percent

    @property
    def excluded(self) -> list[tuple[str, int]]:
        """The reasons with excluded time, in rule order."""
        return [(reason, seconds) for reason, seconds in self.excluded_by_reason.items()
                if seconds]

    @property
    def filename(self) -> str:
        """``statement-acme-1405-08-r2``: the stem of its attachments and ``-o`` files."""
        return f"statement-{self.customer}-{self.month}-r{self.revision}"


def statement_html(statement: Statement, *, for_print: bool = False) -> str:
    """The statement as one HTML document (the e-mail's body, ``--format html``, and, with
    ``for_print``, the source of the PDF: page size, margins and page numbers)."""
    return render("statement.html", s=statement, for_print=for_print,
                  language=statement.language)


#: The calendars as a reader names them.
CALENDAR_NAMES = {"gregorian": N_("Gregorian"), "jalali": N_("Jalali")}
#: The CSV's columns, sections and fields (message ids: a Persian reader's CSV names them in
#: Persian; English keeps these machine names).
CSV_COLUMNS = (N_("month"), N_("customer"), N_("revision"), N_("section"), N_("item"),
               N_("field"), N_("value"))
CSV_WORDS = {word: word for word in (
    N_("summary"), N_("excluded"), N_("incident"), N_("maintenance"), N_("credit"),
    N_("calendar"), N_("timezone"), N_("period_start"), N_("period_end"), N_("inputs_hash"),
    N_("closed_at"), N_("period_seconds"), N_("downtime_seconds"), N_("excluded_seconds"),
    N_("unknown_seconds"), N_("availability_percent"), N_("target_percent"), N_("tier"),
    N_("tier_credit_days"), N_("notification_credit_days"), N_("partial_credit_days"),
    N_("refund_amount"), N_("credit_days_total"), N_("credit_value"), N_("currency"),
    N_("ineligible_reason"), N_("claim_deadline"), N_("claim_link"), N_("claim_link_expires"),
    N_("corrects_revision"), N_("seconds"), N_("service"), N_("start"), N_("end"),
    N_("counted_seconds"), N_("cause"), N_("notified_at"), N_("notified_after_seconds"),
    N_("detection_seconds"), N_("reason"), N_("notice_at"), N_("notice_due"), N_("rule"),
    N_("days"), N_("amount"), N_("evidence"), N_("yes"), N_("no"))}


def statement_csv(statement: Statement) -> str:
    """Every figure of the statement, one per row: ``section,item,field,value``, after the
    month, customer and revision, one value per cell (a maintenance window's services one
    row each), with a byte-order mark so that a spreadsheet reads it as UTF-8.

    English keeps machine forms (UTC instants with ``Z``, integer seconds, plain decimal
    numbers, the fields' names); another language names the columns, sections and fields
    in its words and writes numbers, money and times as it does (times in the provider's
    zone and calendar, the zone in the ``timezone`` row)."""
    s = statement
    reader = s.language
    english = reader.code == "en"
    _ = reader.gettext
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([_(column) for column in CSV_COLUMNS])

    def shown(value: object) -> object:
        if english:
            return _cell(value)
        if isinstance(value, bool):
            return _("yes") if value else _("no")
        if isinstance(value, dt.datetime):
            return reader.time(value, s.timezone, s.calendar, seconds=True)
        if isinstance(value, int | float | Decimal):
            return reader.number(value)
        return _cell(value)

    def money(amount: Decimal) -> object:
        return money_cell(amount, s.currency) if english else reader.number(
            amount, minor_units(s.currency))

    head = [s.month if english else reader.month(s.month, s.calendar), s.customer,
            shown(s.revision)]

    def row(section: str, item: object, name: str, value: object) -> None:
        writer.writerow([*head, _(section), "" if item is None else shown(item), _(name),
                         shown(value)])

    fields: tuple[tuple[str, object], ...] = (
        ("calendar", s.calendar if english else _(CALENDAR_NAMES.get(s.calendar, s.calendar))),
        ("timezone", s.timezone),
        ("period_start", s.period_start), ("period_end", s.period_end),
        ("inputs_hash", s.inputs_hash), ("closed_at", s.closed_at),
        ("period_seconds", s.period_seconds), ("downtime_seconds", s.downtime_seconds),
        ("excluded_seconds", s.excluded_seconds), ("unknown_seconds", s.unknown_seconds),
        ("availability_percent", f"{s.availability_percent:.3f}" if english
         else reader.percent(s.availability_percent)),
        ("target_percent", s.target_percent), ("tier", (s.tier or "") if english or not s.tier
                                           else _(TIER_NAMES.get(s.tier, s.tier))),
        ("tier_credit_days", s.tier_credit_days),
        ("notification_credit_days", s.notification_credit_days),
        ("partial_credit_days", shown_days(s.partial_credit_days)),
        ("refund_amount", money(s.refund_amount)),
        ("credit_days_total", shown_days(s.credit_days_total)),
        ("credit_value", money(s.credit_value)), ("currency", reader.currency(s.currency)),
        ("ineligible_reason", s.ineligible_rule or ""),
        ("claim_deadline", s.claim_deadline),
        ("claim_link", s.claim_link), ("claim_link_expires", s.claim_link_expires),
    )
    for name, value in fields:
        row("summary", None, name, value)
    if s.corrects is not None:
        row("summary", None, "corrects_revision", s.corrects)
    for reason, seconds in s.excluded_by_reason.items():
        row("excluded", reason if english else _(EXCLUSION_NAMES.get(reason, reason)),
            "seconds", seconds)
    for incident in s.incidents:
        fields = (
            ("service", incident.service), ("start", incident.start), ("end", incident.end),
            ("counted_seconds", incident.counted_seconds), ("cause", incident.cause if english else _(incident.cause_label)),
            ("notified_at", incident.notified_at),
            ("notified_after_seconds", incident.notified_after_seconds),
            ("detection_seconds", incident.detection_seconds),
        )
        for name, value in fields:
            row("incident", incident.id, name, value)
    for window in s.maintenance:
        fields = (
            *(("service", service) for service in window.services),
            ("start", window.start), ("end", window.end), ("reason", window.reason),
            ("notice_at", window.notice_at), ("notice_due", window.notice_due),
            ("excluded", ("yes" if window.excluded else "no") if english else window.excluded),
        )
        for name, value in fields:
            row("maintenance", window.id, name, value)
    for number, line in enumerate(s.credit_lines, 1):
        fields = (
            ("rule", line.rule), ("days", "" if line.days is None else shown_days(line.days)),
            ("amount", "" if line.amount is None else money(line.amount)),
            ("evidence", line.evidence),
        )
        for name, value in fields:
            row("credit", number, name, value)
    return out.getvalue()


def money_cell(amount: Decimal, currency: str) -> str:
    """An amount in a CSV cell: in the currency's unit (whole rials and tomans), a plain
    number a spreadsheet reads."""
    return f"{money_shown(amount, currency):f}"


def _cell(value: object) -> object:
    """A CSV cell; text that a spreadsheet would run as a formula (``=``, ``+``, ``-``,
    ``@`` first: a maintenance reason, a name) is kept as text with a leading ``'``."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, str) and value[:1] in _FORMULA:
        return "'" + value
    return value


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class SummaryRow:
    """One customer in the operators' summary of a month."""

    customer: str
    name: str
    availability_percent: Decimal
    below_target: bool
    downtime_seconds: int
    excluded_seconds: int
    unknown_seconds: int
    tier: str | None
    credit_days_total: Decimal
    credit_value: Decimal
    refund_amount: Decimal
    currency: str
    notification_breaches: tuple[int, ...]
    detection_breaches: tuple[int, ...]
    ineligible_rule: str | None
    statement: str  # what was sent: "revision 2 (correction), accepted ..." or "-"
    claim: str  # "-", or the claim's state


@dataclass(frozen=True)
class Summary:
    """The provider's own view of a month: every customer, the totals of credit
    days and money (per currency), who is below target and which duties were breached."""

    provider: str
    month: str
    calendar: str
    timezone: str
    period_start: dt.datetime
    period_end: dt.datetime
    target_percent: Decimal
    rows: tuple[SummaryRow, ...]
    revision: int | None  # the latest frozen revision, if the month was closed
    inputs_hash: str | None
    revision_current: bool  # the figures below are that revision's (inputs unchanged)
    computed_at: dt.datetime
    money: tuple[tuple[str, Decimal, Decimal], ...] = field(default=())  # currency, value, refunds

    @property
    def credit_days(self) -> Decimal:
        return sum((row.credit_days_total for row in self.rows), Decimal(0))

    @property
    def below(self) -> list[SummaryRow]:
        return [row for row in self.rows if row.below_target]

    @property
    def breaches(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """(customer, duty, incident ids) of every R-N1 and D-1 breach."""
        found = []
        for row in self.rows:
            if row.notification_breaches:
                found.append((row.customer, "R-N1 notification", row.notification_breaches))
            if row.detection_breaches:
                found.append((row.customer, "D-1 detection", row.detection_breaches))
        return found


def summary_html(summary: Summary, *, for_print: bool = False) -> str:
    return render("summary.html", m=summary, for_print=for_print)


def check_pdf() -> None:
    """:class:`RenderError` unless a PDF can be rendered here (the daemon checks at start
    when it must send statements); WeasyPrint, the fonts and a statement's print stylesheet
    are loaded for this thread meanwhile."""
    pdf("<!DOCTYPE html><html><body><p>sla-monitor</p></body></html>",
        stylesheets=STATEMENT_PRINT)


#: A statement's rules on paper (templates), beside its ``for_print`` HTML.
STATEMENT_PRINT = ("_document.css", "_statement_print.css")


def statement_pdf(statement: Statement) -> bytes:
    """The statement's PDF: its HTML for print with the print stylesheet."""
    return pdf(statement_html(statement, for_print=True), stylesheets=STATEMENT_PRINT)


def pdf(html: str, *, stylesheets: tuple[str, ...] = ()) -> bytes:
    """The PDF of an HTML document (a statement or the summary) through WeasyPrint, whose
    Pango/HarfBuzz layout shapes Persian text and orders bidirectional text correctly;
    ``stylesheets`` names templates of CSS that apply beside the document's own.

    Synchronous and CPU-bound (a few tenths of a CPU-second a statement): the daemon calls
    it on a worker thread. :class:`RenderError` when the system libraries are missing,
    naming the packages to install.

    *Decision (cost):* what every document needs is built once per thread and kept: the
    fonts (a WeasyPrint ``FontConfiguration``: fontconfig's configuration and Pango's font
    map, with their caches; one per thread, as Pango's font map is not thread-safe; a
    worker's memory stays flat over hundreds of statements) and the stylesheets, rendered
    and parsed once (a statement's document for print holds only its ``@page`` rule). With
    the print rules of ``_statement_print.css`` (fixed table layout), a statement's PDF
    costs 0.36 CPU-s instead of 0.50 (-27 %; 21 statements of bench_statements.py's world,
    English and Persian, one of them of 60 incidents, by the old and the new code in three
    alternated pairs of processes; the rest of the machine 2-79 % of one CPU meanwhile).
    Each change alone, old and new in turn in one process on a quiet machine: the kept
    fonts -7 %, the stylesheet parsed once -4 %, the fixed table layout -17 %; WeasyPrint's
    own layout, styling and drawing are the rest. The text is the same, and the pages are
    as tall or shorter on those statements. Kept as WeasyPrint has them: font subsetting
    (full fonts: 1.2 MB a statement, slower) and compression (without: 390 KB instead of
    47 KB at most, no faster); the ``<bdi>`` around each name (dropping those alone in a
    cell saved nothing measurable)."""
    try:
        import weasyprint  # (1 s to import: only when a PDF is wanted)
    except (ImportError, OSError) as exc:
        raise RenderError(
            f"cannot render PDF: WeasyPrint could not load ({exc}); install the system "
            "packages it needs: on Debian/Ubuntu, apt-get install libpango-1.0-0 "
            "libpangoft2-1.0-0 fonts-noto-core fonts-dejavu-core"
        ) from None
    fonts, sheets = _weasyprint_kept(stylesheets)
    # The documents are self-contained: nothing is fetched (a name cannot smuggle a URL in).
    document = weasyprint.HTML(string=html, base_url=None, url_fetcher=_no_fetch)
    rendered: bytes = document.write_pdf(stylesheets=sheets, font_config=fonts)
    return rendered


_kept = threading.local()


def _weasyprint_kept(stylesheets: tuple[str, ...]) -> tuple[Any, list[Any]]:
    """This thread's ``FontConfiguration``, and ``stylesheets`` rendered (the one Jinja2
    environment) and parsed, once each per thread."""
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    if not hasattr(_kept, "fonts"):
        _kept.fonts, _kept.sheets = FontConfiguration(), {}
    sheets = _kept.sheets.get(stylesheets)
    if sheets is None:
        sheets = _kept.sheets[stylesheets] = [
            weasyprint.CSS(string=render(name), base_url=None, url_fetcher=_no_fetch)
            for name in stylesheets]
    return _kept.fonts, sheets


def _no_fetch(url: str, *args: object, **kwargs: object) -> dict[str, object]:
    raise ValueError(f"statements fetch nothing: {url!r} refused")
