"""Uptime Kuma's push monitors and Gatus's external endpoints become push targets (README
"Push targets"), and their jobs keep working: each keeps its URL's path and token, the
import prints the token's line for ``http.tokens_file`` (its hash, never the token), and
the daemon's application answers the old URL with that line loaded."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from monitor.cli import main
from monitor.clock import SystemClock
from monitor.config import Settings, load_config
from monitor.config.schema import PushProbe
from monitor.http import Web
from monitor.http.auth import TokenSet
from monitor.store import Database
from tests.http.site import served
from tests.imports import kuma_schema
from tests.imports.kuma_schema import insert

KUMA_TOKEN = "Kq3ZpL8vN2xR7tY4wB6m"  # 20 characters, as Kuma 1.23's column holds
GATUS_TOKEN = "potato-token-of-the-backup-job"


def _line(report: str, target: str) -> str:
    found = re.search(rf"add to http\.tokens_file: (push:{target} sha256:[0-9a-f]{{64}} \S+)",
                      report)
    assert found is not None, report
    return found[1]


@asynccontextmanager
async def _answering(db: Database, config: Path, line: str) -> AsyncIterator[tuple[str, Web]]:
    settings = Settings.from_config(load_config(config))
    context = Web(db, settings, SystemClock(), TokenSet.parse(line, "http.tokens_file"))
    async with served(context, targets=1):
        assert context.bound_url is not None
        yield context.bound_url, context


async def test_kumas_push_monitors_become_push_targets_their_jobs_urls_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], db: Database) -> None:
    path = tmp_path / "kuma.db"
    kuma = kuma_schema.build(path)
    insert(kuma, "monitor", name="Nightly backup", type="push", interval=300, maxretries=2,
           push_token=KUMA_TOKEN)
    insert(kuma, "monitor", name="Hourly report", type="push", interval=3600,
           push_token="another-token-of-20c")
    insert(kuma, "monitor", name="Queue", type="push", interval=60, push_token="abc123")
    kuma.commit()
    kuma.close()
    out = tmp_path / "config.yaml"
    assert main(["import", "uptime-kuma", str(path), "-o", str(out)]) == 0
    report = capsys.readouterr().err
    assert main(["-c", str(out), "check-config"]) == 0
    servers = {s.id: s.probe for s in load_config(out).servers}
    assert list(servers) == ["nightly-backup", "queue"]
    backup = servers["nightly-backup"]
    # Kuma's interval is the job's; its timeout min(10 s, 300 / 2); maxretries 2 would be
    # fail_after 3, but D-1 allows floor((900 - 10) / 300) = 2 missed calls: lowered, said.
    assert isinstance(backup, PushProbe)
    assert (backup.interval, backup.timeout, backup.fail_after) == (300, 10, 2)
    assert "monitor 'Nightly backup': 3 missed calls lowered to 2" in report
    # Every hour: one missed call is found after 1 h, past D-1's 15 min: not carried.
    assert ("not mapped: monitor 'Hourly report': 1 h: its job calls every 1 h: a missed "
            "call would be found after the 15 min detection duty (D-1)") in report
    queue = servers["queue"]
    assert (queue.interval, queue.timeout, queue.fail_after) == (60, 10, 1)
    assert "abc123" not in report and "is safer" in report  # 6 characters: said, not shown
    line = _line(report, "nightly-backup")
    assert line == ("push:nightly-backup sha256:"
                    + hashlib.sha256(KUMA_TOKEN.encode()).hexdigest() + " nightly-backup-job")
    assert KUMA_TOKEN not in report + out.read_text()
    # The job's own URL, answered here as Kuma answers it.
    async with _answering(db, out, line) as (url, context), aiohttp.ClientSession() as http:
        async with http.get(f"{url}/api/push/{KUMA_TOKEN}?status=up&msg=OK&ping=") as answer:
            assert answer.status == 200, await answer.text()
            assert (await answer.json())["target"] == "nightly-backup"
    assert context.pushes.last("nightly-backup") is not None


async def test_gatus_external_endpoints_become_push_targets_their_jobs_urls_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], db: Database) -> None:
    source = tmp_path / "gatus.yaml"
    source.write_text(
        "external-endpoints:\n"
        f"  - {{name: backup-job, group: core, token: {GATUS_TOKEN}, heartbeat: {{interval: 5m}}}}\n"
        "  - {name: report, token: tomato-token-of-a-report, heartbeat: {interval: 1h}}\n"
        "  - {name: old, enabled: false, token: x, heartbeat: {interval: 1m}}\n"
        "  - {name: nobeat, token: y}\n"
        "endpoints:\n"
        "  - {name: web, url: 'https://web.example.org/'}\n")
    out = tmp_path / "config.yaml"
    assert main(["import", "gatus", str(source), "-o", str(out)]) == 0
    report = capsys.readouterr().err
    assert main(["-c", str(out), "check-config"]) == 0
    servers = {s.id: s.probe for s in load_config(out).servers}
    pushed = servers["core-backup-job"]
    # Gatus's failure-threshold 3 (its default) lowered to floor((900 - 10) / 300) = 2.
    assert isinstance(pushed, PushProbe)
    assert (pushed.interval, pushed.timeout, pushed.fail_after) == (300, 10, 2)
    for said in ("not mapped: external-endpoints[1] 'report': 1 h: its job calls every 1 h",
                 "not mapped: external-endpoints[2] 'old': old: disabled in Gatus",
                 "not mapped: external-endpoints[3] 'nobeat'.heartbeat.interval: (none)"):
        assert said in report
    assert [s for s in servers if isinstance(servers[s], PushProbe)] == ["core-backup-job"]
    line = _line(report, "core-backup-job")
    assert GATUS_TOKEN not in report + out.read_text()
    async with _answering(db, out, line) as (url, context), aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/v1/endpoints/core_backup-job/external?success=false"
                             "&error=db%20unreachable&duration=10s",
                             headers={"Authorization": f"Bearer {GATUS_TOKEN}"}) as answer:
            assert answer.status == 200, await answer.text()
            body = await answer.json()
        last = context.pushes.last("core-backup-job")
    assert (body["target"], body["status"], body["message"]) == (
        "core-backup-job", "down", "db unreachable")
    assert last is not None and (last.up, last.message) == (False, "db unreachable")
