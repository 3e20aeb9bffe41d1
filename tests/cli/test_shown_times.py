"""Times the command line shows on a Jalali provider in Asia/Tehran: in
refusals too, instants and days are in the configured zone and calendar, as every shown
time is (SPEC section 7); what the operator typed is still echoed as typed, then as the
UTC instant it was read as. Through ``monitor.cli.main``, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import jdatetime  # type: ignore[import-untyped, unused-ignore]
import pytest

from monitor.sla.report import iso_utc
from monitor.store import Database
from monitor.store.models import MaintenanceNotice
from tests.actions.contract import yaml
from tests.cli.test_contract_cli import CLI
from tests.support import rows

TEHRAN = ZoneInfo("Asia/Tehran")


def today_in_tehran() -> str:
    """Today in the provider's calendar and zone, as shown: 1405/09/16 (Gregorian 2026-12-07)."""
    gregorian = dt.datetime.now(TEHRAN).date()
    return f"{jdatetime.date.fromgregorian(date=gregorian):%Y/%m/%d} (Gregorian {gregorian})"


@pytest.fixture
def tehran(tmp_path: Path, db_url: str, db: Database,
           capsys: pytest.CaptureFixture[str]) -> Iterator[CLI]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml("Asia/Tehran", "jalali")
                    + f"storage: {{url: '{db_url}'}}\nmaildir: {tmp_path / 'Maildir'}\n")
    yield CLI(path, db, capsys)


async def test_refusals_name_their_instants_in_the_provider_zone_and_calendar(
        tehran: CLI) -> None:
    # Mehr 1405 ended 1 Aban (2026-10-23 00:00 Tehran); claims were accepted 14 days on,
    # until 1405/08/15 00:00 in Tehran, which was 2026-11-05T20:30Z.
    line = await tehran.refused("--month", "claim", "submit", "--customer", "acme", "--site",
                                "acme.example", "--month", "1405-07")
    assert line.endswith("claims for 1405-07 were accepted until 1405/08/15 00:00 Asia/Tehran "
                         "(UTC+03:30; Gregorian 2026-11-06)"), line
    # Azar 1405 ends 1 Dey (2026-12-22 00:00 Tehran): submitted on 1405/09/16 it is still
    # running. (Without --at, the wall clock's, this refusal became a claim once Azar ended.)
    line = await tehran.refused("--month", "claim", "submit", "--customer", "acme", "--site",
                                "acme.example", "--month", "1405-09", "--at",
                                "2026-12-07T06:30Z")
    assert "1405-09 ends 1405/10/01 00:00 Asia/Tehran (UTC+03:30; Gregorian 2026-12-22)" \
        in line, line
    # A month that has not begun: Farvardin 1480, far enough ahead to stay one (a test of
    # 1406-01 would have expired on 2027-03-21).
    line = await tehran.refused("--month", "report", "--month", "1480-01")
    assert line.endswith("(this one begins 1480/01/01 00:00 Asia/Tehran (UTC+03:30; "
                         "Gregorian 2101-03-21))"), line
    # A claim decided once is refused naming the decision's time.
    await tehran.json("claim", "submit", "--customer", "acme", "--site", "acme.example",
                      "--month", "1405-08", "--at", "2026-11-23T06:30Z")
    await tehran.json("claim", "decide", "1", "--approve", "--at", "2026-11-26T06:30Z")
    line = await tehran.refused("ID", "claim", "decide", "1", "--approve")
    assert "claim 1 was decided (approved) at 1405/09/05 10:00 Asia/Tehran (UTC+03:30; " \
           "Gregorian 2026-11-26)" in line, line
    # A ticket fixed is refused a deferral naming the fix's time.
    await tehran.json("ticket", "open", "--customer", "acme", "--service", "mobile-api",
                      "--channel", "phone", "--summary", "sync hangs", "--at",
                      "2026-11-09T05:30Z")
    await tehran.json("ticket", "diagnose", "1", "--provider-fault", "--at", "2026-11-09T06:30Z")
    await tehran.json("ticket", "fix", "1", "--at", "2026-11-10T05:30Z")
    line = await tehran.refused("ID", "ticket", "defer", "1", "--reason", "new-release",
                                "--note", "x")
    assert "ticket 1 was fixed at 1405/08/19 09:00 Asia/Tehran (UTC+03:30; Gregorian " \
           "2026-11-10) (reopen it)" in line, line
    for raw in ("+00:00", "T20:30", "Z)"):
        assert raw not in line


async def test_a_typed_time_is_echoed_as_typed_and_read_and_its_limit_shown_in_the_zone(
        tehran: CLI) -> None:
    # What was typed, then the instant read (UTC, as the README documents); the limit it
    # broke, as the provider reads times.
    await tehran.json("claim", "submit", "--customer", "acme", "--site", "acme.example",
                      "--month", "1405-08", "--at", "2026-11-23T06:30Z")
    line = await tehran.refused("--at", "claim", "decide", "1", "--approve", "--at",
                                "2026-11-23T09:00")
    assert line == (
        "sla-monitor: error: --at: '2026-11-23T09:00' (read as 2026-11-23T05:30:00Z) is not "
        "valid; allowed: a time not before claim 1's submission (1405/09/02 10:00 Asia/Tehran "
        "(UTC+03:30; Gregorian 2026-11-23))")


async def test_ledger_days_are_read_and_shown_in_the_provider_calendar(tehran: CLI) -> None:
    # A Gregorian day on a Jalali provider is caught and named, as --month is;
    # the day of the provider's calendar is read.
    line = await tehran.refused("--until", "ledger", "renew", "--site", "old.acme.example",
                                "--until", "2027-09-30")
    assert line == (
        "sla-monitor: error: --until: '2027-09-30' is not valid; allowed: a day YYYY-MM-DD of "
        "the provider's calendar, Jalali (Solar Hijri), years 1300 to 1499; 2027-09-30 in the "
        "Gregorian calendar is 1406-07-08")
    await tehran.refused("--until", "ledger", "renew", "--site", "old.acme.example",
                         "--until", "1406-12-31")  # Esfand 1406 has 29 days
    # Renewed to a year from today: a renewal ends after today and at most 10 years after
    # it, so a fixed day (1406-07-08 was) would be refused once today passed it.
    gregorian = dt.datetime.now(TEHRAN).date() + dt.timedelta(days=365)
    jalali = jdatetime.date.fromgregorian(date=gregorian)
    shown = f"{jalali:%Y/%m/%d} (Gregorian {gregorian.isoformat()})"
    code, out, err = await tehran.run("ledger", "renew", "--site", "old.acme.example",
                                      "--until", f"{jalali:%Y-%m-%d}")
    # The days in the provider's calendar, with their Gregorian date.
    assert code == 0 and out.strip() == (
        f"entry 1: old.acme.example paid until {shown} (was "
        "1405/07/08 (Gregorian 2026-09-30)); re-activated (L-2)"), (out, err)
    # The limits of a renewal, in the provider's calendar; the value as typed; today in
    # the provider's calendar too.
    earlier = jdatetime.date.fromgregorian(date=gregorian - dt.timedelta(days=7))
    before = today_in_tehran()
    line = await tehran.refused("--until", "ledger", "renew", "--site", "old.acme.example",
                                "--until", f"{earlier:%Y-%m-%d}")
    # Today as the command saw it: the day before or after the command ran (the same day,
    # unless it ran across Tehran's midnight).
    assert any(line.startswith(
        f"sla-monitor: error: --until: '{earlier:%Y-%m-%d}' is not valid; allowed: a date "
        f"after the current paid period ({shown}) and after today ({today})")
        for today in (before, today_in_tehran())), line
    code, out, _ = await tehran.run("ledger", "show", "--site", "old.acme.example")
    assert code == 0
    assert f"  paid until      {shown}" in out.splitlines(), out
    assert f"(until {shown})" in out, out
    # JSON keeps the machine form.
    (site,) = await tehran.json("ledger", "show", "--site", "old.acme.example")
    assert site["paid_until"] == gregorian.isoformat()


async def test_times_are_typed_in_the_providers_calendar_as_they_are_shown(
        tehran: CLI) -> None:
    """A Jalali provider's command line shows every time in its calendar (1405/09/20 10:00
    Asia/Tehran) and reads months in it (--month 1405-09), but a time had to be typed in the
    Gregorian calendar: "--start 1405/09/20 10:00" was refused ("an ISO 8601 time ..."), and
    the operator converted dates by hand. A time is now read in the provider's calendar
    too, as it is shown (with "-" or "/", a "T" or a space); a Gregorian ISO time is still
    read (scripts, and what the HTTP API takes); a day the Jalali calendar does not have is
    refused naming the option and the value as typed, nothing written."""
    # 1 Aban 1405 is 2026-10-23, so 20 Aban is 2026-11-11; Tehran is UTC+03:30.
    window = (await tehran.json("maintenance", "add", "--services", "panel", "--start",
                                "1405/08/20 10:00", "--end", "1405-08-20T11:30", "--reason",
                                "upgrade", "--notified-at", "1405-08-17"))["window"]
    assert (window["start"], window["end"]) == ("2026-11-11T06:30:00Z", "2026-11-11T08:00:00Z")
    # A day alone is its midnight in the provider's zone.
    assert {iso_utc(n.sent_at) for n in await rows(tehran.db, MaintenanceNotice)} == {
        "2026-11-07T20:30:00Z"}
    # An offset is kept; a Gregorian time is read as before.
    again = (await tehran.json("maintenance", "add", "--services", "panel", "--start",
                               "1405-08-20T10:00Z", "--end", "2026-11-11T11:00Z", "--reason",
                               "x"))["window"]
    assert (again["start"], again["end"]) == ("2026-11-11T10:00:00Z", "2026-11-11T11:00:00Z")
    # 1405 is not a leap year of the Jalali calendar: Esfand has 29 days.
    line = await tehran.refused("--start", "maintenance", "add", "--services", "panel",
                                "--start", "1405-12-30T10:00", "--end", "1406-01-01T10:00",
                                "--reason", "x")
    assert "'1405-12-30T10:00'" in line and "the Jalali calendar has no such day" in line, line


async def test_a_window_added_is_confirmed_with_its_times_as_read(tehran: CLI) -> None:
    """``maintenance add`` answered "maintenance window 1 on panel" and nothing of when:
    the operator could not see how the times typed were read (a day and month swapped, a
    zone forgotten) until ``maintenance list``. It says the window's times, as every time is
    shown, its length, and whose notice was recorded as given by other means (D-3)."""
    code, out, err = await tehran.run(
        "maintenance", "add", "--services", "panel", "--start", "1405/08/20 10:00", "--end",
        "1405-08-20T11:30", "--reason", "upgrade", "--notified-at", "1405-08-17")
    assert code == 0, err
    assert out.splitlines() == [
        "maintenance window 1 on panel: 1405/08/20 10:00 Asia/Tehran (UTC+03:30; Gregorian "
        "2026-11-11) to 1405/08/20 11:30 Asia/Tehran (UTC+03:30; Gregorian 2026-11-11), "
        "1 h 30 min",
        "notice given by other means at 1405/08/17 00:00 Asia/Tehran (UTC+03:30; Gregorian "
        "2026-11-08), recorded for: acme, bita, gone"], out


async def test_an_incident_and_a_notification_logged_are_confirmed_with_their_times(
        tehran: CLI) -> None:
    """``incident add`` and ``incident notified`` answered with ids alone ("incident 1
    recorded on panel"): they say the times they read too, as every time is shown."""
    code, out, err = await tehran.run(
        "incident", "add", "--service", "panel", "--start", "1405/08/20 10:00", "--end",
        "1405/08/20 11:00", "--note", "reported by phone")
    assert code == 0, err
    assert out.splitlines() == [
        "incident 1 recorded on panel: 1405/08/20 10:00 Asia/Tehran (UTC+03:30; Gregorian "
        "2026-11-11) to 1405/08/20 11:00 Asia/Tehran (UTC+03:30; Gregorian 2026-11-11), 1 h, "
        "cause provider"], out
    code, out, err = await tehran.run(
        "incident", "notified", "1", "--at", "1405/08/20 10:20", "--channel", "phone",
        "--customer", "acme")
    assert code == 0, err
    assert out.splitlines() == [
        "incident 1: phone notification logged for acme at 1405/08/20 10:20 Asia/Tehran "
        "(UTC+03:30; Gregorian 2026-11-11)"], out


async def test_a_value_typed_in_persian_digits_is_refused_saying_so(tehran: CLI) -> None:
    """A Persian keyboard types ۱۴۰۵-۰۹: the month, day, time or id looked right and was
    refused as if malformed ("allowed: a month YYYY-MM ..."), which it matches to the eye.
    Digits are read as 0-9 only (as the HTTP API reads them); the refusal now says so and
    gives the value in 0-9. Nothing is written."""
    for flag, argv, ascii_form in (
            ("--month", ["report", "--month", "۱۴۰۵-۰۸"], "1405-08"),
            ("--start", ["maintenance", "add", "--services", "panel", "--start",
                         "۱۴۰۵/۰۸/۲۰ ۱۰:۰۰", "--end", "1405/08/20 11:00", "--reason", "x"],
             "1405/08/20 10:00"),
            ("--until", ["ledger", "renew", "--site", "acme.example",
                         "--until", "١٤٠٦-٠٣-٣١"], "1406-03-31"),
            ("ID", ["claim", "show", "۱۲"], "12")):
        line = await tehran.refused(flag, *argv)
        assert line.endswith(f"; write its digits as 0-9: {ascii_form}"), line


async def test_a_running_months_statement_or_archive_says_when_it_can_be_closed(
        tehran: CLI) -> None:
    """``statement show`` and ``evidence export`` of a month still running answered "`report
    close` freezes one", which refuses until the month ends: they say when that is (its
    last notification deadline, 2 h after it ends, R-N1)."""
    for argv in (["statement", "show", "--month", "1480-01", "--customer", "acme"],
                 ["evidence", "export", "--month", "1480-01", "--customer", "acme", "-o",
                  "archive.zip"]):
        line = await tehran.refused("--month", *argv)
        assert line.endswith("report close freezes one from 1480/02/01 02:00 Asia/Tehran "
                             "(UTC+03:30; Gregorian 2101-04-21)"), line
