"""Probe ownership (:mod:`monitor.daemon.ownership`): one strategy chosen at start from the
configuration, answering what the runtime asks without ``if cluster`` / ``if workers``.
(The cluster's strategy runs in tests/cluster: it needs PostgreSQL.)"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from monitor.config import Settings, parse_config
from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.ownership import Alone, InWorkers, choose
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


async def test_probe_workers_share_the_targets_and_add_no_job(tmp_path: Path) -> None:
    workers = strategy(tmp_path, 2)
    assert isinstance(workers, InWorkers) and workers.processes == 2
    here = workers.probes_here()
    assert here is not None
    assert workers.hello == {"processes": 2}  # what every worker is told at start
    assert await workers.leader() is True and workers.jobs(alone_settings(tmp_path)) == []


def alone_settings(tmp_path: Path) -> Settings:
    text = CONFIG.replace("WORKERS", "0").replace("DB", str(tmp_path / "m.db"))
    return Settings.from_config(parse_config(text))
