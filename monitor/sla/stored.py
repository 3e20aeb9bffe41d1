"""Reading a stored JSON document back field by field, each value checked for its type.

A frozen report revision (R-C3) is JSON in the database; :meth:`MonthReport.from_json
<monitor.sla.report.MonthReport.from_json>` reads it through :class:`Fields`, so a renamed or
mistyped field is a :class:`~monitor.errors.StoreError` naming where it is, never a
``KeyError`` three calls later::

    >>> Fields({"id": 3, "end": None}, "incident").integer("id")
    3
    >>> Fields({"id": "3"}, "customers[0].incidents[2]").integer("id")
    Traceback (most recent call last):
    ...
    monitor.errors.StoreError: stored report: customers[0].incidents[2].id is '3', expected an integer
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import cast

from monitor.collector import bulk_cache
from monitor.errors import StoreError
from monitor.sla.calendar import CALENDARS, CalendarName
from monitor.sla.inputs import CAUSES, Cause

__all__ = ["Fields", "listed_apart", "stored_instant"]


class Fields:
    """One JSON object of a stored document; ``where`` is its path, for errors."""

    __slots__ = ("_document", "_where")

    def __init__(self, document: object, where: str) -> None:
        if not isinstance(document, Mapping):
            raise _wrong(where, document, "an object")
        self._document: Mapping[str, object] = document
        self._where = where

    def has(self, key: str) -> bool:
        return key in self._document

    def _value(self, key: str) -> object:
        try:
            return self._document[key]
        except KeyError:
            raise StoreError(f"stored report: {self._where}.{key} is missing") from None

    def integer(self, key: str) -> int:
        value = self._value(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _wrong(f"{self._where}.{key}", value, "an integer")

    def optional_integer(self, key: str) -> int | None:
        return None if self._value(key) is None else self.integer(key)

    def decimal(self, key: str) -> Decimal:
        """A number as JSON shows it (``99.663``, ``7.5``, ``8``), exactly: a float through
        its shortest repr, which is the decimal ``to_json`` rounded it to."""
        value = self._value(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _wrong(f"{self._where}.{key}", value, "a number")
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)

    def optional_decimal(self, key: str) -> Decimal | None:
        return None if self._value(key) is None else self.decimal(key)

    def decimal_text(self, key: str) -> Decimal:
        """A number written as decimal text (``"3650.00"``), exactly: money and the policy's
        fractions, which a JSON number would round."""
        text = self.text(key)
        try:
            number = Decimal(text)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise _wrong(f"{self._where}.{key}", text, "a decimal number as text")
        return number

    def boolean(self, key: str) -> bool:
        value = self._value(key)
        if isinstance(value, bool):
            return value
        raise _wrong(f"{self._where}.{key}", value, "true or false")

    def mapping(self, key: str) -> Mapping[str, object]:
        value = self._value(key)
        if isinstance(value, Mapping):
            return value
        raise _wrong(f"{self._where}.{key}", value, "an object")

    def text(self, key: str) -> str:
        value = self._value(key)
        if isinstance(value, str):
            return value
        raise _wrong(f"{self._where}.{key}", value, "a string")

    def optional_text(self, key: str) -> str | None:
        return None if self._value(key) is None else self.text(key)

    def instant(self, key: str) -> datetime:
        """An ISO 8601 UTC time as :func:`monitor.sla.report.iso_utc` writes it."""
        text = self.text(key)
        instant = stored_instant(text)
        if instant is None:
            raise _wrong(f"{self._where}.{key}", text, "an ISO 8601 UTC time such as "
                         "2026-03-01T10:00:00Z")
        return instant

    def optional_instant(self, key: str) -> datetime | None:
        return None if self._value(key) is None else self.instant(key)

    def cause(self, key: str) -> Cause:
        value = self.text(key)
        if value not in CAUSES:
            raise _wrong(f"{self._where}.{key}", value, f"one of {', '.join(CAUSES)}")
        return value

    def calendar(self, key: str) -> CalendarName:
        value = self.text(key)
        if value not in CALENDARS:
            raise _wrong(f"{self._where}.{key}", value, f"one of {', '.join(CALENDARS)}")
        return value

    def _list(self, key: str) -> list[object]:
        value = self._value(key)
        if isinstance(value, list):
            return value
        raise _wrong(f"{self._where}.{key}", value, "a list")

    def integers(self, key: str) -> tuple[int, ...]:
        found = self._list(key)
        for index, item in enumerate(found):
            if not isinstance(item, int) or isinstance(item, bool):
                raise _wrong(f"{self._where}.{key}[{index}]", item, "an integer")
        return tuple(cast(list[int], found))

    def texts(self, key: str) -> tuple[str, ...]:
        found = self._list(key)
        for index, item in enumerate(found):
            if not isinstance(item, str):
                raise _wrong(f"{self._where}.{key}[{index}]", item, "a string")
        return tuple(cast(list[str], found))

    def seconds_by_name(self, key: str) -> dict[str, int]:
        """An object of integer seconds by name (``excluded_by_reason``)."""
        value = self._value(key)
        if not isinstance(value, Mapping):
            raise _wrong(f"{self._where}.{key}", value, "an object")
        named = Fields(value, f"{self._where}.{key}")
        return {name: named.integer(name) for name in value}

    def instants_by_name(self, key: str) -> dict[str, datetime]:
        """An object of times by name (a maintenance window's ``notices`` by customer)."""
        value = self._value(key)
        if not isinstance(value, Mapping):
            raise _wrong(f"{self._where}.{key}", value, "an object")
        named = Fields(value, f"{self._where}.{key}")
        return {name: named.instant(name) for name in value}

    def texts_by_name(self, key: str) -> dict[str, tuple[str, ...]]:
        """An object of lists of strings by name (the projects each server hosted)."""
        value = self.mapping(key)
        named = Fields(value, f"{self._where}.{key}")
        return {name: named.texts(name) for name in value}

    def items(self, key: str) -> list[tuple[object, str]]:
        """The elements of the list ``key``, each with its path."""
        return [(item, f"{self._where}.{key}[{index}]")
                for index, item in enumerate(self._list(key))]


@bulk_cache  # a month's report repeats the same few instants per incident
def stored_instant(text: str) -> datetime | None:
    """``text`` as :func:`monitor.sla.report.iso_utc` writes a time, or None if it is not an
    ISO 8601 time with a zone (:meth:`Fields.instant` names it)."""
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        return None
    return None if instant.tzinfo is None else instant


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


def decoded_at(text: str, at: int) -> tuple[object, int]:
    """The JSON value that begins at ``at`` in ``text`` (no copy of it made), and where it
    ends."""
    try:
        return _DECODER.raw_decode(text, at)
    except json.JSONDecodeError as exc:
        raise StoreError(f"stored report: not JSON at character {exc.pos}: {exc.msg}") from None


def listed_apart(text: str, key: str, each: Callable[[object, int], None]) -> dict[str, object]:
    """A JSON object's text read with the elements of its list ``key`` apart: each is parsed
    and handed to ``each`` with where it begins in ``text`` (:func:`decoded_at` reads it
    there again), then let go; returned is the object with ``key`` an empty list. Any JSON
    text: the canonical one a revision stores, or spaced."""
    found: dict[str, object] = {}

    def skip(at: int) -> int:
        return _SPACE.match(text, at).end()  # type: ignore[union-attr]  # matches always

    def expect(at: int, char: str) -> int:
        if text[at:at + 1] != char:
            raise StoreError(f"stored report: {char!r} expected at character {at}")
        return skip(at + 1)

    at = expect(skip(0), "{")
    while text[at:at + 1] != "}":
        if found:
            at = expect(at, ",")
        name, at = decoded_at(text, at)
        if not isinstance(name, str):
            raise _wrong("report", name, "an object")
        at = expect(skip(at), ":")
        if name != key:
            found[name], at = decoded_at(text, at)
            at = skip(at)
            continue
        found[name] = []
        at = expect(at, "[")
        while text[at:at + 1] != "]":
            if at and text[at] == ",":
                at = skip(at + 1)
            element, end = decoded_at(text, at)
            each(element, at)
            at = skip(end)
            if text[at:at + 1] not in (",", "]"):
                raise StoreError(f"stored report: ',' or ']' expected at character {at}")
        at = skip(at + 1)
    return found


def _wrong(where: str, value: object, allowed: str) -> StoreError:
    return StoreError(f"stored report: {where} is {value!r}, expected {allowed}")
