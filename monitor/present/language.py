"""The reader's language (SPEC section 7, "Language"): English (``en``, the default) or
Persian (``fa``, right to left), for everything a customer reads.

A :class:`Language` gives, for one language, the messages of the gettext catalog
(``monitor/locale/<code>/LC_MESSAGES/messages.po``, compiled to ``.mo`` into the wheel)
and the values written as that language writes them: numbers and money grouped by
Babel's locale data (CLDR), Persian digits for ``fa`` unless ``provider.digits: latin``,
rials and tomans named as Persian readers write them (ریال, تومان), short dates in the
provider's calendar ("۱۴۰۵/۰۹/۱۳ ۲۳:۵۸": the zone is said once, in the page's header),
durations in words. English keeps the forms of :mod:`monitor.present.formats` exactly:
the default output does not change.

>>> import datetime as dt
>>> fa = language("fa")
>>> fa.money(Decimal("3945205.48"), "IRR"), fa.money(Decimal("12.5"), "EUR")
('۳٬۹۴۵٬۲۰۵ ریال', '۱۲٫۵۰ یورو')
>>> fa.time(dt.datetime(2026, 12, 4, 20, 28, tzinfo=dt.UTC), "Asia/Tehran", "jalali")
'۱۴۰۵/۰۹/۱۳ ۲۳:۵۸'
>>> fa.duration(7500), fa.duration(86461), fa.percent(Decimal("99.73118"), sign=True)
('۲ ساعت و ۵ دقیقه', '۱ روز و ۱ دقیقه و ۱ ثانیه', '۹۹٫۷۳۱٪')
>>> fa.month("1405-09", "jalali"), language("fa", "latin").number(1234567)
('آذر ۱۴۰۵', '1٬234٬567')
>>> en = language("en")
>>> en.money(Decimal("360000"), "IRR"), en.duration(7500), en.gettext("Services")
('360,000 IRR', '2 h 5 min', 'Services')
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext as _gettext
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Literal
from zoneinfo import ZoneInfo

import jdatetime  # type: ignore[import-untyped, unused-ignore]

from monitor.present import formats
from monitor.sla.ledger import minor_units
from monitor.sla.report import shown_availability, shown_days

__all__ = ["LANGUAGES", "N_", "Language", "catalog", "language"]

Code = Literal["en", "fa"]
Digits = Literal["persian", "latin"]

#: The languages a customer may read, and the direction each is written in.
LANGUAGES: dict[str, Literal["ltr", "rtl"]] = {"en": "ltr", "fa": "rtl"}

_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
# Money as Persian readers name it: the rial and the toman (no ISO code; "IRT" by custom),
# not CLDR's "ریال ایران".
_PERSIAN_CURRENCIES = {"IRR": "ریال", "IRT": "تومان"}
_PERSIAN_UNITS = ("روز", "ساعت", "دقیقه", "ثانیه")  # formats.duration_parts' units


def N_(message: str) -> str:
    """Marks ``message`` for the catalog (``pybabel extract`` finds it) where it is
    translated later, by whoever knows the reader (:meth:`Language.gettext`)."""
    return message


def catalog(code: str) -> _gettext.NullTranslations:
    """The gettext catalog of ``code``: the compiled ``.mo`` the wheel ships, or (in a
    source checkout, where nothing was built) the ``.po`` compiled in memory. English
    is the messages' own language: no catalog."""
    return _catalog(code)


@functools.cache
def _catalog(code: str) -> _gettext.NullTranslations:
    if code == "en":
        return _gettext.NullTranslations()
    folder = resources.files("monitor").joinpath("locale", code, "LC_MESSAGES")
    compiled = folder.joinpath("messages.mo")
    if compiled.is_file():
        return _gettext.GNUTranslations(io.BytesIO(compiled.read_bytes()))
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    source = io.BytesIO(folder.joinpath("messages.po").read_bytes())
    built = io.BytesIO()
    write_mo(built, read_po(source, locale=code))  # fuzzy messages left out, as pybabel does
    built.seek(0)
    return _gettext.GNUTranslations(built)


@dataclass(frozen=True)
class Language:
    """One reader's language: its messages and how it writes values."""

    code: Code
    digits: Digits
    translations: _gettext.NullTranslations = field(compare=False, repr=False)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        """Pickled as its code and digits (a statement sent to a rendering worker process):
        the catalog is the worker's own, loaded once there."""
        return language, (self.code, self.digits)

    @property
    def direction(self) -> Literal["ltr", "rtl"]:
        return LANGUAGES[self.code]

    # Messages -------------------------------------------------------------------------

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return self.translations.ngettext(singular, plural, count)

    # Values ---------------------------------------------------------------------------

    def _digits(self, text: str) -> str:
        return text.translate(_PERSIAN_DIGITS) if self.digits == "persian" else text

    def number(self, value: int | float | Decimal, places: int | None = None) -> str:
        """``value`` grouped as the language writes it (``places``: fixed decimals)."""
        if self.code == "en":
            return f"{value:.{places}f}" if places is not None else str(value)
        from babel.numbers import format_decimal  # Babel's locale data, loaded when used

        if places is not None:
            value = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
            pattern = "#,##0" + ("." + "0" * places if places else "")
            text = format_decimal(value, format=pattern, locale=self.code,
                                  numbering_system="default", decimal_quantization=False)
        else:
            text = format_decimal(value, locale=self.code, numbering_system="default")
        return self._digits(text)

    def money(self, amount: Decimal, currency: str) -> str:
        """Half up to the currency's unit (R-T2), grouped, with the currency's name."""
        if self.code == "en":
            return formats.format_money(amount, currency, grouped=True)
        return f"{self.number(amount, minor_units(currency))} {self.currency(currency)}"

    def currency(self, code: str) -> str:
        """A currency as the language names it (ریال, تومان, یورو); English: its code."""
        if self.code == "en":
            return code
        from babel.numbers import get_currency_name

        return _PERSIAN_CURRENCIES.get(code) or str(get_currency_name(code, locale=self.code))

    def percent(self, percent: Decimal, sign: bool = False) -> str:
        """Availability to three decimals, rounded down (R-M6); ``sign``: with ``%``."""
        if self.code == "en":
            shown = formats.format_percent(percent)
            return f"{shown} %" if sign else shown
        shown = self.number(shown_availability(percent), 3)
        return f"{shown}٪" if sign else shown

    def days(self, days: Decimal) -> str:
        """Days of service with their unit (whole or halves, R-P1)."""
        if self.code == "en":
            return formats.format_days(days)
        return f"{self.number(shown_days(days))} روز"

    def duration(self, seconds: float | None) -> str:
        """Every non-zero unit, exact to the second; ``-`` for None."""
        if self.code == "en" or seconds is None:
            return formats.format_duration(seconds)
        if (fraction := formats.fractional_seconds(seconds)) is not None:
            return f"{self.number(Decimal(str(fraction)))} ثانیه"
        parts = [f"{self.number(count)} {_PERSIAN_UNITS[unit]}"
                 for count, unit in formats.duration_parts(seconds)]
        return " و ".join(parts) or f"{self.number(0)} ثانیه"

    def time(self, at: dt.datetime | None, timezone: str, calendar: str = "gregorian", *,
             seconds: bool = False, compact: bool = False) -> str:
        """A time in the provider's zone and calendar (R-M5). Persian: short, without the
        zone (the page says it once, in its header)."""
        if self.code == "en" or at is None:
            return formats.format_time(at, timezone, calendar, seconds=seconds, compact=compact)
        local = at.astimezone(ZoneInfo(timezone))
        clock = "%H:%M:%S" if seconds else "%H:%M"
        if calendar == "jalali":
            text = jdatetime.datetime.fromgregorian(datetime=local).strftime(f"%Y/%m/%d {clock}")
        else:
            text = local.strftime(f"%Y/%m/%d {clock}")
        return self._digits(str(text))

    def zone(self, timezone: str) -> str:
        """The provider's time zone as the reader names it, said once in a document's
        header or footer (``وقت ایران`` for Asia/Tehran); English: the zone's id."""
        if self.code == "en" or timezone == "UTC":
            return timezone
        from babel.dates import get_timezone_location

        return str(get_timezone_location(timezone, locale=self.code))

    def day(self, day: dt.date, calendar: str = "gregorian") -> str:
        """A calendar day of the provider's calendar."""
        if self.code == "en":
            return formats.format_day(day, calendar)
        if calendar == "jalali":
            return self._digits(str(jdatetime.date.fromgregorian(date=day).strftime("%Y/%m/%d")))
        return self._digits(day.strftime("%Y/%m/%d"))

    def month(self, label: str, calendar: str = "gregorian") -> str:
        """A month ``YYYY-MM`` of the provider's calendar, as its readers name it."""
        if self.code == "en":
            return label
        year, month = (int(part) for part in label.split("-"))
        if calendar == "jalali":
            name = jdatetime.date.j_months_fa[month - 1]
        else:
            from babel.dates import get_month_names

            name = get_month_names("wide", locale=self.code)[month]
        return f"{name} {self._digits(str(year))}"


def language(code: str = "en", digits: str | None = None) -> Language:
    """The :class:`Language` of ``code`` (``en`` or ``fa``); ``digits`` ``persian`` or
    ``latin`` (default: Persian digits for Persian, Latin for English)."""
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}: expected one of {', '.join(LANGUAGES)}")
    chosen: Digits = ("persian" if code == "fa" else "latin") if digits is None \
        else ("persian" if digits == "persian" else "latin")
    return Language(code, chosen, catalog(code))  # type: ignore[arg-type]
