"""``cluster:`` requires PostgreSQL, and its vantages and quorum agree: one clear
error each, exit code 2, no traceback, nothing created; a daemon alone is unchanged."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import sla_monitor_command

pytestmark = pytest.mark.slow

BASE = """
provider: {name: Rabit Hosting}
services:
  - {id: panel, kind: web_panel, probe: {type: http, url: "http://127.0.0.1:9/", interval: 30s, timeout: 5s}}
"""


def _run(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.yaml"
    config.write_text(BASE + text)
    return subprocess.run([*sla_monitor_command(), "-c", str(config), *args],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)


@pytest.mark.parametrize("command", [["check-config"], ["run"]])
def test_cluster_on_sqlite_is_refused(tmp_path: Path, command: list[str]) -> None:
    done = _run(tmp_path, "cluster: {node: a}\n", *command)
    assert done.returncode == 2, done.stderr
    assert "cluster: requires PostgreSQL, but storage.url is SQLite (the default)" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "sla-monitor.db").exists()  # nothing created


def test_cluster_with_an_sqlite_url_names_it(tmp_path: Path) -> None:
    done = _run(tmp_path, "storage: {url: 'sqlite+aiosqlite:///x.db'}\ncluster: {node: a}\n",
                "check-config")
    assert done.returncode == 2
    assert "storage.url is 'sqlite+aiosqlite:///x.db'" in done.stderr


def test_vantages_and_quorum_must_agree(tmp_path: Path) -> None:
    done = _run(
        tmp_path,
        "storage: {url: 'postgresql+asyncpg://u@127.0.0.1/db'}\n"
        "cluster: {node: a, vantage: tehran, vantages: [frankfurt, paris], quorum: 3}\n",
        "check-config",
    )
    assert done.returncode == 2
    assert "cluster.vantages: ['frankfurt', 'paris'] does not list this node's vantage " \
           "'tehran'" in done.stderr
    assert "cluster.quorum: 3 is more than the 2 vantages" in done.stderr


def test_a_cluster_on_postgresql_checks(tmp_path: Path) -> None:
    done = _run(
        tmp_path,
        "storage: {url: 'postgresql+asyncpg://u@127.0.0.1/db'}\n"
        "cluster: {node: a, vantage: x, vantages: [x, y, z], lease_timeout: 10s}\n",
        "check-config",
    )
    assert done.returncode == 0, done.stderr


def test_probe_workers_in_a_cluster_are_refused(tmp_path: Path) -> None:
    # A node probes in its own process: monitor.probe_workers set to a number was ignored
    # without a word (the reference says "none in a cluster"). "auto" and 0 say nothing.
    cluster = ("storage: {url: 'postgresql+asyncpg://u@127.0.0.1/db'}\n"
               "cluster: {node: a}\n")
    done = _run(tmp_path, cluster + "monitor: {probe_workers: 2}\n", "check-config")
    assert done.returncode == 2, done.stderr
    assert ("monitor.probe_workers: 2 is not valid in a cluster: a node probes in its own "
            "process; allowed: auto or 0") in done.stderr, done.stderr
    for quiet in ("auto", "0"):
        done = _run(tmp_path, cluster + f"monitor: {{probe_workers: {quiet}}}\n", "check-config")
        assert done.returncode == 0, done.stderr
