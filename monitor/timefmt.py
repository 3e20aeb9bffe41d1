"""Times at the edges: parsing what operators type, showing times in the provider's zone.

Inside, every time is an aware UTC ``datetime``. Operators type ISO 8601; a
time without an offset is in the configured zone (SPEC section 7). Shown
times use the configured zone, and the Jalali date beside it when the
provider's calendar is Jalali.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import jdatetime

from monitor.errors import InputError

ISO_HINT = "an ISO 8601 time like 2026-03-21T14:30 (the configured zone) or 2026-03-21T11:00Z"


def parse_time(text: str, tz: str, field: str) -> dt.datetime:
    """``text`` as an aware UTC datetime; a time without an offset is in ``tz``."""
    raw = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise InputError(field, text, ISO_HINT) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed.astimezone(dt.UTC)


def show_time(instant: dt.datetime | None, tz: str, calendar: str = "gregorian") -> str:
    """``2026-03-21 14:30:00 +0330`` (and ``[1405-01-01]`` in the Jalali calendar)."""
    if instant is None:
        return "-"
    local = instant.astimezone(ZoneInfo(tz))
    text = local.strftime("%Y-%m-%d %H:%M:%S %z")
    if calendar == "jalali":
        jalali = jdatetime.date.fromgregorian(date=local.date())
        text += f" [{jalali.strftime('%Y-%m-%d')}]"
    return text


def show_seconds(seconds: float | None) -> str:
    """``5400`` → ``1h30m00s``: durations in reports, exact to the second."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


def show_money(amount: float | Decimal, currency: str) -> str:
    """``70.0, "EUR"`` → ``70.00 EUR``: money in reports, to the cent."""
    return f"{Decimal(str(amount)).quantize(Decimal('0.01'), ROUND_HALF_UP):,} {currency}"


def show_elapsed(seconds: float) -> str:
    """``9.34`` → ``0:09.3``: a progress clock (minutes:seconds.tenths) for live output."""
    tenths = int(seconds * 10)
    minutes, rest = divmod(tenths, 600)
    return f"{minutes}:{rest // 10:02d}.{rest % 10}"
