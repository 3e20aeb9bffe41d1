"""What the engine returns: a month's report, and its SPEC section 7 JSON.

Numbers are kept exact (int seconds, Decimal days and money) and rounded only
in :meth:`MonthReport.to_json` (R-M6). Times in JSON are ISO 8601 UTC with a
``Z`` suffix and whole seconds, e.g. ``"2026-03-01T10:00:00Z"``.

``json.dumps(report.to_json())`` is the document the CLI and the HTTP API print, and what a
closed month freezes (R-C3). ``MonthReport.from_json`` reads a frozen revision back as the
same typed objects, beside each ``to_json``: ``from_json(to_json(r)) == r`` for a report whose
numbers are as shown, and ``to_json(from_json(j)) == j`` for every stored document (every
key has been written since the first revision; a cluster's ``confirmed_by`` and
``vantage_problems`` only where a cluster ran). A stored document that is not such a report
is a :class:`monitor.errors.StoreError` naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple, overload

from monitor.collector import bulk_cache
from monitor.sla.calendar import MonthPeriod
from monitor.sla.inputs import CAUSES, Cause
from monitor.sla.stored import Fields, decoded_at, listed_apart, stored_instant

__all__ = [
    "JSON",
    "WRITTEN_APART",
    "CreditLine",
    "CustomerReport",
    "IncidentLine",
    "LineTexts",
    "MonthReport",
    "StoredCustomers",
    "VantageProblemLine",
    "iso_utc",
    "shown_availability",
    "shown_days",
    "shown_figure",
    "shown_money",
    "spliced",
]

JSON = None | bool | int | float | str | list["JSON"] | dict[str, "JSON"]

_AVAILABILITY_PLACES = Decimal("0.001")
_MONEY_PLACES = Decimal("0.01")


@bulk_cache  # a month's report repeats the same few instants per incident
def iso_utc(instant: datetime) -> str:
    """``instant`` as ISO 8601 UTC with a ``Z`` suffix, whole seconds."""
    utc = instant.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="seconds") + "Z"


def shown_availability(percent: Decimal) -> Decimal:
    """Availability as shown (JSON, tables): three decimals rounded *down* (R-M6), so a value
    shown as meeting the target never hides a tier (R-T1 applies only below the target).

    >>> shown_availability(Decimal("99.79999"))
    Decimal('99.799')
    """
    return percent.quantize(_AVAILABILITY_PLACES, ROUND_DOWN)


def shown_money(amount: Decimal) -> Decimal:
    """Money as shown: two decimals, half up (the engine keeps it exact, R-T2)."""
    return amount.quantize(_MONEY_PLACES, rounding=ROUND_HALF_UP)


def shown_days(days: Decimal) -> int | float:
    """Days as shown: whole, or an exact half (R-P1's quarter of a tier is rounded up to a
    half, :func:`monitor.sla.credits.half_days_up`), which a float shows exactly."""
    return int(days) if days == days.to_integral_value() else float(days)


def shown_figure(name: str, value: Any) -> JSON:
    """A customer's month figure ``name`` (a :class:`CustomerReport` field) in the machine
    forms, rounded as the report's JSON rounds it (SPEC section 7): availability to three
    decimals down (R-M6), money to two half up (R-T2), days whole or an exact half. The
    one rounding of each figure, wherever it is given (a claim's computed credit too)."""
    if value is None:
        return None
    if name == "availability_percent":
        return float(shown_availability(value))
    if name in _MONEY_FIGURES:
        return float(shown_money(value))
    if name in _DAY_FIGURES:
        return shown_days(value)
    if name == "target_percent":
        return float(value)
    if isinstance(value, tuple | list):
        return [item.to_json() if hasattr(item, "to_json") else item for item in value]
    shown: JSON = value
    return shown


_MONEY_FIGURES = frozenset({"credit_value", "refund_amount"})
_DAY_FIGURES = frozenset({"partial_credit_days", "credit_days_total"})


class IncidentLine(NamedTuple):
    """One incident of a depended-on service, as it affects one customer.

    A NamedTuple rather than a dataclass: a month has one per incident and
    customer, hundreds of thousands, and a tuple is built several times faster.
    """

    id: int
    service: str
    start: datetime
    end: datetime | None  # None while open
    counted_seconds: int  # this customer's counted part inside the month
    cause: Cause
    detection_seconds: int | None  # D-1 detection latency, None if unknown
    notified_after_seconds: int | None  # R-N1, None if never notified

    def to_json(self) -> dict[str, JSON]:
        return {
            "id": self.id,
            "service": self.service,
            "start": iso_utc(self.start),
            "end": None if self.end is None else iso_utc(self.end),
            "counted_seconds": self.counted_seconds,
            "cause": self.cause,
            "detection_seconds": self.detection_seconds,
            "notified_after_seconds": self.notified_after_seconds,
        }

    @classmethod
    def from_json(cls, document: object, where: str = "incident") -> IncidentLine:
        """The line ``to_json`` wrote (a cluster's ``confirmed_by`` is the month's)."""
        if type(document) is dict:
            line = _well_formed_line(document)
            if line is not None:
                return line
        # Something is not as ``to_json`` writes it: read field by field, to name it.
        fields = Fields(document, where)
        return cls(fields.integer("id"), fields.text("service"), fields.instant("start"),
                   fields.optional_instant("end"), fields.integer("counted_seconds"),
                   fields.cause("cause"), fields.optional_integer("detection_seconds"),
                   fields.optional_integer("notified_after_seconds"))


class LineTexts:
    """Incident lines as texts, each spliced from pieces written once per incident: a month
    of 10,000 customers has 411,682 lines of 50,000 incidents, the shared web panel's and
    each server's in hundreds of reports. ``pieces(line)`` writes what every line of the
    incident shares in some text form (before its counted seconds, between them and its
    notification's, after it); each line's own two numbers go between, as Python writes
    integers (None as JSON's ``null``). An incident's pieces are taken again for a line whose
    other fields are those they were written from (the same objects, as the engine's lines of
    one incident are, or equal ones); a line of the same incident that says otherwise gets
    pieces of its own. One instance serves one report's writing."""

    __slots__ = ("_incidents", "_pieces")

    def __init__(self, pieces: Callable[[IncidentLine], tuple[str, str, str]]) -> None:
        self._pieces = pieces
        self._incidents: dict[int, tuple[IncidentLine, tuple[str, str, str]]] = {}

    def texts(self, lines: Iterable[IncidentLine]) -> list[str]:
        incidents, written = self._incidents, []
        for line in lines:
            known = incidents.get(line.id)
            if known is None or not _alike(known[0], line):
                if type(line.id) is not int or (line.detection_seconds is not None
                                                and type(line.detection_seconds) is not int):
                    raise TypeError(f"an incident line's id and seconds must be integers: {line!r}")
                known = incidents[line.id] = (line, self._pieces(line))
            counted, notified = line.counted_seconds, line.notified_after_seconds
            if type(counted) is not int or (notified is not None and type(notified) is not int):
                raise TypeError(f"an incident line's seconds must be integers: {line!r}")
            first, between, last = known[1]
            written.append(f"{first}{counted}{between}{'null' if notified is None else notified}"
                           f"{last}")
        return written


#: Stands for a value written apart in the JSON text of the rest of a document (a customer's
#: lines, a report's customers: :func:`spliced`); no value of a report is this text, whose
#: control characters JSON escapes.
WRITTEN_APART = "\x00written apart\x00"
_APART = json.dumps(WRITTEN_APART)  # its JSON text, whatever the encoder's settings


def spliced(text: str, written: str) -> str:
    """``text``, a JSON text in which one value was :data:`WRITTEN_APART`, with ``written``
    (that value's text) in its place; refused unless the place is there exactly once."""
    before, found, after = text.partition(_APART)
    if not found or _APART in after:
        raise ValueError("a JSON text must hold the place of what was written apart once")
    return before + written + after


def _alike(first: IncidentLine, line: IncidentLine) -> bool:
    """Whether two lines of an incident agree but for their customer's own figures."""
    return ((first.start is line.start and first.end is line.end
             and first.service is line.service and first.cause is line.cause
             and first.detection_seconds is line.detection_seconds)
            or (first.start, first.end, first.service, first.cause, first.detection_seconds)
            == (line.start, line.end, line.service, line.cause, line.detection_seconds))


def _well_formed_line(document: dict[str, object]) -> IncidentLine | None:
    """:meth:`IncidentLine.from_json` of a line exactly as ``to_json`` writes it, checked as
    :class:`Fields` checks it, without a reader per field (a month has hundreds of
    thousands of lines); None for anything else, which :class:`Fields` then names."""
    try:
        identity, service, start, end = (document["id"], document["service"],
                                         document["start"], document["end"])
        counted, cause = document["counted_seconds"], document["cause"]
        detection, notified = document["detection_seconds"], document["notified_after_seconds"]
    except KeyError:
        return None
    if not (type(identity) is int and type(service) is str and type(start) is str
            and type(counted) is int and type(cause) is str and cause in CAUSES
            and (end is None or type(end) is str)
            and (detection is None or type(detection) is int)
            and (notified is None or type(notified) is int)):
        return None
    started = stored_instant(start)
    ended = None if end is None else stored_instant(end)
    if started is None or (end is not None and ended is None):
        return None
    return IncidentLine(identity, service, started, ended, counted, cause,
                        detection, notified)


@dataclass(frozen=True, slots=True)
class CreditLine:
    """One credit and its evidence (R-C3): days of service, or money (R-P2)."""

    rule: str  # "R-T1", "R-N1", "R-P1" or "R-P2"
    days: Decimal | None = None
    amount: Decimal | None = None
    incidents: tuple[int, ...] = ()
    maintenance: tuple[int, ...] = ()
    tickets: tuple[int, ...] = ()

    def to_json(self) -> dict[str, JSON]:
        return {
            "rule": self.rule,
            "days": None if self.days is None else shown_days(self.days),
            "amount": None if self.amount is None else float(shown_money(self.amount)),
            "incidents": list(self.incidents),
            "maintenance": list(self.maintenance),
            "tickets": list(self.tickets),
        }

    @classmethod
    def from_json(cls, document: object, where: str = "credit line") -> CreditLine:
        fields = Fields(document, where)
        return cls(fields.text("rule"), fields.optional_decimal("days"),
                   fields.optional_decimal("amount"), fields.integers("incidents"),
                   fields.integers("maintenance"), fields.integers("tickets"))


@dataclass(frozen=True, slots=True)
class CustomerReport:
    """One customer's month: time, availability and every credit with its evidence."""

    customer: str
    period_seconds: int
    downtime_seconds: int  # counted downtime (R-M4)
    excluded_seconds: int
    excluded_by_reason: Mapping[str, int]  # sums to excluded_seconds
    unknown_seconds: int  # R-M3
    availability_percent: Decimal  # exact (R-M6); rounded only in JSON
    target_percent: Decimal
    tier: str | None
    tier_credit_days: int
    notification_breaches: tuple[int, ...]
    notification_credit_days: int
    detection_breaches: tuple[int, ...]
    partial_credit_days: Decimal
    refund_amount: Decimal
    credit_days_total: Decimal
    credit_value: Decimal  # exact; R-T2: days x yearly fee / 365
    currency: str
    ineligible_reason: str | None
    credit_lines: tuple[CreditLine, ...]
    incidents: tuple[IncidentLine, ...]

    def to_json(self, *, incidents: bool = True) -> dict[str, JSON]:
        """The customer's part of the SPEC section 7 report; without ``incidents``, its
        lines left out (a month's close and ``report --format json`` write them apart, each
        from pieces written once per incident: :class:`LineTexts`)."""
        figure = shown_figure
        document: dict[str, JSON] = {
            "customer": self.customer,
            "period_seconds": self.period_seconds,
            "downtime_seconds": self.downtime_seconds,
            "excluded_seconds": self.excluded_seconds,
            "excluded_by_reason": dict(self.excluded_by_reason),
            "unknown_seconds": self.unknown_seconds,
            "availability_percent": figure("availability_percent", self.availability_percent),
            "target_percent": figure("target_percent", self.target_percent),
            "tier": self.tier,
            "tier_credit_days": self.tier_credit_days,
            "notification_breaches": list(self.notification_breaches),
            "notification_credit_days": self.notification_credit_days,
            "detection_breaches": list(self.detection_breaches),
            "partial_credit_days": figure("partial_credit_days", self.partial_credit_days),
            "refund_amount": figure("refund_amount", self.refund_amount),
            "credit_days_total": figure("credit_days_total", self.credit_days_total),
            "credit_value": figure("credit_value", self.credit_value),
            "currency": self.currency,
            "ineligible_reason": self.ineligible_reason,
            "credit_lines": [line.to_json() for line in self.credit_lines],
        }
        if incidents:
            document["incidents"] = [incident.to_json() for incident in self.incidents]
        return document

    @classmethod
    def from_json(cls, document: object, where: str = "customer") -> CustomerReport:
        """The customer ``to_json`` wrote: its numbers as shown (R-M6), exact from then on."""
        fields = Fields(document, where)
        return cls(
            customer=fields.text("customer"),
            period_seconds=fields.integer("period_seconds"),
            downtime_seconds=fields.integer("downtime_seconds"),
            excluded_seconds=fields.integer("excluded_seconds"),
            excluded_by_reason=fields.seconds_by_name("excluded_by_reason"),
            unknown_seconds=fields.integer("unknown_seconds"),
            availability_percent=fields.decimal("availability_percent"),
            target_percent=fields.decimal("target_percent"),
            tier=fields.optional_text("tier"),
            tier_credit_days=fields.integer("tier_credit_days"),
            notification_breaches=fields.integers("notification_breaches"),
            notification_credit_days=fields.integer("notification_credit_days"),
            detection_breaches=fields.integers("detection_breaches"),
            partial_credit_days=fields.decimal("partial_credit_days"),
            refund_amount=fields.decimal("refund_amount"),
            credit_days_total=fields.decimal("credit_days_total"),
            credit_value=fields.decimal("credit_value"),
            currency=fields.text("currency"),
            ineligible_reason=fields.optional_text("ineligible_reason"),
            credit_lines=tuple(CreditLine.from_json(line, where) for line, where
                               in fields.items("credit_lines")),
            incidents=tuple(IncidentLine.from_json(line, where) for line, where
                            in fields.items("incidents")),
        )


@dataclass(frozen=True, slots=True)
class MonthReport:
    """Every customer's report for one month, ordered by customer id."""

    period: MonthPeriod
    # A tuple, or a stored report's customers typed one at a time (StoredCustomers).
    customers: Sequence[CustomerReport]
    # a cluster's: incident id -> the vantages that confirmed it, and the targets
    # down for some vantages short of the quorum (no incident): shown, never counted.
    confirmed_by: Mapping[int, tuple[str, ...]] | None = None
    vantage_problems: tuple[VantageProblemLine, ...] = ()

    def customer(self, customer_id: str) -> CustomerReport:
        """The report of ``customer_id``; KeyError if it is not in this month."""
        if isinstance(self.customers, StoredCustomers):
            return self.customers.customer(customer_id)
        for report in self.customers:
            if report.customer == customer_id:
                return report
        raise KeyError(customer_id)

    def heads(self) -> Iterator[tuple[str, str | None]]:
        """Each customer's id and ``ineligible_reason``, in order: what a month's run plans
        by, without typing the customers of a stored report (:class:`StoredCustomers`)."""
        if isinstance(self.customers, StoredCustomers):
            return iter(self.customers.heads)
        return ((c.customer, c.ineligible_reason) for c in self.customers)

    def to_json(self, customers: list[JSON] | None = None) -> dict[str, JSON]:
        """The SPEC section 7 JSON report, as a JSON-ready dict. ``customers``: what stands
        for the customers' parts instead of them (a month's close encodes each part as it
        is written, :meth:`customer_json`, and not the whole document at once)."""
        return {
            "month": self.period.label,
            "calendar": self.period.calendar,
            "timezone": self.period.timezone,
            "period_start": iso_utc(self.period.start),
            "period_end": iso_utc(self.period.end),
            "customers": ([self.customer_json(report) for report in self.customers]
                          if customers is None else customers),
            **({"vantage_problems": [line.to_json() for line in self.vantage_problems]}
               if self.confirmed_by is not None else {}),
        }

    def customer_json(self, report: CustomerReport) -> dict[str, JSON]:
        """One of this report's customers' part of :meth:`to_json`."""
        document = report.to_json()
        confirmed = self.confirmed_by
        if confirmed is not None:
            document["incidents"] = [
                {**incident.to_json(), "confirmed_by": list(confirmed.get(incident.id, ()))}
                for incident in report.incidents
            ]
        return document

    @classmethod
    def from_json(cls, document: object) -> MonthReport:
        """The report ``to_json`` wrote (a frozen revision, R-C3), typed again. A cluster's
        report (it has ``vantage_problems``) gets its ``confirmed_by`` back from its
        incidents; an incident no vantage confirmed is not in it (``to_json`` writes ``[]``
        for it either way)."""
        fields = Fields(document, "report")
        customers = fields.items("customers")
        confirmed_by: dict[int, tuple[str, ...]] | None = None
        if fields.has("vantage_problems"):
            confirmed_by = {}
            for customer, where in customers:
                _confirmed(customer, where, confirmed_by)
        return cls._read(fields, tuple(CustomerReport.from_json(c, w) for c, w in customers),
                         confirmed_by)

    @classmethod
    def from_text(cls, text: str) -> MonthReport:
        """The report of a stored JSON text (a frozen revision as the database keeps it): the
        same as ``from_json(json.loads(text))``, but its customers are typed one at a time,
        when read (:class:`StoredCustomers`): at 10,000 customers the typed report is about
        400 MB, its text about 90 MB."""
        starts: list[int] = []
        heads: list[tuple[str, str | None]] = []

        def seen(customer: object, at: int) -> None:
            fields = Fields(customer, f"report.customers[{len(starts)}]")
            heads.append((fields.text("customer"), fields.optional_text("ineligible_reason")))
            starts.append(at)

        fields = Fields(listed_apart(text, "customers", seen), "report")
        stored = StoredCustomers(text, heads, starts)
        confirmed_by: dict[int, tuple[str, ...]] | None = None
        if fields.has("vantage_problems"):
            confirmed_by = {}
            for number, at in enumerate(starts):
                _confirmed(decoded_at(text, at)[0], stored.where(number), confirmed_by)
        return cls._read(fields, stored, confirmed_by)

    @classmethod
    def _read(cls, fields: Fields, customers: Sequence[CustomerReport],
              confirmed_by: dict[int, tuple[str, ...]] | None) -> MonthReport:
        """The report of ``fields`` (a stored report's own), with its customers typed."""
        period = MonthPeriod(fields.text("month"), fields.calendar("calendar"),
                             fields.text("timezone"), fields.instant("period_start"),
                             fields.instant("period_end"))
        if confirmed_by is None:
            return cls(period, customers)
        return cls(period, customers, confirmed_by, tuple(
            VantageProblemLine.from_json(line, where)
            for line, where in fields.items("vantage_problems")))


def _confirmed(customer: object, where: str, into: dict[int, tuple[str, ...]]) -> None:
    """A cluster's customer's incidents, each with the vantages that confirmed it, into
    ``into`` (incident id -> vantages; none: not in it)."""
    for incident, at in Fields(customer, where).items("incidents"):
        line = Fields(incident, at)
        vantages = line.texts("confirmed_by")
        if vantages:
            into[line.integer("id")] = vantages


class StoredCustomers(Sequence[CustomerReport]):
    """A stored report's customers (:meth:`MonthReport.from_text`), each typed from its part
    of the report's text when it is read, and let go by the reader: what a month's
    statements hold is the text (about 9 KB a customer) and where each part begins, not
    every customer's records at once. Found by position or by id (:meth:`customer`); each
    customer's id and ``ineligible_reason`` are read with the index (:attr:`heads`)."""

    __slots__ = ("_by_id", "_starts", "_text", "heads")

    def __init__(self, text: str, heads: list[tuple[str, str | None]],
                 starts: list[int]) -> None:
        self._text = text
        self.heads = tuple(heads)
        self._starts = starts
        self._by_id = {customer: number for number, (customer, _reason) in enumerate(heads)}

    def where(self, number: int) -> str:
        return f"report.customers[{number}]"

    def customer(self, customer_id: str) -> CustomerReport:
        """The report of ``customer_id``; KeyError if it is not in this month."""
        return self._typed(self._by_id[customer_id])

    def stored(self, customer_id: str) -> object:
        """The part of ``customer_id`` as stored, decoded, not typed (what a revision's
        chained statements digest); KeyError if it is not in this month."""
        return decoded_at(self._text, self._starts[self._by_id[customer_id]])[0]

    def _typed(self, number: int) -> CustomerReport:
        return CustomerReport.from_json(decoded_at(self._text, self._starts[number])[0],
                                        self.where(number))

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> CustomerReport: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[CustomerReport, ...]: ...

    def __getitem__(self, index: int | slice) -> CustomerReport | tuple[CustomerReport, ...]:
        if isinstance(index, slice):
            return tuple(self._typed(n) for n in range(*index.indices(len(self))))
        return self._typed(range(len(self))[index])

    def __iter__(self) -> Iterator[CustomerReport]:
        for number in range(len(self)):
            yield self._typed(number)


class VantageProblemLine(NamedTuple):
    """A target some vantages saw down, short of the quorum: their path to it
    failed, not the target; no incident, no credit."""

    target: str
    vantage: str
    start: datetime
    end: datetime | None  # None while it lasts

    def to_json(self) -> dict[str, JSON]:
        return {"target": self.target, "vantage": self.vantage, "start": iso_utc(self.start),
                "end": None if self.end is None else iso_utc(self.end)}

    @classmethod
    def from_json(cls, document: object, where: str = "vantage problem") -> VantageProblemLine:
        fields = Fields(document, where)
        return cls(fields.text("target"), fields.text("vantage"), fields.instant("start"),
                   fields.optional_instant("end"))
