"""``storage.backup``: the daemon copies its SQLite database when the newest copy is
``every`` old (by the copies' names: a restart changes nothing), keeps the newest ``keep``,
says when the last one was made (``sla_monitor_backup_last_success_timestamp_seconds``) and
counts a failure without stopping; a real daemon makes its first copy at start."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from monitor.app import Daemon
from monitor.clock import FakeClock
from monitor.config import parse_config
from monitor.config.schema import BackupSettings
from monitor.daemon.backups import Backups, look_interval
from monitor.daemon.metrics import DaemonMetrics
from monitor.daemon.runtime import restart_only_changes
from monitor.store import Database
from monitor.testing.targets import TargetServer
from tests.support import MONITOR, eventually

START = dt.datetime(2026, 12, 6, 21, 0, tzinfo=dt.UTC)


def names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir()) if directory.is_dir() else []


def metric(registry: CollectorRegistry, name: str) -> float | None:
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


async def test_a_copy_when_the_newest_is_every_old_the_newest_kept_a_failure_counted(
        sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = Database.open(sqlite_url)
    await db.upgrade()
    clock = FakeClock(START)
    registry = CollectorRegistry()
    backups = Backups(db, clock, BackupSettings(directory="copies", every=3600, keep=2),
                      DaemonMetrics(registry))
    directory = tmp_path / "copies"  # relative to the database's directory
    assert metric(registry, "sla_monitor_backup_interval_seconds") == 3600
    assert look_interval(backups.settings) == 360  # a tenth of an hour
    try:
        await backups.run()  # none yet: one now
        assert await asyncio.to_thread(names, directory) == ["sla-monitor-20261206T210000Z.db"]
        assert metric(registry, "sla_monitor_backup_last_success_timestamp_seconds") == \
            START.timestamp()
        clock.advance(3599)  # not yet an hour old
        await backups.run()
        assert len(await asyncio.to_thread(names, directory)) == 1
        for _ in range(2):  # an hour old: a copy each hour, the newest two kept
            clock.advance(3600)
            await backups.run()
        assert await asyncio.to_thread(names, directory) == [
            "sla-monitor-20261206T225959Z.db", "sla-monitor-20261206T235959Z.db"]
        # A restart reads the newest copy's time from its name: nothing is due yet.
        again = Backups(db, clock, backups.settings, DaemonMetrics(CollectorRegistry()))
        await again.run()
        assert len(await asyncio.to_thread(names, directory)) == 2
        # A copy that cannot be made is logged and counted; the next look tries again.
        failing = CollectorRegistry()
        blocked = Backups(db, clock, BackupSettings(directory=str(tmp_path / "a-file")),
                          DaemonMetrics(failing))
        await asyncio.to_thread((tmp_path / "a-file").write_text, "not a directory")
        with caplog.at_level(logging.ERROR, logger="monitor.daemon.backups"):
            await blocked.run()
        assert [r.getMessage() for r in caplog.records] == [
            "database backup failed; tried again at the next look"]
        assert caplog.records[0].exc_info is None  # one line, no traceback
        assert metric(failing, "sla_monitor_backup_failures_total") == 1
    finally:
        await db.dispose()


@pytest.mark.slow
async def test_the_daemon_makes_its_first_copy_at_start_and_says_when(
        sqlite_url: str, tmp_path: Path) -> None:
    async with TargetServer() as host:
        config = parse_config("\n".join([
            "services:",
            "  - id: panel",
            "    kind: web_panel",
            f"    probe: {{type: tcp, host: 127.0.0.1, port: {host.port}, interval: 1s, "
            "timeout: 0.5s}",
            MONITOR,
            f"storage: {{url: '{sqlite_url}', backup: {{directory: copies, every: 1d}}}}",
            "http: {listen: '127.0.0.1:0'}"]))
        daemon = Daemon(config)
        await daemon.start()
        try:
            made = await eventually(lambda: asyncio.to_thread(names, tmp_path / "copies"))
            assert len(made) == 1 and made[0].startswith("sla-monitor-")
            stamp = await eventually(lambda: asyncio.sleep(
                0, metric(daemon.registry, "sla_monitor_backup_last_success_timestamp_seconds")))
            assert abs(stamp - dt.datetime.now(dt.UTC).timestamp()) < 60
            assert metric(daemon.registry, "sla_monitor_backup_interval_seconds") == 86400
        finally:
            await daemon.stop()


def test_the_backups_settings_change_only_with_a_restart() -> None:
    before = parse_config("storage: {backup: {directory: copies, every: 1d}}")
    after = parse_config("storage: {backup: {directory: copies, every: 2d}}")
    assert restart_only_changes(before, after) == ["storage.backup.every (86400.0, now 172800.0)"]
