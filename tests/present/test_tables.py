"""Operators' tables fit the terminal (monitor.present.tables): wrapped columns, a record a
block when even wrapping cannot fit, ``--wide`` for everything; pipes, JSON and CSV as
they were."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.present.tables import fit_line, text_table, width_for_tables
from tests.support import sla_monitor_command

WORDS = st.text(alphabet="abcdefghij0123456789:", min_size=1, max_size=14)
CELLS = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)


@given(
    rows=st.lists(st.lists(CELLS, min_size=3, max_size=3), min_size=1, max_size=6),
    width=st.integers(min_value=44, max_value=120),
)
def test_every_line_fits_and_no_word_is_lost(rows: list[list[str]], width: int) -> None:
    headers = ["id", "service", "note"]
    shown = text_table(headers, rows, width=width)
    assert all(len(line) <= width for line in shown.splitlines()), shown
    # Nothing is cut: every character of every cell is still there (wrapping only moves it).
    def letters(text: str) -> list[str]:
        return sorted("".join(text.split()).replace("-", ""))

    assert letters(shown) == letters("".join(headers) + "".join("".join(r) for r in rows))


def test_a_table_that_fits_is_unchanged_by_the_width() -> None:
    rows = [[1, "panel", "ok"], [12, "srv-1", "a longer note"]]
    assert text_table(["id", "service", "note"], rows, width=200) == text_table(
        ["id", "service", "note"], rows)


def test_too_many_columns_become_one_block_per_row() -> None:
    headers = [f"column_number_{i}" for i in range(8)]
    shown = text_table(headers, [[f"value {i}" for i in range(8)]], width=40)
    lines = shown.splitlines()
    assert lines[0].split() == ["column_number_0", "value", "0"]
    assert len(lines) == 8 and all(len(line) <= 40 for line in lines)


def test_the_width_in_force_applies_inside_its_block_only() -> None:
    rows = [["x" * 30, "y" * 30, "z" * 30]]
    with width_for_tables(50):
        fitted = text_table(["a", "b", "c"], rows)
    assert max(len(line) for line in fitted.splitlines()) <= 50
    assert max(len(line) for line in text_table(["a", "b", "c"], rows).splitlines()) == 94


def test_a_long_command_is_continued_so_that_it_still_pastes() -> None:
    command = ("    sla-monitor incident add --service acme-survey --start 2026-11-23T10:00+00:00 "
               "--end 2026-11-23T12:00+00:00 --note 'reported by phone'")
    shown = fit_line(command, 60)
    assert all(len(line) <= 60 for line in shown.splitlines())
    assert shown.replace(" \\\n      ", " ") == command  # what a shell reads back


CONFIG = """\
services:
  - id: panel
    kind: web_panel
    probe: {{type: tcp, host: 127.0.0.1, port: 9}}
storage: {{url: 'sqlite+aiosqlite:///{db}'}}
"""


def _in_terminal(args: list[str], columns: int) -> str:
    """``args`` run with standard output on a pseudo-terminal ``columns`` wide."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen(args, stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        assert process.wait(timeout=30) == 0, process.stderr.read() if process.stderr else ""
        if process.stderr:
            process.stderr.close()
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.mark.slow  # four command-line processes
def test_incident_list_fits_a_narrow_terminal_and_wide_shows_all(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "sla-monitor.db"))
    base = [*sla_monitor_command(), "-c", str(config)]
    subprocess.run([*base, "db", "upgrade"], check=True, capture_output=True)
    note = "the customer phoned: the panel answered 502 for every page of the editor"
    subprocess.run([*base, "incident", "add", "--service", "panel", "--start", "2026-03-10T10:00Z",
                    "--end", "2026-03-10T11:00Z", "--note", note], check=True, capture_output=True)

    piped = subprocess.run([*base, "incident", "list"], check=True, capture_output=True,
                           text=True, env={**os.environ, "COLUMNS": "60"}).stdout
    assert note in piped  # a pipe keeps one row a line, whatever $COLUMNS says

    narrow = _in_terminal([*base, "incident", "list"], 60)
    assert all(len(line) <= 60 for line in narrow.splitlines()), narrow
    assert " ".join(narrow.split()).count("502 for every page") == 1  # wrapped, not cut

    wide = _in_terminal([*base, "incident", "list", "--wide"], 60)
    assert wide.rstrip("\n") == piped.rstrip("\n")
    assert max(len(line) for line in wide.splitlines()) > 60
