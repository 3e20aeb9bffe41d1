"""The one formatter of times, durations, money and percentages, for people.

CLI tables, e-mails and (later) HTML pages show values through these
functions and nothing else; JSON keeps its own machine forms (ISO 8601 UTC,
integer seconds, rounded numbers; :mod:`monitor.sla.report`).

Times are shown in the configured zone and calendar (R-M5), Jalali through
``jdatetime``, never by hand; the zone is named, so a time read in an e-mail
means one instant:

>>> import datetime as dt
>>> at = dt.datetime(2026, 3, 21, 9, 0, tzinfo=dt.UTC)
>>> format_time(at, "Asia/Tehran", "jalali")
'1405/01/01 12:30 Asia/Tehran (UTC+03:30; Gregorian 2026-03-21)'
>>> format_time(at, "UTC", "gregorian", seconds=True)
'2026-03-21 09:00:00 UTC'

Durations are exact to the second (fractions only below a minute) and read the
same in the configuration: :func:`monitor.config.parse_duration` accepts them.

>>> format_duration(7500), format_duration(86461), format_duration(0.4), format_duration(0)
('2 h 5 min', '1 d 1 min 1 s', '0.4 s', '0 s')
>>> format_money(Decimal("89.995"), "EUR"), format_percent(Decimal("99.73118"))
('90.00 EUR', '99.731')
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import jdatetime  # type: ignore[import-untyped, unused-ignore]

from monitor.errors import InputError
from monitor.sla.report import shown_availability, shown_money

__all__ = [
    "ISO_HINT",
    "format_day",
    "format_duration",
    "format_elapsed",
    "format_money",
    "format_percent",
    "format_time",
    "parse_time",
]

ISO_HINT = "an ISO 8601 time like 2026-03-21T14:30 (the configured zone) or 2026-03-21T11:00Z"

_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def format_time(
    at: dt.datetime | None, timezone: str, calendar: str = "gregorian", *, seconds: bool = False
) -> str:
    """``at`` in the provider's zone and calendar; ``-`` for None. ``seconds`` for tables,
    where incidents are compared to the probe interval (R-M1)."""
    if at is None:
        return "-"
    local = at.astimezone(ZoneInfo(timezone))
    clock = "%H:%M:%S" if seconds else "%H:%M"
    if timezone == "UTC" and calendar == "gregorian":
        return local.strftime(f"%Y-%m-%d {clock}") + " UTC"
    raw = local.strftime("%z")
    offset = f"UTC{raw[:3]}:{raw[3:]}"
    if calendar == "jalali":
        jalali = jdatetime.datetime.fromgregorian(datetime=local)
        return (
            f"{jalali.strftime(f'%Y/%m/%d {clock}')} {timezone} "
            f"({offset}; Gregorian {local:%Y-%m-%d})"
        )
    return f"{local.strftime(f'%Y-%m-%d {clock}')} {timezone} ({offset})"


def format_day(day: dt.date, calendar: str = "gregorian") -> str:
    """A calendar day of the provider's calendar (R-M5), as in :func:`format_time`.

    >>> format_day(dt.date(2026, 3, 21), "jalali"), format_day(dt.date(2026, 3, 21))
    ('1405/01/01', '2026-03-21')
    """
    if calendar == "jalali":
        return str(jdatetime.date.fromgregorian(date=day).strftime("%Y/%m/%d"))
    return day.isoformat()


def format_duration(seconds: float | None) -> str:
    """``5400`` → ``1 h 30 min``: every non-zero unit, exact to the second; ``-`` for None."""
    if seconds is None:
        return "-"
    if 0 < seconds < 60 and seconds != int(seconds):
        return f"{seconds:g} s"
    rest = max(0, round(seconds))
    parts = []
    for unit, size in _UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts) or "0 s"


def format_elapsed(seconds: float) -> str:
    """``9.34`` → ``0:09.3``: a progress clock (minutes:seconds.tenths) for live output.

    >>> format_elapsed(9.34), format_elapsed(75.0)
    ('0:09.3', '1:15.0')
    """
    tenths = int(seconds * 10)
    minutes, rest = divmod(tenths, 600)
    return f"{minutes}:{rest // 10:02d}.{rest % 10}"


def format_money(amount: Decimal, currency: str) -> str:
    """Two decimals, half up, as in the JSON report (R-T2: the engine keeps it exact)."""
    return f"{shown_money(amount):.2f} {currency}"


def format_percent(percent: Decimal) -> str:
    """Availability to three decimals, rounded *down* as in the JSON report (R-M6): a value
    shown as meeting the target never hides a tier."""
    return f"{shown_availability(percent):.3f}"


def parse_time(text: str, timezone: str, field: str) -> dt.datetime:
    """What an operator typed, as an aware UTC datetime; a time without an offset is in
    ``timezone`` (SPEC section 7). A bad one is an :class:`InputError` naming ``field``."""
    raw = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise InputError(field, text, ISO_HINT) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(timezone))
    return parsed.astimezone(dt.UTC)
