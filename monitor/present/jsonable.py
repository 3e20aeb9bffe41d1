"""Typed results as JSON values: what ``--format json`` prints (and the HTTP API will send).

Dataclasses become objects, tuples lists, instants ISO 8601 UTC with ``Z`` (as in the
report, :func:`monitor.sla.report.iso_utc`), ``Decimal`` a number as shown; a value with
a ``to_json()`` of its own (the engine's reports: SPEC section 7) is what that returns.

>>> import datetime as dt
>>> from dataclasses import dataclass
>>> @dataclass
... class Done:
...     id: int
...     at: dt.datetime
...     customers: tuple[str, ...]
>>> as_json(Done(7, dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC), ("acme",)))
{'id': 7, 'at': '2026-03-01T10:00:00Z', 'customers': ['acme']}
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from monitor.sla.report import (
    JSON,
    WRITTEN_APART,
    IncidentLine,
    LineTexts,
    MonthReport,
    iso_utc,
    spliced,
)

__all__ = ["as_json", "json_text", "report_json_text"]


def as_json(value: object) -> JSON:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    to_json = getattr(value, "to_json", None)
    if callable(to_json) and not isinstance(value, type):
        shown: JSON = to_json()
        return shown
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # A field marked ``metadata={"json": False}`` is how a value is shown, not data.
        return {f.name: as_json(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.metadata.get("json", True)}
    if isinstance(value, Mapping):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return [as_json(item) for item in items]
    raise TypeError(f"as_json: cannot represent {type(value).__name__} {value!r}")


def json_text(value: object) -> str:
    """``value`` as the command line writes JSON, to standard output or ``-o FILE``: typed
    results (dataclasses) and JSON documents alike, times as ISO 8601 UTC with ``Z``
    (:func:`as_json`), indented by 2, text as itself (not ``\\u`` escapes)."""
    return json.dumps(as_json(value), indent=2, ensure_ascii=False)


#: A text as :func:`json_text` quotes it.
_QUOTE: Callable[[str], str] = json.encoder.encode_basestring

def report_json_text(report: MonthReport, *, indented: bool = True) -> str:
    """``json_text(report.to_json())`` (the SPEC section 7 document as ``report --format
    json`` writes it; not ``indented``: ``json.dumps(as_json(report.to_json()),
    ensure_ascii=False)``, as the HTTP API sends it), written customer by customer and each
    incident line from pieces written once per incident: at 10,000 customers (411,682
    lines, 143 MB) Python's indenting encoder walked every value of a document built whole,
    about 6 s and 1 GB; the same text. A cluster's report (its lines name the vantages that
    confirmed them) is written the general way."""
    if report.confirmed_by is not None:
        return (json_text(report.to_json()) if indented
                else json.dumps(as_json(report.to_json()), ensure_ascii=False))
    layout = _INDENTED if indented else _COMPACT
    texts = LineTexts(functools.partial(_line_pieces, layout))
    customers = [_customer_text(customer.to_json(incidents=False), customer.incidents, texts,
                                layout) for customer in report.customers]
    head = json.dumps(report.to_json(customers=WRITTEN_APART),  # type: ignore[arg-type]
                      indent=layout.indent, ensure_ascii=False)
    return spliced(head, layout.listed(customers, 1))


@dataclasses.dataclass(frozen=True)
class _Layout:
    """How ``json.dumps`` lays a report out: ``indent`` (None: on one line, ``", "`` and
    ``": "`` between items and after keys)."""

    indent: int | None

    def margin(self, depth: int) -> str:
        return "" if self.indent is None else "\n" + " " * (self.indent * depth)

    def listed(self, items: list[str], depth: int) -> str:
        """Items already laid out at ``depth + 1``, as the list ``json.dumps`` writes."""
        if not items:
            return "[]"
        if self.indent is None:
            return "[" + ", ".join(items) + "]"
        return "[" + self.margin(depth + 1) + ("," + self.margin(depth + 1)).join(items) + (
            self.margin(depth) + "]")


_INDENTED, _COMPACT = _Layout(2), _Layout(None)


def _customer_text(part: dict[str, JSON], lines: Iterable[IncidentLine], texts: LineTexts,
                   layout: _Layout) -> str:
    """A customer's part as an item of the report's list (its lines in their place)."""
    part["incidents"] = WRITTEN_APART
    text = json.dumps(part, indent=layout.indent, ensure_ascii=False)
    if layout.indent is not None:
        text = text.replace("\n", layout.margin(2))  # an item of the list at depth 2
    return spliced(text, layout.listed(texts.texts(lines), 3))


def _line_pieces(layout: _Layout, line: IncidentLine) -> tuple[str, str, str]:
    """What the texts of an incident's lines share, in ``to_json``'s order of keys, laid out
    as a line of a customer's list (depth 4): before its counted seconds, between them and
    its notification's, after it."""
    key = layout.margin(5) if layout.indent is not None else " "
    end = "null" if line.end is None else _QUOTE(iso_utc(line.end))
    detection = "null" if line.detection_seconds is None else line.detection_seconds
    opening = "{" + (layout.margin(5) if layout.indent is not None else "")
    return (f'{opening}"id": {line.id},{key}"service": {_QUOTE(line.service)},{key}'
            f'"start": {_QUOTE(iso_utc(line.start))},{key}"end": {end},{key}'
            '"counted_seconds": ',
            f',{key}"cause": {_QUOTE(line.cause)},{key}"detection_seconds": {detection},{key}'
            '"notified_after_seconds": ',
            layout.margin(4) + "}")
