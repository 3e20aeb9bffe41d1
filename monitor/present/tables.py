"""Plain aligned text tables for operators' terminals, fitted to the terminal's width.

>>> print(text_table(["id", "service"], [[1, "panel"], [12, "srv-1"]]))
id  service
--  -------
1   panel
12  srv-1

A table wider than the width in force (:func:`table_width`) wraps its widest columns,
each cell over as many lines as it needs, so that nothing is cut and every line fits:

>>> print(text_table(["id", "note"], [[1, "the editor loses answers"]], width=16))
id  note
--  ------------
1   the editor
    loses
    answers

A table without rows says so under its header, once (a bare header and rule read as
output cut short):

>>> print(text_table(["id", "service"], []))
id  service
--  -------
(none)

With more columns than can be wrapped into the width, each row becomes a block of
``field  value`` lines (as psql's expanded display):

>>> print(text_table(["customer", "availability_percent", "downtime"],
...                  [["acme", "99.730", "2 h"], ["bita", "100.000", "0 s"]], width=24))
customer              acme
availability_percent  99.730
downtime              2 h
<BLANKLINE>
customer              bita
availability_percent  100.000
downtime              0 s

**Decision:** the width is the terminal's (:func:`shutil.get_terminal_size`: ``$COLUMNS``,
else the terminal's size) when standard output is a terminal, else unlimited: a pipe into
``grep`` or a file keeps one row per line, whatever ``$COLUMNS`` says (GNU readline sets it
in every child of a Python process that loaded it). ``--wide`` (every table command) turns
fitting off. JSON and CSV are never fitted.
"""

from __future__ import annotations

import contextvars
import re
import shlex
import shutil
import sys
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

__all__ = [
    "NOTHING",
    "fit_line",
    "printable",
    "printable_lines",
    "table_width",
    "terminal_width",
    "text_table",
    "width_for_tables",
]

# C0 and C1 controls and DEL: an ESC in a note would recolour or rewrite the operator's
# terminal. Shown as escapes, so the operator sees that something was there.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_GAP = 2
#: What a table without rows shows under its header (every command's empty result).
NOTHING = "(none)"
_NARROWEST = 10  # a column is never wrapped narrower than this (or its header's longest word)

_WIDTH: contextvars.ContextVar[int | None] = contextvars.ContextVar("table_width", default=None)


def printable(text: str) -> str:
    r"""``text`` safe for a terminal line: control characters as visible escapes.

    >>> printable("ok\x1b[31m red\nnext")
    'ok\\x1b[31m red\\nnext'
    """
    return _CONTROL.sub(lambda match: repr(match[0])[1:-1], text)


def printable_lines(text: str) -> str:
    r"""``text`` of several lines safe for a terminal: :func:`printable` line by line.

    >>> printable_lines("ticket 1: slow\x1b[2J\nnext")
    'ticket 1: slow\\x1b[2J\nnext'
    """
    return "\n".join(printable(line) for line in text.split("\n"))


def terminal_width() -> int | None:
    """The width tables are fitted to by default: the terminal's when standard output is
    one (``$COLUMNS`` first, as :func:`shutil.get_terminal_size` reads it), else None."""
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def table_width() -> int | None:
    """The width in force for :func:`text_table` (None: unlimited)."""
    return _WIDTH.get()


@contextmanager
def width_for_tables(width: int | None) -> Iterator[None]:
    """Fit the tables rendered inside the block to ``width`` columns (None: unlimited)."""
    token = _WIDTH.set(width)
    try:
        yield
    finally:
        _WIDTH.reset(token)


def _fitted(widths: list[int], floors: list[int], width: int) -> list[int]:
    """Column widths whose sum with the gaps fits ``width``: the widest column gives up a
    column at a time, never below its floor. May stay over when every floor is reached."""
    fitted = list(widths)
    budget = width - _GAP * (len(widths) - 1)
    while sum(fitted) > budget:
        shrinkable = [i for i, w in enumerate(fitted) if w > floors[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: fitted[i])
        fitted[widest] -= 1
    return fitted


def _wrap(cell: str, width: int) -> list[str]:
    if len(cell) <= width:
        return [cell]
    return textwrap.wrap(cell, width, break_long_words=True, break_on_hyphens=False) or [""]


def _records(headers: list[str], rows: list[list[str]], width: int) -> str:
    """Too many columns for ``width`` even wrapped: one block per row, a field a line (as
    psql's expanded display), blocks apart by a blank line."""
    key = max(len(h) for h in headers)
    blocks = []
    for row in rows:
        lines = []
        for header, cell in zip(headers, row, strict=True):
            parts = _wrap(cell, max(width - key - _GAP, _NARROWEST))
            lines.append(f"{header.ljust(key)}  {parts[0]}".rstrip())
            lines += [" " * (key + _GAP) + part for part in parts[1:]]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _header_parts(header: str) -> list[str]:
    """A header's pieces that may start a line: words, and ``snake_case`` after each ``_``."""
    return [part for part in re.split(r"(?<=_)|\s+", header) if part]


def _wrap_header(header: str, width: int) -> list[str]:
    lines: list[str] = []
    for part in _header_parts(header):
        joiner = "" if lines and lines[-1].endswith("_") else " "
        if lines and len(lines[-1]) + len(joiner) + len(part) <= width:
            lines[-1] += joiner + part
        else:
            lines.append(part)
    return [piece for line in lines for piece in _wrap(line, width)] or [""]


def text_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, width: int | None = None
) -> str:
    """Aligned columns under a dashed rule; fitted to ``width`` (default: :func:`table_width`)."""
    cells = [[printable(str(h)) for h in headers], *[[printable(str(c)) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    limit = width if width is not None else table_width()
    if limit is not None and sum(widths) + _GAP * (len(widths) - 1) > limit:
        floors = [
            min(widths[i], max(_NARROWEST, *(len(p) for p in _header_parts(cells[0][i]) or [""])))
            for i in range(len(headers))
        ]
        widths = _fitted(widths, floors, limit)
        if sum(widths) + _GAP * (len(widths) - 1) > limit and rows:
            return _records(cells[0], cells[1:], limit)
    lines: list[str] = []
    for number, row in enumerate(cells):
        wrap = _wrap_header if number == 0 else _wrap
        wrapped = [wrap(cell, w) for cell, w in zip(row, widths, strict=True)]
        for depth in range(max(len(parts) for parts in wrapped)):
            lines.append("  ".join(
                (parts[depth] if depth < len(parts) else "").ljust(w)
                for parts, w in zip(wrapped, widths, strict=True)
            ).rstrip())
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    if not rows:
        lines.append(NOTHING)
    return "\n".join(lines)


def _shell_words(text: str) -> list[str] | None:
    """``text``'s words quoted for a shell, or None when it is not a command (prose)."""
    try:
        tokens = shlex.split(text)
    except ValueError:
        return None
    words = [shlex.quote(token) for token in tokens]
    return words if " ".join(words) == text else None


_PROGRESS = re.compile(r"\[\d+:\d\d\.\d\] ")


def fit_line(line: str, width: int) -> str:
    """A line of prose wrapped to ``width`` columns, its continuation lines indented under
    its text; a shell command (``sla-monitor ...``) is continued with a backslash so that it
    still pastes; words (URLs, paths) are never broken.

    >>> print(fit_line("  the month's report shows the unknown time apart", 24))
      the month's report
        shows the unknown
        time apart
    >>> print(fit_line("    sla-monitor incident add --service acme-survey", 32))
        sla-monitor incident add \\
          --service acme-survey
    """
    if len(line) <= width:
        return line
    text = line.lstrip(" ")
    indent = line[: len(line) - len(text)]
    words = _shell_words(text) if text.startswith("sla-monitor ") else None
    if words is not None:
        parts: list[str] = []
        for word in words:
            if parts and len(indent) + len(parts[-1]) + 1 + len(word) + 2 <= width:
                parts[-1] += " " + word
            else:
                parts.append(word if not parts else "  " + word)
        return " \\\n".join(indent + part for part in parts)
    progress = _PROGRESS.match(text)
    hanging = indent + " " * (progress.end() if progress else 2)
    return "\n".join(textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=hanging,
                                    break_long_words=False, break_on_hyphens=False))
