"""Record incidents and maintenance through the CLI, then the JSON report equals the figures
worked out by hand from the contract (SPEC sections 3, 4 and 7). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.present.tables import NOTHING

CONFIG = """\
provider: {{timezone: {tz}, calendar: gregorian}}
servers:
  - id: srv-1
    probe: {{type: tcp, host: 127.0.0.1, port: 9}}
services:
  - id: panel
    kind: web_panel
    probe: {{type: tcp, host: 127.0.0.1, port: 9}}
  - id: shop
    kind: project
    server: srv-1
    probe: {{type: tcp, host: 127.0.0.1, port: 9}}
customers:
  - id: acme
    name: ACME
    contacts: {{technical: {{email: tech@acme.example}}}}
    fee: {{amount: 3650, currency: EUR}}
    services: [shop]
    sites: [{{domain: acme.example}}]
  - id: beta
    name: Beta
    contacts: {{technical: {{email: it@beta.example}}}}
    fee: {{amount: 365, currency: EUR}}
    sites: [{{domain: beta.example}}]
  - id: gamma
    name: Gamma (clone)
    contacts: {{technical: {{email: ops@gamma.example}}}}
    fee: {{amount: 365, currency: EUR}}
    clone: true
    sites: [{{domain: gamma.example}}]
storage: {{url: '{url}'}}
"""


@pytest.fixture
def cli(tmp_path: Path, db_url: str, schema_at_head: None, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(tz="UTC", url=db_url))
    assert main(["-c", str(path), "db", "upgrade"]) == 0  # only db upgrade and run create it
    capsys.readouterr()

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["-c", str(path), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_recorded_month_reports_hand_worked_credits(cli) -> None:  # type: ignore[no-untyped-def]
    ok = [
        # 1: web panel down 1 h (10:00-11:00): every customer depends on it (R-M4).
        (
            "incident",
            "add",
            "--service",
            "panel",
            "--start",
            "2026-03-10T10:00Z",
            "--end",
            "2026-03-10T11:00Z",
        ),
        # 2: server down 1.5 h (10:30-12:00): acme's project runs on it (R-M4).
        (
            "incident",
            "add",
            "--service",
            "srv-1",
            "--start",
            "2026-03-10T10:30Z",
            "--end",
            "2026-03-10T12:00Z",
        ),
        # Maintenance on shop 00:00-02:00, notice 72 h ahead (R-EX1: excluded)...
        (
            "maintenance",
            "add",
            "--services",
            "shop",
            "--start",
            "2026-03-20T00:00Z",
            "--end",
            "2026-03-20T02:00Z",
            "--reason",
            "upgrade",
            "--notified-at",
            "2026-03-17T00:00Z",
        ),
        # 3: ...but the project was down 00:00-03:00: the 1 h overrun is counted.
        (
            "incident",
            "add",
            "--service",
            "shop",
            "--start",
            "2026-03-20T00:00Z",
            "--end",
            "2026-03-20T03:00Z",
        ),
        # acme was phoned 30 min into incident 1 (R-N1 in time); nobody else was told.
        (
            "incident",
            "notified",
            "1",
            "--at",
            "2026-03-10T10:30Z",
            "--channel",
            "phone",
            "--customer",
            "acme",
        ),
    ]
    for args in ok:
        code, _, err = cli(*args)
        assert code == 0, err
    code, out, err = cli("report", "--month", "2026-03", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    month = 31 * 86400  # March: 2,678,400 s (R-M6 denominator)
    assert (report["month"], report["period_start"], report["period_end"]) == (
        "2026-03",
        "2026-03-01T00:00:00Z",
        "2026-04-01T00:00:00Z",
    )
    acme, beta, gamma = report["customers"]

    # acme: union(10:00-11:00, 10:30-12:00) = 2 h, plus the 1 h maintenance overrun = 3 h.
    counted = 2 * 3600 + 3600
    assert acme["downtime_seconds"] == counted
    assert acme["excluded_seconds"] == 2 * 3600  # the announced window (R-EX1)
    assert acme["excluded_by_reason"]["maintenance"] == 2 * 3600
    assert acme["availability_percent"] == pytest.approx(
        int((month - counted) / month * 100 * 1000) / 1000
    )  # 99.596 %, shown rounded down
    assert acme["tier"] == "1w" and acme["tier_credit_days"] == 7  # 3 h >= 1.5 h (R-T1)
    # R-N1: incidents 2 and 3 were never notified to acme: 1 day each.
    assert acme["notification_breaches"] == [2, 3]
    assert acme["notification_credit_days"] == 2
    assert acme["credit_days_total"] == 7 + 2
    assert acme["credit_value"] == pytest.approx(9 * 3650 / 365)  # R-T2: 90.00 EUR

    # beta: only the panel, 1 h < 1.5 h: no tier; incident 1 not notified to beta: 1 day.
    assert beta["downtime_seconds"] == 3600 and beta["tier"] is None
    assert beta["notification_breaches"] == [1]
    assert beta["credit_days_total"] == 1
    assert beta["credit_value"] == pytest.approx(1 * 365 / 365)

    # gamma runs a clone: downtime is reported but no credits at all (R-EX6).
    assert gamma["downtime_seconds"] == 3600
    assert gamma["credit_days_total"] == 0 and gamma["tier"] is None
    assert gamma["ineligible_reason"] is not None

    incidents = {i["id"]: i for i in acme["incidents"]}
    assert incidents[1]["notified_after_seconds"] == 1800
    assert incidents[3]["counted_seconds"] == 3600
    assert incidents[2]["start"] == "2026-03-10T10:30:00Z"


def _steps(err: str, event: str) -> list[tuple[str, int, int]]:
    told = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [(e["step"], e["done"], e["total"]) for e in told if e["event"] == event]


def test_report_close_freezes_and_revises(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Shown from the start (by default only after 2 s: these take a moment).
    monkeypatch.setattr("monitor.cli.progress.QUIET_FOR", 0.0)
    code, out, err = cli("report", "close", "--month", "2026-03")
    assert code == 0 and "revision 1 frozen" in out
    # Each step on standard error (log lines: not a terminal), the customers counted.
    assert _steps(err, "report close progress") == [
        ("reading the month's records", 0, 0), ("hashing the month's inputs", 0, 0),
        ("computing each customer's report", 0, 3), ("computing each customer's report", 3, 3),
        ("encoding the report", 0, 0), ("freezing the revision", 0, 0)]
    code, out, err = cli("report", "close", "--month", "2026-03")
    assert "inputs unchanged; revision 1 stands" in out
    assert [step for step, _, _ in _steps(err, "report close progress")] == [
        "reading the month's records", "hashing the month's inputs"]  # nothing to compute
    code, out, err = cli("report", "--month", "2026-03", "--format", "json")
    assert [customer["customer"] for customer in json.loads(out)["customers"]] == [
        "acme", "beta", "gamma"]  # standard output: the document alone
    assert _steps(err, "report progress")[-1] == ("computing each customer's report", 3, 3)
    # The operators' summary: its typesetting is a step of its own (at 10,000 customers 7 s
    # of the PDF's 17, shown as the hashing that came before it).
    for kind, step in (("pdf", "typesetting the summary as PDF"),
                       ("html", "writing the summary as HTML")):
        code, _, err = cli("report", "--month", "2026-03", "--format", kind, "-o",
                           str(tmp_path / f"summary.{kind}"))
        assert code == 0 and _steps(err, "report progress")[-1] == (step, 0, 0), err
    code, _, err = cli("evidence", "check")
    assert code == 0
    checked = _steps(err, "evidence check progress")
    assert checked[0][0] == "checking each entry's hash" and checked[0][1] == 0
    assert checked[-2][0] == "checking each entry's hash" and checked[-2][1] == checked[-2][2] > 0
    assert checked[-1] == ("comparing the chained facts with their rows", 0, 0)
    cli(
        "incident",
        "add",
        "--service",
        "panel",
        "--start",
        "2026-03-05T00:00Z",
        "--end",
        "2026-03-05T02:00Z",
    )
    code, out, _ = cli("report", "close", "--month", "2026-03")
    # R-C3: new inputs make revision 2, and the difference is shown.
    assert code == 0 and "revision 2 frozen" in out
    assert "acme: downtime_seconds 0 -> 7200" in out
    assert "acme: tier None -> '1w'" in out


def test_report_table_and_csv(cli) -> None:  # type: ignore[no-untyped-def]
    cli(
        "incident",
        "add",
        "--service",
        "srv-1",
        "--start",
        "2026-03-10T10:00Z",
        "--end",
        "2026-03-10T12:00Z",
        "--note",
        "power",
    )
    code, out, _ = cli("report", "--month", "2026-03", "--customer", "acme")
    assert code == 0
    assert "acme      99.731" in out  # (2,678,400 - 7,200) / 2,678,400 = 99.7311 %
    assert "srv-1" in out and "R-T1" in out
    # The breach columns hold incident ids (JSON: [6]); "notification_breaches 6" read as six.
    header = out.splitlines()[1]
    assert "notified late (incidents)" in header and "detected late (incidents)" in header
    assert "breaches" not in header
    code, out, _ = cli("report", "--month", "2026-03", "--format", "csv")
    lines = out.splitlines()
    assert lines[0].startswith("month,customer,period_seconds,downtime_seconds")
    # R-M3: no daemon ever watched March here, so all of it is unknown but the 2 h an
    # operator recorded as an outage: 2,678,400 - 7,200 = 2,671,200 s.
    assert lines[1].startswith("2026-03,acme,2678400,7200,0,2671200,99.731")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (
                "incident",
                "add",
                "--service",
                "panle",
                "--start",
                "2026-03-01T00:00Z",
                "--end",
                "2026-03-01T01:00Z",
            ),
            "--service: 'panle' is not valid; allowed: one of the configured services and servers: "
            "panel, shop, srv-1",
        ),
        (
            (
                "incident",
                "add",
                "--service",
                "panel",
                "--start",
                "2026-03-01T02:00Z",
                "--end",
                "2026-03-01T01:00Z",
            ),
            "--end: '2026-03-01T01:00Z' is not valid; allowed: a time after --start "
            "(2026-03-01 02:00 UTC)",
        ),
        (
            (
                "incident",
                "add",
                "--service",
                "panel",
                "--start",
                "2026-03-01T00:00Z",
                "--end",
                "2026-03-01T01:00Z",
                "--cause",
                "weather",
            ),
            "--cause: 'weather' is not valid; allowed: one of: provider, customer_request, "
            "customer_action, external",
        ),
        (
            (
                "incident",
                "add",
                "--service",
                "panel",
                "--start",
                "yesterday",
                "--end",
                "2026-03-01T01:00Z",
            ),
            "--start: 'yesterday' is not valid; allowed: an ISO 8601 time",
        ),
        (
            ("incident", "cause", "42", "--cause", "external", "--reason", "cut-off"),
            "ID: 42 is not valid; allowed: an existing incident id (see: incident list)",
        ),
        (("report", "--month", "2026-13"), "--month: '2026-13' is not valid"),
        (
            ("report", "--month", "2026-03", "--customer", "nobody"),
            "--customer: 'nobody' is not valid; allowed: one of the configured customers: acme, beta, "
            "gamma",
        ),
        (
            ("report", "close", "--month", "2099-01"),
            "--month: '2099-01' is not valid; allowed: a month that has ended",
        ),
        (
            (
                "maintenance",
                "add",
                "--services",
                "panel,nope",
                "--start",
                "2026-03-01T00:00Z",
                "--end",
                "2026-03-01T01:00Z",
                "--reason",
                "x",
            ),
            "--services: 'nope' is not valid",
        ),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(cli, args, message) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(*args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    code, out, _ = cli("incident", "list")
    assert code == 0 and out.strip().splitlines()[2:] == [NOTHING]  # header, rule, and why


def test_an_empty_table_says_nothing_matched_once(cli) -> None:  # type: ignore[no-untyped-def]
    # Only the header and its rule were printed: an empty result looked like a cut output.
    for args in (("incident", "list", "--open"), ("claim", "list", "--overdue"),
                 ("ticket", "list", "--queue", "level3"), ("subscriber", "list"),
                 ("maintenance", "list")):
        code, out, _ = cli(*args)
        lines = out.strip().splitlines()
        assert code == 0 and lines[1].startswith("--") and lines[2:] == [NOTHING], (args, out)
    code, out, _ = cli("incident", "list", "--format", "json")
    assert json.loads(out) == []


def test_overlapping_manual_incident_is_refused(cli) -> None:  # type: ignore[no-untyped-def]
    assert (
        cli(
            "incident",
            "add",
            "--service",
            "panel",
            "--start",
            "2026-03-01T00:00Z",
            "--end",
            "2026-03-01T02:00Z",
        )[0]
        == 0
    )
    code, _, err = cli(
        "incident",
        "add",
        "--service",
        "panel",
        "--start",
        "2026-03-01T01:00Z",
        "--end",
        "2026-03-01T03:00Z",
    )
    assert code == 2 and "not overlapping manual incident 1 on panel" in err


def test_times_without_offset_are_in_the_configured_zone(
    tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(tz="Asia/Tehran", url=sqlite_url))
    assert main(["-c", str(path), "db", "upgrade"]) == 0
    assert (
        main(
            [
                "-c",
                str(path),
                "incident",
                "add",
                "--service",
                "panel",
                "--start",
                "2026-03-10T13:30",
                "--end",
                "2026-03-10T14:30",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["-c", str(path), "report", "--month", "2026-03", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # Tehran is UTC+3:30 in March 2026: 13:30 local is 10:00 UTC.
    assert report["customers"][0]["incidents"][0]["start"] == "2026-03-10T10:00:00Z"
    assert report["period_start"] == "2026-02-28T20:30:00Z"  # March 1st, 00:00 in Tehran


def test_maintenance_of_a_server_covers_its_projects(cli) -> None:  # type: ignore[no-untyped-def]
    # R-EX1 with R-M4: a window announced 72 h ahead on srv-1 also excludes the outage of the
    # project hosted on it; the shop incident inside the window is excluded for acme.
    assert cli("maintenance", "add", "--services", "srv-1", "--start", "2026-03-20T00:00Z",
               "--end", "2026-03-20T02:00Z", "--reason", "kernel", "--notified-at",
               "2026-03-17T00:00Z")[0] == 0
    assert cli("incident", "add", "--service", "shop", "--start", "2026-03-20T00:30Z",
               "--end", "2026-03-20T01:30Z")[0] == 0
    code, out, _ = cli("report", "--month", "2026-03", "--format", "json")
    assert code == 0
    acme = json.loads(out)["customers"][0]
    assert (acme["downtime_seconds"], acme["excluded_seconds"]) == (0, 3600)
    assert acme["excluded_by_reason"]["maintenance"] == 3600


def test_report_takes_wide_as_every_table_command_does(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("monitor.present.tables.terminal_width", lambda: 60)
    code, fitted, _ = cli("report", "--month", "2026-03")
    assert code == 0 and max(map(len, fitted.splitlines()[1:])) <= 60, fitted
    code, wide, err = cli("report", "--month", "2026-03", "--wide")
    assert code == 0, err  # it was "unrecognized arguments: --wide"
    assert max(map(len, wide.splitlines()[1:])) > 60 and len(wide.splitlines()) == 6  # a row a line


@pytest.mark.parametrize(("args", "shown"), [
    (("--customer", "acme"), "--customer: 'acme' is not valid; allowed: no --customer with "
     "report close"),
    (("--format", "csv"), "--format: 'csv' is not valid; allowed: table or json with report "
     "close"),
    (("-o", "closed.txt"), "-o/--output: 'closed.txt' is not valid; allowed: no -o with "
     "report close"),
    (("--wide",), "--wide: not with report close"),
])
def test_report_close_refuses_what_only_report_show_does(cli, tmp_path: Path, args, shown,  # type: ignore[no-untyped-def]
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # They were taken and ignored, exit 0: the whole month was frozen, no CSV, no file.
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("report", "close", "--month", "2026-03", *args)
    assert code == 2 and out == "" and not (tmp_path / "closed.txt").exists()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sla-monitor: error: {shown}"), err
    code, out, _ = cli("report", "close", "--month", "2026-03")
    assert code == 0 and "revision 1 frozen" in out  # nothing was frozen before


def test_a_closed_month_keeps_its_terms_until_the_configured_ones_are_asked_for(  # type: ignore[no-untyped-def]
        cli, tmp_path: Path) -> None:
    # The panel down 2 h, never notified: acme counts 7,200 s >= 1 h 30 min, tier 1w, 7 days
    # (R-T1), and 1 day for the missing notification (R-N1): 8 days worth 8 x 3,650 / 365 =
    # 80.00 EUR (R-T2).
    cli("incident", "add", "--service", "panel", "--start", "2026-03-10T10:00Z",
        "--end", "2026-03-10T12:00Z")
    code, out, _ = cli("report", "close", "--month", "2026-03")
    assert code == 0 and "revision 1 frozen" in out
    config = tmp_path / "config.yaml"
    config.write_text(config.read_text().replace("amount: 3650", "amount: 7300"))
    # April's price is not March's: the month stands as closed.
    code, out, _ = cli("report", "close", "--month", "2026-03")
    assert code == 0 and out.splitlines()[1:] == [
        "  the configuration differs from the terms the month keeps (to take it: report "
        "close --month 2026-03 --configured-terms):",
        "    acme: fee_per_year 3650 -> 7300"]
    assert "inputs unchanged; revision 1 stands" in out
    code, out, _ = cli("report", "--month", "2026-03", "--format", "json")
    acme = next(c for c in json.loads(out)["customers"] if c["customer"] == "acme")
    assert acme["credit_value"] == pytest.approx(8 * 3650 / 365)
    code, out, err = cli("report", "--month", "2026-03", "--configured-terms")
    assert code == 2 and out == "" and "--configured-terms: only with report close" in err
    # Asked for: the configuration's terms correct the month (8 x 7,300 / 365 = 160.00 EUR).
    code, out, _ = cli("report", "close", "--month", "2026-03", "--configured-terms")
    assert code == 0 and "revision 2 frozen" in out
    assert "changed: acme: credit_value 80.0 -> 160.0" in out
    code, out, _ = cli("report", "close", "--month", "2026-03")
    assert code == 0 and out.splitlines() == [out.splitlines()[0]]  # nothing differs now
