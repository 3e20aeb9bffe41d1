"""What a newcomer reads from the command line is honest: a month label
from the other calendar is refused with the months it would have been (trap 3), errors
echo values as typed (trap 4), one rounding of durations (trap 5), and every command
prints JSON that scripts can read (trap 6). Through ``monitor.cli.main``, on a database
created by ``db upgrade``; SQLite and PostgreSQL where records are involved.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.cli import build_parser, main
from monitor.present.tables import NOTHING

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
def berlin(tmp_path: Path, db_url: str, schema_at_head: None, capsys: pytest.CaptureFixture[str]) -> Run:
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
        "valid; allowed: a time after --start (2026-11-30 10:00 Europe/Berlin (UTC+01:00))"
    )
    code, _, err = berlin("incident", "add", "--service", "panel",
                          "--start", "2026-11-30T10:00", "--end", "2099-01-01T00:00")
    assert code == 2
    assert "--end: '2099-01-01T00:00' (read as 2098-12-31T23:00:00Z) is not valid; " \
           "allowed: a time not after now (" in err
    code, _, err = berlin("incident", "list")
    assert code == 0 and len(err) == 0 and _.splitlines()[2:] == [NOTHING]  # nothing recorded


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
    assert berlin("incident", "list")[1].splitlines()[2:] == [NOTHING]  # nothing recorded


# --- trap 5: one rounding of durations; shown times in the configured zone -----------------------


@pytest.mark.slow
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


# --- trap 6: every command has --help and --format json ------------------------------------------


def _leaf_commands() -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command of ``sla-monitor`` with its parser, e.g. (("incident", "add"), ...)."""
    found: list[tuple[tuple[str, ...], argparse.ArgumentParser]] = []

    def walk(words: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
        groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not groups:
            found.append((words, parser))
        for group in groups:
            for name, child in group.choices.items():
                walk((*words, name), child)

    walk((), build_parser())
    return found


#: ``run`` is the daemon: what it says is its log, JSON lines already (README: Command line);
#: ``completion`` prints a script for the shell to source, which is its only form.
NOT_A_RESULT = {("run",), ("completion",)}


def test_every_command_has_help_and_format_json() -> None:
    commands = dict(_leaf_commands())
    assert ("check-config",) in commands and ("db", "upgrade",) in commands
    for words, parser in commands.items():
        options = {o: a for a in parser._actions for o in a.option_strings}
        assert "--help" in options, words
        if words in NOT_A_RESULT:
            continue
        assert "--format" in options, f"{' '.join(words)} has no --format"
        assert "json" in (options["--format"].choices or ()), words


def test_check_config_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(tz="Asia/Tehran", calendar="jalali", url="", tcp=TCP)
                    .replace("storage: {url: ''}\n", ""))
    assert main(["-c", str(path), "check-config", "--format", "json"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert checked["source"] == str(path) and checked["valid"] is True
    assert (checked["calendar"], checked["timezone"]) == ("jalali", "Asia/Tehran")
    assert checked["counts"] == {"servers": 1, "services": 2, "customers": 1, "canaries": 0}
    assert checked["detection_deadline_seconds"] == 900
    # D-1: 30 s x 3 + 10 s = 100 s worst case, within 15 min.
    assert checked["probes"][0] == {
        "id": "srv-1", "kind": "server", "type": "tcp", "interval_seconds": 30.0,
        "fail_after": 3, "timeout_seconds": 10.0, "worst_case_detection_seconds": 100.0,
        "d1": "OK",
    }
    assert [p["id"] for p in checked["probes"]] == ["srv-1", "panel", "shop"]
    # No http.public_url, and the default http.listen (127.0.0.1:9180): acme's e-mails
    # would lead to an address only this machine can open.
    assert checked["warnings"] == [
        "http.public_url: not set: the links in customers' and subscribers' e-mails and in "
        "the Atom feed lead to http://127.0.0.1:9180, which customers cannot open; set it to "
        "the pages' address as customers reach them, e.g. 'https://status.example.com'"]


@pytest.mark.parametrize(("http", "said"), [
    ("", True),  # the default listen, 127.0.0.1:9180
    ("http: {listen: '0.0.0.0:9180'}", True),
    ("http: {listen: '[::1]:9180'}", True),
    ("http: {listen: 'localhost:9180'}", True),
    ("http: {listen: '0.0.0.0:9180', public_url: 'https://status.rabit.example'}", False),
    ("http: {listen: '203.0.113.7:80'}", False),  # an address customers can open
    ("http: {listen: 'status.rabit.example:80'}", False),
])
def test_check_config_says_when_customers_links_lead_where_they_cannot_open(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], http: str, said: bool) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(tz="UTC", calendar="gregorian", url="", tcp=TCP)
                    .replace("storage: {url: ''}\n", http + "\n"))
    assert main(["-c", str(path), "check-config"]) == 0
    out = capsys.readouterr().out
    assert ("warning: http.public_url: not set" in out) is said, out


def test_check_config_of_thousands_of_probes_groups_the_same_settings(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """At 10,000 customers check-config printed 15,000 rows, one per probe, the warnings
    after them. Beyond 50 probes, the probes of one kind and the same settings are one row
    (the first's id and how many more); ``--each`` prints every probe, and the JSON always
    does."""
    projects = "".join(f"  - {{id: p{n}, kind: project, server: srv-1, probe: {{type: tcp, "
                       f"host: 10.0.0.1, port: 22}}}}\n" for n in range(120))
    odd = ("  - {id: odd, kind: project, server: srv-1, probe: {type: tcp, host: 10.0.0.1,"
           " port: 22, interval: 1m}}\n")
    path = tmp_path / "config.yaml"
    path.write_text("servers:\n  - {id: srv-1, probe: {type: tcp, host: 10.0.0.1, port: 22}}\n"
                    f"services:\n{projects}{odd}")

    assert main(["-c", str(path), "check-config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = lines[lines.index(next(line for line in lines if line.startswith("probe "))):]
    # srv-1 alone (D-1: 30 s x 3 + 10 s = 1 min 40 s), the 120 projects of the same
    # settings as one row, and the project probed every minute (1 min x 3 + 10 s).
    rows = [line.split("  ")[0] for line in table[2:] if not line.startswith("warning")]
    assert rows == ["srv-1", "p0 and 119 more", "odd"], table
    assert "3 min 10 s" in table[4] and table[4].rstrip().endswith("OK")
    assert "122 probes in 3 rows of the same kind and settings (--each: one row a probe)" in (
        lines), lines

    assert main(["-c", str(path), "check-config", "--each"]) == 0
    every = capsys.readouterr().out
    assert "p119 " in every and "and 119 more" not in every


def test_db_upgrade_json(tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
                         ) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"storage: {{url: '{sqlite_url}'}}\n")
    assert main(["-c", str(path), "db", "upgrade", "--format", "json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["database"] == str(tmp_path / "sla-monitor.db")
    assert first["before"] is None and first["after"] == first["head"] and first["changed"]
    assert main(["-c", str(path), "db", "upgrade", "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["before"] == again["after"] == first["after"] and again["changed"] is False


@pytest.mark.slow
def test_write_commands_print_what_they_recorded_with_ids(berlin: Run) -> None:
    code, out, _ = berlin("incident", "add", "--service", "panel", "--start", "2026-03-10T11:00",
                          "--end", "2026-03-10T12:30", "--format", "json")
    assert code == 0
    incident = json.loads(out)
    # 11:00 in Berlin is 10:00 UTC; JSON times are UTC with Z (as the report's).
    assert (incident["id"], incident["start"], incident["end"]) == (
        1, "2026-03-10T10:00:00Z", "2026-03-10T11:30:00Z")
    code, out, _ = berlin("incident", "cause", "1", "--cause", "external", "--reason", "cut-off",
                          "--format", "json")
    changed = json.loads(out)
    assert (changed["incident"]["id"], changed["old_cause"], changed["incident"]["cause"]) == (
        1, "provider", "external")
    code, out, _ = berlin("incident", "notified", "1", "--at", "2026-03-10T11:20",
                          "--channel", "phone", "--format", "json")
    assert json.loads(out) == {"incident_id": 1, "channel": "phone",
                               "at": "2026-03-10T10:20:00Z", "customers": ["acme"]}
    code, out, _ = berlin("maintenance", "add", "--services", "shop", "--start",
                          "2026-03-20T00:00Z", "--end", "2026-03-20T02:00Z", "--reason", "kernel",
                          "--notified-at", "2026-03-17T00:00Z", "--format", "json")
    added = json.loads(out)
    assert added["window"]["id"] == 1 and added["noticed"] == ["acme"]
    code, out, _ = berlin("report", "close", "--month", "2026-03", "--format", "json")
    closing = json.loads(out)
    assert (closing["month"], closing["revision"], closing["created"]) == ("2026-03", 1, True)
    listed = json.loads(berlin("incident", "list", "--format", "json")[1])
    assert [i["id"] for i in listed] == [1]
    assert [w["window"]["id"] for w in json.loads(berlin("maintenance", "list", "--format",
                                                          "json")[1])] == [1]
