"""Text as people see it, wherever it is shown: one line of printable text, printable text
that keeps its lines (an operator's update), and whether a name is written right to left.

Anything that may come from configuration or an operator (customer names, notes, the
provider name) is shown through :func:`one_line` where a line break could do harm (a
mail header, an Atom title): it removes control characters, including the bidi
overrides that can make text read differently than it is. A name in Arabic script
(Persian) is laid out right to left (:func:`has_arabic_script`) in e-mails and pages.

>>> one_line("ACME\\r\\nBcc: victim@evil.example")
'ACME Bcc: victim@evil.example'
>>> printable("Switch\\x07 replaced\\r\\nback up\\u202e")
'Switch replaced\\nback up'
>>> has_arabic_script("شرکت بیتا"), has_arabic_script("ACME")
(True, False)
"""

from __future__ import annotations

import re

__all__ = ["has_arabic_script", "one_line", "printable"]

# C0/C1 controls, DEL, Unicode line/paragraph separators and the bidi embedding,
# override and isolate controls (which can make a subject read differently than it is).
# ZWNJ (U+200C), needed in Persian words, is kept.
_CONTROLS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff]+")
# What printable() keeps a line break of (CR LF is one), and what it drops: the controls
# above but for tab and line feed. XML 1.0 cannot carry any of them but tab, LF and CR,
# not even escaped, so one in an update would make the whole Atom feed unreadable.
_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069\ufeff"
    "\ufffe\uffff]+")
_SPACES = re.compile(r"\s{2,}")
_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")


def one_line(value: str, limit: int = 200) -> str:
    """``value`` as one line of printable text, at most ``limit`` characters."""
    text = _SPACES.sub(" ", _CONTROLS.sub(" ", value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def printable(value: str) -> str:
    """``value`` with its lines and tabs, without the characters no page or feed should
    show (controls, bidi overrides and isolates, non-characters): text an operator typed
    for the public, shown as it reads."""
    return _UNPRINTABLE.sub("", _LINE_BREAKS.sub("\n", value))


def has_arabic_script(text: str) -> bool:
    """True when ``text`` holds Arabic-script letters (Persian names render RTL)."""
    return _ARABIC_SCRIPT.search(text) is not None
