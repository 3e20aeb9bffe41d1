"""What every action shares: checks that name the field, the value and what is allowed.

Actions validate everything first and raise :class:`~monitor.errors.InputError`
naming the *field* in the action's words (``service``, ``end``, ``month``); only
then do they write, in one transaction. Bad input changes nothing (SPEC section 8).
A time refused is the value read, ISO 8601 UTC with ``Z`` (:func:`iso_utc`), as in
JSON; the edge shows what the user typed first (:meth:`~monitor.errors.InputError.as_typed`).
The instants and days named in what is allowed (a deadline, the start of a month) are
marked (:func:`~monitor.errors.time_mark`, :func:`~monitor.errors.day_mark`), never
written out here: each edge shows them its way, the command line in the provider's zone
and calendar, the API as ISO 8601 UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Collection
from decimal import Decimal
from typing import Annotated, ParamSpec, TypeVar

from monitor.errors import InputError, NotFound, some_of, time_mark
from monitor.sla import CAUSES, is_half_days, is_money, minor_units
from monitor.sla.report import iso_utc

__all__ = [
    "CHANNELS",
    "MAX_DAYS",
    "MAX_ID",
    "MAX_MONEY",
    "MAX_TEXT",
    "FreeText",
    "bounded_text",
    "checks_text",
    "half_days",
    "iso_utc",
    "known",
    "known_cause",
    "money",
    "not_before",
    "not_blank",
    "not_future",
    "one_of",
    "ordered",
    "record_id",
]

CHANNELS = ("phone", "email")  # R-N1: how a customer may be notified
# The largest id both databases store: ids are INTEGER columns, 32 bits on PostgreSQL
# (SQLite's 64 bits hold more); a larger one is unknown, not a driver's overflow.
MAX_ID = 2**31 - 1
MAX_TEXT = 2000  # characters of a note or reason: a paragraph, never a file
# Money is below what any yearly fee is, as the configuration's fees (monitor.config.schema
# Amount): a thousand trillion, even in rials.
MAX_MONEY = Decimal(10) ** 15
MAX_DAYS = 36600  # days of service granted at once: a hundred years, past any credit


def record_id(value: int, field: str, what: str) -> None:
    """An id no database could hold (``18446744073709551616``) is unknown, not a crash."""
    if not 1 <= value <= MAX_ID:
        raise InputError(field, value, f"an existing {what} id (a whole number from 1)")


def bounded_text(text: str | None, field: str) -> None:
    """Notes and reasons are bounded; control characters are kept as typed and shown
    escaped (:func:`monitor.present.tables.printable`). The error shows the text's start
    (:func:`monitor.errors.shortened`), its length and the limit.

    What no database stores is refused: a NUL (PostgreSQL's text cannot hold one) and a
    lone surrogate (U+D800..U+DFFF: not Unicode text; a JSON ``"\ud800"``, or a command
    line's byte that is not UTF-8, which Python reads as one), named where it stands."""
    if text is None:
        return
    if len(text) > MAX_TEXT:
        raise InputError(
            field, text, f"at most {MAX_TEXT} characters (this one has {len(text)})"
        )
    found = _UNSTORABLE.search(text)
    if found is not None:
        at = found.start()
        start = max(0, at - 15)  # the text around it, as short as every echo (shortened)
        shown = (("..." if start else "") + text[start:start + 30]
                 + ("..." if start + 30 < len(text) else ""))
        raise InputError(
            field, shown, f"text without a NUL character or a lone surrogate (U+D800..U+DFFF), "
            f"which no database stores (found {found.group()!r} at character {at + 1})")


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> bool:
    """Whether a database can take ``text`` at all, even as a query's parameter (no NUL,
    no lone surrogate: PostgreSQL refuses the query otherwise): what no record holds."""
    return _UNSTORABLE.search(text) is None


FreeText = Annotated[str, "free text: at most MAX_TEXT characters (checks_text)"]
"""An action's argument that is free text (a note, a reason, a summary, a reference): a
keyword-only argument so annotated is bounded by :func:`checks_text`, whatever the edge."""

_FREE_TEXT = re.compile(r"\bFreeText\b")
P = ParamSpec("P")
R = TypeVar("R")


def checks_text(action: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """The one place free text is bounded: before ``action`` runs (nothing is read or
    written yet), every keyword-only argument annotated :data:`FreeText` (or ``FreeText |
    None``) is checked by :func:`bounded_text`, naming the argument. The arguments checked
    are kept as ``__free_text__`` (a test walks every action for them)."""
    texts = [p for p in inspect.signature(action).parameters.values()
             if _FREE_TEXT.search(str(p.annotation))]
    if not texts or any(p.kind != inspect.Parameter.KEYWORD_ONLY for p in texts):
        raise TypeError(f"{action.__name__}: free text must be keyword-only FreeText arguments")
    fields = tuple(p.name for p in texts)

    @functools.wraps(action)
    async def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        for name in fields:
            value = kwargs.get(name)
            if isinstance(value, str):
                bounded_text(value, name)
        return await action(*args, **kwargs)

    checked.__free_text__ = fields  # type: ignore[attr-defined]
    return checked



def known(value: str, allowed: Collection[str], field: str, what: str) -> None:
    """``value`` is one of ``allowed`` (the configured ``what``), else refused naming them
    (:func:`~monitor.errors.some_of`: all of them when they are few, else how many and the
    nearest).

    >>> known("c0O12", [f"c{n:04d}" for n in range(100)], "customer", "customers")
    Traceback (most recent call last):
    ...
    monitor.errors.NotFound: customer: 'c0O12' is not valid; allowed: one of the configured customers: 100 ids, the nearest c0012, ...
    """
    if value not in allowed:
        raise NotFound(field, value, f"one of the configured {what}: {some_of(value, allowed)}")


def known_cause(cause: str, field: str = "cause") -> None:
    if cause not in CAUSES:
        raise InputError(field, cause, "one of: " + ", ".join(CAUSES))


def ordered(start: dt.datetime, end: dt.datetime) -> None:
    if end <= start:
        raise InputError("end", iso_utc(end), f"a time after {{start}} ({time_mark(start)})")


def not_future(at: dt.datetime, now: dt.datetime, field: str) -> None:
    if at > now:
        raise InputError(field, iso_utc(at), f"a time not after now ({time_mark(now)})")


def not_blank(text: str, field: str, why: str) -> None:
    if not text.strip():
        raise InputError(field, text, why)


def one_of(value: str, allowed: Collection[str], field: str) -> None:
    """``value`` is one of a fixed set of words (a channel, a decision, a finding)."""
    if value not in allowed:
        raise InputError(field, value, "one of: " + ", ".join(allowed))


def not_before(at: dt.datetime, earliest: dt.datetime, field: str, what: str) -> None:
    """Events happen in order: ``at`` is not before ``earliest`` (``what`` names it)."""
    if at < earliest:
        raise InputError(field, iso_utc(at), f"a time not before {what} ({time_mark(earliest)})")


def money(amount: Decimal, currency: str, field: str, *, positive: bool = True) -> None:
    """An amount of money in ``currency``: no finer than its unit, and above zero (or at
    least zero) where a payment is meant."""
    low = "above" if positive else "of at least"
    if amount.is_finite() and (amount > MAX_MONEY or ((amount <= 0) if positive else (amount < 0))):
        raise InputError(field, str(amount),
                         f"an amount {low} 0 {currency} and at most {MAX_MONEY:f} {currency}")
    if not amount.is_finite() or not is_money(amount, currency):
        places = minor_units(currency)
        unit = "whole units" if places == 0 else f"at most {places} decimal places"
        raise InputError(field, str(amount), f"an amount in {currency} with {unit}")


def half_days(days: Decimal, field: str) -> None:
    """Days of service are whole or exact halves (3.5), above zero and at most
    :data:`MAX_DAYS`."""
    if not days.is_finite() or not 0 < days <= MAX_DAYS or not is_half_days(days):
        raise InputError(field, str(days),
                         f"a number of days above 0 and at most {MAX_DAYS}, whole or a half (3.5)")
