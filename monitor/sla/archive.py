"""A month's engine inputs as JSON and back, exactly (an evidence archive carries them, and
``sla-monitor evidence verify`` recomputes the figures from them with :func:`compute_month`
on another machine). Pure: no I/O, no clock.

Every value has one spelling: times as ISO 8601 UTC with microseconds, decimals as strings,
sets as sorted lists, mappings with string keys (a notification's key is
``"INCIDENT_ID/CUSTOMER_ID"``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from monitor.sla.calendar import MonthPeriod
from monitor.sla.engine import compute_month
from monitor.sla.inputs import CustomerInput, IncidentInput, MaintenanceInput, TicketInput
from monitor.sla.intervals import Interval
from monitor.sla.policy import Policy
from monitor.sla.report import MonthReport

__all__ = ["ArchivedInputs", "decode", "encode"]


def encode(value: Any) -> Any:
    """The JSON value of an engine input (dataclasses, times, decimals, sets, mappings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, frozenset | set):
        return sorted((encode(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    return value


def decode(kind: Any, document: Any) -> Any:
    """``document`` (from :func:`encode`) read back as ``kind`` (a type hint)."""
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if kind is Any:
        return document
    if origin in (typing.Union, types.UnionType):
        if document is None and type(None) in args:
            return None
        chosen = [a for a in args if a is not type(None)]
        return decode(chosen[0], document)
    if origin is typing.Literal:
        if document not in args:
            raise ValueError(f"{document!r} is not one of {args}")
        return document
    if origin in (frozenset, set):
        return frozenset(decode(args[0], v) for v in document)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in document)
        return tuple(decode(a, v) for a, v in zip(args, document, strict=True))
    if origin is list:
        return [decode(args[0], v) for v in document]
    if origin in (dict, Mapping) or origin is typing.get_origin(Mapping[str, int]):
        return {decode(args[0], k): decode(args[1], v) for k, v in document.items()}
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = typing.get_type_hints(kind)
        return kind(**{f.name: decode(hints[f.name], document[f.name])
                       for f in dataclasses.fields(kind) if f.init and f.name in document})
    if kind is datetime:
        return datetime.fromisoformat(document).astimezone(UTC)
    if kind is date:
        return date.fromisoformat(document)
    if kind is Decimal:
        return Decimal(document)
    if kind is bool:
        if not isinstance(document, bool):
            raise ValueError(f"{document!r} is not true or false")
        return document
    if kind in (int, str):
        if not isinstance(document, kind) or isinstance(document, bool):
            raise ValueError(f"{document!r} is not a {kind.__name__}")
        return document
    raise TypeError(f"cannot read {kind!r}")


@dataclasses.dataclass(frozen=True)
class ArchivedInputs:
    """Everything :func:`compute_month` takes for one month, as an archive carries it."""

    period: MonthPeriod
    customers: list[CustomerInput]
    incidents: list[IncidentInput]
    maintenance: list[MaintenanceInput]
    notifications: dict[tuple[int, str], datetime]
    unknown: list[Interval]
    policy: Policy
    tickets: list[TicketInput]
    unknown_by_service: dict[str, list[Interval]]

    def to_json(self) -> dict[str, Any]:
        document = {f.name: encode(getattr(self, f.name)) for f in dataclasses.fields(self)
                    if f.name != "notifications"}
        document["notifications"] = {f"{incident}/{customer}": encode(at) for
                                     (incident, customer), at in sorted(self.notifications.items())}
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ArchivedInputs:
        notifications = {}
        for key, at in document["notifications"].items():
            incident, _, customer = key.partition("/")
            notifications[(int(incident), customer)] = decode(datetime, at)
        return cls(
            decode(MonthPeriod, document["period"]),
            decode(list[CustomerInput], document["customers"]),
            decode(list[IncidentInput], document["incidents"]),
            decode(list[MaintenanceInput], document["maintenance"]),
            notifications,
            decode(list[Interval], document["unknown"]),
            decode(Policy, document["policy"]),
            decode(list[TicketInput], document["tickets"]),
            decode(dict[str, list[Interval]], document["unknown_by_service"]),
        )

    def compute(self, now: datetime) -> MonthReport:
        return compute_month(self.period, self.customers, self.incidents, self.maintenance,
                             self.notifications, self.unknown, self.policy, now, self.tickets,
                             self.unknown_by_service)
