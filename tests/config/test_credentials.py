"""Secret files may be systemd credentials: ``${CREDENTIALS_DIRECTORY}/NAME`` in a ``*_file``
setting, expanded when the secret is read; anything else with a ``$`` is refused at load
(monitor.config.credentials)."""

from __future__ import annotations

import doctest
import subprocess
from pathlib import Path

import pytest

import monitor.config.credentials as credentials
from monitor.config import parse_config
from monitor.config.credentials import read_secret_file, secret_path
from monitor.errors import ConfigError
from tests.support import sla_monitor_command

SMTP = """\
smtp:
  host: mail.example
  username: sla
  password_file: {value}
  sender: sla@rabit.example
"""


def test_docstring_examples() -> None:
    assert doctest.testmod(credentials).failed == 0


def test_a_credential_reference_loads_and_names_the_file_in_the_credentials_directory(
    tmp_path: Path,
) -> None:
    config = parse_config(SMTP.format(value="${CREDENTIALS_DIRECTORY}/smtp-password"))
    assert config.smtp is not None
    written = config.smtp.password_file
    assert written == "${CREDENTIALS_DIRECTORY}/smtp-password"  # kept as written
    environ = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert secret_path("smtp.password_file", written, environ) == tmp_path / "smtp-password"
    # A plain path is a path, with or without the variable set.
    assert secret_path("smtp.password_file", "/etc/x", environ) == Path("/etc/x")


@pytest.mark.parametrize(
    "value",
    [
        "$HOME/smtp-password",
        "${HOME}/smtp-password",
        "$CREDENTIALS_DIRECTORY/smtp-password",  # the braces are part of the one form
        "${CREDENTIALS_DIRECTORY}",
        "${CREDENTIALS_DIRECTORY}/",
        "${CREDENTIALS_DIRECTORY}/../shadow",
        "${CREDENTIALS_DIRECTORY}/sub/smtp-password",
        "/run/${CREDENTIALS_DIRECTORY}/smtp-password",
        "~/smtp-password",
    ],
)
def test_other_expansions_are_refused_at_load_naming_field_line_and_value(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(SMTP.format(value=f"'{value}'"))
    (issue,) = caught.value.issues
    assert issue.path == "smtp.password_file" and issue.line == 4
    assert repr(value) in issue.message
    assert "${CREDENTIALS_DIRECTORY}/NAME" in issue.message and "no other variable" in issue.message


def test_tokens_file_takes_the_same_form() -> None:
    config = parse_config("http: {tokens_file: '${CREDENTIALS_DIRECTORY}/api-tokens'}")
    assert config.http.tokens_file == "${CREDENTIALS_DIRECTORY}/api-tokens"
    with pytest.raises(ConfigError, match=r"http\.tokens_file: '\$TOKENS' is not valid"):
        parse_config("http: {tokens_file: '$TOKENS'}")


def test_reading_without_credentials_directory_names_field_value_and_cause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(ConfigError) as caught:
        read_secret_file("smtp.password_file", "${CREDENTIALS_DIRECTORY}/smtp-password", "x")
    text = str(caught.value)
    assert "smtp.password_file: '${CREDENTIALS_DIRECTORY}/smtp-password'" in text
    assert "$CREDENTIALS_DIRECTORY is not set" in text and "LoadCredential=" in text


def test_a_credential_that_was_not_loaded_says_where_it_looked_and_what_to_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        read_secret_file("http.tokens_file", "${CREDENTIALS_DIRECTORY}/api-tokens", "API tokens")
    text = str(caught.value)
    assert f"'${{CREDENTIALS_DIRECTORY}}/api-tokens' ({tmp_path / 'api-tokens'})" in text
    assert "No such file" in text and "LoadCredential=api-tokens:" in text
    assert "/etc/credstore/sla-monitor.api-tokens" in text


def test_the_secret_is_read_from_the_credential_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # systemd's copy: read-only, owned by the service's user.
    credential = tmp_path / "smtp-password"
    credential.write_text("s3cret\n")
    credential.chmod(0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    value = "${CREDENTIALS_DIRECTORY}/smtp-password"
    assert read_secret_file("smtp.password_file", value, "the SMTP password") == "s3cret"
    credential.chmod(0o600)
    credential.write_text("\n")
    with pytest.raises(ConfigError, match="is empty") as caught:
        read_secret_file("smtp.password_file", value, "the SMTP password")
    assert "s3cret" not in str(caught.value)


@pytest.mark.slow
def test_check_config_warns_where_the_credentials_directory_is_not_set(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(SMTP.format(value="${CREDENTIALS_DIRECTORY}/smtp-password"))
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [*sla_monitor_command(), "-c", str(config), "check-config"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "warning: smtp.password_file: '${CREDENTIALS_DIRECTORY}/smtp-password' names a systemd "
        "credential; $CREDENTIALS_DIRECTORY is not set here" in result.stdout
    )
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "smtp-password").write_text("s3cret\n")
    env["CREDENTIALS_DIRECTORY"] = str(tmp_path / "creds")
    result = subprocess.run(
        [*sla_monitor_command(), "-c", str(config), "check-config"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert result.returncode == 0 and "warning" not in result.stdout, result.stdout
