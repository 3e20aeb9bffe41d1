"""A fingerprint of a month's inputs (R-C3).

Closing a month freezes a report revision together with :func:`inputs_digest`
of the inputs it was computed from; a later recomputation whose digest differs
has new inputs and makes a new revision. The digest is a SHA-256 of a canonical
JSON form: every input and every field takes part, so changing any of them
changes it, while the order in which records are given does not.

``now`` is deliberately not part of it: it is when the report was computed, not
something recorded about the month. Pass the same records as to
:func:`monitor.sla.engine.compute_month`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from monitor.sla.calendar import MonthPeriod
from monitor.sla.inputs import CustomerInput, IncidentInput, MaintenanceInput, TicketInput
from monitor.sla.intervals import Interval
from monitor.sla.policy import Policy

__all__ = ["inputs_digest"]

_Canonical = None | bool | int | str | list["_Canonical"] | dict[str, "_Canonical"]


def inputs_digest(
    period: MonthPeriod,
    customers: Iterable[CustomerInput],
    incidents: Iterable[IncidentInput],
    maintenance: Iterable[MaintenanceInput],
    notifications: Mapping[tuple[int, str], datetime],
    unknown: Iterable[Interval],
    policy: Policy,
    tickets: Iterable[TicketInput] = (),
    unknown_by_service: Mapping[str, Iterable[Interval]] | None = None,
) -> str:
    """Hex SHA-256 of the canonical JSON of every input of a month's report."""
    document: dict[str, _Canonical] = {
        "period": [period.label, period.calendar, period.timezone],
        "policy": _canonical(policy),
    }
    if unknown_by_service:  # a cluster's; absent, the digests of a daemon alone stay as they were
        document["unknown_by_service"] = {
            service_id: _sorted(parts) for service_id, parts in unknown_by_service.items()}
    # The document is ``json.dumps(document, sort_keys=True, separators=(",", ":"),
    # ensure_ascii=True)`` with the lists of records among its keys; written key by key so
    # that the records (hundreds of thousands of notifications in a large month) are
    # written once each (:func:`_sorted_text`, :func:`_notification_texts`), the same text.
    sections = {key: _ENCODE(value) for key, value in document.items()}
    sections.update({"customers": _sorted_text(customers), "incidents": _incident_texts(incidents),
                     "maintenance": _sorted_text(maintenance), "unknown": _sorted_text(unknown),
                     "tickets": _sorted_text(tickets)})
    sections["notifications"] = "[" + ",".join(_notification_texts(notifications)) + "]"
    text = "{" + ",".join(f"{_QUOTE(key)}:{sections[key]}" for key in sorted(sections)) + "}"
    return hashlib.sha256(text.encode("ascii")).hexdigest()


#: The document's encoder, and the JSON string of a text as it writes it.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
_QUOTE: Callable[[str], str] = json.encoder.encode_basestring_ascii


def _notification_texts(notifications: Mapping[tuple[int, str], datetime]) -> list[str]:
    """Each notification as ``[incident id, customer id, notice sent at]`` in the document's
    JSON, in the order of :func:`_sorted` (its text with the default separators): the
    same texts as encoding :func:`_canonical` of each, without building it. A key of
    other types than (int, str) takes the general way.

    Keys of (int, str) are sorted on their texts themselves: ``[1,"c",...]`` and
    ``[1, "c", ...]`` differ only in the spaces after separators, which come at the same
    place in two texts up to their first difference (an integer, then JSON strings whose
    own quotes are escaped), so both sort alike (a JSON text's separators stand outside
    its strings, where two texts agree up to their first difference: :func:`_sorted_text`
    relies on it too); the keys are unique, so are the texts."""
    texts: list[str] = []
    instants = _Instants()
    for (incident_id, customer_id), at in notifications.items():
        if type(incident_id) is not int or type(customer_id) is not str:
            return _notification_texts_in_general(notifications)
        texts.append(f"[{incident_id},{_QUOTE(customer_id)},{instants.quoted(at)}]")
    texts.sort()
    return texts


class _Instants(dict[datetime, str]):
    """Each instant's JSON string (:func:`_datetime`, quoted), written once per instant met
    in one digest: a large month's notifications and notices repeat their times (every
    customer of a shared service told within the same minutes: 403,452 notifications at
    225,387 times in the benchmark's month). Equal instants have the same text in UTC,
    whatever their zones; a naive one is refused as :func:`_datetime` refuses it."""

    __slots__ = ()

    def quoted(self, value: datetime) -> str:
        text = self.get(value)
        if text is None:
            text = self[value] = _QUOTE(_datetime(value))
        return text


def _notification_texts_in_general(
        notifications: Mapping[tuple[int, str], datetime]) -> list[str]:
    """:func:`_notification_texts` of keys of any type: each sorted on its text with the
    default separators, as :func:`_sorted` does."""
    keyed: list[tuple[str, str]] = []
    for (incident_id, customer_id), at in notifications.items():
        if type(incident_id) is not int or type(customer_id) is not str:
            item = _canonical((incident_id, customer_id, at))
            keyed.append((_SORT_TEXT(item), _ENCODE(item)))
            continue
        quoted, instant = _QUOTE(customer_id), _QUOTE(_datetime(at))
        keyed.append((f"[{incident_id}, {quoted}, {instant}]",
                      f"[{incident_id},{quoted},{instant}]"))
    keyed.sort()
    return [text for _, text in keyed]


#: ``json.dumps(item, sort_keys=True)`` without building an encoder per call: the text
#: each record is sorted on (hundreds of thousands of notifications in a large month).
_SORT_TEXT = json.JSONEncoder(sort_keys=True).encode


#: An incident's fields in the order of their keys in its canonical text (sorted), and
#: whether they are :class:`IncidentInput`'s (else every incident takes the general way).
_INCIDENT_KEYS = ("cause", "detected_at", "end", "id", "service_id", "source", "start")
_INCIDENT_TEXT = tuple(sorted(f.name for f in fields(IncidentInput))) == _INCIDENT_KEYS


def _incident_texts(incidents: Iterable[IncidentInput]) -> str:
    """``_sorted_text(incidents)``, each incident's text written field by field (a month of
    50,000 incidents: no dict per incident through the encoder), its times once per instant
    (:class:`_Instants`). An incident of other types than it declares (a subclass, an id
    that is a bool) takes the general way, and so do all if its fields are not these."""
    given = incidents if isinstance(incidents, list) else list(incidents)
    if not _INCIDENT_TEXT:
        return _sorted_text(given)
    texts: list[str] = []
    instants = _Instants()
    for incident in given:
        start, end, detected = incident.start, incident.end, incident.detected_at
        if (type(incident) is not IncidentInput or type(incident.id) is not int
                or type(incident.service_id) is not str or type(incident.cause) is not str
                or type(incident.source) is not str or type(start) is not datetime
                or (end is not None and type(end) is not datetime)
                or (detected is not None and type(detected) is not datetime)):
            return _sorted_text(given)
        texts.append(
            f'{{"cause":{_QUOTE(incident.cause)},"detected_at":'
            f'{"null" if detected is None else instants.quoted(detected)},"end":'
            f'{"null" if end is None else instants.quoted(end)},"id":{incident.id},'
            f'"service_id":{_QUOTE(incident.service_id)},"source":{_QUOTE(incident.source)},'
            f'"start":{instants.quoted(start)}}}')
    texts.sort()
    return "[" + ",".join(texts) + "]"


def _sorted_text(records: Iterable[object]) -> str:
    """``_ENCODE(_sorted(records))``, each record encoded once: the compact texts sorted on
    themselves, which is the order of the texts with the default separators (as in
    :func:`_notification_texts`: the spaces follow separators that stand at the same place
    in two texts up to their first difference)."""
    texts = [_ENCODE(_canonical(record)) for record in records]
    texts.sort()
    return "[" + ",".join(texts) + "]"


def _sorted(records: Iterable[object]) -> list[_Canonical]:
    # Sorting on the canonical text makes the digest independent of input order.
    canonical = [_canonical(record) for record in records]
    keyed = [(_SORT_TEXT(item), index) for index, item in enumerate(canonical)]
    keyed.sort()
    return [canonical[index] for _, index in keyed]


#: The field names of each dataclass met, in order (``fields()`` once per type).
_FIELDS: dict[type, tuple[str, ...]] = {}


def _datetime(value: datetime) -> str:
    """``value.astimezone(UTC).isoformat(timespec="microseconds")``, at a third of the
    cost (a large month has hundreds of thousands of notifications and notices): the
    naive UTC time by the epoch's arithmetic, its ISO text, the microseconds and the
    zone written out."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value!r} is naive; a timezone-aware datetime is required")
    utc = _NAIVE_EPOCH + (value - _UTC_EPOCH)
    return utc.isoformat() + ("+00:00" if utc.microsecond else ".000000+00:00")


_NAIVE_EPOCH = datetime(1970, 1, 1)
_UTC_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _canonical(value: object) -> _Canonical:
    """A JSON value standing for ``value`` exactly: one spelling per value."""
    kind = type(value)
    # The common exact types first (the same spelling as the general rules below).
    if kind is str or kind is int or value is None:
        return value  # type: ignore[return-value]
    if kind is datetime:
        return _datetime(value)  # type: ignore[arg-type]
    if kind is tuple or kind is list:
        return [_canonical(item) for item in value]  # type: ignore[attr-defined]
    if kind is frozenset:
        return _sorted(value)  # type: ignore[arg-type]
    names = _FIELDS.get(kind)
    if names is not None:
        return {name: _canonical(getattr(value, name)) for name in names}
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, datetime):
        return _datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        # "99.8" and "99.80" are the same number: normalize the exponent.
        return "0" if value.is_zero() else str(value.normalize())
    if isinstance(value, Mapping):
        return _canonical_mapping(value)
    if isinstance(value, (set, frozenset)):
        return _sorted(value)
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS.setdefault(kind, tuple(field.name for field in fields(value)))
        return {name: _canonical(getattr(value, name)) for name in names}
    raise TypeError(f"inputs_digest: cannot canonicalize {type(value).__name__} {value!r}")


def _canonical_mapping(value: Mapping[object, object]) -> dict[str, _Canonical]:
    """:func:`_canonical` of a mapping: its keys as text, its values canonical; a time is
    written once per instant in it (a maintenance window's notices: every customer of a
    shared service noticed at the same time, 10,000 of them on the web panel)."""
    canonical: dict[str, _Canonical] = {}
    instants: dict[datetime, str] | None = None
    for key, item in value.items():
        if type(item) is datetime:
            if instants is None:
                instants = {}
            text = instants.get(item)
            if text is None:
                text = instants[item] = _datetime(item)
            canonical[str(key)] = text
        else:
            canonical[str(key)] = _canonical(item)
    return canonical
