"""``sla-monitor completion bash|zsh|tcsh``: the script the shell sources completes every
command, subcommand, option and option value from the parsers themselves; made in a real
bash and asked as bash asks it (``COMP_WORDS``), without reading any configuration."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.cli.commands import COMMANDS


def script(shell: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["completion", shell]) == 0
    return capsys.readouterr().out


def completed(path: Path, *words: str) -> list[str]:
    """What bash offers for the last of ``words`` (``sla-monitor`` first)."""
    bash = shutil.which("bash")
    assert bash is not None
    line = " ".join(words)
    program = (f"source {path}\n"
               f"COMP_WORDS=({' '.join(repr(w) for w in words)}); "
               f"COMP_CWORD={len(words) - 1}; COMP_LINE={line!r}; COMP_POINT={len(line)}\n"
               "_shtab_sla_monitor\n"
               'printf "%s\\n" "${COMPREPLY[@]}"\n')
    done = subprocess.run([bash, "--norc", "-c", program], capture_output=True, text=True,
                          timeout=30, check=True)
    return [word for word in done.stdout.splitlines() if word]


def test_bash_completes_commands_subcommands_options_and_their_values(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # No configuration is read: a broken one in the environment changes nothing.
    broken = tmp_path / "broken.yaml"
    broken.write_text("services: [\n")
    monkeypatch.setenv("SLA_MONITOR_CONFIG", str(broken))
    path = tmp_path / "sla-monitor.bash"
    path.write_text(script("bash", capsys))
    bash = shutil.which("bash")
    assert bash is not None
    checked = subprocess.run([bash, "-n", str(path)], capture_output=True, text=True,
                             timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr
    assert sorted(completed(path, "sla-monitor", "")) == sorted(c.name for c in COMMANDS)
    assert completed(path, "sla-monitor", "inc") == ["incident"]
    assert completed(path, "sla-monitor", "-c", "x.yaml", "incident", "") == [
        "add", "list", "cause", "notified", "update"]
    assert completed(path, "sla-monitor", "db", "backup", "--k") == ["--keep"]
    assert completed(path, "sla-monitor", "report", "--format", "") == [
        "table", "json", "csv", "html", "pdf"]
    assert completed(path, "sla-monitor", "completion", "") == ["bash", "zsh", "tcsh"]


def test_zsh_and_tcsh_scripts_name_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for shell in ("zsh", "tcsh"):
        made = script(shell, capsys)
        assert all(command.name in made for command in COMMANDS), shell
    with pytest.raises(SystemExit) as refused:
        main(["completion", "fish"])
    assert refused.value.code == 2
    assert "invalid choice: 'fish' (choose from 'bash', 'zsh', 'tcsh')" in \
        capsys.readouterr().err
