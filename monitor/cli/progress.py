"""The progress of a command that takes a while (``statement send`` at month-end, ``report
[close]`` and ``evidence check`` at thousands of customers), on standard error, so that
standard output (``--format json``) stays one clean document. Nothing is shown in a
command's first :data:`QUIET_FOR` seconds: one that is done by then leaves standard error
alone. Then:

* on a terminal, a bar redrawn in place (at most ten times a second), with the rate and
  the time left, cleared when the command is done; a command of several steps names the
  step it is in, and a step without a count shows how long it has taken::

      statements [##########..........] 5,012/10,000  41.2/s  2 min 1 s left
      report close: computing each customer's report [####................] 2,250/10,000 ...
      report close: freezing the revision  3 s

* anywhere else (systemd's journal, a pipe, a file), a structured log line (JSON, with its
  priority prefix on the journal: :mod:`monitor.logs`) when it starts, when a step
  begins, every 10 s, and when it is done: ``{"event": "statements progress", "done":
  5012, "total": 10000, "per_second": 41.2, ...}`` (with ``"step"`` for a command of
  several).

    with progress("statements", stream=sys.stderr) as report:
        ...; report(done, total)   # or report(done, total, step)
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from monitor.logs import JournalFormatter, JSONFormatter, Progress, ProgressLog, stream_is_journal
from monitor.present import format_duration

__all__ = ["Bar", "progress"]

log = logging.getLogger(__name__)

#: How often the log lines come when standard error is not a terminal.
LOG_EVERY = 10.0
#: Nothing is shown before a command has run this long: a command that takes a moment (a
#: report of a few customers) leaves standard error as it was; one that takes a while
#: (month-end at thousands of customers) shows where it is from then on.
QUIET_FOR = 2.0
WIDTH = 20


class Bar:
    """The bar on a terminal; ``close()`` clears it. A task of several steps names each
    (``report close: computing each customer's report [###...]``), and each has its own
    count, rate and time left; a step without a count (``total`` 0) shows how long it has
    taken so far."""

    def __init__(self, what: str, stream: TextIO, clock: Callable[[], float] = time.monotonic,
                 quiet_for: float = 0.0) -> None:
        self.what, self.stream, self.clock, self.quiet_for = what, stream, clock, quiet_for
        self.began: float | None = None
        self.started: float | None = None
        self.drawn: float | None = None
        self.width = 0
        self.step = ""

    def __call__(self, done: int, total: int, step: str = "") -> None:
        now = self.clock()
        if self.began is None:
            self.began = now
        if self.started is None or step != self.step:
            self.started, self.drawn, self.step = now, None, step
        if self.drawn is not None and done < total and now - self.drawn < 0.1:
            return
        if now - self.began < self.quiet_for:
            return
        self.drawn = now
        elapsed = now - self.started
        line = f"{self.what}: {step}" if step else self.what
        if total == 0:
            if elapsed >= 1:
                line += f"  {format_duration(round(elapsed))}"
        else:
            filled = WIDTH * done // total
            line += f" [{'#' * filled}{'.' * (WIDTH - filled)}] {done:,}/{total:,}"
            if done and elapsed > 0:
                rate = done / elapsed
                line += f"  {rate:.1f}/s  {format_duration(round((total - done) / rate))} left"
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def close(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


@contextmanager
def progress(what: str, stream: TextIO | None = None, **fields: object
             ) -> Iterator[Progress]:
    """A ``report(done, total)`` for ``what`` on ``stream`` (default: standard error): a
    bar on a terminal, else log lines with ``fields``."""
    stream = sys.stderr if stream is None else stream
    if stream.isatty():
        bar = Bar(what, stream, quiet_for=QUIET_FOR)
        try:
            yield bar
        finally:
            bar.close()
        return
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JournalFormatter() if stream_is_journal(stream) else JSONFormatter())
    log.addHandler(handler)
    level, propagate = log.level, log.propagate
    log.setLevel(logging.INFO)
    log.propagate = False  # once, on this stream (a command sets no logging up)
    try:
        yield ProgressLog(log, f"{what} progress", fields, every=LOG_EVERY, quiet_for=QUIET_FOR)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate
