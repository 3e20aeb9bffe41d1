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
from decimal import Decimal

from monitor.errors import InputError
from monitor.sla import CAUSES, is_half_days, is_money, minor_units
from monitor.sla.report import iso_utc

__all__ = [
    "CHANNELS",
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
]

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


def one_of(value: str, allowed: Collection[str], field: str) -> None:
    """``value`` is one of a fixed set of words (a channel, a decision, a finding)."""
    if value not in allowed:
        raise InputError(field, value, "one of: " + ", ".join(allowed))


def not_before(at: dt.datetime, earliest: dt.datetime, field: str, what: str) -> None:
    """Events happen in order: ``at`` is not before ``earliest`` (``what`` names it)."""
    if at < earliest:
        raise InputError(field, at.isoformat(), f"a time not before {what} ({earliest.isoformat()})")


def money(amount: Decimal, currency: str, field: str, *, positive: bool = True) -> None:
    """An amount of money in ``currency``: no finer than its unit, and above zero (or at
    least zero) where a payment is meant."""
    if not amount.is_finite() or not is_money(amount, currency):
        places = minor_units(currency)
        unit = "whole units" if places == 0 else f"at most {places} decimal places"
        raise InputError(field, str(amount), f"an amount in {currency} with {unit}")
    if (amount <= 0) if positive else (amount < 0):
        raise InputError(field, str(amount),
                         f"an amount {'above' if positive else 'of at least'} 0 {currency}")


def half_days(days: Decimal, field: str) -> None:
    """Days of service are whole or exact halves (3.5), above zero."""
    if not days.is_finite() or not is_half_days(days) or days <= 0:
        raise InputError(field, str(days), "a number of days above 0, whole or a half (3.5)")
