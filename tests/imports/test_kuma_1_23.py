"""``sla-monitor import uptime-kuma`` on a real Kuma 1.23.17 database: made as Kuma makes it
(``kuma_schema.build_1_23``: its template ``db/kuma.db`` and its 54 SQL patches, in its
order), with rows written as Kuma 1.23's own code writes them (the columns of 1.23, its
time formats, the write-ahead log it keeps the file in). The configuration passes
``check-config``; its history gives the incidents and the maintenance worked out by hand
below."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from monitor.cli import main
from monitor.config import kuma, load_config
from monitor.config.imported import Converted
from tests.imports import kuma_schema
from tests.imports.kuma_schema import insert

DISCORD = "https://discord.com/api/webhooks/000000000000000000/your-discord-webhook-token-here"


@pytest.fixture(scope="module")
def kuma_1_23(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new Kuma 1.23.17 database (closed: Kuma checkpoints its log on close), made once."""
    path = tmp_path_factory.mktemp("kuma-1.23") / "kuma.db"
    connection = kuma_schema.build_1_23(path)
    connection.commit()
    connection.close()
    assert sorted(os.listdir(path.parent)) == ["kuma.db"]
    return path


def monitor(db: sqlite3.Connection, **columns: object) -> int:
    """A monitor as 1.23's ``add`` handler stores it (``server/server.js``: the edit page's
    defaults, ``timeout`` 80 % of the 60 s interval, ``user_id`` of the one user)."""
    row: dict[str, object] = {
        "user_id": 1, "active": 1, "interval": 60, "retry_interval": 60,
        "resend_interval": 0, "maxretries": 0, "timeout": 48, "method": "GET",
        "maxredirects": 10, "accepted_statuscodes_json": '["200-299"]',
        "expiry_notification": 0, "ignore_tls": 0, "upside_down": 0, "invert_keyword": 0,
        "packet_size": 56, "http_body_encoding": "json", "weight": 2000, **columns}
    return insert(db, "monitor", **row)


def heartbeats(db: sqlite3.Connection, monitor_id: int, *beats: tuple[str, int]) -> None:
    """Beats as 1.23 writes them: ``time`` by ``R.isoDateTimeMillis(dayjs.utc())``
    (``YYYY-MM-DD HH:mm:ss.SSS``, UTC), ``down_count`` and ``duration`` beside."""
    for time, status in beats:
        insert(db, "heartbeat", monitor_id=monitor_id, status=status, time=f"{time}.000",
               msg="", important=1, duration=60, down_count=0, ping=None)


def kuma_database(template: Path, path: Path) -> Path:
    """The group ACME Research (its shop and API), a port monitor on the shop's host, a
    tag, two single maintenance windows (one in its own time zone, one in the server's),
    a Discord notification and heartbeats: the shop down twice, the API down at its end."""
    shutil.copyfile(template, path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA foreign_keys = ON")
    insert(db, "user", username="admin", password="$2a$10$hash", active=1)
    # Settings > General > Display Timezone: ``Settings.set`` stores JSON.
    insert(db, "setting", key="serverTimezone", value='"Asia/Tehran"', type="general")
    group = monitor(db, name="ACME Research", type="group")
    shop = monitor(db, name="ACME shop", type="http", parent=group, maxretries=2,
                   url="https://shop.acme.example/", method="HEAD",
                   headers='{"X-Probe": "sla"}',
                   accepted_statuscodes_json='["200-299","300-399"]')
    api = monitor(db, name="ACME API", type="keyword", parent=group, interval=30, timeout=24,
                  url="https://api.acme.example/health", keyword="ok")
    monitor(db, name="ACME db", type="port", hostname="shop.acme.example", port=5432,
            timeout=10)
    # A DNS monitor as 1.23's edit page stores it: its nameserver, port and record type.
    monitor(db, name="Nameserver", type="dns", hostname="shop.acme.example", port=53,
            dns_resolve_server="1.1.1.1", dns_resolve_type="A")
    insert(db, "tag", name="Core", color="#059669")
    insert(db, "monitor_tag", monitor_id=shop, tag_id=1, value="")
    # The edit page's datetime-local inputs (``YYYY-MM-DDTHH:mm``), wall-clock times in the
    # window's ``timezone`` (``Maintenance.getStatus``: ``dayjs.tz(start_date, zone)``).
    insert(db, "maintenance", title="Upgrade", description="", user_id=1, strategy="single",
           start_date="2026-11-03T03:00", end_date="2026-11-03T04:00",
           timezone="Europe/Berlin")  # UTC+1 in November: 02:00 to 03:00 UTC
    insert(db, "monitor_maintenance", monitor_id=shop, maintenance_id=1)
    insert(db, "maintenance", title="Migration", description="", user_id=1,
           strategy="single", start_date="2026-11-25T10:00", end_date="2026-11-25T11:30",
           timezone="SAME_AS_SERVER")  # Asia/Tehran, UTC+3:30: 06:30 to 08:00 UTC
    insert(db, "monitor_maintenance", monitor_id=api, maintenance_id=2)
    insert(db, "notification", name="Discord", user_id=1, is_default=0, active=1,
           config=json.dumps({"name": "Discord", "type": "discord",
                              "discordWebhookUrl": DISCORD, "isDefault": False}))
    insert(db, "monitor_notification", monitor_id=shop, notification_id=1)
    # Kuma's statuses: 0 down, 1 up, 2 pending, 3 maintenance.
    heartbeats(db, shop,
               ("2026-11-03 01:59:00", 1), ("2026-11-03 02:10:00", 3),  # the Upgrade window
               ("2026-11-03 03:01:00", 1),
               ("2026-11-05 09:59:00", 1), ("2026-11-05 10:00:00", 0),
               ("2026-11-05 10:01:00", 2), ("2026-11-05 10:06:00", 0),
               ("2026-11-05 10:12:30", 1),  # 750 s
               ("2026-11-20 23:55:00", 0), ("2026-11-21 00:05:00", 1))  # 600 s
    heartbeats(db, api, ("2026-11-05 10:00:00", 1), ("2026-11-29 12:00:00", 0))  # still down
    db.commit()
    db.close()
    return path


def test_the_fixture_is_kumas_own_1_23_schema(kuma_1_23: Path) -> None:
    """What the transcribed tables left out and the import meets in a real 1.23 database:
    the write-ahead log, the maintenance window's time zone, a notification's user."""
    db = sqlite3.connect(kuma_1_23)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        columns = {table: {row[1]: row for row in db.execute(f"PRAGMA table_info({table})")}
                   for table in ("monitor", "maintenance", "notification", "heartbeat")}
        assert {"timezone", "cron", "duration"} <= set(columns["maintenance"])
        assert columns["monitor"]["timeout"][2:5] == ("DOUBLE", 1, "0")
        assert {"parent", "invert_keyword"} <= set(columns["monitor"])
        assert columns["notification"]["user_id"][3] == 1  # NOT NULL in 1.23
        assert "end_time" not in columns["heartbeat"]  # 2.0's, not 1.23's
        assert json.loads(db.execute("SELECT value FROM setting WHERE key = "
                                     "'database_version'").fetchone()[0]) == 10
    finally:
        db.close()


@pytest.mark.slow
def test_a_kuma_1_23_database_becomes_a_valid_configuration(
        kuma_1_23: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "kuma").mkdir()
    kuma_db = kuma_database(kuma_1_23, tmp_path / "kuma" / "kuma.db")
    out = tmp_path / "config.yaml"
    assert main(["import", "uptime-kuma", str(kuma_db), "-o", str(out)]) == 0
    report = capsys.readouterr().err
    assert main(["-c", str(out), "check-config"]) == 0
    config = load_config(out)
    services = {s.id: s for s in config.services}
    assert [s.id for s in config.servers] == ["acme-db", "nameserver", "host-api-acme-example"]
    nameserver = config.servers[1].probe
    assert (nameserver.type, nameserver.server, nameserver.name,  # type: ignore[union-attr]
            nameserver.record) == ("dns", "1.1.1.1", "shop.acme.example", "A")  # type: ignore
    shop = services["acme-shop"].probe
    assert (shop.interval, shop.timeout, shop.fail_after) == (60, 48, 3)
    assert shop.expected_status == ["2xx", "3xx"]  # type: ignore[union-attr]
    api = services["acme-api"].probe
    assert (api.interval, api.timeout, api.body_contains) == (30, 24, "ok")  # type: ignore
    assert [c.id for c in config.customers] == ["acme-research"]
    assert config.customers[0].services == ["acme-shop", "acme-api"]
    # Kuma's wall-clock times in each window's zone, said in UTC.
    assert ("maintenance 'Upgrade' (2026-11-03 02:00 to 2026-11-03 03:00 UTC): recorded by "
            "--history") in report
    assert ("maintenance 'Migration' (2026-11-25 06:30 to 2026-11-25 08:00 UTC): recorded by "
            "--history") in report
    assert Path(config.operators.notify_file or "").read_text().splitlines() == [DISCORD]
    # Kuma's database is read, never written: no journal or log left beside it.
    assert sorted(os.listdir(kuma_db.parent)) == ["kuma.db"]


@pytest.mark.slow
def test_kuma_1_23_history_gives_the_incidents_and_windows_worked_out_by_hand(
        kuma_1_23: Path, tmp_path: Path, db_url: str, schema_at_head: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "kuma").mkdir()
    kuma_db = kuma_database(kuma_1_23, tmp_path / "kuma" / "kuma.db")
    config = tmp_path / "config.yaml"
    assert main(["import", "uptime-kuma", str(kuma_db), "-o", str(config)]) == 0
    config.write_text(config.read_text() + f"storage: {{url: '{db_url}'}}\n")
    capsys.readouterr()
    history = ["-c", str(config), "import", "uptime-kuma", str(kuma_db), "--history",
               "--format", "json"]
    assert main(history) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["incidents"], done["windows"]) == (2, 2)
    assert main(["-c", str(config), "incident", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    # R-M1: from the first DOWN to the first UP after it; the PENDING beat neither opens
    # nor closes one; the API's last DOWN is left to the daemon.
    assert [(i["service_id"], i["source"], i["start"], i["end"]) for i in listed] == [
        ("acme-shop", "imported", "2026-11-05T10:00:00Z", "2026-11-05T10:12:30Z"),
        ("acme-shop", "imported", "2026-11-20T23:55:00Z", "2026-11-21T00:05:00Z")]
    assert main(["-c", str(config), "maintenance", "list", "--month", "2026-11",
                 "--format", "json"]) == 0
    windows = json.loads(capsys.readouterr().out)
    assert sorted((w["window"]["service_ids"], w["window"]["start"], w["window"]["end"])
                  for w in windows) == [
        (["acme-api"], "2026-11-25T06:30:00Z", "2026-11-25T08:00:00Z"),
        (["acme-shop"], "2026-11-03T02:00:00Z", "2026-11-03T03:00:00Z")]
    assert main(["-c", str(config), "report", "--month", "2026-11", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    acme = next(c for c in report["customers"] if c["customer"] == "acme-research")
    assert acme["downtime_seconds"] == 750 + 600
    assert main(history) == 0  # run again: nothing more
    again = json.loads(capsys.readouterr().out)
    assert (again["incidents"], again["incidents_already"], again["windows"],
            again["windows_already"]) == (0, 2, 0, 2)
    assert sorted(os.listdir(kuma_db.parent)) == ["kuma.db"]


def test_while_kuma_runs_its_log_is_read_and_left_as_it_was(
        kuma_1_23: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Kuma running holds its database open in write-ahead-log mode: a monitor it has just
    added is in ``kuma.db-wal``, not yet in ``kuma.db``; the import reads it there."""
    path = tmp_path / "kuma.db"
    shutil.copyfile(kuma_1_23, path)
    kuma = sqlite3.connect(path)  # Kuma, running
    try:
        insert(kuma, "user", username="admin", password="$2a$10$hash", active=1)
        monitor(kuma, name="Shop", type="http", url="https://shop.beta.example/")
        kuma.commit()
        assert (tmp_path / "kuma.db-wal").stat().st_size > 0
        before = sorted(os.listdir(tmp_path))
        assert main(["import", "uptime-kuma", str(path), "--format", "json"]) == 0
        found = json.loads(capsys.readouterr().out)
        assert (found["servers"], found["projects"]) == (1, 1)
        assert sorted(os.listdir(tmp_path)) == before
    finally:
        kuma.close()


@pytest.mark.parametrize(("timezone", "server", "start", "said"), [
    # No zone: UTC, as Kuma's Maintenance.run sets it (1.21.2 and later).
    (None, "Asia/Tehran", "2026-11-03T03:00:00+00:00", None),
    ("America/New_York", None, "2026-11-03T08:00:00+00:00", None),  # EST, UTC-5
    ("SAME_AS_SERVER", "Asia/Tehran", "2026-11-02T23:30:00+00:00", None),
    ("SAME_AS_SERVER", None, "2026-11-03T03:00:00+00:00",
     "note: maintenance 'Upgrade': its times are in the Kuma server's time zone (its TZ), "
     "which its database does not name: read as UTC; check them"),
    ("Mars/Olympus", None, None,
     "not mapped: maintenance 'Upgrade'.timezone: Mars/Olympus: not a time zone (an IANA "
     "name such as Europe/Berlin)"),
])
def test_a_windows_times_are_read_in_its_time_zone(
        timezone: str | None, server: str | None, start: str | None, said: str | None) -> None:
    data = kuma.KumaData(server_timezone=server, maintenance=[{
        "id": 1, "title": "Upgrade", "strategy": "single", "timezone": timezone,
        "start_date": "2026-11-03T03:00", "end_date": "2026-11-03T04:00"}])
    converted = Converted({})
    found = kuma.windows(data, converted)
    assert [w.start.isoformat() for w in found] == ([start] if start else [])
    assert [w.end - w.start for w in found] == ([dt.timedelta(hours=1)] if start else [])
    told = [f"note: {n}" for n in converted.notes] + [
        f"not mapped: {u.where}: {u.what}: {u.why}" for u in converted.unmapped]
    assert told == ([said] if said else [])


def test_kumas_weekly_monthly_and_cron_maintenance_becomes_recurring_windows_or_is_reported(
        kuma_1_23: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "kuma.db"
    shutil.copyfile(kuma_1_23, path)
    db = sqlite3.connect(path)
    insert(db, "user", username="admin", password="$2a$10$hash", active=1)
    web = monitor(db, name="web", type="http", url="https://web.example/")
    box = monitor(db, name="box", type="port", hostname="web.example", port=22, timeout=10)
    for title, extra, covers in [
            # Sunday (7, or 0 as cron reads it) and Wednesday, across midnight, in Tehran,
            # until the end of June (the edit page's date range).
            ("Night", {"weekdays": "[7,3,0]", "start_time": "23:30", "end_time": "00:15",
                       "timezone": "Asia/Tehran", "start_date": "2026-12-01 00:00:00",
                       "end_date": "2027-06-30 00:00:00", "duration": 2700,
                       "cron": "30 23 * * 7,3,0"}, [web, box]),
            ("Paused", {"weekdays": "[1]", "start_time": "01:00", "end_time": "02:00",
                        "active": 0}, [web]),
            ("Nothing", {"weekdays": "[1]", "start_time": "01:00", "end_time": "02:00"}, []),
            ("Garbled", {"weekdays": "[9]", "start_time": "01:00", "end_time": "02:00"},
             [web]),
            # Monthly, on the 15th and the last day, as 1.23's edit page stores it.
            ("Patches", {"strategy": "recurring-day-of-month",
                         "days_of_month": '[15,"lastDay1"]', "start_time": "03:00",
                         "end_time": "04:30"}, [box]),
            # Cron windows as 1.23 stores them: the expression and the duration in seconds
            # (the edit page's minutes × 60). The first Friday at 02:00 for 2 h; the last
            # day of the month at 01:30 for 30 min; every five minutes: no such schedule.
            ("First Friday", {"strategy": "cron", "cron": "0 2 * * 5#1", "duration": 7200},
             [web]),
            ("Month end", {"strategy": "cron", "cron": "30 1 L * *", "duration": 1800}, [box]),
            ("Often", {"strategy": "cron", "cron": "*/5 * * * *", "duration": 60}, [web]),
            ("Long", {"strategy": "cron", "cron": "0 1 * * 6", "duration": 90000}, [web])]:
        window = insert(db, "maintenance", title=title, description="", user_id=1,
                        **{"strategy": "recurring-weekday", **extra})
        for monitor_id in covers:
            insert(db, "monitor_maintenance", monitor_id=monitor_id, maintenance_id=window)
    db.commit()
    db.close()
    assert main(["import", "uptime-kuma", str(path), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    # 23:30 to 00:15 is 45 minutes; the port monitor is its host's server.
    assert yaml.safe_load(found["config"])["maintenance"]["recurring"] == [
        {"id": "night", "services": ["web", "box"], "every": ["sunday", "wednesday"],
         "at": "23:30", "duration": "2700s", "reason": "Night"},
        {"id": "patches", "services": ["box"], "days_of_month": [15, "last"],
         "at": "03:00", "duration": "5400s", "reason": "Patches"},
        {"id": "first-friday", "services": ["web"], "every": ["friday"],
         "weeks_of_month": [1], "at": "02:00", "duration": "7200s", "reason": "First Friday"},
        {"id": "month-end", "services": ["box"], "days_of_month": ["last"], "at": "01:30",
         "duration": "1800s", "reason": "Month end"}]
    assert [(item["where"], item["why"]) for item in found["unmapped"]] == [
        ("maintenance 'Paused'", "paused in Kuma"),
        ("maintenance 'Nothing'", "it covers no monitor carried here (a status page's are "
                                  "not read)"),
        ("maintenance 'Garbled'", "weekdays or days of the month (1 to 31, the last) and a "
                                  "start and end time of day, as Kuma keeps them"),
        ("maintenance 'Often'", "a cron expression of a minute, an hour and days: every "
                                "day, weekdays (MON-FRI, 0-7), one weekday's n-th (5#1) or "
                                "last (5L), or days of the month (1-31, L)"),
        ("maintenance 'Long'", "sla-monitor's recurring windows last from 1 min to 1 d")]
    notes = " ".join(found["notes"])
    assert "Asia/Tehran" in notes and "2027-06-30" in notes
    (tmp_path / "made.yaml").write_text(found["config"])
    assert main(["-c", str(tmp_path / "made.yaml"), "check-config"]) == 0

