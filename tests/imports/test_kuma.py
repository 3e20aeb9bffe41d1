"""``sla-monitor import uptime-kuma``: a Kuma database built on Kuma's own tables
(``kuma_schema``, transcribed from its repository) becomes a configuration that
``check-config`` passes, with each mapping worked out by hand below, and a report of what
was not mapped."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
import yaml

from monitor.cli import main
from monitor.config import load_config
from monitor.config.kuma import down_streaks
from tests.imports import kuma_schema
from tests.imports.kuma_schema import insert

TELEGRAM = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
DISCORD = "https://discord.com/api/webhooks/000000000000000000/your-discord-webhook-token-here"


def kuma_database(path: Path) -> Path:
    """Kuma 2.0's tables: a group of two monitors (ACME Research), a port monitor on the
    shop's host, a blog, what cannot be mapped, a tag, maintenance and notifications."""
    db = kuma_schema.build(path)
    insert(db, "monitor", name="ACME Research", type="group", interval=60)
    shop = insert(db, "monitor", name="ACME shop", type="http", parent=1, interval=60,
                  timeout=48, maxretries=2, url="https://shop.acme.example/", method="HEAD",
                  headers='{"X-Probe": "sla"}', accepted_statuscodes_json='["200-299", "300-399"]')
    insert(db, "monitor", name="ACME API", type="keyword", parent=1, interval=30, timeout=0,
           url="https://api.acme.example/health", keyword="ok", ignore_tls=1)
    insert(db, "monitor", name="ACME db", type="port", hostname="shop.acme.example", port=5432,
           interval=60, timeout=10)
    insert(db, "monitor", name="Old site", type="http", active=0,
           url="https://old.acme.example/")
    insert(db, "monitor", name="Gateway", type="ping", hostname="10.0.0.1")
    insert(db, "monitor", name="Down is up", type="http", upside_down=1,
           url="https://x.example.org/")
    insert(db, "monitor", name="Blog", type="http", interval=300, timeout=10, maxretries=2,
           url="https://blog.example.org/", maxredirects=0)
    insert(db, "monitor", name="Resolver", type="dns", hostname="example.org", interval=60,
           timeout=10, dns_resolve_server="1.1.1.1, 8.8.8.8", dns_resolve_type="AAAA",
           port=53)
    insert(db, "monitor", name="Resolver by name", type="dns", hostname="example.org",
           dns_resolve_server="dns.google", dns_resolve_type="A", port=53)
    # Kuma 2 asks a new name under a wildcard each time: not a name a DNS probe asks.
    insert(db, "monitor", name="Any shop", type="dns", hostname="*.shop.example",
           dns_resolve_server="1.1.1.1", dns_resolve_type="A", port=53)
    insert(db, "tag", name="Core", color="#fff")
    insert(db, "monitor_tag", monitor_id=shop, tag_id=1)
    insert(db, "maintenance", title="Upgrade", description="", strategy="single",
           start_date="2026-11-03 02:00:00", end_date="2026-11-03 03:00:00")
    insert(db, "monitor_maintenance", monitor_id=shop, maintenance_id=1)
    insert(db, "maintenance", title="Weekly", description="", strategy="recurring-weekday",
           weekdays="[1]", start_time="02:00", end_time="03:00")
    insert(db, "monitor_maintenance", monitor_id=shop, maintenance_id=2)
    # Monthly, on the 1st and the last day (Kuma's lastDay1), 23:00 to 01:00.
    insert(db, "maintenance", title="Monthly", description="",
           strategy="recurring-day-of-month", days_of_month='[1, "lastDay1"]',
           start_time="23:00", end_time="01:00")
    insert(db, "monitor_maintenance", monitor_id=shop, maintenance_id=3)
    # The last day but one: sla-monitor names none.
    insert(db, "maintenance", title="Near the end", description="",
           strategy="recurring-day-of-month", days_of_month='["lastDay2"]',
           start_time="02:00", end_time="03:00")
    insert(db, "monitor_maintenance", monitor_id=shop, maintenance_id=4)
    for name, config in [
        ("Telegram", {"type": "telegram", "telegramBotToken": TELEGRAM,
                      "telegramChatID": "0123456789"}),
        ("Mail", {"type": "smtp", "smtpHost": "mail.example.com", "smtpPassword": "hunter2",
                  "smtpTo": "noc@example.com, oncall@example.com"}),
        ("Discord", {"type": "discord", "discordWebhookUrl": DISCORD}),
        ("ntfy", {"type": "ntfy", "ntfyserverurl": "https://ntfy.example.com",
                  "ntfytopic": "kuma-test-topic"}),
        ("Pager", {"type": "pushover", "pushoveruserkey": "u"}),
    ]:
        insert(db, "notification", name=name, config=json.dumps(config))
    db.commit()
    db.close()
    return path


@pytest.fixture(scope="module")
def kuma_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kuma_database(tmp_path_factory.mktemp("kuma") / "kuma.db")


@pytest.mark.slow
def test_a_kuma_database_becomes_a_valid_configuration(
        kuma_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "config.yaml"
    assert main(["import", "uptime-kuma", str(kuma_db), "-o", str(out)]) == 0
    report = capsys.readouterr().err
    assert main(["-c", str(out), "check-config"]) == 0
    config = load_config(out)
    servers = {s.id: s for s in config.servers}
    services = {s.id: s for s in config.services}
    # The port monitor is its host's server; hosts without one get a server on 443.
    assert list(servers) == ["acme-db", "resolver", "host-api-acme-example",
                             "host-blog-example-org"]
    # The DNS monitor: example.org's AAAA records asked of the first of its nameservers
    # (the second reported), up when any is answered, as in Kuma.
    resolver = servers["resolver"].probe
    assert (resolver.type, resolver.server, resolver.port, resolver.name,  # type: ignore
            resolver.record, resolver.expected, resolver.timeout) == (  # type: ignore
        "dns", "1.1.1.1", 53, "example.org", "AAAA", [], 10)
    assert servers["acme-db"].probe.port == 5432  # type: ignore[union-attr]
    assert services["acme-shop"].server == "acme-db"
    shop = services["acme-shop"].probe
    # interval 60, timeout 48, maxretries 2 → fail_after 3; HEAD; ["200-299", "300-399"];
    # Kuma's default maxredirects 10 kept.
    assert (shop.interval, shop.timeout, shop.fail_after) == (60, 48, 3)
    assert shop.method == "HEAD" and shop.headers == {"X-Probe": "sla"}  # type: ignore
    assert shop.expected_status == ["2xx", "3xx"]  # type: ignore[union-attr]
    assert shop.max_redirects == 10  # type: ignore[union-attr]
    api = services["acme-api"].probe
    # timeout 0 (not set): 80 % of the 30 s interval; maxretries 0 → fail_after 1.
    assert (api.interval, api.timeout, api.fail_after) == (30, 24, 1)
    assert api.body_contains == "ok" and api.tls.verify is False  # type: ignore[union-attr]
    blog = services["blog"].probe
    assert blog.follow_redirects is False  # type: ignore[union-attr]
    # D-1: 300 s × 3 + 10 s is over 15 min: floor((900 - 10) / 3) = 296 s, and said.
    assert blog.interval == 296
    assert "monitor 'Blog': interval 5 min shortened to 4 min 56 s" in report
    # Kuma's weekly window on the shop: Mondays (1) 02:00 to 03:00, its title the reason.
    [weekly, monthly] = config.maintenance.recurring
    # 23:00 to 01:00 is 2 h, over midnight.
    assert (monthly.id, monthly.services, monthly.every, monthly.days_of_month, monthly.at,
            monthly.duration) == ("monthly", ["acme-shop"], None, [1, "last"], "23:00", 7200)
    assert "maintenance 'Monthly': its days of the month are read in the months" in report
    assert ("not mapped: maintenance 'Near the end': [\"lastDay2\"]: weekdays or days of "
            "the month") in report
    assert (weekly.id, weekly.services, weekly.every, weekly.at, weekly.duration,
            weekly.reason) == ("weekly", ["acme-shop"], ["monday"], "02:00", 3600, "Weekly")
    # The group is a draft customer of its children (the tag is not: there are groups).
    assert [c.id for c in config.customers] == ["acme-research"]
    acme = config.customers[0]
    assert acme.services == ["acme-shop", "acme-api"]
    assert [s.domain for s in acme.sites] == ["api.acme.example", "shop.acme.example"]
    assert "customer acme-research (group 'ACME Research'): a draft" in report
    assert ("maintenance 'Upgrade' (2026-11-03 02:00 to 2026-11-03 03:00 UTC): recorded by "
            "--history") in report
    assert config.provider.operators == ["noc@example.com", "oncall@example.com"]
    channels = Path(config.operators.notify_file or "")
    assert stat.S_IMODE(channels.stat().st_mode) == 0o600
    assert channels.read_text().splitlines() == [
        f"tgram://{TELEGRAM}/0123456789", DISCORD, "ntfys://ntfy.example.com/kuma-test-topic"]
    for line in (
        "not mapped: monitor 'Old site': https://old.acme.example/: paused in Uptime Kuma",
        "not mapped: monitor 'Gateway': 10.0.0.1: sla-monitor does not send ICMP",
        "not mapped: monitor 'Down is up': https://x.example.org/: inverted",
        "not mapped: monitor 'Resolver'.dns_resolve_server: 8.8.8.8: a DNS probe asks one "
        "nameserver: add a monitor of its own for each other",
        "not mapped: monitor 'Resolver by name'.dns_resolve_server: dns.google: expected an "
        "IP address (IPv4 or IPv6): the nameserver is asked directly, not found through a "
        "resolver",
        "not mapped: monitor 'Any shop'.hostname: *.shop.example: expected a domain name",
        "not mapped: notification 'Pager': pushover: no Apprise URL",
    ):
        assert line in report
    assert "hunter2" not in out.read_text() + report
    assert "ABC-DEF1234" not in out.read_text() + report


def test_tags_are_customers_without_groups_and_an_old_kuma_has_no_timeout(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = kuma_schema.build(tmp_path / "kuma.db", kuma_schema.OLD_MONITOR)
    for name in ("shop", "api"):
        insert(db, "monitor", name=name, type="http", interval=50,
               url=f"https://{name}.beta.example/")
    insert(db, "tag", name="Beta GmbH", color="#000")
    insert(db, "monitor_tag", monitor_id=1, tag_id=1)
    insert(db, "monitor_tag", monitor_id=2, tag_id=1)
    db.commit()
    db.close()
    assert main(["import", "uptime-kuma", str(tmp_path / "kuma.db"), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert (found["servers"], found["projects"], found["customers"]) == (2, 2, 1)
    document = yaml.safe_load(found["config"])
    assert document["customers"][0]["services"] == ["shop", "api"]
    assert document["services"][0]["probe"]["timeout"] == "40s"  # 80 % of 50 s


@pytest.mark.parametrize(("content", "expected"), [
    (b"SQLite format 3\x00 but not really", "(file): not an Uptime Kuma database"),
    (None, "(file): not an Uptime Kuma database (no such table: monitor)"),
    # Kuma 1.x's JSON backup (Settings > Backup > Export) was "not a database (file is not
    # a database)", which told its owner nothing of what to give instead.
    (b'{"version": "1.23.16", "notificationList": [], "monitorList": []}',
     "(file): an Uptime Kuma JSON backup (Settings > Backup), which is not read: give Kuma's "
     "database, data/kuma.db (1.23 or 2.0)"),
])
def test_a_file_that_is_not_kuma_is_one_line_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None,
        expected: str) -> None:
    source = tmp_path / "kuma.db"
    if content is None:
        sqlite3.connect(source).close()
        source.write_bytes(b"")
    else:
        source.write_bytes(content)
    assert main(["import", "uptime-kuma", str(source), "-o", str(tmp_path / "out.yaml")]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert os.listdir(tmp_path) == ["kuma.db"]


def test_a_missing_database_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "uptime-kuma", str(tmp_path / "nope.db")]) == 2
    assert "cannot read" in capsys.readouterr().err


def imported_with_storage(kuma_db: Path, tmp_path: Path, db_url: str) -> Path:
    """The configuration imported from ``kuma_db``, on the test's database (upgraded)."""
    config = tmp_path / "config.yaml"
    assert main(["import", "uptime-kuma", str(kuma_db), "-o", str(config)]) == 0
    config.write_text(config.read_text() + f"storage: {{url: '{db_url}'}}\n")
    assert main(["-c", str(config), "db", "upgrade"]) == 0
    return config


def beats(db: sqlite3.Connection, monitor_id: int, *rows: tuple[str, int]) -> None:
    for time, status in rows:
        insert(db, "heartbeat", monitor_id=monitor_id, status=status, time=time, msg="")


@pytest.mark.slow
def test_kuma_history_gives_the_report_worked_out_by_hand(
        tmp_path: Path, db_url: str, schema_at_head: None,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    kuma_db = kuma_database(tmp_path / "kuma.db")
    db = sqlite3.connect(kuma_db)
    beats(db, 2,  # ACME shop (Kuma's statuses: 0 down, 1 up, 2 pending, 3 maintenance)
          ("2026-11-03 01:59:00", 1), ("2026-11-03 02:10:00", 3),  # the Upgrade window
          ("2026-11-03 03:01:00", 1),
          ("2026-11-05 09:59:00", 1), ("2026-11-05 10:00:00", 0), ("2026-11-05 10:01:00", 2),
          ("2026-11-05 10:06:00", 0), ("2026-11-05 10:12:30", 1),  # 750 s
          ("2026-11-20 23:55:00", 0), ("2026-11-21 00:05:00", 1))  # 600 s
    beats(db, 3, ("2026-11-05 10:00:00", 1), ("2026-11-29 12:00:00", 0))  # still down
    db.commit()
    db.close()
    config = imported_with_storage(kuma_db, tmp_path, db_url)
    capsys.readouterr()
    history = ["-c", str(config), "import", "uptime-kuma", str(kuma_db), "--history"]
    monkeypatch.setattr("monitor.cli.progress.QUIET_FOR", 0.0)  # shown from the start
    assert main(history) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{kuma_db}: 2 incidents recorded (0 already there), "
                          "1 maintenance windows (0 already there)")
    # Times in the provider's zone and calendar, as every shown time (they were
    # ISO UTC).
    assert "monitor 'ACME API': down since 2026-11-29 12:00:00 UTC" in err
    assert "watched by Uptime Kuma from 2026-11-03 01:59:00 UTC to 2026-11-29 12:00:00 UTC" \
        in out, out
    # The monitors done, one at a time, on standard error (log lines: not a terminal): the
    # three monitors mapped to the configuration's services (shop, API, blog).
    told = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [(t["event"], t["step"], t["done"], t["total"]) for t in told] == [
        ("import uptime-kuma --history progress", "recording each monitor's heartbeats", 0, 3),
        ("import uptime-kuma --history progress", "recording each monitor's heartbeats", 3, 3)]
    # Run again: nothing more (the incidents are known by service and start).
    assert main([*history, "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["incidents"], again["incidents_already"], again["windows"],
            again["windows_already"]) == (0, 2, 0, 1)
    assert main(["-c", str(config), "incident", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(i["service_id"], i["source"], i["start"], i["end"]) for i in listed] == [
        ("acme-shop", "imported", "2026-11-05T10:00:00Z", "2026-11-05T10:12:30Z"),
        ("acme-shop", "imported", "2026-11-20T23:55:00Z", "2026-11-21T00:05:00Z")]
    assert main(["-c", str(config), "report", "--month", "2026-11", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    acme = next(c for c in report["customers"] if c["customer"] == "acme-research")
    assert acme["downtime_seconds"] == 750 + 600
    # The imported incidents are chained like every other (the store chains them).
    assert main(["-c", str(config), "evidence", "check"]) == 0


def test_history_writes_no_configuration(
        kuma_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "uptime-kuma", str(kuma_db), "--history",
                 "-o", str(tmp_path / "out.yaml")]) == 2
    assert "-o: not with --history" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_the_time_kuma_watched_is_watched_time_and_its_gaps_unknown(
        tmp_path: Path, db_url: str, schema_at_head: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    """R-M3 with an imported history: Kuma watched ACME's three monitors for one day, so
    that day is watched time; a stretch without a heartbeat of one of them is that
    service's unknown time, as for the daemon's own probes; the rest of the month nobody
    watched. Worked out by hand below."""
    kuma_db = kuma_database(tmp_path / "kuma.db")
    db = sqlite3.connect(kuma_db)
    day = dt.datetime(2026, 11, 10)

    def every(seconds: int, skip: tuple[dt.datetime, dt.datetime] | None = None
              ) -> list[tuple[str, int]]:
        found = []
        at = day
        while at <= day + dt.timedelta(days=1):
            if skip is None or not skip[0] < at < skip[1]:
                found.append((at.strftime("%Y-%m-%d %H:%M:%S"), 1))
            at += dt.timedelta(seconds=seconds)
        return found

    gap = (day + dt.timedelta(hours=6), day + dt.timedelta(hours=7))
    beats(db, 2, *every(60, skip=gap))  # ACME shop, interval 60 s: nothing 06:00-07:00
    beats(db, 3, *every(30))  # ACME API, interval 30 s
    beats(db, 4, *every(60))  # ACME db (its host's server), interval 60 s
    db.commit()
    db.close()
    config = imported_with_storage(kuma_db, tmp_path, db_url)
    history = ["-c", str(config), "import", "uptime-kuma", str(kuma_db), "--history",
               "--format", "json"]
    capsys.readouterr()
    assert main(history) == 0
    done = json.loads(capsys.readouterr().out)
    # The shop's gap (R-M3 per target, monitor.unknown_after 60 s): its last heartbeat at
    # 06:00 covers it until 06:01 (one interval); unknown from then to 07:00: 59 min.
    shop_gap = 59 * 60
    assert done["unwatched_seconds"]["acme-shop"] == shop_gap
    assert done["unwatched_seconds"]["acme-api"] == 0
    assert main(history) == 0  # run again: the watch is known by its span
    assert json.loads(capsys.readouterr().out)["coverage_already"] is True
    assert main(["-c", str(config), "report", "--month", "2026-11", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    acme = next(c for c in report["customers"] if c["customer"] == "acme-research")
    # Nobody watched November before the 10th (9 days) or after the 11th (20 days: Kuma's
    # last heartbeat ends its watch, a clean stop, R-M3); inside the day, the shop's gap.
    assert acme["unknown_seconds"] == 9 * 86400 + 20 * 86400 + shop_gap
    assert acme["downtime_seconds"] == 0


def test_status_codes_in_other_digits_than_ascii_are_not_mapped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # str.isdigit() took "²" (then int() failed: a traceback, exit 1) and "۲۰۰" (read as 200).
    db = kuma_schema.build(tmp_path / "kuma.db")
    insert(db, "monitor", name="shop", type="http", interval=60, url="https://shop.example/",
           accepted_statuscodes_json='["\u00b2", "\u06f2\u06f0\u06f0", "204"]')
    db.commit()
    db.close()
    assert main(["import", "uptime-kuma", str(tmp_path / "kuma.db"), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [item["what"] for item in found["unmapped"]] == ["\u00b2", "\u06f2\u06f0\u06f0"]
    document = yaml.safe_load(found["config"])
    assert document["services"][0]["probe"]["expected_status"] == [204]


def test_a_value_sla_monitor_refuses_is_named_by_its_kuma_monitor(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # As for Gatus: the refusal named the made configuration's lines and paths.
    db = kuma_schema.build(tmp_path / "kuma.db")
    insert(db, "monitor", name="shop", type="http", interval=5, timeout=30,
           url="https://shop.example/")
    db.commit()
    db.close()
    assert main(["import", "uptime-kuma", str(tmp_path / "kuma.db"), "-o",
                 str(tmp_path / "out.yaml")]) == 2
    err = capsys.readouterr().err
    assert "line " not in err and "Traceback" not in err, err
    assert ("  monitor 'shop' (made into servers[0] and services[0]): probe.interval: 5 s must "
            "be longer than the timeout (30 s)") in err, err
    assert sorted(os.listdir(tmp_path)) == ["kuma.db"]


def test_a_proxy_and_authentication_other_than_basic_are_reported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A monitor reached through one of Kuma's proxies (proxy_id), or authenticated by mTLS
    # or OAuth2 client credentials (auth_method), was imported as a plain probe without a
    # word: it would fail where Kuma's succeeded. NTLM was "put an Authorization header by
    # hand", which NTLM's handshake is not.
    db = kuma_schema.build(tmp_path / "kuma.db")
    for name, extra in [("proxied", {"proxy_id": 1}), ("mtls", {"auth_method": "mtls"}),
                        ("oauth", {"auth_method": "oauth2-cc"}),
                        ("ntlm", {"auth_method": "ntlm", "basic_auth_user": "u"}),
                        ("basic", {"auth_method": "basic", "basic_auth_user": "u"})]:
        insert(db, "monitor", name=name, type="http", url=f"https://{name}.example/", **extra)
    db.commit()
    db.close()
    assert main(["import", "uptime-kuma", str(tmp_path / "kuma.db"), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [(item["where"], item["what"]) for item in found["unmapped"]] == [
        ("monitor 'proxied'.proxy_id", "(an HTTP proxy)"),
        ("monitor 'mtls'.auth_method", "mtls"),
        ("monitor 'oauth'.auth_method", "oauth2-cc"),
        ("monitor 'ntlm'.auth_method", "ntlm"),
        ("monitor 'basic'.basic_auth_user", "(credentials)"),
    ]


def test_a_request_body_is_carried_with_the_content_type_of_its_encoding(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Kuma sends a monitor's body as JSON unless its encoding says form or XML; the import
    # reported every body as "sla-monitor's probes send no body".
    db = kuma_schema.build(tmp_path / "kuma.db")
    for name, extra in [
            ("json", {"method": "POST", "body": '{"ping": 1}'}),
            ("form", {"method": "POST", "body": "a=1", "http_body_encoding": "form"}),
            ("xml", {"method": "PUT", "body": "<ping/>", "http_body_encoding": "xml",
                     "headers": '{"Content-Type": "application/soap+xml"}'}),
            ("get", {"method": "GET", "body": "x"})]:
        insert(db, "monitor", name=name, type="http", url=f"https://{name}.example/", **extra)
    db.commit()
    db.close()
    assert main(["import", "uptime-kuma", str(tmp_path / "kuma.db"), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    probes = {s["id"]: s["probe"] for s in yaml.safe_load(found["config"])["services"]}
    assert (probes["json"]["body"], probes["json"]["headers"]) == (
        '{"ping": 1}', {"Content-Type": "application/json"})
    assert (probes["form"]["body"], probes["form"]["headers"]) == (
        "a=1", {"Content-Type": "application/x-www-form-urlencoded"})
    # The monitor's own Content-Type stands.
    assert (probes["xml"]["body"], probes["xml"]["headers"]) == (
        "<ping/>", {"Content-Type": "application/soap+xml"})
    assert "body" not in probes["get"]
    assert [(item["where"], item["what"]) for item in found["unmapped"]] == [
        ("monitor 'get'.body", "(a request body)")]


def test_kumas_retries_before_a_down_beat_are_where_the_outage_starts() -> None:
    # Kuma marks the failed checks it retries (maxretries) PENDING and only the last DOWN;
    # the import maps maxretries to fail_after = maxretries + 1, so those retries are the
    # first failed probes of the streak, where R-M1 starts the incident. It started at the
    # first DOWN: each imported outage was short by the retries (here 2 min of 14).
    def t(minute: int) -> dt.datetime:
        return dt.datetime(2026, 11, 5, 10, minute, tzinfo=dt.UTC)

    streaks, open_since = down_streaks([
        (t(0), 1), (t(1), 2), (t(2), 2), (t(3), 0), (t(14), 0), (t(15), 1),
        (t(20), 2), (t(21), 1),  # a retry that passed: no outage
        (t(30), 2), (t(31), 3), (t(32), 0), (t(33), 1),  # a maintenance beat between
    ])
    assert [(s.start_bound, s.start, s.end_bound, s.end) for s in streaks] == [
        (t(0), t(1), t(14), t(15)),
        (t(21), t(32), t(32), t(33)),
    ]
    assert open_since is None


# Columns Kuma keeps as numbers holding something else (a database edited by hand, or by
# another tool: SQLite keeps whatever is written). Random databases: 75 of 300 imports
# ended in a traceback, at six places. Such a monitor is reported and not carried; the
# others are imported.
@pytest.mark.parametrize(("column", "value"), [
    ("interval", "often"), ("timeout", "tcp"), ("maxretries", "[1,2]"),
    ("maxredirects", "none"), ("port", "ssh"), ("interval", float("inf")),
])
def test_a_number_column_that_holds_no_number_is_reported_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], column: str, value: object) -> None:
    db = kuma_schema.build(tmp_path / "kuma.db")
    insert(db, "monitor", name="shop", type="http", interval=60, timeout=10,
           url="https://shop.example/")
    insert(db, "monitor", name="odd", type="port", hostname="db.example", port=5432,
           interval=60, timeout=10, url="https://odd.example/")
    db.execute("UPDATE monitor SET type = 'http' WHERE name = 'odd' AND ? != 'port'", (column,))
    db.execute(f"UPDATE monitor SET `{column}` = ? WHERE name = 'odd'", (value,))
    db.commit()
    db.close()
    assert main(["import", "uptime-kuma", str(tmp_path / "kuma.db"), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "unexpected error" not in err, err
    found = json.loads(out)
    shown = "inf" if value == float("inf") else value
    assert {"where": f"monitor 'odd'.{column}", "what": str(shown),
            "why": "not a number, which Uptime Kuma keeps there: the monitor is not carried"
            } in found["unmapped"], found["unmapped"]
    assert [s["name"] for s in yaml.safe_load(found["config"])["services"]] == ["shop"]


def test_a_window_time_that_is_not_a_time_is_reported_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = kuma_schema.build(tmp_path / "kuma.db")
    insert(db, "monitor", name="shop", type="http", interval=60, timeout=10,
           url="https://shop.example/")
    insert(db, "maintenance", title="Upgrade", description="", strategy="single",
           start_date="2026-13-45 99:99:99", end_date="2026-11-03 03:00:00")
    db.commit()
    db.close()
    assert main(["import", "uptime-kuma", str(tmp_path / "kuma.db"), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "unexpected error" not in err, err
    assert {"where": "maintenance 'Upgrade'.start_date", "what": "2026-13-45 99:99:99",
            "why": "not a time (YYYY-MM-DD HH:MM[:SS], as Kuma keeps it): the window is not "
                   "recorded"} in json.loads(out)["unmapped"]


@pytest.mark.slow
def test_history_skips_and_reports_heartbeats_it_cannot_read(
        tmp_path: Path, db_url: str, schema_at_head: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    # A heartbeat whose time or status is not Kuma's ended the import in a traceback after
    # the monitors before it were recorded; so did a monitor's interval that is no number.
    kuma_db = kuma_database(tmp_path / "kuma.db")
    db = sqlite3.connect(kuma_db)
    beats(db, 2, ("2026-11-05 09:59:00", 1), ("2026-11-05 10:00:00", 0),
          ("2026-11-05 10:12:30", 1))
    beats(db, 3, ("2026-11-05 10:00:00", 1), ("2026-02-30 10:00:00", 0), ("yesterday", 0),
          ("2026-11-05 10:05:00", 7), ("2026-11-05 10:06:00", 1))
    db.commit()
    db.close()
    config = imported_with_storage(kuma_db, tmp_path, db_url)
    db = sqlite3.connect(kuma_db)
    db.execute("UPDATE monitor SET interval = 'often' WHERE name = 'Gateway'")  # not carried
    db.commit()
    db.close()
    capsys.readouterr()
    history = ["-c", str(config), "import", "uptime-kuma", str(kuma_db), "--history",
               "--format", "json"]
    assert main(history) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "unexpected error" not in err, err
    done = json.loads(out)
    assert done["incidents"] == 1  # ACME shop's; ACME API's unreadable beats are skipped
    assert {"where": "monitor 'ACME API'.heartbeat", "what": "3 heartbeats",
            "why": "not a time (YYYY-MM-DD HH:MM:SS) and a status (0-3) as Kuma writes "
                   "them: skipped"} in done["unmapped"], done["unmapped"]


@pytest.mark.parametrize(("conditions", "expected", "reported"), [
    (None, None, False),
    ("[]", None, False),
    # Kuma 2: up when some record satisfies the conditions; one "record equals V" is a DNS
    # probe's expected value.
    ('[{"type": "expression", "andOr": "and", "variable": "record", "operator": "equals",'
     ' "value": "192.0.2.10"}]', ["192.0.2.10"], False),
    ('[{"type": "expression", "andOr": "and", "variable": "record", "operator": "contains",'
     ' "value": "192.0"}]', None, True),
    ('[{"type": "expression", "variable": "record", "operator": "equals", "value": "a"},'
     ' {"type": "expression", "andOr": "or", "variable": "record", "operator": "equals",'
     ' "value": "b"}]', None, True),
    ("not json", None, True),
])
def test_a_kuma_2_dns_monitors_conditions(conditions: str | None, expected: list[str] | None,
                                          reported: bool) -> None:
    from monitor.config.kuma import KumaData, convert

    found = convert(KumaData(monitors=[{
        "id": 1, "name": "ns", "type": "dns", "active": 1, "interval": 60, "timeout": 10,
        "hostname": "shop.example", "dns_resolve_server": "192.0.2.53", "port": 53,
        "dns_resolve_type": "A", "conditions": conditions}]))
    [server] = found.document["servers"]
    assert server["probe"].get("expected") == expected
    assert [(u.where, u.what) for u in found.unmapped] == (
        [("monitor 'ns'.conditions", "(conditions)")] if reported else [])


@pytest.mark.parametrize(("cron", "schedule"), [
    ("0 2 * * *", {"every": ["monday", "tuesday", "wednesday", "thursday", "friday",
                             "saturday", "sunday"]}),
    ("30 23 * * 7,3,0", {"every": ["sunday", "wednesday"]}),  # 0 and 7: Sunday, once
    ("0 2 * * MON-FRI", {"every": ["monday", "tuesday", "wednesday", "thursday", "friday"]}),
    ("0 2 * * FRI#2", {"every": ["friday"], "weeks_of_month": [2]}),
    ("0 3 * * 5L", {"every": ["friday"], "weeks_of_month": ["last"]}),
    ("0 2 1,15 * *", {"days_of_month": [1, 15]}),
    ("0 2 1-3,L * *", {"days_of_month": [1, 2, 3, "last"]}),
    # Not a weekly or monthly schedule, or not one cron can mean: reported.
    ("*/5 * * * *", None), ("0 2 1 * 1", None), ("0 2 * 1 *", None), ("0 2 32 * *", None),
    ("0 2 * * 5#6", None), ("0 2 * * FRI-MON", None), ("0 25 * * *", None), ("0 2 * *", None),
])
def test_the_cron_windows_kuma_keeps(cron: str, schedule: dict[str, list[object]] | None
                                     ) -> None:
    from monitor.config.kuma import _cron

    if schedule is None:
        with pytest.raises(ValueError):
            _cron(cron)
    else:
        assert _cron(cron)[0] == schedule
