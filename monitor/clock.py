"""The one clock abstraction: the daemon, detector and outbox ask a ``Clock`` for time,
so tests control it without sleeping. The SLA engine takes ``now`` as an argument.

The daemon runs on a :class:`SteadyClock`: the wall clock read once at start and
advanced by the kernel's steady clock, so that a step of the wall clock (NTP
correcting it, ``date -s``) never makes a duration negative, a probe's due time
jump, or an incident start after its end. The step is detected, logged
and exported (:meth:`SteadyClock.offset`); a restart takes the corrected time.

>>> clock = FakeClock(dt.datetime(2026, 3, 21, tzinfo=dt.UTC))
>>> clock.advance(90); clock.now().isoformat()
'2026-03-21T00:01:30+00:00'
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """Aware UTC wall-clock time."""

    def monotonic(self) -> float:
        """Seconds for measuring durations; never jumps."""


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()


def _steady_seconds() -> float:
    """Seconds of a clock that never steps and counts suspended time (CLOCK_BOOTTIME on
    Linux), else the monotonic clock."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        return time.clock_gettime(boottime)
    return time.monotonic()


class SteadyClock:
    """The wall time at start, advanced by a clock that never steps.

    >>> walls = iter([1000.0, 4610.0])  # at start, then 10 s later after a step of +1 h
    >>> steady = iter([50.0, 60.0, 60.0])
    >>> clock = SteadyClock(wall=lambda: next(walls), steady=lambda: next(steady))
    >>> clock.timestamp()            # 10 s after start, whatever the wall clock did
    1010.0
    >>> clock.offset()               # the wall clock is an hour ahead of it now
    3600.0
    >>> SteadyClock(steady=lambda: 70.0, base=clock.base()).timestamp()  # the same time
    1020.0
    """

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        steady: Callable[[], float] = _steady_seconds,
        base: tuple[float, float] | None = None,
    ) -> None:
        """``base``: another clock's :meth:`base`, to read the same time as it (a probe
        worker reads the daemon's); by default, the wall and steady seconds now."""
        self._wall = wall
        self._steady = steady
        self._base_wall, self._base_steady = base if base is not None else (wall(), steady())

    def timestamp(self) -> float:
        """Seconds since the epoch, as the wall clock said at start plus the time since."""
        return self._base_wall + (self._steady() - self._base_steady)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.timestamp(), dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def base(self) -> tuple[float, float]:
        """(wall, steady) seconds at start: another process reads the same time from them
        (monitor.daemon.probe_worker)."""
        return self._base_wall, self._base_steady

    def offset(self) -> float:
        """The wall clock minus this clock: about 0 until the wall clock steps."""
        return self._wall() - self.timestamp()


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(dt.UTC)
        self._monotonic = 0.0

    def now(self) -> dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += dt.timedelta(seconds=seconds)
        self._monotonic += seconds
