"""Three vantages confirm outages (R-M2): an incident opens only when a quorum (2 of
3) sees the target down; the vantage whose canaries fail counts as unknown, never as a vote;
a target one vantage cannot reach (a per-vantage firewall: the target refuses that vantage's
requests by their ``X-Vantage`` header) opens no incident and is reported as that vantage's
problem. Real daemon subprocesses, one per vantage, on one PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.store import create_engine
from monitor.store.models import Incident, IncidentVantage, VantageProblem, VantageView
from monitor.testing.smtp import SMTPSink
from monitor.testing.targets import TargetServer, unused_port
from tests.support import DaemonProcess, eventually, rows, sla_monitor_command

from .helpers import leases_by_node, node_config

pytestmark = pytest.mark.slow

Start = Callable[[Path], DaemonProcess]
VANTAGES = ("x", "y", "z")
TARGETS = ["all-down", "only-x", "x-and-z", "fine"]


async def test_three_vantages_open_on_quorum_and_name_who_confirmed(
    tmp_path: Path, pg_url: str, daemon_process: Start
) -> None:
    dead = f"http://127.0.0.1:{unused_port()}/"  # z's canary: nothing listens there
    async with TargetServer() as target, TargetServer() as canary, SMTPSink() as sink:
        daemons = {}
        for vantage in VANTAGES:
            config = node_config(
                tmp_path, pg_url, target, sink, node=f"node-{vantage}", targets=TARGETS,
                vantage=vantage, vantages=VANTAGES, interval="0.4s",
                canary_url=dead if vantage == "z" else canary.url("/"),
            )
            daemons[vantage] = daemon_process(config)
            daemons[vantage].start()
        engine = create_engine(pg_url)
        try:
            # Each vantage probes every target itself (one node each: it holds all four).
            for vantage in VANTAGES:
                await eventually(lambda v=vantage: _holds_all(engine, v), within=40)
            target.refused = {"only-x": {"x"}, "x-and-z": {"x", "z"}}
            await asyncio.sleep(3.0)  # many times fail_after x interval
            # x alone (only-x), and x with blind z (x-and-z): one vote each, short of 2.
            assert await rows(engine, Incident) == []
            problems = await eventually(lambda: _problems(engine, 2), within=15)
            assert {(p.target_id, p.vantage) for p in problems} == {
                ("only-x", "x"), ("x-and-z", "x")}

            started = dt.datetime.now(dt.UTC)
            target.statuses["all-down"] = 503  # down for every vantage; z is blind
            incident = (await eventually(lambda: rows(engine, Incident), within=20))[0]
            assert incident.service_id == "all-down" and incident.start >= started
            await asyncio.sleep(1.5)
            confirmed = await rows(engine, IncidentVantage)
            assert sorted(c.vantage for c in confirmed) == ["x", "y"]  # never z
            # The incident starts at the earliest failure of the confirming streaks (R-M1).
            assert incident.start == min(c.start for c in confirmed)
            z_votes = await rows(engine, VantageView, VantageView.vantage == "z",
                                 VantageView.state == "down")
            assert z_votes == []
            assert len(await rows(engine, Incident)) == 1

            report = json.loads(await asyncio.to_thread(
                _run, str(tmp_path / "node-y.yaml"), "report", "--month",
                started.strftime("%Y-%m"), "--format", "json"))
            lines = report["customers"][0]["incidents"]
            assert [(i["service"], i["confirmed_by"]) for i in lines] == [
                ("all-down", ["x", "y"])]
            assert {(p["target"], p["vantage"]) for p in report["vantage_problems"]} == {
                ("only-x", "x"), ("x-and-z", "x")}

            # Recovery on a quorum of up votes: the one incident closes.
            target.statuses["all-down"] = 200
            await eventually(lambda: rows(engine, Incident, Incident.end.is_not(None)),
                             within=20)
            assert len(await rows(engine, Incident)) == 1
            for daemon in daemons.values():
                daemon.signal(signal.SIGTERM)
                assert daemon.wait() == 0
        finally:
            await engine.dispose()


def _run(config: str, *args: str) -> str:
    return subprocess.run([*sla_monitor_command(), "-c", config, *args], capture_output=True,
                          text=True, check=True, timeout=60).stdout


async def _holds_all(engine, vantage: str) -> bool:  # type: ignore[no-untyped-def]
    return dict(await leases_by_node(engine, vantage)) == {f"node-{vantage}": len(TARGETS)}


async def _problems(engine, count: int) -> list[VantageProblem]:  # type: ignore[no-untyped-def]
    found = await rows(engine, VantageProblem, VantageProblem.end.is_(None))
    return found if len(found) >= count else []
