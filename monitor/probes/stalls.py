"""When this process's event loop was held up: what R-M2 asks of a probe's own slowness.

A probe measures a target's time on this process's clock, and only while the event loop
runs: an answer that arrives while the loop is held up (starved of CPU on a busy host, a
long garbage collection, a blocking call) is read when it runs again, late by the whole
stall. A ``max_response_time`` check would then blame the target for the monitor's stall.

:class:`Stalls` is a timer that wakes every :data:`EVERY` seconds and notes each wake-up
later than :data:`STALL` as a stall (from when it was due to when it ran); the last
:data:`KEPT` are kept. ``held_up(start, end)`` says how long the loop was held up within
a span, to :data:`EVERY`'s precision (a stall is counted from when the wake-up was due: up to
:data:`EVERY` less than it was). 20 wake-ups a second: in an idle process about 2 ms of CPU a
second (measured), less where the loop is awake anyway.

The deadline of a timeout needs no timer to know it was stalled: it notices its own
lateness (:func:`monitor.probes.base.noticed_late`); how long the loop was held up it
says from here (a stall that began before the deadline passed is longer than the lateness).
"""

from __future__ import annotations

import asyncio
from collections import deque

EVERY = 0.05  # seconds between two wake-ups
STALL = 0.02  # a wake-up later than this is a stall
KEPT = 256  # stalls remembered (at one a wake-up: the last 12 s at least)


class Stalls:
    """The recent stalls of the running event loop (module docstring); :meth:`stop` ends it."""

    def __init__(self) -> None:
        self._kept: deque[tuple[float, float]] = deque(maxlen=KEPT)
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0  # when the next wake-up is due

    def start(self) -> None:
        """Start watching the running loop (again after :meth:`stop`)."""
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._due = loop.time() + EVERY
            self._timer = loop.call_at(self._due, self._wake, loop, self._due)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _wake(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        now = loop.time()
        if now - due > STALL:
            self._kept.append((due, now))
        self._due = now + EVERY
        self._timer = loop.call_at(self._due, self._wake, loop, self._due)

    def held_up(self, start: float, end: float) -> float:
        """Seconds the loop was held up between ``start`` and ``end`` (loop or monotonic
        time, ``end`` at the latest now), stalls that end after ``end`` included up to it,
        and the one going on if the next wake-up is overdue (it has not run yet)."""
        held = 0.0
        if self._timer is not None and end - self._due > STALL:
            held += end - max(self._due, start)
        for began, ended in reversed(self._kept):
            if ended <= start:
                break
            held += max(0.0, min(ended, end) - max(began, start))
        return held
