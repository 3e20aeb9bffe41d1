"""What every action shares: checks that name the field, the value and what is allowed.

Actions validate everything first and raise :class:`~monitor.errors.InputError`
naming the *field* in the action's words (``service``, ``end``, ``month``); only
then do they write, in one transaction. Bad input changes nothing (SPEC section 8).
Times in messages are ISO 8601 UTC with ``Z`` (:func:`iso_utc`), as in JSON; the
edge shows what the user typed first (:meth:`~monitor.errors.InputError.as_typed`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from monitor.errors import InputError
from monitor.sla import CAUSES
from monitor.sla.report import iso_utc

__all__ = ["CHANNELS", "iso_utc", "known", "known_cause", "not_blank", "not_future", "ordered"]

CHANNELS = ("phone", "email")  # R-N1: how a customer may be notified


def known(value: str, allowed: Collection[str], field: str, what: str) -> None:
    if value not in allowed:
        raise InputError(field, value, f"one of the configured {what}: {', '.join(sorted(allowed))}")


def known_cause(cause: str, field: str = "cause") -> None:
    if cause not in CAUSES:
        raise InputError(field, cause, "one of: " + ", ".join(CAUSES))


def ordered(start: dt.datetime, end: dt.datetime) -> None:
    if end <= start:
        raise InputError("end", iso_utc(end), f"a time after {{start}} ({iso_utc(start)})")


def not_future(at: dt.datetime, now: dt.datetime, field: str) -> None:
    if at > now:
        raise InputError(field, iso_utc(at), f"a time not after now ({iso_utc(now)})")


def not_blank(text: str, field: str, why: str) -> None:
    if not text.strip():
        raise InputError(field, text, why)
