"""Steps of the wall clock while the daemon runs: seen, said, and harmless.

The daemon keeps time on a :class:`~monitor.clock.SteadyClock`, so a step of the wall
clock (NTP correcting it, an operator's ``date -s``, a VM resumed) changes none of its
timestamps: no negative duration, no probe skipped or run twice, no false incident.
:class:`ClockSteps` compares the two every second: a change of the offset by more than
``tolerance`` (1 s; NTP slews smaller errors without steps) is a *step*. It is logged
once, counted (``sla_monitor_clock_steps_total``), the offset exported
(``sla_monitor_clock_offset_seconds``, alert ``ClockStepped``), and ``on_step`` is
called: the daemon re-times APScheduler's jobs, which follow the wall clock and would
otherwise wait out a backward step (an hour's step back: an hour without heartbeats).

**Decision:** the daemon does not jump with the wall clock. Following a step back
would end incidents before they started; following a step forward would add the step
to open incidents' downtime. Its timestamps stay steady, off by the step, until the
next restart takes the corrected wall time (the alert says so; ``After=time-sync.target``
in the unit makes a step after the start rare).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from monitor.daemon.metrics import DaemonMetrics

__all__ = ["ClockSteps"]

log = logging.getLogger(__name__)


class Offset(Protocol):
    def offset(self) -> float: ...


class ClockSteps:
    def __init__(
        self,
        clock: Offset,
        metrics: DaemonMetrics,
        on_step: Callable[[float], None],
        *,
        tolerance: float = 1.0,
        every: float = 1.0,
    ) -> None:
        self.clock = clock
        self.metrics = metrics
        self.on_step = on_step
        self.tolerance = tolerance
        self.every = every
        self.last = clock.offset()
        self.steps = 0
        self._task: asyncio.Task[None] | None = None

    def check(self) -> float | None:
        """Compare once; returns the step in seconds, or None."""
        offset = self.clock.offset()
        self.metrics.clock_offset.set(round(offset, 3))
        step = offset - self.last
        if abs(step) <= self.tolerance:
            return None
        self.last = offset
        self.steps += 1
        self.metrics.clock_steps.inc()
        log.warning(
            "the wall clock stepped; sla-monitor keeps its steady time (restart it at a calm "
            "moment to take the corrected time)",
            extra={"step_seconds": round(step, 3), "offset_seconds": round(offset, 3)},
        )
        self.on_step(step)
        return step

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="clock-steps")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every)  # the event loop's clock: monotonic
            try:
                self.check()
            except Exception:
                log.exception("clock check failed")
