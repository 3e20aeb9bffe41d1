"""The one template system: a Jinja2 environment with autoescape on, for everything people
read as a document: the status and customer pages, the Atom feed, the SVG badges, the HTML
part of every e-mail, and the monthly statements and the operators' summary
(HTML and PDF).

Templates live in ``monitor/present/templates/`` and show values only through the
filters below, which are the one formatter (:mod:`monitor.present.formats`):

=========================  =============================================================
``at|when(tz, calendar)``  a time in the provider's zone and calendar (R-M5); with
                           ``compact=true`` its offset only (rows under a heading that
                           names the zone)
``date|day(calendar)``     a calendar day of that calendar
``seconds|duration``       ``1 h 30 min``
``amount|money(currency)`` two decimals, half up (R-T2); whole rials for IRR
``percent|percent``        availability to three decimals, rounded down (R-M6)
``days|days``              days of service with their unit, ``1 day``, ``3.5 days``
``days|day_count``         the number alone (whole, or a half, R-P1), for a column or a
                           sum whose heading says "days"
``at|iso``                 ISO 8601 UTC with ``Z`` (feeds, ``<time datetime>``)
``text|one_line``          one line of printable text (titles, headers)
``text|printable``         printable text with its line breaks (an operator's update)
=========================  =============================================================

and ``rtl(text)`` says whether a name is written right to left. Every value is escaped
(autoescape, whatever the template's extension: HTML, XML and SVG escape alike), and an
undefined name is an error, never an empty string.

**Language** (SPEC section 7): a rendering's context may hold ``language``, a
:class:`~monitor.present.language.Language` (English without it: e-mails and statements
keep their words until they are translated too). The templates' words are gettext
messages (the ``jinja2.ext.i18n`` extension, new style: ``{{ _("Services") }}``,
``{% trans %}``), translated through that language's catalog, and every filter above
writes its value as that language does: ``{{ 7500|duration }}`` is ``2 h 5 min`` in
English, ``۲ ساعت و ۵ دقیقه`` in Persian. ``at|month(calendar)`` names a month
``YYYY-MM`` as the reader does.

>>> from monitor.present.language import language
>>> environment().from_string("{{ _('Services') }}: {{ 5400|duration }}").render(
...     language=language("en"))
'Services: 1 h 30 min'

>>> environment().from_string("<bdi>{{ name }}</bdi>").render(name="<b>ACME</b>")
'<bdi>&lt;b&gt;ACME&lt;/b&gt;</bdi>'
>>> print(render("badge.svg", label="panel", message="operational", color="#2e7d32",
...              label_width=44, message_width=76).splitlines()[0])
<svg xmlns="http://www.w3.org/2000/svg" width="120" height="20" role="img" aria-label="panel: operational">
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from monitor.present.charts import latency_chart
from monitor.present.formats import (
    format_days,
    format_time,
)
from monitor.present.labels import DECISIONS, EXCLUSION_NAMES, PAGE_CAUSE_LABELS, TIER_NAMES
from monitor.present.language import Language, language
from monitor.present.text import has_arabic_script, one_line, printable
from monitor.sla.report import iso_utc, shown_days

__all__ = ["environment", "render"]

_ENGLISH = language("en")


def _reader(context: Context) -> Language:
    """The rendering's language (``language`` in its context), English without one."""
    chosen = context.get("language")
    return chosen if isinstance(chosen, Language) else _ENGLISH


@pass_context
def _gettext(context: Context, message: str) -> str:
    return _reader(context).gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    return _reader(context).ngettext(singular, plural, count)


@pass_context
def _when(
    context: Context,
    at: dt.datetime | None,
    timezone: str,
    calendar: str = "gregorian",
    seconds: bool = False,
    compact: bool = False,
) -> str:
    reader = _reader(context)
    if reader.code == "en":
        return format_time(at, timezone, calendar, seconds=seconds, compact=compact)
    return reader.time(at, timezone, calendar, seconds=seconds, compact=compact)


@pass_context
def _day(context: Context, day: dt.date, calendar: str = "gregorian") -> str:
    return _reader(context).day(day, calendar)


@pass_context
def _month(context: Context, label: str, calendar: str = "gregorian") -> str:
    return _reader(context).month(label, calendar)


@pass_context
def _gregorian_day(context: Context, at: dt.datetime, timezone: str) -> str:
    """The Gregorian day of ``at`` in ``timezone``: the equivalent a document gives beside
    a date of another calendar (a statement's period line)."""
    return _reader(context).day(at.astimezone(ZoneInfo(timezone)).date(), "gregorian")


@pass_context
def _duration(context: Context, seconds: float | None) -> str:
    return _reader(context).duration(seconds)


@pass_context
def _money(context: Context, amount: Decimal, currency: str) -> str:
    return _reader(context).money(amount, currency)


@pass_context
def _percent(context: Context, percent: Decimal, sign: bool = False) -> str:
    return _reader(context).percent(percent, sign)


@pass_context
def _number(context: Context, value: int | Decimal) -> str:
    return _reader(context).number(value)


@pass_context
def _days(context: Context, days: Decimal | int) -> str:
    reader = _reader(context)
    return format_days(Decimal(days)) if reader.code == "en" else reader.days(Decimal(days))


def _day_count(days: Decimal | int) -> int | float:
    return shown_days(Decimal(days))


@functools.cache
def environment() -> Environment:
    """The environment every rendering uses (built once per process)."""
    env = Environment(
        loader=PackageLoader("monitor.present", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True)
    env.filters.update(
        when=_when,
        day=_day,
        gregorian_day=_gregorian_day,
        month=_month,
        duration=_duration,
        money=_money,
        percent=_percent,
        number=_number,
        days=_days,
        day_count=_day_count,
        iso=iso_utc,
        one_line=one_line,
        printable=printable,
    )
    env.globals["rtl"] = has_arabic_script
    env.globals["latency_chart"] = latency_chart
    env.globals["page_cause_labels"] = PAGE_CAUSE_LABELS
    env.globals["tier_names"] = TIER_NAMES
    env.globals["decision_names"] = DECISIONS
    env.globals["exclusion_names"] = EXCLUSION_NAMES
    return env


def render(template: str, **context: Any) -> str:
    """``template`` rendered with ``context`` (outside a request: e-mails, statements, tests)."""
    return environment().get_template(template).render(**context)
