"""Probe ownership (:mod:`monitor.daemon.ownership`): one strategy chosen at start from the
configuration, answering what the runtime asks without ``if cluster`` / ``if workers``.
(The cluster's strategy runs whole in tests/cluster; its answers here need PostgreSQL.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

import monitor
from monitor.config import Settings, parse_config
from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.ownership import Alone, InCluster, InWorkers, choose
from monitor.daemon.routine import step
from monitor.store import Database
from tests.support import FAST

CONFIG = f"""
monitor: {{probe_workers: WORKERS}}
services:
  - id: panel
    kind: web_panel
    probe: {{type: http, url: "http://127.0.0.1:9/", {FAST}}}
  - id: mobile
    kind: mobile_api
    probe: {{type: http, url: "http://127.0.0.1:9/m", {FAST}}}
http: {{listen: "127.0.0.1:0"}}
storage: {{url: "sqlite+aiosqlite:///DB"}}
"""


def strategy(tmp_path: Path, workers: int) -> Alone:
    text = CONFIG.replace("WORKERS", str(workers)).replace("DB", str(tmp_path / "m.db"))
    settings = Settings.from_config(parse_config(text))
    registry = CollectorRegistry()
    db = Database.open(settings.storage.url)
    return choose(settings.config, settings, db, registry, DaemonMetrics(registry),
                  lambda processes: {"processes": processes}, lambda: False, step)


async def test_alone_probes_everything_here_and_always_leads(tmp_path: Path) -> None:
    alone = strategy(tmp_path, 0)
    assert type(alone) is Alone
    assert (alone.processes, alone.probes_here(), alone.cluster) == (0, None, None)
    assert await alone.leader() is True
    assert alone.jobs(alone_settings(tmp_path)) == [] and alone.checks() == {}
    # Every target is probed here, its history kept under its own id by this process only,
    # and a flap reopens its incident (R-M1).
    assert alone.holds("panel") and alone.history_key("panel") == "panel"
    assert (alone.node, alone.history_fence(), alone.reopens_flaps) == (None, None, True)


async def test_probe_workers_share_the_targets_and_add_no_job(tmp_path: Path) -> None:
    workers = strategy(tmp_path, 2)
    assert isinstance(workers, InWorkers) and workers.processes == 2
    here = workers.probes_here()
    assert here is not None
    assert workers.hello == {"processes": 2}  # what every worker is told at start
    assert await workers.leader() is True and workers.jobs(alone_settings(tmp_path)) == []
    # The daemon holds every target: results of the workers' come back to it.
    assert workers.holds("mobile") and workers.history_key("mobile") == "mobile"
    assert (workers.node, workers.history_fence(), workers.reopens_flaps) == (None, None, True)


@pytest.mark.slow
async def test_a_cluster_node_probes_only_what_it_leases_and_votes(pg_url: str) -> None:
    text = (CONFIG.replace("WORKERS", "0").replace("sqlite+aiosqlite:///DB", pg_url)
            + "cluster: {node: node-a, vantage: east, vantages: [east, west]}\n")
    settings = Settings.from_config(parse_config(text))
    registry = CollectorRegistry()
    db = Database.open(settings.storage.url)
    try:
        await db.upgrade()
        node = choose(settings.config, settings, db, registry, DaemonMetrics(registry),
                      lambda processes: {}, lambda: False, step)
        assert isinstance(node, InCluster) and node.node == "node-a"
        # Nothing leased yet: nothing probed here; history kept per vantage, written only
        # while the lease holds (the fence); an incident is the quorum's, never a flap's.
        assert not node.holds("panel") and node.history_key("panel") == "panel@east"
        assert node.history_fence() is not None and node.reopens_flaps is False
        assert [job.id for job in node.jobs(settings)] == ["cluster-leases"]
        assert node.checks() == {"cluster": False,  # no lease is surely ours yet
                                 "cluster_takeover": True}  # none it lacks is locked
    finally:
        await db.dispose()


def alone_settings(tmp_path: Path) -> Settings:
    text = CONFIG.replace("WORKERS", "0").replace("DB", str(tmp_path / "m.db"))
    return Settings.from_config(parse_config(text))


# The parts that use the strategy do not know which one runs: they import neither the
# cluster nor the probe workers, and no condition of theirs names either.
STRATEGY_BLIND = ("app.py", "daemon/watch.py", "daemon/incident_book.py", "daemon/runtime.py",
                  "daemon/recorder.py", "daemon/heartbeat.py", "daemon/jobs.py",
                  "daemon/routine.py", "daemon/certificates.py", "daemon/edge.py")
STRATEGY_MODULES = ("monitor.daemon.cluster", "monitor.daemon.workers")


def strategy_branches(source: str) -> list[str]:
    """Imports of a strategy's module, and conditions that name a cluster or workers."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in STRATEGY_MODULES:
            found.append(f"import {node.module}")
        if isinstance(node, ast.If | ast.IfExp | ast.While):
            test = ast.unparse(node.test)
            if "cluster" in test or "workers" in test:
                found.append(f"if {test}")
    return found


@pytest.mark.parametrize("part", STRATEGY_BLIND)
def test_the_parts_ask_the_strategy_not_which_it_is(part: str) -> None:
    path = Path(monitor.__file__).parent / part
    assert strategy_branches(path.read_text(encoding="utf-8")) == []


def test_the_branch_check_finds_a_branch() -> None:
    source = (
        "from monitor.daemon.cluster import Cluster\n"
        "key = a if self.cluster is None else b\n"
        "if self.workers is not None:\n    pass\n"
    )
    assert strategy_branches(source) == [
        "import monitor.daemon.cluster", "if self.workers is not None",
        "if self.cluster is None"]
