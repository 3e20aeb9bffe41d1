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

Durations are whole seconds, as the engine cuts them (R-M1: a measured duration is
precise to one probe interval, never to a fraction of a second); only a configured
setting below 10 s keeps its fraction (a 0.4 s probe interval), to two decimals. They
read the same in the configuration: :func:`monitor.config.parse_duration` accepts them.

>>> format_duration(7500), format_duration(86461), format_duration(0.4), format_duration(0)
('2 h 5 min', '1 d 1 min 1 s', '0.4 s', '0 s')
>>> format_duration(4.00066), format_duration(12.5)
('4 s', '12 s')
>>> format_money(Decimal("89.995"), "EUR"), format_percent(Decimal("99.73118"))
('90.00 EUR', '99.731')
>>> format_money(Decimal("360000"), "IRR"), format_days(Decimal("3.5")), format_days(Decimal(1))
('360000 IRR', '3.5 days', '1 day')
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import jdatetime  # type: ignore[import-untyped, unused-ignore]

from monitor.errors import InputError, in_ascii_digits
from monitor.sla.calendar import calendar_day, number_range_pattern
from monitor.sla.ledger import money_shown
from monitor.sla.report import shown_availability, shown_days

__all__ = [
    "ISO_HINT",
    "TIME_PATTERN",
    "format_day",
    "format_days",
    "format_duration",
    "format_elapsed",
    "format_money",
    "format_percent",
    "format_time",
    "parse_time",
]

ISO_HINT = "an ISO 8601 time like 2026-03-21T14:30 (the configured zone) or 2026-03-21T11:00Z"

EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)

# The times TIME_PATTERN allows: a date that exists (29 February in leap years only,
# 2000 and 2400 among them, 2100 not), a time of day, an optional offset (Z or +HH:MM).
_LEAP_YEARS = r"(?:19(?:7[26]|8[048]|9[26])|2[0-9](?:[02468][48]|[2468]0|[13579][26])|2[048]00)"
_DAYS = (r"(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"  # every month
         r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31")
#: The times :func:`parse_time` reads, in their canonical form, as a regular expression
#: (ECMA 262 and Python alike): what the API's document says a time is (a client built
#: from it sends only times the API takes). The years 1971 to 2998, clear of the bounds
#: :func:`parse_time` keeps in UTC whatever the offset; a time without an offset is in the
#: provider's zone, where one a daylight-saving change skips or repeats is still refused
#: (the document's description says so). ``parse_time`` reads more forms than these
#: (a space for the T, a date alone): the command line's habits.
TIME_PATTERN = (
    rf"^(?:{number_range_pattern(1971, 2998)}-(?:{_DAYS})|{_LEAP_YEARS}-02-29)"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?$"
)

_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def format_time(
    at: dt.datetime | None,
    timezone: str,
    calendar: str = "gregorian",
    *,
    seconds: bool = False,
    compact: bool = False,
) -> str:
    """``at`` in the provider's zone and calendar; ``-`` for None. ``seconds`` for tables,
    where incidents are compared to the probe interval (R-M1). ``compact`` for the rows of
    a document that names the zone once (a statement): the offset without the zone's name
    nor the Gregorian date, still one instant.

    >>> format_time(dt.datetime(2026, 3, 21, 9, 0, tzinfo=dt.UTC), "Asia/Tehran", "jalali",
    ...             compact=True)
    '1405/01/01 12:30 (UTC+03:30)'
    """
    if at is None:
        return "-"
    local = at.astimezone(ZoneInfo(timezone))
    clock = "%H:%M:%S" if seconds else "%H:%M"
    if timezone == "UTC" and calendar == "gregorian":
        return local.strftime(f"%Y-%m-%d {clock}") + " UTC"
    offset = _offset(local)
    if compact:
        day = (jdatetime.datetime.fromgregorian(datetime=local).strftime(f"%Y/%m/%d {clock}")
               if calendar == "jalali" else local.strftime(f"%Y-%m-%d {clock}"))
        return f"{day} ({offset})"
    if calendar == "jalali":
        jalali = jdatetime.datetime.fromgregorian(datetime=local)
        return (
            f"{jalali.strftime(f'%Y/%m/%d {clock}')} {timezone} "
            f"({offset}; Gregorian {local:%Y-%m-%d})"
        )
    return f"{local.strftime(f'%Y-%m-%d {clock}')} {timezone} ({offset})"


def format_day(day: dt.date | None, calendar: str = "gregorian", *,
               gregorian: bool = False) -> str:
    """A calendar day of the provider's calendar (R-M5), as in :func:`format_time`; ``-``
    for None. ``gregorian``: a Jalali day with its Gregorian date beside it, as the
    command line shows instants (the configuration's days are Gregorian).

    >>> format_day(dt.date(2026, 3, 21), "jalali"), format_day(dt.date(2026, 3, 21))
    ('1405/01/01', '2026-03-21')
    >>> format_day(dt.date(2027, 6, 21), "jalali", gregorian=True)
    '1406/03/31 (Gregorian 2027-06-21)'
    """
    if day is None:
        return "-"
    if calendar == "jalali":
        shown = str(jdatetime.date.fromgregorian(date=day).strftime("%Y/%m/%d"))
        return f"{shown} (Gregorian {day.isoformat()})" if gregorian else shown
    return day.isoformat()


def duration_parts(seconds: float) -> list[tuple[int, int]]:
    """``5400`` → ``[(1, 1), (30, 2)]``: (count, unit) for every non-zero unit, largest
    first, exact to the second; units index days, hours, minutes, seconds. Every language
    writes its durations from these."""
    rest = max(0, round(seconds))
    parts = []
    for unit, (_, size) in enumerate(_UNITS):
        count, rest = divmod(rest, size)
        if count:
            parts.append((count, unit))
    return parts


def fractional_seconds(seconds: float) -> float | None:
    """A duration under 10 s that is not whole, to the hundredth (written as such); else None."""
    if 0 < seconds < 10 and round(seconds, 2) != round(seconds):
        return round(seconds, 2)
    return None


def format_duration(seconds: float | None) -> str:
    """``5400`` → ``1 h 30 min``: every non-zero unit, exact to the second; ``-`` for None."""
    if seconds is None:
        return "-"
    if (fraction := fractional_seconds(seconds)) is not None:
        return f"{fraction:g} s"
    parts = [f"{count} {_UNITS[unit][0]}" for count, unit in duration_parts(seconds)]
    return " ".join(parts) or "0 s"


def format_elapsed(seconds: float) -> str:
    """``9.34`` → ``0:09.3``: a progress clock (minutes:seconds.tenths) for live output.

    >>> format_elapsed(9.34), format_elapsed(75.0)
    ('0:09.3', '1:15.0')
    """
    tenths = int(seconds * 10)
    minutes, rest = divmod(tenths, 600)
    return f"{minutes}:{rest // 10:02d}.{rest % 10}"


def format_money(amount: Decimal, currency: str, *, grouped: bool = False) -> str:
    """Half up to the currency's unit (two decimals for EUR, whole rials for IRR; the
    engine keeps it exact, R-T2). ``grouped``: thousands separated as English writes them
    (``3,945,205 IRR``), as a customer reads it (SPEC section 7); the operators' command
    line keeps ``3945205 IRR``."""
    shown = money_shown(amount, currency)
    return f"{shown:,f} {currency}" if grouped else f"{shown:f} {currency}"


def format_days(days: Decimal) -> str:
    """Days of service, whole or exact halves (R-P1, the ledger), grouped by thousands as
    English money is (a month's total owed at 10,000 customers).

    >>> format_days(Decimal("3.5")), format_days(Decimal(1)), format_days(Decimal("158367.5"))
    ('3.5 days', '1 day', '158,367.5 days')
    """
    shown = shown_days(days)
    return f"{shown:,} day" if shown in (1, -1) else f"{shown:,} days"


def format_bytes(size: float | None) -> str:
    """``1536`` → ``1.5 KiB``; binary units, one decimal from KiB on; ``-`` when unknown.

    >>> format_bytes(512), format_bytes(3_600), format_bytes(7 * 1024 ** 3), format_bytes(None)
    ('512 B', '3.5 KiB', '7.0 GiB', '-')
    """
    if size is None:
        return "-"
    if abs(size) < 1024:
        return f"{size:.0f} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        size /= 1024
        if abs(size) < 1024 or unit == "TiB":
            break
    return f"{size:.1f} {unit}"


def format_percent(percent: Decimal) -> str:
    """Availability to three decimals, rounded *down* as in the JSON report (R-M6): a value
    shown as meeting the target never hides a tier."""
    return f"{shown_availability(percent):.3f}"


#: What a Jalali provider's command line reads as a time (:func:`parse_time`).
JALALI_HINT = ("a time like 1405-01-01T14:30 or 1405/01/01 14:30 (the provider's calendar, "
               "Jalali, in the configured zone), or an ISO 8601 time like 2026-03-21T11:00Z")

#: A time that begins with a Jalali day: years 1300 to 1499 (PLAUSIBLE_YEARS, no Gregorian
#: year the monitor reads), "-" or "/" between its parts, as days are shown.
_JALALI_DAY = re.compile(r"(1[34][0-9]{2})([-/])([0-9]{2})\2([0-9]{2})(?=$|[T ])")


def parse_time(text: str, timezone: str, field: str, calendar: str = "gregorian") -> dt.datetime:
    """What an operator typed, as an aware UTC datetime; a time without an offset is in
    ``timezone`` (SPEC section 7). A bad one is an :class:`InputError` naming ``field``.

    On a Jalali provider (``calendar``) the command line reads a time in its calendar too,
    as it shows times (``1405/01/01 14:30``, or ``1405-01-01T14:30``): the years 1300 to
    1499 are Jalali there, and no Gregorian year this monitor reads; a Gregorian ISO 8601
    time is read as everywhere. The HTTP API reads Gregorian ISO 8601 times only (its
    document's pattern, :data:`TIME_PATTERN`).

    A local time that a daylight-saving change skips (New York, 2026-03-08 02:30) or
    repeats (2026-11-01 01:30) is refused, never moved: the message says why and gives
    the offsets that mean an instant.

    >>> parse_time("2026-03-21T14:30", "Asia/Tehran", "start").isoformat()
    '2026-03-21T11:00:00+00:00'
    """
    raw = text.strip()
    hint = ISO_HINT
    if calendar == "jalali":
        hint = JALALI_HINT
        found = _JALALI_DAY.match(raw)
        if found is not None:
            try:
                day = calendar_day(found[0], "jalali", field)
            except InputError:
                raise InputError(field, text, f"{hint} (the Jalali calendar has no such "
                                 "day)") from None
            raw = day.isoformat() + raw[found.end():]
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise InputError(field, text, hint + in_ascii_digits(text)) from None
    if parsed.tzinfo is None:
        parsed = _local(parsed, ZoneInfo(timezone), text, field)
    try:
        parsed = parsed.astimezone(dt.UTC)
    except OverflowError:  # 9999-12-31T23:59:59-05:00 is past year 9999 in UTC
        parsed = EARLIEST - dt.timedelta(days=1)
    if not EARLIEST <= parsed < LATEST:
        # Year 1 or 9999 overflowed later (deadlines, months); nothing the
        # monitor records lies outside these years.
        raise InputError(field, text, f"{hint}, from 1970 to 2999"
                         + (" (Gregorian)" if hint is JALALI_HINT else ""))
    return parsed


def _local(wall: dt.datetime, zone: ZoneInfo, text: str, field: str) -> dt.datetime:
    """``wall`` (a naive local time) in ``zone``, if it names exactly one instant there."""
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    when = f"{wall:%H:%M} on {wall:%Y-%m-%d}"
    if first.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != wall:
        # In a gap, fold=0 reads the wall time with the offset before the change.
        instant = first.astimezone(dt.UTC).astimezone(zone)
        raise InputError(
            field,
            text,
            f"a time that exists in {zone.key}: {when} does not exist in {zone.key} (the "
            f"clocks went from {_offset(first)} to {_offset(second)} and skipped it); write "
            f"the instant with its offset, e.g. {first.isoformat(timespec='minutes')}, which "
            f"is {instant.isoformat(timespec='minutes')} there",
        )
    raise InputError(
        field,
        text,
        f"a time that happens once in {zone.key}: {when} happens twice in {zone.key} (the "
        f"clocks went back from {_offset(first)} to {_offset(second)}); give its offset: "
        f"{first.isoformat(timespec='minutes')} or {second.isoformat(timespec='minutes')}",
    )


def _offset(at: dt.datetime) -> str:
    """``at``'s offset from UTC as ``UTC+03:30``, with its seconds where it has them: a
    zone's local mean time (Tehran's ``UTC+03:25:44`` until 1946).

    >>> _offset(dt.datetime(1921, 3, 21, tzinfo=ZoneInfo("Asia/Tehran")))
    'UTC+03:25:44'
    """
    raw = at.strftime("%z")  # +0330, or +032544 with seconds
    return "UTC" + raw[:3] + "".join(f":{raw[i:i + 2]}" for i in range(3, len(raw), 2))
