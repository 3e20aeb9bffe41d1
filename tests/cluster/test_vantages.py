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
INTERVAL = dt.timedelta(seconds=0.4)  # every target's probe interval
TIMEOUT = dt.timedelta(seconds=0.3)  # every probe's timeout (helpers.node_config)
SLACK = dt.timedelta(seconds=0.6)  # a probe's timeout and the scheduler's delays


async def test_three_vantages_open_on_quorum_and_name_who_confirmed(
    tmp_path: Path, pg_url: str, daemon_process: Start
) -> None:
    dead = f"http://127.0.0.1:{unused_port()}/"  # z's canary: nothing listens there
    async with TargetServer() as target, TargetServer() as canary, SMTPSink() as sink:
        daemons = {}
        for vantage in VANTAGES:
            config = node_config(
                tmp_path, pg_url, target, sink, node=f"node-{vantage}", targets=TARGETS,
                vantage=vantage, vantages=VANTAGES, interval=f"{INTERVAL.total_seconds()}s",
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
            # (A probe is stamped when it is sent: its answer may reflect a change made up to
            # one probe timeout later.)
            assert incident.service_id == "all-down" and incident.start >= started - TIMEOUT
            await asyncio.sleep(1.5)
            confirmed = await rows(engine, IncidentVantage)
            assert sorted(c.vantage for c in confirmed) == ["x", "y"]  # never z
            # R-M8: the incident starts when two fail together, at the 2nd earliest start.
            assert incident.start == max(c.start for c in confirmed)
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
            # Whoever failed a moment before the other failed with the quorum (inside R-M1's
            # precision): no vantage problem of all-down is left once both see it up.
            await eventually(lambda: _no_open_problem(engine, "all-down"), within=15)

            # R-M8, the held-out shape: x alone cannot reach only-x (its problem is open);
            # then only-x breaks for everyone. The incident starts at the break, never at
            # x's older first failure, and ends when y sees it up again while x is still
            # cut off; x's problem stays open.
            [cut_off] = await rows(engine, VantageProblem, VantageProblem.target_id == "only-x",
                                   VantageProblem.end.is_(None))
            broken_at = dt.datetime.now(dt.UTC)
            target.statuses["only-x"] = 503
            outage = await eventually(lambda: _incidents_of(engine, "only-x"), within=20)
            # (A probe is stamped when it is sent: its answer may reflect a change made up to
            # one probe timeout later.)
            assert broken_at - TIMEOUT <= outage[0].start <= broken_at + SLACK
            assert outage[0].start - cut_off.start > dt.timedelta(seconds=3)  # not backdated
            await asyncio.sleep(1.0)
            repaired_at = dt.datetime.now(dt.UTC)
            target.statuses["only-x"] = 200
            outage = await eventually(lambda: _incidents_of(engine, "only-x", closed=True),
                                      within=20)
            assert outage[0].end is not None and repaired_at - TIMEOUT <= outage[0].end
            counted = outage[0].end - outage[0].start
            assert counted <= (repaired_at - broken_at) + 2 * INTERVAL + SLACK
            [still] = await rows(engine, VantageProblem, VantageProblem.target_id == "only-x")
            assert (still.id, still.start, still.end) == (cut_off.id, cut_off.start, None)
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


async def _incidents_of(engine, target: str, closed: bool = False) -> list[Incident]:  # type: ignore[no-untyped-def]
    found = await rows(engine, Incident, Incident.service_id == target)
    return [i for i in found if (i.end is not None) == closed]


async def _no_open_problem(engine, target: str) -> bool:  # type: ignore[no-untyped-def]
    return not await rows(engine, VantageProblem, VantageProblem.target_id == target,
                          VantageProblem.end.is_(None))


async def _problems(engine, count: int) -> list[VantageProblem]:  # type: ignore[no-untyped-def]
    found = await rows(engine, VantageProblem, VantageProblem.end.is_(None))
    return found if len(found) >= count else []
