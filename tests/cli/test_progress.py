"""The progress of a long command on standard error: a bar on a terminal, log lines
elsewhere (at most one every 10 s, and the last), standard output left alone."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from monitor.cli.progress import Bar, progress
from monitor.clock import FakeClock
from monitor.logs import ProgressLog


@contextmanager
def _recorded(name: str) -> Iterator[tuple[logging.Logger, list[logging.LogRecord]]]:
    """A logger whose records are kept in a list while in the block."""
    lines: list[logging.LogRecord] = []
    logger = logging.getLogger(name)
    handler = logging.Handler()
    handler.emit = lines.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield logger, lines
    finally:
        logger.removeHandler(handler)


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
    with _recorded("monitor.cli.progress.test") as (logger, lines):
        report = ProgressLog(logger, "statements progress", {"month": "2026-10"},
                             clock=lambda: clock.monotonic())
        for done in range(0, 101):
            report(done, 100)
            clock.advance(0.25)  # 25 s in all
    told = [(r.done, r.total, r.per_second, r.month) for r in lines]  # type: ignore[attr-defined]
    assert told == [(0, 100, None, "2026-10"), (40, 100, 4.0, "2026-10"),
                    (80, 100, 4.0, "2026-10"), (100, 100, 4.0, "2026-10")]


def test_a_pipe_gets_json_lines_on_standard_error_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.cli.progress.QUIET_FOR", 0.0)  # shown from the start
    stream = io.StringIO()
    with progress("statements", stream=stream, month="2026-10") as report:
        report(0, 2)
        report(2, 2)
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(e["event"], e["done"], e["total"], e["month"]) for e in events] == [
        ("statements progress", 0, 2, "2026-10"), ("statements progress", 2, 2, "2026-10")]
    assert events[0]["logger"] == "monitor.cli.progress" and events[0]["level"] == "info"
    assert not logging.getLogger("monitor.cli.progress").handlers  # taken off again


def test_a_command_of_several_steps_names_each_and_counts_each_on_its_own() -> None:
    # report close: a step without a count (total 0) shows its name and how long it has
    # taken; a counted step has its own bar, rate and time left.
    clock = FakeClock(dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    screen = Terminal()
    bar = Bar("report close", screen, clock=lambda: clock.monotonic())
    bar(0, 0, "reading the month's records")
    clock.advance(3)
    bar(0, 0, "reading the month's records")
    bar(0, 100, "computing each customer's report")
    clock.advance(2)
    bar(50, 100, "computing each customer's report")
    shown = screen.getvalue().split("\r")
    assert shown[1].rstrip() == "report close: reading the month's records"
    assert shown[2].rstrip() == "report close: reading the month's records  3 s"
    assert shown[3].rstrip() == ("report close: computing each customer's report "
                                 "[....................] 0/100")
    assert shown[4].rstrip() == ("report close: computing each customer's report "
                                 "[##########..........] 50/100  25.0/s  2 s left")


def test_elsewhere_a_new_step_is_logged_at_once_with_its_name() -> None:
    clock = FakeClock(dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    stream = io.StringIO()
    logger = logging.getLogger("monitor.cli.progress.steps")
    handler = logging.StreamHandler(stream)
    from monitor.logs import JSONFormatter
    handler.setFormatter(JSONFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        report = ProgressLog(logger, "report close progress", {"month": "2026-10"},
                             clock=lambda: clock.monotonic())
        report(0, 0, "reading the month's records")
        clock.advance(1)
        report(0, 10, "computing each customer's report")  # a new step: at once
        clock.advance(1)
        report(5, 10, "computing each customer's report")  # within 10 s: not logged
        report(10, 10, "computing each customer's report")  # the last of the step
        report(0, 0, "freezing the revision")
    finally:
        logger.removeHandler(handler)
    told = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(e["step"], e["done"], e["total"]) for e in told] == [
        ("reading the month's records", 0, 0), ("computing each customer's report", 0, 10),
        ("computing each customer's report", 10, 10), ("freezing the revision", 0, 0)]
    assert told[2]["per_second"] == 10.0  # since the step began


def test_a_command_done_within_its_quiet_time_says_nothing_and_a_longer_one_does() -> None:
    clock = FakeClock(dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    quick, slow = Terminal(), Terminal()
    for screen, took in ((quick, 1.5), (slow, 2.5)):
        bar = Bar("report", screen, clock=lambda: clock.monotonic(), quiet_for=2.0)
        bar(0, 0, "reading the month's records")
        clock.advance(took)
        bar(0, 10, "computing each customer's report")
        bar(10, 10, "computing each customer's report")
        bar.close()
    assert quick.getvalue() == ""
    assert slow.getvalue().split("\r")[1].startswith(
        "report: computing each customer's report [....................] 0/10")
    with _recorded("monitor.cli.progress.quiet") as (logger, lines):
        report = ProgressLog(logger, "report progress", clock=lambda: clock.monotonic(),
                             quiet_for=2.0)
        report(0, 0, "reading the month's records")
        clock.advance(1)
        report(0, 0, "hashing the month's inputs")
        clock.advance(1.5)
        report(5, 10, "computing each customer's report")  # 2.5 s in: said from here on
        report(10, 10, "computing each customer's report")
    assert [(r.step, r.done) for r in lines] == [  # type: ignore[attr-defined]
        ("computing each customer's report", 5), ("computing each customer's report", 10)]
