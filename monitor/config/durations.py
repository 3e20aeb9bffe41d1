"""Durations in the configuration: ``90``, ``"30s"``, ``"1h30m"``, ``"2d"``, ``"1.5h"``, or
the way sla-monitor shows them (``"1 h 30 min"``, :func:`monitor.present.format_duration`),
so that a value copied from ``check-config`` or an e-mail reads back the same.

>>> parse_duration("1h30m"), parse_duration("1 h 30 min"), parse_duration(15)
(5400.0, 5400.0, 15.0)

Numbers are in ASCII digits: ``۲s`` (Persian) and ``٢s`` (Arabic-Indic) are refused, as
every number the configuration and the command line read. Infinity (``.inf``) and NaN
are refused here; each setting's own range (an interval from 0.1 s to 1 d, a policy
duration up to a year, ...) is checked by the schema (:mod:`monitor.config.schema`),
which names it in the error.
"""

from __future__ import annotations

import math
import re

__all__ = ["ALLOWED", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
# ASCII digits: \d is any Unicode decimal digit, and float() reads them all ("۲s" was 2 s).
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_PART = re.compile(f"({_NUMBER})(ms|min|s|m|h|d|w)")

ALLOWED = "a number of seconds or a string like '30s', '5m', '1h30m', '2d', in ASCII digits (0-9)"


def parse_duration(value: object) -> float:
    """Seconds as a float; raises ``ValueError`` naming what is allowed."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration ({ALLOWED})")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if re.fullmatch(_NUMBER, text):
            seconds = float(text)
        elif text and _PART.sub("", text) == "":
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
        else:
            raise ValueError(f"expected a duration ({ALLOWED})")
    else:
        raise ValueError(f"expected a duration ({ALLOWED})")
    if seconds != seconds or seconds < 0:  # NaN or negative
        raise ValueError("a duration must not be negative")
    if not math.isfinite(seconds):  # .inf, or digits beyond what a float holds
        raise ValueError(f"a duration must be finite ({ALLOWED})")
    return seconds
