"""A push target in the real daemon (monitor.probes.push): its job calls ``POST
/api/v1/push/ID`` with its token; the daemon checks it (never a probe worker, which
cannot see the pushes), opens an incident when the pushes stop (R-M1, failure class
``timeout``) and closes it when they come again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from monitor.app import Daemon
from monitor.config import load_config
from monitor.daemon.workers import shard_of
from monitor.http.auth import hash_line
from monitor.store import create_engine
from monitor.store.models import Incident, LastPush, ProbeFailure
from monitor.testing.push import PushJob
from monitor.testing.targets import TargetServer
from tests.daemon.test_probe_workers import config_text
from tests.support import eventually, rows

TOKEN = "push-token-of-the-nightly-job"
# A push is due every 0.4 s, at most 0.3 s late; three missing open, two pushes close.
PUSHED = "type: push, interval: 0.4s, timeout: 0.3s, fail_after: 3, recover_after: 2"


@pytest.mark.slow
async def test_a_push_target_opens_an_incident_when_its_job_stops_and_closes_it_after(
    sqlite_url: str, tmp_path: Path
) -> None:
    (tmp_path / "tokens").write_text(hash_line("push:mobile", TOKEN, "job") + "\n")
    async with TargetServer() as panel:
        await _pushed(sqlite_url, tmp_path, panel.url("/"))


async def _pushed(sqlite_url: str, tmp_path: Path, panel: str) -> None:
    text = config_text("http://192.0.2.1/", panel, sqlite_url).replace(
        'type: http, url: "http://192.0.2.1/", interval: 0.4s, timeout: 0.3s, fail_after: 3, '
        'recover_after: 2', PUSHED).replace(
        'http: {listen: "127.0.0.1:0"}',
        f'http: {{listen: "127.0.0.1:0", tokens_file: "{tmp_path / "tokens"}"}}')
    assert PUSHED in text
    path = tmp_path / "config.yaml"
    path.write_text(text)
    # With one worker, "mobile" would be the worker's (its shard); a push target is not.
    assert shard_of("mobile", 1) == 1
    daemon = Daemon(load_config(path), path)
    await daemon.start()
    engine = create_engine(sqlite_url)
    try:
        assert daemon.workers is not None and "mobile" in daemon.watch.probes
        url = f"http://127.0.0.1:{daemon.http_port}/api/v1/push/mobile"
        async with PushJob(url, TOKEN, every=0.15) as job:
            await asyncio.sleep(2)  # five checks at least, each up
            assert await rows(engine, Incident) == [] and set(job.answers) == {200}
            # Written within a second (the pushes job), for a restart or another node.
            [kept] = await eventually(lambda: rows(engine, LastPush), within=5)
            assert (kept.target_id, kept.up) == ("mobile", True)
            job.stop()
            [incident] = await eventually(lambda: rows(engine, Incident), within=20)
            assert incident.service_id == "mobile" and incident.end is None
            await daemon.flush()
            # The down ones (an unknown one may come first: the daemon's own start held its
            # loop up, R-M2).
            failures = await rows(engine, ProbeFailure, ProbeFailure.target_id == "mobile",
                                  ProbeFailure.state == "down")
            assert failures and {f.failure_class for f in failures} == {"timeout"}
            assert failures[-1].detail.startswith("no push for ")
            job.start()
            [closed] = await eventually(
                lambda: rows(engine, Incident, Incident.end.is_not(None)), within=20)
            assert closed.id == incident.id and closed.end > closed.start
    finally:
        await daemon.stop()
        await engine.dispose()
