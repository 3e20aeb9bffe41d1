"""A customer's monthly SLA statement, and the operators' summary of a month, as
people read them: HTML from one Jinja2 template, PDF typeset by Typst from the same words
and figures (:func:`statement_print`, :mod:`monitor.present.printed`), CSV.

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
import dataclasses
import datetime as dt
import functools
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from monitor.present.formats import format_days
from monitor.present.html import environment, render
from monitor.present.labels import CAUSE_LABELS, EXCLUSION_NAMES, TIER_NAMES
from monitor.present.language import N_, Language, language
from monitor.present.printed import (
    Runs,
    check_fonts,
    isolated,
    join,
    ltr,
    message,
    run,
    typeset,
    typeset_long,
)
from monitor.present.text import one_line
from monitor.sla.deadlines import in_time
from monitor.sla.ledger import minor_units, money_shown
from monitor.sla.report import iso_utc, shown_days

__all__ = [
    "CAUSE_LABELS",
    "CreditRow",
    "IncidentRow",
    "MaintenanceRow",
    "Statement",
    "Summary",
    "SummaryRow",
    "check_pdf",
    "money_cell",
    "statement_csv",
    "statement_html",
    "statement_pdf",
    "statement_print",
    "summary_html",
    "summary_pdf",
    "summary_print",
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
    def claims_closed(self) -> bool:
        """Shown after the month's claim deadline (R-C1, that instant still in time, on the
        one boundary the claim form uses: :func:`monitor.sla.in_time`): it says so instead
        of how to claim."""
        return self.generated_at is not None and not in_time(self.generated_at,
                                                              self.claim_deadline)

    @property
    def excluded(self) -> list[tuple[str, int]]:
        """The reasons with excluded time, in rule order."""
        return [(reason, seconds) for reason, seconds in self.excluded_by_reason.items()
                if seconds]

    @property
    def filename(self) -> str:
        """``statement-acme-1405-08-r2``: the stem of its attachments and ``-o`` files."""
        return f"statement-{self.customer}-{self.month}-r{self.revision}"


#: Rows of statements shown, kept: at 10,000 customers each outage of a server is in the
#: statements of its ~200 customers, and a panel's in every one (a month's run renders
#: each once per language instead; its rows were most of a statement's Python time).
#: 2,048 rows (about 12 MB a worker process): a month's shared rows stay while the
#: customers' own pass through.
ROWS_KEPT = 2048


def _shared(incident: IncidentRow) -> IncidentRow:
    """What an incident's row shows the same to every customer: all but when the customer
    was told (each customer's own notification), the key of the rows kept."""
    return dataclasses.replace(incident, notified_at=None, notified_after_seconds=None,
                               notification_late=False)


def statement_html(statement: Statement) -> str:
    """The statement as one HTML document (the e-mail's body, ``--format html``); its PDF
    says the same (:func:`statement_pdf`)."""
    reader, tz, cal = statement.language, statement.timezone, statement.calendar
    return render("statement.html", s=statement, language=reader,
                  incident_row=lambda row: _incident_html(_shared(row), reader, tz, cal),
                  window_row=lambda row: _window_html(row, reader, tz, cal))


@functools.cache
def _rows_html(reader: Language) -> Any:
    """The macros of ``_statement_rows.html`` for ``reader``'s language."""
    return environment().get_template("_statement_rows.html").make_module(
        {"language": reader})


@functools.lru_cache(maxsize=ROWS_KEPT)
def _incident_html(row: IncidentRow, reader: Language, tz: str, cal: str) -> Markup:
    """An incident's row of the HTML's table but when the customer was told (kept, as the
    PDF's: :data:`ROWS_KEPT`)."""
    made: Markup = _rows_html(reader).incident(row, tz, cal)  # a macro's: escaped within
    return made


@functools.lru_cache(maxsize=ROWS_KEPT)
def _window_html(row: MaintenanceRow, reader: Language, tz: str, cal: str) -> Markup:
    """A maintenance window's row of the HTML's table (kept, as an incident's)."""
    made: Markup = _rows_html(reader).window(row, tz, cal)
    return made


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
        return _csv_shown(value, reader, s.timezone, s.calendar)

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
        for cells in _csv_incident(incident, reader, s.timezone, s.calendar):
            writer.writerow([*head, *cells])
    for window in s.maintenance:
        for cells in _csv_window(window, reader, s.timezone, s.calendar):
            writer.writerow([*head, *cells])
    for number, line in enumerate(s.credit_lines, 1):
        fields = (
            ("rule", line.rule), ("days", "" if line.days is None else shown_days(line.days)),
            ("amount", "" if line.amount is None else money(line.amount)),
            ("evidence", line.evidence),
        )
        for name, value in fields:
            row("credit", number, name, value)
    return out.getvalue()


def _csv_shown(value: object, reader: Language, tz: str, cal: str) -> object:
    """A value in a CSV cell: machine forms in English, the reader's otherwise."""
    if reader.code == "en":
        return _cell(value)
    _ = reader.gettext
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dt.datetime):
        return reader.time(value, tz, cal, seconds=True)
    if isinstance(value, int | float | Decimal):
        return reader.number(value)
    return _cell(value)


def _csv_rows(section: str, item: int, fields: Iterable[tuple[str, object]], reader: Language,
              tz: str, cal: str) -> tuple[tuple[object, ...], ...]:
    """The CSV's rows of one item but their first cells (month, customer, revision)."""
    _ = reader.gettext
    return tuple((_(section), _csv_shown(item, reader, tz, cal), _(name),
                  _csv_shown(value, reader, tz, cal)) for name, value in fields)


def _csv_incident(incident: IncidentRow, reader: Language, tz: str,
                  cal: str) -> tuple[tuple[object, ...], ...]:
    """An incident's rows of the CSV: those every customer's shows alike (kept, as the
    PDF's: :data:`ROWS_KEPT`), with when this customer was told in their place."""
    service, start, end, counted, cause, detection = _csv_incident_shared(
        _shared(incident), reader, tz, cal)
    return (service, start, end, counted, cause, *_csv_rows("incident", incident.id, (
        ("notified_at", incident.notified_at),
        ("notified_after_seconds", incident.notified_after_seconds),
    ), reader, tz, cal), detection)


@functools.lru_cache(maxsize=ROWS_KEPT)
def _csv_incident_shared(incident: IncidentRow, reader: Language, tz: str,
                         cal: str) -> tuple[tuple[object, ...], ...]:
    english = reader.code == "en"
    return _csv_rows("incident", incident.id, (
        ("service", incident.service), ("start", incident.start), ("end", incident.end),
        ("counted_seconds", incident.counted_seconds),
        ("cause", incident.cause if english else reader.gettext(incident.cause_label)),
        ("detection_seconds", incident.detection_seconds),
    ), reader, tz, cal)


@functools.lru_cache(maxsize=ROWS_KEPT)
def _csv_window(window: MaintenanceRow, reader: Language, tz: str,
                cal: str) -> tuple[tuple[object, ...], ...]:
    """A maintenance window's rows of the CSV (kept, as an incident's)."""
    english = reader.code == "en"
    return _csv_rows("maintenance", window.id, (
        *(("service", service) for service in window.services),
        ("start", window.start), ("end", window.end), ("reason", window.reason),
        ("notice_at", window.notice_at), ("notice_due", window.notice_due),
        ("excluded", ("yes" if window.excluded else "no") if english else window.excluded),
    ), reader, tz, cal)


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


#: The most customers below target the summary's totals name (beyond, it counts them).
BELOW_NAMED = 20


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
    # When the month can be closed (monitor.actions.closable_from: its last R-N1 deadline
    # passed); None: when it ends.
    closable_from: dt.datetime | None = None

    @property
    def running(self) -> bool:
        """The month had not ended when computed: it cannot be closed yet."""
        return self.computed_at < self.period_end

    @property
    def closable(self) -> dt.datetime:
        return self.period_end if self.closable_from is None else self.closable_from

    @property
    def settling(self) -> bool:
        """The month had ended when computed, but could not be closed yet."""
        return not self.running and self.computed_at < self.closable

    @property
    def credit_days(self) -> Decimal:
        return sum((row.credit_days_total for row in self.rows), Decimal(0))

    @property
    def below(self) -> list[SummaryRow]:
        return [row for row in self.rows if row.below_target]

    @property
    def below_said(self) -> str:
        """The totals' "Below target": how many of how many, and which when they are few;
        beyond :data:`BELOW_NAMED` each is marked in the table of customers instead (at
        10,000 customers, their ids were 20 of the PDF's 774 pages)."""
        below = self.below
        said = f"{len(below):,} of {len(self.rows):,}"
        if len(below) > BELOW_NAMED:
            return said + ", marked in the table of customers"
        return said + (": " + ", ".join(row.customer for row in below) if below else "")

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


def summary_html(summary: Summary) -> str:
    return render("summary.html", m=summary)


def check_pdf() -> None:
    """:class:`RenderError` unless a PDF can be rendered here (the daemon checks at start
    when it must send statements): Typst loads and finds the fonts the statements name
    (naming the Debian packages otherwise); this thread's compiler is built meanwhile."""
    check_fonts()


def statement_pdf(statement: Statement) -> bytes:
    """The statement's PDF: :func:`statement_print`'s data in ``statement.typ``."""
    return typeset("statement.typ", statement_print(statement),
                   statement.generated_at or statement.closed_at)


def summary_pdf(summary: Summary,
                progress: Callable[[int, int], None] | None = None) -> bytes:
    """The operators' summary as PDF: :func:`summary_print`'s data in ``summary.typ``. At
    10,000 customers its tables hold thousands of rows: typeset in parts, ``progress`` told
    the parts typeset and their number (:func:`~monitor.present.printed.typeset_long`)."""
    return typeset_long("summary.typ", summary_print(summary), summary.computed_at,
                        tables=("customers", "breaches"), progress=progress)


def _page(reader: Language, before: str) -> dict[str, Any]:
    """A page's footer: ``before``, then "page N of M" in the reader's words and digits;
    the page's language (``paper``: the same for every document in the reader's language)."""
    _ = reader.gettext
    return {"paper": {"lang": reader.code, "rtl": reader.direction == "rtl",
                      "numbering": "۱" if reader.digits == "persian" else "1",
                      "page": _("page"), "of": _("of")},
            "footer": before, "rtl": reader.direction == "rtl"}


def _longest(ids: Iterable[str]) -> int:
    """The characters of the longest of ``ids``: a table's first column is as wide as that
    (``statement.typ``), the same for every statement whose ids are as long."""
    return max((len(text) for text in ids), default=1)


def statement_print(s: Statement) -> dict[str, Any]:
    """Everything the statement's PDF prints, as :mod:`monitor.present.printed` data: the
    words and figures of :func:`statement_html` (its message ids, the same formatters), in
    the same order; ``statement.typ`` lays them out."""
    reader = s.language
    _ = reader.gettext
    tz, cal = s.timezone, s.calendar
    english = reader.code == "en"

    def when(at: dt.datetime, seconds: bool = False, compact: bool = False) -> str:
        return reader.time(at, tz, cal, seconds=seconds, compact=compact)

    def name(text: str) -> Runs:
        return isolated(text)

    def days(value: Decimal | int) -> str:
        return reader.days(Decimal(value))

    number, duration = reader.number, reader.duration
    target = number(s.target_percent) + (" %" if english else "٪")
    header: list[Runs] = []
    small: list[Runs] = []
    if english:
        calendar_name = "Jalali (Solar Hijri)" if cal == "jalali" else "Gregorian"
        header.append(run(f"Period: {when(s.period_start)} to {when(s.period_end)} "
                          f"({calendar_name} calendar)"))
        header.append(run(f"Revision {s.revision} of the month's report, frozen "
                          f"{when(s.closed_at)}. Times below are in {tz}"
                          + (", dates in the Jalali calendar" if cal == "jalali" else "") + "."))
        small.append(join("Inputs SHA-256: ", run(s.inputs_hash, mono=True)))
        if s.evidence_hash:
            small.append(join(
                f"Evidence: chain entry {s.evidence_seq}, SHA-256 ",
                run(s.evidence_hash, mono=True), ", signed by key ",
                run(str(s.evidence_key_id), mono=True), ". To check these figures yourself: "
                "ask us for the month's evidence archive and run ",
                run("sla-monitor evidence verify ARCHIVE --key sla-monitor-keys.json",
                    mono=True),
                " with our published keys (/.well-known/sla-monitor-keys.json)."))
    else:
        period = message(_("Period: %(start)s to %(end)s"), start=when(s.period_start),
                         end=when(s.period_end))
        if cal != "gregorian":
            zone = ZoneInfo(tz)
            period += join(" ", message(
                _("(Gregorian %(start)s to %(end)s)"),
                start=reader.day(s.period_start.astimezone(zone).date()),
                end=reader.day(s.period_end.astimezone(zone).date())))
        header.append(period)
        header.append(message(
            _("Revision %(revision)s of the month's report, frozen %(frozen)s. Times are in "
              "%(zone)s."), revision=number(s.revision), frozen=when(s.closed_at),
            zone=reader.zone(tz)))
        small.append(join(_("Inputs SHA-256:"), " ", ltr(s.inputs_hash, mono=True)))
        if s.evidence_hash:
            small.append(message(
                _("Evidence: chain entry %(seq)s, SHA-256 %(hash)s, signed by key %(key)s. "
                  "To check these figures yourself, ask us for the month's evidence archive "
                  "and run %(command)s with our published keys (%(keys)s)."),
                seq=number(s.evidence_seq or 0), hash=ltr(s.evidence_hash, mono=True),
                key=ltr(str(s.evidence_key_id), mono=True),
                command=ltr("sla-monitor evidence verify ARCHIVE --key sla-monitor-keys.json",
                            mono=True),
                keys=ltr("/.well-known/sla-monitor-keys.json")))

    correction = None
    if s.corrects is not None:
        correction = {"text": message(_(
            "<strong>Corrected statement.</strong> It replaces the statement of revision "
            "%(revision)s we sent you: records of the month changed after it was sent. What "
            "changed for you:"), revision=number(s.corrects)),
            "items": [run(change) for change in s.changes]}

    def seconds_too(seconds: int) -> str:
        return f" ({seconds} s)" if english else ""

    verdict = (run(_("below the %(target)s target") % {"target": target}, bad=True)
               if s.below_target else
               run(_("meets the %(target)s target") % {"target": target}, ok=True))
    excluded = join(duration(s.excluded_seconds))
    if s.excluded:
        excluded += run(":")
        for position, (reason, seconds) in enumerate(s.excluded):
            reason_name = (_(EXCLUSION_NAMES[reason]) if reason in EXCLUSION_NAMES
                           else reason.replace("_", " "))
            excluded += run(f" {reason_name} {duration(seconds)}")
            if position < len(s.excluded) - 1:
                excluded += run(_(", ").rstrip())
    excluded += run(" " + _("(not counted)"))
    availability = [
        [run(_("Availability")), join(run(reader.percent(s.availability_percent, True),
                                          b=True), " — ", verdict, " ",
                                      _("(the month's length less counted downtime, over "
                                        "the month's length)"))],
        [run(_("Length of the month")),
         run(duration(s.period_seconds) + seconds_too(s.period_seconds))],
        [run(_("Counted downtime")),
         run(duration(s.downtime_seconds) + seconds_too(s.downtime_seconds)
             + _(": outages of the services you depend on, overlaps counted once"))],
        [run(_("Excluded time")), excluded],
        [run(_("Unknown time")),
         run(duration(s.unknown_seconds) + (_(": time our monitor did not see, counted "
                                              "neither as up nor as down")
                                            if s.unknown_seconds else ""))],
    ]

    tier = (_("%(tier)s: %(days)s of service credit") % {
        "tier": _(TIER_NAMES.get(s.tier, s.tier)), "days": days(s.tier_credit_days)}
        if s.tier else _("none"))
    penalties = days(s.partial_credit_days) + (
        _("; refund %(refund)s") % {"refund": reader.money(s.refund_amount, s.currency)}
        if s.refund_amount else "")
    total = message(
        _("%(days)s of service, worth %(value)s (%(count)s &times; %(fee)s / 365)"),
        days=days(s.credit_days_total), value=reader.money(s.credit_value, s.currency),
        count=number(shown_days(s.credit_days_total)),
        fee=reader.money(s.fee_per_year, s.currency))
    if s.refund_amount:
        total += run(_(", and a refund of %(refund)s") % {
            "refund": reader.money(s.refund_amount, s.currency)})
    credit_rows = [[run(_("Credit tier")), run(tier)],
                   [run(_("Late outage notifications")), run(_(
                       "%(days)s (one day per outage not notified within the deadline)")
                       % {"days": days(s.notification_credit_days)})],
                   [run(_("Ticket penalties")), run(penalties)],
                   [run(_("Total credit"), b=True), [{**r, "b": True} for r in total]]]
    credit_lines = [[ltr(line.rule), run(line.what),
                     run("-" if line.days is None else number(shown_days(line.days))),
                     run("-" if line.amount is None else reader.money(line.amount, s.currency)),
                     run(line.evidence)] for line in s.credit_lines]

    def claim_way(way: str) -> Runs:
        if s.claim_link and s.claim_link in way:
            before, link, after = way.partition(s.claim_link)
            return join(before, ltr(link, link=link), after)
        return run(way)

    ways: list[Runs] = []
    if s.claim:
        claim_lines = [run(s.claim)]
    elif s.claims_closed:
        claim_lines = [run(_("The claim deadline has passed: claims for this month are no "
                             "longer accepted."))]
    else:
        claim_lines = [run(_("This credit is granted when you claim it. How to claim:")
                           if s.credit_days_total > 0 or s.refund_amount > 0 else
                           _("No credit is due for this month; you may still claim if you "
                             "think these figures are wrong:"))]
        ways = [claim_way(way) for way in s.how_to_claim]

    deadline_line = run(_("Claim deadline: %(deadline)s") % {
        "deadline": when(s.claim_deadline)}, b=True)
    if not s.claims_closed:  # after it, the lines below say it has passed
        deadline_line = join(deadline_line, " ", _(
            "(claims for this month are accepted until then, that instant included)."))

    incidents = [_incident_cells(i, reader, tz, cal) for i in s.incidents]
    maintenance = [_window_cells(w, reader, tz, cal) for w in s.maintenance]

    if english:
        closing = join(
            f"These figures are revision {s.revision} of {s.month}'s report, a pure function "
            "of the month's records, computed from inputs whose SHA-256 is ",
            run(s.inputs_hash, mono=True),
            ". Please quote the revision and the first characters of the hash when you "
            f"write to us about them. Times are in {tz}"
            + (", dates in the Jalali calendar with the Gregorian date beside them"
               if cal == "jalali" else "") + "."
            + (f" Generated {when(s.generated_at)}." if s.generated_at else ""))
    else:
        closing = message(_(
            "These figures are revision %(revision)s of the report of %(month)s, computed "
            "from the month's records. Please quote the revision and the first characters "
            "of the inputs' SHA-256 when you write to us about them."),
            revision=number(s.revision), month=reader.month(s.month, cal))
        if s.generated_at:
            closing += run(" " + _("Generated %(at)s.") % {"at": when(s.generated_at)})

    return {
        **_page(reader, f"{s.filename} • "),
        "document": _("%(provider)s: SLA statement %(month)s, %(customer)s (revision "
                      "%(revision)s)") % {"provider": one_line(s.provider),
                                          "month": reader.month(s.month, cal),
                                          "customer": one_line(s.customer_name),
                                          "revision": number(s.revision)},
        "provider": message(_("%(provider)s &middot; monthly SLA statement"),
                            provider=name(s.provider)),
        "title": run(_("SLA statement for %(month)s") % {"month": reader.month(s.month, cal)}),
        "who": message(_("For %(customer)s (customer %(id)s)"),
                       customer=name(s.customer_name), id=ltr(s.customer, mono=True)),
        "header": header, "small": small, "correction": correction,
        "availability": {"heading": _("Availability"), "rows": availability},
        "credit": {
            "heading": _("Credit"),
            "none": join(run(_("No credit is due for this month:"), b=True), " ",
                         s.no_credit_because) if s.no_credit_because else None,
            "rows": credit_rows,
            "head": [_("Rule"), _("Credit"), _("Days"), _("Money"), _("Evidence")],
            "lines": credit_lines},
        "claim": {
            "deadline": deadline_line,
            "lines": claim_lines, "ways": ways},
        "incidents": {
            "heading": _("Incidents"),
            "head": ["#", _("Service"), _("Start"), _("End"), _("Counted"), _("Cause"),
                     _("You were notified")],
            "rows": incidents, "id_chars": _longest(number(i.id) for i in s.incidents),
            "note": run(_(
                "Start: the first failed probe, or the start our staff recorded; end: the "
                "first good probe, or the end they recorded. Counted: the part of the outage "
                "inside the month that counts against availability; an outage inside an "
                "announced maintenance window (below) or caused otherwise than by us is "
                "excluded.")),
            "none": run(_("No outage of a service you depend on in this month."))},
        "maintenance": {
            "heading": _("Scheduled maintenance"),
            "unrecorded": None if s.maintenance_recorded else run(_(
                "This revision was frozen before statements recorded maintenance windows; "
                "the excluded time above includes them.")),
            "head": ["#", _("Services"), _("Window"), _("Reason"), _("Notice reached you"),
                     _("Excluded?")],
            "rows": maintenance, "id_chars": _longest(number(w.id) for w in s.maintenance),
            "none": run(_(
                "No maintenance window on a service you depend on in this month."))},
        "rules": join(_("Contract rules:"), " ", ltr(
            "R-M1, R-M3, R-M4, R-M6, R-T0, R-T1, R-T2, R-N1, R-P1, R-P2, R-EX1–R-EX4, R-C1, "
            "R-C3")),
        "closing": closing,
    }


def _incident_cells(i: IncidentRow, reader: Language, tz: str, cal: str) -> list[Runs]:
    """An incident's row of the PDF's table: the cells every customer's statement shows
    alike (kept), then when this customer was told."""
    _ = reader.gettext
    notified = (run(_("%(at)s, %(after)s after the start") % {
        "at": reader.time(i.notified_at, tz, cal, seconds=True, compact=True),
        "after": reader.duration(i.notified_after_seconds)})
        if i.notified_at else run(_("not notified")))
    if i.notification_late:
        notified += run(": ") + run(_("late"), bad=True)
    return [*_incident_shared_cells(_shared(i), reader, tz, cal), notified]


@functools.lru_cache(maxsize=ROWS_KEPT)
def _incident_shared_cells(i: IncidentRow, reader: Language, tz: str,
                           cal: str) -> tuple[Runs, ...]:
    """An incident's cells of the PDF's table but the last (never changed once made: they
    are shared)."""
    _ = reader.gettext

    def when(at: dt.datetime) -> str:
        return reader.time(at, tz, cal, seconds=True, compact=True)

    return (run(reader.number(i.id)), isolated(i.service), run(when(i.start)),
            run(when(i.end) if i.end else _("still open")),
            run(reader.duration(i.counted_seconds)), run(_(i.cause_label)))


@functools.lru_cache(maxsize=ROWS_KEPT)
def _window_cells(w: MaintenanceRow, reader: Language, tz: str, cal: str) -> list[Runs]:
    """A maintenance window's row of the PDF's table (shared, as an incident's)."""
    _ = reader.gettext

    def when(at: dt.datetime) -> str:
        return reader.time(at, tz, cal, compact=True)

    services: Runs = []
    for position, service in enumerate(w.services):
        services += isolated(service)
        if position < len(w.services) - 1:
            services += run(_(", "))
    due = when(w.notice_due)
    excluded_cell = (run(_("yes: notice in time (due by %(due)s)") % {"due": due})
                     if w.excluded else message(_(
                         '<span class="verdict-bad">no</span>: the notice was due by '
                         "%(due)s, so outages in it count"), due=due))
    return [
        run(reader.number(w.id)), services,
        run(_("%(start)s to %(end)s") % {"start": when(w.start), "end": when(w.end)}),
        isolated(w.reason),
        run(when(w.notice_at) if w.notice_at else _("no notice")),
        excluded_cell]


def summary_print(m: Summary) -> dict[str, Any]:
    """Everything the operators' summary's PDF prints (English, left to right, as its
    HTML: an operators' view, SPEC section 7), as :mod:`monitor.present.printed` data."""
    reader = language("en")
    tz, cal = m.timezone, m.calendar

    def when(at: dt.datetime) -> str:
        return reader.time(at, tz, cal)

    calendar_name = "Jalali (Solar Hijri)" if cal == "jalali" else "Gregorian"
    closable = (f"it can be closed from {when(m.closable)}, once its last notification "
                "deadline has passed (R-N1)")
    if m.running:
        state = run(f"A month still running: figures so far, as computed "
                    f"{when(m.computed_at)}; {closable}.")
    elif m.revision is None and m.settling:
        state = run(f"Not closed: figures as computed {when(m.computed_at)}; {closable}: "
                    f"sla-monitor report close --month {m.month}.")
    elif m.revision is None:
        state = run(f"Not closed: figures as computed {when(m.computed_at)} (close the month "
                    f"to freeze them: sla-monitor report close --month {m.month}).")
    elif m.revision_current:
        state = join(f"Revision {m.revision} (inputs SHA-256 ", run(m.inputs_hash or "",
                                                                     mono=True),
                     "): the records have not changed since it was frozen.")
    else:
        state = join(run(f"Records changed after revision {m.revision} was frozen", bad=True),
                     f": the figures below are as computed {when(m.computed_at)}; close the "
                     f"month again to freeze them as revision {m.revision + 1} (statements "
                     "then send corrections).")
    owed = join(f"{format_days(m.credit_days)} of service")
    for currency, value, refunds in m.money:
        owed += run(f"; {reader.money(value, currency)}"
                    + (f" and {reader.money(refunds, currency)} refunded (R-P2)"
                       if refunds else ""))
    rows = []
    for row in m.rows:
        customer = join(isolated(row.name), " (", run(row.customer, mono=True), ")")
        if row.ineligible_rule:
            customer += run(f" — no credit: {row.ineligible_rule}")
        worth = reader.money(row.credit_value, row.currency) + (
            f" + {reader.money(row.refund_amount, row.currency)}" if row.refund_amount else "")
        rows.append([customer,
                     run(reader.percent(row.availability_percent, True),
                         bad=row.below_target),
                     run(reader.duration(row.downtime_seconds)),
                     run(reader.duration(row.excluded_seconds)),
                     run(reader.duration(row.unknown_seconds)), run(row.tier or "-"),
                     run(str(shown_days(row.credit_days_total))), run(worth),
                     run(row.statement), run(row.claim)])
    totals = [run("Total", b=True), *([run("")] * 5),
              run(str(shown_days(m.credit_days)), b=True),
              run(", ".join(reader.money(value, currency) for currency, value, _r in m.money),
                  b=True), run(""), run("")]
    return {
        **_page(reader, f"SLA summary {m.month} • "),
        "document": f"{one_line(m.provider)}: SLA summary {m.month}",
        "provider": join(isolated(m.provider), " · operators' monthly summary"),
        "title": run(f"SLA summary for {m.month}"),
        "header": [run(f"Period: {when(m.period_start)} to {when(m.period_end)} "
                       f"({calendar_name} calendar); target {m.target_percent} % (R-T0)"),
                   state],
        "totals": {"heading": "Totals", "rows": [
            [run("Customers"), run(f"{len(m.rows):,}")],
            [run("Below target"), run(m.below_said)],
            [run("Credit owed"), owed],
            [run("Duty breaches"), run(f"{len(m.breaches):,}"
                                       + ("" if m.breaches else " (none)"))]]},
        "customers": {"heading": "Customers", "head": [
            "Customer", "Availability", "Counted", "Excluded", "Unknown", "Tier",
            "Credit days", "Value", "Statement", "Claim"], "rows": rows, "total": totals},
        "breaches": {"heading": "Duty breaches", "head": ["Customer", "Duty", "Incidents"],
                     "rows": [[run(customer), run(duty),
                               run(", ".join(f"#{i}" for i in ids))]
                              for customer, duty, ids in m.breaches],
                     "none": run("No outage notified late (R-N1) and none detected late "
                                 "(D-1).")},
    }
