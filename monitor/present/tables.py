"""Plain aligned text tables for operators' terminals.

>>> print(text_table(["id", "service"], [[1, "panel"], [12, "srv-1"]]))
id  service
--  -------
1   panel
12  srv-1
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["printable", "text_table"]

# C0 and C1 controls and DEL: an ESC in a note would recolour or rewrite the operator's
# terminal (issue 13). Shown as escapes, so the operator sees that something was there.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    r"""``text`` safe for a terminal line: control characters as visible escapes.

    >>> printable("ok\x1b[31m red\nnext")
    'ok\\x1b[31m red\\nnext'
    """
    return _CONTROL.sub(lambda match: repr(match[0])[1:-1], text)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[printable(str(h)) for h in headers], *[[printable(str(c)) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
