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
from collections.abc import Mapping
from decimal import Decimal

from monitor.sla.report import JSON, iso_utc

__all__ = ["as_json"]


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
