"""Durations in the configuration: ``90``, ``"30s"``, ``"1h30m"``, ``"2d"`` or ``"1.5h"``.

>>> parse_duration("1h30m")
5400.0
>>> parse_duration(15)
15.0
>>> format_duration(5400)
'1h30m'
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")

ALLOWED = "a number of seconds or a string like '30s', '5m', '1h30m', '2d'"


def parse_duration(value: object) -> float:
    """Seconds as a float; raises ``ValueError`` naming what is allowed."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration ({ALLOWED})")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif text and _PART.sub("", text) == "":
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
        else:
            raise ValueError(f"expected a duration ({ALLOWED})")
    else:
        raise ValueError(f"expected a duration ({ALLOWED})")
    if seconds != seconds or seconds < 0:  # NaN or negative
        raise ValueError("a duration must not be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """A short human form: ``5400`` → ``1h30m``; fractions of a second keep ``s``."""
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:g}s"
    rest = round(seconds)
    if rest == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
