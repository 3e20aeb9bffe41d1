"""What every action shares: checks that name the field, the value and what is allowed.

Actions validate everything first and raise :class:`~monitor.errors.InputError`
naming the *field* in the action's words (``service``, ``end``, ``month``); only
then do they write, in one transaction. Bad input changes nothing (SPEC section 8).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from monitor.errors import InputError
from monitor.sla import CAUSES

__all__ = [
    "CHANNELS",
    "MAX_ID",
    "MAX_TEXT",
    "bounded_text",
    "known",
    "known_cause",
    "not_blank",
    "not_future",
    "ordered",
    "record_id",
]

CHANNELS = ("phone", "email")  # R-N1: how a customer may be notified
MAX_ID = 2**63 - 1  # the largest id either database stores (64-bit integers)
MAX_TEXT = 2000  # characters of a note or reason: a paragraph, never a file


def record_id(value: int, field: str, what: str) -> None:
    """An id no database could hold (``18446744073709551616``) is unknown, not a crash."""
    if not 1 <= value <= MAX_ID:
        raise InputError(field, value, f"an existing {what} id (a whole number from 1)")


def bounded_text(text: str | None, field: str) -> None:
    """Notes and reasons are bounded (issue 13); control characters are kept as typed and
    shown escaped (:func:`monitor.present.tables.printable`)."""
    if text is not None and len(text) > MAX_TEXT:
        raise InputError(
            field, text[:40] + "...", f"at most {MAX_TEXT} characters (this one has {len(text)})"
        )


def known(value: str, allowed: Collection[str], field: str, what: str) -> None:
    if value not in allowed:
        raise InputError(field, value, f"one of the configured {what}: {', '.join(sorted(allowed))}")


def known_cause(cause: str, field: str = "cause") -> None:
    if cause not in CAUSES:
        raise InputError(field, cause, "one of: " + ", ".join(CAUSES))


def ordered(start: dt.datetime, end: dt.datetime) -> None:
    if end <= start:
        raise InputError("end", end.isoformat(), f"a time after {{start}} ({start.isoformat()})")


def not_future(at: dt.datetime, now: dt.datetime, field: str) -> None:
    if at > now:
        raise InputError(field, at.isoformat(), f"a time not after now ({now.isoformat()})")


def not_blank(text: str, field: str, why: str) -> None:
    if not text.strip():
        raise InputError(field, text, why)
