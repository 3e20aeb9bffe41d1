"""The progress of a long command on standard error: a bar on a terminal, log lines
elsewhere (at most one every 10 s, and the last), standard output left alone."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging

from monitor.cli.progress import Bar, progress
from monitor.clock import FakeClock
from monitor.logs import ProgressLog


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_bar_with_the_rate_and_the_time_left_cleared_at_the_end() -> None:
    clock = FakeClock(dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    screen = Terminal()
    bar = Bar("statements", screen, clock=lambda: clock.monotonic())
    bar(0, 1000)
    clock.advance(10)
    bar(250, 1000)
    bar(260, 1000)  # within a tenth of a second of the last: not redrawn
    shown = screen.getvalue().split("\r")
    assert shown[1] == "statements [....................] 0/1,000"
    assert shown[2] == "statements [#####...............] 250/1,000  25.0/s  30 s left"
    assert len(shown) == 3
    bar.close()
    assert screen.getvalue().endswith("\r" + " " * len(shown[2]) + "\r")


def test_elsewhere_log_lines_every_ten_seconds_and_the_last() -> None:
    clock = FakeClock(dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    lines: list[logging.LogRecord] = []
    logger = logging.getLogger("monitor.cli.progress.test")
    handler = logging.Handler()
    handler.emit = lines.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        report = ProgressLog(logger, "statements progress", {"month": "2026-10"},
                             clock=lambda: clock.monotonic())
        for done in range(0, 101):
            report(done, 100)
            clock.advance(0.25)  # 25 s in all
    finally:
        logger.removeHandler(handler)
    told = [(r.done, r.total, r.per_second, r.month) for r in lines]  # type: ignore[attr-defined]
    assert told == [(0, 100, None, "2026-10"), (40, 100, 4.0, "2026-10"),
                    (80, 100, 4.0, "2026-10"), (100, 100, 4.0, "2026-10")]


def test_a_pipe_gets_json_lines_on_standard_error_only() -> None:
    stream = io.StringIO()
    with progress("statements", stream=stream, month="2026-10") as report:
        report(0, 2)
        report(2, 2)
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(e["event"], e["done"], e["total"], e["month"]) for e in events] == [
        ("statements progress", 0, 2, "2026-10"), ("statements progress", 2, 2, "2026-10")]
    assert events[0]["logger"] == "monitor.cli.progress" and events[0]["level"] == "info"
    assert not logging.getLogger("monitor.cli.progress").handlers  # taken off again
