"""The real daemon against real local targets on 127.0.0.1, with sub-second intervals
(R-M1, R-M2, R-M3, R-M4, D-1). No transport mocks: probes open real connections."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from pathlib import Path

import aiohttp
import pytest

from monitor.app import Daemon
from monitor.config import parse_config
from monitor.store import create_engine
from monitor.store.models import Incident, ProbeFailure, ProbeRun, UnknownInterval
from monitor.testing.targets import TargetServer
from tests.support import FAST, MONITOR, eventually, rows


def single_target_config(url: str, db_url: str, extra: str = "") -> str:
    return f"""
{MONITOR}
services:
  - id: panel
    kind: web_panel
    probe: {{type: http, url: "{url}", {FAST}}}
{extra}
http: {{listen: "127.0.0.1:0"}}
storage: {{url: "{db_url}"}}
"""


@pytest.mark.slow
async def test_outage_opens_and_recovery_closes_an_incident(db_url: str) -> None:
    async with TargetServer() as target:
        daemon = Daemon(parse_config(single_target_config(target.url("/"), db_url)))
        await daemon.start()
        engine = create_engine(db_url)
        try:
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.state == "up"))
            target.set_status(503)
            opened = await eventually(lambda: rows(engine, Incident))
            incident = opened[0]
            await daemon.flush()  # probe history is written in batches (R-M7)
            failures = await rows(engine, ProbeFailure, ProbeFailure.target_id == "panel")
            # R-M1: start is the first failure of the streak; the bound is the last success.
            # (A machine under load may fail a probe earlier, a streak too short to count: the
            # streak is the failures after the last success.)
            assert incident.start_bound is not None and incident.start_bound < incident.start
            streak = [f for f in failures if f.at > incident.start_bound]
            assert incident.start == streak[0].at
            assert streak[0].failure_class == "http_status"
            # The last success is the probe before: an interval (0.4 s) earlier, a little
            # more when the first failing one ran late (a loaded machine).
            assert (incident.start - incident.start_bound).total_seconds() < 0.4 + 0.6
            # Detected at the 3rd failure (fail_after 3), not before: about 2 intervals after
            # the first (D-1 latency kept).
            assert len(streak) >= 3 and incident.detected_at >= streak[2].at
            latency = (incident.detected_at - incident.start).total_seconds()
            assert latency <= 2 * 0.4 + 1.0
            assert incident.end is None and incident.source == "probe"

            target.set_status(200)
            closed = await eventually(
                lambda: rows(engine, Incident, Incident.end.is_not(None)))
            incident = closed[0]
            await daemon.flush()
            # R-M1: end is the first success of the recovering streak; bound the last failure.
            assert incident.end_bound == max(
                f.at for f in await rows(engine, ProbeFailure, ProbeFailure.target_id == "panel"))
            assert incident.end > incident.end_bound
            assert len(await rows(engine, Incident)) == 1

            async with aiohttp.ClientSession() as http:
                base = f"http://127.0.0.1:{daemon.http_port}"
                async with http.get(f"{base}/metrics") as response:
                    text = await response.text()
                assert 'sla_monitor_probe_state{kind="web_panel",target="panel"} 1.0' in text
                assert "sla_monitor_detection_latency_seconds_count 1.0" in text
                async with http.get(f"{base}/readyz") as response:
                    assert response.status == 200
                    assert (await response.json())["checks"] == {"database": True,
                                                                 "scheduler": True,
                                                                 "incidents": True}
                async with http.get(f"{base}/healthz") as response:
                    assert response.status == 200
        finally:
            await daemon.stop()
            await engine.dispose()


@pytest.mark.slow
async def test_server_outage_is_one_incident_covering_its_projects(sqlite_url: str) -> None:
    # The project runs on the server: when the host goes away both fail, but the incident
    # is the server's, once (R-M4), not one per project.
    async with TargetServer() as host:
        config = f"""
{MONITOR}
servers:
  - id: srv-1
    probe: {{type: tcp, host: 127.0.0.1, port: {host.port}, {FAST}}}
services:
  - id: shop
    kind: project
    server: srv-1
    probe: {{type: http, url: "{host.url('/')}", interval: 0.3s, timeout: 0.2s,
             fail_after: 2, recover_after: 2}}
http: {{listen: "127.0.0.1:0"}}
storage: {{url: "{sqlite_url}"}}
"""
        daemon = Daemon(parse_config(config))
        await daemon.start()
        engine = create_engine(sqlite_url)
        try:
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.target_id == "shop"))
            await host.set_down()
            await eventually(lambda: rows(engine, Incident, Incident.service_id == "srv-1"))
            await asyncio.sleep(2.0)  # the project keeps failing for several of its intervals
            assert [i.service_id for i in await rows(engine, Incident)] == ["srv-1"]
            await daemon.flush()
            shop_failures = await rows(engine, ProbeFailure, ProbeFailure.target_id == "shop")
            assert len(shop_failures) >= 3  # recorded as evidence, just not a second incident
            await host.set_up()
            await eventually(lambda: rows(engine, Incident, Incident.end.is_not(None)))
            assert [i.service_id for i in await rows(engine, Incident)] == ["srv-1"]
        finally:
            await daemon.stop()
            await engine.dispose()


@pytest.mark.slow
async def test_canaries_down_means_unknown_not_an_incident(sqlite_url: str) -> None:
    # R-M2: our own connectivity failed (the canary fails too): no incident, unknown time.
    async with TargetServer() as target, TargetServer() as canary:
        extra = f"""
  - id: api
    kind: mobile_api
    probe: {{type: http, url: "{target.url('/')}", {FAST}}}
"""
        config = single_target_config(target.url("/"), sqlite_url, extra).replace(
            MONITOR,
            "monitor:\n  heartbeat_interval: 0.2s\n  unknown_after: 1s\n  canaries:\n"
            f"    - {{id: outside, probe: {{type: http, url: \"{canary.url('/')}\", {FAST}}}}}\n")
        daemon = Daemon(parse_config(config))
        await daemon.start()
        engine = create_engine(sqlite_url)
        try:
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.target_id == "panel"))
            await canary.set_down()
            target.set_status(503)
            blind = await eventually(lambda: rows(engine, UnknownInterval))
            assert blind[0].reason == "canaries_failed" and blind[0].end is None
            await asyncio.sleep(3 * 0.4 * 3)  # well past fail_after for both targets
            assert await rows(engine, Incident) == []
            await daemon.flush()
            unknown = await rows(engine, ProbeRun, ProbeRun.state == "unknown",
                                 ProbeRun.target_id == "panel")
            assert unknown and unknown[-1].count >= 3
            await canary.set_up()
            target.set_status(200)
            ended = await eventually(
                lambda: rows(engine, UnknownInterval, UnknownInterval.end.is_not(None)))
            assert ended[0].end > ended[0].start
            assert await rows(engine, Incident) == []
        finally:
            await daemon.stop()
            await engine.dispose()


@pytest.mark.slow
async def test_kill_9_during_an_outage_then_restart(tmp_path: Path, sqlite_url: str,
                                                   daemon_process) -> None:  # type: ignore[no-untyped-def]
    # R-M3: the incident open when the daemon dies is still open after a restart and
    # closes correctly; the time the daemon was dead is unknown time.
    async with TargetServer() as target:
        config = tmp_path / "config.yaml"
        config.write_text(single_target_config(target.url("/"), sqlite_url))
        engine = create_engine(sqlite_url)
        try:
            first = daemon_process(config)
            first.start()
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.state == "up"), within=30)
            target.set_status(503)
            incident = (await eventually(lambda: rows(engine, Incident)))[0]
            first.signal(signal.SIGKILL)
            assert first.wait() == -signal.SIGKILL
            killed_at = dt.datetime.now(dt.UTC)
            await asyncio.sleep(1.5)  # longer than unknown_after (1 s)
            target.set_status(200)
            second = daemon_process(config)
            second.start()
            closed = await eventually(
                lambda: rows(engine, Incident, Incident.end.is_not(None)), within=30)
            assert [i.id for i in closed] == [incident.id]  # the same incident, closed
            assert closed[0].start == incident.start and closed[0].end > killed_at
            gaps = await rows(engine, UnknownInterval, UnknownInterval.reason == "daemon_down")
            assert len(gaps) == 1
            assert gaps[0].start <= killed_at <= gaps[0].end
            assert (gaps[0].end - gaps[0].start).total_seconds() >= 1.5
            second.signal(signal.SIGTERM)
            assert second.wait() == 0, second.output()
            assert '"event": "daemon stopped"' in second.output()
        finally:
            await engine.dispose()


@pytest.mark.slow
async def test_sighup_refuses_a_broken_config_and_applies_a_good_one(
        tmp_path: Path, sqlite_url: str, daemon_process) -> None:  # type: ignore[no-untyped-def]
    async with TargetServer() as target, TargetServer() as other:
        config = tmp_path / "config.yaml"
        good = single_target_config(target.url("/"), sqlite_url)
        config.write_text(good)
        engine = create_engine(sqlite_url)
        daemon = daemon_process(config)
        try:
            daemon.start()
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.target_id == "panel"),
                             within=30)
            config.write_text(good.replace("kind: web_panel", "kind: web-panel"))
            daemon.signal(signal.SIGHUP)
            await eventually(
                lambda: _contains(daemon.output(), "configuration reload refused"))
            assert "services[0].kind" in daemon.output()
            before = target.requests["/"]
            # The old configuration keeps running: still alive, still probing (0.4 s interval).
            await eventually(lambda: asyncio.sleep(0, target.requests["/"] >= before + 2),
                             within=10)
            assert daemon.alive()

            config.write_text(good + f"""
servers:
  - id: srv-2
    probe: {{type: tcp, host: 127.0.0.1, port: {other.port}, {FAST}}}
""")
            daemon.signal(signal.SIGHUP)
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.target_id == "srv-2"),
                             within=20)
            assert '"event": "configuration reloaded"' in daemon.output()
            daemon.signal(signal.SIGTERM)
            assert daemon.wait() == 0
        finally:
            await engine.dispose()


async def _contains(text: str, needle: str) -> bool:
    return needle in text


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/hostile/endless", "/hostile/drip"])
async def test_hostile_target_is_classified_through_the_daemon(sqlite_url: str, path: str) -> None:
    async with TargetServer() as target:
        config = single_target_config(target.url(path), sqlite_url).replace(
            FAST, "interval: 1s, timeout: 0.5s, fail_after: 2, recover_after: 2, "
            "body_contains: never-there, max_body_bytes: 65536")
        daemon = Daemon(parse_config(config), flush_interval=0.2)
        await daemon.start()
        engine = create_engine(sqlite_url)
        try:
            failures = await eventually(lambda: rows(engine, ProbeFailure))
            assert failures[0].failure_class in ("timeout", "too_large")
            assert failures[0].latency_ms is None or failures[0].latency_ms < 500 + 250
        finally:
            await daemon.stop()
            await engine.dispose()


@pytest.mark.slow
async def test_stop_waits_for_a_running_flush_instead_of_cancelling_it(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # SIGTERM while a history flush is in progress (here: waiting for the write lock another
    # connection holds): the flush is waited for, never cancelled. Cancelled inside its
    # COMMIT, it would leave the recorder believing it failed while the rows were written,
    # and the next flush would write them again.
    import sqlite3

    async with TargetServer() as target:
        daemon = Daemon(
            parse_config(single_target_config(target.url("/"), sqlite_url)), flush_interval=0.2
        )
        await daemon.start()
        engine = create_engine(sqlite_url)
        # Its lock taken in a thread: the daemon runs in this loop, and a transaction of its
        # open at that moment must be able to end (taken with the loop blocked, neither
        # could until sqlite3's busy timeout: tests.faults.helpers.sqlite_locked_awaited).
        locker = sqlite3.connect(sqlite_url.split("///", 1)[1], isolation_level=None,
                                 timeout=30, check_same_thread=False)
        try:
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.target_id == "panel"))
            target.set_status(503)  # new runs and failures to write
            await asyncio.to_thread(locker.execute, "BEGIN IMMEDIATE")
            await eventually(lambda: asyncio.sleep(0, daemon.recorder._flushing.locked()))
            asyncio.get_running_loop().call_later(1.0, locker.execute, "COMMIT")
            stopping = asyncio.get_running_loop().time()
            await daemon.stop()
            assert asyncio.get_running_loop().time() - stopping >= 0.9  # it waited
            runs = await rows(engine, ProbeRun)
        finally:
            locker.close()
            await engine.dispose()
        # One row per run of equal state: nothing written twice.
        assert len({(r.target_id, r.first_at) for r in runs}) == len(runs)
        assert not [r for r in caplog.records if "raised an exception" in r.getMessage()]
        assert not [r for r in caplog.records if "flush failed" in r.getMessage()]
