"""Probe workers (``monitor.probe_workers``, :mod:`monitor.daemon.workers`): targets probed in
a child process are detected, recorded and exported by the daemon exactly as its own; a reload
re-shards (prepare, then swap); SIGTERM stops the worker; a killed worker is started again and
its gap is reported and written as its targets' unknown time (R-M3). The real daemon, a real worker process, real local targets."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from monitor.app import Daemon
from monitor.config import load_config
from monitor.daemon.workers import Shard, shard_of, worker_count
from monitor.store import create_engine
from monitor.store.models import Incident, ProbeFailure, ProbeRun, UnknownInterval
from monitor.testing.dns import DNSServer
from monitor.testing.targets import TargetServer
from tests.support import FAST, eventually, rows

MONITOR = "monitor: {heartbeat_interval: 0.2s, unknown_after: 1s, probe_workers: 1}"


def config_text(worker_url: str, other_url: str, db_url: str, extra: str = "") -> str:
    return f"""
{MONITOR}
services:
  - id: panel
    kind: web_panel
    probe: {{type: http, url: "{other_url}", {FAST}}}
  - id: mobile
    kind: mobile_api
    probe: {{type: http, url: "{worker_url}", {FAST}}}
{extra}
http: {{listen: "127.0.0.1:0"}}
storage: {{url: "{db_url}"}}
"""


async def test_result_lines_read_in_any_pieces_are_each_handled_once() -> None:
    # The worker's output is parsed a read at a time, whole lines only: a line cut by the
    # pipe waits for its end. An "up" the watch can take at once is handled without a task;
    # anything else is awaited in one (R-M2, R-M4 may wait), and stats and answers arrive.
    import datetime as dt
    import json

    from prometheus_client import CollectorRegistry

    from monitor.daemon.metrics import DaemonMetrics
    from monitor.daemon.probe_worker import encode_result
    from monitor.daemon.workers import ProbeWorkers
    from monitor.probes import ProbeResult

    at = dt.datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=dt.UTC)
    results = [
        ProbeResult(target_id=f"t{i}", state="down" if i % 10 == 3 else "up", at=at,
                    failure_class="http_status" if i % 10 == 3 else None,
                    detail="503 Service Unavailable\nnext line" if i % 10 == 3 else "",
                    http_status=503 if i % 10 == 3 else 200, total=0.001 * i)
        for i in range(40)
    ]
    at_once: list[ProbeResult] = []
    awaited: list[ProbeResult] = []

    async def handle(result: ProbeResult) -> None:
        await asyncio.sleep(0)
        awaited.append(result)

    def handle_now(result: ProbeResult) -> bool:
        if result.state != "up":
            return False
        at_once.append(result)
        return True

    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry)
    workers = ProbeWorkers(1, handle, metrics, {"resolver": {}}, handle_now=handle_now)
    slot = workers.slots[0]
    slot.answer = asyncio.get_running_loop().create_future()
    rows = [encode_result(r) for r in results]
    lines = [json.dumps(rows[start : start + 7], separators=(",", ":")).encode()
             for start in range(0, 40, 7)]  # the worker's batches
    lines.insert(3, b'{"op":"stats","missed":2,"late":[0.5,0.004]}')
    lines.append(b'{"op":"prepared"}')
    data = b"\n".join(lines) + b"\n"
    stream = asyncio.StreamReader()
    for start in range(0, len(data), 37):  # pieces that cut lines anywhere
        stream.feed_data(data[start : start + 37])
    stream.feed_eof()
    await workers.read_lines(stream, slot)
    await asyncio.wait(set(workers._handling))
    assert [r.target_id for r in at_once] == [f"t{i}" for i in range(40) if i % 10 != 3]
    assert sorted(r.target_id for r in awaited) == sorted(f"t{i}" for i in (3, 13, 23, 33))
    assert awaited[0] == results[3] and at_once[0] == results[0]  # every field, as sent
    assert workers.results == 40 and slot.answer.result() is None
    assert registry.get_sample_value("sla_monitor_scheduler_missed_runs_total") == 2
    assert registry.get_sample_value("sla_monitor_scheduler_lateness_seconds_count") == 2


def test_shards_and_auto_decision() -> None:
    # A stable hash: the same process for the same id, every run. The tests below rely on
    # panel probed by the daemon (0), mobile and extra by the worker (1).
    assert (shard_of("panel", 1), shard_of("mobile", 1), shard_of("extra", 1)) == (0, 1, 1)
    # The daemon takes one share, each worker two: about 1/3 and 2/3 with one worker.
    shards = [shard_of(f"t{n:05d}", 1) for n in range(30_000)]
    assert 9_000 < shards.count(0) < 11_000
    assert set(shards) == {0, 1}
    assert {shard_of(f"t{n:05d}", 3) for n in range(1000)} == {0, 1, 2, 3}
    # auto: one worker above 10,000 targets on two CPUs or more, else none.
    assert worker_count("auto", 10_001, 2) == 1
    assert worker_count("auto", 10_000, 2) == 0
    assert worker_count("auto", 40_000, 1) == 0
    assert worker_count(2, 5, 1) == 2


def test_a_shard_gives_back_the_lines_it_was_given() -> None:
    # Kept compressed in the daemon, read in pieces: lines across the pieces' edges, a long
    # one, non-ASCII JSON and an empty shard come back the same, in order, and counted.
    lines = [b'{"op":"target","id":"t%05d","probe":{"url":"http://h/%d"}}\n' % (n, n)
             for n in range(5000)]
    lines[10:10] = [b"x" * 70_000 + b"\n", '{"id":"\u062a"}\n'.encode()]
    shard = Shard.of(lines)
    assert len(shard) == 5002
    assert list(shard) == lines and list(shard) == lines  # read as often as needed
    assert list(Shard.of([])) == [] and len(Shard.of([])) == 0


def test_a_worker_imports_only_what_probing_needs() -> None:
    # Every worker pays for its imports (README: the fixed cost per process): the probes and
    # their schema, not the configuration loader and YAML, the SLA engine, the formats or
    # cryptography (imported at the first certificate an https:// probe reads).
    import subprocess
    import sys

    code = (
        "import sys, monitor.daemon.probe_worker; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('yaml', 'cryptography', 'sqlalchemy', 'jinja2', 'jdatetime', 'monitor'))))"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert "monitor.probes.http" in out and "monitor.config.schema" in out  # the check ran
    unwanted = [
        m for m in out
        if not m.startswith(("monitor.probes", "monitor.config.schema", "monitor.daemon"))
        and m not in ("monitor", "monitor.clock", "monitor.errors", "monitor.config",
                      "monitor.config.credentials", "monitor.config.durations",
                      "monitor.lazy",  # what makes the package's other names lazy
                      # The push targets' book (a dict; the probes' sessions hold one):
                      # the actions' package, lazy, and that module alone.
                      "monitor.actions", "monitor.actions.push_book")
    ]
    assert unwanted == []


async def _metrics(daemon: Daemon) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{daemon.http_port}/metrics") as response:
            return await response.text()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
async def test_worker_probes_are_detected_recorded_reloaded_and_stopped(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with TargetServer() as in_worker, TargetServer() as other, TargetServer() as added:
        path = tmp_path / "config.yaml"
        path.write_text(config_text(in_worker.url("/"), other.url("/"), sqlite_url))
        daemon = Daemon(load_config(path), path)
        await daemon.start()
        engine = create_engine(sqlite_url)
        stopped = False
        try:
            assert daemon.workers is not None
            [pid] = daemon.workers.pids
            # The worker probes mobile; the daemon probes panel, and keeps no probe object for
            # mobile.
            assert set(daemon.schedule.intervals()) == {"panel"}
            assert "panel" in daemon.watch.probes and "mobile" not in daemon.watch.probes
            # Start-up and the first history flush (not a bound of the contract).
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.target_id == "panel"),
                             within=60)
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.target_id == "mobile"),
                             within=60)
            served = in_worker.requests["/"]
            assert served > 0

            in_worker.set_status(503)
            [incident] = await eventually(lambda: rows(engine, Incident))
            assert incident.service_id == "mobile" and incident.end is None
            await daemon.flush()
            failures = await rows(engine, ProbeFailure, ProbeFailure.target_id == "mobile")
            # R-M1 from the worker's stamps: the incident starts at the first failure of the
            # streak, the failures after the last success (a machine under load may fail a
            # probe earlier, a streak too short to count; as in test_daemon_e2e).
            assert incident.start_bound is not None and incident.start_bound < incident.start
            streak = [f for f in failures if f.at > incident.start_bound]
            assert incident.start == streak[0].at
            assert streak[0].failure_class == "http_status"
            text = await _metrics(daemon)
            assert 'sla_monitor_probe_state{kind="mobile_api",target="mobile"} 0.0' in text
            assert 'sla_monitor_probe_state{kind="web_panel",target="panel"} 1.0' in text
            assert "sla_monitor_probe_workers 1.0" in text
            # The worker's scheduler lateness reaches the daemon's histogram.
            assert "sla_monitor_scheduler_lateness_seconds_count 0.0" not in text

            in_worker.set_status(200)
            await eventually(lambda: rows(engine, Incident, Incident.end.is_not(None)))

            # Reload: a new target in the worker's shard is probed there (prepare, then swap).
            extra = f"""  - id: extra
    kind: mobile_api
    probe: {{type: http, url: "{added.url('/')}", {FAST}}}
"""
            path.write_text(config_text(in_worker.url("/"), other.url("/"), sqlite_url, extra))
            assert await daemon.reload()
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.target_id == "extra"))
            assert added.requests["/"] > 0
            assert "extra" not in daemon.schedule.intervals()
            assert daemon.workers.pids == [pid]  # re-sharded, not restarted

            # A reload the worker cannot build is refused, and nothing changes.
            bad = extra.replace("{type: http,", "{type: http, tls: {ca_file: /nonexistent.pem},")
            bad = bad.replace(f'"{added.url("/")}"', f'"{added.url("/").replace("http", "https")}"')
            path.write_text(config_text(in_worker.url("/"), other.url("/"), sqlite_url, bad))
            assert not await daemon.reload()
            before = added.requests["/"]
            await asyncio.sleep(1.0)
            assert added.requests["/"] > before  # still probed by the plain-HTTP configuration

            await daemon.stop()
            stopped = True
            await eventually(lambda: _done(pid))
        finally:
            if not stopped:
                await daemon.stop()
            await engine.dispose()


@pytest.mark.slow
async def test_a_probes_request_body_reaches_its_target_from_the_worker(
    sqlite_url: str, tmp_path: Path
) -> None:
    # The worker builds its probes from the settings the daemon sends it (only what differs
    # from the defaults): the body among them, in Persian too, and its Content-Type.
    query = '{"query": "{ health }", "note": "سلام"}'
    seen: list[tuple[str, str | None, bytes]] = []

    async def answer(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append((request.method, request.headers.get("Content-Type"), body))
        return web.Response(status=200 if body == query.encode() else 400)

    app = web.Application()
    app.router.add_route("*", "/graphql", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/graphql"
    path = tmp_path / "config.yaml"
    try:
        async with TargetServer() as other:
            text = config_text(url, other.url("/"), sqlite_url).replace(
                f'url: "{url}", ', f'url: "{url}", method: POST, body: {json.dumps(query)}, '
                'headers: {Content-Type: application/json}, ')
            path.write_text(text)
            daemon = Daemon(load_config(path), path)
            await daemon.start()
            try:
                assert daemon.workers is not None and "mobile" not in daemon.watch.probes

                async def up() -> bool:
                    return ('sla_monitor_probe_state{kind="mobile_api",target="mobile"} 1.0'
                            in await _metrics(daemon))

                await eventually(up, within=60)
            finally:
                await daemon.stop()
    finally:
        await runner.cleanup()
    assert seen and set(seen) == {("POST", "application/json", query.encode())}


@pytest.mark.slow
async def test_a_nameserver_probed_from_the_worker_opens_and_closes_an_incident(
    sqlite_url: str, tmp_path: Path
) -> None:
    # A DNS probe (monitor.probes.dns) in the worker process, as the daemon sends it: the
    # nameserver answering SERVFAIL opens an incident with the failure class dns_answer
    # (R-M1), and it closes when the right address is answered again.
    async with DNSServer({"panel.example": "192.0.2.10"}) as nameserver, \
            TargetServer() as other:
        path = tmp_path / "config.yaml"
        text = config_text("http://192.0.2.1/", other.url("/"), sqlite_url)
        path.write_text(text.replace(
            'type: http, url: "http://192.0.2.1/"',
            f"type: dns, server: 127.0.0.1, port: {nameserver.port}, name: panel.example, "
            "expected: [192.0.2.10]"))
        daemon = Daemon(load_config(path), path)
        await daemon.start()
        engine = create_engine(sqlite_url)
        try:
            assert daemon.workers is not None and "mobile" not in daemon.watch.probes
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.target_id == "mobile"),
                             within=60)
            assert nameserver.transports["udp"] > 0
            nameserver.set_mode("servfail")
            [incident] = await eventually(lambda: rows(engine, Incident))
            assert incident.service_id == "mobile" and incident.end is None
            await daemon.flush()
            failures = await rows(engine, ProbeFailure, ProbeFailure.target_id == "mobile")
            assert failures and {f.failure_class for f in failures} == {"dns_answer"}
            assert failures[-1].detail == (f"the nameserver 127.0.0.1:{nameserver.port} "
                                           "answered SERVFAIL for panel.example A")
            nameserver.set_mode("answer")
            await eventually(lambda: rows(engine, Incident, Incident.end.is_not(None)))
        finally:
            await daemon.stop()
            await engine.dispose()


@pytest.mark.slow
async def test_a_tcp_probe_with_tls_from_the_worker_and_its_certificate_series(
    sqlite_url: str, tmp_path: Path
) -> None:
    # A TCP probe with tls (a port that speaks TLS at once): probed in the worker, its
    # handshake verified with the configured CA; its certificate read at its own cadence
    # and exported as an https:// target's (sla_monitor_certificate_*).
    async with TargetServer(tls="valid") as secured, TargetServer() as other:
        text = config_text("http://192.0.2.1/", other.url("/"), sqlite_url)
        path = tmp_path / "config.yaml"
        path.write_text(text.replace(
            'type: http, url: "http://192.0.2.1/"',
            f'type: tcp, host: 127.0.0.1, port: {secured.port}, tls: {{ca_file: '
            f'"{secured.ca_file}", cert_check_interval: 1s, cert_expiry_warning: 100d}}'))
        daemon = Daemon(load_config(path), path)
        await daemon.start()
        try:
            assert daemon.workers is not None and "mobile" not in daemon.watch.probes

            async def seen() -> str | None:
                text = await _metrics(daemon)
                return text if (
                    'sla_monitor_probe_state{kind="mobile_api",target="mobile"} 1.0' in text
                    and 'sla_monitor_certificate_valid{target="mobile"} 1.0' in text) else None

            text = await eventually(seen, within=60)
            def value(family: str) -> float:
                return float(next(line for line in text.splitlines() if line.startswith(
                    f'{family}{{target="mobile"}}')).split()[-1])

            assert value("sla_monitor_certificate_expiry_timestamp_seconds") == (
                secured.cert_not_after.timestamp())
            assert value("sla_monitor_certificate_expiry_warning_seconds") == 100 * 86400
        finally:
            await daemon.stop()


async def _done(pid: int) -> bool:
    await asyncio.sleep(0)
    return not _alive(pid)


@pytest.mark.slow
async def test_a_killed_worker_is_started_again_and_its_gap_reported(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="monitor.daemon.workers")
    async with TargetServer() as in_worker, TargetServer() as other:
        from monitor.config import parse_config

        daemon = Daemon(parse_config(config_text(in_worker.url("/"), other.url("/"), sqlite_url)))
        await daemon.start()
        try:
            assert daemon.workers is not None
            [pid] = daemon.workers.pids
            # Each answer comes 0.2 s after its request: the kill lands while a probe is
            # in flight, as a crash would.
            # The kill waits for the daemon to have handled one of the worker's results: the
            # gap below runs from that last probe (a probe whose result never came back is
            # not one the daemon knows of).
            in_worker.set_delay(0.2)
            await eventually(lambda: _handled(daemon, "mobile"))
            os.kill(pid, signal.SIGKILL)
            restarted = await eventually(lambda: _new_pid(daemon, pid))
            assert restarted != pid
            hits = in_worker.requests["/"]
            await eventually(lambda: _more_hits(in_worker, hits))  # probed again
            text = await _metrics(daemon)
            assert "sla_monitor_probe_worker_restarts_total 1.0" in text
            gap = [line for line in text.splitlines()
                   if line.startswith("sla_monitor_probe_worker_gap_seconds_total ")]
            assert gap and float(gap[0].split()[1]) > 0
            messages = [r.getMessage() for r in caplog.records]
            assert "probe worker exited; starting it again" in messages
            running = [r for r in caplog.records if r.getMessage().startswith(
                "probe worker running again")]
            assert running and running[0].gap_seconds > 0  # type: ignore[attr-defined]
            # R-M3 per target: the worker's target went unprobed for longer than
            # unknown_after (the restart waits a second, then a process starts): written as
            # that target's unknown time, from its last probe plus one interval to its next.
            # The daemon's own target was probed all along: none of its own.
            gaps = await _unknown_written(daemon, sqlite_url)
            assert [(g.target_id, g.reason, g.vantage) for g in gaps] == [
                ("mobile", "not_probed", None)]
            assert gaps[0].end is not None
            assert (gaps[0].end - gaps[0].start).total_seconds() > 1.0  # unknown_after
        finally:
            await daemon.stop()


async def test_a_worker_killed_before_its_first_result_leaves_its_targets_unknown_time(
    sqlite_url: str,
) -> None:
    """R-M3 per target: a worker that dies before any result of its targets reached the
    daemon (a crash at start) had left no last probe to measure from, so the stretch until
    their first result was nobody's unknown time. It runs now from when the worker's shard
    was committed (probing began) plus one interval."""
    async with TargetServer() as in_worker, TargetServer() as other:
        from monitor.config import parse_config

        # Every answer 0.25 s late (the timeout is 0.3 s): the kill, as soon as the worker
        # is started, lands before its first result.
        in_worker.set_delay(0.25)
        daemon = Daemon(parse_config(config_text(in_worker.url("/"), other.url("/"), sqlite_url)))
        await daemon.start()
        try:
            assert daemon.workers is not None
            [pid] = daemon.workers.pids
            assert "mobile" not in daemon.watch.last_probed
            os.kill(pid, signal.SIGKILL)
            await eventually(lambda: _new_pid(daemon, pid))
            gaps = await _unknown_written(daemon, sqlite_url)
            assert [(g.target_id, g.reason) for g in gaps] == [("mobile", "not_probed")]
            assert gaps[0].end is not None
            assert (gaps[0].end - gaps[0].start).total_seconds() > 1.0  # unknown_after
        finally:
            await daemon.stop()


async def _unknown_written(daemon: Daemon, url: str) -> list[UnknownInterval]:
    """The unknown intervals written, once there are some. A target's gap is seen when the
    new worker's first result comes back, which may be after any one flush on a busy
    machine: flushed while waited for."""
    engine = create_engine(url)

    async def written() -> list[UnknownInterval]:
        await daemon.recorder.flush(everything=True)
        return await rows(engine, UnknownInterval)

    try:
        return await eventually(written, within=30)
    finally:
        await engine.dispose()


async def _handled(daemon: Daemon, target_id: str) -> bool:
    await asyncio.sleep(0)
    return target_id in daemon.watch.last_probed


async def _more_hits(server: TargetServer, before: int) -> bool:
    await asyncio.sleep(0)
    return server.requests["/"] > before


async def _new_pid(daemon: Daemon, old: int) -> int | None:
    await asyncio.sleep(0)
    assert daemon.workers is not None
    pids = daemon.workers.pids
    return pids[0] if pids and pids[0] != old else None


@pytest.mark.slow
async def test_sigterm_to_the_whole_group_stops_daemon_and_worker_cleanly(
    sqlite_url: str, tmp_path: Path
) -> None:
    # systemd's stop signals every process of the unit at once: both stop, exit 0, and the
    # worker's exit is not reported as a death (nor restarted).
    import json

    from tests.support import DaemonProcess

    async with TargetServer() as target, TargetServer() as other:
        path = tmp_path / "config.yaml"
        path.write_text(config_text(target.url("/"), other.url("/"), sqlite_url))
        daemon = DaemonProcess(path, tmp_path / "daemon.log")
        daemon.start()
        engine = create_engine(sqlite_url)
        try:
            # Start-up and the first history flush: no bound of the contract, and slow
            # under a loaded machine (the 15 s default failed there).
            await eventually(lambda: rows(engine, ProbeRun, ProbeRun.target_id == "mobile"),
                             within=60)

            async def worker_pid() -> int | None:
                await asyncio.sleep(0)
                for line in daemon.output().splitlines():
                    if '"probe worker started"' in line:
                        return int(json.loads(line)["pid"])
                return None

            pid = await eventually(worker_pid)
            assert daemon.process is not None
            os.kill(daemon.process.pid, signal.SIGTERM)
            os.kill(pid, signal.SIGTERM)
            code = await asyncio.to_thread(daemon.wait, 30)
            assert code == 0
            assert not _alive(pid)
            output = daemon.output()
            assert "probe worker exited" not in output
            assert "Traceback" not in output
        finally:
            daemon.stop()
            await engine.dispose()


async def test_a_workers_tick_starts_no_more_probes_than_its_concurrency() -> None:
    """The worker's schedule is bounded by its share of ``max_concurrency`` (the semaphore's
    size): short of CPU, it keeps due probes in its heap instead of tens of thousands of
    tasks waiting on the semaphore (monitor.daemon.scheduler)."""
    from monitor.daemon.probe_worker import Worker

    hello = {"max_concurrency": 7, "max_body_memory": 1024 * 1024, "resolver": {},
             "slot": 0.05, "clock": None}
    worker = Worker(hello, None)  # type: ignore[arg-type]  # nothing is written here
    try:
        assert worker.sessions.max_concurrency == 7
        assert worker.schedule.limit == 7
    finally:
        await worker.sessions.close()


async def test_a_worker_sends_every_result_even_when_a_batch_leaves_during_the_probe() -> None:
    """A worker's result went into the batch that was pending when its probe *started*:
    ``self.pending.append`` was looked up before the probe was awaited, so when a batch was
    sent meanwhile (every BATCH_EVERY) the result joined a list already sent and was lost.
    Measured at 150,000 targets: 2-8 % of all results, the daemon counting 4,600-4,900 a
    second while nginx served 5,000. Here every probe spans several batches."""
    import json

    from monitor.daemon.probe_worker import BATCH_EVERY, Worker

    class Pipe:  # the worker's standard output, as the daemon reads it
        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, data: bytes) -> None:
            self.data += data

        async def drain(self) -> None:
            await asyncio.sleep(0)

    hello = {"max_concurrency": 50, "max_body_memory": 1024 * 1024, "resolver": {},
             "slot": 0.05, "clock": None}
    async with TargetServer() as server:
        server.delay = 4 * BATCH_EVERY
        pipe = Pipe()
        worker = Worker(hello, pipe)  # type: ignore[arg-type]
        try:
            worker.begin()
            for i in range(20):
                worker.add(json.dumps({
                    "op": "target", "id": f"t{i}", "kind": "mobile_api", "interval": 30.0,
                    "probe": {"type": "http", "url": server.url(f"/?t{i}"), "interval": 30,
                              "timeout": 2}}).encode())
            assert worker.end() is None
            assert worker.prepared is not None
            worker.probes = worker.prepared[0]
            flusher = asyncio.get_running_loop().create_task(worker.flusher())
            # Started a few milliseconds apart, so that batches leave while they run.
            probes = []
            for i in range(20):
                probes.append(asyncio.get_running_loop().create_task(worker.run_probe(f"t{i}")))
                await asyncio.sleep(BATCH_EVERY / 4)
            await asyncio.gather(*probes)
            flusher.cancel()
            await worker.flush()
        finally:
            await worker.sessions.close()
    sent = [json.loads(line) for line in pipe.data.decode().splitlines()]
    rows = [row for message in sent if isinstance(message, list) for row in message]
    assert sorted(row[0] for row in rows) == sorted(f"t{i}" for i in range(20))
    assert {row[1] for row in rows} == {"up"}
