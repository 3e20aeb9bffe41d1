"""The one template system: a Jinja2 environment with autoescape on, for documents people
read (issue 14's statements and the operators' summary; the HTTP pages and the e-mails'
HTML part on the HTTP branch).

Templates live in ``monitor/present/templates/`` and show values only through the
filters below, which are the one formatter (:mod:`monitor.present.formats`):

=========================  =============================================================
``at|when(tz, calendar)``  a time in the provider's zone and calendar (R-M5); with
                           ``compact=true`` its offset only (rows under a heading that
                           names the zone)
``seconds|duration``       ``1 h 30 min``
``amount|money(currency)`` two decimals, half up (R-T2); whole rials for IRR
``percent|percent``        availability to three decimals, rounded down (R-M6)
``days|days``              credit days as shown (whole, or a half, R-P1)
``at|iso``                 ISO 8601 UTC with ``Z`` (``<time datetime>``)
``text|one_line``          one line of printable text (titles, headers)
=========================  =============================================================

and ``rtl(text)`` says whether a name is written right to left. Every value is escaped
(autoescape), and an undefined name is an error, never an empty string.

>>> environment().from_string("<bdi>{{ name }}</bdi>").render(name="<b>ACME</b>")
'<bdi>&lt;b&gt;ACME&lt;/b&gt;</bdi>'
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from monitor.present.formats import format_duration, format_money, format_percent, format_time
from monitor.present.text import has_arabic_script, one_line
from monitor.sla.report import iso_utc, shown_days

__all__ = ["environment", "render"]


def _when(
    at: dt.datetime | None,
    timezone: str,
    calendar: str = "gregorian",
    seconds: bool = False,
    compact: bool = False,
) -> str:
    return format_time(at, timezone, calendar, seconds=seconds, compact=compact)


def _days(days: Decimal | int) -> int | float:
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
    )
    env.filters.update(
        when=_when,
        duration=format_duration,
        money=format_money,
        percent=format_percent,
        days=_days,
        iso=iso_utc,
        one_line=one_line,
    )
    env.globals["rtl"] = has_arabic_script
    return env


def render(template: str, **context: Any) -> str:
    """``template`` rendered with ``context``."""
    return environment().get_template(template).render(**context)
