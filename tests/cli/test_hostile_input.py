"""Bad command-line input that used to end in a traceback (exit 1, "a bug") or be accepted
silently (defects 5 and 8): each is now one clear line naming the argument, the
value and what is allowed, exit 2, and nothing in the database changes (rows counted
before and after, on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.store.models import (
    AuditEvent,
    CauseChange,
    Incident,
    MaintenanceNotice,
    MaintenanceService,
    MaintenanceWindow,
    Notification,
)
from tests.support import row_counts, sla_monitor_command

CONFIG = """\
provider: {{timezone: America/New_York}}
services:
  - {{id: panel, kind: web_panel, probe: {{type: tcp, host: 127.0.0.1, port: 9}}}}
customers:
  - id: acme
    name: ACME
    contacts: {{technical: {{email: tech@acme.example}}}}
    fee: {{amount: 1000, currency: EUR}}
    sites: [{{domain: acme.example}}]
storage: {{url: '{url}'}}
"""
TABLES = (Incident, CauseChange, Notification, MaintenanceWindow, MaintenanceService,
          MaintenanceNotice, AuditEvent)

WINDOW = ["--start", "2025-01-01T00:00", "--end", "2025-01-01T01:00"]
CASES = [
    # (id, arguments, what the one error line says)
    ("end-past-year-9999",
     ["incident", "add", "--service", "panel", "--start", "2026-01-01T00:00",
      "--end", "9999-12-31T23:59:59-05:00"],
     "--end: '9999-12-31T23:59:59-05:00' is not valid; allowed: an ISO 8601 time"),
    ("start-year-1",
     ["incident", "add", "--service", "panel", "--start", "0001-01-01T00:00",
      "--end", "2026-01-01T00:00"],
     "--start: '0001-01-01T00:00' is not valid; allowed: an ISO 8601 time like "
     "2026-03-21T14:30 (the configured zone) or 2026-03-21T11:00Z, from 1970 to 2999"),
    ("cause-id-beyond-64-bits",
     ["incident", "cause", "18446744073709551616", "--cause", "external", "--reason", "x"],
     "ID: 18446744073709551616 is not valid; allowed: an existing incident id"),
    ("notified-id-beyond-64-bits",
     ["incident", "notified", "18446744073709551616", "--at", "2025-01-01T00:00",
      "--channel", "phone"],
     "ID: 18446744073709551616 is not valid; allowed: an existing incident id"),
    ("cause-id-zero",
     ["incident", "cause", "0", "--cause", "external", "--reason", "x"],
     "ID: 0 is not valid; allowed: an existing incident id"),
    ("maintenance-service-twice",
     ["maintenance", "add", "--services", "panel,panel", *WINDOW, "--reason", "x"],
     "--services: 'panel,panel' is not valid; allowed: each service once (panel repeated)"),
    ("notified-after-the-window",
     ["maintenance", "add", "--services", "panel", *WINDOW, "--reason", "x",
      "--notified-at", "2025-01-02T00:00"],
     "--notified-at: '2025-01-02T00:00' (read as 2025-01-02T05:00:00Z) is not valid; "
     "allowed: a time before --end"),
    ("list-unknown-service",
     ["incident", "list", "--service", "nope"],
     "--service: 'nope' is not valid; allowed: one of the configured services and servers: "
     "panel"),
    ("note-of-a-megabyte",
     ["incident", "add", "--service", "panel", *WINDOW, "--note", "x" * 1_000_000],
     "--note: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is not valid; allowed: at most "
     "2000 characters (this one has 1000000)"),
    # An optional note given blank was stored as an empty note, where every other free
    # text refuses blank.
    ("add-note-blank",
     ["incident", "add", "--service", "panel", *WINDOW, "--note", " "],
     "--note: ' ' is not valid; allowed: a note with words, or none"),
    ("notified-note-blank",
     ["incident", "notified", "1", "--at", "2025-01-01T00:00", "--channel", "phone",
      "--note", ""],
     "--note: '' is not valid; allowed: a note with words, or none"),
    ("reason-of-a-megabyte",
     ["maintenance", "add", "--services", "panel", *WINDOW, "--reason", "y" * 1_000_000],
     "--reason: 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy...' is not valid; allowed: at most "
     "2000 characters"),
    # Arguments that are not UTF-8 (Python reads such bytes as surrogates, \udcff for
    # \xff): they were a UnicodeEncodeError traceback and exit 1 at the database; each is
    # refused where the arguments are parsed, shown as typed.
    ("list-service-not-utf8",
     ["incident", "list", "--service", "\udcff"],
     "--service: '\\xff' is not valid; allowed: text in UTF-8"),
    ("add-note-not-utf8",
     ["incident", "add", "--service", "panel", *WINDOW, "--note", "\udcff\udcfe"],
     "--note: '\\xff\\xfe' is not valid; allowed: text in UTF-8"),
    ("add-service-not-utf8",
     ["incident", "add", "--service", "pan\udcc3el", *WINDOW],
     "--service: 'pan\\xc3el' is not valid; allowed: text in UTF-8"),
    ("cause-id-not-utf8",
     ["incident", "cause", "\udcff", "--cause", "external", "--reason", "x"],
     "ID: '\\xff' is not valid; allowed: text in UTF-8"),
    # Ids of other digits than ASCII's: int() read Persian and Arabic-Indic digits (and
    # wrote with them); the HTTP API refuses them.
    ("notified-id-persian-digits",
     ["incident", "notified", "\u06f1", "--at", "2025-01-01T00:00", "--channel", "phone"],
     "ID: '\u06f1' is not valid; allowed: a whole number in ASCII digits (0-9)"),
    ("cause-id-persian-digits",
     ["incident", "cause", "\u06f1", "--cause", "external", "--reason", "x"],
     "ID: '\u06f1' is not valid; allowed: a whole number in ASCII digits (0-9)"),
    ("cause-id-with-underscore",
     ["incident", "cause", "1_0", "--cause", "external", "--reason", "x"],
     "ID: '1_0' is not valid; allowed: a whole number in ASCII digits (0-9)"),
    # A positional is named as --help names it: there is no --email option.
    ("subscriber-remove-unknown",
     ["subscriber", "remove", "nobody@example.com"],
     "sla-monitor: error: EMAIL: 'nobody@example.com' is not valid; allowed: the address of "
     "a subscriber"),
]


@pytest.fixture
def config(tmp_path: Path, db_url: str, schema_at_head: None) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(url=db_url))
    assert main(["-c", str(path), "db", "upgrade"]) == 0  # only db upgrade and run create it
    return path


def counts(db_url: str) -> dict[str, int]:
    return asyncio.run(row_counts(db_url, TABLES))


@pytest.mark.parametrize(("args", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line_and_changes_nothing(
    config: Path, db_url: str, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    # Something recorded first, so that "nothing changed" is about a non-empty database.
    assert main(["-c", str(config), "incident", "add", "--service", "panel",
                 "--start", "2025-02-01T00:00", "--end", "2025-02-01T00:30"]) == 0
    capsys.readouterr()
    before = counts(db_url)
    assert before["Incident"] == 1
    code = main(["-c", str(config), *args])
    out, err = capsys.readouterr()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], err
    assert "Traceback" not in err and out == ""
    assert counts(db_url) == before


@pytest.mark.parametrize(("args", "expected"), [
    ([b"incident", b"list", b"--service", b"\xff"],
     "--service: '\\xff' is not valid; allowed: text in UTF-8"),
    ([b"incident", b"add", b"--service", b"panel", *(a.encode() for a in WINDOW),
      b"--note", b"\xff\xfe"],
     "--note: '\\xff\\xfe' is not valid; allowed: text in UTF-8"),
    ([b"incident", b"add", b"--service", b"panel", *(a.encode() for a in WINDOW),
      b"--note", "caf\u00e9 \x1b[2J".encode() + b"\xe9"],
     "--note: 'caf\u00e9 \\x1b[2J\\xe9' is not valid; allowed: text in UTF-8"),
], ids=["list-service", "add-note", "escaped-as-typed"])
def test_arguments_that_are_not_utf8_are_one_line_as_typed(
    config: Path, db_url: str, args: list[bytes], expected: str
) -> None:
    # As the shell passes them: bytes, which Python reads into surrogates (\udcff). They
    # reached the database and failed there: a UnicodeEncodeError traceback, exit 1.
    before = counts(db_url)
    done = subprocess.run([*sla_monitor_command(), "-c", str(config), *args],
                          capture_output=True, timeout=60)
    err = done.stderr.decode("utf-8")  # what the terminal is given is UTF-8 itself
    assert done.returncode == 2, err
    assert err.splitlines() == [f"sla-monitor: error: {expected} (it is not; the bytes that "
                                "are not are shown as \\xNN)"], err
    assert done.stdout == b""
    assert counts(db_url) == before


@pytest.mark.parametrize("args", [[b"\xff"], [b"incident", b"\xff"]], ids=["command", "sub"])
def test_a_command_word_that_is_not_utf8_is_shown_as_typed(args: list[bytes]) -> None:
    # argparse's own refusal of a word that is no command showed the surrogate Python read
    # the byte into ('\udcff'), not the byte the user typed ('\xff').
    done = subprocess.run([*sla_monitor_command(), *args], capture_output=True, timeout=60)
    err = done.stderr.decode("utf-8")
    assert done.returncode == 2 and done.stdout == b"", err
    assert "invalid choice: '\\xff' (choose from " in err.splitlines()[-1], err
    assert "udc" not in err and "Traceback" not in err, err


def test_control_characters_are_stored_as_typed_and_shown_escaped(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    note = "reported by phone\x1b[2J\x1b[31m (cleared your screen)\x07"
    assert main(["-c", str(config), "incident", "add", "--service", "panel", *WINDOW,
                 "--note", note]) == 0
    capsys.readouterr()
    assert main(["-c", str(config), "incident", "list"]) == 0
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\x07" not in shown
    assert "reported by phone\\x1b[2J\\x1b[31m (cleared your screen)\\x07" in shown
    assert main(["-c", str(config), "incident", "list", "--format", "json"]) == 0
    assert '"note": "reported by phone\\u001b[2J' in capsys.readouterr().out  # JSON escapes


def test_every_text_a_command_prints_shows_control_characters_escaped(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `ticket show` printed a summary's ESC and BEL raw (a cleared screen, a bell): what a
    # command prints as text is escaped where it is printed, not only in tables.
    summary = "slow\x1b[2J\x1b[31m checkout\x07"
    assert main(["-c", str(config), "ticket", "open", "--customer", "acme", "--service",
                 "panel", "--channel", "email", "--summary", summary]) == 0
    opened = capsys.readouterr().out
    assert main(["-c", str(config), "ticket", "show", "1"]) == 0
    shown = capsys.readouterr().out
    for out in (opened, shown):
        assert "\x1b" not in out and "\x07" not in out, out
        assert "slow\\x1b[2J\\x1b[31m checkout\\x07" in out, out
        assert len(out.splitlines()) > 1  # its lines are still lines
    assert "(L-4: the clocks start now)" in opened
    # Recorded afterwards (--at): the clocks started then, not now.
    assert main(["-c", str(config), "ticket", "open", "--customer", "acme", "--service",
                 "panel", "--channel", "phone", "--summary", "slow", "--at",
                 "2025-01-01T00:00"]) == 0
    assert "(L-4: the clocks start at 2025-01-01 00:00" in capsys.readouterr().out


@pytest.mark.slow
def test_a_reader_that_stops_early_is_no_error(tmp_path: Path, sqlite_url: str) -> None:
    # `report ... | head -1`, `incident list | head -1`: used to be a BrokenPipeError traceback.
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(url=sqlite_url))
    assert main(["-c", str(path), "db", "upgrade"]) == 0
    for day in range(1, 29):
        assert main(["-c", str(path), "incident", "add", "--service", "panel",
                     "--start", f"2025-02-{day:02d}T00:00", "--end", f"2025-02-{day:02d}T00:10",
                     "--note", "n" * 1500]) == 0
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before the first line
    done = subprocess.run([*sla_monitor_command(), "-c", str(path), "incident", "list"],
                          stdout=writer, stderr=subprocess.PIPE, text=True, timeout=60)
    os.close(writer)
    assert done.returncode == 128 + signal.SIGPIPE, done.stderr
    assert done.stderr == ""


def read_only_directory(path: Path) -> None:
    """A directory the daemon cannot write: a read-only tmpfs as root, mode 0555 otherwise."""
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.strip()}")


@pytest.mark.slow
@pytest.mark.parametrize("command", [["run"], ["db", "upgrade"], ["incident", "list"]])
def test_a_read_only_state_directory_is_one_line_and_exit_2(
    tmp_path: Path, command: list[str]
) -> None:
    state = tmp_path / "state"
    read_only_directory(state)
    try:
        path = tmp_path / "config.yaml"
        path.write_text(CONFIG.format(url="") .replace("storage: {url: ''}\n", "")
                        + 'http: {listen: "127.0.0.1:0"}\n')
        done = subprocess.run([*sla_monitor_command(), "-c", str(path), *command],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "STATE_DIRECTORY": str(state)})
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(state)], check=False)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("sla-monitor: error")]
    if command == ["incident", "list"]:  # a read creates nothing: there is no database there
        assert errors == [f"sla-monitor: error: no sla-monitor database at "
                          f"{state / 'sla-monitor.db'} (the file does not exist)"]
        return
    assert errors == [
        f"sla-monitor: error: storage: cannot write the SQLite database "
        f"'{state / 'sla-monitor.db'}': unable to open database file; allowed: a file in a "
        "writable directory ($STATE_DIRECTORY, the working directory, or the one storage.url "
        "names)"
    ]
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("command", [["run"], ["incident", "list"]])
def test_an_unreachable_postgresql_is_one_line_with_the_cause(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "config.yaml"
    url = "postgresql+asyncpg://monitor:CANARY-PW@127.0.0.1:1/sla"
    path.write_text(CONFIG.format(url=url) + 'http: {listen: "127.0.0.1:0"}\n')
    done = subprocess.run([*sla_monitor_command(), "-c", str(path), *command],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("sla-monitor: error")]
    assert len(errors) == 1
    assert errors[0].startswith(
        "sla-monitor: error: storage: cannot use the database "
        "postgresql+asyncpg://monitor:***@127.0.0.1:1/sla: ")
    assert "Connect call failed" in errors[0] or "refused" in errors[0]
    assert "Traceback" not in done.stderr and "CANARY-PW" not in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("command", [["check-config"], ["run"], ["db", "upgrade"],
                                     ["incident", "list"]])
def test_a_storage_url_that_is_not_a_url_is_one_line_and_exit_2(
    tmp_path: Path, command: list[str]
) -> None:
    # A port that is not a number: `run` read it for its migrations before the storage
    # was checked, and printed a traceback (bench_adversarial.py found it).
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(url="postgresql://monitor:CANARY-PW@db:x/sla")
                    + 'http: {listen: "127.0.0.1:0"}\n')
    done = subprocess.run([*sla_monitor_command(), "-c", str(path), *command],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "CANARY-PW" not in done.stderr
    assert done.stderr.splitlines() == [
        "sla-monitor: error: storage: 1 configuration error(s)",
        "  storage.url: 'postgresql://***@db:x/sla' is not a database URL (invalid "
        "literal for int() with base 10: 'x'); allowed: sqlite+aiosqlite:///PATH or "
        "postgresql+asyncpg://USER@HOST/DB",
    ]
    assert list(tmp_path.iterdir()) == [path]  # no database made
