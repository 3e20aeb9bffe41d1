"""The progress of a command that takes a while (``statement send`` at month-end), on
standard error, so that standard output (``--format json``) stays one clean document:

* on a terminal, a bar redrawn in place (at most ten times a second), with the rate and
  the time left, cleared when the command is done::

      statements [##########..........] 5,012/10,000  41.2/s  2 min 1 s left

* anywhere else (systemd's journal, a pipe, a file), a structured log line (JSON, with its
  priority prefix on the journal: :mod:`monitor.logs`) when it starts, every 10 s, and
  when it is done: ``{"event": "statements progress", "done": 5012, "total": 10000,
  "per_second": 41.2, ...}``.

    with progress("statements", stream=sys.stderr) as report:
        ...; report(done, total)
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from monitor.logs import JournalFormatter, JSONFormatter, ProgressLog, stream_is_journal
from monitor.present import format_duration

__all__ = ["Bar", "progress"]

log = logging.getLogger(__name__)

#: How often the log lines come when standard error is not a terminal.
LOG_EVERY = 10.0
WIDTH = 20


class Bar:
    """The bar on a terminal; ``close()`` clears it."""

    def __init__(self, what: str, stream: TextIO, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.what, self.stream, self.clock = what, stream, clock
        self.started: float | None = None
        self.drawn: float | None = None
        self.width = 0

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if self.started is None:
            self.started = now
        if self.drawn is not None and done < total and now - self.drawn < 0.1:
            return
        self.drawn = now
        elapsed = now - self.started
        filled = WIDTH * done // total if total else WIDTH
        line = f"{self.what} [{'#' * filled}{'.' * (WIDTH - filled)}] {done:,}/{total:,}"
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
             ) -> Iterator[Callable[[int, int], None]]:
    """A ``report(done, total)`` for ``what`` on ``stream`` (default: standard error): a
    bar on a terminal, else log lines with ``fields``."""
    stream = sys.stderr if stream is None else stream
    if stream.isatty():
        bar = Bar(what, stream)
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
        yield ProgressLog(log, f"{what} progress", fields, every=LOG_EVERY)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate
