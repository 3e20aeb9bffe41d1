"""A response-time chart as the status page draws it: inline SVG made on the server (no
JavaScript), a step for each whole hour at its mean latency, a gap where an hour has no
measurement (never drawn as zero). Only the geometry is here; the words around it (the
chart's title, its text summary) are the template's, in the reader's language.

>>> chart = latency_chart([100.0, None, 300.0])
>>> chart.lines
('0,53.3 200,53.3', '400,0 600,0')
>>> (chart.top_ms, chart.mean_ms, chart.highest_ms, chart.missing)
(300, 200, 300, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["HEIGHT", "WIDTH", "Chart", "latency_chart"]

WIDTH = 600  # the viewBox: the SVG stretches to the page's width
HEIGHT = 80
_NICE = (1, 2, 2.5, 3, 4, 5, 6, 8, 10)


@dataclass(frozen=True, slots=True)
class Chart:
    lines: tuple[str, ...]  # each a polyline's points: consecutive measured hours
    top_ms: int  # the value at the top edge
    mean_ms: int | None  # the mean of the hours measured (None: none was)
    highest_ms: int | None  # the highest hour's mean
    missing: int  # hours without a measurement
    hours: int


def _top(highest: float) -> int:
    """The smallest round value (1, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten, at least
    10 ms) at or above ``highest``."""
    scale = 1
    while True:
        for step in _NICE:
            value = step * scale
            if value >= max(highest, 10):
                return int(value) if value == int(value) else int(value) + 1
        scale *= 10


def latency_chart(means: Sequence[float | None]) -> Chart:
    """The chart of ``means``, one per hour, oldest first."""
    measured = [m for m in means if m is not None]
    top = _top(max(measured)) if measured else 100
    step = WIDTH / max(len(means), 1)
    lines: list[str] = []
    current: list[str] = []
    for number, mean in enumerate(means):
        if mean is None:
            if current:
                lines.append(" ".join(current))
            current = []
            continue
        y = _x(HEIGHT - HEIGHT * min(mean, top) / top)
        left, right = _x(number * step), _x((number + 1) * step)
        current += [f"{left},{y}", f"{right},{y}"]
    if current:
        lines.append(" ".join(current))
    return Chart(
        tuple(lines), top,
        round(sum(measured) / len(measured)) if measured else None,
        round(max(measured)) if measured else None,
        len(means) - len(measured), len(means),
    )


def _x(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")
