"""What a newcomer reads from the command line is honest (issue 8, item 3): a month label
from the other calendar is refused with the months it would have been (trap 3), errors
echo values as typed (trap 4), one rounding of durations (trap 5), and every command
prints JSON that scripts can read (trap 6). Through ``monitor.cli.main``, on a database
created by ``db upgrade``; SQLite and PostgreSQL where records are involved.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.cli import main

TCP = "{type: tcp, host: 127.0.0.1, port: 9}"
CONFIG = """\
provider: {{timezone: {tz}, calendar: {calendar}}}
servers: [{{id: srv-1, probe: {tcp}}}]
services:
  - {{id: panel, kind: web_panel, probe: {tcp}}}
  - {{id: shop, kind: project, server: srv-1, probe: {tcp}}}
customers:
  - id: acme
    name: ACME
    contacts: {{technical: {{email: tech@acme.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    services: [shop]
    sites: [{{domain: acme.example}}]
storage: {{url: '{url}'}}
"""

Run = Callable[..., tuple[int, str, str]]


def make_cli(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str], *, tz: str = "UTC",
    calendar: str = "gregorian",
) -> Run:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(tz=tz, calendar=calendar, url=url, tcp=TCP))
    assert main(["-c", str(path), "db", "upgrade"]) == 0
    capsys.readouterr()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["-c", str(path), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def berlin(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> Run:
    return make_cli(tmp_path, db_url, capsys, tz="Europe/Berlin")


@pytest.fixture
def tehran(tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> Run:
    return make_cli(tmp_path, sqlite_url, capsys, tz="Asia/Tehran", calendar="jalali")


# --- trap 3: a month label of the other calendar -------------------------------------------------


@pytest.mark.parametrize("command", [
    ("report",), ("report", "close"), ("incident", "list"), ("maintenance", "list"),
])
def test_every_month_option_refuses_a_gregorian_label_on_a_jalali_provider(
    tehran: Run, command: tuple[str, ...]
) -> None:
    code, out, err = tehran(*command, "--month", "2026-11")
    assert code == 2 and out == ""
    assert err.strip() == (
        "sla-monitor: error: --month: '2026-11' is not valid; allowed: a month YYYY-MM, MM 01 "
        "to 12, years 1300 to 1499: the provider's calendar is Jalali (Solar Hijri); 2026-11 "
        "in the Gregorian calendar is 1405-08/1405-09"
    )
    # The months it named are accepted.
    assert tehran(*command, "--month", "1405-08")[0] == 0


def test_a_jalali_label_on_a_gregorian_provider_is_refused(berlin: Run) -> None:
    code, _, err = berlin("report", "--month", "1405-08")
    assert code == 2
    assert "the provider's calendar is Gregorian; 1405-08 in the Jalali calendar is " \
           "2026-10/2026-11" in err


# --- trap 4: the value as the user typed it, then what it was read as ----------------------------


def test_an_error_echoes_the_time_as_typed_then_as_read(berlin: Run) -> None:
    code, _, err = berlin("incident", "add", "--service", "panel",
                          "--start", "2026-11-30T10:00", "--end", "2026-11-30T09:00")
    assert code == 2
    # 09:00 in Berlin (UTC+01:00 in November) is 08:00 UTC.
    assert err.strip() == (
        "sla-monitor: error: --end: '2026-11-30T09:00' (read as 2026-11-30T08:00:00Z) is not "
        "valid; allowed: a time after --start (2026-11-30T09:00:00Z)"
    )
    code, _, err = berlin("incident", "add", "--service", "panel",
                          "--start", "2026-11-30T10:00", "--end", "2099-01-01T00:00")
    assert code == 2
    assert "--end: '2099-01-01T00:00' (read as 2098-12-31T23:00:00Z) is not valid; " \
           "allowed: a time not after now (" in err
    code, _, err = berlin("incident", "list")
    assert code == 0 and len(err) == 0 and len(_.splitlines()) == 2  # nothing recorded


def test_a_value_read_as_it_was_typed_is_shown_once(berlin: Run) -> None:
    code, _, err = berlin("maintenance", "add", "--services", "panel,nope", "--start",
                          "2026-03-01T00:00Z", "--end", "2026-03-01T01:00Z", "--reason", "x")
    assert code == 2
    assert "--services: 'nope' is not valid" in err and "read as" not in err


@pytest.mark.parametrize(("text", "why"), [
    ("2026-03-29T02:30", "02:30 on 2026-03-29 does not exist in Europe/Berlin"),
    ("2026-10-25T02:30", "02:30 on 2026-10-25 happens twice in Europe/Berlin"),
])
def test_a_local_time_a_clock_change_skips_or_repeats_is_refused(
    berlin: Run, text: str, why: str
) -> None:
    code, _, err = berlin("incident", "add", "--service", "panel", "--start", text,
                          "--end", "2026-10-25T05:00Z")
    assert code == 2
    assert f"--start: '{text}' is not valid; allowed: " in err and why in err
    assert berlin("incident", "list")[1].count("\n") == 2  # header and rule only


# --- trap 5: one rounding of durations; shown times in the configured zone -----------------------


def test_incident_list_and_report_show_the_same_whole_seconds(berlin: Run) -> None:
    # 10:00:00.9 to 10:00:40.1: 39.2 s apart, but the engine cuts each instant to its second
    # (R-M6): 10:00:00 to 10:00:40 is 40 s, everywhere.
    assert berlin("incident", "add", "--service", "panel", "--start", "2026-03-10T10:00:00.9Z",
                  "--end", "2026-03-10T10:00:40.1Z")[0] == 0
    code, listed, _ = berlin("incident", "list")
    assert code == 0
    row = listed.splitlines()[2]
    assert "  40 s  " in row and "39 s" not in row
    code, report, _ = berlin("report", "--month", "2026-03", "--customer", "acme")
    assert code == 0
    assert "  40 s  " in report.split("incident  service", 1)[1]
    # Shown in the configured zone like everywhere else: 10:00 UTC is 11:00 in Berlin.
    assert "2026-03-10 11:00:00 Europe/Berlin (UTC+01:00)" in row
    assert "2026-03-10 11:00:00 Europe/Berlin (UTC+01:00)" in report
    assert "Z " not in report and not report.rstrip().endswith("Z")
