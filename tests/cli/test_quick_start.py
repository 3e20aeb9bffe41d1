"""A command imports only what it needs: ``sla-monitor --version`` and ``--help`` read the
table of commands (monitor/cli/commands.py), not the store, the configuration schema or
the HTTP client; ``incident list`` loads the configuration, the store and its one action,
not the web server, the templates, the PDF renderer or the metrics.

Each run is a fresh interpreter (a subprocess), which then reports the top-level packages
it imported: what a test process imported before says nothing. No wall-clock figures
here: benchmarks/bench_cli.py measures the times.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import build_parser, main
from monitor.cli.commands import COMMANDS
from monitor.store.migrate import _alembic_head, _script_head, head_revision, script_location

# Runs the command line in-process, then prints the packages imported, on the last line.
RUN = """\
import json, sys
from monitor.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print()
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

HEAVY = ("sqlalchemy", "pydantic", "aiohttp", "alembic", "jinja2", "yaml")
# alembic too: a read checks the schema's revision from the scripts' text (head_revision).
NOT_FOR_A_READ = ("aiohttp", "jinja2", "typst", "prometheus_client", "alembic")

CONFIG = """\
services:
  - id: panel
    kind: web_panel
    probe: {{type: tcp, host: 127.0.0.1, port: 9}}
storage: {{url: 'sqlite+aiosqlite:///{db}'}}
"""


def imported(*argv: str) -> tuple[set[str], str]:
    """The top-level packages ``sla-monitor ARGV`` imported, and what it printed."""
    done = subprocess.run([sys.executable, "-c", RUN, *argv], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    shown, _, last = done.stdout.rstrip("\n").rpartition("\n")
    found = json.loads(last)
    assert found["code"] in (0, None), done.stderr
    return {name.split(".")[0] for name in found["modules"]}, shown


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_version_and_help_import_no_heavy_package(argv: list[str]) -> None:
    packages, shown = imported(*argv)
    assert "monitor" in packages  # the check sees what the run imported
    assert sorted(packages & set(HEAVY)) == []
    if argv == ["--help"]:  # every command listed, with its one-line help
        words = " ".join(shown.split())  # argparse wraps the lines
        for command in COMMANDS:
            assert f"{command.name} {command.help}" in words


@pytest.mark.slow
def test_a_command_help_loads_that_command_in_full() -> None:
    packages, shown = imported("incident", "list", "--help")
    assert "--month" in shown and "--format" in shown
    assert sorted(packages & set(NOT_FOR_A_READ)) == []


@pytest.mark.slow
def test_incident_list_imports_no_server_template_pdf_or_metrics(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "sla-monitor.db"))
    assert main(["-c", str(config), "db", "upgrade"]) == 0
    assert main(["-c", str(config), "incident", "add", "--service", "panel",
                 "--start", "2026-03-10T10:00Z", "--end", "2026-03-10T11:00Z"]) == 0
    packages, shown = imported("-c", str(config), "incident", "list")
    assert "panel" in shown  # it did read the incident
    assert {"sqlalchemy", "pydantic"} <= packages  # what it does need
    assert sorted(packages & set(NOT_FOR_A_READ)) == []


@pytest.mark.slow
def test_an_abbreviated_config_option_still_finds_the_command(tmp_path: Path) -> None:
    # --conf PATH: argparse reads it as --config; the guess before the parse takes PATH
    # for the command word, and the command argparse found is loaded after all.
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "sla-monitor.db"))
    assert main(["-c", str(config), "db", "upgrade"]) == 0
    _, shown = imported("--conf", str(config), "incident", "list", "--format", "json")
    assert json.loads(shown) == []


def test_the_full_parser_has_every_command() -> None:
    parser = build_parser()
    names = {command.name for command in COMMANDS}
    action = next(a for a in parser._actions if a.dest == "command")
    assert set(action.choices) == names  # type: ignore[arg-type]
    for name in names:  # each registered in full: it has its own --help
        assert any("-h" in a.option_strings
                   for a in action.choices[name]._actions)  # type: ignore[index]


def test_the_head_read_from_the_scripts_is_alembics(sqlite_url: str) -> None:
    assert head_revision(sqlite_url) == _alembic_head(sqlite_url) is not None
    assert _script_head(Path(script_location()) / "versions") == _alembic_head(sqlite_url)


def test_scripts_with_two_heads_are_left_to_alembic(tmp_path: Path) -> None:
    for name, revision, down in (("a", "1", None), ("b", "2", "1"), ("c", "3", "1")):
        (tmp_path / f"{name}.py").write_text(f"revision = {revision!r}\ndown_revision = {down!r}\n")
    assert _script_head(tmp_path) is None  # a branch: alembic decides (it refuses)
    (tmp_path / "c.py").write_text("revision = '3'\ndown_revision = '2'\n")
    assert _script_head(tmp_path) == "3"
    (tmp_path / "c.py").write_text('revision: str = "3"  # the head\n'
                                   'down_revision: str | None = "2"\n')
    assert _script_head(tmp_path) == "3"
    (tmp_path / "c.py").write_text("revision = '3'\ndown_revision = PARENT\n")
    assert _script_head(tmp_path) is None  # not a plain string: alembic reads it


def test_the_configuration_option_may_follow_the_command(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``sla-monitor check-config -c config.yaml`` (an operator's habit from git, kubectl or
    ansible) was refused ("unrecognized arguments: -c config.yaml", exit 2): the option was
    the top-level parser's only. It is every command's too, nested ones included; given
    before and after the command, the one after it is used, as argparse reads options."""
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "sla-monitor.db"))
    assert main(["db", "upgrade", "-c", str(config)]) == 0
    capsys.readouterr()
    for argv in (["incident", "list", "-c", str(config), "--format", "json"],
                 ["incident", "list", "--format", "json", "--config", str(config)],
                 ["incident", "list", f"--config={config}", "--format", "json"],
                 ["-c", str(tmp_path / "absent.yaml"), "incident", "list", "-c", str(config),
                  "--format", "json"]):
        assert main(argv) == 0, argv
        assert json.loads(capsys.readouterr().out) == [], argv
    assert main(["check-config", "-c", str(config), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == str(config)
    # A file that is not there is named, whichever place the option had.
    assert main(["check-config", "-c", str(tmp_path / "absent.yaml")]) == 2
    assert "absent.yaml" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["incident", "list", "--help"])
    assert "-c PATH, --config PATH" in capsys.readouterr().out


def test_a_mistyped_command_or_option_is_answered_with_the_nearest(
        capsys: pytest.CaptureFixture[str]) -> None:
    """``sla-monitor incidents list`` listed all 17 commands and ``incident list --mnth
    2026-10`` said only "unrecognized arguments": each now names the nearest word too (as git
    does), on the same one line, exit 2. A word near none is answered as before."""
    for argv, hint in (
            (["incidents", "list"], "did you mean 'incident'?"),
            (["incident", "lst"], "did you mean 'list'?"),
            (["incident", "list", "--mnth", "2026-10"], "did you mean --month?"),
            (["claim", "list", "--custmer", "acme"], "did you mean --customer?")):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2, argv
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert error.startswith("sla-monitor") and error.endswith(hint), (argv, error)
    with pytest.raises(SystemExit):
        main(["xyzzy"])
    assert "did you mean" not in capsys.readouterr().err


def test_a_mistyped_option_is_answered_by_the_command_it_was_given_to(
        capsys: pytest.CaptureFixture[str]) -> None:
    """``incident list --caus x`` suggested ``--cause``, which only ``incident add`` takes
    (every option of the command's module was compared), and the refusal was the top-level
    parser's ("sla-monitor: error:", its usage). The command given answers now: its name,
    its usage, and the nearest of its own options or none."""
    for argv, usage, error in (
            (["incident", "list", "--caus", "x"], "usage: sla-monitor incident list ",
             "sla-monitor incident list: error: unrecognized arguments: --caus x"),
            (["incident", "list", "--servce", "x"], "usage: sla-monitor incident list ",
             "sla-monitor incident list: error: unrecognized arguments: --servce x;"
             " did you mean --service?"),
            (["claim", "list", "--decison", "x"], "usage: sla-monitor claim list ",
             "sla-monitor claim list: error: unrecognized arguments: --decison x")):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2, argv
        lines = capsys.readouterr().err.strip().splitlines()
        assert lines[0].startswith(usage), (argv, lines)
        assert lines[-1] == error, (argv, lines)
