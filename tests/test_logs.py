"""Log lines: JSON objects, one per line; with the ``<N>`` syslog priority of sd-daemon(3)
when standard error is the journal ($JOURNAL_STREAM names its device and inode)."""

from __future__ import annotations

import doctest
import io
import json
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import monitor.logs as logs
from monitor.logs import setup_logging, stream_is_journal
from tests.support import sla_monitor_command


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def emit_three(log_path: Path, environ: dict[str, str]) -> list[str]:
    with log_path.open("w", encoding="utf-8") as stream:
        setup_logging("DEBUG", stream=stream, environ=environ)
        log = logging.getLogger("monitor.test")
        log.debug("probe detail", extra={"target": "panel"})
        log.warning("incident opened", extra={"incident": 7})
        try:
            raise RuntimeError("line one\nline two")
        except RuntimeError:
            log.exception("flush failed")
        logging.getLogger().handlers[0].flush()
    return log_path.read_text(encoding="utf-8").splitlines()


def journal_stream_of(path: Path) -> str:
    status = os.stat(path)
    return f"{status.st_dev}:{status.st_ino}"


def test_docstring_examples() -> None:
    assert doctest.testmod(logs).failed == 0


def test_journal_lines_carry_the_priority_and_stay_json(tmp_path: Path) -> None:
    log_path = tmp_path / "stderr"
    log_path.touch()
    lines = emit_three(log_path, {"JOURNAL_STREAM": journal_stream_of(log_path)})
    # One event per line even with a multi-line traceback: JSON escapes the newlines.
    assert len(lines) == 3
    assert [line[:3] for line in lines] == ["<7>", "<4>", "<3>"]  # debug, warning, err
    events = [json.loads(line[3:]) for line in lines]
    assert [e["event"] for e in events] == ["probe detail", "incident opened", "flush failed"]
    assert events[1]["incident"] == 7 and events[1]["level"] == "warning"
    assert "line one\\nline two" in lines[2] and "RuntimeError" in events[2]["exception"]


def test_without_the_journal_lines_are_plain_json(tmp_path: Path) -> None:
    log_path = tmp_path / "stderr"
    other = tmp_path / "other"
    other.touch()
    # Unset, naming another file (stderr redirected inside a unit), or malformed.
    for environ in ({}, {"JOURNAL_STREAM": journal_stream_of(other)}, {"JOURNAL_STREAM": "x:y"}):
        lines = emit_three(log_path, environ)
        assert len(lines) == 3 and all(line.startswith("{") for line in lines), environ
        assert json.loads(lines[1])["event"] == "incident opened"


def test_a_stream_without_a_file_descriptor_is_not_the_journal() -> None:
    assert not stream_is_journal(io.StringIO(), {"JOURNAL_STREAM": "1:2"})


@pytest.mark.slow
def test_a_fatal_error_before_logging_starts_is_an_err_entry(tmp_path: Path) -> None:
    """``sla-monitor run`` with a missing configuration, under the journal: every line of the
    error carries <3>, so ``journalctl -p err -u sla-monitor`` shows why the start failed."""
    stderr_path = tmp_path / "stderr"
    for journal in (True, False):
        with stderr_path.open("w") as stderr:
            env = {"PATH": "/usr/bin:/bin"}
            if journal:
                env["JOURNAL_STREAM"] = journal_stream_of(stderr_path)
            code = subprocess.run(
                [*sla_monitor_command(), "-c", str(tmp_path / "missing.yaml"), "run"],
                stderr=stderr, stdout=subprocess.DEVNULL, env=env, timeout=60, check=False,
            ).returncode
        lines = stderr_path.read_text().splitlines()
        assert code == 2 and len(lines) == 2, lines
        expected = [
            f"sla-monitor: error: {tmp_path / 'missing.yaml'}: 1 configuration error(s)",
            "  (file): cannot read: No such file or directory",
        ]
        assert lines == ([f"<3>{line}" for line in expected] if journal else expected)


def test_a_repeated_event_is_said_once_a_period_with_how_many_since() -> None:
    from monitor.logs import SaidEvery

    now = [1000.0]
    said = SaidEvery(60.0, clock=lambda: now[0])
    assert said.happened() == 1  # the first: said at once
    assert [said.happened() for _ in range(3)] == [0, 0, 0]
    now[0] += 59.9
    assert said.happened() == 0
    now[0] += 0.1  # a minute after the last line: this one and the four before it
    assert said.happened() == 5
    assert said.happened() == 0
