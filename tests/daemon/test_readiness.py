"""``run`` says when it monitors nothing, and ``/readyz`` answers with the number of targets,
within a bound even while the database is locked (issue 8 trap 7, issue 13 item 8).
The real daemon in-process, a real SQLite file held by another connection."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sqlite3
import time
from pathlib import Path

import aiohttp
import pytest

from monitor.app import READY_TIMEOUT, Daemon
from monitor.config import parse_config
from monitor.testing.targets import TargetServer
from tests.support import FAST, MARGIN, MONITOR, eventually

NO_TARGETS = "http: {listen: '127.0.0.1:0'}\nstorage: {url: 'URL'}\n" + MONITOR + "\n"


async def _beat_after(daemon: Daemon, instant: dt.datetime) -> bool:
    last = daemon.heartbeat.last_beat
    return last is not None and last > instant


async def readyz(daemon: Daemon) -> tuple[int, dict[str, object], float]:
    started = time.monotonic()
    async with aiohttp.ClientSession() as http, http.get(
        f"http://127.0.0.1:{daemon.http_port}/readyz"
    ) as response:
        return response.status, await response.json(), time.monotonic() - started


@pytest.mark.slow
async def test_no_targets_is_a_clear_warning_and_readyz_counts_zero(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = Daemon(parse_config(NO_TARGETS.replace("URL", sqlite_url)))
    with caplog.at_level(logging.WARNING, logger="monitor.daemon.runtime"):
        await daemon.start()
    try:
        warned = [r for r in caplog.records if r.name == "monitor.daemon.runtime"
                  and r.levelno == logging.WARNING]
        assert [r.getMessage() for r in warned] == [
            "no targets configured: nothing is monitored"]
        hint = warned[0].__dict__["hint"]
        assert "servers" in hint and "services" in hint and "check-config" in hint
        assert "SIGHUP" in hint
        status, body, _ = await readyz(daemon)
        # Ready (it runs as configured), but it says it watches nothing.
        assert status == 200 and body["targets"] == 0
        assert body["warnings"] == ["no targets configured: nothing is monitored"]
    finally:
        await daemon.stop()


@pytest.mark.slow
async def test_a_start_says_when_customers_links_lead_where_they_cannot_open(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """No ``http.public_url`` and a loopback ``http.listen`` (behind a reverse proxy): the
    links in the customers' e-mails would lead to this machine only. Said at start, as
    ``check-config`` says it (tests/cli/test_first_reports.py)."""
    async with TargetServer() as target:
        config = NO_TARGETS.replace("URL", sqlite_url) + (
            f"services: [{{id: shop, kind: mobile_api, probe: {{type: http, "
            f'url: "{target.url("/")}", {FAST}}}}}]\n'
            "customers: [{id: acme, name: ACME, contacts: {technical: {email: t@acme.example}},"
            " fee: {amount: 3650, currency: EUR}, sites: [{domain: acme.example}]}]\n")
        daemon = Daemon(parse_config(config))
        with caplog.at_level(logging.WARNING, logger="monitor.daemon.runtime"):
            await daemon.start()
        try:
            said = [r.getMessage() for r in caplog.records if r.name == "monitor.daemon.runtime"]
            assert len(said) == 1 and said[0].startswith("http.public_url: not set: the links "
                                                         "in customers' and subscribers' e-mails")
            assert "http://127.0.0.1:0" in said[0]
        finally:
            await daemon.stop()


@pytest.mark.slow
async def test_readyz_counts_the_targets(sqlite_url: str) -> None:
    async with TargetServer() as target:
        config = NO_TARGETS.replace("URL", sqlite_url) + (
            f"services: [{{id: panel, kind: web_panel, probe: {{type: http, "
            f'url: "{target.url("/")}", {FAST}}}}}]\n')
        daemon = Daemon(parse_config(config))
        await daemon.start()
        try:
            status, body, _ = await readyz(daemon)
            assert status == 200
            assert body == {"status": "ready", "checks": {"database": True, "scheduler": True,
                                                        "incidents": True},
                            "targets": 1, "warnings": []}
        finally:
            await daemon.stop()


@pytest.mark.slow
async def test_readyz_answers_503_within_its_bound_while_the_database_is_locked(
    tmp_path: Path, sqlite_url: str
) -> None:
    daemon = Daemon(parse_config(NO_TARGETS.replace("URL", sqlite_url)))
    await daemon.start()
    # Another writer holds the database (from a thread: the daemon's own writes must go on
    # on this event loop while it waits for them to finish).
    holder = sqlite3.connect(tmp_path / "sla-monitor.db", isolation_level=None, timeout=10,
                             check_same_thread=False)
    try:
        await asyncio.to_thread(holder.execute, "BEGIN EXCLUSIVE")
        status, body, elapsed = await readyz(daemon)
        assert status == 503
        assert body["checks"] == {"database": False, "scheduler": True, "incidents": True}
        # Answered within the readiness bound, not after the 30 s busy timeout.
        assert elapsed < READY_TIMEOUT + MARGIN
        await asyncio.to_thread(holder.execute, "ROLLBACK")
        released = dt.datetime.now(dt.UTC)
        status, body, _ = await readyz(daemon)
        assert status == 200 and body["checks"]["database"] is True
        # The daemon's own writes that waited for the lock go through (a heartbeat after it).
        await eventually(lambda: _beat_after(daemon, released))
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()
        await asyncio.wait_for(daemon.stop(), 30)
