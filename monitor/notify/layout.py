"""How a template becomes a plain-text part and an HTML part with the same content.

A template (:mod:`monitor.notify.templates`) returns blocks (:class:`Para`,
:class:`Facts`, :class:`Items`, :class:`Link`); :func:`compose` renders them twice. The HTML
side is the one Jinja2 environment's ``email.html`` (:mod:`monitor.present.html`,
autoescape on): it escapes every piece of text, and templates never write markup
themselves.

A customer's message speaks the customer's language (SPEC section 7, "Language"):
``style.reading(settings.reader(customer))`` gives the :class:`Style` whose
:attr:`Style.language` translates the templates' sentences (gettext messages) and writes
values as that language does; Persian is laid out right to left (``dir="rtl"`` from the
language's direction), every paragraph and value keeps ``dir="auto"``/``<bdi>`` so names
in Latin letters read correctly, its times are short (the zone is said once, in the
footer). Operators' messages keep the default, English.

Times and durations come from the one formatter (:mod:`monitor.present`), in the
provider's zone and calendar (R-M5):

>>> import datetime as dt
>>> Style("Rabit", "Asia/Tehran", "jalali").time(dt.datetime(2026, 3, 21, 9, 0, tzinfo=dt.UTC))
'1405/01/01 12:30 Asia/Tehran (UTC+03:30; Gregorian 2026-03-21)'
"""

from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import dataclass, field, replace

from monitor.notify.messages import one_line
from monitor.present import format_time
from monitor.present.html import render
from monitor.present.language import Language, language

_ENGLISH = language("en")

__all__ = ["Block", "Facts", "Items", "Link", "Para", "Rendered", "Style", "compose"]


@dataclass(frozen=True)
class Rendered:
    """A message's subject and its two bodies."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Para:
    """A paragraph; its line breaks (an operator's update as typed) are kept."""

    text: str


@dataclass(frozen=True)
class Facts:
    """Label/value rows, e.g. ``("Started", "1405/01/01 12:30 …")``."""

    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Link:
    """A sentence that leads somewhere: ``label`` then the address, written out in the
    text part and a link in the HTML part."""

    label: str
    url: str


Block = Para | Facts | Items | Link


@dataclass(frozen=True)
class Style:
    """What every message shares: who sends it, in which language, and how times are
    shown (R-M5)."""

    provider_name: str
    timezone: str = "UTC"
    calendar: str = "gregorian"
    language: Language = field(default=_ENGLISH)
    #: The reader's own page (a customer's signed link, :mod:`monitor.notify.leads`) and
    #: when that link stops working; None for operators, or without link keys.
    page_url: str | None = None
    page_expires: dt.datetime | None = None

    def reading(self, reader: Language) -> Style:
        """This style for a reader of ``reader``'s language."""
        return replace(self, language=reader)

    def time(self, at: dt.datetime) -> str:
        if self.language.code == "en":
            return format_time(at, self.timezone, self.calendar)
        return self.language.time(at, self.timezone, self.calendar)


def compose(style: Style, subject: str, blocks: list[Block]) -> Rendered:
    """Render ``blocks`` as text and as HTML, in the style's language and direction."""
    reader = style.language
    footer = reader.gettext("This is an automatic message from %(provider)s's service "
                            "monitor.") % {"provider": style.provider_name}
    if reader.code != "en":  # English times name their zone; short ones do not
        footer += " " + reader.gettext("Times are in %(zone)s.") % {
            "zone": reader.zone(style.timezone)}
    subject = one_line(f"[{style.provider_name}] {subject}", 250)
    return Rendered(
        subject=subject,
        text=_text(blocks, footer),
        html=_html(subject, blocks, footer, reader),
    )


def _text(blocks: list[Block], footer: str) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Para):
            # Never at a hyphen: a signed link (base64url) would break across lines.
            out.append("\n".join(textwrap.fill(line, width=76, break_long_words=False,
                                                break_on_hyphens=False)
                                  for line in block.text.split("\n")))
        elif isinstance(block, Link):  # the address on its own line, whole (clickable)
            out.append(textwrap.fill(block.label, width=76, break_long_words=False,
                                     break_on_hyphens=False) + "\n" + block.url)
        elif isinstance(block, Facts):
            width = max((len(label) for label, _ in block.rows), default=0) + 1
            out.append("\n".join(f"{label + ':':<{width}} {value}" for label, value in block.rows))
        else:
            out.append("\n".join(f"  - {item}" for item in block.items))
    out.append(f"-- \n{footer}")
    return "\n\n".join(out) + "\n"


def _html(title: str, blocks: list[Block], footer: str, reader: Language) -> str:
    """The HTML part, from the one template system (``email.html``, autoescaped)."""
    shown = [
        {"kind": "para", "text": block.text}
        if isinstance(block, Para)
        else {"kind": "link", "text": block.label, "url": block.url}
        if isinstance(block, Link)
        else {"kind": "facts", "rows": block.rows}
        if isinstance(block, Facts)
        else {"kind": "items", "items": block.items}
        for block in blocks
    ]
    return render("email.html", title=title, blocks=shown, footer=footer, language=reader)
