"""The reader's language (SPEC section 7, "Language"): how each language writes numbers,
money, dates and durations (Babel's locale data, Persian digits by default), which
language each reader gets (``provider.language``, ``provider.digits``, a customer's own
``language``), and a wrong value refused with its place and what is allowed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from monitor.config import Settings, parse_config
from monitor.errors import ConfigError
from monitor.present import format_duration, format_money, format_time
from monitor.present.language import language

CONFIG = """\
provider: {timezone: Asia/Tehran, calendar: jalali%s}
services:
  - {id: panel, kind: web_panel, probe: {type: tcp, host: 127.0.0.1, port: 9}}
customers:
  - id: bita
    name: شرکت بیتا
    contacts: {technical: {email: it@bita.example}}
    fee: {amount: 36500000, currency: IRR}
    sites: [{domain: bita.example}]
  - id: acme
    name: ACME
    contacts: {technical: {email: tech@acme.example}}
    fee: {amount: 1000, currency: EUR}
    sites: [{domain: acme.example}]%s
"""


def settings(provider: str = "", acme: str = "") -> Settings:
    return Settings.from_config(parse_config(CONFIG % (provider, acme)))


def test_english_is_the_default_for_everyone() -> None:
    chosen = settings()
    assert chosen.reader().code == chosen.reader("bita").code == "en"


def test_a_customer_reads_its_own_language_and_the_status_page_the_providers() -> None:
    chosen = settings(", language: fa", "\n    language: en")
    assert chosen.reader().code == "fa" and chosen.reader().direction == "rtl"
    assert chosen.reader("bita").code == "fa"
    assert chosen.reader("acme").code == "en"
    assert chosen.reader("nobody").code == "fa"  # an unknown id: the provider's


def test_latin_digits_when_the_provider_asks() -> None:
    reader = settings(", language: fa, digits: latin").reader("bita")
    assert reader.money(Decimal(3945205), "IRR") == "3٬945٬205 ریال"
    assert reader.time(dt.datetime(2026, 12, 4, 20, 28, tzinfo=dt.UTC), "Asia/Tehran",
                       "jalali") == "1405/09/13 23:58"


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("language", "de", "'en' or 'fa'"),
    ("digits", "arabic", "'persian' or 'latin'"),
])
def test_a_wrong_language_or_digits_is_refused(key: str, value: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as refused:
        settings(f", {key}: {value}")
    message = str(refused.value)
    assert f"provider.{key}" in message and value in message and allowed in message


def test_persian_numbers_money_and_dates() -> None:
    fa = language("fa")
    # Rials grouped, whole (R-T2), named as Persian readers write them; tomans too.
    assert fa.money(Decimal("3945205.48"), "IRR") == "۳٬۹۴۵٬۲۰۵ ریال"
    assert fa.money(Decimal(394520), "IRT") == "۳۹۴٬۵۲۰ تومان"  # whole tomans (R-T2)
    assert fa.money(Decimal("1234.5"), "EUR") == "۱٬۲۳۴٫۵۰ یورو"
    # Availability rounded down (R-M6), never up into the target.
    assert fa.percent(Decimal("99.79999"), sign=True) == "۹۹٫۷۹۹٪"
    assert fa.days(Decimal("3.5")) == "۳٫۵ روز"
    # 1405/09/30 23:58 in Tehran: the last day of Azar, short, the zone said elsewhere.
    last = dt.datetime(2026, 12, 21, 20, 28, tzinfo=dt.UTC)
    assert fa.time(last, "Asia/Tehran", "jalali") == "۱۴۰۵/۰۹/۳۰ ۲۳:۵۸"
    assert fa.time(last, "Asia/Tehran", "jalali", seconds=True) == "۱۴۰۵/۰۹/۳۰ ۲۳:۵۸:۰۰"
    assert fa.day(dt.date(2026, 12, 21), "jalali") == "۱۴۰۵/۰۹/۳۰"
    assert fa.month("1405-12", "jalali") == "اسفند ۱۴۰۵"
    assert fa.time(last, "UTC", "gregorian") == "۲۰۲۶/۱۲/۲۱ ۲۰:۲۸"
    assert fa.duration(5 * 3600 + 58 * 60) == "۵ ساعت و ۵۸ دقیقه"
    assert fa.duration(0) == "۰ ثانیه" and fa.duration(None) == "-"
    assert fa.gettext("Services") == "سرویس‌ها"


def test_english_keeps_the_one_formatters_forms() -> None:
    en = language("en")
    at = dt.datetime(2026, 12, 4, 20, 28, tzinfo=dt.UTC)
    assert en.time(at, "Asia/Tehran", "jalali") == format_time(at, "Asia/Tehran", "jalali")
    assert en.money(Decimal("3945205.48"), "IRR") == format_money(Decimal("3945205.48"), "IRR",
                                                                  grouped=True)
    assert en.duration(21480) == format_duration(21480)
    assert en.month("1405-09", "jalali") == "1405-09"


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language 'de'"):
        language("de")


def test_tomans_and_rials_are_whole_wherever_money_is_shown() -> None:
    """The toman (IRT, by custom) is shown whole like the rial: one table of minor units
    (monitor.sla.ledger) decides it for the English form, the Persian form and the
    statement's CSV alike."""
    from monitor.present.statement import money_cell
    from monitor.sla.ledger import minor_units

    assert (minor_units("IRT"), minor_units("IRR"), minor_units("EUR")) == (0, 0, 2)
    assert format_money(Decimal("394520.5"), "IRT") == "394521 IRT"
    assert language("fa").money(Decimal("394520.5"), "IRT") == "۳۹۴٬۵۲۱ تومان"
    # SPEC section 7: money grouped as the reader's language writes it, English too; the
    # operators' command line keeps the plain form, the CSV the machine form.
    assert language("en").money(Decimal("3945205.48"), "IRR") == "3,945,205 IRR"
    assert language("en").money(Decimal("1234.5"), "EUR") == "1,234.50 EUR"
    assert language("en").money(Decimal("-1234567.891"), "EUR") == "-1,234,567.89 EUR"
    assert format_money(Decimal("3945205.48"), "IRR") == "3945205 IRR"
    assert (money_cell(Decimal("3945205.48"), "IRR"), money_cell(Decimal("12.345"), "EUR"),
            money_cell(Decimal("394520.5"), "IRT")) == ("3945205", "12.35", "394521")
