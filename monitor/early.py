"""Signals that arrive before the daemon's event loop runs.

Python takes about 0.7 s to import sla-monitor and read its configuration, and until
the daemon's event loop installs its handlers a SIGHUP would end the process
(SIGHUP's default action): ``systemctl reload`` right after a start, or a log rotation,
killed the daemon. ``sla-monitor run`` calls :func:`install` before anything heavy is
imported; a SIGHUP then is only remembered, and the daemon reloads once it has started
(:func:`take`).
"""

from __future__ import annotations

import signal
from types import FrameType

__all__ = ["install", "take"]

_pending: list[int] = []


def _remember(signum: int, _frame: FrameType | None) -> None:
    _pending.append(signum)


def install() -> None:
    """Remember SIGHUPs until the daemon takes them."""
    signal.signal(signal.SIGHUP, _remember)


def take() -> list[int]:
    """The signals remembered so far (and forget them)."""
    taken = list(_pending)
    _pending.clear()
    return taken
