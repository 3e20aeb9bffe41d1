"""The commands of the HTTP edge, through the installed console script:
``token new`` prints a token and a line that recognises it (never the token in the
line), ``customer link-key`` a key long enough, ``check-config --format json`` the D-1
worst cases; a bad scope is exit 2 with one line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from monitor.actions.links import LinkKeys
from monitor.http.auth import TokenSet
from tests.support import sla_monitor_command


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*sla_monitor_command(), *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


@pytest.mark.slow
def test_token_new_prints_a_token_and_the_line_that_knows_it(tmp_path: Path) -> None:
    done = run("token", "new", "customer:acme", "--name", "acme-portal", "--format", "json",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    token, line = printed["token"], printed["line"]
    assert len(token) >= 40 and token not in line
    assert line.startswith("customer:acme sha256:") and line.endswith(" acme-portal")
    principal = TokenSet.parse(line, "http.tokens_file").find(token)
    assert principal is not None
    assert (principal.scope, principal.customer, principal.name) == (
        "customer", "acme", "acme-portal")


@pytest.mark.slow
def test_token_new_refuses_a_bad_scope(tmp_path: Path) -> None:
    done = run("token", "new", "admin", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "sla-monitor: error: SCOPE: 'admin' is not valid; allowed: read, write, customer:ID "
        "with a configured customer's id or push:ID with a configured push target's")


@pytest.mark.slow
def test_token_new_makes_a_push_token_for_a_configured_push_target_only(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("""
services:
  - {id: panel, kind: web_panel, probe: {type: tcp, host: 127.0.0.1, port: 9}}
  - {id: backup, kind: web_panel, probe: {type: push, interval: 5m, fail_after: 2}}
""")
    done = run("-c", str(config), "token", "new", "push:backup", "--name", "backup-job",
               "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    principal = TokenSet.parse(printed["line"], "http.tokens_file").find(printed["token"])
    assert principal is not None
    assert (principal.scope, principal.target, principal.customer, principal.scope_text) == (
        "push", "backup", None, "push:backup")
    done = run("-c", str(config), "token", "new", "push:panel", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.strip() == (
        "sla-monitor: error: SCOPE: 'push:panel' is not valid; allowed: read, write, "
        "customer:ID with a configured customer's id (none configured) or push:ID with a "
        "configured push target's (push:backup)")


@pytest.mark.slow
def test_customer_link_key_prints_a_usable_key(tmp_path: Path) -> None:
    done = run("customer", "link-key", cwd=tmp_path)
    assert done.returncode == 0
    key = done.stdout.strip()
    assert len(key) >= 32
    assert LinkKeys.parse(key, "http.link_key_file").keys == (key.encode(),)


@pytest.mark.slow
def test_check_config_as_json(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("""
services:
  - {id: panel, kind: web_panel, probe: {type: tcp, host: 127.0.0.1, port: 9, interval: 4m,
     fail_after: 3, timeout: 10s}}
""")
    done = run("-c", str(config), "check-config", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    checked = json.loads(done.stdout)
    (probe,) = checked["probes"]
    # D-1: 4 min x 3 + 10 s = 730 s, within the 900 s duty.
    assert (probe["id"], probe["worst_case_detection_seconds"], probe["d1"]) == (
        "panel", 730.0, "OK")
    assert checked["detection_deadline_seconds"] == 900
